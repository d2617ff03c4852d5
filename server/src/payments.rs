//! The payment provider's side of the HTTP surface: its webhook endpoint, and the page a
//! buyer returns to from checkout. Both only speak HTTP; `domain::payments` decides.
use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use domain::payments::webhooks::{self, WebhookError};
use std::sync::Arc;

use domain::payments::test_mode::TestMode;
use domain::payments::Payments;
use domain::AppState;
use tokio::sync::mpsc;

use crate::config::{Config, PaymentsMode};
use serde::Deserialize;

/// The payment provider this configuration asks for, and (in test mode) the stream of
/// events its deliverer sends to the webhook code.
pub fn configure(
    config: &Config,
    state: &AppState,
) -> anyhow::Result<(Payments, Option<mpsc::UnboundedReceiver<String>>)> {
    let fee = config.platform_fee_bps;
    anyhow::ensure!(fee <= 5000, "platform_fee_bps must be at most 5000 (50 %)");
    Ok(match config.payments_mode() {
        PaymentsMode::Off | PaymentsMode::Auto => (Payments::not_configured(), None),
        PaymentsMode::Test => {
            let (mode, events) = TestMode::new(state.db.clone(), &state.public_url);
            let mode = Arc::new(mode);
            tracing::info!("payments: built-in test mode (no real money moves)");
            let payments = Payments {
                provider: Some(mode.clone()),
                // Test-mode events are signed by this process; a fixed secret lets a script
                // or test deliver its own.
                webhook_secret: match &config.stripe_webhook_secret {
                    Some(secret) => secret.expose().to_owned(),
                    None => domain::secrets::new_secret("whsec_test_")?,
                },
                platform_fee_bps: fee,
                test_mode: Some(mode),
            };
            (payments, Some(events))
        }
        PaymentsMode::Stripe => {
            let key = config
                .stripe_secret_key
                .as_ref()
                .map(|k| k.expose())
                .ok_or_else(|| {
                    anyhow::anyhow!("payments = \"stripe\" needs BAZAAR_STRIPE_SECRET_KEY")
                })?;
            let webhook_secret = config
                .stripe_webhook_secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                    "Stripe payments need BAZAAR_STRIPE_WEBHOOK_SECRET, the signing secret of the \
                     webhook endpoint that points at /webhooks/stripe"
                )
                })?;
            let base = config
                .stripe_api_base
                .as_deref()
                .unwrap_or(domain::payments::stripe::API_BASE);
            let provider = domain::payments::stripe::StripeProvider::new(key, base)
                .map_err(|e| anyhow::anyhow!("setting up the Stripe client: {e}"))?;
            tracing::info!("payments: Stripe");
            let payments = Payments {
                provider: Some(Arc::new(provider)),
                webhook_secret,
                platform_fee_bps: fee,
                test_mode: None,
            };
            (payments, None)
        }
    })
}

/// Routes that need the caller (the success page); the webhook needs none and is signed.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/stripe", post(webhook))
        .route("/checkout/success", get(success))
}

/// Events from Stripe (and the test-mode provider): 2xx once applied or known, 400 for what
/// is not a genuine event, 5xx when applying failed here, so the sender retries.
async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    match webhooks::receive(&state, signature, &body).await {
        Ok(receipt) => (StatusCode::OK, format!("{receipt:?}")).into_response(),
        Err(WebhookError::Signature(err)) => {
            tracing::warn!(error = %err, "webhook refused: signature");
            (StatusCode::BAD_REQUEST, err.to_string()).into_response()
        }
        Err(WebhookError::Malformed(err)) => {
            (StatusCode::BAD_REQUEST, format!("not an event: {err}")).into_response()
        }
        Err(WebhookError::Failed(err)) => {
            tracing::error!(error = %err, "webhook event not applied; the sender will retry");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not applied; send it again",
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
struct SuccessQuery {
    session_id: String,
}

/// The buyer is back from paying: fulfil now (the webhook may come later) and show their
/// licenses. Fulfilling a session only grants what its order paid for, to the order's
/// licensee, so it needs no session cookie (a buyer whose log-in expired meanwhile still
/// gets the license).
async fn success(State(state): State<AppState>, Query(query): Query<SuccessQuery>) -> Response {
    match domain::payments::orders::confirm_checkout(&state, &query.session_id).await {
        Ok(order) => Redirect::to(&format!("/licenses?order={}", order.id)).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "checkout return not confirmed");
            Redirect::to("/licenses?order=unconfirmed").into_response()
        }
    }
}
