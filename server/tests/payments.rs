//! Buying a license end to end through the built-in test-mode provider, and the webhook
//! endpoint as Stripe reaches it: signed events only, each applied once.
mod common;

use common::{Auth, TestApp};
use domain::entities::{license, order};
use domain::payments::shapes;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use common::WEBHOOK_SECRET as SECRET;

on_each_database!(
    a_bought_license_opens_the_files_until_a_refund,
    only_genuine_events_change_anything,
    an_administrator_refunds_an_order,
    bazaar_pull_downloads_what_the_license_opens,
);

/// The path of an absolute URL (the test server's public address says port 0).
fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme[after_scheme.find('/').unwrap_or(after_scheme.len())..].to_owned()
}

/// Buys `offer` as the holder of `cookie` through the test checkout; returns the order.
async fn buy(app: &TestApp, cookie: &str, offer: i64) -> order::Model {
    let started = app
        .post_form(
            "/api/buy_license",
            &format!("offer_id={offer}"),
            Some(cookie),
        )
        .await;
    let checkout = path_of(started.headers()["location"].to_str().unwrap());
    assert!(
        checkout.starts_with("/test-checkout/cs_test_"),
        "{checkout}"
    );
    let page = app.get_text(&checkout).await;
    assert_eq!(page.0, 200);
    assert!(
        page.1.contains("9.00 USD"),
        "the price is shown: {}",
        page.1
    );
    let paid = app
        .post_form(&checkout, "outcome=succeed", Some(cookie))
        .await;
    assert!(paid.status().is_redirection());
    let success = path_of(paid.headers()["location"].to_str().unwrap());
    assert!(
        success.starts_with("/checkout/success?session_id=cs_test_"),
        "{success}"
    );
    let back = app.api_get(&success, Auth::Cookie(cookie)).await;
    let to = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/licenses?order="), "{to}");
    let id: i64 = to.trim_start_matches("/licenses?order=").parse().unwrap();
    order::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

/// Delivers `event` to the webhook endpoint, signed with `secret` at `timestamp`.
async fn deliver(app: &TestApp, event: &serde_json::Value, secret: &str, timestamp: i64) -> u16 {
    let body = event.to_string();
    let header = domain::payments::signature::sign(secret, timestamp, body.as_bytes());
    app.client
        .post(app.url("/webhooks/stripe"))
        .header("stripe-signature", header)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn refund_event(payment_intent: &str, amount: i64) -> serde_json::Value {
    let charge = shapes::charge(&shapes::ChargeParts {
        id: &payment_intent.replacen("pi_", "ch_", 1),
        payment_intent,
        customer: None,
        amount,
        amount_refunded: amount,
        currency: "usd",
        disputed: false,
        created: chrono::Utc::now().timestamp(),
        transfer_destination: None,
        application_fee_amount: None,
    });
    shapes::event(&shapes::EventParts {
        id: &shapes::new_id("evt_"),
        event_type: "charge.refunded",
        created: chrono::Utc::now().timestamp(),
        object: charge,
        previous_attributes: None,
        request: None,
        account: None,
    })
}

async fn licenses_of(app: &TestApp, order: &order::Model) -> Vec<license::Model> {
    license::Entity::find()
        .filter(license::Column::OrderId.eq(order.id))
        .all(&app.state.db)
        .await
        .unwrap()
}

async fn a_bought_license_opens_the_files_until_a_refund(app: TestApp) {
    let file = common::sold_file(&app, "diabetes-progression").await.1;
    let buyer = app.sign_up("buyer").await;
    let stranger = app.sign_up("stranger").await;
    assert_eq!(app.api_get(&file, Auth::Cookie(&buyer)).await.status(), 403);

    let model_page = app
        .api_get("/tabular-works/diabetes-progression", Auth::Cookie(&buyer))
        .await;
    let page = model_page.text().await.unwrap();
    assert!(
        page.contains("Buy for 9.00 USD"),
        "the page offers the license"
    );
    assert!(
        page.contains("perpetual license"),
        "and shows its terms before paying"
    );

    let offer = common::sold_file(&app, "diabetes-progression").await.0;
    let order = buy(&app, &buyer, offer.id).await;
    assert_eq!(order.status, "paid");
    let licenses = licenses_of(&app, &order).await;
    assert_eq!(licenses.len(), 1, "one license");
    assert_eq!(licenses[0].status, "active");
    let published: domain::licensing::keys::KeySet = app
        .get("/.well-known/bazaar-license-key")
        .await
        .json()
        .await
        .unwrap();
    let claims =
        domain::licensing::keys::verify(&licenses[0].license_key, &published, chrono::Utc::now())
            .expect("the key verifies against the published key set");
    assert_eq!(claims.grant.licensee.name, "buyer");
    assert_eq!(
        claims.grant.model.name,
        "tabular-works/diabetes-progression"
    );

    assert_eq!(app.api_get(&file, Auth::Cookie(&buyer)).await.status(), 200);
    assert_eq!(
        app.api_get(&file, Auth::Cookie(&stranger)).await.status(),
        403
    );
    let page = app
        .api_get("/licenses", Auth::Cookie(&buyer))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("tabular-works/diabetes-progression"),
        "My licenses lists it"
    );
    assert!(page.contains("9.00 USD on"), "with its receipt");

    // The sale shows on the dashboard of whoever publishes the model (here a site admin).
    let admin = app.sign_up("boss").await;
    common::make_admin(&app, "boss").await;
    let sales: serde_json::Value = app
        .post_form("/api/sales_dashboard", "", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let today = sales["days"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["sales"], 1, "{sales}");
    assert_eq!(today["revenue"], "9.00 USD");
    assert_eq!(
        sales["by_offer"][0]["model"],
        "tabular-works/diabetes-progression"
    );
    let theirs: serde_json::Value = app
        .post_form("/api/sales_dashboard", "", Some(&stranger))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        theirs["by_offer"].as_array().unwrap().is_empty(),
        "nobody else sees it"
    );

    // Buying the same license again is refused: it is already held.
    let again = app
        .post_form(
            "/api/buy_license",
            &format!("offer_id={}", offer.id),
            Some(&buyer),
        )
        .await;
    assert_eq!(again.status(), 409);

    // The checkout's own event arrives as well: still one license.
    assert_eq!(licenses_of(&app, &order).await.len(), 1);

    let intent = order
        .payment_intent
        .clone()
        .expect("a paid order has its payment");
    let refund = refund_event(&intent, order.amount_minor);
    let now = chrono::Utc::now().timestamp();
    assert_eq!(deliver(&app, &refund, SECRET, now).await, 200);
    assert_eq!(
        deliver(&app, &refund, SECRET, now).await,
        200,
        "a redelivery is fine"
    );
    assert_eq!(app.api_get(&file, Auth::Cookie(&buyer)).await.status(), 403);
    let licenses = licenses_of(&app, &order).await;
    assert_eq!(licenses[0].status, "revoked");
    let order = order::Entity::find_by_id(order.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.status, "refunded");
    // A deployment that verified the key offline learns of the refund online.
    let status: serde_json::Value = app
        .get(&format!("/api/v1/licenses/{}/status", licenses[0].id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "revoked");
    assert_eq!(status["active"], false);
}

async fn an_administrator_refunds_an_order(app: TestApp) {
    let file = common::sold_file(&app, "diabetes-progression").await.1;
    let buyer = app.sign_up("buyer").await;
    let offer = common::sold_file(&app, "diabetes-progression").await.0;
    let order = buy(&app, &buyer, offer.id).await;
    assert_eq!(app.api_get(&file, Auth::Cookie(&buyer)).await.status(), 200);
    let admin = app.sign_up("boss").await;
    common::make_admin(&app, "boss").await;
    let refused = app
        .post_form(
            "/api/refund_order",
            &format!("order_id={}", order.id),
            Some(&buyer),
        )
        .await;
    assert_eq!(refused.status(), 403, "buyers do not refund themselves");
    let listed: serde_json::Value = app
        .post_form("/api/admin_orders", "", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["refundable"], true, "{listed}");
    let refunded = app
        .post_form(
            "/api/refund_order",
            &format!("order_id={}", order.id),
            Some(&admin),
        )
        .await;
    assert_eq!(refunded.status(), 200);
    assert_eq!(
        app.api_get(&file, Auth::Cookie(&buyer)).await.status(),
        403,
        "revoked at once"
    );
    let again = app
        .post_form(
            "/api/refund_order",
            &format!("order_id={}", order.id),
            Some(&admin),
        )
        .await;
    assert_eq!(again.status(), 409, "nothing left to refund");
    // The provider's charge.refunded event follows and changes nothing more.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(licenses_of(&app, &order).await[0].status, "revoked");
}

async fn only_genuine_events_change_anything(app: TestApp) {
    let buyer = app.sign_up("buyer").await;
    let offer = common::sold_file(&app, "diabetes-progression").await.0;
    let order = buy(&app, &buyer, offer.id).await;
    let intent = order.payment_intent.clone().unwrap();
    let refund = refund_event(&intent, order.amount_minor);
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        deliver(&app, &refund, "whsec_someone_else", now).await,
        400,
        "wrong key"
    );
    assert_eq!(
        deliver(&app, &refund, SECRET, now - 301).await,
        400,
        "stale"
    );
    let forged = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header(
            "stripe-signature",
            format!("t={now},v1={}", "ab".repeat(32)),
        )
        .body(refund.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400, "forged");
    let unsigned = app
        .client
        .post(app.url("/webhooks/stripe"))
        .body(refund.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 400, "unsigned");
    assert_eq!(licenses_of(&app, &order).await[0].status, "active");
    let stored = domain::entities::webhook_event::Entity::find()
        .filter(domain::entities::webhook_event::Column::EventType.eq("charge.refunded"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing refused was stored");
    assert_eq!(deliver(&app, &refund, SECRET, now).await, 200);
    assert_eq!(licenses_of(&app, &order).await[0].status, "revoked");
}

/// Runs `bazaar pull` for the paid seeded model into `dir`.
async fn pull(app: &TestApp, token: Option<&str>, dir: &std::path::Path) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"));
    command
        .args([
            "pull",
            "--model",
            "tabular-works/diabetes-progression",
            "--version",
            "1.0.0",
        ])
        .args(["--endpoint", &app.url("")])
        .arg("--dir")
        .arg(dir)
        .env_remove("BAZAAR_TOKEN");
    if let Some(token) = token {
        command.env("BAZAAR_TOKEN", token);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

async fn bazaar_pull_downloads_what_the_license_opens(app: TestApp) {
    let buyer = app.sign_up("buyer").await;
    let created = app
        .post_form("/api/create_token", "name=pull&scope=read", Some(&buyer))
        .await;
    let created: serde_json::Value = created.json().await.unwrap();
    let token = created["secret"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();

    let before = pull(&app, Some(&token), dir.path()).await;
    assert!(!before.status.success());
    let said = String::from_utf8_lossy(&before.stderr);
    assert!(said.contains("buy a license"), "{said}");
    let demo = dir.path().join("demo.onnx");
    assert!(demo.exists(), "the free demo file came anyway");
    assert!(
        !dir.path().join("model.onnx").exists(),
        "the licensed weights did not"
    );

    let offer = common::sold_file(&app, "diabetes-progression").await.0;
    let order = buy(&app, &buyer, offer.id).await;
    // An interrupted earlier run left half of a file: pull continues from there.
    let file = common::sold_file(&app, "diabetes-progression").await.1;
    let whole = app
        .api_get(&file, Auth::Bearer(&token))
        .await
        .bytes()
        .await
        .unwrap();
    let name = file.rsplit('/').next().unwrap().to_owned();
    std::fs::write(
        dir.path().join(format!("{name}.part")),
        &whole[..whole.len() / 2],
    )
    .unwrap();
    let after = pull(&app, Some(&token), dir.path()).await;
    assert!(
        after.status.success(),
        "{}",
        String::from_utf8_lossy(&after.stderr)
    );
    assert_eq!(
        std::fs::read(dir.path().join(&name)).unwrap(),
        whole.to_vec()
    );
    assert!(!dir.path().join(format!("{name}.part")).exists());

    let intent = order.payment_intent.clone().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        deliver(
            &app,
            &refund_event(&intent, order.amount_minor),
            SECRET,
            now
        )
        .await,
        200
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let refunded = pull(&app, Some(&token), elsewhere.path()).await;
    assert!(
        !refunded.status.success(),
        "a refund closes the files again"
    );
}
