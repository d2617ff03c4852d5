pub mod avatar;
pub mod copy;
pub mod deleted;
pub mod forms;
pub mod layout;
pub mod license_badge;
pub mod model_card;
pub mod offers;
