//! A fake of Stripe's API on 127.0.0.1, for the tests: Stripe itself cannot be reached from
//! them, and no stand-in on a registry covers Checkout and Connect in the pinned API
//! version. It keeps its objects in memory, answers in the shapes of `domain`'s
//! `payments::shapes` (so async-stripe reads them as it reads Stripe), checks the secret key,
//! honours `Idempotency-Key`, and answers errors as Stripe does. What Stripe does on its own
//! (a buyer paying, a refund from the Dashboard, a renewal) is driven from the test, and
//! each such change returns its events signed for the webhook endpoint.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use domain::payments::provider::SubscriptionStatus;
use domain::payments::shapes;
use domain::payments::signature;
use domain::payments::stripe::StripeProvider;
use serde_json::Value;

mod api;
mod control;
mod state;
mod wire;

pub use state::Recorded;
use state::{now, Replay, State};
use wire::{parse_params, ApiError};

/// The secret key the fake accepts; any other is answered 401.
pub const SECRET_KEY: &str = "sk_test_bazaar_fake";

/// The signing secret of the events the fake hands out.
pub const WEBHOOK_SECRET: &str = "whsec_bazaar_fake";

/// An event as Stripe would POST it: the body and its `Stripe-Signature` header.
#[derive(Debug, Clone)]
pub struct SignedEvent {
    pub id: String,
    pub event_type: String,
    pub signature: String,
    pub body: String,
}

impl SignedEvent {
    /// POSTs it to `url` (the webhook endpoint) as Stripe does.
    pub async fn post(&self, client: &reqwest::Client, url: &str) -> reqwest::Response {
        client
            .post(url)
            .header("content-type", "application/json; charset=utf-8")
            .header("stripe-signature", &self.signature)
            .body(self.body.clone())
            .send()
            .await
            .expect("the webhook endpoint answers")
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("events are JSON")
    }
}

