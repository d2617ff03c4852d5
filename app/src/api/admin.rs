//! Site administration: the audit log, the e-mail outbox and deleted listings (admins only).
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::request::{client_ip, signed_in, when};
#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
use crate::wire::{AuditRow, DeletedListingRow, OutboxRow};

#[server(endpoint = "audit_log")]
pub async fn audit_log(before: Option<i64>) -> Result<Vec<AuditRow>, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let entries = respond(domain::audit::recent(&state.db, &caller.user, before, 100).await)?;
    Ok(entries
        .into_iter()
        .map(|e| AuditRow {
            id: e.id,
            at: when(e.at),
            actor: e.actor_name,
            actor_kind: e.actor_kind,
            action: e.action,
            subject: e.subject,
            ip: e.ip,
        })
        .collect())
}

#[server(endpoint = "outbox")]
pub async fn outbox() -> Result<Vec<OutboxRow>, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let messages = respond(domain::mail::recent(&state.db, &caller.user, 100).await)?;
    Ok(messages
        .into_iter()
        .map(|m| OutboxRow {
            id: m.id,
            status: match (&m.sent_at, &m.error) {
                (Some(_), _) => "sent".to_owned(),
                (None, Some(error)) => format!("failed: {error}"),
                (None, None) => "queued".to_owned(),
            },
            recipient: m.recipient,
            subject: m.subject,
            body: m.body,
            created_at: when(m.created_at),
        })
        .collect())
}

/// Listings their publishers deleted, with what purging them frees.
#[server(endpoint = "deleted_listings")]
pub async fn deleted_listings() -> Result<Vec<DeletedListingRow>, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let listings = respond(domain::listings::deleted(&state, &caller.user).await)?;
    Ok(listings.into_iter().map(DeletedListingRow::from).collect())
}

/// The newest orders, for administrators.
#[server(endpoint = "admin_orders")]
pub async fn admin_orders() -> Result<Vec<crate::wire::OrderEntry>, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let lines = respond(domain::payments::orders::recent(&state, &caller.user, 200).await)?;
    Ok(lines
        .into_iter()
        .map(|line| {
            let o = line.order;
            crate::wire::OrderEntry {
                id: o.id,
                at: o.created_at.format("%Y-%m-%d %H:%M").to_string(),
                buyer: line.buyer,
                model: line.model,
                amount: domain::licensing::offers::Currency::parse(&o.currency).map_or_else(
                    || format!("{} {}", o.amount_minor, o.currency),
                    |c| c.format(o.amount_minor),
                ),
                refundable: o.payment_intent.is_some()
                    && matches!(o.status.as_str(), "paid" | "disputed"),
                status: o.status,
                provider: o.provider,
            }
        })
        .collect())
}

/// Refunds an order in full and revokes its license.
#[server(endpoint = "refund_order")]
pub async fn refund_order(order_id: i64) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(domain::payments::orders::refund(&state, &caller.user, &client_ip(), order_id).await)
}
