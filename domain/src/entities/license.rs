//! An entitlement: a licensee may download a model's files (the versions it covers) while it is active.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "licenses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub licensee_id: i64,
    pub model_id: i64,
    pub offer_id: i64,
    pub order_id: Option<i64>,
    /// The offer's kind when granted.
    pub kind: String,
    #[sea_orm(unique)]
    pub checkout_session_id: Option<String>,
    pub subscription_id: Option<String>,
    /// One of [`crate::licensing::LicenseStatus`]'s names.
    pub status: String,
    /// Covers the versions published up to this time (None: no such limit).
    pub covers_published_until: Option<DateTimeUtc>,
    /// Covers the versions below this SemVer version (None: no such limit).
    pub covers_below: Option<String>,
    pub terms_sha256: String,
    /// The person who bought or accepted it.
    pub granted_to: i64,
    /// The signed license key handed to the licensee.
    pub license_key: String,
    pub issued_at: DateTimeUtc,
    /// When access ends (a subscription's paid period); None: never.
    pub expires_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
