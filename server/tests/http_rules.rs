//! Rules every route inherits from the router: request bodies bounded, personal responses kept
//! out of caches, search text validated. (Cross-site writes: account_security.rs.)
mod common;

use common::TestApp;
use http::header;

on_each_database!(
    oversized_server_function_bodies_are_413,
    personal_responses_are_not_stored_by_caches,
    control_characters_in_search_are_422,
    every_response_carries_a_request_id,
);

async fn every_response_carries_a_request_id(app: TestApp) {
    let id_of = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .expect("a request id")
    };
    let page = app.get("/").await;
    let missing = app.get("/no/such/page").await;
    let api = app.get("/api/v1/whoami").await;
    let ids = [id_of(&page), id_of(&missing), id_of(&api)];
    for id in &ids {
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");
    // One a load balancer set is kept.
    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&given), "lb-1234");
}

fn token_form(name: &str) -> String {
    format!("name={name}&scope=read&expires_in_days=")
}

async fn oversized_server_function_bodies_are_413(app: TestApp) {
    let cookie = app.sign_up("alice").await;
    let huge = token_form(&"a".repeat(3 << 20));
    // Declared up front with Content-Length...
    let declared = app
        .post_form("/api/create_token", &huge, Some(&cookie))
        .await;
    assert_eq!(declared.status(), 413);
    let error: serde_json::Value = declared.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("2 MiB"),
        "{error}"
    );
    // ...and streamed without one, a byte over the bound. The server answers as soon as the
    // bound is passed and closes the connection, which may cut the client off before it
    // reads the answer: either way nothing is done and the server does not fail.
    let padding = server::security::SERVER_FN_BODY_LIMIT + 1 - token_form("").len();
    let padded = token_form(&"a".repeat(padding));
    let chunks = padded
        .into_bytes()
        .chunks(64 << 10)
        .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
        .collect::<Vec<_>>();
    let streamed = app
        .client
        .post(app.url("/api/create_token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .header(header::COOKIE, &cookie)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    match streamed {
        Ok(answer) => assert_eq!(answer.status(), 413),
        Err(cut) => assert!(cut.is_request(), "{cut}"),
    }
    assert_eq!(app.token_count("alice").await, 0);
    // A body under the bound still works.
    let fine = app
        .post_form("/api/create_token", &token_form("laptop"), Some(&cookie))
        .await;
    assert_eq!(fine.status(), 200);
    assert_eq!(app.token_count("alice").await, 1);
}

async fn personal_responses_are_not_stored_by_caches(app: TestApp) {
    let cookie = app.sign_up("carol").await;
    let created = app
        .post_form("/api/create_token", &token_form("ci"), Some(&cookie))
        .await;
    assert_eq!(created.status(), 200);
    assert_eq!(created.headers()[header::CACHE_CONTROL], "no-store");
    let page = app
        .client
        .get(app.url("/settings/tokens"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    // Public files keep their own caching rule.
    let asset = app.get("/favicon.svg").await;
    assert_ne!(
        asset
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
}

async fn control_characters_in_search_are_422(app: TestApp) {
    for query in ["%00", "digit%00", "a%1Fb"] {
        let (status, html) = app.get_text(&format!("/?q={query}")).await;
        assert_eq!(status, 422, "/?q={query}");
        assert!(html.contains("control characters"), "/?q={query}");
        assert!(
            !html.contains("Digit Classifier"),
            "/?q={query} lists no models"
        );
    }
    let called = app.post_form("/api/list_models", "query=%00", None).await;
    assert_eq!(called.status(), 422);
    let (status, html) = app.get_text("/?q=digit").await;
    assert_eq!(status, 200);
    assert!(html.contains("Digit Classifier"));
}
