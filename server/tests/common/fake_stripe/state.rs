//! What the fake keeps, and each object as Stripe renders it (through `domain`'s shapes).
use std::collections::{BTreeMap, HashMap, VecDeque};

use domain::payments::provider::{
    BillingInterval, CheckoutMode, PaymentStatus, SessionStatus, SubscriptionStatus,
};
use domain::payments::shapes::{self, EventParts};
use serde_json::Value;

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub account_id: Option<i64>,
    pub created: i64,
}

impl Customer {
    pub fn json(&self) -> Value {
        shapes::customer(
            &self.id,
            &self.name,
            self.email.as_deref(),
            self.account_id,
            self.created,
        )
    }
}

/// Where a sale's money goes: the connected account, and the platform's fee as an amount
/// (payments) or a percentage (subscriptions).
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub account: String,
    pub fee_amount: Option<i64>,
    pub fee_percent: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub mode: CheckoutMode,
    pub status: SessionStatus,
    pub payment_status: PaymentStatus,
    pub order_id: Option<i64>,
    pub customer: Option<String>,
    pub payment_intent: Option<String>,
    pub subscription: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub product_name: String,
    pub success_url: String,
    pub cancel_url: String,
    pub url: String,
    pub created: i64,
    pub expires_at: i64,
    pub destination: Option<Destination>,
}

impl Session {
    pub fn json(&self) -> Value {
        shapes::checkout_session(&shapes::CheckoutSessionParts {
            id: &self.id,
            mode: self.mode,
            status: self.status,
            payment_status: self.payment_status,
            order_id: self.order_id,
            customer: self.customer.as_deref(),
            payment_intent: self.payment_intent.as_deref(),
            subscription: self.subscription.as_deref(),
            amount_total: self.amount,
            currency: &self.currency,
            success_url: &self.success_url,
            cancel_url: &self.cancel_url,
            url: Some(&self.url),
            created: self.created,
            expires_at: self.expires_at,
        })
    }
}

/// A paid one-time payment: its PaymentIntent's charge.
#[derive(Debug, Clone)]
pub struct Charge {
    pub id: String,
    pub payment_intent: String,
    pub customer: Option<String>,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
    pub disputed: bool,
    pub created: i64,
    pub destination: Option<Destination>,
}

