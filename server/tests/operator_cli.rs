//! The operator's path without a browser: `bazaar admin create --publisher`, `admin token`,
//! `bazaar push`; `admin publisher` for an existing account; and CLI errors printed once,
//! without a backtrace.
mod common;

use std::process::{Command, Output};

use common::TestApp;

on_each_database!(
    an_operator_made_publisher_pushes_without_a_browser,
    an_existing_account_is_made_a_publisher_from_the_cli,
    a_catalog_on_disk_is_seeded_once_and_a_broken_one_leaves_nothing,
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

/// A seed catalog in a directory, as the run command prepares all-MiniLM-L6-v2: one publisher,
/// one open model whose card names its demo and tokenizer.
fn catalog_dir(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let listed = files
        .iter()
        .map(|f| format!("{f:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        dir.path().join("catalog.toml"),
        format!(
            "[[publisher]]\nusername = \"disk-lab\"\ndisplay_name = \"Disk Lab\"\nbio = \"\"\n\n\
             [[model]]\nowner = \"disk-lab\"\nslug = \"embedder\"\nname = \"Embedder\"\n\
             summary = \"Embeds sentences.\"\ntask = \"text-embedding\"\ntags = [\"onnx\"]\n\
             license = \"open\"\nspdx = \"Apache-2.0\"\nprice_cents = 0\nversion = \"1.0.0\"\n\
             changelog = \"First.\"\nfiles = [{listed}]\n"
        ),
    )
    .unwrap();
    let model = dir.path().join("embedder");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(
        model.join("README.md"),
        "---\nlicense: apache-2.0\ndemo:\n  file: model.onnx\n  task: text-embedding\n  \
         tokenizer: tokenizer.json\n---\n# Embedder\n",
    )
    .unwrap();
    // A real ONNX file (the seeded digit model) stands in for the embedder's weights.
    let onnx = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../seed/digit-classifier/model.onnx"
    );
    std::fs::copy(onnx, model.join("model.onnx")).unwrap();
    std::fs::write(
        model.join("tokenizer.json"),
        "{\"model\": {\"type\": \"WordPiece\"}}",
    )
    .unwrap();
    dir
}

async fn a_catalog_on_disk_is_seeded_once_and_a_broken_one_leaves_nothing(app: TestApp) {
    // A catalog naming a file its folder lacks: refused by name, and no listing is left.
    let broken = catalog_dir(&["model.onnx", "weights.bin", "README.md"]);
    let catalog = broken.path().to_str().unwrap();
    let output = app.cli(&["seed", "--catalog", catalog], "");
    failed_once_with(&output, "seed file embedder/weights.bin is missing");
    assert!(!published(&app, "disk-lab", "embedder").await);

    let dir = catalog_dir(&["model.onnx", "tokenizer.json", "README.md"]);
    let catalog = dir.path().to_str().unwrap();
    let first = succeeded(&app.cli(&["seed", "--catalog", catalog], ""));
    assert_eq!(first.trim(), "seeded 1 new model; 0 already present");
    assert!(published(&app, "disk-lab", "embedder").await);
    let again = succeeded(&app.cli(&["seed", "--catalog", catalog], ""));
    assert_eq!(again.trim(), "seeded 0 new models; 1 already present");

    // The model page offers the demo with its tokenizer, public beside it.
    let (_, page) = app.get_text("/disk-lab/embedder").await;
    let tokenizer = "/api/v1/models/disk-lab/embedder/versions/1.0.0/files/tokenizer.json";
    assert!(
        page.contains(&format!("data-try-tokenizer=\"{tokenizer}\"")),
        "{page}"
    );
    assert_eq!(app.get(tokenizer).await.status(), 200);
}
