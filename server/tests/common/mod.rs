//! `spawn_app`: the real server on port 0 with a fresh database (a SQLite file, or a new
//! PostgreSQL database when `DATABASE_URL` is set) and the real migrations and seed data.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use domain::AppState;
use sea_orm::{ConnectionTrait, Database};
use server::config::{Config, LogFormat};
use server::startup::{connect, Application};

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// A second connection to the same database and store, for checking what was stored.
    pub state: AppState,
    pub site_root: PathBuf,
    /// `(admin URL, database name)` of a PostgreSQL database to drop when the test ends.
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let admin = Database::connect(&admin_url).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test database: {dropped:?}");
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}

/// `None` when PostgreSQL is asked for but `DATABASE_URL` is not set.
pub async fn spawn_app(db: Db) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, postgres) = match db {
        Db::Sqlite => (
            format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
            None,
        ),
        Db::Postgres => {
            let (url, admin_url, name) = fresh_postgres_database().await?;
            (url, Some((admin_url, name)))
        }
    };
    let site_root = dir.path().join("site");
    write_fake_site(&site_root);
    let config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        database_url: Some(database_url),
        storage_url: None,
        site_root: site_root.clone(),
        seed_demo: true,
        log_format: LogFormat::Pretty,
        rate_limits: Default::default(),
    };
    let app = Application::build(&config).await.expect("server starts");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped());
    let state = connect(&config).await.expect("second connection");
    // A stuck request fails its test instead of stalling the whole suite.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    Some(TestApp {
        addr,
        client,
        state,
        site_root,
        postgres,
        _dir: dir,
    })
}

/// A new, empty database beside `DATABASE_URL`'s: `(its URL, the admin URL, its name)`.
async fn fresh_postgres_database() -> Option<(String, String, String)> {
    let admin_url = std::env::var("DATABASE_URL").ok()?;
    let name = format!("bazaar_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url)
        .await
        .expect("connect to DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&admin_url).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    Some((url.to_string(), admin_url, name))
}

/// A site root shaped like the build's output: a content-hashed bundle directory named by
/// `pkg/current`, with a precompressed copy of the wasm, and a public file.
fn write_fake_site(root: &Path) {
    let pkg = root.join("pkg/0123abcd");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(root.join("pkg/current"), "0123abcd\n").unwrap();
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(std::iter::repeat_n(0u8, 4096));
    std::fs::write(pkg.join("bazaar_bg.wasm"), &wasm).unwrap();
    let status = std::process::Command::new("gzip")
        .args(["-k", "-n", "-9"])
        .arg(pkg.join("bazaar_bg.wasm"))
        .status()
        .expect("gzip runs");
    assert!(status.success());
    std::fs::write(pkg.join("bazaar.js"), "export default function init() {}").unwrap();
    std::fs::write(pkg.join("bazaar.css"), "body{}").unwrap();
    std::fs::write(
        root.join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
}

/// Runs an async test body once on SQLite and once on PostgreSQL (when `DATABASE_URL` is set),
/// on a multi-threaded runtime like the real server's.
#[macro_export]
macro_rules! on_each_database {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::common::spawn_app($crate::common::Db::Sqlite).await.unwrap();
                super::$test(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::common::spawn_app($crate::common::Db::Postgres).await {
                    Some(app) => super::$test(app).await,
                    None => eprintln!("DATABASE_URL is not set; PostgreSQL variant not run"),
                }
            }
        }
    )*};
}
