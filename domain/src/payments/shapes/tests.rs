//! Each shape is read back with async-stripe's own types, through the same miniserde parser
//! its client uses on Stripe's answers: a field it needs that a shape lacks, or a value of
//! the wrong kind, fails here.
use super::*;
use crate::payments::signature;

fn parse<T: miniserde::Deserialize>(value: &Value) -> T {
    miniserde::json::from_str(&value.to_string())
        .unwrap_or_else(|_| panic!("async-stripe cannot read {value:#}"))
}

fn session_parts(mode: CheckoutMode, status: SessionStatus) -> CheckoutSessionParts<'static> {
    CheckoutSessionParts {
        id: "cs_test_a1",
        mode,
        status,
        payment_status: if status == SessionStatus::Complete {
            PaymentStatus::Paid
        } else {
            PaymentStatus::Unpaid
        },
        order_id: Some(42),
        customer: Some("cus_1"),
        payment_intent: None,
        subscription: None,
        amount_total: 1_900,
        currency: "usd",
        success_url: "https://bazaar.example/orders/42/done?session={CHECKOUT_SESSION_ID}",
        cancel_url: "https://bazaar.example/orders/42",
        url: Some("https://checkout.stripe.com/c/pay/cs_test_a1"),
        created: 1_700_000_000,
        expires_at: 1_700_086_400,
    }
}

fn subscription_parts() -> SubscriptionParts<'static> {
    SubscriptionParts {
        id: "sub_1",
        customer: "cus_1",
        status: SubscriptionStatus::Active,
        interval: BillingInterval::Month,
        amount: 900,
        currency: "usd",
        current_period_start: 1_700_000_000,
        current_period_end: 1_702_592_000,
        cancel_at_period_end: false,
        canceled_at: None,
        ended_at: None,
        created: 1_700_000_000,
        order_id: Some(7),
        transfer_destination: Some("acct_1"),
        application_fee_percent: Some(12.5),
    }
}

fn charge_parts() -> ChargeParts<'static> {
    ChargeParts {
        id: "ch_1",
        payment_intent: "pi_1",
        customer: Some("cus_1"),
        amount: 1_900,
        amount_refunded: 1_900,
        currency: "usd",
        disputed: false,
        created: 1_700_000_000,
        transfer_destination: Some("acct_1"),
        application_fee_amount: Some(190),
    }
}

#[test]
fn checkout_sessions_in_both_modes_and_every_status_are_read_by_async_stripe() {
    use stripe_shared::{CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus};
    let subscription = CheckoutMode::Subscription {
        interval: BillingInterval::Year,
    };
    for mode in [CheckoutMode::Payment, subscription] {
        for status in [
            SessionStatus::Open,
            SessionStatus::Complete,
            SessionStatus::Expired,
        ] {
            let mut parts = session_parts(mode, status);
            if status == SessionStatus::Complete {
                parts.payment_intent = (mode == CheckoutMode::Payment).then_some("pi_1");
                parts.subscription = (mode != CheckoutMode::Payment).then_some("sub_1");
            }
            let session: stripe_shared::CheckoutSession = parse(&checkout_session(&parts));
            assert_eq!(session.id.as_str(), "cs_test_a1");
            assert_eq!(
                session.mode,
                match mode {
                    CheckoutMode::Payment => CheckoutSessionMode::Payment,
                    CheckoutMode::Subscription { .. } => CheckoutSessionMode::Subscription,
                }
            );
            let expected_status = match status {
                SessionStatus::Open => CheckoutSessionStatus::Open,
                SessionStatus::Complete => CheckoutSessionStatus::Complete,
                SessionStatus::Expired => CheckoutSessionStatus::Expired,
            };
            assert_eq!(session.status, Some(expected_status));
            let paid = status == SessionStatus::Complete;
            assert_eq!(
                session.payment_status,
                if paid {
                    CheckoutSessionPaymentStatus::Paid
                } else {
                    CheckoutSessionPaymentStatus::Unpaid
                }
            );
            assert_eq!(session.metadata.unwrap()[ORDER_ID_KEY], "42");
            assert_eq!(session.customer.unwrap().id().as_str(), "cus_1");
            assert_eq!(session.amount_total, Some(1_900));
            assert_eq!(session.currency, Some(stripe_types::Currency::USD));
            assert_eq!(session.url.is_some(), status == SessionStatus::Open);
            assert_eq!(
                session.payment_intent.map(|p| p.id().to_string()),
                parts.payment_intent.map(str::to_owned)
            );
            assert_eq!(
                session.subscription.map(|s| s.id().to_string()),
                parts.subscription.map(str::to_owned)
            );
            assert!(!session.livemode);
        }
    }
}

