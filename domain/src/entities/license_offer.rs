use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_offers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub model_id: i64,
    /// One of [`crate::catalog::LicenseKind`]'s names.
    pub kind: String,
    pub spdx: Option<String>,
    pub price_cents: i64,
    pub currency: String,
    pub terms: String,
    pub is_active: bool,
    /// `individual` or `organization`.
    pub seat: String,
    /// One-time offers: `published` or `major`.
    pub covers: Option<String>,
    /// Subscriptions: `month` or `year`.
    pub billing_interval: Option<String>,
    /// Gated offers: `instant` or `manual`.
    pub approval: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
