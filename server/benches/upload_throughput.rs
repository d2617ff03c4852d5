//! Upload throughput: a large file (2 GiB by default) pushed through the server's resumable
//! upload API into local object storage, against `cp` of the same file on the same disk,
//! and the server's peak resident memory while it streams (it must not hold the file).
//! The server runs as its own process (the `bazaar` binary) so its memory is its own.
//!
//! `cargo bench -p server --bench upload_throughput [-- --size-mib N --rounds N --dir PATH]`
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::AsyncSeekExt;

const CHUNK: u64 = 256 << 20;

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

/// One timing: seconds until the last byte was handed over, and until it was on disk.
#[derive(Clone, Copy)]
struct Timing {
    handed_over: f64,
    on_disk: f64,
}

#[tokio::main]
async fn main() {
    let size_mib: u64 = arg("--size-mib")
        .and_then(|s| s.parse().ok())
        .unwrap_or(2048);
    let rounds: usize = arg("--rounds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let parent = arg("--dir")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let work = tempfile::tempdir_in(&parent).unwrap();
    let size = size_mib << 20;
    let source = work.path().join("source.dat");
    write_file(&source, size);

    let data = work.path().join("data");
    let site = work.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start_server(&data, &site, port);
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    let cookie = publisher(&client, &base).await;
    let call = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, format!("{base}{path}"))
            .header("cookie", &cookie)
            .json(&body)
            .send()
    };
    call(
        reqwest::Method::POST,
        "/api/v1/models",
        json!({ "slug": "bench", "name": "Bench", "task": "other" }),
    )
    .await
    .unwrap();
    call(
        reqwest::Method::POST,
        "/api/v1/models/bench/bench/versions",
        json!({ "version": "1.0.0" }),
    )
    .await
    .unwrap();
    let rss_before = peak_rss_kib(server.id());

    // cp and the upload alternate, so a burst of load on the machine does not fall on one side.
    let mut results = Vec::new();
    for round in 0..rounds {
        let cp = time_cp(&source, &work.path().join("copy.dat"));
        let start = Instant::now();
        let begun: Value = call(
            reqwest::Method::POST,
            "/api/v1/models/bench/bench/versions/1.0.0/uploads",
            json!({ "path": format!("weights-{round}.dat"), "size": size }),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let id = begun["id"].as_str().expect("an upload id").to_owned();
        upload(&client, &base, &cookie, &id, &source, size).await;
        let handed_over = start.elapsed().as_secs_f64();
        sync();
        let upload = Timing {
            handed_over,
            on_disk: start.elapsed().as_secs_f64(),
        };
        results.push((cp, upload));
    }
    let rss_peak = peak_rss_kib(server.id());
    server.kill().ok();
    server.wait().ok();

    let mib = size as f64 / (1 << 20) as f64;
    println!(
        "upload_throughput: {size_mib} MiB file, {} MiB requests, same disk, {rounds} rounds",
        CHUNK >> 20
    );
    println!(
        "{:<6} {:>14} {:>10} {:>18} {:>10} {:>7}",
        "round", "cp + sync (s)", "of it sync", "upload + sync (s)", "of it sync", "ratio"
    );
    let mut ratios = Vec::new();
    for (round, (cp, upload)) in results.iter().enumerate() {
        let ratio = cp.on_disk / upload.on_disk;
        ratios.push(ratio);
        println!(
            "{:<6} {:>14.2} {:>10.2} {:>18.2} {:>10.2} {:>7.2}",
            round + 1,
            cp.on_disk,
            cp.on_disk - cp.handed_over,
            upload.on_disk,
            upload.on_disk - upload.handed_over,
            ratio
        );
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let cp_median = median(results.iter().map(|(cp, _)| cp.on_disk).collect());
    let upload_median = median(results.iter().map(|(_, up)| up.on_disk).collect());
    println!(
        "median: cp {:.0} MiB/s, upload {:.0} MiB/s",
        mib / cp_median,
        mib / upload_median
    );
    println!(
        "throughput ratio upload/cp, median of rounds: {:.2} (target >= 0.7)",
        median(ratios)
    );
    println!(
        "server peak RSS: {:.0} MiB (idle before the uploads: {:.0} MiB; target < 150 MiB)",
        rss_peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
}

/// The reference: the same bytes copied on the same disk, synced, as cp leaves them.
fn time_cp(source: &Path, copy: &Path) -> Timing {
    let start = Instant::now();
    let status = Command::new("cp").arg(source).arg(copy).status().unwrap();
    assert!(status.success());
    let handed_over = start.elapsed().as_secs_f64();
    sync();
    let timing = Timing {
        handed_over,
        on_disk: start.elapsed().as_secs_f64(),
    };
    std::fs::remove_file(copy).unwrap();
    timing
}

/// Sends the file to upload `id` in `CHUNK`-sized requests, each streamed from disk.
async fn upload(
    client: &reqwest::Client,
    base: &str,
    cookie: &str,
    id: &str,
    source: &Path,
    size: u64,
) {
    let mut offset = 0;
    while offset < size {
        let len = CHUNK.min(size - offset);
        let mut file = tokio::fs::File::open(source).await.unwrap();
        file.seek(std::io::SeekFrom::Start(offset)).await.unwrap();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            tokio::io::AsyncReadExt::take(file, len),
            1 << 20,
        ));
        let response = client
            .patch(format!("{base}/api/v1/uploads/{id}"))
            .header("cookie", cookie)
            .header("upload-offset", offset)
            .header("content-length", len)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        offset += len;
    }
}

/// Incompressible-looking bytes, written fast (a 1 MiB pattern, varied per block).
fn write_file(path: &Path, size: u64) {
    use std::io::Write;
    let mut file = std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(path).unwrap());
    let mut block: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut written = 0;
    while written < size {
        let n = (size - written).min(block.len() as u64) as usize;
        file.write_all(&block[..n]).unwrap();
        let len = block.len();
        block[(written >> 20) as usize % len] ^= 0x5a;
        written += n as u64;
    }
    file.flush().unwrap();
    sync();
}

fn sync() {
    Command::new("sync").status().ok();
}

fn start_server(data: &Path, site: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .arg("--site-root")
        .arg(site)
        .env_remove("DATABASE_URL")
        .env("BAZAAR_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not start");
}

/// Signs up a publisher and returns its session cookie.
async fn publisher(client: &reqwest::Client, base: &str) -> String {
    let response = client
        .post(format!("{base}/api/sign_up"))
        .form(&[
            ("username", "bench"),
            ("email", "bench@example.org"),
            ("password", "a benchmark passphrase"),
        ])
        .send()
        .await
        .unwrap();
    // A loopback install shows the confirmation link in its answer; following it logs in.
    let sent: serde_json::Value = response.json().await.unwrap();
    let token = sent["link"].as_str().expect("a confirmation link");
    let token = token.rsplit('/').next().unwrap().to_owned();
    let response = client
        .post(format!("{base}/api/verify_email"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    client
        .post(format!("{base}/api/enable_publishing"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    cookie
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