#[derive(Clone)]
pub struct FakeStripe {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeStripe {
    /// Starts a fake on a free port; it runs until the test's runtime ends.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            base: format!("http://{addr}/"),
            ..State::default()
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    /// The address to give async-stripe's `ClientBuilder::url`.
    pub fn api_base(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// A provider that talks to this fake with the key it accepts.
    pub fn provider(&self) -> StripeProvider {
        StripeProvider::new(SECRET_KEY, &self.api_base()).expect("a valid client")
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every request that got past the key check, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// The parameters of the last `method path` request, such as `POST /v1/checkout/sessions`.
    pub fn last_params(&self, method: &str, path: &str) -> Value {
        self.requests()
            .into_iter()
            .rev()
            .find(|r| r.method == method && r.path == path)
            .unwrap_or_else(|| panic!("the fake got no {method} {path}"))
            .params
    }

    /// The next request is answered with `status` (a 5xx or 429) and Stripe's `api_error`.
    pub fn fail_next(&self, status: u16) {
        self.state().failures.push_back(status);
    }

    /// An object as the fake would serve it now.
    pub fn checkout_session(&self, id: &str) -> Value {
        self.state()
            .sessions
            .get(id)
            .expect("a known session")
            .json()
    }

    pub fn subscription(&self, id: &str) -> Value {
        self.state()
            .subscriptions
            .get(id)
            .expect("a known subscription")
            .json()
    }

    /// The payment a paid checkout session made.
    pub fn payment_intent_of(&self, session: &str) -> String {
        self.state().sessions[session]
            .payment_intent
            .clone()
            .expect("the session was paid")
    }

    /// The subscription a completed subscription-mode session started.
    pub fn subscription_of(&self, session: &str) -> String {
        self.state().sessions[session]
            .subscription
            .clone()
            .expect("the session started a subscription")
    }

    /// The refunds made so far: `(payment intent, transfer reversed, fee refunded)`.
    pub fn refunds(&self) -> Vec<(String, bool, bool)> {
        self.state()
            .refunds
            .values()
            .map(|r| {
                (
                    r.payment_intent.clone(),
                    r.transfer_reversal.is_some(),
                    r.refunded_application_fee,
                )
            })
            .collect()
    }

    /// Every event so far, oldest first, signed now.
    pub fn events(&self) -> Vec<SignedEvent> {
        let bodies: Vec<Value> = self.state().events.clone();
        bodies.iter().map(sign).collect()
    }

    /// The event `id`, signed now (to deliver it again).
    pub fn event(&self, id: &str) -> SignedEvent {
        sign(self.state().event(id).expect("a known event"))
    }

    /// Runs a change on Stripe's side and returns the events it caused, signed.
    fn change(&self, change: impl FnOnce(&mut State)) -> Vec<SignedEvent> {
        let mut state = self.state();
        let before = state.events.len();
        change(&mut state);
        state.events[before..].iter().map(sign).collect()
    }

    /// The buyer pays by card: `checkout.session.completed` with `payment_status: paid`
    /// (after `customer.subscription.created` in subscription mode).
    pub fn complete_checkout(&self, session: &str) -> Vec<SignedEvent> {
        self.change(|state| control::complete(state, session, true))
    }

    /// The buyer pays by a delayed method: `checkout.session.completed` with
    /// `payment_status: unpaid`; [`FakeStripe::settle_payment`] decides it later.
    pub fn complete_checkout_pending(&self, session: &str) -> Vec<SignedEvent> {
        self.change(|state| control::complete(state, session, false))
    }

    /// `checkout.session.async_payment_succeeded` or `…_failed`.
    pub fn settle_payment(&self, session: &str, succeeded: bool) -> Vec<SignedEvent> {
        self.change(|state| control::settle(state, session, succeeded))
    }

    /// `checkout.session.expired`.
    pub fn expire_checkout(&self, session: &str) -> Vec<SignedEvent> {
        self.change(|state| control::expire(state, session))
    }

    /// A full refund made in the Dashboard: `charge.refunded`, `refund.created`.
    pub fn refund(&self, payment_intent: &str) -> Vec<SignedEvent> {
        self.change(|state| {
            control::refund(state, payment_intent, true, true).expect("a refundable payment");
        })
    }

    /// `charge.dispute.created`; returns the dispute's events (its id is in the object).
    pub fn open_dispute(&self, payment_intent: &str, reason: &str) -> Vec<SignedEvent> {
        self.change(|state| control::dispute(state, payment_intent, reason))
    }

    /// `charge.dispute.closed`, won or lost.
    pub fn close_dispute(&self, dispute: &str, won: bool) -> Vec<SignedEvent> {
        self.change(|state| control::close_dispute(state, dispute, won))
    }

    /// `customer.subscription.updated` (or `.deleted` for `canceled`).
    pub fn update_subscription(&self, id: &str, status: SubscriptionStatus) -> Vec<SignedEvent> {
        self.change(|state| control::set_status(state, id, status))
    }

    /// At period end: `customer.subscription.updated` with `cancel_at_period_end`; at
    /// once: `customer.subscription.deleted`.
    pub fn cancel_subscription(&self, id: &str, at_period_end: bool) -> Vec<SignedEvent> {
        self.change(|state| control::cancel(state, id, at_period_end))
    }

    /// The period ends: it renews (`customer.subscription.updated`, new period on the
    /// item) or, if set to cancel, ends (`customer.subscription.deleted`).
    pub fn advance_subscription(&self, id: &str) -> Vec<SignedEvent> {
        self.change(|state| control::advance(state, id))
    }

    /// The publisher finishes onboarding: `account.updated` on their account.
    pub fn complete_onboarding(&self, account: &str) -> Vec<SignedEvent> {
        self.change(|state| control::onboard(state, account))
    }
}

fn sign(event: &Value) -> SignedEvent {
    let body = event.to_string();
    SignedEvent {
        id: event["id"].as_str().unwrap_or_default().to_owned(),
        event_type: event["type"].as_str().unwrap_or_default().to_owned(),
        signature: signature::sign(WEBHOOK_SECRET, now(), body.as_bytes()),
        body,
    }
}

async fn handle(
    Shared(state): Shared<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let request_id = shapes::new_id("req_");
    let (status, answer, replayed) =
        match respond(&mut state, &request_id, &method, &uri, &headers, &body) {
            Ok(answer) => answer,
            Err(error) => (error.status, error.body, false),
        };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(answer)).into_response();
    let headers = response.headers_mut();
    headers.insert("request-id", request_id.parse().expect("a header value"));
    if replayed {
        headers.insert(
            "idempotent-replayed",
            "true".parse().expect("a header value"),
        );
    }
    response
}

/// `(status, body, whether it is the replay of an idempotent request)`.
fn respond(
    state: &mut State,
    request_id: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(u16, Value, bool), ApiError> {
    check_key(headers)?;
    let path = uri.path();
    let raw = if *method == Method::GET {
        uri.query().unwrap_or_default().as_bytes()
    } else {
        body
    };
    let params = parse_params(raw);
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    state.requests.push(Recorded {
        method: method.to_string(),
        path: path.to_owned(),
        raw: String::from_utf8_lossy(raw).into_owned(),
        params: params.clone(),
        idempotency_key: key.clone(),
    });
    if let Some(status) = state.failures.pop_front() {
        return Err(ApiError::server(status));
    }
    let replayable = *method == Method::POST && key.is_some();
    if let Some(key) = key.as_deref().filter(|_| replayable) {
        if let Some(first) = state.idempotent.get(key) {
            if first.method != method.as_str() || first.path != path || first.body != body {
                return Err(ApiError::idempotency(key));
            }
            return Ok((first.status, first.answer.clone(), true));
        }
    }
    state.request = Some((request_id.to_owned(), key.clone()));
    let answer = api::answer(state, method.as_str(), path, &params);
    state.request = None;
    let (status, answer) = match answer {
        Ok(answer) => (200, answer),
        Err(error) => (error.status, error.body),
    };
    // Stripe keeps the answer of a request it carried out (for 24 hours); one refused in
    // validation may be sent again with the same key.
    if let Some(key) = key.filter(|_| replayable && status == 200) {
        state.idempotent.insert(
            key,
            Replay {
                method: method.to_string(),
                path: path.to_owned(),
                body: body.to_vec(),
                status,
                answer: answer.clone(),
            },
        );
    }
    Ok((status, answer, false))
}

fn check_key(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ));
    };
    let key = auth.strip_prefix("Bearer ").unwrap_or(auth);
    if key != SECRET_KEY {
        // Stripe shows only the key's last four characters.
        let tail = &key[key.len().saturating_sub(4)..];
        return Err(ApiError::unauthorized(&format!(
            "Invalid API Key provided: sk_test_****{tail}"
        )));
    }
    Ok(())
}
