//! The endpoints the fake answers, each checking its parameters as Stripe does.
use domain::payments::provider::{BillingInterval, CheckoutMode, PaymentStatus, SessionStatus};
use domain::payments::shapes;
use serde_json::Value;

use super::control;
use super::state::{now, Account, Customer, Destination, Session, State};
use super::wire::{decimal, integer, known_params, required, text, ApiError};

type Answer = Result<Value, ApiError>;

/// Routes `method path` (after `/v1`) to its endpoint.
pub fn answer(state: &mut State, method: &str, path: &str, params: &Value) -> Answer {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["v1", "customers"]) => create_customer(state, params),
        ("GET", ["v1", "customers", id]) => state
            .customers
            .get(*id)
            .map(Customer::json)
            .ok_or_else(|| ApiError::missing("customer", id, "id")),
        ("POST", ["v1", "checkout", "sessions"]) => create_session(state, params),
        ("GET", ["v1", "checkout", "sessions", id]) => state
            .sessions
            .get(*id)
            .map(Session::json)
            .ok_or_else(|| ApiError::missing("checkout.session", id, "id")),
        ("GET", ["v1", "subscriptions", id]) => state
            .subscriptions
            .get(*id)
            .map(|s| s.json())
            .ok_or_else(|| ApiError::missing("subscription", id, "id")),
        ("POST", ["v1", "billing_portal", "sessions"]) => create_portal_session(state, params),
        ("POST", ["v1", "refunds"]) => create_refund(state, params),
        ("GET", ["v1", "events"]) => list_events(state, params),
        ("POST", ["v1", "accounts"]) => create_account(state, params),
        ("GET", ["v1", "accounts", id]) => state
            .accounts
            .get(*id)
            .map(Account::json)
            .ok_or_else(|| ApiError::missing("account", id, "id")),
        ("POST", ["v1", "account_links"]) => create_account_link(state, params),
        _ => Err(ApiError::unknown_url(method, path)),
    }
}

fn create_customer(state: &mut State, params: &Value) -> Answer {
    known_params(params, &["name", "email", "metadata", "description"])?;
    let customer = Customer {
        id: shapes::new_id("cus_"),
        name: text(params, "/name").unwrap_or_default(),
        email: text(params, "/email"),
        account_id: integer(params, &format!("/metadata/{}", shapes::ACCOUNT_ID_KEY))?,
        created: now(),
    };
    let json = customer.json();
    state.customers.insert(customer.id.clone(), customer);
    state.emit("customer.created", json.clone(), None);
    Ok(json)
}

const SESSION_PARAMS: &[&str] = &[
    "mode",
    "customer",
    "line_items",
    "success_url",
    "cancel_url",
    "metadata",
    "payment_intent_data",
    "subscription_data",
    "client_reference_id",
    "expires_at",
];

fn create_session(state: &mut State, params: &Value) -> Answer {
    known_params(params, SESSION_PARAMS)?;
    let item = "/line_items/0/price_data";
    let recurring = text(params, &format!("{item}/recurring/interval"));
    let mode = match required(params, "/mode")?.as_str() {
        "payment" => {
            if recurring.is_some() {
                return Err(ApiError::invalid(
                    "line_items",
                    "You must be in `subscription` mode to pass recurring prices.",
                ));
            }
            CheckoutMode::Payment
        }
        "subscription" => {
            let interval = recurring.as_deref().and_then(BillingInterval::parse);
            let Some(interval) = interval else {
                return Err(ApiError::invalid(
                    "line_items",
                    "`line_items` must contain at least one recurring price in `subscription` mode.",
                ));
            };
            CheckoutMode::Subscription { interval }
        }
        other => {
            return Err(ApiError::invalid(
                "mode",
                &format!(
                    "Invalid mode: must be one of payment, setup, or subscription (got {other})"
                ),
            ))
        }
    };
    let customer = text(params, "/customer");
    if let Some(id) = &customer {
        if !state.customers.contains_key(id) {
            return Err(ApiError::missing("customer", id, "customer"));
        }
    }
    let amount = integer(params, &format!("{item}/unit_amount"))?.ok_or_else(|| {
        ApiError::invalid(
            "line_items[0][price_data][unit_amount]",
            "Missing required param: line_items[0][price_data][unit_amount].",
        )
    })?;
    let quantity = integer(params, "/line_items/0/quantity")?.unwrap_or(1);
    let destination = destination(state, params, mode)?;
    let id = shapes::new_id("cs_test_");
    let created = now();
    let session = Session {
        url: format!("{}c/pay/{id}", state.base),
        id: id.clone(),
        mode,
        status: SessionStatus::Open,
        payment_status: PaymentStatus::Unpaid,
        order_id: integer(params, &format!("/metadata/{}", shapes::ORDER_ID_KEY))?,
        customer,
        payment_intent: None,
        subscription: None,
        amount: amount * quantity,
        currency: required(params, &format!("{item}/currency"))?,
        product_name: required(params, &format!("{item}/product_data/name"))?,
        success_url: required(params, "/success_url")?,
        cancel_url: text(params, "/cancel_url").unwrap_or_default(),
        created,
        expires_at: created + 86_400,
        destination,
    };
    let json = session.json();
    state.sessions.insert(id, session);
    Ok(json)
}

