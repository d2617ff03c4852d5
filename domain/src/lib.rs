//! Bazaar's server-side core: entities, services and their rules. Used by the Leptos app's
//! server half and by the server binary; never compiled for the browser.
pub mod account_deletion;
pub mod accounts;
pub mod audit;
pub mod caller;
pub mod catalog;
pub mod digest;
pub mod downloads;
pub mod entities;
pub mod error;
pub mod jobs;
pub mod licensing;
pub mod listings;
mod locks;
pub mod mail;
pub mod names;
pub mod orgs;
pub mod passwords;
pub mod payments;
pub mod profiles;
pub mod publishing;
pub mod rate_limit;
pub mod recovery;
pub mod secrets;
pub mod seed;
pub mod state;
pub mod storage;
pub mod tokens;
pub mod uploads;

// File inspection and model cards live in the `inspect` crate (no database, fuzzed on its own);
// these paths stay as they were.
pub use inspect::{card, formats};

pub use caller::Caller;
pub use error::{DomainError, DomainResult};
pub use state::AppState;
pub use storage::Storage;
