//! Purchases through Stripe, as the real async-stripe client reaches the fake Stripe API and
//! Stripe's signed events reach the webhook: any sequence of duplicated, reordered and
//! concurrent deliveries ends with one license per paid session, in the state Stripe last
//! reported; a database failure during fulfilment answers 5xx and the retry grants once.
mod common;

use common::fake_stripe::{self, FakeStripe, SignedEvent};
use common::{Auth, Db, TestApp};
use domain::entities::{license, order};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use server::config::PaymentsMode;

macro_rules! on_each_database_with_stripe {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (app, stripe) = super::stripe_app($crate::Db::Sqlite).await.unwrap();
                super::$test(app, stripe).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match super::stripe_app($crate::Db::Postgres).await {
                    Some((app, stripe)) => super::$test(app, stripe).await,
                    None => eprintln!("DATABASE_URL is not set; PostgreSQL variant not run"),
                }
            }
        }
    )*};
}

on_each_database_with_stripe!(
    a_stripe_purchase_grants_until_the_refund,
    any_delivery_order_ends_in_the_state_stripe_reported,
    a_failed_fulfilment_is_retried_and_grants_once,
    events_never_delivered_are_reconciled,
);

async fn stripe_app(db: Db) -> Option<(TestApp, FakeStripe)> {
    let stripe = FakeStripe::start().await;
    let base = stripe.api_base();
    let app = common::spawn_app_with(db, |config| {
        config.payments = PaymentsMode::Stripe;
        config.stripe_secret_key = Some(fake_stripe::SECRET_KEY.into());
        config.stripe_webhook_secret = Some(fake_stripe::WEBHOOK_SECRET.into());
        config.stripe_api_base = Some(base);
        config.rate_limits.sign_up_per_ip = 1000;
    })
    .await?;
    Some((app, stripe))
}

