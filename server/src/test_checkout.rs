//! The test-mode provider's own pages, standing in for Stripe's hosted checkout and billing
//! portal: pay (succeed, decline, or leave pending and settle later), and cancel a
//! subscription or move it to its period end. Plain HTML forms; served only in test mode.
use std::sync::Arc;

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Extension, Form, Router,
};
use domain::payments::provider::{PaymentStatus, SessionStatus};
use domain::payments::test_mode::{TestMode, TestOutcome};
use domain::{AppState, Caller};
use serde::Deserialize;

/// The site's stylesheet, so these pages look like the rest of the site.
#[derive(Clone)]
struct Stylesheet(Arc<str>);

pub fn routes(stylesheet: &str) -> Router<AppState> {
    Router::new()
        .route(
            "/test-checkout/{session}",
            get(checkout_page).post(checkout_action),
        )
        .route(
            "/test-billing/{customer}",
            get(billing_page).post(billing_action),
        )
        .layer(Extension(Stylesheet(stylesheet.into())))
}

fn test_mode(state: &AppState) -> Result<&TestMode, Box<Response>> {
    state
        .payments
        .test_mode
        .as_deref()
        .ok_or_else(|| Box::new((StatusCode::NOT_FOUND, "not found").into_response()))
}

fn page(css: &Stylesheet, title: &str, body: String) -> Response {
    let css = escape(&css.0);
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Bazaar test payments</title>\
         <link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body><main class=\"test-pay\"><p class=\"test-pay-banner\" role=\"note\">\
         Test mode: no real money moves.</p><h1>{title}</h1>{body}</main></body></html>"
    ))
    .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Deserialize)]
struct Declined {
    declined: Option<String>,
}

async fn checkout_page(
    State(state): State<AppState>,
    Extension(css): Extension<Stylesheet>,
    Path(session_id): Path<String>,
    Query(query): Query<Declined>,
) -> Response {
    let mode = match test_mode(&state) {
        Ok(mode) => mode,
        Err(response) => return *response,
    };
    let Ok((session, product)) = mode.describe(&session_id).await else {
        return (StatusCode::NOT_FOUND, "no such checkout session").into_response();
    };
    let price = match (session.amount_total, session.currency.as_deref()) {
        (Some(amount), Some(code)) => domain::licensing::offers::Currency::parse(code)
            .map_or_else(|| format!("{amount} {code}"), |c| c.format(amount)),
        _ => String::new(),
    };
    let action = format!("/test-checkout/{}", escape(&session_id));
    let button = |outcome: &str, label: &str, class: &str| {
        format!(
            "<button type=\"submit\" name=\"outcome\" value=\"{outcome}\" class=\"button {class}\" \
             data-testid=\"pay-{outcome}\">{label}</button>"
        )
    };
    let body = match (session.status, session.payment_status) {
        (SessionStatus::Open, _) => format!(
            "<p class=\"lede\">{}</p><p class=\"price-big\" data-testid=\"amount\">{}</p>{}\
             <form method=\"post\" action=\"{action}\" class=\"test-pay-actions\">{}{}{}</form>\
             <p><a href=\"{}\">Cancel and go back</a></p>",
            escape(&product),
            escape(&price),
            if query.declined.is_some() {
                "<p class=\"error\" role=\"alert\">Your card was declined. Try again, or choose another outcome.</p>"
            } else {
                ""
            },
            button("succeed", "Pay", ""),
            button(
                "pending",
                "Pay by bank debit (settles later)",
                "button-secondary"
            ),
            button("decline", "Use a card that is declined", "button-secondary"),
            escape(
                &mode
                    .return_urls(&session_id)
                    .await
                    .map(|u| u.1)
                    .unwrap_or_default()
            ),
        ),
        (SessionStatus::Complete, PaymentStatus::Unpaid) => format!(
            "<p class=\"lede\">{}</p><p>The payment of {} is on its way.</p>\
             <form method=\"post\" action=\"{action}\" class=\"test-pay-actions\">{}{}</form>",
            escape(&product),
            escape(&price),
            button("settle", "The payment arrives", ""),
            button("fail", "The payment fails", "button-secondary"),
        ),
        _ => "<p>This checkout is finished.</p><p><a href=\"/licenses\">My licenses</a></p>"
            .to_owned(),
    };
    page(&css, "Checkout", body)
}

#[derive(Deserialize)]
struct CheckoutForm {
    outcome: String,
}

