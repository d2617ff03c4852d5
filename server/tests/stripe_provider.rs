//! `StripeProvider` against the fake Stripe API: every provider method, the parameters it
//! sends, idempotency, and how Stripe's refusals and failures reach the caller.
mod common;

use common::fake_stripe::{FakeStripe, SECRET_KEY, WEBHOOK_SECRET};
use domain::payments::provider::{
    BillingInterval, CheckoutMode, NewCheckout, NewCustomer, PaymentStatus, Payout, SessionStatus,
    SubscriptionStatus,
};
use domain::payments::stripe::StripeProvider;
use domain::payments::{signature, PaymentProvider, ProviderError};
use serde_json::Value;

const SUCCESS: &str = "https://bazaar.example/orders/done?session={CHECKOUT_SESSION_ID}";
const CANCEL: &str = "https://bazaar.example/m/acme/sentiment?tab=licenses&from=checkout+1";

fn checkout<'a>(
    order_id: i64,
    mode: CheckoutMode,
    customer_id: &'a str,
    payout: Option<Payout<'a>>,
) -> NewCheckout<'a> {
    NewCheckout {
        order_id,
        mode,
        customer_id,
        product_name: "acme/sentiment — Commercial license",
        amount_minor: 1_900,
        currency: "usd",
        success_url: SUCCESS,
        cancel_url: CANCEL,
        payout,
    }
}

const YEARLY: CheckoutMode = CheckoutMode::Subscription {
    interval: BillingInterval::Year,
};

async fn customer(provider: &StripeProvider, account_id: i64) -> String {
    provider
        .create_customer(&NewCustomer {
            account_id,
            name: "ada",
            email: Some("ada@example.org"),
        })
        .await
        .expect("a customer")
}

/// A paid one-time checkout; returns its payment intent.
async fn paid_order(fake: &FakeStripe, provider: &StripeProvider, order_id: i64) -> String {
    let customer = customer(provider, 1).await;
    let account = provider
        .create_payout_account(None, &format!("payout-{order_id}"))
        .await
        .unwrap();
    let payout = Payout {
        destination: &account,
        fee_minor: 190,
        fee_percent: 10.0,
    };
    let session = provider
        .create_checkout(&checkout(
            order_id,
            CheckoutMode::Payment,
            &customer,
            Some(payout),
        ))
        .await
        .unwrap();
    fake.complete_checkout(&session.id);
    fake.payment_intent_of(&session.id)
}

fn text<'a>(params: &'a Value, pointer: &str) -> Option<&'a str> {
    params.pointer(pointer).and_then(Value::as_str)
}

#[tokio::test]
async fn a_customer_carries_its_account_id() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let id = customer(&provider, 7).await;
    assert!(id.starts_with("cus_"), "{id}");
    let sent = fake.last_params("POST", "/v1/customers");
    assert_eq!(text(&sent, "/name"), Some("ada"));
    assert_eq!(text(&sent, "/email"), Some("ada@example.org"));
    assert_eq!(text(&sent, "/metadata/bazaar_account_id"), Some("7"));
}

