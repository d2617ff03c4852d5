//! Fifty hostile uploads at once (format headers that declare huge lengths, sent slowly, and
//! never finished) must not grow the server: what uploads hold in memory is bounded by one
//! budget, and past it they are refused with 503 and Retry-After. The server runs in this
//! process, so this process's resident memory is the server's. This file holds this test only,
//! so no other test's memory is measured with it.
mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Db, TestApp};
use serde_json::{json, Value};

const UPLOADS: usize = 50;
const PUBLISHERS: usize = 5;
/// The budget this server is given: far less than the attack sends.
const BUDGET: u64 = 4 << 20;
/// Each upload sends this much, slowly, in chunks of `CHUNK`, and never finishes.
const SENT: usize = 3 << 20;
const CHUNK: usize = 48 << 10;
/// The growth allowed. Unbounded (the code before the budget, or a budget of gigabytes) this
/// run keeps about 100 MiB and grows the process by about 120 MiB; with the budget, the
/// growth is the budget plus what 50 connections cost (threads, buffers: about 16 MiB).
const ALLOWED_GROWTH: u64 = 40 << 20;

/// The two variants run one after the other, each measuring alone.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_hostile_uploads_leave_the_servers_memory_flat_sqlite() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let app = spawn(Db::Sqlite).await.unwrap();
    fifty_hostile_uploads(app, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_hostile_uploads_leave_the_servers_memory_flat_postgres() {
    let _alone = ONE_AT_A_TIME.lock().await;
    match spawn(Db::Postgres).await {
        Some(app) => fifty_hostile_uploads(app, "postgres").await,
        None => eprintln!("DATABASE_URL is not set; PostgreSQL variant not run"),
    }
}

async fn spawn(db: Db) -> Option<TestApp> {
    common::spawn_app_with(db, |config| {
        config.upload_memory_bytes = BUDGET;
        config.seed_demo = false;
    })
    .await
}

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kib << 10
}

async fn call(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The first bytes of the `i`th hostile file, and its name.
fn hostile(i: usize) -> (String, Vec<u8>) {
    match i % 3 {
        // A safetensors header that says it is 90 MB long (under the format's own limit).
        0 => {
            let mut head = 90_000_000u64.to_le_bytes().to_vec();
            head.push(b'{');
            (format!("w{i}.safetensors"), head)
        }
        // A GGUF header announcing a million metadata entries with a 60 kB key.
        1 => {
            let mut head = b"GGUF".to_vec();
            head.extend_from_slice(&3u32.to_le_bytes());
            head.extend_from_slice(&1u64.to_le_bytes());
            head.extend_from_slice(&(1u64 << 20).to_le_bytes());
            head.extend_from_slice(&60_000u64.to_le_bytes());
            (format!("m{i}.gguf"), head)
        }
        // A zip entry claiming a 4 GiB member.
        _ => {
            let mut head = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
            head.extend_from_slice(&[0; 8]);
            head.extend_from_slice(&u32::MAX.to_le_bytes());
            head.extend_from_slice(&u32::MAX.to_le_bytes());
            (format!("archive{i}.zip"), head)
        }
    }
}

async fn fifty_hostile_uploads(app: TestApp, database: &str) {
    let mut tokens = Vec::new();
    for p in 0..PUBLISHERS {
        let name = format!("hostile{p}");
        let token = app.publisher_token(&name).await;
        let created = call(
            &app,
            &token,
            "/api/v1/models",
            json!({ "slug": "m", "name": "M", "task": "other", "card": "# M\n" }),
        )
        .await;
        assert_eq!(created.status(), 201);
        let version = call(
            &app,
            &token,
            &format!("/api/v1/models/{name}/m/versions"),
            json!({ "version": "1.0.0" }),
        )
        .await;
        assert_eq!(version.status(), 201);
        tokens.push((name, token));
    }
    let mut declared = Vec::new();
    for i in 0..UPLOADS {
        let (owner, token) = &tokens[i % PUBLISHERS];
        let (path, head) = hostile(i);
        let started = call(
            &app,
            token,
            &format!("/api/v1/models/{owner}/m/versions/1.0.0/uploads"),
            json!({ "path": path, "size": 1u64 << 30 }),
        )
        .await;
        assert_eq!(started.status(), 201, "{}", started.text().await.unwrap());
        let id = started.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        declared.push((token.clone(), id, head));
    }

    // Settle, then measure from here.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = resident_bytes();
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(resident_bytes(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    // A connection per request: the server closes one it answered before reading the body.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let attacks = declared.iter().map(|(token, id, head)| {
        // Made as it is sent, so the client holds a chunk at a time, not what it sends.
        let head = head.clone();
        let trickle = futures::stream::unfold(0usize, move |sent| {
            let head = head.clone();
            async move {
                if sent >= SENT {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                let mut chunk = vec![b' '; CHUNK.min(SENT - sent)];
                if sent == 0 {
                    chunk[..head.len()].copy_from_slice(&head);
                }
                let len = chunk.len();
                Some((Ok::<_, std::io::Error>(chunk), sent + len))
            }
        });
        fresh
            .patch(app.url(&format!("/api/v1/uploads/{id}")))
            .bearer_auth(token)
            .header("upload-offset", 0)
            .body(reqwest::Body::wrap_stream(trickle))
            .send()
    });
    let answers = futures::future::join_all(attacks).await;
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for answer in &answers {
        let key = match answer {
            Ok(response) => {
                if response.status() == 503 {
                    assert!(
                        response.headers().contains_key("retry-after"),
                        "a 503 says when to retry"
                    );
                }
                response.status().as_u16().to_string()
            }
            // The server may answer and close before the whole body is sent.
            Err(_) => "cut off".to_owned(),
        };
        *statuses.entry(key).or_default() += 1;
    }
    assert!(
        statuses
            .keys()
            .all(|s| ["200", "422", "503", "cut off"].contains(&s.as_str())),
        "{statuses:?}"
    );

    // What the server kept of the 150 MiB sent fits its budget.
    let mut kept = 0u64;
    for (token, id, _) in &declared {
        let head = fresh
            .head(app.url(&format!("/api/v1/uploads/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if head.status() == 200 {
            kept += head.headers()["upload-offset"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    let after = resident_bytes();
    let peak = peak.load(Ordering::Relaxed);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "{database}: {UPLOADS} hostile uploads sent {:.0} MiB; kept {:.1} MiB (budget {:.0} MiB); \
         resident {:.1} MiB before, {:.1} MiB at peak (+{:.1}), {:.1} MiB after; answers {statuses:?}",
        mib((UPLOADS * SENT) as u64),
        mib(kept),
        mib(BUDGET),
        mib(before),
        mib(peak),
        mib(peak.saturating_sub(before)),
        mib(after),
    );
    assert!(kept <= BUDGET, "kept {kept} bytes, over the budget");
    assert!(
        peak.saturating_sub(before) < ALLOWED_GROWTH,
        "resident memory grew by {:.1} MiB",
        mib(peak - before)
    );
}
