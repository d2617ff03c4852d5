pub mod account;
pub mod admin;
pub mod home;
pub mod model;
pub mod not_found;
pub mod orgs;
pub mod publisher;
pub mod settings;