#[test]
fn a_subscription_keeps_its_period_on_the_item_as_async_stripe_reads_it() {
    let value = subscription(&subscription_parts());
    assert!(
        value.get("current_period_end").is_none(),
        "not on the subscription since 2025-03-31"
    );
    let parsed: stripe_shared::Subscription = parse(&value);
    assert_eq!(parsed.id.as_str(), "sub_1");
    assert_eq!(parsed.status, stripe_shared::SubscriptionStatus::Active);
    assert_eq!(parsed.customer.id().as_str(), "cus_1");
    assert!(!parsed.cancel_at_period_end);
    assert_eq!(parsed.metadata[ORDER_ID_KEY], "7");
    assert_eq!(parsed.application_fee_percent, Some(12.5));
    assert_eq!(
        parsed.transfer_data.unwrap().destination.id().as_str(),
        "acct_1"
    );
    let item = &parsed.items.data[0];
    assert_eq!(item.id.as_str(), "si_1");
    assert_eq!(item.current_period_start, 1_700_000_000);
    assert_eq!(item.current_period_end, 1_702_592_000);
    assert_eq!(item.price.unit_amount, Some(900));
    assert_eq!(
        item.price.recurring.as_ref().unwrap().interval,
        stripe_shared::RecurringInterval::Month
    );

    let mut ending = subscription_parts();
    ending.status = SubscriptionStatus::Canceled;
    ending.cancel_at_period_end = true;
    ending.canceled_at = Some(1_701_000_000);
    ending.ended_at = Some(1_702_592_000);
    ending.transfer_destination = None;
    ending.application_fee_percent = None;
    ending.order_id = None;
    let parsed: stripe_shared::Subscription = parse(&subscription(&ending));
    assert_eq!(parsed.status, stripe_shared::SubscriptionStatus::Canceled);
    assert_eq!(parsed.cancel_at, Some(1_702_592_000));
    assert_eq!(parsed.ended_at, Some(1_702_592_000));
    assert!(parsed.transfer_data.is_none());
    assert!(parsed.metadata.is_empty());
}

#[test]
fn a_refunded_charge_is_read_by_async_stripe() {
    let parsed: stripe_shared::Charge = parse(&charge(&charge_parts()));
    assert_eq!(parsed.id.as_str(), "ch_1");
    assert_eq!(parsed.payment_intent.unwrap().id().as_str(), "pi_1");
    assert!(parsed.refunded);
    assert_eq!(parsed.amount_refunded, 1_900);
    assert_eq!(parsed.application_fee_amount, Some(190));
    assert_eq!(
        parsed.transfer_data.unwrap().destination.id().as_str(),
        "acct_1"
    );

    let mut partly = charge_parts();
    partly.amount_refunded = 500;
    partly.transfer_destination = None;
    let parsed: stripe_shared::Charge = parse(&charge(&partly));
    assert!(!parsed.refunded);
}

#[test]
fn a_refund_is_read_by_async_stripe() {
    let value = refund(&RefundParts {
        id: "re_1",
        payment_intent: "pi_1",
        charge: "ch_1",
        amount: 1_900,
        currency: "usd",
        status: "succeeded",
        transfer_reversal: Some("trr_1"),
        created: 1_700_000_000,
    });
    let parsed: stripe_shared::Refund = parse(&value);
    assert_eq!(parsed.id.as_str(), "re_1");
    assert_eq!(parsed.payment_intent.unwrap().id().as_str(), "pi_1");
    assert_eq!(parsed.charge.unwrap().id().as_str(), "ch_1");
    assert_eq!(parsed.status.as_deref(), Some("succeeded"));
    assert_eq!(parsed.transfer_reversal.unwrap().id().as_str(), "trr_1");
}

