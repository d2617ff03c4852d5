//! Layered configuration: built-in defaults < `config/*.toml` (in name order) < `BAZAAR_*`
//! environment variables (`DATABASE_URL` is honoured too) < command-line flags.
//! Secrets belong in the environment, never in the TOML files.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use domain::licensing::keys::EncryptionSecret;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address the HTTP server binds.
    pub addr: SocketAddr,
    /// Where the embedded database and local object storage live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to a SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// A local directory, `file:///…`, or `s3://bucket/prefix`; defaults to `data_dir/objects`.
    pub storage_url: Option<String>,
    /// The built site: `pkg/` (hydration bundle, CSS) and public assets.
    pub site_root: PathBuf,
    /// Load the demo catalog into an empty database at start-up.
    pub seed_demo: bool,
    /// A directory with a `catalog.toml` and a folder per model, seeded at every start-up
    /// (models already present are left alone): models too large to compile into the binary,
    /// such as the all-MiniLM-L6-v2 the run command prepares (`BAZAAR_SEED_CATALOG`).
    pub seed_catalog: Option<PathBuf>,
    pub log_format: LogFormat,
    /// Attempts allowed per window before 429 (`[rate_limits]` in TOML,
    /// `BAZAAR_RATE_LIMITS__LOG_IN_PER_ACCOUNT=…` in the environment).
    pub rate_limits: RateLimitConfig,
    /// The address users reach the site at, for links in e-mails; `https://…` also turns on
    /// HSTS and `__Host-` cookies. Defaults to `http://` + `addr`.
    pub public_url: Option<String>,
    /// SMTP server for e-mail (`smtps://user:pass@host:465`, `smtp://host:587?tls=required`);
    /// a secret, so set it as `BAZAAR_SMTP_URL`. Without it e-mail stays in the admin outbox.
    pub smtp_url: Option<String>,
    /// The sender of e-mail.
    pub mail_from: String,
    /// Encrypts the license signing keys in the database. A secret: read only from
    /// `BAZAAR_LICENSE_KEY_SECRET`, never from files, and never printed.
    #[serde(skip)]
    pub license_key_secret: Option<EncryptionSecret>,
    /// A test's capture of sent e-mail, in place of SMTP or the log; never read from files
    /// or the environment (a server that kept its mail in memory would lose it).
    #[serde(skip)]
    pub mail_capture: Option<domain::mail::MailCapture>,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The largest file an upload may declare, in bytes (50 GiB by default).
    pub max_upload_bytes: u64,
    /// An upload nobody sends to for this many seconds is aborted and its parts removed.
    pub upload_idle_seconds: u64,
    /// Unfinished uploads one owner (a user or an organization) may have at once, counted
    /// across all instances.
    pub max_unfinished_uploads_per_owner: u32,
    /// Bytes each owner may store (files plus unfinished uploads' declared sizes), 50 GiB by
    /// default; `users.storage_quota_bytes` overrides it for one owner.
    pub storage_quota_bytes: u64,
    /// `auto` (Stripe when a key is set; else the built-in test mode, but only on an install
    /// that listens on loopback alone), `stripe`, `test`, or `off`.
    pub payments: PaymentsMode,
    /// Stripe's secret API key; a secret, so set it as `BAZAAR_STRIPE_SECRET_KEY`.
    pub stripe_secret_key: Option<Secret>,
    /// The signing secret of the Stripe webhook endpoint (`BAZAAR_STRIPE_WEBHOOK_SECRET`).
    pub stripe_webhook_secret: Option<Secret>,
    /// Stripe's API address; tests and staging proxies set another.
    pub stripe_api_base: Option<String>,
    /// The platform's share of each sale paid out to a publisher, in basis points.
    pub platform_fee_bps: u32,
    /// Memory this instance may hold for all uploads together (512 MiB by default); past it,
    /// uploads are answered 503 with Retry-After instead of growing the process.
    pub upload_memory_bytes: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct RateLimitConfig {
    /// Failed log-ins per address per 15 minutes.
    pub log_in_per_ip: u32,
    /// Failed log-ins per account per 15 minutes.
    pub log_in_per_account: u32,
    /// Failed log-ins per device cookie per 15 minutes (its holder skips the account limit).
    pub log_in_per_device: u32,
    /// Failed log-ins with a device cookie per address per 15 minutes.
    pub log_in_per_ip_with_device: u32,
    /// Sign-ups per address per hour.
    pub sign_up_per_ip: u32,
    /// Password changes per account per 15 minutes.
    pub password_change_per_account: u32,
    /// Password-reset e-mails per address per hour.
    pub password_reset_per_ip: u32,
    /// API tokens created per account per hour.
    pub token_create_per_account: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let d = domain::rate_limit::RateLimits::default();
        Self {
            log_in_per_ip: d.log_in_per_ip.max,
            log_in_per_account: d.log_in_per_account.max,
            log_in_per_device: d.log_in_per_device.max,
            log_in_per_ip_with_device: d.log_in_per_ip_with_device.max,
            sign_up_per_ip: d.sign_up_per_ip.max,
            password_change_per_account: d.password_change_per_account.max,
            password_reset_per_ip: d.password_reset_per_ip.max,
            token_create_per_account: d.token_create_per_account.max,
        }
    }
}

