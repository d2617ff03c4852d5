//! The operator's path without a browser: `bazaar admin create --publisher`, `admin token`,
//! `bazaar push`; `admin publisher` for an existing account; and CLI errors printed once,
//! without a backtrace.
mod common;

use std::process::{Command, Output};

use common::TestApp;

on_each_database!(
    an_operator_made_publisher_pushes_without_a_browser,
    an_existing_account_is_made_a_publisher_from_the_cli,
);

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Asserts the command failed and said `message` exactly once, with no backtrace.
fn failed_once_with(output: &Output, message: &str) {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches(message).count(), 1, "{stderr}");
    assert!(
        !stderr.to_lowercase().contains("backtrace"),
        "no backtrace: {stderr}"
    );
}

fn create(app: &TestApp, username: &str, extra: &[&str]) -> String {
    let email = format!("{username}@example.org");
    let mut args = vec!["admin", "create", "--username", username, "--email", &email];
    args.extend_from_slice(extra);
    succeeded(&app.cli(&args, "an operator passphrase\n"))
}

fn token(app: &TestApp, username: &str) -> String {
    let args = [
        "admin",
        "token",
        "--username",
        username,
        "--name",
        "ci",
        "--scope",
        "write",
    ];
    succeeded(&app.cli(&args, "")).trim().to_owned()
}

fn push(app: &TestApp, token: &str, model: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("README.md"),
        "---\nlicense: mit\npipeline_tag: text-classification\n---\n# Tiny\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("vocab.txt"), "[PAD]\n[UNK]\nhello\n").unwrap();
    Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .arg("push")
        .arg(dir.path())
        .args(["--endpoint", &app.url("")])
        .args(["--model", model, "--version", "1.0.0", "--publish"])
        .env("BAZAAR_TOKEN", token)
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .output()
        .unwrap()
}

async fn published(app: &TestApp, owner: &str, slug: &str) -> bool {
    domain::catalog::model_detail(&app.state.db, owner, slug)
        .await
        .unwrap()
        .is_some()
}

async fn an_operator_made_publisher_pushes_without_a_browser(app: TestApp) {
    let created = create(&app, "root-op", &["--admin", "--publisher"]);
    assert!(created.contains("publisher"), "{created}");
    let secret = token(&app, "root-op");
    let pushed = push(&app, &secret, "root-op/tiny");
    succeeded(&pushed);
    assert!(published(&app, "root-op", "tiny").await);

    // Recorded as the operator's doing, not the account's.
    use domain::entities::audit_entry;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let enabled = audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq("publishing_enable"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        (enabled.actor_name.as_str(), enabled.subject.as_str()),
        ("operator", "root-op")
    );
}

async fn an_existing_account_is_made_a_publisher_from_the_cli(app: TestApp) {
    // An account made without --publisher, even an admin, cannot publish yet: the push
    // fails with the server's reason, said once, without a backtrace.
    create(&app, "late-op", &["--admin"]);
    let secret = token(&app, "late-op");
    let refused = push(&app, &secret, "late-op/tiny");
    failed_once_with(&refused, "enable publishing on your account first");
    assert!(!published(&app, "late-op", "tiny").await);

    let granted = succeeded(&app.cli(&["admin", "publisher", "--username", "late-op"], ""));
    assert!(granted.contains("late-op"), "{granted}");
    succeeded(&push(&app, &secret, "late-op/tiny"));
    assert!(published(&app, "late-op", "tiny").await);
    // Asking again changes nothing and is no error.
    succeeded(&app.cli(&["admin", "publisher", "--username", "late-op"], ""));

    // Errors of the CLI itself: once, naming what was wrong, no backtrace.
    let unknown = app.cli(&["admin", "publisher", "--username", "nobody"], "");
    failed_once_with(&unknown, "no user account is called 'nobody'");
    let weak = app.cli(
        &[
            "admin",
            "create",
            "--username",
            "weak-op",
            "--email",
            "weak@example.org",
            "--publisher",
        ],
        "password\n",
    );
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert_eq!(stderr.matches("password:").count(), 1, "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    assert!(domain::catalog::find_user(&app.state.db, "weak-op")
        .await
        .unwrap()
        .is_none());
}