#[test]
fn a_dispute_is_read_by_async_stripe() {
    let value = dispute(&DisputeParts {
        id: "dp_1",
        charge: "ch_1",
        payment_intent: Some("pi_1"),
        amount: 1_900,
        currency: "usd",
        reason: "fraudulent",
        status: "needs_response",
        created: 1_700_000_000,
    });
    let parsed: stripe_shared::Dispute = parse(&value);
    assert_eq!(parsed.id.as_str(), "dp_1");
    assert_eq!(parsed.charge.id().as_str(), "ch_1");
    assert_eq!(parsed.status, stripe_shared::DisputeStatus::NeedsResponse);
    assert_eq!(parsed.reason, "fraudulent");
    assert!(parsed.is_charge_refundable);
}

#[test]
fn a_customer_is_read_by_async_stripe() {
    let value = customer(
        "cus_1",
        "ada",
        Some("ada@example.org"),
        Some(3),
        1_700_000_000,
    );
    let parsed: stripe_shared::Customer = parse(&value);
    assert_eq!(parsed.id.as_str(), "cus_1");
    assert_eq!(parsed.name.as_deref(), Some("ada"));
    assert_eq!(parsed.email.as_deref(), Some("ada@example.org"));
    assert_eq!(parsed.metadata.unwrap()[ACCOUNT_ID_KEY], "3");
}

#[test]
fn a_billing_portal_session_is_read_by_async_stripe() {
    let value = billing_portal_session(
        "bps_1",
        "cus_1",
        "https://bazaar.example/account",
        "https://billing.stripe.com/p/session/test_1",
        1_700_000_000,
    );
    let parsed: stripe_billing::BillingPortalSession = parse(&value);
    assert_eq!(parsed.customer, "cus_1");
    assert_eq!(parsed.url, "https://billing.stripe.com/p/session/test_1");
    assert_eq!(
        parsed.return_url.as_deref(),
        Some("https://bazaar.example/account")
    );
}

#[test]
fn accounts_before_and_after_onboarding_are_read_by_async_stripe() {
    for done in [false, true] {
        let value = account("acct_1", Some("pub@example.org"), done, done, 1_700_000_000);
        let parsed: stripe_shared::Account = parse(&value);
        assert_eq!(parsed.id.as_str(), "acct_1");
        assert_eq!(parsed.charges_enabled, Some(done));
        assert_eq!(parsed.details_submitted, Some(done));
        assert_eq!(parsed.type_, Some(stripe_shared::AccountType::Express));
        let due = parsed.requirements.unwrap().currently_due.unwrap();
        assert_eq!(due.is_empty(), done);
    }
}

#[test]
fn an_account_link_is_read_by_async_stripe() {
    let value = account_link(
        "https://connect.stripe.com/setup/e/acct_1/abc",
        1_700_000_000,
        1_700_000_300,
    );
    let parsed: stripe_connect::AccountLink = parse(&value);
    assert_eq!(parsed.url, "https://connect.stripe.com/setup/e/acct_1/abc");
    assert_eq!(parsed.expires_at, 1_700_000_300);
}

#[test]
fn a_list_is_read_by_async_stripe() {
    let customers = vec![
        customer("cus_1", "ada", None, Some(1), 1_700_000_000),
        customer("cus_2", "bob", None, None, 1_700_000_001),
    ];
    let parsed: stripe_types::List<stripe_shared::Customer> =
        parse(&list("/v1/customers", customers, true));
    assert_eq!(parsed.data.len(), 2);
    assert_eq!(parsed.data[1].id.as_str(), "cus_2");
    assert!(parsed.has_more);
    assert_eq!(parsed.url, "/v1/customers");
}

