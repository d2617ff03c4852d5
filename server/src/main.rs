use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sea_orm_migration::MigratorTrait;
use server::config::{Config, Overrides};
use server::{seed_data, startup, telemetry};

/// Bazaar: a self-hostable model marketplace.
#[derive(Parser)]
#[command(name = "bazaar", version)]
struct Cli {
    /// Defaults to `serve` with its defaults (as `cargo leptos watch` runs it).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the marketplace (migrates the database first; seeds demo models into an empty one).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:3000.
        #[arg(long)]
        addr: Option<SocketAddr>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Apply pending database migrations and exit.
    Migrate(CommonArgs),
    /// Load the demo catalog, or the catalog in a directory, (idempotent) and exit.
    Seed {
        /// A directory with a `catalog.toml` and a folder per model [default: the demo catalog].
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Upload a folder as a version of a model (created when missing), resuming where an
    /// interrupted push stopped. The API token comes from BAZAAR_TOKEN.
    Push {
        /// The folder to upload; every file in it (hidden ones skipped) becomes a file of the version.
        dir: PathBuf,
        /// owner/name of the model.
        #[arg(long)]
        model: String,
        #[arg(long)]
        version: String,
        /// Publish the version once every file is in.
        #[arg(long)]
        publish: bool,
        /// List a model that has no offer yet under this license: open, gated, paid or
        /// subscription.
        #[arg(long, value_name = "KIND")]
        license: Option<String>,
        /// The SPDX id of an open license.
        #[arg(long)]
        spdx: Option<String>,
        /// The price of a paid or subscription license, e.g. 9.50.
        #[arg(long)]
        price: Option<String>,
        /// ISO 4217 currency of the price [default: usd].
        #[arg(long)]
        currency: Option<String>,
        /// A file holding the license's terms (shown before anyone accepts or pays).
        #[arg(long, value_name = "FILE")]
        terms: Option<PathBuf>,
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        endpoint: String,
    },
    /// Download a version's files into a folder, resuming partial files and checking each
    /// SHA-256. An API token in BAZAAR_TOKEN downloads what its owner's licenses open;
    /// without one, open and demo files only.
    Pull {
        /// owner/name of the model.
        #[arg(long)]
        model: String,
        #[arg(long)]
        version: String,
        /// Where the files go [default: the model's name].
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        endpoint: String,
    },
    /// Operator tasks on accounts; safe to run while a server uses the same database.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// License keys.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Payment provider tasks.
    #[command(subcommand)]
    Payments(PaymentsCommand),
}

#[derive(Subcommand)]
enum PaymentsCommand {
    /// Fetch the payment provider's recent events and apply any that were missed or failed
    /// (the server also does this every ten minutes).
    Reconcile {
        /// How far back to look, in hours.
        #[arg(long, default_value_t = 72)]
        since_hours: u32,
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Subcommand)]
enum LicenseCommand {
    /// Check a license key offline: its signature against the marketplace's public keys, and
    /// its expiry. Prints what it licenses; exits non-zero, saying why, when it is refused.
    Verify {
        /// The key (bzr1.…), or - to read it from stdin.
        key: String,
        /// The marketplace's public keys: a saved key set (JSON file) or its URL.
        #[arg(long, value_name = "FILE|URL", default_value = server::license_verify::DEFAULT_KEY_SET)]
        public_key: String,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account. The password is read from stdin (first line) when it is not a
    /// terminal; otherwise one is generated and printed.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Make the account a site administrator.
        #[arg(long)]
        admin: bool,
        /// Turn publishing on for the account (as its owner could in the settings).
        #[arg(long)]
        publisher: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Turn publishing on for an existing account.
    Publisher {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Make a new license signing key; the old ones stay published, so the licenses they
    /// signed still verify. Running servers switch to the new key within a minute.
    RotateLicenseKey {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create an API token for an account and print it (shown once).
    Token {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        /// read, or write (which includes read).
        #[arg(long, default_value = "read")]
        scope: String,
        /// Days until the token expires; never when absent.
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Args, Default)]
struct CommonArgs {
    /// Directory for the embedded database and local object storage.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Database URL (sqlite://… or postgres://…); overrides DATABASE_URL.
    #[arg(long)]
    database_url: Option<String>,
    /// Directory holding the built site (pkg/ and public files).
    #[arg(long)]
    site_root: Option<PathBuf>,
    /// Directory of TOML configuration files, read in name order [default: config].
    #[arg(long)]
    config_dir: Option<PathBuf>,
}

impl CommonArgs {
    fn load(self, addr: Option<SocketAddr>) -> anyhow::Result<Config> {
        let overrides = Overrides {
            addr,
            data_dir: self.data_dir,
            database_url: self.database_url,
            site_root: self.site_root,
        };
        let config_dir = self.config_dir.unwrap_or_else(|| PathBuf::from("config"));
        Ok(Config::load(&config_dir, &overrides)?)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = Cli::parse().command.unwrap_or(Command::Serve {
        addr: None,
        common: CommonArgs::default(),
    });
    match run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Once, as the causes' messages: the log line and `{err:?}` would repeat it,
            // the latter with a backtrace when RUST_BACKTRACE is set.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { addr, common } => {
            let config = common.load(addr)?;
            telemetry::init(config.log_format);
            let app = startup::Application::build(&config).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate(common) => {
            let config = common.load(None)?;
            telemetry::init(config.log_format);
            let state = startup::connect(&config).await?;
            let applied = migrations::Migrator::get_applied_migrations(&state.db).await?;
            println!(
                "database is at migration {}",
                applied
                    .last()
                    .map_or("(none)".into(), |m| m.name().to_owned())
            );
        }
        Command::Seed { catalog, common } => {
            let config = common.load(None)?;
            telemetry::init(config.log_format);
            let state = startup::connect(&config).await?;
            let report = match &catalog {
                Some(dir) => seed_data::load_dir(&state, dir).await?,
                None => seed_data::load(&state).await?,
            };
            println!(
                "seeded {} new model{}; {} already present",
                report.models_added,
                if report.models_added == 1 { "" } else { "s" },
                report.models_present
            );
        }
        Command::Admin(command) => admin(command).await?,
        Command::Payments(PaymentsCommand::Reconcile {
            since_hours,
            common,
        }) => {
            let config = common.load(None)?;
            telemetry::init(config.log_format);
            let state = startup::connect(&config).await?;
            anyhow::ensure!(
                state.payments.provider.is_some(),
                "payments are not configured: nothing to reconcile"
            );
            let since = chrono::Utc::now().timestamp() - i64::from(since_hours) * 3600;
            let applied = domain::payments::webhooks::reconcile(&state, since).await?;
            println!("applied {applied} events");
        }
        Command::License(LicenseCommand::Verify { key, public_key }) => {
            let key = if key == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                key
            };
            let now = chrono::Utc::now();
            println!(
                "{}",
                server::license_verify::run(&key, &public_key, now).await?
            );
        }
        Command::Push {
            dir,
            model,
            version,
            publish,
            license,
            spdx,
            price,
            currency,
            terms,
            endpoint,
        } => {
            let offer = match license {
                Some(kind) => {
                    let terms = match terms {
                        Some(file) => std::fs::read_to_string(&file).map_err(|e| {
                            anyhow::anyhow!("reading the terms from {}: {e}", file.display())
                        })?,
                        None => String::new(),
                    };
                    Some(serde_json::json!({
                        "kind": kind, "spdx": spdx, "price": price,
                        "currency": currency, "terms": terms,
                    }))
                }
                None => None,
            };
            let (owner, slug) = model
                .split_once('/')
                .ok_or_else(|| anyhow::anyhow!("--model must be owner/name, not {model:?}"))?;
            let token = std::env::var("BAZAAR_TOKEN").map_err(|_| {
                anyhow::anyhow!("set BAZAAR_TOKEN to an API token with the write scope")
            })?;
            server::push::run(server::push::Push {
                dir,
                owner: owner.to_owned(),
                slug: slug.to_owned(),
                version,
                publish,
                offer,
                endpoint,
                token,
            })
            .await?;
        }
        Command::Pull {
            model,
            version,
            dir,
            endpoint,
        } => {
            let (owner, slug) = model
                .split_once('/')
                .ok_or_else(|| anyhow::anyhow!("--model must be owner/name, not {model:?}"))?;
            server::pull::run(server::pull::Pull {
                dir: dir.unwrap_or_else(|| PathBuf::from(slug)),
                owner: owner.to_owned(),
                slug: slug.to_owned(),
                version,
                endpoint,
                token: std::env::var("BAZAAR_TOKEN").ok().filter(|t| !t.is_empty()),
            })
            .await?;
        }
    }
    Ok(())
}

async fn admin(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Create {
            username,
            email,
            admin,
            publisher,
            common,
        } => {
            let config = common.load(None)?;
            telemetry::init(config.log_format);
            let state = startup::connect(&config).await?;
            let (password, generated) = password_from_stdin()?;
            let new = domain::accounts::SignUp {
                username: &username,
                email: &email,
                password: &password,
            };
            let grants = domain::accounts::OperatorGrants { admin, publisher };
            let user = domain::accounts::create_by_operator(&state, new, grants).await?;
            let roles: Vec<&str> = [(admin, "administrator"), (publisher, "publisher")]
                .into_iter()
                .filter_map(|(granted, role)| granted.then_some(role))
                .collect();
            if roles.is_empty() {
                println!("created {}", user.username);
            } else {
                println!("created {} ({})", user.username, roles.join(", "));
            }
            if generated {
                println!("password: {password}");
            }
        }
        AdminCommand::Publisher { username, common } => {
            let config = common.load(None)?;
            telemetry::init(config.log_format);
            let state = startup::connect(&config).await?;
            let user = domain::accounts::enable_publishing_by_operator(&state, &username).await?;
            println!("{} can publish", user.username);
        }
        AdminCommand::RotateLicenseKey { common } => {
            let config = common.load(None)?;
            telemetry::init(config.log_format);
            // The current key need not be readable: rotating is how one whose secret is lost
            // is replaced.
            let state = startup::connect_without_license_keys(&config).await?;
            let secret = config.license_key_secret.as_ref();
            let keys = domain::licensing::keys::SigningKeys::rotate(&state.db, secret).await?;
            println!("licenses are now signed with key {}", keys.kid());
        }
        AdminCommand::Token {
            username,
            name,
            scope,
            expires_in_days,
            common,
        } => {
            let config = common.load(None)?;
            telemetry::init(config.log_format);
            let state = startup::connect(&config).await?;
            let user = domain::catalog::find_user(&state.db, &username)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user is called '{username}'"))?;
            let new = domain::tokens::NewToken {
                name: &name,
                scope: &scope,
                expires_in_days,
            };
            let (_, secret) = domain::tokens::create_by_operator(&state, &user, new).await?;
            println!("{secret}");
        }
    }
    Ok(())
}

/// The first line of stdin when it is piped; a generated password when it is a terminal or
/// empty. Returns whether it was generated (and so must be shown).
fn password_from_stdin() -> anyhow::Result<(String, bool)> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']);
        if !line.is_empty() {
            return Ok((line.to_owned(), false));
        }
    }
    let secret = domain::secrets::new_secret("")?;
    Ok((secret[..24].to_owned(), true))
}
