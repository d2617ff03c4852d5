//! The account rules as a client meets them over HTTP: CSRF, API tokens, sessions ending,
//! password change and reset, the audit log, and the operator CLI.
mod common;

use common::{make_admin, session_cookie_of, Auth, TestApp, PASSWORD};
use http::header;

on_each_database!(
    a_cross_site_form_post_with_a_valid_session_changes_nothing,
    a_token_works_within_its_scope_and_stops_at_once_when_revoked,
    changing_the_password_ends_the_other_sessions,
    a_reset_link_works_once_and_ends_every_session,
    the_audit_log_records_log_ins_and_only_admins_read_it,
);

async fn create_token(app: &TestApp, cookie: &str, name: &str, scope: &str) -> (i64, String) {
    let body = format!("name={name}&scope={scope}&expires_in_days=30");
    let response = app
        .post_form("/api/create_token", &body, Some(cookie))
        .await;
    assert_eq!(response.status(), 200, "create_token");
    let created: serde_json::Value = response.json().await.unwrap();
    (
        created["token"]["id"].as_i64().unwrap(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

async fn token_count(app: &TestApp, username: &str) -> usize {
    let user = domain::catalog::find_user(&app.state.db, username)
        .await
        .unwrap()
        .unwrap();
    domain::tokens::list(&app.state.db, user.id)
        .await
        .unwrap()
        .len()
}

async fn a_cross_site_form_post_with_a_valid_session_changes_nothing(app: TestApp) {
    let cookie = app.sign_up("victim").await;
    for (site, origin) in [
        (Some("cross-site"), None),
        (None, Some("https://evil.example")),
    ] {
        let mut request = app
            .client
            .post(app.url("/api/create_token"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .body("name=stolen&scope=write");
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{site:?} {origin:?}");
    }
    assert_eq!(token_count(&app, "victim").await, 0, "no token was created");
    let response = app.post_form("/api/log_out", "", Some(&cookie)).await;
    assert!(response.status().is_success() || response.status().is_redirection());
}

async fn a_token_works_within_its_scope_and_stops_at_once_when_revoked(app: TestApp) {
    let cookie = app.sign_up("scripter").await;
    let (read_id, read) = create_token(&app, &cookie, "reader", "read").await;
    let (_, write) = create_token(&app, &cookie, "writer", "write").await;
    assert!(read.starts_with("bzr_") && read.len() > 60, "{read}");

    let me = app.api_get("/api/v1/whoami", Auth::Bearer(&read)).await;
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(
        (me["username"].as_str(), me["scope"].as_str()),
        (Some("scripter"), Some("read"))
    );

    // A read token cannot write; a write token can.
    let revoke_with = |secret: &str, id: i64| {
        app.client
            .delete(app.url(&format!("/api/v1/tokens/{id}")))
            .bearer_auth(secret.to_owned())
            .send()
    };
    assert_eq!(revoke_with(&read, read_id).await.unwrap().status(), 403);
    assert_eq!(token_count(&app, "scripter").await, 2);
    assert_eq!(revoke_with(&write, read_id).await.unwrap().status(), 204);

    let after = app.api_get("/api/v1/whoami", Auth::Bearer(&read)).await;
    assert_eq!(after.status(), 401, "revoked: refused at once");
    assert!(after.headers().contains_key(header::WWW_AUTHENTICATE));
    let forged = app
        .api_get("/api/v1/whoami", Auth::Bearer("bzr_0000"))
        .await;
    assert_eq!(forged.status(), 401);
    assert_eq!(
        app.api_get("/api/v1/whoami", Auth::Nobody).await.status(),
        401
    );

    // Listed with last use; the secret is never shown again.
    let list: serde_json::Value = app
        .api_get("/api/v1/tokens", Auth::Bearer(&write))
        .await
        .json()
        .await
        .unwrap();
    let tokens = list["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["name"], "writer");
    assert!(!tokens[0]["last_used_at"].is_null());
    assert!(
        !list.to_string().contains(&write[4..]),
        "no secret in the listing"
    );

    let bad = app
        .post_form("/api/create_token", "name=&scope=admin", Some(&cookie))
        .await;
    assert_eq!(bad.status(), 422);
}

async fn changing_the_password_ends_the_other_sessions(app: TestApp) {
    let here = app.sign_up("mover").await;
    let elsewhere = session_cookie_of(&app.log_in("mover", PASSWORD).await);
    let who = |cookie: String| {
        let app = &app;
        async move {
            app.api_get("/api/v1/whoami", Auth::Cookie(&cookie))
                .await
                .status()
        }
    };
    assert_eq!(who(elsewhere.clone()).await, 200);

    let wrong = app
        .post_form(
            "/api/change_password",
            "current_password=not+it+at+all&new_password=a+brand+new+passphrase",
            Some(&here),
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("current_password"));
    assert_eq!(
        who(elsewhere.clone()).await,
        200,
        "a refused change ends nothing"
    );

    let changed = app
        .post_form(
            "/api/change_password",
            "current_password=correct+horse+battery+staple&new_password=a+brand+new+passphrase",
            Some(&here),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(who(elsewhere).await, 401, "the other session ended");
    assert_eq!(who(here).await, 200, "this one goes on");
    assert_eq!(app.log_in("mover", PASSWORD).await.status(), 401);
    assert_eq!(
        app.log_in("mover", "a brand new passphrase").await.status(),
        200
    );
}

/// The reset link from the newest e-mail in the outbox.
async fn reset_token_from_outbox(app: &TestApp) -> String {
    use sea_orm::{EntityTrait, QueryOrder};
    let mail = domain::entities::outbox::Entity::find()
        .order_by_desc(domain::entities::outbox::Column::Id)
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("an e-mail was written");
    assert_eq!(mail.recipient, "forgetful@example.org");
    let link = mail
        .body
        .split_whitespace()
        .find(|word| word.contains("/reset-password/"))
        .expect("the mail holds a link");
    link.rsplit('/').next().unwrap().to_owned()
}

async fn a_reset_link_works_once_and_ends_every_session(app: TestApp) {
    let session = app.sign_up("forgetful").await;
    let unknown = app
        .post_form("/api/forgot_password", "email=nobody%40example.org", None)
        .await;
    let known = app
        .post_form(
            "/api/forgot_password",
            "email=Forgetful%40example.org",
            None,
        )
        .await;
    assert_eq!(unknown.status(), known.status(), "no account enumeration");
    let token = reset_token_from_outbox(&app).await;

    let weak = app
        .post_form(
            "/api/reset_password",
            &format!("token={token}&password=password1"),
            None,
        )
        .await;
    assert_eq!(
        weak.status(),
        422,
        "a refused password leaves the link usable"
    );
    let reset = app
        .post_form(
            "/api/reset_password",
            &format!("token={token}&password=a+completely+new+one"),
            None,
        )
        .await;
    assert!(
        reset.status().is_success() || reset.status().is_redirection(),
        "{}",
        reset.status()
    );
    let again = app
        .post_form(
            "/api/reset_password",
            &format!("token={token}&password=yet+another+new+one"),
            None,
        )
        .await;
    assert_eq!(again.status(), 422, "single use");
    assert!(again.text().await.unwrap().contains("token"));

    assert_eq!(
        app.api_get("/api/v1/whoami", Auth::Cookie(&session))
            .await
            .status(),
        401,
        "every session ended"
    );
    assert_eq!(app.log_in("forgetful", PASSWORD).await.status(), 401);
    assert_eq!(
        app.log_in("forgetful", "a completely new one")
            .await
            .status(),
        200
    );
}

async fn the_audit_log_records_log_ins_and_only_admins_read_it(app: TestApp) {
    let cookie = app.sign_up("auditor").await;
    assert_eq!(
        app.log_in("auditor", "wrong password here").await.status(),
        401
    );
    let denied = app.post_form("/api/audit_log", "", Some(&cookie)).await;
    assert_eq!(denied.status(), 403);
    make_admin(&app, "auditor").await;
    let log = app.post_form("/api/audit_log", "", Some(&cookie)).await;
    assert_eq!(log.status(), 200);
    let rows: Vec<serde_json::Value> = log.json().await.unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"log_in"), "{actions:?}");
    assert!(actions.contains(&"log_in_failed"), "{actions:?}");
    let (status, page) = app.get_text("/admin/audit").await;
    assert_eq!(
        status, 401,
        "anonymous visitors get the log-in prompt: {page:.200}"
    );
}

/// `bazaar admin create` and `admin token` work on the same database while a server runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_cli_creates_an_admin_and_a_working_token() {
    let app = common::spawn_app(common::Db::Sqlite).await.unwrap();
    let cli = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
            .args(args)
            .args([
                "--database-url",
                &app.database_url,
                "--data-dir",
                app.data_dir.to_str().unwrap(),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let created = cli(
        &[
            "admin",
            "create",
            "--username",
            "root-op",
            "--email",
            "ops@example.org",
            "--admin",
        ],
        "an operator passphrase\n",
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let weak = cli(
        &[
            "admin",
            "create",
            "--username",
            "weak-op",
            "--email",
            "weak@example.org",
        ],
        "password\n",
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));

    let token = cli(
        &[
            "admin",
            "token",
            "--username",
            "root-op",
            "--name",
            "ci",
            "--scope",
            "write",
        ],
        "",
    );
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let secret = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let me: serde_json::Value = app
        .api_get("/api/v1/whoami", Auth::Bearer(&secret))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "root-op");
    assert_eq!(me["is_admin"], true);
    assert_eq!(me["scope"], "write");
    assert_eq!(
        app.log_in("root-op", "an operator passphrase")
            .await
            .status(),
        200
    );
}

/// Behind a trusted https proxy: `__Host-` Secure cookie, HSTS, and the client address the
/// proxy reports (rightmost untrusted) is the one rate limits and the audit log see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_https_proxy_cookies_are_host_bound_and_hsts_is_sent() {
    let app = common::spawn_app_with(common::Db::Sqlite, |config| {
        config.public_url = Some("https://bazaar.example".into());
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await
    .unwrap();
    let response = app
        .client
        .post(app.url("/api/sign_up"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.7")
        .header("x-forwarded-proto", "https")
        .body("username=secure&email=secure%40example.org&password=a+fine+long+passphrase")
        .send()
        .await
        .unwrap();
    assert!(response.status().as_u16() < 400, "{}", response.status());
    let hsts = response.headers()[header::STRICT_TRANSPORT_SECURITY]
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age=31536000"), "{hsts}");
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.starts_with("__Host-bazaar_session="),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    let cookie = session_cookie_of(&response);
    let me = app.api_get("/api/v1/whoami", Auth::Cookie(&cookie)).await;
    assert_eq!(
        me.status(),
        200,
        "the __Host- cookie is the one read over https"
    );

    use sea_orm::{EntityTrait, QueryOrder};
    let entry = domain::entities::audit_entry::Entity::find()
        .order_by_desc(domain::entities::audit_entry::Column::Id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (entry.action.as_str(), entry.ip.as_str()),
        ("log_in", "203.0.113.7")
    );
}
