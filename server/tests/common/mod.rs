//! `spawn_app`: the real server on port 0 with a fresh database (a SQLite file, or a new
//! PostgreSQL database when `DATABASE_URL` is set) and the real migrations and seed data;
//! `fake_stripe`: Stripe's API, faked on loopback.
#![allow(dead_code)]

pub mod fake_stripe;

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
    /// Every e-mail the server sent, as its recipient gets it (the outbox keeps a redacted
    /// copy).
    pub mail: domain::mail::MailCapture,
    /// What the server was started with, for running the CLI against the same data.
    pub database_url: String,
    pub data_dir: PathBuf,
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
    spawn_app_with(db, |_| {}).await
}

/// Like [`spawn_app`], with the configuration adjusted first.
pub async fn spawn_app_with(db: Db, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
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
    let mail = domain::mail::MailCapture::default();
    let mut config = Config {
        mail_capture: Some(mail.clone()),
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        database_url: Some(database_url.clone()),
        storage_url: None,
        site_root: site_root.clone(),
        seed_demo: true,
        log_format: LogFormat::Pretty,
        stripe_webhook_secret: Some(WEBHOOK_SECRET.into()),
        ..Config::default()
    };
    adjust(&mut config);
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
        mail,
        database_url,
        data_dir: config.data_dir.clone(),
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
/// `pkg/current`, with a precompressed copy of the wasm, a lazily loaded module and its loader
/// (precompressed too), and a public file.
fn write_fake_site(root: &Path) {
    let pkg = root.join("pkg/0123abcd");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(root.join("pkg/current"), "0123abcd\n").unwrap();
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(std::iter::repeat_n(0u8, 4096));
    let gzip = |file: &str| {
        let status = std::process::Command::new("gzip")
            .args(["-k", "-n", "-9"])
            .arg(pkg.join(file))
            .status()
            .expect("gzip runs");
        assert!(status.success());
    };
    std::fs::write(pkg.join("bazaar_bg.wasm"), &wasm).unwrap();
    gzip("bazaar_bg.wasm");
    std::fs::write(pkg.join("split_account_pages_42.wasm"), &wasm).unwrap();
    gzip("split_account_pages_42.wasm");
    std::fs::write(
        pkg.join("__wasm_split.______________________.js"),
        "export const __wasm_split_load_account_pages_42 = () => {};",
    )
    .unwrap();
    gzip("__wasm_split.______________________.js");
    std::fs::write(
        pkg.join("lazy_modules.json"),
        r#"{"loader": "__wasm_split.______________________.js",
            "groups": {"account_pages": ["split_account_pages_42.wasm", "chunk_1.wasm"]}}"#,
    )
    .unwrap();
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

impl TestApp {
    /// POSTs a form as the pages' forms do (same-origin, so the CSRF check passes).
    pub async fn post_form(
        &self,
        path: &str,
        body: &str,
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(path))
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header("sec-fetch-site", "same-origin")
            .body(body.to_owned());
        if let Some(cookie) = cookie {
            request = request.header(http::header::COOKIE, cookie);
        }
        request.send().await.expect("request failed")
    }

    /// Signs `username` up (address `username@example.org`, password "correct horse battery
    /// staple"), follows the confirmation link e-mailed to it, and returns the session
    /// cookie (`name=value`) that confirming gives.
    pub async fn sign_up(&self, username: &str) -> String {
        let response = self.sign_up_only(username).await;
        assert_eq!(response.status(), 200, "sign-up of {username}");
        assert!(
            response.headers().get(http::header::SET_COOKIE).is_none(),
            "no session before the address is confirmed"
        );
        let confirmed = self.confirm(&format!("{username}@example.org")).await;
        assert!(
            confirmed.status().is_success() || confirmed.status().is_redirection(),
            "confirming {username}: {}",
            confirmed.status()
        );
        session_cookie_of(&confirmed)
    }

    /// Posts the sign-up form for `username` and stops there (no confirmation).
    pub async fn sign_up_only(&self, username: &str) -> reqwest::Response {
        let body = format!(
            "username={username}&email={username}%40example.org&password=correct+horse+battery+staple"
        );
        self.post_form("/api/sign_up", &body, None).await
    }

    /// The newest e-mail the server sent to `to`.
    pub fn mail_to(&self, to: &str) -> domain::mail::SentMail {
        self.mail
            .last_to(to)
            .unwrap_or_else(|| panic!("no e-mail to {to}: {:?}", self.mail.all()))
    }

    /// Follows the confirmation link in the newest e-mail to `to`, from a browser without
    /// a session.
    pub async fn confirm(&self, to: &str) -> reqwest::Response {
        let token = link_token(&self.mail_to(to).body, "/verify-email/")
            .expect("the e-mail holds a confirmation link");
        self.post_form("/api/verify_email", &format!("token={token}"), None)
            .await
    }

    /// Logs `login` in with the sign-up password; returns the new session cookie.
    pub async fn log_in(&self, login: &str, password: &str) -> reqwest::Response {
        let body = format!("login={login}&password={}", password.replace(' ', "+"));
        self.post_form("/api/log_in", &body, None).await
    }

    /// Runs `bazaar` on this server's database and data, `stdin` fed to it. Backtraces are
    /// asked for, so a test can check that an error still prints only its message.
    pub fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_bazaar"))
            .args(args)
            .args(["--database-url", &self.database_url, "--data-dir"])
            .arg(&self.data_dir)
            .env("RUST_BACKTRACE", "1")
            .env("RUST_LIB_BACKTRACE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the bazaar binary runs");
        let mut input = child.stdin.take().expect("piped stdin");
        input.write_all(stdin.as_bytes()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Signs `name` up, turns publishing on and returns a write-scoped API token for them.
    pub async fn publisher_token(&self, name: &str) -> String {
        let cookie = self.sign_up(name).await;
        let enabled = self
            .post_form("/api/enable_publishing", "", Some(&cookie))
            .await;
        assert_eq!(enabled.status(), 200);
        let created = self
            .post_form("/api/create_token", "name=push&scope=write", Some(&cookie))
            .await;
        let created: serde_json::Value = created.json().await.unwrap();
        created["secret"].as_str().unwrap().to_owned()
    }

    /// How many API tokens `username` has, as stored.
    pub async fn token_count(&self, username: &str) -> usize {
        let user = domain::catalog::find_user(&self.state.db, username)
            .await
            .unwrap()
            .expect("the user exists");
        domain::tokens::list(&self.state.db, user.id)
            .await
            .unwrap()
            .len()
    }

    /// GETs a REST path with a bearer token or a cookie.
    pub async fn api_get(&self, path: &str, auth: Auth<'_>) -> reqwest::Response {
        auth.apply(self.client.get(self.url(path)))
            .send()
            .await
            .expect("request failed")
    }
}

/// What the test server's payment provider signs webhook events with.
pub const WEBHOOK_SECRET: &str = "whsec_bazaar_tests";

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Copy)]
pub enum Auth<'a> {
    Nobody,
    Cookie(&'a str),
    Bearer(&'a str),
}

impl Auth<'_> {
    pub fn apply(self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::Nobody => request,
            // As the site's own pages send it: browsers mark same-origin requests.
            Auth::Cookie(cookie) => request
                .header(http::header::COOKIE, cookie)
                .header("sec-fetch-site", "same-origin"),
            Auth::Bearer(token) => request.bearer_auth(token),
        }
    }
}

