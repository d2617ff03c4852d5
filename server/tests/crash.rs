//! Crash safety: `kill -9` of the server in the middle of an upload leaves nothing visible,
//! and after a restart the idle-upload task removes what the dead upload left on disk.
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

fn start(data: &Path, site: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .arg("--site-root")
        .arg(site)
        .env("BAZAAR_UPLOAD_IDLE_SECONDS", "2")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Files under `dir` whose names mark an unfinished multipart write (`key#n`).
fn staged_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(staged_files(&path));
        } else if path.to_string_lossy().contains('#') {
            found.push(path.display().to_string());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upload_leaves_nothing_visible_and_its_parts_are_removed_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (data, site) = (dir.path().join("data"), dir.path().join("site"));
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = start(&data, &site, port);
    wait_ready(&client, &base).await;

    let cookie = common::sign_up_at(&client, &base, "crash", common::PASSWORD).await;
    let enable = client
        .post(format!("{base}/api/enable_publishing"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(enable.status(), 200);
    let api = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, format!("{base}{path}"))
            .header("cookie", &cookie)
            .header("sec-fetch-site", "same-origin")
            .json(&body)
            .send()
    };
    let created = api(
        reqwest::Method::POST,
        "/api/v1/models",
        json!({ "slug": "m", "name": "M", "task": "other" }),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    api(
        reqwest::Method::POST,
        "/api/v1/models/crash/m/versions",
        json!({ "version": "1.0.0" }),
    )
    .await
    .unwrap();
    let size = 24u64 << 20;
    let started: Value = api(
        reqwest::Method::POST,
        "/api/v1/models/crash/m/versions/1.0.0/uploads",
        json!({ "path": "big.dat", "size": size }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    let half = vec![7u8; 12 << 20];
    let sent = client
        .patch(format!("{base}/api/v1/uploads/{id}"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .header("upload-offset", 0)
        .body(half)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    assert!(
        !staged_files(&data).is_empty(),
        "the upload is writing parts"
    );

    server.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
    server.wait().unwrap();

    let mut server = start(&data, &site, port);
    wait_ready(&client, &base).await;
    let mut leftovers = staged_files(&data);
    for _ in 0..150 {
        if leftovers.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        leftovers = staged_files(&data);
    }
    // The idle-upload task removed the parts on its own; the upload is gone.
    let head = client
        .head(format!("{base}/api/v1/uploads/{id}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(head.status().as_u16(), 404 | 410),
        "the dead upload cannot continue: {}",
        head.status()
    );
    let listing: Value = api(reqwest::Method::GET, "/api/v1/models/crash/m", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.kill().ok();
    server.wait().ok();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    assert_eq!(
        listing["versions"][0]["files"],
        json!([]),
        "no partial file is visible"
    );
    assert_eq!(listing["published"], false);
}
