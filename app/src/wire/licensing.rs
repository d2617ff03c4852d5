//! What the browser is told about offers and licenses.
use serde::{Deserialize, Serialize};

/// One way to obtain a model, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferEntry {
    pub id: i64,
    /// `open`, `gated`, `paid` or `subscription`.
    pub kind: String,
    /// e.g. "9.00 USD once, for the versions published so far".
    pub description: String,
    /// Shown before anyone accepts or pays.
    pub terms: String,
    /// What accepting them records, so a change meanwhile is noticed.
    pub terms_sha256: String,
    pub action: OfferAction,
    /// Organizations the viewer may buy an organization license for.
    pub orgs: Vec<String>,
}

/// What the viewer can do with an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OfferAction {
    /// Free to download: nothing to do.
    Free,
    /// Pay once or subscribe; `label` is the button's text.
    Buy { label: String },
    /// Accept the terms (and wait for approval, if the publisher reviews requests).
    RequestAccess,
    /// A request waits for the publisher.
    Requested,
    /// The viewer (or one of their organizations) holds it.
    Held,
    /// Log in first.
    SignIn,
    /// The viewer publishes the model.
    Publisher,
    /// This site takes no payments yet.
    NotConfigured,
}

/// A license as "My licenses" lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseEntry {
    pub id: i64,
    /// `owner/slug`.
    pub model: String,
    pub model_href: String,
    /// Whose it is: the viewer's own name, or an organization's.
    pub licensee: String,
    pub description: String,
    /// `active`, `suspended`, `revoked` or `lapsed`.
    pub status: String,
    /// e.g. "every version", "versions published until 2026-12-07", "versions below 2.0.0".
    pub covers: String,
    /// `YYYY-MM-DD`.
    pub issued_on: String,
    /// `YYYY-MM-DD`; empty when it never expires.
    pub expires_on: String,
    pub license_key: String,
    /// The receipt: amount paid in words, when it was bought.
    pub paid: Option<String>,
    pub is_subscription: bool,
}

/// A gated model's pending request, as its publisher's queue shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequestEntry {
    pub id: i64,
    /// `owner/slug`.
    pub model: String,
    pub requester: String,
    /// The requester, or the organization they asked for.
    pub licensee: String,
    /// `YYYY-MM-DD HH:MM` UTC.
    pub requested_at: String,
    pub terms_sha256: String,
}

/// An active offer on the listing's settings page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferRow {
    pub id: i64,
    pub description: String,
    pub terms: String,
}

/// A listing's offers and the choices a new offer has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingOffers {
    pub offers: Vec<OfferRow>,
    pub choices: OfferChoices,
}

/// The form fields of a new offer (see `components::offer_fields`), for errors shown beside them.
pub const OFFER_FIELDS: &[&str] = &[
    "kind", "spdx", "price", "currency", "seat", "covers", "interval", "approval", "terms",
];

/// What a new offer may choose from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferChoices {
    /// `(SPDX id, name)` of the open licenses offered.
    pub licenses: Vec<(String, String)>,
    /// ISO 4217 codes prices may be set in.
    pub currencies: Vec<String>,
}

/// A publisher's sales, for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesDashboard {
    /// One per day, oldest first.
    pub days: Vec<SalesDay>,
    /// What the chart's revenue is in (upper case), empty before the first sale.
    pub currency: String,
    pub by_offer: Vec<SalesRow>,
    pub refunded: u32,
    /// `not_set_up`, `pending` or `active`.
    pub payouts: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub sales: u32,
    pub revenue_minor: i64,
    /// e.g. "18.00 USD".
    pub revenue: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesRow {
    /// `owner/slug`.
    pub model: String,
    pub offer: String,
    pub sales: u32,
    pub revenue: String,
}

/// An order on the administrators' orders page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEntry {
    pub id: i64,
    /// `YYYY-MM-DD HH:MM` UTC.
    pub at: String,
    pub buyer: String,
    pub model: String,
    pub amount: String,
    pub status: String,
    pub provider: String,
    pub refundable: bool,
}
