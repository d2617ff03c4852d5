//! Stripe objects as JSON, in the shapes of the API version the pinned async-stripe speaks
//! ([`API_VERSION`]). The fake Stripe server in the tests answers with them and the test-mode
//! provider builds its events from them, so both hand the webhook path exactly what Stripe
//! would. Parameters are plain values; fields a marketplace never sets are `null` or empty,
//! as Stripe renders them.
use serde_json::{json, Value};

use super::provider::{
    BillingInterval, CheckoutMode, PaymentStatus, SessionStatus, SubscriptionStatus,
};

/// The API version whose shapes these are (async-stripe's `stripe_shared::version::VERSION`).
pub const API_VERSION: &str = "2026-09-30.endive";

/// The metadata key that ties a checkout session to its order.
pub const ORDER_ID_KEY: &str = "bazaar_order_id";

/// The metadata key that ties a customer to its account or organization.
pub const ACCOUNT_ID_KEY: &str = "bazaar_account_id";

/// A fresh id in Stripe's style: `prefix` (such as `cs_test_`, `evt_`, `cus_`) and 32 random
/// characters.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// What a checkout session holds; the rest of its fields are Stripe's defaults.
#[derive(Debug, Clone)]
pub struct CheckoutSessionParts<'a> {
    pub id: &'a str,
    pub mode: CheckoutMode,
    pub status: SessionStatus,
    pub payment_status: PaymentStatus,
    /// Stored as metadata `bazaar_order_id`.
    pub order_id: Option<i64>,
    pub customer: Option<&'a str>,
    /// Set once a payment-mode session is paid (Stripe creates the intent lazily).
    pub payment_intent: Option<&'a str>,
    /// Set once a subscription-mode session completes.
    pub subscription: Option<&'a str>,
    pub amount_total: i64,
    pub currency: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
    /// The payment page; Stripe clears it once the session is no longer open.
    pub url: Option<&'a str>,
    pub created: i64,
    pub expires_at: i64,
}

pub fn checkout_session(s: &CheckoutSessionParts<'_>) -> Value {
    let subscription_mode = matches!(s.mode, CheckoutMode::Subscription { .. });
    let complete = s.status == SessionStatus::Complete;
    let open = s.status == SessionStatus::Open;
    let head = json!({
        "id": s.id,
        "object": "checkout.session",
        "adaptive_pricing": { "enabled": false },
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": s.amount_total,
        "amount_total": s.amount_total,
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_address_collection": null,
        "branding_settings": null,
        "cancel_url": s.cancel_url,
        "client_reference_id": null,
        "client_secret": null,
        "collected_information": null,
        "consent": null,
        "consent_collection": null,
        "created": s.created,
        "currency": s.currency,
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {
            "after_submit": null,
            "shipping_address": null,
            "submit": null,
            "terms_of_service_acceptance": null
        },
        "customer": s.customer,
        "customer_account": null,
        "customer_creation": if s.customer.is_some() { Value::Null } else { json!("if_required") },
        "customer_details": complete.then(|| json!({
            "address": null,
            "business_name": null,
            "email": null,
            "individual_name": null,
            "name": null,
            "phone": null,
            "tax_exempt": "none",
            "tax_ids": []
        })),
        "customer_email": null,
        "discounts": [],
        "expires_at": s.expires_at,
        "invoice": null,
        "invoice_creation": (!subscription_mode).then(|| json!({
            "enabled": false,
            "invoice_data": {
                "account_tax_ids": null,
                "custom_fields": null,
                "description": null,
                "footer": null,
                "issuer": null,
                "metadata": {},
                "rendering_options": null
            }
        })),
    });
    let tail = json!({
        "livemode": false,
        "locale": null,
        "metadata": metadata(ORDER_ID_KEY, s.order_id),
        "mode": if subscription_mode { "subscription" } else { "payment" },
        "origin_context": null,
        "payment_intent": s.payment_intent,
        "payment_link": null,
        "payment_method_collection": if subscription_mode { json!("always") } else { Value::Null },
        "payment_method_configuration_details": null,
        "payment_method_options": { "card": { "request_three_d_secure": "automatic" } },
        "payment_method_types": ["card"],
        "payment_status": payment_status(s.payment_status),
        "permissions": null,
        "phone_number_collection": { "enabled": false },
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": session_status(s.status),
        "submit_type": null,
        "subscription": s.subscription,
        "success_url": s.success_url,
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
        "ui_mode": "hosted",
        "url": if open { s.url } else { None },
        "wallet_options": null
    });
    joined(head, tail)
}

