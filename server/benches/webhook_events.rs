//! Webhook throughput: the real application on loopback receives 10,000 distinct signed
//! `checkout.session.completed` events at concurrency 32, then a flood of 1,000 copies of one
//! event at concurrency 32; it prints events/s, p50/p99 latency and the license counts
//! (exactly 10,000, and exactly 1).
//!
//! `cargo bench -p server --bench webhook_events [-- --postgres postgres://user@host/db] [--events N]`
use std::time::{Duration, Instant};

use chrono::Utc;
use domain::entities::{license, license_offer, order, user};
use domain::payments::provider::{CheckoutMode, PaymentStatus, SessionStatus};
use domain::payments::{shapes, signature};
use futures::StreamExt;
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use server::config::{Config, LogFormat, PaymentsMode};
use server::startup::Application;

const CONCURRENCY: usize = 32;
const FLOOD: usize = 1_000;
const SECRET: &str = "whsec_bench";

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

#[tokio::main]
async fn main() {
    let events: usize = arg("--events")
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let (database_url, postgres) = match arg("--postgres") {
        Some(admin_url) => {
            let name = format!("bazaar_bench_{}", std::process::id());
            let admin = Database::connect(&admin_url).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let (base, _) = admin_url.rsplit_once('/').unwrap();
            (format!("{base}/{name}"), Some((admin_url, name)))
        }
        None => (
            format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display()),
            None,
        ),
    };
    let site_root = dir.path().join("site");
    std::fs::create_dir_all(site_root.join("pkg")).unwrap();
    let config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        database_url: Some(database_url.clone()),
        site_root,
        log_format: LogFormat::Pretty,
        payments: PaymentsMode::Test,
        stripe_webhook_secret: Some(SECRET.into()),
        ..Config::default()
    };
    let app = Application::build(&config).await.expect("server starts");
    let url = format!("http://{}/webhooks/stripe", app.local_addr());
    tokio::spawn(app.run_until_stopped());
    let db = Database::connect(&database_url).await.unwrap();

    let orders = open_orders(&db, events + 1).await;
    let client = reqwest::Client::new();
    let distinct: Vec<String> = orders[..events].iter().map(|id| completed(*id)).collect();
    println!(
        "database: {}",
        if postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let (rate, p50, p99) = deliver(&client, &url, distinct).await;
    let licenses = license::Entity::find().count(&db).await.unwrap();
    println!(
        "{events} distinct events: {rate:.0} events/s, p50 {p50:?}, p99 {p99:?}, licenses {licenses}"
    );
    let one = completed(orders[events]);
    let (rate, p50, p99) = deliver(&client, &url, vec![one; FLOOD]).await;
    let session = format!("cs_bench_{}", orders[events]);
    let licenses = license::Entity::find()
        .filter(license::Column::CheckoutSessionId.eq(session))
        .count(&db)
        .await
        .unwrap();
    println!(
        "{FLOOD} copies of one event: {rate:.0} events/s, p50 {p50:?}, p99 {p99:?}, licenses {licenses}"
    );
    if let Some((admin_url, name)) = postgres {
        drop(db);
        let admin = Database::connect(&admin_url).await.unwrap();
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// `n` open orders for the seeded paid model, each with its session id.
async fn open_orders(db: &sea_orm::DatabaseConnection, n: usize) -> Vec<i64> {
    let offer = license_offer::Entity::find()
        .filter(license_offer::Column::Kind.eq("paid"))
        .one(db)
        .await
        .unwrap()
        .expect("the seeded paid offer");
    let buyer = user::Entity::insert(user::ActiveModel {
        username: Set("bench".into()),
        username_key: Set("bench".into()),
        email: Set(Some("bench@example.org".into())),
        display_name: Set("Bench".into()),
        bio: Set(String::new()),
        is_publisher: Set(false),
        is_admin: Set(false),
        created_at: Set(Utc::now()),
        kind: Set(user::KIND_USER.into()),
        links: Set(String::new()),
        ..Default::default()
    })
    .exec(db)
    .await
    .unwrap()
    .last_insert_id;
    let now = Utc::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        order::Entity::insert_many(chunk.iter().map(|_| order::ActiveModel {
            buyer_id: Set(buyer),
            licensee_id: Set(buyer),
            model_id: Set(offer.model_id),
            offer_id: Set(offer.id),
            provider: Set("test".into()),
            amount_minor: Set(offer.price_cents),
            currency: Set(offer.currency.clone()),
            platform_fee_minor: Set(0),
            status: Set("open".into()),
            status_event_at: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }))
        .exec(db)
        .await
        .unwrap();
    }
    order::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect()
}

/// The completed, paid session of order `id`, as Stripe would send it.
fn completed(id: i64) -> String {
    let session_id = format!("cs_bench_{id}");
    let intent = format!("pi_bench_{id}");
    let now = Utc::now().timestamp();
    let session = shapes::checkout_session(&shapes::CheckoutSessionParts {
        id: &session_id,
        mode: CheckoutMode::Payment,
        status: SessionStatus::Complete,
        payment_status: PaymentStatus::Paid,
        order_id: Some(id),
        customer: None,
        payment_intent: Some(&intent),
        subscription: None,
        amount_total: 900,
        currency: "usd",
        success_url: "http://127.0.0.1/",
        cancel_url: "http://127.0.0.1/",
        url: None,
        created: now,
        expires_at: now + 3600,
    });
    shapes::event(&shapes::EventParts {
        id: &format!("evt_bench_{id}"),
        event_type: "checkout.session.completed",
        created: now,
        object: session,
        previous_attributes: None,
        request: None,
        account: None,
    })
    .to_string()
}

/// Posts every body (signed now) at the benchmark's concurrency; returns events/s, p50, p99.
async fn deliver(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<String>,
) -> (f64, Duration, Duration) {
    let count = bodies.len();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = futures::stream::iter(bodies)
        .map(|body| async move {
            let header = signature::sign(SECRET, Utc::now().timestamp(), body.as_bytes());
            let sent = Instant::now();
            let response = client
                .post(url)
                .header("stripe-signature", header)
                .body(body)
                .send()
                .await
                .expect("the server answers");
            assert_eq!(response.status(), 200, "an event was not accepted");
            sent.elapsed()
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((count as f64 * q) as usize).min(count - 1)];
    (count as f64 / elapsed.as_secs_f64(), at(0.5), at(0.99))
}
