//! sea-orm entities: the stored shape of the catalog. Nothing outside `domain` sees them.
pub mod file;
pub mod license_offer;
pub mod model;
pub mod model_version;
pub mod rate_limit;
pub mod session;
pub mod user;