/// The destination charge asked for: `payment_intent_data` in payment mode,
/// `subscription_data` in subscription mode, never the other.
fn destination(
    state: &State,
    params: &Value,
    mode: CheckoutMode,
) -> Result<Option<Destination>, ApiError> {
    let (wanted, unwanted) = match mode {
        CheckoutMode::Payment => ("payment_intent_data", "subscription_data"),
        CheckoutMode::Subscription { .. } => ("subscription_data", "payment_intent_data"),
    };
    if params.get(unwanted).is_some() {
        let mode = if wanted == "payment_intent_data" {
            "payment"
        } else {
            "subscription"
        };
        return Err(ApiError::invalid(
            unwanted,
            &format!("You can not pass `{unwanted}` in `{mode}` mode."),
        ));
    }
    let Some(account) = text(params, &format!("/{wanted}/transfer_data/destination")) else {
        return Ok(None);
    };
    if !state.accounts.contains_key(&account) {
        return Err(ApiError::missing(
            "destination",
            &account,
            &format!("{wanted}[transfer_data][destination]"),
        ));
    }
    Ok(Some(Destination {
        fee_amount: integer(params, "/payment_intent_data/application_fee_amount")?,
        fee_percent: decimal(params, "/subscription_data/application_fee_percent")?,
        account,
    }))
}

fn create_portal_session(state: &mut State, params: &Value) -> Answer {
    known_params(
        params,
        &["customer", "return_url", "configuration", "locale"],
    )?;
    let customer = required(params, "/customer")?;
    if !state.customers.contains_key(&customer) {
        return Err(ApiError::missing("customer", &customer, "customer"));
    }
    let id = shapes::new_id("bps_");
    let url = format!("{}p/session/{id}", state.base);
    let return_url = text(params, "/return_url").unwrap_or_default();
    Ok(shapes::billing_portal_session(
        &id,
        &customer,
        &return_url,
        &url,
        now(),
    ))
}

fn create_refund(state: &mut State, params: &Value) -> Answer {
    known_params(
        params,
        &[
            "payment_intent",
            "charge",
            "amount",
            "reason",
            "metadata",
            "reverse_transfer",
            "refund_application_fee",
        ],
    )?;
    let payment_intent = required(params, "/payment_intent")?;
    let flag = |name: &str| text(params, &format!("/{name}")).as_deref() == Some("true");
    let refund = control::refund(
        state,
        &payment_intent,
        flag("reverse_transfer"),
        flag("refund_application_fee"),
    )?;
    Ok(refund.json())
}

/// Newest first, as Stripe lists: `created[gte|gt|lte|lt]`, `limit` (1–100, 10 by
/// default) and `starting_after` (the last event of the page before).
fn list_events(state: &mut State, params: &Value) -> Answer {
    known_params(
        params,
        &[
            "created",
            "limit",
            "starting_after",
            "ending_before",
            "type",
            "types",
        ],
    )?;
    let bound = |op: &str| integer(params, &format!("/created/{op}"));
    let (gte, gt, lte, lt) = (bound("gte")?, bound("gt")?, bound("lte")?, bound("lt")?);
    let limit = integer(params, "/limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "This value must be greater than or equal to 1 and less than or equal to 100.",
        ));
    }
    let matching: Vec<&Value> = state
        .events
        .iter()
        .rev()
        .filter(|event| {
            let created = event["created"].as_i64().unwrap_or_default();
            gte.is_none_or(|t| created >= t)
                && gt.is_none_or(|t| created > t)
                && lte.is_none_or(|t| created <= t)
                && lt.is_none_or(|t| created < t)
        })
        .collect();
    let start = match text(params, "/starting_after") {
        Some(after) => {
            let at = matching
                .iter()
                .position(|event| event["id"] == after.as_str())
                .ok_or_else(|| ApiError::missing("event", &after, "starting_after"))?;
            at + 1
        }
        None => 0,
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit as usize)
        .map(|event| (*event).clone())
        .collect();
    let has_more = start + page.len() < matching.len();
    Ok(shapes::list("/v1/events", page, has_more))
}

fn create_account(state: &mut State, params: &Value) -> Answer {
    known_params(
        params,
        &[
            "type",
            "email",
            "capabilities",
            "country",
            "metadata",
            "controller",
            "business_type",
        ],
    )?;
    if text(params, "/type").as_deref() != Some("express") {
        return Err(ApiError::invalid(
            "type",
            "The fake only opens Express accounts (type=express).",
        ));
    }
    let account = Account {
        id: shapes::new_id("acct_"),
        email: text(params, "/email"),
        onboarded: false,
        created: now(),
    };
    let json = account.json();
    state.accounts.insert(account.id.clone(), account);
    Ok(json)
}

fn create_account_link(state: &mut State, params: &Value) -> Answer {
    known_params(
        params,
        &[
            "account",
            "type",
            "refresh_url",
            "return_url",
            "collect",
            "collection_options",
        ],
    )?;
    let account = required(params, "/account")?;
    if !state.accounts.contains_key(&account) {
        return Err(ApiError::missing("account", &account, "account"));
    }
    match required(params, "/type")?.as_str() {
        "account_onboarding" | "account_update" => {}
        other => return Err(ApiError::invalid("type", &format!("Invalid type: {other}"))),
    }
    required(params, "/refresh_url")?;
    required(params, "/return_url")?;
    let created = now();
    let url = format!("{}setup/e/{account}/{}", state.base, shapes::new_id(""));
    Ok(shapes::account_link(&url, created, created + 300))
}
