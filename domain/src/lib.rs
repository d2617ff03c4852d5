//! Bazaar's server-side core: entities, services and their rules. Used by the Leptos app's
//! server half and by the server binary; never compiled for the browser.
pub mod accounts;
pub mod card;
pub mod catalog;
pub mod entities;
pub mod error;
pub mod formats;
pub mod names;
pub mod passwords;
pub mod publishing;
pub mod rate_limit;
pub mod seed;
pub mod state;
pub mod storage;

pub use error::{DomainError, DomainResult};
pub use state::AppState;
pub use storage::Storage;
