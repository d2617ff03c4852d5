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
    a_superseded_reset_link_fails,
    parallel_reset_requests_leave_one_live_link,
    a_reset_link_fails_after_a_password_change,
    the_admin_outbox_shows_no_live_token,
    the_audit_log_records_log_ins_and_only_admins_read_it,
    audit_rows_name_who_acted_and_in_what_capacity,
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

async fn a_cross_site_form_post_with_a_valid_session_changes_nothing(app: TestApp) {
    let cookie = app.sign_up("victim").await;
    // Another site's page, and a request that says nothing of where it comes from.
    for (site, origin) in [
        (Some("cross-site"), None),
        (None, Some("https://evil.example")),
        (None, None),
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
    assert_eq!(app.token_count("victim").await, 0, "no token was created");
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
    assert_eq!(app.token_count("scripter").await, 2);
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

/// The reset link's token from the newest e-mail sent to `to`.
fn reset_token(app: &TestApp, to: &str) -> String {
    let mail = app.mail_to(to);
    assert_eq!(mail.subject, "Reset your Bazaar password");
    common::link_token(&mail.body, "/reset-password/").expect("the mail holds a link")
}

async fn ask_for_reset(app: &TestApp, email: &str) {
    let response = app
        .post_form("/api/forgot_password", &format!("email={email}"), None)
        .await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "{}",
        response.status()
    );
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    let body = format!("token={token}&password={}", password.replace(' ', "+"));
    app.post_form("/api/reset_password", &body, None).await
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
    let token = reset_token(&app, "forgetful@example.org");

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

/// The attack: ask twice, use the first link (one that leaked from an older message).
async fn a_superseded_reset_link_fails(app: TestApp) {
    app.sign_up("twice").await;
    ask_for_reset(&app, "twice%40example.org").await;
    let first = reset_token(&app, "twice@example.org");
    ask_for_reset(&app, "twice%40example.org").await;
    let second = reset_token(&app, "twice@example.org");
    assert_ne!(first, second);
    let old = reset(&app, &first, "a superseded passphrase").await;
    assert_eq!(
        old.status(),
        422,
        "the earlier link died with the newer request"
    );
    assert!(old.text().await.unwrap().contains("token"));
    assert_eq!(app.log_in("twice", PASSWORD).await.status(), 200);
    let new = reset(&app, &second, "the newest passphrase").await;
    assert!(new.status().as_u16() < 400, "{}", new.status());
    assert_eq!(
        app.log_in("twice", "the newest passphrase").await.status(),
        200
    );
}

/// The attack: ask several times at once, hoping two links survive. The database keeps one
/// link per account and purpose, whatever the interleaving.
async fn parallel_reset_requests_leave_one_live_link(app: TestApp) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let user = {
        app.sign_up("racer").await;
        domain::catalog::find_user(&app.state.db, "racer")
            .await
            .unwrap()
            .unwrap()
    };
    let requests = (0..4).map(|_| ask_for_reset(&app, "racer%40example.org"));
    futures::future::join_all(requests).await;
    let sent: Vec<String> = app
        .mail
        .all()
        .into_iter()
        .filter(|m| m.subject == "Reset your Bazaar password")
        .filter_map(|m| common::link_token(&m.body, "/reset-password/"))
        .collect();
    assert_eq!(sent.len(), 4);
    let live = domain::entities::mail_token::Entity::find()
        .filter(domain::entities::mail_token::Column::UserId.eq(user.id))
        .filter(domain::entities::mail_token::Column::Purpose.eq("password_reset"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(live.len(), 1, "one live reset link");
    let working: Vec<&String> = sent
        .iter()
        .filter(|token| domain::secrets::hash_secret(token) == live[0].token_hash)
        .collect();
    assert_eq!(working.len(), 1);
    for token in sent.iter().filter(|t| *t != working[0]) {
        assert_eq!(
            reset(&app, token, "a racing passphrase").await.status(),
            422
        );
    }
    let used = reset(&app, working[0], "the one live passphrase").await;
    assert!(used.status().as_u16() < 400, "{}", used.status());
}

/// The attack: a reset link asked for (by anyone) before the owner changed the password
/// would undo the change.
async fn a_reset_link_fails_after_a_password_change(app: TestApp) {
    let cookie = app.sign_up("changer").await;
    ask_for_reset(&app, "changer%40example.org").await;
    let token = reset_token(&app, "changer@example.org");
    let changed = app
        .post_form(
            "/api/change_password",
            "current_password=correct+horse+battery+staple&new_password=the+owner+s+new+passphrase",
            Some(&cookie),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let late = reset(&app, &token, "the attacker s passphrase").await;
    assert_eq!(late.status(), 422, "the change ended the reset link");
    assert_eq!(
        app.log_in("changer", "the owner s new passphrase")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.log_in("changer", "the attacker s passphrase")
            .await
            .status(),
        401
    );
}

/// The attack: an admin (or whoever reads the admin pages) takes a reset link from the
/// outbox. What it shows is no token; the real message still reached its recipient.
async fn the_admin_outbox_shows_no_live_token(app: TestApp) {
    app.sign_up("victim").await;
    let admin = app.sign_up("peeker").await;
    make_admin(&app, "peeker").await;
    ask_for_reset(&app, "victim%40example.org").await;
    let live = reset_token(&app, "victim@example.org");

    let listed = app.post_form("/api/outbox", "", Some(&admin)).await;
    assert_eq!(listed.status(), 200);
    let rows: Vec<serde_json::Value> = listed.json().await.unwrap();
    let (status, page) = {
        let response = app
            .client
            .get(app.url("/admin/outbox"))
            .header(header::COOKIE, &admin)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    assert_eq!(status, 200);
    let reset_mail = rows
        .iter()
        .find(|row| row["subject"] == "Reset your Bazaar password")
        .expect("the outbox lists the reset e-mail");
    let body = reset_mail["body"].as_str().unwrap();
    assert!(body.contains("/reset-password/[redacted]"), "{body}");
    for shown in [body, page.as_str()] {
        assert!(!shown.contains(&live), "a live token is shown");
        for path in ["/reset-password/", "/verify-email/"] {
            for piece in shown.split(path).skip(1) {
                let candidate: String = piece
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '<')
                    .collect();
                let encoded: String =
                    url::form_urlencoded::byte_serialize(candidate.as_bytes()).collect();
                let tried = reset(&app, &encoded, "an admin s passphrase").await;
                assert_eq!(tried.status(), 422, "{candidate:?} from the outbox works");
                let confirm = app
                    .post_form("/api/verify_email", &format!("token={encoded}"), None)
                    .await;
                assert_eq!(confirm.status(), 422, "{candidate:?} confirms something");
            }
        }
    }
    // The recipient's own copy works.
    let used = reset(&app, &live, "the victim s new passphrase").await;
    assert!(used.status().as_u16() < 400, "{}", used.status());
}

/// Each audited action names its actor and the capacity they acted in, and the admin page
/// shows both.
async fn audit_rows_name_who_acted_and_in_what_capacity(app: TestApp) {
    let cookie = app.sign_up("actor").await;
    assert_eq!(
        app.log_in("actor", "not the passphrase").await.status(),
        401
    );
    ask_for_reset(&app, "actor%40example.org").await;
    let operator = domain::accounts::SignUp {
        username: "made-by-cli",
        email: "cli@example.org",
        password: "an operator passphrase",
    };
    domain::accounts::create_by_operator(
        &app.state,
        operator,
        domain::accounts::OperatorGrants {
            admin: false,
            publisher: false,
        },
    )
    .await
    .unwrap();
    make_admin(&app, "actor").await;
    let log = app.post_form("/api/audit_log", "", Some(&cookie)).await;
    assert_eq!(log.status(), 200);
    let rows: Vec<serde_json::Value> = log.json().await.unwrap();
    let row = |action: &str| {
        rows.iter()
            .find(|r| r["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {rows:?}"))
    };
    let who = |action: &str| {
        let r = row(action);
        (
            r["actor"].as_str().unwrap().to_owned(),
            r["actor_kind"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(who("sign_up"), ("anonymous".into(), "visitor".into()));
    assert_eq!(row("sign_up")["subject"], "actor");
    assert_eq!(who("email_verified"), ("actor".into(), "user".into()));
    assert_eq!(who("log_in"), ("actor".into(), "user".into()));
    assert_eq!(who("log_in_failed"), ("anonymous".into(), "visitor".into()));
    assert_eq!(row("log_in_failed")["subject"], "actor");
    assert_eq!(
        who("password_reset_request"),
        ("anonymous".into(), "visitor".into()),
        "whoever asked for a reset is not known to be the owner"
    );
    assert_eq!(who("admin_create"), ("operator".into(), "cli".into()));
    for r in &rows {
        assert!(
            !r["actor"].as_str().unwrap().is_empty()
                && !r["actor_kind"].as_str().unwrap().is_empty(),
            "{r}"
        );
    }
    let page = app
        .client
        .get(app.url("/admin/audit"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in ["(visitor)", "(user)", "(cli)", "operator", "anonymous"] {
        assert!(page.contains(shown), "the audit page shows {shown}");
    }
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
    let created = app.cli(
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
    let weak = app.cli(
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

    let token = app.cli(
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
    // The operator made the account and the token, not the account itself.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    for action in ["admin_create", "token_create"] {
        let row = domain::entities::audit_entry::Entity::find()
            .filter(domain::entities::audit_entry::Column::Action.eq(action))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no {action} row"));
        assert_eq!(
            (
                row.actor_kind.as_str(),
                row.actor_name.as_str(),
                row.actor_id
            ),
            ("cli", "operator", None),
            "{action}"
        );
        assert!(row.subject.contains("root-op"), "{}", row.subject);
    }
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
    let behind_proxy = |path: &str, body: String| {
        app.client
            .post(app.url(path))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-forwarded-for", "6.6.6.6, 203.0.113.7")
            .header("x-forwarded-proto", "https")
            .body(body)
            .send()
    };
    let signed_up = behind_proxy(
        "/api/sign_up",
        "username=secure&email=secure%40example.org&password=a+fine+long+passphrase".into(),
    )
    .await
    .unwrap();
    assert_eq!(signed_up.status(), 200);
    assert!(!signed_up.headers().contains_key(header::SET_COOKIE));
    let hsts = signed_up.headers()[header::STRICT_TRANSPORT_SECURITY]
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age=31536000"), "{hsts}");
    let token =
        common::link_token(&app.mail_to("secure@example.org").body, "/verify-email/").unwrap();
    let response = behind_proxy("/api/verify_email", format!("token={token}"))
        .await
        .unwrap();
    assert!(response.status().as_u16() < 400, "{}", response.status());
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
