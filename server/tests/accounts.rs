//! Signing up, logging in and out through the server functions the forms post to.
mod common;

use common::TestApp;
use http::header;

on_each_database!(
    sign_up_stops_at_confirmation_and_the_link_logs_in_with_a_hardened_cookie,
    log_out_ends_the_session_on_the_server_at_once,
    bad_credentials_and_bad_fields_are_refused_with_their_status,
    an_address_squatted_before_its_owner_signs_up_is_won_back_with_a_new_password,
);

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

/// Ada's account, signed up and confirmed: the session cookie confirming gave.
async fn ada(app: &TestApp) -> String {
    let response = app.post_form("/api/sign_up", SIGN_UP, None).await;
    assert_eq!(response.status(), 200);
    session_cookie(&app.confirm("ada@example.org").await).0
}

async fn sign_up_stops_at_confirmation_and_the_link_logs_in_with_a_hardened_cookie(app: TestApp) {
    let response = app.post_form("/api/sign_up", SIGN_UP, None).await;
    assert_eq!(response.status(), 200);
    assert!(
        !response.headers().contains_key(header::SET_COOKIE),
        "no session before the address is confirmed"
    );
    let sent: serde_json::Value = response.json().await.unwrap();
    assert_eq!(sent["email"], "ada@example.org");
    let mail = app.mail_to("ada@example.org");
    assert_eq!(mail.subject, "Confirm your e-mail address");
    let first = common::link_token(&mail.body, "/verify-email/").unwrap();
    // This server listens on loopback and sends no e-mail: the answer shows the link too.
    assert_eq!(
        sent["link"].as_str(),
        Some(format!("/verify-email/{first}").as_str())
    );
    let (_, page) = app
        .get_text(&format!("/signup?sent=1&confirm={first}"))
        .await;
    assert!(
        page.contains(&format!("href=\"/verify-email/{first}\"")),
        "the page shows the link: {page}"
    );

    // The right password is told to confirm (and gets a new link); a wrong one learns nothing.
    let unconfirmed = app
        .post_form(
            "/api/log_in",
            "login=ada&password=analytical+engine+1843",
            None,
        )
        .await;
    assert_eq!(unconfirmed.status(), 403);
    assert!(!unconfirmed.headers().contains_key(header::SET_COOKIE));
    assert!(unconfirmed
        .text()
        .await
        .unwrap()
        .contains("confirm your e-mail address"));
    let wrong = app
        .post_form("/api/log_in", "login=ada&password=not+it+at+all", None)
        .await;
    assert_eq!(wrong.status(), 401);
    let resent = app.mail_to("ada@example.org");
    let token = common::link_token(&resent.body, "/verify-email/").unwrap();
    assert_ne!(token, first, "the log-in sent a new link");
    let stale = app
        .post_form("/api/verify_email", &format!("token={first}"), None)
        .await;
    assert_eq!(stale.status(), 422, "the newer link replaced the first");

    let confirmed = app
        .post_form("/api/verify_email", &format!("token={token}"), None)
        .await;
    assert!(
        confirmed.status().is_success() || confirmed.status().is_redirection(),
        "{}",
        confirmed.status()
    );
    let (cookie, attributes) = session_cookie(&confirmed);
    assert!(cookie.starts_with("bazaar_session="), "{attributes}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            attributes.contains(attribute),
            "{attributes} lacks {attribute}"
        );
    }
    assert_eq!(viewer(&app, &cookie).await.as_deref(), Some("Ada"));
    assert_eq!(viewer(&app, "bazaar_session=forged").await, None);
    let again = app
        .post_form("/api/verify_email", &format!("token={token}"), None)
        .await;
    assert_eq!(again.status(), 422, "a confirmation link works once");

    let stored = domain::catalog::find_user(&app.state.db, "ada")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.email_verified_at.is_some());
    assert!(stored
        .password_hash
        .unwrap()
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

    let again = app
        .post_form(
            "/api/log_in",
            "login=ADA%40example.org&password=analytical+engine+1843",
            None,
        )
        .await;
    assert_eq!(again.status(), 200);
    let (second, _) = session_cookie(&again);
    assert_ne!(second, cookie, "each log-in gets a new session id");
    assert_eq!(viewer(&app, &second).await.as_deref(), Some("Ada"));
}

async fn log_out_ends_the_session_on_the_server_at_once(app: TestApp) {
    let cookie = ada(&app).await;
    assert_eq!(viewer(&app, &cookie).await.as_deref(), Some("Ada"));
    let response = app.post_form("/api/log_out", "", Some(&cookie)).await;
    let (cleared, attributes) = session_cookie(&response);
    assert_eq!(cleared, "bazaar_session=");
    assert!(attributes.contains("Max-Age=0"), "{attributes}");
    // The old cookie, replayed, no longer works.
    assert_eq!(viewer(&app, &cookie).await, None);
}

