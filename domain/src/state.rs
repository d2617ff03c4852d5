use std::sync::Arc;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::accounts::SessionPolicy;
use crate::licensing::keys::SigningKeys;
use crate::mail::Mailer;
use crate::passwords::PasswordHasher;
use crate::payments::Payments;
use crate::rate_limit::RateLimits;
use crate::storage::Storage;
use crate::uploads::{UploadPolicy, Uploads};

/// Everything a request handler needs; cheap to clone (connection pool and store are shared).
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub storage: Storage,
    pub passwords: PasswordHasher,
    pub sessions: SessionPolicy,
    pub rate_limits: RateLimits,
    pub mailer: Mailer,
    /// The site's address as users reach it, for links in e-mails (no trailing slash).
    pub public_url: String,
    /// Whether pages may show the links e-mails carry: only on an install nobody else can
    /// reach and that sends no e-mail (see the server's configuration), where the newcomer
    /// could read them in the server's log anyway.
    pub mail_links_in_page: bool,
    /// This process's uploads in progress, and the rules for new ones.
    pub uploads: Uploads,
    pub upload_policy: UploadPolicy,
    /// The payment provider (if any) and how webhook events are checked.
    pub payments: Payments,
    /// The key licenses are signed with. A key of this process alone until start-up loads the
    /// stored ones (`SigningKeys::load_or_create`), which needs the migrated schema.
    pub license_keys: Arc<SigningKeys>,
}

impl AppState {
    pub async fn connect(database_url: &str, storage: Storage) -> Result<Self, sea_orm::DbErr> {
        let mut options = ConnectOptions::new(database_url);
        options.sqlx_logging(false);
        if database_url.starts_with("sqlite:") {
            // SQLite allows one writer; a small pool avoids lock contention.
            options.max_connections(4);
        }
        let db = Database::connect(options).await?;
        // Hashes run on all cores but one, so a burst of log-ins queues for the hasher
        // instead of taking the CPU that renders pages.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let hashers = cores.saturating_sub(1).max(1);
        let license_keys =
            SigningKeys::ephemeral().map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
        Ok(Self {
            db,
            storage,
            passwords: PasswordHasher::new(hashers),
            sessions: SessionPolicy::default(),
            rate_limits: RateLimits::default(),
            mailer: Mailer::default(),
            public_url: "http://127.0.0.1:3000".to_owned(),
            mail_links_in_page: false,
            uploads: Uploads::default(),
            upload_policy: UploadPolicy::default(),
            payments: Payments::not_configured(),
            license_keys: Arc::new(license_keys),
        })
    }

    /// Readiness: both the database and the object store answer.
    pub async fn check_ready(&self) -> Result<(), NotReady> {
        self.db.ping().await.map_err(|e| NotReady {
            component: "database",
            cause: e.to_string(),
        })?;
        self.storage.check().await.map_err(|e| NotReady {
            component: "object storage",
            cause: e.to_string(),
        })?;
        Ok(())
    }
}

/// Which part of the service does not answer, and why. The cause names hosts, paths and
/// driver messages, so it is for the log; probes are told only the component.
#[derive(Debug)]
pub struct NotReady {
    pub component: &'static str,
    pub cause: String,
}