/// What a subscription holds. Its one item, price and product take their ids from the
/// subscription's (`sub_X` → `si_X`, `price_X`, `prod_X`).
#[derive(Debug, Clone)]
pub struct SubscriptionParts<'a> {
    pub id: &'a str,
    pub customer: &'a str,
    pub status: SubscriptionStatus,
    pub interval: BillingInterval,
    /// Price per interval in minor units.
    pub amount: i64,
    pub currency: &'a str,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub created: i64,
    /// Stored as metadata `bazaar_order_id` (Checkout copies `subscription_data.metadata`).
    pub order_id: Option<i64>,
    /// The publisher's connected account and the platform's share, for destination charges.
    pub transfer_destination: Option<&'a str>,
    pub application_fee_percent: Option<f64>,
}

pub fn subscription(s: &SubscriptionParts<'_>) -> Value {
    let suffix = s.id.strip_prefix("sub_").unwrap_or(s.id);
    let item_id = format!("si_{suffix}");
    let price_id = format!("price_{suffix}");
    let product_id = format!("prod_{suffix}");
    let interval = s.interval.as_str();
    // Since API version 2025-03-31 the billing period is on each item, not the subscription.
    let item = json!({
        "id": item_id,
        "object": "subscription_item",
        "billing_thresholds": null,
        "created": s.created,
        "current_period_end": s.current_period_end,
        "current_period_start": s.current_period_start,
        "discounts": [],
        "metadata": {},
        "plan": {
            "id": price_id,
            "object": "plan",
            "active": true,
            "amount": s.amount,
            "amount_decimal": s.amount.to_string(),
            "billing_scheme": "per_unit",
            "created": s.created,
            "currency": s.currency,
            "interval": interval,
            "interval_count": 1,
            "livemode": false,
            "metadata": {},
            "meter": null,
            "nickname": null,
            "product": product_id,
            "tiers_mode": null,
            "transform_usage": null,
            "trial_period_days": null,
            "usage_type": "licensed"
        },
        "price": {
            "id": price_id,
            "object": "price",
            "active": false,
            "billing_scheme": "per_unit",
            "created": s.created,
            "currency": s.currency,
            "custom_unit_amount": null,
            "livemode": false,
            "lookup_key": null,
            "metadata": {},
            "nickname": null,
            "product": product_id,
            "recurring": {
                "interval": interval,
                "interval_count": 1,
                "meter": null,
                "trial_period_days": null,
                "usage_type": "licensed"
            },
            "tax_behavior": "unspecified",
            "tiers_mode": null,
            "transform_quantity": null,
            "type": "recurring",
            "unit_amount": s.amount,
            "unit_amount_decimal": s.amount.to_string()
        },
        "quantity": 1,
        "subscription": s.id,
        "tax_rates": []
    });
    let head = json!({
        "id": s.id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": s.application_fee_percent,
        "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null },
        "billing_cycle_anchor": s.current_period_start,
        "billing_cycle_anchor_config": null,
        "billing_mode": { "flexible": null, "type": "classic" },
        "billing_schedules": [],
        "billing_thresholds": null,
        "cancel_at": if s.cancel_at_period_end { Some(s.current_period_end) } else { None },
        "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": s.canceled_at,
        "cancellation_details": { "comment": null, "feedback": null, "reason": null },
        "collection_method": "charge_automatically",
        "created": s.created,
        "currency": s.currency,
        "customer": s.customer,
        "customer_account": null,
        "days_until_due": null,
        "default_payment_method": null,
        "default_source": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "ended_at": s.ended_at,
    });
    let tail = json!({
        "invoice_settings": { "account_tax_ids": null, "issuer": { "type": "self" } },
        "items": list(&format!("/v1/subscription_items?subscription={}", s.id), vec![item], false),
        "latest_invoice": null,
        "livemode": false,
        "metadata": metadata(ORDER_ID_KEY, s.order_id),
        "next_pending_invoice_item_invoice": null,
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": {
            "payment_method_options": null,
            "payment_method_types": null,
            "save_default_payment_method": "off"
        },
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "start_date": s.created,
        "status": s.status.as_str(),
        "test_clock": null,
        "transfer_data": s.transfer_destination.map(|destination| json!({
            "amount_percent": null,
            "destination": destination
        })),
        "trial_end": null,
        "trial_settings": { "end_behavior": { "missing_payment_method": "create_invoice" } },
        "trial_start": null
    });
    joined(head, tail)
}

