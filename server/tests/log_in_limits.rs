//! The log-in limits under attack: parallel guesses, the username and the e-mail address of
//! one account, the owner's device cookie while strangers are throttled, long keys, and
//! IPv6 clients counted by /64.
mod common;

use common::{Db, TestApp};
use http::header;

on_each_database!(
    twenty_parallel_wrong_passwords_get_at_most_the_limit_answered_401,
    the_username_and_the_email_address_share_one_count,
    the_owner_with_a_device_cookie_gets_in_while_the_account_is_throttled,
    a_long_log_in_name_is_counted_like_any_other,
    a_password_change_ends_every_device_cookie,
);

const OWNER_PASSWORD: &str = "the owner's own passphrase";

/// An account with a confirmed address, made without the sign-up form.
async fn account(app: &TestApp, username: &str) {
    let email = format!("{username}@example.org");
    let new = domain::accounts::SignUp {
        username,
        email: &email,
        password: OWNER_PASSWORD,
    };
    domain::accounts::create_by_operator(&app.state, new, Default::default())
        .await
        .unwrap();
}

async fn log_in(
    app: &TestApp,
    login: &str,
    password: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let body = format!(
        "login={}&password={}",
        urlencoding(login),
        urlencoding(password)
    );
    app.post_form("/api/log_in", &body, cookie).await
}

fn urlencoding(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The full `Set-Cookie` line of the cookie called `name`, if the response sets it.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|line| line.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn pair(line: &str) -> String {
    line.split(';').next().unwrap().trim().to_owned()
}

fn limits() -> domain::rate_limit::RateLimits {
    domain::rate_limit::RateLimits::default()
}

async fn statuses(responses: Vec<reqwest::Response>) -> (usize, usize, Vec<u16>) {
    let codes: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    let count = |code| codes.iter().filter(|&&c| c == code).count();
    (count(401), count(429), codes)
}

async fn twenty_parallel_wrong_passwords_get_at_most_the_limit_answered_401(app: TestApp) {
    account(&app, "target").await;
    let guesses = (0..20).map(|i| {
        let app = &app;
        async move { log_in(app, "target", &format!("guess number {i}"), None).await }
    });
    let responses = futures::future::join_all(guesses).await;
    let (unauthorized, limited, codes) = statuses(responses).await;
    let limit = limits().log_in_per_account.max as usize;
    assert_eq!(unauthorized, limit, "{codes:?}");
    assert_eq!(limited, 20 - limit, "the rest are refused: {codes:?}");
    // The right password from a browser without a device cookie waits out the window too.
    let refused = log_in(&app, "target", OWNER_PASSWORD, None).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    assert!(!refused.headers().contains_key(header::SET_COOKIE));
}

async fn the_username_and_the_email_address_share_one_count(app: TestApp) {
    account(&app, "shared").await;
    let limit = limits().log_in_per_account.max;
    let logins = [
        "shared",
        "Shared@Example.org",
        "SHARED",
        " shared@example.org ",
    ];
    for attempt in 0..limit {
        let login = logins[attempt as usize % logins.len()];
        let response = log_in(&app, login, "not the password", None).await;
        assert_eq!(response.status(), 401, "attempt {attempt} as {login:?}");
    }
    // The account has had its guesses, spread over both names: neither name lets even the
    // right password in. The answer is a wrong password's, as for an address with no
    // account: a 429 here would tell a stranger that the two names are one account.
    for login in ["shared", "shared@example.org"] {
        assert_eq!(
            log_in(&app, login, OWNER_PASSWORD, None).await.status(),
            401,
            "{login} is the same account"
        );
    }
    assert_eq!(
        log_in(&app, "nobody@example.org", OWNER_PASSWORD, None)
            .await
            .status(),
        401
    );
    // Another account is not touched by the guesses.
    account(&app, "bystander").await;
    assert_eq!(
        log_in(&app, "bystander@example.org", OWNER_PASSWORD, None)
            .await
            .status(),
        200
    );
    // One name hammered is answered 429 at the same point, whether or not it has an account
    // (well within the per-address limit).
    for login in ["shared", "nobody@example.org"] {
        let mut answers = Vec::new();
        while answers.last() != Some(&429) && answers.len() <= limit as usize {
            let answer = log_in(&app, login, "not the password", None).await;
            answers.push(answer.status().as_u16());
        }
        assert_eq!(answers.last(), Some(&429), "{login}: {answers:?}");
    }
}

async fn the_owner_with_a_device_cookie_gets_in_while_the_account_is_throttled(app: TestApp) {
    account(&app, "owner").await;
    account(&app, "mallory").await;
    let first = log_in(&app, "owner", OWNER_PASSWORD, None).await;
    assert_eq!(first.status(), 200);
    let line = set_cookie(&first, "bazaar_device").expect("a device cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=31536000"] {
        assert!(line.contains(attribute), "{line}");
    }
    let device = pair(&line);
    let token = device.split_once('=').unwrap().1;
    use sea_orm::EntityTrait;
    let stored = domain::entities::login_device::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].id_hash,
        domain::secrets::hash_secret(token),
        "kept as a hash"
    );
    assert_ne!(stored[0].id_hash, token);

    // Strangers guess until the account is throttled for everyone without the cookie.
    for _ in 0..limits().log_in_per_account.max + 3 {
        log_in(&app, "owner@example.org", "a stranger's guess", None).await;
    }
    // Through a name the strangers did not use, the answer is a wrong password's: a 429
    // would tell them it is the same account.
    assert_eq!(
        log_in(&app, "owner", OWNER_PASSWORD, None).await.status(),
        401,
        "the right password without the cookie is refused"
    );
    // A device cookie of another account (the attacker's own) is no way round it.
    let mallorys = log_in(&app, "mallory", OWNER_PASSWORD, None).await;
    let mallory_device = pair(&set_cookie(&mallorys, "bazaar_device").unwrap());
    assert_eq!(
        log_in(&app, "owner", OWNER_PASSWORD, Some(&mallory_device))
            .await
            .status(),
        401
    );
    // Nor is a made-up one.
    assert_eq!(
        log_in(
            &app,
            "owner",
            OWNER_PASSWORD,
            Some("bazaar_device=0123abcd")
        )
        .await
        .status(),
        401
    );

    // The owner's browser gets in, with a working session, keeping its device cookie.
    let back = log_in(&app, "owner", OWNER_PASSWORD, Some(&device)).await;
    assert_eq!(back.status(), 200);
    assert_eq!(
        pair(&set_cookie(&back, "bazaar_device").unwrap()),
        device,
        "the same device, extended"
    );
    let session = pair(&set_cookie(&back, "bazaar_session").unwrap());
    let me: serde_json::Value = app
        .api_get("/api/v1/whoami", common::Auth::Cookie(&session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "owner");

    // The cookie is not a free pass for guessing: it has a limit of its own.
    let per_device = limits().log_in_per_device.max;
    for attempt in 0..per_device {
        let guess = log_in(&app, "owner", "a thief's guess", Some(&device)).await;
        assert_eq!(guess.status(), 401, "attempt {attempt} with the cookie");
    }
    assert_eq!(
        log_in(&app, "owner", "a thief's guess", Some(&device))
            .await
            .status(),
        429
    );
}

