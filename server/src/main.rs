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
    /// Load the demo catalog (idempotent) and exit.
    Seed(CommonArgs),
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
            tracing::error!(error = ?err, "bazaar failed");
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
        Command::Seed(common) => {
            let config = common.load(None)?;
            telemetry::init(config.log_format);
            let state = startup::connect(&config).await?;
            let report = seed_data::load(&state).await?;
            println!(
                "seeded {} demo models ({} were already present)",
                report.models_added, report.models_present
            );
        }
    }
    Ok(())
}
