//! Licences: what a listing offers (`offers`), the entitlements granted under an offer, and
//! which versions each covers.
pub mod choices;
pub mod grants;
pub mod held;
pub mod offers;

use crate::entities::{license, model_version};

/// Where a licence stands. Only `Active` ones (and not past their expiry) grant downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseStatus {
    Active,
    /// A payment dispute is open; restored if the publisher wins it.
    Suspended,
    /// Refunded, lost dispute, or withdrawn by an administrator.
    Revoked,
    /// A subscription that ended.
    Lapsed,
}

impl LicenseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
            Self::Lapsed => "lapsed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Active, Self::Suspended, Self::Revoked, Self::Lapsed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// Whether `licence` covers `version` (its status and expiry are the caller's to check).
pub fn covers(licence: &license::Model, version: &model_version::Model) -> bool {
    let published_in_time = match (licence.covers_published_until, version.published_at) {
        (None, _) => true,
        (Some(until), Some(published)) => published <= until,
        (Some(_), None) => false,
    };
    let below_bound = match &licence.covers_below {
        None => true,
        Some(bound) => match (
            semver::Version::parse(&version.version),
            semver::Version::parse(bound),
        ) {
            (Ok(version), Ok(bound)) => version < bound,
            _ => false,
        },
    };
    published_in_time && below_bound
}

/// The signed key handed to the licensee of `licence`.
pub(crate) async fn license_key(
    _state: &crate::state::AppState,
    _db: &impl sea_orm::ConnectionTrait,
    _licence: &license::Model,
) -> crate::error::DomainResult<String> {
    Ok(String::new()) // PENDING: signed with the install's licence keys
}