async fn a_long_log_in_name_is_counted_like_any_other(app: TestApp) {
    // Rate-limit keys longer than any fixed column width work on both databases.
    let key = format!("test:{}", "k".repeat(300));
    let limit = domain::rate_limit::Limit {
        max: 1,
        window: chrono::Duration::minutes(5),
    };
    let now = chrono::Utc::now();
    domain::rate_limit::hit(&app.state.db, &key, limit, now)
        .await
        .unwrap();
    assert!(matches!(
        domain::rate_limit::hit(&app.state.db, &key, limit, now).await,
        Err(domain::DomainError::RateLimited { .. })
    ));

    let name = "n".repeat(300);
    for attempt in 0..limits().log_in_per_account.max {
        let response = log_in(&app, &name, "whatever it is", None).await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    assert_eq!(
        log_in(&app, &name, "whatever it is", None).await.status(),
        429,
        "a name without an account is limited like an account"
    );
}

/// Behind a trusted proxy, IPv6 clients are counted by /64: another address in the same
/// /64 is the same client, another /64 is not.
async fn ipv6_clients_share_a_count_within_a_64(db: Db) {
    let Some(app) = common::spawn_app_with(db, |config| {
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await
    else {
        return eprintln!("DATABASE_URL is not set; PostgreSQL variant not run");
    };
    let from = |client: String, name: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/log_in"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "same-origin")
                .header("x-forwarded-for", client)
                .body(format!("login={name}&password=some+guess+here"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let per_ip = limits().log_in_per_ip.max;
    for i in 0..per_ip {
        // A new address and a new name each time: only the address count can stop it.
        let status = from(format!("2001:db8:1:2::{:x}", i + 1), format!("nobody{i}")).await;
        assert_eq!(status, 401, "attempt {i}");
    }
    assert_eq!(
        from("2001:db8:1:2:ffff:ffff:ffff:ffff".into(), "someone".into()).await,
        429,
        "the same /64"
    );
    assert_eq!(
        from("2001:db8:1:3::1".into(), "someone".into()).await,
        401,
        "another /64"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_share_a_count_within_a_64_sqlite() {
    ipv6_clients_share_a_count_within_a_64(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_share_a_count_within_a_64_postgres() {
    ipv6_clients_share_a_count_within_a_64(Db::Postgres).await;
}

/// A browser that logged in with the old password keeps no way past the account's limit.
async fn a_password_change_ends_every_device_cookie(app: TestApp) {
    use sea_orm::EntityTrait;
    account(&app, "changer").await;
    let first = log_in(&app, "changer", OWNER_PASSWORD, None).await;
    assert_eq!(first.status(), 200);
    let session = pair(&set_cookie(&first, "bazaar_session").unwrap());
    let devices = || domain::entities::login_device::Entity::find().all(&app.state.db);
    assert_eq!(devices().await.unwrap().len(), 1);
    let body = format!(
        "current_password={}&new_password=a+brand+new+passphrase",
        OWNER_PASSWORD.replace(' ', "+").replace('\'', "%27")
    );
    let changed = app
        .post_form("/api/change_password", &body, Some(&session))
        .await;
    assert!(changed.status().is_success(), "{}", changed.status());
    assert!(devices().await.unwrap().is_empty());
}