/// The token of the first link in `body` whose path contains `path` (as
/// `…/verify-email/<token>`).
pub fn link_token(body: &str, path: &str) -> Option<String> {
    let rest = body.split(path).nth(1)?;
    let token: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    (!token.is_empty()).then_some(token)
}

/// Signs up on a server started elsewhere (its own process, on loopback with no mail
/// server): the sign-up's answer shows the confirmation link there, as the page does.
/// Returns the session cookie that following it gives.
pub async fn sign_up_at(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> String {
    let response = client
        .post(format!("{base}/api/sign_up"))
        .form(&[
            ("username", username.to_owned()),
            ("email", format!("{username}@example.org")),
            ("password", password.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "sign-up of {username}");
    let sent: serde_json::Value = response.json().await.unwrap();
    let link = sent["link"]
        .as_str()
        .expect("a loopback install shows the confirmation link");
    let token = link.rsplit('/').next().unwrap();
    let confirmed = client
        .post(format!("{base}/api/verify_email"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert!(confirmed.status().as_u16() < 400, "{}", confirmed.status());
    session_cookie_of(&confirmed)
}

/// `name=value` of the session cookie a response sets.
pub fn session_cookie_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(http::header::SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

/// Makes an existing account a site administrator.
pub async fn make_admin(app: &TestApp, username: &str) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let user = domain::catalog::find_user(&app.state.db, username)
        .await
        .unwrap()
        .expect("the user exists");
    let mut row: domain::entities::user::ActiveModel = user.into();
    row.is_admin = Set(true);
    row.update(&app.state.db).await.unwrap();
}

/// A seeded listing's first offer, and the download address of a file of its first version
/// that only a license opens (not its demo file).
pub async fn sold_file(
    app: &TestApp,
    slug: &str,
) -> (domain::entities::license_offer::Model, String) {
    use domain::entities::{file, license_offer, model, model_version, user};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let db = &app.state.db;
    let listing = model::Entity::find()
        .filter(model::Column::Slug.eq(slug))
        .one(db)
        .await
        .unwrap()
        .expect("a seeded listing");
    let owner = user::Entity::find_by_id(listing.owner_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let offer = license_offer::Entity::find()
        .filter(license_offer::Column::ModelId.eq(listing.id))
        .one(db)
        .await
        .unwrap()
        .expect("the listing's offer");
    let version = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(listing.id))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let file = file::Entity::find()
        .filter(file::Column::VersionId.eq(version.id))
        .filter(file::Column::IsDemo.eq(false))
        .one(db)
        .await
        .unwrap()
        .expect("a file only a license opens");
    let url = format!(
        "/api/v1/models/{}/{slug}/versions/{}/files/{}",
        owner.username, version.version, file.path
    );
    (offer, url)
}