#[tokio::test]
async fn a_one_time_checkout_is_a_destination_charge_with_the_platform_fee() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let customer = customer(&provider, 1).await;
    let account = provider
        .create_payout_account(Some("pub@example.org"), "payout-1")
        .await
        .unwrap();
    let payout = Payout {
        destination: &account,
        fee_minor: 190,
        fee_percent: 10.0,
    };
    let order = checkout(42, CheckoutMode::Payment, &customer, Some(payout));
    let session = provider.create_checkout(&order).await.unwrap();

    assert!(session.id.starts_with("cs_test_"), "{}", session.id);
    assert_eq!(session.status, SessionStatus::Open);
    assert_eq!(session.payment_status, PaymentStatus::Unpaid);
    assert!(session
        .url
        .as_deref()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert_eq!(session.order_id, Some(42));
    assert_eq!(session.customer.as_deref(), Some(customer.as_str()));
    assert_eq!(session.amount_total, Some(1_900));
    assert_eq!(session.currency.as_deref(), Some("usd"));
    assert_eq!(session.payment_intent, None);

    let request = fake.requests().pop().unwrap();
    assert_eq!(request.idempotency_key.as_deref(), Some("checkout-42"));
    // async-stripe (serde_qs) writes nested parameters with bare brackets.
    for pair in [
        "line_items[0][price_data][unit_amount]=1900",
        "metadata[bazaar_order_id]=42",
        "payment_intent_data[transfer_data][destination]=acct_",
    ] {
        assert!(request.raw.contains(pair), "{pair} in {}", request.raw);
    }
    let sent = request.params;
    assert_eq!(text(&sent, "/mode"), Some("payment"));
    assert_eq!(text(&sent, "/customer"), Some(customer.as_str()));
    assert_eq!(text(&sent, "/success_url"), Some(SUCCESS));
    assert_eq!(text(&sent, "/cancel_url"), Some(CANCEL));
    assert_eq!(text(&sent, "/metadata/bazaar_order_id"), Some("42"));
    let price = "/line_items/0/price_data";
    assert_eq!(text(&sent, &format!("{price}/unit_amount")), Some("1900"));
    assert_eq!(text(&sent, &format!("{price}/currency")), Some("usd"));
    assert_eq!(
        text(&sent, &format!("{price}/product_data/name")),
        Some("acme/sentiment — Commercial license")
    );
    assert_eq!(sent.pointer(&format!("{price}/recurring")), None);
    assert_eq!(text(&sent, "/line_items/0/quantity"), Some("1"));
    assert_eq!(
        text(&sent, "/payment_intent_data/application_fee_amount"),
        Some("190")
    );
    assert_eq!(
        text(&sent, "/payment_intent_data/transfer_data/destination"),
        Some(account.as_str())
    );
    assert_eq!(
        text(&sent, "/payment_intent_data/metadata/bazaar_order_id"),
        Some("42")
    );
    assert_eq!(sent.get("subscription_data"), None);

    fake.complete_checkout(&session.id);
    let paid = provider.checkout_session(&session.id).await.unwrap();
    assert_eq!(paid.status, SessionStatus::Complete);
    assert_eq!(paid.payment_status, PaymentStatus::Paid);
    assert_eq!(
        paid.payment_intent,
        Some(fake.payment_intent_of(&session.id))
    );
    assert_eq!(paid.url, None, "no payment page once complete");
    assert_eq!(paid.order_id, Some(42));
}

#[tokio::test]
async fn a_subscription_checkout_takes_a_percentage_and_its_period_is_read_from_the_items() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let customer = customer(&provider, 1).await;
    let account = provider
        .create_payout_account(None, "payout-1")
        .await
        .unwrap();
    let payout = Payout {
        destination: &account,
        fee_minor: 0,
        fee_percent: 12.5,
    };
    let session = provider
        .create_checkout(&checkout(43, YEARLY, &customer, Some(payout)))
        .await
        .unwrap();
    let sent = fake.last_params("POST", "/v1/checkout/sessions");
    assert_eq!(text(&sent, "/mode"), Some("subscription"));
    assert_eq!(
        text(&sent, "/line_items/0/price_data/recurring/interval"),
        Some("year")
    );
    assert_eq!(
        text(&sent, "/subscription_data/application_fee_percent"),
        Some("12.5")
    );
    assert_eq!(
        text(&sent, "/subscription_data/transfer_data/destination"),
        Some(account.as_str())
    );
    assert_eq!(
        text(&sent, "/subscription_data/metadata/bazaar_order_id"),
        Some("43")
    );
    assert_eq!(sent.get("payment_intent_data"), None);

    let events = fake.complete_checkout(&session.id);
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "customer.subscription.created",
            "checkout.session.completed"
        ]
    );
    let completed = provider.checkout_session(&session.id).await.unwrap();
    let id = completed.subscription.expect("a subscription was started");
    assert_eq!(id, fake.subscription_of(&session.id));
    assert_eq!(completed.payment_intent, None);

    let served = fake.subscription(&id);
    assert!(served.get("current_period_end").is_none());
    let item_end = served["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap();
    let subscription = provider.subscription(&id).await.unwrap();
    assert_eq!(subscription.status, SubscriptionStatus::Active);
    assert_eq!(subscription.current_period_end, Some(item_end));
    assert!(!subscription.cancel_at_period_end);

    fake.advance_subscription(&id);
    let renewed = provider.subscription(&id).await.unwrap();
    assert_eq!(renewed.current_period_end, Some(item_end + 365 * 86_400));

    fake.cancel_subscription(&id, true);
    let ending = provider.subscription(&id).await.unwrap();
    assert!(ending.cancel_at_period_end);
    assert!(ending.status.grants_access());
    fake.advance_subscription(&id);
    let ended = provider.subscription(&id).await.unwrap();
    assert_eq!(ended.status, SubscriptionStatus::Canceled);
}

