//! `bazaar push` against a running server: creates the model and version, uploads a folder,
//! publishes; refusals end the command with the server's message.
mod common;

use std::process::Command;

use common::TestApp;

fn push(app: &TestApp, token: &str, dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .arg("push")
        .arg(dir)
        .args(["--endpoint", &app.url("")])
        .args(extra)
        .env("BAZAAR_TOKEN", token)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_uploads_a_folder_publishes_it_and_reports_refusals() {
    let app = common::spawn_app(common::Db::Sqlite).await.unwrap();
    let token = app.publisher_token("pusher").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("README.md"),
        "---\nlicense: mit\npipeline_tag: text-classification\n---\n# Tiny\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("tokenizer")).unwrap();
    std::fs::write(
        dir.path().join("tokenizer/vocab.txt"),
        "[PAD]\n[UNK]\nhello\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".hidden"), "not uploaded").unwrap();

    // A refused offer stops the push before any byte goes up.
    let bad = push(
        &app,
        &token,
        dir.path(),
        &[
            "--model",
            "pusher/tiny",
            "--version",
            "1.0.0",
            "--license",
            "paid",
            "--price",
            "nine",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("adding the offer"));

    let args = [
        "--model",
        "pusher/tiny",
        "--version",
        "1.0.0",
        "--publish",
        "--license",
        "open",
        "--spdx",
        "MIT",
    ];
    let out = push(&app, &token, dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let detail = domain::catalog::model_detail(&app.state.db, "pusher", "tiny")
        .await
        .unwrap()
        .expect("published and public");
    assert_eq!(
        detail.listing.model.task, "text-classification",
        "task from the card"
    );
    let paths: Vec<&str> = detail.versions[0]
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["README.md", "tokenizer/vocab.txt"]);
    assert_eq!(
        detail.listing.offer.as_ref().map(|o| o.spdx.clone()),
        Some(Some("MIT".to_owned())),
        "listed under the license it was pushed with"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Free under MIT"));

    // The version is published now: pushing into it again is refused, with the reason.
    let again = push(&app, &token, dir.path(), &args);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("published"));

    // A pickle is refused by the server; the command says why and fails.
    std::fs::write(dir.path().join("model.pt"), b"\x80\x04pickle").unwrap();
    let refused = push(
        &app,
        &token,
        dir.path(),
        &["--model", "pusher/tiny", "--version", "1.1.0"],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("pickle") && stderr.contains("safetensors"),
        "{stderr}"
    );

    let no_token = Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .args(["push", ".", "--model", "pusher/tiny", "--version", "9.0.0"])
        .env_remove("BAZAAR_TOKEN")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("BAZAAR_TOKEN"));
}
