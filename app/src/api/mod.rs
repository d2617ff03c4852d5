//! Server functions: each checks its caller and input, then calls one `domain` service.
pub mod accounts;
pub mod admin;
pub mod catalog;
pub mod licensing;
pub mod listings;
pub mod orgs;
pub mod profile;
pub mod publishing;
#[cfg(feature = "ssr")]
pub mod request;
pub mod settings;

pub use accounts::*;
pub use admin::*;
pub use catalog::*;
pub use licensing::*;
pub use listings::*;
pub use orgs::*;
pub use profile::*;
pub use publishing::*;
pub use settings::*;