/// What a card charge holds.
#[derive(Debug, Clone)]
pub struct ChargeParts<'a> {
    pub id: &'a str,
    pub payment_intent: &'a str,
    pub customer: Option<&'a str>,
    pub amount: i64,
    /// Refunded so far; the charge counts as `refunded` once it reaches `amount`.
    pub amount_refunded: i64,
    pub currency: &'a str,
    pub disputed: bool,
    pub created: i64,
    pub transfer_destination: Option<&'a str>,
    pub application_fee_amount: Option<i64>,
}

pub fn charge(c: &ChargeParts<'_>) -> Value {
    let head = json!({
        "id": c.id,
        "object": "charge",
        "amount": c.amount,
        "amount_captured": c.amount,
        "amount_refunded": c.amount_refunded,
        "application": null,
        "application_fee": null,
        "application_fee_amount": c.application_fee_amount,
        "balance_transaction": null,
        "billing_details": {
            "address": null,
            "email": null,
            "name": null,
            "phone": null,
            "tax_id": null
        },
        "calculated_statement_descriptor": "BAZAAR",
        "captured": true,
        "created": c.created,
        "currency": c.currency,
        "customer": c.customer,
        "description": null,
        "disputed": c.disputed,
        "failure_balance_transaction": null,
        "failure_code": null,
        "failure_message": null,
        "fraud_details": {},
    });
    let tail = json!({
        "livemode": false,
        "metadata": {},
        "on_behalf_of": null,
        "outcome": {
            "advice_code": null,
            "network_advice_code": null,
            "network_decline_code": null,
            "network_status": "approved_by_network",
            "reason": null,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized"
        },
        "paid": true,
        "payment_intent": c.payment_intent,
        "payment_method": null,
        "receipt_email": null,
        "receipt_number": null,
        "receipt_url": null,
        "refunded": c.amount_refunded >= c.amount,
        "review": null,
        "shipping": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": "succeeded",
        "transfer_data": c.transfer_destination.map(|destination| json!({
            "amount": null,
            "destination": destination
        })),
        "transfer_group": null
    });
    joined(head, tail)
}

/// What a refund holds. `status` is `pending`, `requires_action`, `succeeded`, `failed` or
/// `canceled`.
#[derive(Debug, Clone)]
pub struct RefundParts<'a> {
    pub id: &'a str,
    pub payment_intent: &'a str,
    pub charge: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub status: &'a str,
    /// The reversal of the destination charge's transfer (`reverse_transfer`).
    pub transfer_reversal: Option<&'a str>,
    pub created: i64,
}

pub fn refund(r: &RefundParts<'_>) -> Value {
    json!({
        "id": r.id,
        "object": "refund",
        "amount": r.amount,
        "balance_transaction": null,
        "charge": r.charge,
        "created": r.created,
        "currency": r.currency,
        "destination_details": null,
        "metadata": {},
        "payment_intent": r.payment_intent,
        "reason": null,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": r.status,
        "transfer_reversal": r.transfer_reversal
    })
}

