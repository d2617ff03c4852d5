pub mod account;
pub mod home;
pub mod model;
pub mod not_found;
pub mod publisher;