/// Events go through async-stripe's webhook parser, signed by our `signature::sign`: the
/// header and the body are what the webhook endpoint will be handed.
#[test]
fn events_signed_by_us_are_verified_and_parsed_by_async_stripe_webhook() {
    use stripe_webhook::{EventObject, EventType, Webhook};
    const SECRET: &str = "whsec_test";
    let now = 1_700_000_100;
    let completed = CheckoutSessionParts {
        payment_intent: Some("pi_1"),
        ..session_parts(CheckoutMode::Payment, SessionStatus::Complete)
    };
    let cases = [
        (
            "checkout.session.completed",
            checkout_session(&completed),
            None,
        ),
        (
            "customer.subscription.updated",
            subscription(&subscription_parts()),
            Some(json!({ "cancel_at_period_end": true })),
        ),
        ("charge.refunded", charge(&charge_parts()), None),
        (
            "charge.dispute.created",
            dispute(&DisputeParts {
                id: "dp_1",
                charge: "ch_1",
                payment_intent: Some("pi_1"),
                amount: 1_900,
                currency: "usd",
                reason: "fraudulent",
                status: "needs_response",
                created: now,
            }),
            None,
        ),
        (
            "account.updated",
            account("acct_1", None, true, true, now),
            None,
        ),
    ];
    for (event_type, object, previous_attributes) in cases {
        let body = event(&EventParts {
            id: "evt_1",
            event_type,
            created: now,
            object,
            previous_attributes,
            request: Some(("req_1", Some("checkout-42"))),
            account: (event_type == "account.updated").then_some("acct_1"),
        })
        .to_string();
        let header = signature::sign(SECRET, now, body.as_bytes());
        let parsed = Webhook::construct_event_with_timestamp(&body, &header, SECRET, now)
            .unwrap_or_else(|e| panic!("{event_type}: {e}"));
        assert_eq!(parsed.id.as_str(), "evt_1");
        assert_eq!(parsed.type_.as_str(), event_type);
        assert_eq!(
            parsed.api_version.map(|v| v.as_str().to_owned()).as_deref(),
            Some(API_VERSION),
            "the pinned async-stripe speaks this version"
        );
        assert_eq!(parsed.pending_webhooks, 1);
        let request = parsed.request.unwrap();
        assert_eq!(request.idempotency_key.as_deref(), Some("checkout-42"));
        match (parsed.type_, parsed.data.object) {
            (EventType::CheckoutSessionCompleted, EventObject::CheckoutSessionCompleted(s)) => {
                assert_eq!(s.metadata.unwrap()[ORDER_ID_KEY], "42")
            }
            (
                EventType::CustomerSubscriptionUpdated,
                EventObject::CustomerSubscriptionUpdated(s),
            ) => {
                assert_eq!(s.items.data[0].current_period_end, 1_702_592_000);
                assert!(parsed.data.previous_attributes.is_some());
            }
            (EventType::ChargeRefunded, EventObject::ChargeRefunded(c)) => assert!(c.refunded),
            (EventType::ChargeDisputeCreated, EventObject::ChargeDisputeCreated(d)) => {
                assert_eq!(d.charge.id().as_str(), "ch_1")
            }
            (EventType::AccountUpdated, EventObject::AccountUpdated(a)) => {
                assert_eq!(parsed.account.as_deref(), Some("acct_1"));
                assert_eq!(a.charges_enabled, Some(true))
            }
            (other, _) => panic!("{event_type} was read as {other:?}"),
        }
    }
}

#[test]
fn events_and_their_lists_are_read_as_async_stripe_lists_events() {
    let events = vec![event(&EventParts {
        id: "evt_2",
        event_type: "customer.subscription.deleted",
        created: 1_700_000_000,
        object: subscription(&subscription_parts()),
        previous_attributes: None,
        request: None,
        account: None,
    })];
    let parsed: stripe_types::List<stripe_shared::Event> =
        parse(&list("/v1/events", events, false));
    assert_eq!(parsed.data[0].id.as_str(), "evt_2");
    assert_eq!(parsed.data[0].api_version.as_deref(), Some(API_VERSION));
    assert!(parsed.data[0].request.as_ref().unwrap().id.is_none());
}

#[test]
fn new_ids_have_the_prefix_and_differ() {
    let (a, b) = (new_id("evt_"), new_id("evt_"));
    assert!(a.starts_with("evt_") && a.len() > 20);
    assert_ne!(a, b);
}
