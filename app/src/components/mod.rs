pub mod copy;
pub mod forms;
pub mod layout;
pub mod license_badge;
pub mod model_card;
