//! Log-in load benchmark. Password hashing is deliberately slow (argon2id, ~19 MiB, t=2), so
//! a burst of log-ins must queue on the hashing pool rather than stall page rendering. This
//! serves the real application on loopback with a fresh SQLite database and the demo
//! catalog, then measures the catalog page's latency alone, and again while 20 clients log
//! in continuously; it prints both beside the log-ins' own latency.
//!
//! `cargo bench -p server --bench login_load [-- --seconds N]`
use std::time::{Duration, Instant};

use server::config::{Config, LogFormat};
use server::startup::Application;

const LOGIN_CLIENTS: usize = 20;
const PAGE_CLIENTS: usize = 2;
const PASSWORD: &str = "a benchmark passphrase";

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let site_root = dir.path().join("site");
    std::fs::create_dir_all(site_root.join("pkg")).unwrap();
    let mut config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        database_url: Some(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("b.db").display()
        )),
        site_root,
        log_format: LogFormat::Pretty,
        ..Config::default()
    };
    config.rate_limits.sign_up_per_ip = 1000;
    let app = Application::build(&config).await.expect("server starts");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for i in 0..LOGIN_CLIENTS {
        let response = client
            .post(format!("{base}/api/sign_up"))
            .form(&[
                ("username", format!("bench{i}")),
                ("email", format!("bench{i}@example.org")),
                ("password", PASSWORD.to_owned()),
            ])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().as_u16() < 400,
            "sign-up: {}",
            response.status()
        );
        // A loopback install shows the confirmation link in its answer; follow it.
        let sent: serde_json::Value = response.json().await.unwrap();
        let token = sent["link"].as_str().expect("a confirmation link");
        let token = token.rsplit('/').next().unwrap().to_owned();
        let confirmed = client
            .post(format!("{base}/api/verify_email"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert!(
            confirmed.status().as_u16() < 400,
            "confirming: {}",
            confirmed.status()
        );
    }
    let window = Duration::from_secs(seconds);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("login_load: {seconds} s per phase, {PAGE_CLIENTS} page clients, {cores} cores");

    let quiet = catalog_latencies(&client, &base, window).await;
    let logins = tokio::spawn(log_in_loop(client.clone(), base.clone(), window));
    let busy = catalog_latencies(&client, &base, window).await;
    let login_times = logins.await.unwrap();

    println!();
    println!(
        "{:<34} {:>8} {:>9} {:>9} {:>9}",
        "", "requests", "p50 ms", "p99 ms", "max ms"
    );
    report("catalog page (GET /), alone", &quiet);
    report("catalog page, 20 log-ins running", &busy);
    report("log-in (POST /api/log_in)", &login_times);
    println!(
        "\nlog-ins completed: {:.1}/s; catalog p99 with log-ins / without: {:.2}x",
        login_times.len() as f64 / seconds as f64,
        percentile(&busy, 0.99) / percentile(&quiet, 0.99)
    );
}

/// Latencies of `GET /` from `PAGE_CLIENTS` clients in a loop for `window`.
async fn catalog_latencies(client: &reqwest::Client, base: &str, window: Duration) -> Vec<f64> {
    let end = Instant::now() + window;
    let tasks: Vec<_> = (0..PAGE_CLIENTS)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{base}/"));
            tokio::spawn(async move {
                let mut times = Vec::new();
                while Instant::now() < end {
                    let start = Instant::now();
                    let response = client.get(&url).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap();
                    times.push(start.elapsed().as_secs_f64() * 1000.0);
                }
                times
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

/// `LOGIN_CLIENTS` clients logging in (right password) back to back for `window`.
async fn log_in_loop(client: reqwest::Client, base: String, window: Duration) -> Vec<f64> {
    let end = Instant::now() + window;
    let tasks: Vec<_> = (0..LOGIN_CLIENTS)
        .map(|i| {
            let (client, url) = (client.clone(), format!("{base}/api/log_in"));
            tokio::spawn(async move {
                let mut times = Vec::new();
                while Instant::now() < end {
                    let start = Instant::now();
                    let response = client
                        .post(&url)
                        .form(&[
                            ("login", format!("bench{i}")),
                            ("password", PASSWORD.to_owned()),
                        ])
                        .send()
                        .await
                        .unwrap();
                    assert!(
                        response.status().as_u16() < 400,
                        "log-in: {}",
                        response.status()
                    );
                    times.push(start.elapsed().as_secs_f64() * 1000.0);
                }
                times
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

fn percentile(times: &[f64], p: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(label: &str, times: &[f64]) {
    println!(
        "{label:<34} {:>8} {:>9.1} {:>9.1} {:>9.1}",
        times.len(),
        percentile(times, 0.5),
        percentile(times, 0.99),
        percentile(times, 1.0)
    );
}