impl RateLimitConfig {
    pub fn to_domain(self) -> domain::rate_limit::RateLimits {
        let mut limits = domain::rate_limit::RateLimits::default();
        limits.log_in_per_ip.max = self.log_in_per_ip;
        limits.log_in_per_account.max = self.log_in_per_account;
        limits.log_in_per_device.max = self.log_in_per_device;
        limits.log_in_per_ip_with_device.max = self.log_in_per_ip_with_device;
        limits.sign_up_per_ip.max = self.sign_up_per_ip;
        limits.password_change_per_account.max = self.password_change_per_account;
        limits.password_reset_per_ip.max = self.password_reset_per_ip;
        limits.token_create_per_account.max = self.token_create_per_account;
        limits
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentsMode {
    Auto,
    Stripe,
    Test,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        let uploads = domain::uploads::UploadPolicy::default();
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            storage_url: None,
            site_root: PathBuf::from("target/site"),
            seed_demo: true,
            seed_catalog: None,
            log_format: LogFormat::Pretty,
            rate_limits: RateLimitConfig::default(),
            public_url: None,
            smtp_url: None,
            mail_from: "Bazaar <bazaar@localhost>".to_owned(),
            license_key_secret: None,
            mail_capture: None,
            trusted_proxies: Vec::new(),
            max_upload_bytes: uploads.max_file_bytes,
            upload_idle_seconds: 24 * 60 * 60,
            max_unfinished_uploads_per_owner: uploads.max_unfinished_per_owner,
            storage_quota_bytes: uploads.default_quota_bytes,
            upload_memory_bytes: uploads.memory_budget_bytes,
            payments: PaymentsMode::Auto,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: None,
            platform_fee_bps: 1000,
        }
    }
}

/// Values given on the command line; they win over every other layer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_root: Option<PathBuf>,
}

