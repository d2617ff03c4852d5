//! Licenses: what a listing offers (`offers`), the entitlements granted under an offer, the
//! signed key that proves one offline (`keys`), and which versions each covers.
pub mod access;
pub mod choices;
pub mod grants;
pub mod held;
pub mod keys;
pub mod offer_admin;
pub mod offers;

use crate::entities::{license, model_version};

/// Where a license stands. Only `Active` ones (and not past their expiry) grant downloads.
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

/// Whether `license` covers `version` (its status and expiry are the caller's to check).
pub fn covers(license: &license::Model, version: &model_version::Model) -> bool {
    let published_in_time = match (license.covers_published_until, version.published_at) {
        (None, _) => true,
        (Some(until), Some(published)) => published <= until,
        (Some(_), None) => false,
    };
    let below_bound = match &license.covers_below {
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

/// The signed key handed to the licensee of `license`: who holds it, for which model and
/// offer, which versions (those published now, for a license limited to them), and until when.
pub(crate) async fn license_key(
    state: &crate::state::AppState,
    db: &impl sea_orm::ConnectionTrait,
    license: &license::Model,
) -> crate::error::DomainResult<String> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    use crate::entities::{model, user};
    use crate::error::DomainError;
    use keys::{LicenseGrant, LicensedModel, LicensedOffer, Licensee, VersionsCovered};

    let missing =
        || DomainError::Internal(format!("license {} refers to a missing row", license.id));
    let licensee = user::Entity::find_by_id(license.licensee_id)
        .one(db)
        .await?
        .ok_or_else(missing)?;
    let listing = model::Entity::find_by_id(license.model_id)
        .one(db)
        .await?
        .ok_or_else(missing)?;
    let owner = user::Entity::find_by_id(listing.owner_id)
        .one(db)
        .await?
        .ok_or_else(missing)?;
    let versions = if license.covers_published_until.is_none() && license.covers_below.is_none() {
        VersionsCovered::All
    } else {
        let published = model_version::Entity::find()
            .filter(model_version::Column::ModelId.eq(listing.id))
            .filter(model_version::Column::PublishedAt.is_not_null())
            .all(db)
            .await?;
        VersionsCovered::Only(
            published
                .into_iter()
                .filter(|v| covers(license, v))
                .map(|v| v.version)
                .collect(),
        )
    };
    Ok(state.license_keys.issue(&LicenseGrant {
        license_id: license.id,
        licensee: Licensee {
            id: licensee.id,
            name: licensee.username,
        },
        model: LicensedModel {
            id: listing.id,
            name: format!("{}/{}", owner.username, listing.slug),
        },
        offer: LicensedOffer {
            id: license.offer_id,
            kind: license.kind.clone(),
        },
        versions,
        issued_at: license.issued_at.timestamp(),
        expires_at: license.expires_at.map(|t| t.timestamp()),
    }))
}