/// What a dispute holds. `status` is `warning_needs_response`, `warning_under_review`,
/// `warning_closed`, `needs_response`, `under_review`, `won`, `lost` or `prevented`;
/// `reason` is Stripe's category, such as `fraudulent` or `product_not_received`.
#[derive(Debug, Clone)]
pub struct DisputeParts<'a> {
    pub id: &'a str,
    pub charge: &'a str,
    pub payment_intent: Option<&'a str>,
    pub amount: i64,
    pub currency: &'a str,
    pub reason: &'a str,
    pub status: &'a str,
    pub created: i64,
}

pub fn dispute(d: &DisputeParts<'_>) -> Value {
    let refundable = !matches!(d.status, "won" | "lost");
    json!({
        "id": d.id,
        "object": "dispute",
        "amount": d.amount,
        "balance_transactions": [],
        "charge": d.charge,
        "created": d.created,
        "currency": d.currency,
        "enhanced_eligibility_types": [],
        "evidence": {
            "access_activity_log": null,
            "billing_address": null,
            "cancellation_policy": null,
            "cancellation_policy_disclosure": null,
            "cancellation_rebuttal": null,
            "customer_communication": null,
            "customer_email_address": null,
            "customer_name": null,
            "customer_purchase_ip": null,
            "customer_signature": null,
            "duplicate_charge_documentation": null,
            "duplicate_charge_explanation": null,
            "duplicate_charge_id": null,
            "enhanced_evidence": {},
            "product_description": null,
            "receipt": null,
            "refund_policy": null,
            "refund_policy_disclosure": null,
            "refund_refusal_explanation": null,
            "service_date": null,
            "service_documentation": null,
            "shipping_address": null,
            "shipping_carrier": null,
            "shipping_date": null,
            "shipping_documentation": null,
            "shipping_tracking_number": null,
            "uncategorized_file": null,
            "uncategorized_text": null
        },
        "evidence_details": {
            "due_by": d.created + 21 * 86_400,
            "enhanced_eligibility": {},
            "has_evidence": false,
            "past_due": false,
            "submission_count": 0
        },
        "is_charge_refundable": refundable,
        "livemode": false,
        "metadata": {},
        "network_reason_code": null,
        "payment_intent": d.payment_intent,
        "payment_method_details": null,
        "reason": d.reason,
        "status": d.status
    })
}

pub fn customer(
    id: &str,
    name: &str,
    email: Option<&str>,
    account_id: Option<i64>,
    created: i64,
) -> Value {
    json!({
        "id": id,
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": created,
        "currency": null,
        "customer_account": null,
        "default_source": null,
        "delinquent": false,
        "description": null,
        "email": email,
        "invoice_prefix": id.trim_start_matches("cus_").chars().take(8).collect::<String>().to_uppercase(),
        "invoice_settings": {
            "custom_fields": null,
            "default_payment_method": null,
            "footer": null,
            "rendering_options": null
        },
        "livemode": false,
        "metadata": metadata(ACCOUNT_ID_KEY, account_id),
        "name": name,
        "next_invoice_sequence": 1,
        "phone": null,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null
    })
}

pub fn billing_portal_session(
    id: &str,
    customer: &str,
    return_url: &str,
    url: &str,
    created: i64,
) -> Value {
    json!({
        "id": id,
        "object": "billing_portal.session",
        "configuration": "bpc_default",
        "created": created,
        "customer": customer,
        "customer_account": null,
        "flow": null,
        "livemode": false,
        "locale": null,
        "on_behalf_of": null,
        "return_url": return_url,
        "url": url
    })
}