impl Charge {
    pub fn json(&self) -> Value {
        let destination = self.destination.as_ref();
        shapes::charge(&shapes::ChargeParts {
            id: &self.id,
            payment_intent: &self.payment_intent,
            customer: self.customer.as_deref(),
            amount: self.amount,
            amount_refunded: self.amount_refunded,
            currency: &self.currency,
            disputed: self.disputed,
            created: self.created,
            transfer_destination: destination.map(|d| d.account.as_str()),
            application_fee_amount: destination.and_then(|d| d.fee_amount),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    pub status: SubscriptionStatus,
    pub interval: BillingInterval,
    pub amount: i64,
    pub currency: String,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub created: i64,
    pub order_id: Option<i64>,
    pub destination: Option<Destination>,
}

impl Subscription {
    pub fn json(&self) -> Value {
        let destination = self.destination.as_ref();
        shapes::subscription(&shapes::SubscriptionParts {
            id: &self.id,
            customer: &self.customer,
            status: self.status,
            interval: self.interval,
            amount: self.amount,
            currency: &self.currency,
            current_period_start: self.current_period_start,
            current_period_end: self.current_period_end,
            cancel_at_period_end: self.cancel_at_period_end,
            canceled_at: self.canceled_at,
            ended_at: self.ended_at,
            created: self.created,
            order_id: self.order_id,
            transfer_destination: destination.map(|d| d.account.as_str()),
            application_fee_percent: destination.and_then(|d| d.fee_percent),
        })
    }

    /// One billing interval on from `start` (a month as 30 days, a year as 365).
    pub fn period_after(&self, start: i64) -> i64 {
        start
            + match self.interval {
                BillingInterval::Month => 30 * 86_400,
                BillingInterval::Year => 365 * 86_400,
            }
    }
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: String,
    pub payment_intent: String,
    pub charge: String,
    pub amount: i64,
    pub currency: String,
    pub transfer_reversal: Option<String>,
    /// Whether the platform's fee was given back too (`refund_application_fee`).
    pub refunded_application_fee: bool,
    pub created: i64,
}

impl Refund {
    pub fn json(&self) -> Value {
        shapes::refund(&shapes::RefundParts {
            id: &self.id,
            payment_intent: &self.payment_intent,
            charge: &self.charge,
            amount: self.amount,
            currency: &self.currency,
            status: "succeeded",
            transfer_reversal: self.transfer_reversal.as_deref(),
            created: self.created,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Dispute {
    pub id: String,
    pub charge: String,
    pub payment_intent: String,
    pub amount: i64,
    pub currency: String,
    pub reason: String,
    pub status: String,
    pub created: i64,
}

impl Dispute {
    pub fn json(&self) -> Value {
        shapes::dispute(&shapes::DisputeParts {
            id: &self.id,
            charge: &self.charge,
            payment_intent: Some(&self.payment_intent),
            amount: self.amount,
            currency: &self.currency,
            reason: &self.reason,
            status: &self.status,
            created: self.created,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: Option<String>,
    pub onboarded: bool,
    pub created: i64,
}

impl Account {
    pub fn json(&self) -> Value {
        shapes::account(
            &self.id,
            self.email.as_deref(),
            self.onboarded,
            self.onboarded,
            self.created,
        )
    }
}

/// A request the fake received, for tests to check what was sent.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The form body (or query string) as sent, and as nested JSON (every value a string).
    pub raw: String,
    pub params: Value,
    pub idempotency_key: Option<String>,
}

/// The first answer to an idempotent request, replayed for a repeat with the same key.
#[derive(Debug, Clone)]
pub struct Replay {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub status: u16,
    pub answer: Value,
}

#[derive(Debug, Default)]
pub struct State {
    /// The fake's own address, for the pages it links to.
    pub base: String,
    pub customers: BTreeMap<String, Customer>,
    pub sessions: BTreeMap<String, Session>,
    /// By payment intent.
    pub charges: BTreeMap<String, Charge>,
    pub subscriptions: BTreeMap<String, Subscription>,
    pub refunds: BTreeMap<String, Refund>,
    pub disputes: BTreeMap<String, Dispute>,
    pub accounts: BTreeMap<String, Account>,
    /// Oldest first.
    pub events: Vec<Value>,
    pub idempotent: HashMap<String, Replay>,
    pub requests: Vec<Recorded>,
    /// Statuses the next requests fail with (5xx, 429), oldest first.
    pub failures: VecDeque<u16>,
    /// The API request being answered (its id and idempotency key), named by the events it
    /// causes.
    pub request: Option<(String, Option<String>)>,
}

impl State {
    /// Records an event about `object`.
    pub fn emit(&mut self, event_type: &str, object: Value, previous: Option<Value>) {
        self.emit_on(event_type, object, previous, None)
    }

    /// Like [`State::emit`], for an event that happened on a connected account.
    pub fn emit_on(
        &mut self,
        event_type: &str,
        object: Value,
        previous_attributes: Option<Value>,
        account: Option<&str>,
    ) {
        let id = shapes::new_id("evt_");
        let request = self.request.clone();
        let event = shapes::event(&EventParts {
            id: &id,
            event_type,
            created: now(),
            object,
            previous_attributes,
            request: request
                .as_ref()
                .map(|(id, key)| (id.as_str(), key.as_deref())),
            account,
        });
        self.events.push(event);
    }

    pub fn event(&self, id: &str) -> Option<&Value> {
        self.events.iter().find(|event| event["id"] == id)
    }
}