async fn bad_credentials_and_bad_fields_are_refused_with_their_status(app: TestApp) {
    app.post_form("/api/sign_up", SIGN_UP, None).await;
    let wrong = app
        .post_form("/api/log_in", "login=ada&password=not+the+password", None)
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.headers().contains_key(header::SET_COOKIE));
    let unknown = app
        .post_form("/api/log_in", "login=nobody&password=whatever+it+is", None)
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
        let response = app.post_form("/api/sign_up", body, None).await;
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
    app.post_form("/api/sign_up", SIGN_UP, None).await;
    let limit = domain::rate_limit::RateLimits::default()
        .log_in_per_account
        .max;
    for attempt in 1..=limit {
        let response = app
            .post_form("/api/log_in", "login=ada&password=not+the+password", None)
            .await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let refused = app
        .post_form(
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

/// A site reached at a public address: pages never show e-mailed links there.
async fn public_site(db: common::Db) -> Option<TestApp> {
    common::spawn_app_with(db, |config| {
        config.public_url = Some("https://bazaar.example".into());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_address_gets_the_same_answer_and_its_owner_is_told_sqlite() {
    let app = public_site(common::Db::Sqlite).await.unwrap();
    a_taken_address_gets_the_same_answer_and_its_owner_is_told(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_address_gets_the_same_answer_and_its_owner_is_told_postgres() {
    match public_site(common::Db::Postgres).await {
        Some(app) => a_taken_address_gets_the_same_answer_and_its_owner_is_told(app).await,
        None => eprintln!("DATABASE_URL is not set; PostgreSQL variant not run"),
    }
}

/// The attack: sign up with an address to learn whether it has an account. The answers to a
/// fresh and a taken address are the same but for the address itself, neither logs in, and
/// only the owner of the taken address hears of it, by e-mail.
async fn a_taken_address_gets_the_same_answer_and_its_owner_is_told(app: TestApp) {
    app.sign_up("owner").await;
    let attempt = |username: &str, email: &str| {
        let body = format!("username={username}&email={email}&password=a+fine+long+passphrase");
        let app = &app;
        async move { app.post_form("/api/sign_up", &body, None).await }
    };
    let fresh = attempt("newcomer", "fresh%40example.org").await;
    let taken = attempt("intruder", "Owner%40Example.org").await;

    let shape = |response: &reqwest::Response| {
        let mut names: Vec<String> = response
            .headers()
            .keys()
            .map(|name| name.as_str().to_owned())
            .filter(|name| name != "date")
            .collect();
        names.sort();
        let value = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        (
            response.status(),
            names,
            value(header::LOCATION),
            value(header::CONTENT_TYPE),
        )
    };
    let (fresh_shape, taken_shape) = (shape(&fresh), shape(&taken));
    assert_eq!(fresh_shape, taken_shape);
    assert_eq!(fresh_shape.0, 200);
    assert!(
        !fresh_shape.1.iter().any(|name| name == "set-cookie"),
        "no session either way: {:?}",
        fresh_shape.1
    );
    let fresh_body = fresh.text().await.unwrap();
    let taken_body = taken.text().await.unwrap();
    assert_eq!(
        fresh_body.replace("fresh@example.org", "<address>"),
        taken_body.replace("owner@example.org", "<address>"),
        "the same answer, modulo the address"
    );
    assert!(fresh_body.contains("fresh@example.org"), "{fresh_body}");
    assert!(
        !fresh_body.contains("verify-email"),
        "no link on a public site: {fresh_body}"
    );

    let told = app.mail_to("owner@example.org");
    assert_eq!(told.subject, "Someone tried to sign up with your address");
    assert!(
        told.body.contains("/forgot-password"),
        "the owner is shown the way in: {}",
        told.body
    );
    assert_eq!(
        app.mail_to("fresh@example.org").subject,
        "Confirm your e-mail address"
    );
    assert!(
        domain::catalog::find_user(&app.state.db, "intruder")
            .await
            .unwrap()
            .is_none(),
        "no account was made with the taken address"
    );
    // The fresh address's account exists but is not usable until its link is followed.
    let early = app.log_in("newcomer", "a fine long passphrase").await;
    assert_eq!(early.status(), 403);
    let confirmed = app.confirm("fresh@example.org").await;
    assert!(confirmed.status().as_u16() < 400, "{}", confirmed.status());
    assert!(confirmed.headers().contains_key(header::SET_COOKIE));
    // A taken username may be said to be taken: usernames are public.
    let name_taken = attempt("newcomer", "another%40example.org").await;
    assert_eq!(name_taken.status(), 422);
    assert!(name_taken.text().await.unwrap().contains("username"));
}

/// Someone signs up first with another person's address and a password of their own. When
/// the address's owner signs up, the e-mail they get lets them choose the password, not
/// confirm the account as it is (which would leave the squatter able to log in).
async fn an_address_squatted_before_its_owner_signs_up_is_won_back_with_a_new_password(
    app: TestApp,
) {
    let squatted = app
        .post_form(
            "/api/sign_up",
            "username=squatter&email=victim%40example.org&password=the+squatter+knows+this",
            None,
        )
        .await;
    assert_eq!(squatted.status(), 200);
    let owner = app.sign_up_only("victim").await;
    assert_eq!(owner.status(), 200);
    let told = app.mail_to("victim@example.org");
    assert_eq!(told.subject, "Someone tried to sign up with your address");
    assert!(!told.body.contains("/verify-email/"), "{}", told.body);
    let token = common::link_token(&told.body, "/reset-password/").expect("a password link");
    let reset = app
        .post_form(
            "/api/reset_password",
            &format!("token={token}&password=the+owner+chose+this"),
            None,
        )
        .await;
    assert!(reset.status().is_success() || reset.status().is_redirection());
    assert_eq!(
        app.log_in("victim@example.org", "the squatter knows this")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.log_in("victim@example.org", "the owner chose this")
            .await
            .status(),
        200,
        "choosing the password confirmed the address"
    );
}
