//! Publishers choosing what a listing is offered under: each offer checked field by field,
//! withdrawn offers taken up by nobody, licenses already granted untouched.
mod common;

use common::{Auth, TestApp};

on_each_database!(
    a_new_listing_comes_with_its_first_offer,
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

/// `/new` chooses the offer with the listing: checked before anything is written, so a
/// refused offer leaves no listing behind, and never a silent default.
async fn a_new_listing_comes_with_its_first_offer(app: TestApp) {
    let cookie = app.sign_up("maker").await;
    let enabled = app
        .post_form("/api/enable_publishing", "", Some(&cookie))
        .await;
    assert_eq!(enabled.status(), 200);
    let listing = "owner=maker&slug=fresh&name=Fresh&summary=&task=other&tags=&card=";
    for (offer, field) in [
        ("", "kind"),
        ("&kind=paid&price=free", "price"),
        ("&kind=open&spdx=Proprietary", "spdx"),
    ] {
        let refused = app
            .post_form(
                "/api/create_model",
                &format!("{listing}{offer}"),
                Some(&cookie),
            )
            .await;
        assert_eq!(refused.status(), 422, "{offer}");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["Invalid"]["field"], field, "{offer}: {body}");
        let (_, page) = app.get_text("/maker/fresh/settings").await;
        assert!(
            !page.contains("Fresh"),
            "{offer}: no listing is left behind"
        );
        assert!(
            domain::listings::find_listing(&app.state, "maker", "fresh")
                .await
                .is_err(),
            "{offer}: no listing is left behind"
        );
    }

    let created = app
        .post_form(
            "/api/create_model",
            &format!(
                "{listing}&kind=subscription&price=4.50&currency=EUR&interval=year&terms=Team+use."
            ),
            Some(&cookie),
        )
        .await;
    assert!(created.status().as_u16() < 400, "{}", created.status());
    let offers = app
        .post_form(
            "/api/listing_offers",
            "owner=maker&slug=fresh",
            Some(&cookie),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(offers["offers"].as_array().unwrap().len(), 1, "{offers}");
    assert_eq!(
        offers["offers"][0]["description"], "4.50 EUR a year",
        "{offers}"
    );
    assert_eq!(offers["offers"][0]["terms"], "Team use.");
}

async fn a_publisher_adds_checks_and_withdraws_offers(app: TestApp) {
    // The seeded publisher has no log-in; a site administrator acts for it.
    let admin = app.sign_up("boss").await;
    common::make_admin(&app, "boss").await;
    let stranger = app.sign_up("stranger").await;
    let at = "owner=tabular-works&slug=diabetes-progression";

    let before = offers_of(&app, &admin).await;
    assert_eq!(before["offers"].as_array().unwrap().len(), 1);
    assert!(before["choices"]["currencies"]
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

    // A listing created with its first offer: refused whole when the offer is wrong.
    let create = |body: serde_json::Value| {
        app.client
            .post(app.url("/api/v1/models"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let refused = create(serde_json::json!({
        "slug": "sold", "name": "Sold", "task": "other",
        "offer": { "kind": "paid", "price": "lots" },
    }))
    .await
    .unwrap();
    assert_eq!(refused.status(), 422);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["field"], "price", "{body}");
    let absent = app
        .api_get("/api/v1/models/maker/sold", Auth::Bearer(&token))
        .await;
    assert_eq!(absent.status(), 404, "a refused offer creates no listing");
    let created = create(serde_json::json!({
        "slug": "sold", "name": "Sold", "task": "other",
        "offer": { "kind": "paid", "price": "12", "currency": "eur", "terms": "One product." },
    }))
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let listed: serde_json::Value = app
        .api_get("/api/v1/models/maker/sold/offers", Auth::Bearer(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["offers"][0]["description"], "12.00 EUR once, for the versions published so far",
        "{listed}"
    );

    // Sold "up to the next major", a listing's versions stay SemVer.
    let major = app
        .client
        .post(app.url("/api/v1/models/maker/sold/offers"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "kind": "paid", "price": "30", "covers": "major" }))
        .send()
        .await
        .unwrap();
    assert_eq!(major.status(), 201);
    let version = |name: &'static str| {
        app.client
            .post(app.url("/api/v1/models/maker/sold/versions"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "version": name }))
            .send()
    };
    let nightly = version("nightly").await.unwrap();
    assert_eq!(nightly.status(), 422);
    let body: serde_json::Value = nightly.json().await.unwrap();
    assert_eq!(body["field"], "version", "{body}");
    assert_eq!(version("1.0.0").await.unwrap().status(), 201);
}
