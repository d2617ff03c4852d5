//! sea-orm entities: the stored shape of the catalog. Nothing outside `domain` sees them.
pub mod api_token;
pub mod audit_entry;
pub mod file;
pub mod license_offer;
pub mod license_signing_key;
pub mod login_device;
pub mod mail_token;
pub mod membership;
pub mod model;
pub mod model_version;
pub mod org_invitation;
pub mod outbox;
pub mod rate_limit;
pub mod session;
pub mod upload;
pub mod user;
