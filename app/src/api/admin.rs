//! Site administration: the audit log, the e-mail outbox and deleted listings (admins only).
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::request::{signed_in, when};
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
