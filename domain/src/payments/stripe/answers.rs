//! Stripe's answers and errors, turned into the provider interface's types.
use miniserde::json::Value;
use stripe::StripeError;
use stripe_shared::{CheckoutSessionPaymentStatus, CheckoutSessionStatus};

use crate::payments::provider::{
    CheckoutSession, PaymentStatus, PayoutAccount, ProviderError, ProviderResult, RawEvent,
    SessionStatus, Subscription, SubscriptionStatus,
};
use crate::payments::shapes::ORDER_ID_KEY;

/// A 4xx is Stripe saying no, with its message; 429 (rate limited), a 5xx, a network
/// failure or an answer that cannot be read are worth retrying.
pub(super) fn map_error(error: StripeError) -> ProviderError {
    match error {
        StripeError::Stripe(api, status) => {
            let message = api
                .message
                .clone()
                .unwrap_or_else(|| format!("{} (HTTP {status})", api.type_.as_str()));
            if status == 429 || status >= 500 {
                ProviderError::Unavailable(format!("HTTP {status}: {message}"))
            } else {
                ProviderError::Refused(message)
            }
        }
        StripeError::ClientError(message) => ProviderError::Unavailable(message),
        StripeError::Timeout => ProviderError::Unavailable("no answer in time".into()),
        StripeError::JSONDeserialize(message) => {
            ProviderError::Unavailable(format!("an answer that could not be read: {message}"))
        }
        StripeError::ConfigError(message) => ProviderError::Refused(message),
    }
}

fn unexpected(what: &str, value: &str) -> ProviderError {
    ProviderError::Unavailable(format!("Stripe answered an unknown {what} {value:?}"))
}

pub(super) fn session_of(
    session: stripe_shared::CheckoutSession,
) -> ProviderResult<CheckoutSession> {
    let status = match &session.status {
        Some(CheckoutSessionStatus::Open) => SessionStatus::Open,
        Some(CheckoutSessionStatus::Complete) => SessionStatus::Complete,
        Some(CheckoutSessionStatus::Expired) => SessionStatus::Expired,
        other => {
            return Err(unexpected(
                "session status",
                other.as_ref().map_or("", |s| s.as_str()),
            ))
        }
    };
    let payment_status = match &session.payment_status {
        CheckoutSessionPaymentStatus::Paid => PaymentStatus::Paid,
        CheckoutSessionPaymentStatus::Unpaid => PaymentStatus::Unpaid,
        CheckoutSessionPaymentStatus::NoPaymentRequired => PaymentStatus::NoPaymentRequired,
        other => return Err(unexpected("payment status", other.as_str())),
    };
    let order_id = session
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.get(ORDER_ID_KEY))
        .and_then(|id| id.parse().ok());
    Ok(CheckoutSession {
        id: session.id.to_string(),
        url: session.url,
        status,
        payment_status,
        order_id,
        payment_intent: session.payment_intent.map(|p| p.id().to_string()),
        subscription: session.subscription.map(|s| s.id().to_string()),
        customer: session.customer.map(|c| c.id().to_string()),
        amount_total: session.amount_total,
        currency: session.currency.map(|c| c.to_string()),
    })
}

/// The period end is read from the items (the subscription itself no longer carries it);
/// with several, access lasts until the last one ends.
pub(super) fn subscription_of(
    subscription: stripe_shared::Subscription,
) -> ProviderResult<Subscription> {
    let status = SubscriptionStatus::parse(subscription.status.as_str())
        .ok_or_else(|| unexpected("subscription status", subscription.status.as_str()))?;
    Ok(Subscription {
        id: subscription.id.to_string(),
        status,
        current_period_end: subscription
            .items
            .data
            .iter()
            .map(|item| item.current_period_end)
            .max(),
        cancel_at_period_end: subscription.cancel_at_period_end,
    })
}

pub(super) fn payout_account(account: stripe_shared::Account) -> PayoutAccount {
    PayoutAccount {
        id: account.id.to_string(),
        charges_enabled: account.charges_enabled.unwrap_or(false),
        details_submitted: account.details_submitted.unwrap_or(false),
    }
}

/// The events of one page of `GET /v1/events`, each re-serialized whole, and whether more
/// pages follow.
pub(super) fn page_of_events(page: Value) -> ProviderResult<(Vec<RawEvent>, bool)> {
    let malformed = || ProviderError::Unavailable("Stripe answered a malformed event list".into());
    let Value::Object(mut page) = page else {
        return Err(malformed());
    };
    let has_more = matches!(page.get("has_more"), Some(Value::Bool(true)));
    let Some(Value::Array(data)) = page.remove("data") else {
        return Err(malformed());
    };
    let mut events = Vec::with_capacity(data.len());
    for event in data {
        let id = match &event {
            Value::Object(fields) => match fields.get("id") {
                Some(Value::String(id)) => id.clone(),
                _ => return Err(malformed()),
            },
            _ => return Err(malformed()),
        };
        events.push(RawEvent {
            id,
            body: miniserde::json::to_string(&event),
        });
    }
    Ok((events, has_more))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe_error(status: u16, body: &str) -> StripeError {
        let error: stripe_shared::Error = miniserde::json::from_str(body).unwrap();
        StripeError::Stripe(error.error, status)
    }

    #[test]
    fn stripe_saying_no_is_refused_with_its_message_and_failing_is_unavailable() {
        let no =
            r#"{"error":{"type":"invalid_request_error","message":"No such customer: 'cus_x'"}}"#;
        assert!(matches!(
            map_error(stripe_error(400, no)),
            ProviderError::Refused(m) if m == "No such customer: 'cus_x'"
        ));
        assert!(matches!(
            map_error(stripe_error(404, no)),
            ProviderError::Refused(_)
        ));
        let down = r#"{"error":{"type":"api_error"}}"#;
        for status in [429, 500, 503] {
            assert!(matches!(
                map_error(stripe_error(status, down)),
                ProviderError::Unavailable(m) if m.contains(&status.to_string())
            ));
        }
        assert!(matches!(
            map_error(StripeError::ClientError("connection refused".into())),
            ProviderError::Unavailable(_)
        ));
        assert!(matches!(
            map_error(StripeError::Timeout),
            ProviderError::Unavailable(_)
        ));
    }

    #[test]
    fn a_page_of_events_keeps_each_event_whole() {
        let page = r#"{"object":"list","has_more":true,"url":"/v1/events","data":[
            {"id":"evt_2","object":"event","type":"charge.refunded","data":{"object":{"id":"ch_1","amount":1900}}},
            {"id":"evt_1","object":"event","type":"account.updated","account":"acct_1","data":{"object":{}}}]}"#;
        let (events, has_more) = page_of_events(miniserde::json::from_str(page).unwrap()).unwrap();
        assert!(has_more);
        assert_eq!(events[0].id, "evt_2");
        let first: serde_json::Value = serde_json::from_str(&events[0].body).unwrap();
        assert_eq!(first["data"]["object"]["amount"], 1900);
        let second: serde_json::Value = serde_json::from_str(&events[1].body).unwrap();
        assert_eq!(second["account"], "acct_1");
        assert!(
            page_of_events(miniserde::json::from_str(r#"{"data":[{"no":"id"}]}"#).unwrap())
                .is_err()
        );
    }
}