async fn checkout_action(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    Form(form): Form<CheckoutForm>,
) -> Response {
    let mode = match test_mode(&state) {
        Ok(mode) => mode,
        Err(response) => return *response,
    };
    let done = match form.outcome.as_str() {
        "succeed" => mode
            .pay(&session_id, TestOutcome::Succeed)
            .await
            .map(|_| true),
        "pending" => mode
            .pay(&session_id, TestOutcome::Pending)
            .await
            .map(|_| true),
        "decline" => mode
            .pay(&session_id, TestOutcome::Decline)
            .await
            .map(|_| false),
        "settle" => mode.settle(&session_id, true).await.map(|_| true),
        "fail" => mode.settle(&session_id, false).await.map(|_| true),
        other => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unknown outcome '{}'", escape(other)),
            )
                .into_response()
        }
    };
    match done {
        Ok(true) => match mode.return_urls(&session_id).await {
            Ok((success, _)) => Redirect::to(&success).into_response(),
            Err(err) => (StatusCode::NOT_FOUND, err.to_string()).into_response(),
        },
        Ok(false) => {
            Redirect::to(&format!("/test-checkout/{session_id}?declined=1")).into_response()
        }
        Err(err) => (StatusCode::CONFLICT, err.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct ReturnTo {
    return_url: Option<String>,
}

/// Only the customer's own account (or a member of its organization) manages it.
async fn may_manage(
    state: &AppState,
    mode: &TestMode,
    caller: Option<&Caller>,
    customer: &str,
) -> bool {
    let (Some(caller), Ok(Some(account))) = (caller, mode.customer_account(customer).await) else {
        return false;
    };
    caller.user.id == account
        || domain::orgs::role_of(&state.db, account, caller.user.id)
            .await
            .is_ok_and(|role| role.is_some())
}

async fn billing_page(
    State(state): State<AppState>,
    Extension(css): Extension<Stylesheet>,
    caller: Option<Extension<Caller>>,
    Path(customer): Path<String>,
    Query(query): Query<ReturnTo>,
) -> Response {
    let mode = match test_mode(&state) {
        Ok(mode) => mode,
        Err(response) => return *response,
    };
    if !may_manage(&state, mode, caller.as_ref().map(|c| &c.0), &customer).await {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let subscriptions = mode.subscriptions_of(&customer).await.unwrap_or_default();
    let action = format!("/test-billing/{}", escape(&customer));
    let rows: String = subscriptions
        .iter()
        .map(|s| {
            let end = s
                .current_period_end
                .and_then(domain::payments::orders::unix_time)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            let state = if !s.status.grants_access() {
                format!("ended ({})", s.status.as_str())
            } else if s.cancel_at_period_end {
                format!("cancelled: ends {end}")
            } else {
                format!("active: renews {end}")
            };
            let cancel = if s.status.grants_access() && !s.cancel_at_period_end {
                "<button type=\"submit\" name=\"action\" value=\"cancel\" class=\"button button-secondary button-small\" data-testid=\"cancel-subscription\">Cancel</button>"
            } else {
                ""
            };
            let advance = if s.status.grants_access() {
                "<button type=\"submit\" name=\"action\" value=\"advance\" class=\"button button-secondary button-small\" data-testid=\"advance-period\">Move to the period end</button>"
            } else {
                ""
            };
            format!(
                "<li class=\"panel\" data-testid=\"test-subscription\"><p><code>{}</code> <span data-testid=\"subscription-state\">{}</span></p>\
                 <form method=\"post\" action=\"{action}\" class=\"test-pay-actions\">\
                 <input type=\"hidden\" name=\"subscription\" value=\"{}\">\
                 <input type=\"hidden\" name=\"return_url\" value=\"{}\">{cancel}{advance}</form></li>",
                escape(&s.id),
                escape(&state),
                escape(&s.id),
                escape(query.return_url.as_deref().unwrap_or("/licenses")),
            )
        })
        .collect();
    let back = query
        .return_url
        .as_deref()
        .filter(|u| u.starts_with(&state.public_url) || u.starts_with('/'))
        .unwrap_or("/licenses");
    page(
        &css,
        "Manage subscription",
        format!(
            "<ul class=\"test-subscriptions\">{rows}</ul><p><a href=\"{}\" data-testid=\"billing-return\">Back to Bazaar</a></p>",
            escape(back)
        ),
    )
}

#[derive(Deserialize)]
struct BillingForm {
    subscription: String,
    action: String,
    return_url: Option<String>,
}

async fn billing_action(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(customer): Path<String>,
    Form(form): Form<BillingForm>,
) -> Response {
    let mode = match test_mode(&state) {
        Ok(mode) => mode,
        Err(response) => return *response,
    };
    if !may_manage(&state, mode, caller.as_ref().map(|c| &c.0), &customer).await {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let owns = mode
        .subscriptions_of(&customer)
        .await
        .unwrap_or_default()
        .iter()
        .any(|s| s.id == form.subscription);
    if !owns {
        return (StatusCode::NOT_FOUND, "no such subscription").into_response();
    }
    let done = match form.action.as_str() {
        "cancel" => mode.cancel_subscription(&form.subscription).await,
        "advance" => mode.advance_to_period_end(&form.subscription).await,
        other => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unknown action '{}'", escape(other)),
            )
                .into_response()
        }
    };
    if let Err(err) = done {
        return (StatusCode::CONFLICT, err.to_string()).into_response();
    }
    let back: String = url::form_urlencoded::byte_serialize(
        form.return_url.as_deref().unwrap_or("/licenses").as_bytes(),
    )
    .collect();
    Redirect::to(&format!("/test-billing/{customer}?return_url={back}")).into_response()
}