/// An Express connected account. Payouts follow `charges_enabled` here: the fake has no
/// separate review of bank details.
pub fn account(
    id: &str,
    email: Option<&str>,
    charges_enabled: bool,
    details_submitted: bool,
    created: i64,
) -> Value {
    let due: Vec<&str> = if details_submitted {
        vec![]
    } else {
        vec![
            "business_type",
            "external_account",
            "tos_acceptance.date",
            "tos_acceptance.ip",
        ]
    };
    json!({
        "id": id,
        "object": "account",
        "business_profile": {
            "mcc": null,
            "name": null,
            "product_description": null,
            "support_address": null,
            "support_email": null,
            "support_phone": null,
            "support_url": null,
            "url": null
        },
        "business_type": null,
        "capabilities": {},
        "charges_enabled": charges_enabled,
        "controller": {
            "fees": { "payer": "application_express" },
            "is_controller": true,
            "losses": { "payments": "application" },
            "requirement_collection": "stripe",
            "stripe_dashboard": { "type": "express" },
            "type": "application"
        },
        "country": "US",
        "created": created,
        "default_currency": "usd",
        "details_submitted": details_submitted,
        "email": email,
        "external_accounts": list(&format!("/v1/accounts/{id}/external_accounts"), vec![], false),
        "future_requirements": {
            "alternatives": [],
            "current_deadline": null,
            "currently_due": [],
            "disabled_reason": null,
            "errors": [],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": []
        },
        "metadata": {},
        "payouts_enabled": charges_enabled,
        "requirements": {
            "alternatives": [],
            "current_deadline": null,
            "currently_due": due,
            "disabled_reason": if details_submitted { Value::Null } else { json!("requirements.past_due") },
            "errors": [],
            "eventually_due": due,
            "past_due": due,
            "pending_verification": []
        },
        "settings": null,
        "tos_acceptance": { "date": null, "ip": null, "user_agent": null },
        "type": "express"
    })
}

pub fn account_link(url: &str, created: i64, expires_at: i64) -> Value {
    json!({
        "object": "account_link",
        "created": created,
        "expires_at": expires_at,
        "url": url
    })
}

/// A page of a list endpoint; `url` is the endpoint's path, such as `/v1/events`.
pub fn list(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

/// An event around `object`.
#[derive(Debug, Clone)]
pub struct EventParts<'a> {
    pub id: &'a str,
    /// Such as `checkout.session.completed` or `customer.subscription.updated`.
    pub event_type: &'a str,
    pub created: i64,
    pub object: Value,
    /// The changed fields' old values, on `*.updated` events.
    pub previous_attributes: Option<Value>,
    /// The API request that caused it and its idempotency key; `None` for Stripe's own
    /// doings (a payment settling, a period ending).
    pub request: Option<(&'a str, Option<&'a str>)>,
    /// The connected account it happened on, for Connect events.
    pub account: Option<&'a str>,
}

pub fn event(e: &EventParts<'_>) -> Value {
    let mut data = json!({ "object": e.object });
    if let Some(previous) = &e.previous_attributes {
        data["previous_attributes"] = previous.clone();
    }
    let mut event = json!({
        "id": e.id,
        "object": "event",
        "api_version": API_VERSION,
        "context": null,
        "created": e.created,
        "data": data,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {
            "id": e.request.map(|(id, _)| id),
            "idempotency_key": e.request.and_then(|(_, key)| key)
        },
        "type": e.event_type
    });
    if let Some(account) = e.account {
        event["account"] = json!(account);
    }
    event
}

/// The fields of both objects in one (a single `json!` literal of a whole session,
/// subscription or charge passes the macro's recursion limit).
fn joined(mut head: Value, tail: Value) -> Value {
    if let (Value::Object(head), Value::Object(tail)) = (&mut head, tail) {
        head.extend(tail);
    }
    head
}

fn metadata(key: &str, value: Option<i64>) -> Value {
    match value {
        Some(value) => json!({ key: value.to_string() }),
        None => json!({}),
    }
}

fn session_status(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Open => "open",
        SessionStatus::Complete => "complete",
        SessionStatus::Expired => "expired",
    }
}

fn payment_status(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Paid => "paid",
        PaymentStatus::Unpaid => "unpaid",
        PaymentStatus::NoPaymentRequired => "no_payment_required",
    }
}

#[cfg(test)]
mod tests;