impl Config {
    pub fn load(config_dir: &Path, overrides: &Overrides) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let mut files = Figment::new();
        for file in toml_files(config_dir) {
            figment = figment.merge(Toml::file(&file));
            files = files.merge(Toml::file(file));
        }
        for key in SECRET_KEYS {
            if files.contains(key) {
                return Err(Box::new(figment::Error::from(format!(
                    "{key} is a secret: set it as BAZAAR_{} in the environment, not in a \
                     configuration file",
                    key.to_ascii_uppercase()
                ))));
            }
        }
        let mut config: Config = figment
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .merge(Env::prefixed("BAZAAR_").split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        if let Some(secret) = std::env::var_os(LICENSE_KEY_SECRET_VAR) {
            let secret = secret.to_str().and_then(|s| EncryptionSecret::new(s).ok());
            config.license_key_secret = Some(secret.ok_or_else(|| {
                figment::Error::from(format!(
                    "{LICENSE_KEY_SECRET_VAR} must be text of at least {} characters",
                    EncryptionSecret::MIN_LEN
                ))
            })?);
        }
        Ok(config)
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("bazaar.db").display()
            )
        })
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr))
            .trim_end_matches('/')
            .to_owned()
    }

    /// Whether pages may show the links e-mails carry (a sign-up's confirmation link): only
    /// when no mail server is configured and nobody but this machine's users can reach the
    /// site (it listens on loopback, its public address is loopback, no proxy forwards to
    /// it); they can read the link in the server's log anyway.
    pub fn mail_links_in_page(&self) -> bool {
        self.smtp_url.is_none() && self.local_only()
    }

    /// How this install takes payments: `auto` picks Stripe when a key is set, else the test
    /// mode only where nobody else can reach the site (a public install that forgot its key
    /// must not hand out licenses for pretend money).
    pub fn payments_mode(&self) -> PaymentsMode {
        match self.payments {
            PaymentsMode::Auto if self.stripe_secret_key.is_some() => PaymentsMode::Stripe,
            PaymentsMode::Auto if self.local_only() => PaymentsMode::Test,
            PaymentsMode::Auto => PaymentsMode::Off,
            chosen => chosen,
        }
    }

    /// Whether the install listens on loopback only and is reached by a loopback address.
    fn local_only(&self) -> bool {
        let public = self.public_url();
        let host = public
            .split_once("://")
            .map_or(public.as_str(), |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default();
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        };
        let loopback_host = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        self.addr.ip().is_loopback() && self.trusted_proxies.is_empty() && loopback_host
    }

    pub fn upload_policy(&self) -> domain::uploads::UploadPolicy {
        domain::uploads::UploadPolicy {
            max_file_bytes: self.max_upload_bytes,
            idle_expiry: chrono::Duration::seconds(self.upload_idle_seconds.max(1) as i64),
            max_unfinished_per_owner: self.max_unfinished_uploads_per_owner,
            default_quota_bytes: self.storage_quota_bytes,
            memory_budget_bytes: self.upload_memory_bytes,
        }
    }

    pub fn storage_url(&self) -> String {
        self.storage_url
            .clone()
            .unwrap_or_else(|| self.data_dir.join("objects").display().to_string())
    }
}

