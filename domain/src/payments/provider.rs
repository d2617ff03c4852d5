//! What Bazaar asks of a payment provider. Stripe and the built-in test mode both implement
//! it; everything else (orders, fulfilment, licenses) is written once against this trait.
use async_trait::async_trait;

/// A provider's refusal or failure, with what to tell the operator (never the buyer: it may
/// name accounts and keys).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered, and said no (a bad request, an unknown id, a declined card).
    #[error("the payment provider refused: {0}")]
    Refused(String),
    /// The provider could not be reached or answered with a server error; worth retrying.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
}

pub type ProviderResult<T> = Result<T, ProviderError>;

/// A customer to create for an account or organization (one each, kept in `payment_customers`).
#[derive(Debug, Clone)]
pub struct NewCustomer<'a> {
    /// The account's or organization's id, also sent as metadata `bazaar_account_id`.
    pub account_id: i64,
    pub name: &'a str,
    pub email: Option<&'a str>,
}

/// Whether a checkout charges once or starts a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutMode {
    Payment,
    Subscription { interval: BillingInterval },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingInterval {
    Month,
    Year,
}

impl BillingInterval {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }
}

/// Where a sale's money goes when the publisher has a payout account: a destination charge,
/// with the platform's fee kept back.
#[derive(Debug, Clone)]
pub struct Payout<'a> {
    /// The publisher's connected account.
    pub destination: &'a str,
    /// For one-time payments: the fee in minor units (`application_fee_amount`).
    pub fee_minor: i64,
    /// For subscriptions: the fee as a percentage (`application_fee_percent`).
    pub fee_percent: f64,
}

/// One purchase to open a checkout for. `order_id` goes into the session's metadata
/// (`bazaar_order_id`) and, as `checkout-{order_id}`, into the idempotency key, so a retried
/// request never opens a second session for the same order.
#[derive(Debug, Clone)]
pub struct NewCheckout<'a> {
    pub order_id: i64,
    pub mode: CheckoutMode,
    pub customer_id: &'a str,
    /// What the buyer sees on the payment page, e.g. "acme/sentiment — Commercial license".
    pub product_name: &'a str,
    /// Price in minor units of `currency` (cents for USD, yen for JPY).
    pub amount_minor: i64,
    /// ISO 4217, lower case.
    pub currency: &'a str,
    /// Stripe replaces `{CHECKOUT_SESSION_ID}` in it with the session's id.
    pub success_url: &'a str,
    pub cancel_url: &'a str,
    pub payout: Option<Payout<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
}

/// A checkout session as the provider reports it now.
#[derive(Debug, Clone)]
pub struct CheckoutSession {
    pub id: String,
    /// Where to send the buyer to pay; only while the session is open.
    pub url: Option<String>,
    pub status: SessionStatus,
    pub payment_status: PaymentStatus,
    /// From the metadata Bazaar set when it opened the session.
    pub order_id: Option<i64>,
    pub payment_intent: Option<String>,
    pub subscription: Option<String>,
    pub customer: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

impl SubscriptionStatus {
    /// Whether the subscriber keeps access in this state (Stripe retries a past-due payment
    /// for a while; access ends when it gives up and the status moves on).
    pub fn grants_access(self) -> bool {
        matches!(self, Self::Active | Self::Trialing | Self::PastDue)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "incomplete" => Self::Incomplete,
            "incomplete_expired" => Self::IncompleteExpired,
            "trialing" => Self::Trialing,
            "active" => Self::Active,
            "past_due" => Self::PastDue,
            "canceled" => Self::Canceled,
            "unpaid" => Self::Unpaid,
            "paused" => Self::Paused,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
            Self::Paused => "paused",
        }
    }
}

/// A subscription as the provider reports it now: access follows this, not the order in
/// which events arrived.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub status: SubscriptionStatus,
    /// Unix seconds; in the current API version this is on the subscription's items.
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
}

/// A publisher's connected account for payouts.
#[derive(Debug, Clone)]
pub struct PayoutAccount {
    pub id: String,
    pub charges_enabled: bool,
    pub details_submitted: bool,
}

/// An event as the provider sent it, for reconciliation: the id and the raw JSON body that
/// the webhook path stores and parses.
#[derive(Debug, Clone)]
pub struct RawEvent {
    pub id: String,
    pub body: String,
}

#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// "stripe" or "test"; stored on each order.
    fn name(&self) -> &'static str;

    async fn create_customer(&self, customer: &NewCustomer<'_>) -> ProviderResult<String>;

    async fn create_checkout(&self, checkout: &NewCheckout<'_>) -> ProviderResult<CheckoutSession>;

    async fn checkout_session(&self, id: &str) -> ProviderResult<CheckoutSession>;

    async fn subscription(&self, id: &str) -> ProviderResult<Subscription>;

    /// A page where the customer manages their subscriptions; returns its address.
    async fn billing_portal(&self, customer_id: &str, return_url: &str) -> ProviderResult<String>;

    /// Refunds a one-time payment in full, reversing the transfer and the platform's fee.
    async fn refund(&self, payment_intent: &str, idempotency_key: &str) -> ProviderResult<()>;

    /// Events created at or after `created_after` (Unix seconds), oldest first.
    async fn events_since(&self, created_after: i64) -> ProviderResult<Vec<RawEvent>>;

    /// Creates an Express connected account for a publisher; returns its id.
    async fn create_payout_account(
        &self,
        email: Option<&str>,
        idempotency_key: &str,
    ) -> ProviderResult<String>;

    /// A one-time onboarding link for the account; returns its address.
    async fn payout_onboarding_link(
        &self,
        account_id: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> ProviderResult<String>;

    async fn payout_account(&self, account_id: &str) -> ProviderResult<PayoutAccount>;
}