#[tokio::test]
async fn the_same_order_opens_one_session_however_often_it_is_asked() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let customer = customer(&provider, 1).await;
    let order = checkout(42, CheckoutMode::Payment, &customer, None);
    let first = provider.create_checkout(&order).await.unwrap();
    let again = provider.create_checkout(&order).await.unwrap();
    assert_eq!(first.id, again.id);
    let sent: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/checkout/sessions")
        .collect();
    assert_eq!(sent.len(), 2, "both requests reached Stripe");
    assert!(sent
        .iter()
        .all(|r| r.idempotency_key.as_deref() == Some("checkout-42")));

    let other = provider
        .create_checkout(&checkout(44, CheckoutMode::Payment, &customer, None))
        .await
        .unwrap();
    assert_ne!(other.id, first.id);

    // The same key with other parameters is a mistake Stripe refuses.
    let mut changed = order.clone();
    changed.amount_minor = 2_900;
    match provider.create_checkout(&changed).await {
        Err(ProviderError::Refused(message)) => {
            assert!(message.contains("same parameters"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refund_reverses_the_transfer_and_the_fee_once() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let payment_intent = paid_order(&fake, &provider, 42).await;
    provider.refund(&payment_intent, "refund-42").await.unwrap();

    let request = fake.requests().pop().unwrap();
    assert_eq!(request.path, "/v1/refunds");
    assert_eq!(request.idempotency_key.as_deref(), Some("refund-42"));
    assert_eq!(
        text(&request.params, "/payment_intent"),
        Some(payment_intent.as_str())
    );
    assert_eq!(text(&request.params, "/reverse_transfer"), Some("true"));
    assert_eq!(
        text(&request.params, "/refund_application_fee"),
        Some("true")
    );
    assert_eq!(fake.refunds(), [(payment_intent.clone(), true, true)]);

    // A retry with the same key is the same refund; a second refund is refused.
    provider.refund(&payment_intent, "refund-42").await.unwrap();
    assert_eq!(fake.refunds().len(), 1);
    match provider.refund(&payment_intent, "refund-other").await {
        Err(ProviderError::Refused(message)) => {
            assert!(message.contains("already been refunded"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn events_are_listed_oldest_first_across_pages_and_whole() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let customer = customer(&provider, 1).await;
    let session = provider
        .create_checkout(&checkout(42, YEARLY, &customer, None))
        .await
        .unwrap();
    fake.complete_checkout(&session.id);
    let subscription = fake.subscription_of(&session.id);
    for round in 0..210 {
        let status = if round % 2 == 0 {
            SubscriptionStatus::PastDue
        } else {
            SubscriptionStatus::Active
        };
        fake.update_subscription(&subscription, status);
    }
    let expected: Vec<String> = fake.events().into_iter().map(|e| e.id).collect();
    assert!(expected.len() > 200, "{} events", expected.len());

    let listed = provider.events_since(0).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, expected);
    let pages: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/events")
        .collect();
    assert_eq!(pages.len(), 3);
    assert!(pages
        .iter()
        .all(|p| text(&p.params, "/created/gte") == Some("0")
            && text(&p.params, "/limit") == Some("100")));
    assert_eq!(text(&pages[0].params, "/starting_after"), None);
    assert!(text(&pages[1].params, "/starting_after").is_some());

    // Each body is the whole event, as a webhook would carry it.
    let last = listed.last().unwrap();
    let body: Value = serde_json::from_str(&last.body).unwrap();
    let delivered = fake.event(&last.id).json();
    assert_eq!(body, delivered);
    assert_eq!(body["type"], "customer.subscription.updated");
    assert_eq!(body["data"]["previous_attributes"]["status"], "past_due");

    let later = chrono::Utc::now().timestamp() + 3_600;
    assert!(provider.events_since(later).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_billing_portal_opens_for_a_known_customer_only() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let customer = customer(&provider, 1).await;
    let url = provider
        .billing_portal(&customer, "https://bazaar.example/account/billing")
        .await
        .unwrap();
    assert!(
        url.starts_with(&format!("{}p/session/", fake.api_base())),
        "{url}"
    );
    let sent = fake.last_params("POST", "/v1/billing_portal/sessions");
    assert_eq!(text(&sent, "/customer"), Some(customer.as_str()));
    assert_eq!(
        text(&sent, "/return_url"),
        Some("https://bazaar.example/account/billing")
    );
    match provider
        .billing_portal("cus_nobody", "https://bazaar.example/")
        .await
    {
        Err(ProviderError::Refused(message)) => {
            assert_eq!(message, "No such customer: 'cus_nobody'")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_payout_account_is_created_once_onboarded_through_a_link_and_read_back() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let account = provider
        .create_payout_account(Some("pub@example.org"), "payout-account-9")
        .await
        .unwrap();
    assert!(account.starts_with("acct_"), "{account}");
    let sent = fake.last_params("POST", "/v1/accounts");
    assert_eq!(text(&sent, "/type"), Some("express"));
    assert_eq!(text(&sent, "/email"), Some("pub@example.org"));
    assert_eq!(
        text(&sent, "/capabilities/card_payments/requested"),
        Some("true")
    );
    assert_eq!(
        text(&sent, "/capabilities/transfers/requested"),
        Some("true")
    );
    let again = provider
        .create_payout_account(Some("pub@example.org"), "payout-account-9")
        .await
        .unwrap();
    assert_eq!(again, account, "the same key opens no second account");

    let link = provider
        .payout_onboarding_link(
            &account,
            "https://bazaar.example/payouts/refresh",
            "https://bazaar.example/payouts/done",
        )
        .await
        .unwrap();
    assert!(link.contains(&account), "{link}");
    let sent = fake.last_params("POST", "/v1/account_links");
    assert_eq!(text(&sent, "/type"), Some("account_onboarding"));
    assert_eq!(text(&sent, "/account"), Some(account.as_str()));
    assert_eq!(
        text(&sent, "/refresh_url"),
        Some("https://bazaar.example/payouts/refresh")
    );
    assert_eq!(
        text(&sent, "/return_url"),
        Some("https://bazaar.example/payouts/done")
    );

    let before = provider.payout_account(&account).await.unwrap();
    assert_eq!(before.id, account);
    assert!(!before.charges_enabled && !before.details_submitted);
    let events = fake.complete_onboarding(&account);
    assert_eq!(events[0].json()["account"], account.as_str());
    let after = provider.payout_account(&account).await.unwrap();
    assert!(after.charges_enabled && after.details_submitted);
}

#[tokio::test]
async fn stripe_saying_no_is_refused_with_its_message() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    match provider.checkout_session("cs_test_nothing").await {
        Err(ProviderError::Refused(message)) => {
            assert_eq!(message, "No such checkout.session: 'cs_test_nothing'")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    match provider.subscription("sub_nothing").await {
        Err(ProviderError::Refused(message)) => assert!(message.contains("sub_nothing")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // An id that would change the path is refused before anything is sent.
    let sent = fake.requests().len();
    assert!(matches!(
        provider.subscription("../accounts/acct_1").await,
        Err(ProviderError::Refused(_))
    ));
    assert_eq!(fake.requests().len(), sent);

    let wrong_key = StripeProvider::new("sk_test_not_the_one", &fake.api_base()).unwrap();
    match wrong_key.checkout_session("cs_test_nothing").await {
        Err(ProviderError::Refused(message)) => {
            assert!(message.starts_with("Invalid API Key"), "{message}");
            assert!(!message.contains("sk_test_not_the_one"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!format!("{wrong_key:?}").contains("sk_test"));
}

#[tokio::test]
async fn stripe_failing_or_out_of_reach_is_unavailable() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let customer = customer(&provider, 1).await;
    for status in [500, 503, 429] {
        fake.fail_next(status);
        match provider
            .create_checkout(&checkout(42, CheckoutMode::Payment, &customer, None))
            .await
        {
            Err(ProviderError::Unavailable(message)) => {
                assert!(message.contains(&status.to_string()), "{message}")
            }
            other => panic!("expected unavailable for {status}, got {other:?}"),
        }
    }
    // After the failures the same key opens the session: nothing was kept for it.
    let session = provider
        .create_checkout(&checkout(42, CheckoutMode::Payment, &customer, None))
        .await
        .unwrap();
    assert_eq!(session.status, SessionStatus::Open);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let unreachable = StripeProvider::new(SECRET_KEY, &format!("http://{addr}")).unwrap();
    assert!(matches!(
        unreachable.events_since(0).await,
        Err(ProviderError::Unavailable(_))
    ));
}

/// The fake's events carry Stripe's signature over the exact body, under the secret the
/// webhook endpoint is configured with.
#[tokio::test]
async fn the_fakes_events_are_signed_for_the_webhook_endpoint() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let payment_intent = paid_order(&fake, &provider, 42).await;
    let now = chrono::Utc::now().timestamp();
    let mut events = fake.open_dispute(&payment_intent, "fraudulent");
    let dispute = events[0].json()["data"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    events.extend(fake.close_dispute(&dispute, false));
    events.extend(fake.refund(&payment_intent));
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "charge.dispute.created",
            "charge.dispute.closed",
            "charge.refunded",
            "refund.created"
        ]
    );
    for event in &events {
        signature::verify(
            WEBHOOK_SECRET,
            Some(&event.signature),
            event.body.as_bytes(),
            now,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", event.event_type));
        assert!(signature::verify(
            "whsec_other",
            Some(&event.signature),
            event.body.as_bytes(),
            now
        )
        .is_err());
        let json = event.json();
        assert_eq!(json["object"], "event");
        assert_eq!(json["api_version"], domain::payments::shapes::API_VERSION);
    }
    assert_eq!(events[1].json()["data"]["object"]["status"], "lost");
    assert_eq!(events[2].json()["data"]["object"]["refunded"], true);
}

#[tokio::test]
async fn a_delayed_payment_completes_unpaid_then_settles_or_fails_and_an_unpaid_session_expires() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let customer = customer(&provider, 1).await;

    let settled = provider
        .create_checkout(&checkout(1, CheckoutMode::Payment, &customer, None))
        .await
        .unwrap();
    let events = fake.complete_checkout_pending(&settled.id);
    assert_eq!(events[0].event_type, "checkout.session.completed");
    assert_eq!(
        events[0].json()["data"]["object"]["payment_status"],
        "unpaid"
    );
    let pending = provider.checkout_session(&settled.id).await.unwrap();
    assert_eq!(pending.status, SessionStatus::Complete);
    assert_eq!(pending.payment_status, PaymentStatus::Unpaid);
    let events = fake.settle_payment(&settled.id, true);
    assert_eq!(
        events[0].event_type,
        "checkout.session.async_payment_succeeded"
    );
    let paid = provider.checkout_session(&settled.id).await.unwrap();
    assert_eq!(paid.payment_status, PaymentStatus::Paid);

    let failed = provider
        .create_checkout(&checkout(2, YEARLY, &customer, None))
        .await
        .unwrap();
    fake.complete_checkout_pending(&failed.id);
    let subscription = fake.subscription_of(&failed.id);
    let started = provider.subscription(&subscription).await.unwrap();
    assert_eq!(started.status, SubscriptionStatus::Incomplete);
    let events = fake.settle_payment(&failed.id, false);
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "customer.subscription.updated",
            "checkout.session.async_payment_failed"
        ]
    );
    let unpaid = provider.checkout_session(&failed.id).await.unwrap();
    assert_eq!(unpaid.payment_status, PaymentStatus::Unpaid);
    let given_up = provider.subscription(&subscription).await.unwrap();
    assert_eq!(given_up.status, SubscriptionStatus::IncompleteExpired);
    assert!(!given_up.status.grants_access());

    let abandoned = provider
        .create_checkout(&checkout(3, CheckoutMode::Payment, &customer, None))
        .await
        .unwrap();
    let events = fake.expire_checkout(&abandoned.id);
    assert_eq!(events[0].event_type, "checkout.session.expired");
    let expired = provider.checkout_session(&abandoned.id).await.unwrap();
    assert_eq!(expired.status, SessionStatus::Expired);
    assert_eq!(expired.url, None);
}