const LICENSE_KEY_SECRET_KEY: &str = "license_key_secret";
/// Settings that are secrets, refused in configuration files.
const SECRET_KEYS: [&str; 3] = [
    LICENSE_KEY_SECRET_KEY,
    "stripe_secret_key",
    "stripe_webhook_secret",
];
pub const LICENSE_KEY_SECRET_VAR: &str = "BAZAAR_LICENSE_KEY_SECRET";

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
// `Jail`'s closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_dir("config")?;
            jail.create_file(
                "config/10-base.toml",
                "data_dir = \"/srv/a\"\nseed_demo = false\naddr = \"0.0.0.0:8080\"",
            )?;
            jail.create_file("config/20-site.toml", "data_dir = \"/srv/b\"")?;
            jail.set_env("BAZAAR_ADDR", "127.0.0.1:9000");
            jail.set_env("DATABASE_URL", "postgres://db/x");
            jail.set_env("BAZAAR_RATE_LIMITS__LOG_IN_PER_ACCOUNT", "3");
            let overrides = Overrides {
                site_root: Some("/site".into()),
                ..Default::default()
            };
            let config = Config::load(Path::new("config"), &overrides).unwrap();
            assert_eq!(config.data_dir, PathBuf::from("/srv/b"));
            assert!(!config.seed_demo);
            assert_eq!(config.addr.port(), 9000);
            assert_eq!(config.database_url(), "postgres://db/x");
            assert_eq!(config.site_root, PathBuf::from("/site"));
            assert_eq!(config.rate_limits.log_in_per_account, 3);
            assert_eq!(
                config.rate_limits.log_in_per_ip, 20,
                "unset keys keep their default"
            );
            Ok(())
        });
    }

    #[test]
    fn mail_links_show_in_pages_only_on_a_loopback_install_without_smtp() {
        let local = Config::default();
        assert!(local.mail_links_in_page(), "the demo run on 127.0.0.1:3000");
        let v6 = Config {
            addr: "[::1]:3000".parse().unwrap(),
            ..Config::default()
        };
        assert!(v6.mail_links_in_page());
        for config in [
            Config {
                addr: "0.0.0.0:3000".parse().unwrap(),
                ..Config::default()
            },
            Config {
                public_url: Some("https://bazaar.example".into()),
                ..Config::default()
            },
            Config {
                public_url: Some("http://127.0.0.1.example.org:3000".into()),
                ..Config::default()
            },
            Config {
                trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
                ..Config::default()
            },
            Config {
                smtp_url: Some("smtp://mail.example:587".into()),
                ..Config::default()
            },
        ] {
            assert!(!config.mail_links_in_page(), "{config:?}");
        }
    }

    #[test]
    fn defaults_need_no_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let config = Config::load(Path::new("config"), &Overrides::default()).unwrap();
            assert_eq!(config.addr.port(), 3000);
            assert_eq!(config.database_url(), "sqlite://data/bazaar.db?mode=rwc");
            assert_eq!(config.storage_url(), "data/objects");
            Ok(())
        });
    }

    #[test]
    fn the_license_key_secret_comes_only_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let config = Config::load(Path::new("config"), &Overrides::default()).unwrap();
            assert!(config.license_key_secret.is_none());

            jail.set_env(LICENSE_KEY_SECRET_VAR, "an operator's long secret");
            let config = Config::load(Path::new("config"), &Overrides::default()).unwrap();
            assert!(config.license_key_secret.is_some());
            assert!(!format!("{config:?}").contains("operator's long secret"));

            jail.set_env(LICENSE_KEY_SECRET_VAR, "short");
            let err = Config::load(Path::new("config"), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("at least 16 characters"), "{err}");

            jail.create_dir("config")?;
            jail.create_file("config/10-base.toml", "license_key_secret = \"in a file\"")?;
            let err = Config::load(Path::new("config"), &Overrides::default()).unwrap_err();
            assert!(
                err.to_string().contains("not in a configuration file"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn stripe_secrets_come_only_from_the_environment_and_are_never_printed() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("BAZAAR_STRIPE_SECRET_KEY", "sk_live_do_not_print");
            jail.set_env("BAZAAR_STRIPE_WEBHOOK_SECRET", "whsec_do_not_print");
            let config = Config::load(Path::new("config"), &Overrides::default()).unwrap();
            assert_eq!(
                config.payments_mode(),
                PaymentsMode::Stripe,
                "a key picks Stripe"
            );
            let printed = format!("{config:?}");
            assert!(!printed.contains("do_not_print"), "{printed}");

            jail.create_dir("config")?;
            jail.create_file("config/10-base.toml", "stripe_webhook_secret = \"whsec_x\"")?;
            let err = Config::load(Path::new("config"), &Overrides::default()).unwrap_err();
            assert!(
                err.to_string().contains("BAZAAR_STRIPE_WEBHOOK_SECRET"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_public_install_without_a_key_takes_no_pretend_payments() {
        let public = Config {
            addr: "0.0.0.0:3000".parse().unwrap(),
            ..Config::default()
        };
        assert_eq!(public.payments_mode(), PaymentsMode::Off);
        assert_eq!(Config::default().payments_mode(), PaymentsMode::Test);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("BAZAAR_ADDR", "not-an-address");
            let err = Config::load(Path::new("config"), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("addr"), "{err}");
            Ok(())
        });
    }
}

/// A secret setting: read like a string, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}
