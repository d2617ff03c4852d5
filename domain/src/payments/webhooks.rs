//! Provider events: checked on the raw bytes, stored as received (once per id), then parsed
//! and applied. A delivery is acknowledged only after its effect is committed; anything that
//! fails answers 5xx so the provider sends it again, and reconciliation retries what is stored.
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};
use serde::Deserialize;
use serde_json::Value;

use crate::entities::{order, webhook_event};
use crate::error::{DomainError, DomainResult};
use crate::licensing::grants::{self, LicenseFilter};
use crate::licensing::LicenseStatus;
use crate::payments::orders::{self, OrderStatus};
use crate::payments::provider::{CheckoutSession, PaymentStatus, SessionStatus};
use crate::payments::signature::{self, SignatureError};
use crate::state::AppState;

/// Why a delivery was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The sender is not the provider (or the body was altered): 400, nothing changes.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// Signed, but not an event: 400.
    #[error("the body is not an event: {0}")]
    Malformed(String),
    /// Applying it failed here: 5xx, so it is sent again.
    #[error(transparent)]
    Failed(#[from] DomainError),
}

/// The envelope every event has.
#[derive(Debug, Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Value,
}

/// What a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    Applied,
    /// Already applied by an earlier delivery of the same event.
    Duplicate,
}

/// Receives one delivery: `signature_header` is the `Stripe-Signature` header, `body` the
/// raw request body.
pub async fn receive(
    state: &AppState,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<Receipt, WebhookError> {
    signature::verify(
        &state.payments.webhook_secret,
        signature_header,
        body,
        Utc::now().timestamp(),
    )?;
    let text =
        std::str::from_utf8(body).map_err(|_| WebhookError::Malformed("not UTF-8".into()))?;
    accept(state, text).await
}

/// Stores and applies an event known to come from the provider (its signature checked, or
/// fetched from the provider's API).
async fn accept(state: &AppState, text: &str) -> Result<Receipt, WebhookError> {
    let envelope: Envelope =
        serde_json::from_str(text).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let provider = state
        .payments
        .provider
        .as_ref()
        .map_or("stripe", |p| p.name());
    webhook_event::Entity::insert(webhook_event::ActiveModel {
        id: Set(envelope.id.clone()),
        provider: Set(provider.to_owned()),
        event_type: Set(envelope.event_type.clone()),
        body: Set(text.to_owned()),
        received_at: Set(Utc::now()),
        processed_at: Set(None),
        last_error: Set(None),
    })
    .on_conflict(
        OnConflict::column(webhook_event::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&state.db)
    .await
    .map_err(DomainError::from)?;
    let stored = webhook_event::Entity::find_by_id(envelope.id.clone())
        .one(&state.db)
        .await
        .map_err(DomainError::from)?;
    if stored.is_some_and(|e| e.processed_at.is_some()) {
        return Ok(Receipt::Duplicate);
    }
    process(state, &envelope).await?;
    Ok(Receipt::Applied)
}

/// Applies a stored event and marks it processed; on failure keeps the error for the
/// operator and leaves it for the next delivery or reconciliation.
async fn process(state: &AppState, envelope: &Envelope) -> DomainResult<()> {
    match apply(state, envelope).await {
        Ok(()) => {
            mark(state, &envelope.id, None).await?;
            Ok(())
        }
        Err(err) => {
            tracing::warn!(event = %envelope.id, kind = %envelope.event_type, error = %err, "event not applied");
            // Best effort: the delivery fails with the original error either way.
            let _ = mark(state, &envelope.id, Some(err.to_string())).await;
            Err(err)
        }
    }
}

async fn mark(state: &AppState, id: &str, error: Option<String>) -> DomainResult<()> {
    let mut update = webhook_event::Entity::update_many();
    update = match error {
        None => update
            .col_expr(webhook_event::Column::ProcessedAt, Some(Utc::now()).into())
            .col_expr(
                webhook_event::Column::LastError,
                Option::<String>::None.into(),
            ),
        Some(error) => update.col_expr(webhook_event::Column::LastError, Some(error).into()),
    };
    update
        .filter(webhook_event::Column::Id.eq(id))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// How long an event about a payment Bazaar has no order for is retried before it is taken
/// to belong to another application on the same provider account.
const UNKNOWN_PAYMENT_RETRY_SECONDS: i64 = 3 * 24 * 3600;

async fn apply(state: &AppState, envelope: &Envelope) -> DomainResult<()> {
    let object = &envelope.data.object;
    match envelope.event_type.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            orders::fulfil_checkout(state, &checkout_session(object)?).await?;
        }
        "checkout.session.async_payment_failed" | "checkout.session.expired" => {
            let session = checkout_session(object)?;
            if let Some(order_id) = session.order_id {
                orders::set_order_status(
                    &state.db,
                    order_id,
                    OrderStatus::Failed,
                    &[OrderStatus::Open, OrderStatus::Pending],
                )
                .await?;
            }
        }
        // A partial refund leaves the license; a full one ends it.
        "charge.refunded" if object["refunded"].as_bool() == Some(true) => {
            let payment = text(object, "payment_intent")?;
            payment_event(state, envelope, payment, OrderStatus::Refunded).await?;
        }
        "charge.dispute.created" => {
            let payment = text(object, "payment_intent")?;
            payment_event(state, envelope, payment, OrderStatus::Disputed).await?;
        }
        "charge.dispute.closed" => {
            let payment = text(object, "payment_intent")?;
            let outcome = match object["status"].as_str() {
                Some("won") | Some("warning_closed") => OrderStatus::Paid,
                _ => OrderStatus::Refunded,
            };
            payment_event(state, envelope, payment, outcome).await?;
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            // Events arrive in any order: access follows the subscription as it is now.
            let id = text(object, "id")?;
            let subscription = state.payments.provider()?.subscription(id).await?;
            grants::follow_subscription(&state.db, &subscription).await?;
        }
        _ => {} // not one Bazaar acts on
    }
    Ok(())
}

/// A refund or dispute on a one-time payment: the order and its licenses follow, unless a
/// newer such event has already been applied.
async fn payment_event(
    state: &AppState,
    envelope: &Envelope,
    payment_intent: &str,
    status: OrderStatus,
) -> DomainResult<()> {
    let txn = state.db.begin().await?;
    let Some(order) = order::Entity::find()
        .filter(order::Column::PaymentIntent.eq(payment_intent))
        .one(&txn)
        .await?
    else {
        // The checkout's own event may not have been applied yet: fail, so this one comes
        // again after it, unless it is old enough to be another application's.
        if Utc::now().timestamp() - envelope.created > UNKNOWN_PAYMENT_RETRY_SECONDS {
            return Ok(());
        }
        return Err(DomainError::Conflict(format!(
            "no order paid by {payment_intent} yet"
        )));
    };
    // One conditional UPDATE decides, so two events racing on the same order cannot both
    // pass a check made before either wrote: the older one (or any after a refund) changes
    // nothing.
    let changed = order::Entity::update_many()
        .col_expr(order::Column::Status, status.as_str().into())
        .col_expr(order::Column::StatusEventAt, envelope.created.into())
        .col_expr(order::Column::UpdatedAt, Utc::now().into())
        .filter(order::Column::Id.eq(order.id))
        .filter(order::Column::StatusEventAt.lte(envelope.created))
        .filter(order::Column::Status.ne(OrderStatus::Refunded.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed == 0 {
        return Ok(()); // older than what is applied, or final
    }
    let license_status = match status {
        OrderStatus::Refunded => LicenseStatus::Revoked,
        OrderStatus::Disputed => LicenseStatus::Suspended,
        _ => LicenseStatus::Active,
    };
    grants::set_status(&txn, LicenseFilter::Order(order.id), license_status, None).await?;
    txn.commit().await?;
    Ok(())
}

fn text<'a>(object: &'a Value, field: &'static str) -> DomainResult<&'a str> {
    object[field]
        .as_str()
        .ok_or_else(|| DomainError::invalid(field, format!("the event's object has no {field}")))
}

/// A checkout session from its JSON in Stripe's shape.
pub fn checkout_session(object: &Value) -> DomainResult<CheckoutSession> {
    let opt = |field: &str| object[field].as_str().map(str::to_owned);
    Ok(CheckoutSession {
        id: text(object, "id")?.to_owned(),
        url: opt("url"),
        status: match object["status"].as_str() {
            Some("complete") => SessionStatus::Complete,
            Some("expired") => SessionStatus::Expired,
            _ => SessionStatus::Open,
        },
        payment_status: match object["payment_status"].as_str() {
            Some("paid") => PaymentStatus::Paid,
            Some("no_payment_required") => PaymentStatus::NoPaymentRequired,
            _ => PaymentStatus::Unpaid,
        },
        order_id: object["metadata"]["bazaar_order_id"]
            .as_str()
            .and_then(|id| id.parse().ok()),
        payment_intent: opt("payment_intent"),
        subscription: opt("subscription"),
        customer: opt("customer"),
        amount_total: object["amount_total"].as_i64(),
        currency: opt("currency"),
    })
}

/// Applies again every stored event that has not been applied (oldest first), then asks
/// the provider for the events since `since` (Unix seconds) and receives any it never
/// delivered. Returns how many were applied now.
pub async fn reconcile(state: &AppState, since: i64) -> DomainResult<usize> {
    let mut applied = 0;
    if let Some(provider) = state.payments.provider.clone() {
        for event in provider.events_since(since).await? {
            let known = webhook_event::Entity::find_by_id(event.id.clone())
                .one(&state.db)
                .await?
                .is_some();
            if !known {
                match accept(state, &event.body).await {
                    Ok(_) => applied += 1,
                    Err(err) => {
                        tracing::warn!(event = %event.id, error = %err, "reconciliation could not apply an event")
                    }
                }
            }
        }
    }
    let pending = webhook_event::Entity::find()
        .filter(webhook_event::Column::ProcessedAt.is_null())
        .order_by_asc(webhook_event::Column::ReceivedAt)
        .all(&state.db)
        .await?;
    for stored in pending {
        let Ok(envelope) = serde_json::from_str::<Envelope>(&stored.body) else {
            continue;
        };
        if process(state, &envelope).await.is_ok() {
            applied += 1;
        }
    }
    Ok(applied)
}
