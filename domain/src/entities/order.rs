//! A purchase opened with a payment provider; its status follows the provider's events.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The account that paid.
    pub buyer_id: i64,
    /// Whose license it is: the buyer, or an organization for an organization seat.
    pub licensee_id: i64,
    pub model_id: i64,
    pub offer_id: i64,
    /// `stripe` or `test`.
    pub provider: String,
    pub amount_minor: i64,
    pub currency: String,
    pub platform_fee_minor: i64,
    #[sea_orm(unique)]
    pub checkout_session_id: Option<String>,
    pub payment_intent: Option<String>,
    pub subscription_id: Option<String>,
    /// One of [`crate::payments::orders::OrderStatus`]'s names.
    pub status: String,
    /// The provider's time of the newest refund or dispute event applied (Unix seconds).
    pub status_event_at: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
