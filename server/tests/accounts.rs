//! Signing up, logging in and out through the server functions the forms post to.
mod common;

use common::TestApp;
use http::header;

on_each_database!(
    sign_up_sets_a_hardened_session_cookie_that_logs_the_visitor_in,
    log_out_ends_the_session_on_the_server_at_once,
    bad_credentials_and_bad_fields_are_refused_with_their_status,
);

async fn post_form(
    app: &TestApp,
    path: &str,
    body: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.send().await.unwrap()
}

/// `name=value` of the session cookie a response sets, and its attributes.
fn session_cookie(response: &reqwest::Response) -> (String, String) {
    let set = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    let pair = set.split(';').next().unwrap().trim().to_owned();
    (pair, set)
}

/// Who the server says is logged in with `cookie`, through the REST API.
async fn viewer(app: &TestApp, cookie: &str) -> Option<String> {
    let response = app
        .client
        .get(app.url("/api/v1/whoami"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    if response.status() == 401 {
        return None;
    }
    let viewer: serde_json::Value = response.json().await.unwrap();
    Some(viewer["username"].as_str().unwrap().to_owned())
}

const SIGN_UP: &str = "username=Ada&email=ada%40example.org&password=analytical+engine+1843";

async fn sign_up_sets_a_hardened_session_cookie_that_logs_the_visitor_in(app: TestApp) {
    let response = post_form(&app, "/api/sign_up", SIGN_UP, None).await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "{}",
        response.status()
    );
    let (cookie, attributes) = session_cookie(&response);
    assert!(cookie.starts_with("bazaar_session="), "{attributes}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            attributes.contains(attribute),
            "{attributes} lacks {attribute}"
        );
    }
    assert_eq!(viewer(&app, &cookie).await.as_deref(), Some("Ada"));
    assert_eq!(viewer(&app, "bazaar_session=forged").await, None);

    let stored = domain::catalog::find_user(&app.state.db, "ada")
        .await
        .unwrap()
        .unwrap();
    assert!(stored
        .password_hash
        .unwrap()
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

    let again = post_form(
        &app,
        "/api/log_in",
        "login=ADA%40example.org&password=analytical+engine+1843",
        None,
    )
    .await;
    let (second, _) = session_cookie(&again);
    assert_ne!(second, cookie, "each log-in gets a new session id");
    assert_eq!(viewer(&app, &second).await.as_deref(), Some("Ada"));
}

async fn log_out_ends_the_session_on_the_server_at_once(app: TestApp) {
    let (cookie, _) = session_cookie(&post_form(&app, "/api/sign_up", SIGN_UP, None).await);
    assert_eq!(viewer(&app, &cookie).await.as_deref(), Some("Ada"));
    let response = post_form(&app, "/api/log_out", "", Some(&cookie)).await;
    let (cleared, attributes) = session_cookie(&response);
    assert_eq!(cleared, "bazaar_session=");
    assert!(attributes.contains("Max-Age=0"), "{attributes}");
    // The old cookie, replayed, no longer works.
    assert_eq!(viewer(&app, &cookie).await, None);
}

async fn bad_credentials_and_bad_fields_are_refused_with_their_status(app: TestApp) {
    post_form(&app, "/api/sign_up", SIGN_UP, None).await;
    let wrong = post_form(
        &app,
        "/api/log_in",
        "login=ada&password=not+the+password",
        None,
    )
    .await;
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.headers().contains_key(header::SET_COOKIE));
    let unknown = post_form(
        &app,
        "/api/log_in",
        "login=nobody&password=whatever+it+is",
        None,
    )
    .await;
    assert_eq!(unknown.status(), 401);
    assert_eq!(
        unknown.text().await.unwrap(),
        wrong.text().await.unwrap(),
        "no account enumeration"
    );

    let cases = [
        (
            "username=bob&email=bob%40example.org&password=short",
            "password",
        ),
        (
            "username=bob&email=not-an-email&password=a+fine+passphrase",
            "email",
        ),
        (
            "username=ADA&email=other%40example.org&password=a+fine+passphrase",
            "username",
        ),
        (
            "username=api&email=api%40example.org&password=a+fine+passphrase",
            "username",
        ),
    ];
    for (body, field) in cases {
        let response = post_form(&app, "/api/sign_up", body, None).await;
        assert_eq!(response.status(), 422, "{body}");
        assert!(
            response.text().await.unwrap().contains(field),
            "{body} names {field}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failed_log_in_past_the_limit_gets_429_with_retry_after() {
    let app = common::spawn_app(common::Db::Sqlite).await.unwrap();
    post_form(&app, "/api/sign_up", SIGN_UP, None).await;
    let limit = domain::rate_limit::RateLimits::default()
        .log_in_per_account
        .max;
    for attempt in 1..=limit {
        let response = post_form(
            &app,
            "/api/log_in",
            "login=ada&password=not+the+password",
            None,
        )
        .await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let refused = post_form(
        &app,
        "/api/log_in",
        "login=ada&password=analytical+engine+1843",
        None,
    )
    .await;
    assert_eq!(
        refused.status(),
        429,
        "even the right password waits out the window"
    );
    let retry_after: u64 = refused.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert!(!refused.headers().contains_key(header::SET_COOKIE));
}
