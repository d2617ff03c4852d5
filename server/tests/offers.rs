//! Publishers choosing what a listing is offered under: each offer checked field by field,
//! withdrawn offers taken up by nobody, licences already granted untouched.
mod common;

use common::{Auth, TestApp};

on_each_database!(
    a_publisher_adds_checks_and_withdraws_offers,
    scripts_manage_offers_through_the_rest_api,
);

async fn offers_of(app: &TestApp, cookie: &str) -> serde_json::Value {
    app.post_form(
        "/api/listing_offers",
        "owner=tabular-works&slug=diabetes-progression",
        Some(cookie),
    )
    .await
    .json()
    .await
    .unwrap()
}

async fn a_publisher_adds_checks_and_withdraws_offers(app: TestApp) {
    // The seeded publisher has no log-in; a site administrator acts for it.
    let admin = app.sign_up("boss").await;
    common::make_admin(&app, "boss").await;
    let stranger = app.sign_up("stranger").await;
    let at = "owner=tabular-works&slug=diabetes-progression";

    let before = offers_of(&app, &admin).await;
    assert_eq!(before["offers"].as_array().unwrap().len(), 1);
    assert!(before["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "EUR"));

    let cases = [
        ("kind=lease", "kind"),
        ("kind=open&spdx=WTFPL-9", "spdx"),
        ("kind=paid&price=nine", "price"),
        ("kind=paid&price=0.10", "price"),
        ("kind=paid&price=9&currency=XYZ", "currency"),
        ("kind=subscription&price=9&interval=week", "interval"),
        ("kind=gated&terms=", "terms"),
    ];
    for (fields, field) in cases {
        let refused = app
            .post_form("/api/add_offer", &format!("{at}&{fields}"), Some(&admin))
            .await;
        assert_eq!(refused.status(), 422, "{fields}");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["Invalid"]["field"], field, "{fields}: {body}");
    }
    let not_theirs = app
        .post_form(
            "/api/add_offer",
            &format!("{at}&kind=open&spdx=MIT"),
            Some(&stranger),
        )
        .await;
    assert_eq!(not_theirs.status(), 403);
    assert_eq!(
        offers_of(&app, &admin).await["offers"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing half-added"
    );

    let added = app
        .post_form(
            "/api/add_offer",
            &format!(
                "{at}&kind=paid&price=1%2C200.50&currency=EUR&seat=organization&terms=Team+use."
            ),
            Some(&admin),
        )
        .await;
    assert_eq!(added.status(), 200);
    let now = offers_of(&app, &admin).await;
    let descriptions: Vec<&str> = now["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["description"].as_str().unwrap())
        .collect();
    assert!(
        descriptions
            .contains(&"1,200.50 EUR once, for an organization, for the versions published so far"),
        "{descriptions:?}"
    );
    let page = app.get_text("/tabular-works/diabetes-progression").await.1;
    assert!(
        page.contains("1,200.50 EUR once"),
        "the model page shows the new offer"
    );

    let first = now["offers"][0]["id"].as_i64().unwrap();
    let withdrawn = app
        .post_form(
            "/api/withdraw_offer",
            &format!("{at}&offer_id={first}"),
            Some(&admin),
        )
        .await;
    assert_eq!(withdrawn.status(), 200);
    assert_eq!(
        offers_of(&app, &admin).await["offers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let again = app
        .post_form(
            "/api/withdraw_offer",
            &format!("{at}&offer_id={first}"),
            Some(&admin),
        )
        .await;
    assert_eq!(again.status(), 404, "already withdrawn");
    let buyer = app.sign_up("buyer").await;
    let buy = app
        .post_form(
            "/api/buy_license",
            &format!("offer_id={first}"),
            Some(&buyer),
        )
        .await;
    assert_eq!(buy.status(), 404, "a withdrawn offer sells nothing");
}

async fn scripts_manage_offers_through_the_rest_api(app: TestApp) {
    let token = app.publisher_token("maker").await;
    let created = app
        .client
        .post(app.url("/api/v1/models"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "slug": "tiny", "name": "Tiny", "task": "other" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let offers = app.url("/api/v1/models/maker/tiny/offers");
    let post = |body: serde_json::Value| {
        app.client
            .post(&offers)
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let refused = post(serde_json::json!({ "kind": "paid", "price_minor": 10 }))
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["field"], "price", "{body}");
    let unknown = post(serde_json::json!({ "kind": "open", "spdx": "MIT", "colour": "red" }))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422, "unknown fields are refused");
    let added = post(serde_json::json!({ "kind": "subscription", "price_minor": 1500, "currency": "gbp", "interval": "year" }))
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let added: serde_json::Value = added.json().await.unwrap();
    assert_eq!(added["description"], "15.00 GBP a year");
    let listed: serde_json::Value = app
        .api_get("/api/v1/models/maker/tiny/offers", Auth::Bearer(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["offers"].as_array().unwrap().len(), 1);
    let gone = app
        .client
        .delete(format!("{offers}/{}", added["id"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let listed: serde_json::Value = app
        .api_get("/api/v1/models/maker/tiny/offers", Auth::Bearer(&token))
        .await
        .json()
        .await
        .unwrap();
    assert!(listed["offers"].as_array().unwrap().is_empty());
}