/// Opens a checkout for `buyer`; returns the session the order opened at Stripe.
async fn open_checkout(app: &TestApp, buyer: &str, offer: i64) -> String {
    let started = app
        .post_form(
            "/api/buy_license",
            &format!("offer_id={offer}"),
            Some(buyer),
        )
        .await;
    let to = match started.headers().get("location") {
        Some(to) => to.to_str().unwrap().to_owned(),
        None => panic!("no checkout: {}", started.text().await.unwrap()),
    };
    let order = order::Entity::find()
        .filter(order::Column::Status.eq("open"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|o| o.id)
        .unwrap();
    let session = order.checkout_session_id.unwrap();
    assert!(
        to.contains(&session),
        "the buyer is sent to the session's page: {to}"
    );
    session
}

async fn deliver(app: &TestApp, event: &SignedEvent) -> u16 {
    event
        .post(&app.client, &app.url("/webhooks/stripe"))
        .await
        .status()
        .as_u16()
}

async fn license_of(app: &TestApp, session: &str) -> Vec<license::Model> {
    license::Entity::find()
        .filter(license::Column::CheckoutSessionId.eq(session))
        .all(&app.state.db)
        .await
        .unwrap()
}

async fn a_stripe_purchase_grants_until_the_refund(app: TestApp, stripe: FakeStripe) {
    let (offer, file) = common::sold_file(&app, "diabetes-progression").await;
    let buyer = app.sign_up("buyer").await;
    assert_eq!(app.api_get(&file, Auth::Cookie(&buyer)).await.status(), 403);
    // The publisher has finished payout onboarding: the sale is a destination charge.
    let account = domain::payments::PaymentProvider::create_payout_account(
        &stripe.provider(),
        Some("publisher@example.org"),
        "payout-test",
    )
    .await
    .unwrap();
    let publisher = domain::catalog::find_user(&app.state.db, "tabular-works")
        .await
        .unwrap()
        .unwrap();
    domain::entities::payout_account::ActiveModel {
        account_id: sea_orm::Set(publisher.id),
        provider: sea_orm::Set("stripe".into()),
        provider_account_id: sea_orm::Set(account.clone()),
        charges_enabled: sea_orm::Set(true),
        created_at: sea_orm::Set(chrono::Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let session = open_checkout(&app, &buyer, offer.id).await;
    let params = stripe.last_params("POST", "/v1/checkout/sessions");
    assert_eq!(params["mode"], "payment");
    let intent_data = &params["payment_intent_data"];
    assert_eq!(
        intent_data["application_fee_amount"], "90",
        "10 % of 9.00: {params}"
    );
    assert_eq!(
        intent_data["transfer_data"]["destination"],
        account.as_str()
    );
    assert!(params["metadata"]["bazaar_order_id"].as_str().is_some());

    for event in stripe.complete_checkout(&session) {
        assert_eq!(deliver(&app, &event).await, 200, "{}", event.event_type);
    }
    let granted = license_of(&app, &session).await;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].status, "active");
    assert_eq!(app.api_get(&file, Auth::Cookie(&buyer)).await.status(), 200);

    // The success page re-reads the session from Stripe: still one license.
    let back = app
        .api_get(
            &format!("/checkout/success?session_id={session}"),
            Auth::Cookie(&buyer),
        )
        .await;
    assert!(back.status().is_redirection());
    assert_eq!(license_of(&app, &session).await.len(), 1);

    let intent = stripe.payment_intent_of(&session);
    for event in stripe.refund(&intent) {
        assert_eq!(deliver(&app, &event).await, 200, "{}", event.event_type);
    }
    assert_eq!(license_of(&app, &session).await[0].status, "revoked");
    assert_eq!(app.api_get(&file, Auth::Cookie(&buyer)).await.status(), 403);
}

/// A small deterministic generator, so a failing order can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// What Stripe last said about a purchase, and so what its license must end as.
#[derive(Clone, Copy, Debug)]
enum Story {
    Paid,
    Refunded,
    DisputeOpen,
    DisputeWon,
    DisputeLost,
}

async fn any_delivery_order_ends_in_the_state_stripe_reported(app: TestApp, stripe: FakeStripe) {
    let offer = common::sold_file(&app, "diabetes-progression").await.0;
    let stories = [
        Story::Paid,
        Story::Refunded,
        Story::DisputeOpen,
        Story::DisputeWon,
        Story::DisputeLost,
        Story::Paid,
    ];
    for seed in 1..=4u64 {
        let mut rng = Lcg(seed);
        let mut purchases = Vec::new();
        let mut events: Vec<SignedEvent> = Vec::new();
        for (i, story) in stories.iter().enumerate() {
            let buyer = app.sign_up(&format!("b{seed}x{i}")).await;
            let session = open_checkout(&app, &buyer, offer.id).await;
            events.extend(stripe.complete_checkout(&session));
            let intent = stripe.payment_intent_of(&session);
            match story {
                Story::Paid => {}
                Story::Refunded => events.extend(stripe.refund(&intent)),
                Story::DisputeOpen | Story::DisputeWon | Story::DisputeLost => {
                    let opened = stripe.open_dispute(&intent, "fraudulent");
                    let dispute = opened[0].json()["data"]["object"]["id"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    events.extend(opened);
                    // Stripe's clock moves between the dispute's events.
                    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
                    match story {
                        Story::DisputeWon => events.extend(stripe.close_dispute(&dispute, true)),
                        Story::DisputeLost => events.extend(stripe.close_dispute(&dispute, false)),
                        _ => {}
                    }
                }
            }
            purchases.push((session, *story));
        }
        // Every event one to three times, in a random order.
        let mut deliveries: Vec<SignedEvent> = Vec::new();
        for event in &events {
            for _ in 0..=rng.below(3) {
                deliveries.push(event.clone());
            }
        }
        for i in (1..deliveries.len()).rev() {
            deliveries.swap(i, rng.below(i + 1));
        }
        // Eight at a time; what is refused with 5xx comes again, as Stripe retries it.
        for _round in 0..10 {
            let mut retry = Vec::new();
            for batch in deliveries.chunks(8) {
                let answers =
                    futures::future::join_all(batch.iter().map(|e| deliver(&app, e))).await;
                for (event, status) in batch.iter().zip(answers) {
                    assert!(
                        status == 200 || status >= 500,
                        "{status} for {}",
                        event.event_type
                    );
                    if status >= 500 {
                        retry.push(event.clone());
                    }
                }
            }
            deliveries = retry;
            if deliveries.is_empty() {
                break;
            }
        }
        assert!(
            deliveries.is_empty(),
            "seed {seed}: deliveries never accepted"
        );
        for (session, story) in &purchases {
            let licenses = license_of(&app, session).await;
            assert_eq!(licenses.len(), 1, "seed {seed}: one license for {session}");
            let expected = match story {
                Story::Paid | Story::DisputeWon => "active",
                Story::Refunded | Story::DisputeLost => "revoked",
                Story::DisputeOpen => "suspended",
            };
            assert_eq!(licenses[0].status, expected, "seed {seed}: {story:?}");
        }
    }
}

async fn a_failed_fulfilment_is_retried_and_grants_once(app: TestApp, stripe: FakeStripe) {
    let offer = common::sold_file(&app, "diabetes-progression").await.0;
    let buyer = app.sign_up("buyer").await;
    let session = open_checkout(&app, &buyer, offer.id).await;
    let events = stripe.complete_checkout(&session);
    let db = &app.state.db;
    // The licenses table goes away for a moment: fulfilment cannot commit.
    db.execute_unprepared("ALTER TABLE licenses RENAME TO licenses_away")
        .await
        .unwrap();
    for event in &events {
        if event.event_type == "checkout.session.completed" {
            assert!(
                deliver(&app, event).await >= 500,
                "a failure is not acknowledged"
            );
        }
    }
    db.execute_unprepared("ALTER TABLE licenses_away RENAME TO licenses")
        .await
        .unwrap();
    assert!(license_of(&app, &session).await.is_empty());
    let paid = order::Entity::find()
        .filter(order::Column::CheckoutSessionId.eq(session.as_str()))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        paid.status, "open",
        "nothing half-written: the order is not paid"
    );
    for event in events.iter().chain(events.iter()) {
        assert_eq!(deliver(&app, event).await, 200);
    }
    assert_eq!(license_of(&app, &session).await.len(), 1);
}

async fn events_never_delivered_are_reconciled(app: TestApp, stripe: FakeStripe) {
    let offer = common::sold_file(&app, "diabetes-progression").await.0;
    let buyer = app.sign_up("buyer").await;
    let session = open_checkout(&app, &buyer, offer.id).await;
    let _lost = stripe.complete_checkout(&session); // never delivered
    assert!(license_of(&app, &session).await.is_empty());
    let since = chrono::Utc::now().timestamp() - 3600;
    let applied = domain::payments::webhooks::reconcile(&app.state, since)
        .await
        .unwrap();
    assert!(applied >= 1, "the missed checkout event was applied");
    assert_eq!(license_of(&app, &session).await.len(), 1);
    let again = domain::payments::webhooks::reconcile(&app.state, since)
        .await
        .unwrap();
    assert_eq!(again, 0, "nothing twice");
    assert_eq!(license_of(&app, &session).await.len(), 1);
}
