//! Building the application from its configuration: state, migrations, demo data, router.
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;
use domain::licensing::keys::{SigningKeyError, SigningKeys};
use domain::{AppState, Storage};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tower_http::{
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::authenticate::authenticate;
use crate::config::{Config, LICENSE_KEY_SECRET_VAR};
use crate::{assets, security, seed_data};

/// Connects to the database and object store named by the configuration, migrates the schema
/// and loads the license signing keys (making the first one on a new database).
pub async fn connect(config: &Config) -> anyhow::Result<AppState> {
    let mut state = connect_without_license_keys(config).await?;
    let keys = SigningKeys::load_or_create(&state.db, config.license_key_secret.as_ref())
        .await
        .map_err(|e| {
            let hint = match e {
                SigningKeyError::SecretMissing { .. } | SigningKeyError::WrongSecret { .. } => {
                    format!(
                        " (set {LICENSE_KEY_SECRET_VAR} to the secret the key was stored with, \
                         or replace the key with `bazaar admin rotate-license-key`: licenses it \
                         signed stay valid)"
                    )
                }
                _ => String::new(),
            };
            anyhow::anyhow!("loading the license signing keys: {e}{hint}")
        })?;
    tracing::info!(kid = %keys.kid(), "loaded the license signing keys");
    state.license_keys = Arc::new(keys);
    // Payments come last: the test mode's deliverer grants licenses with this state's keys.
    let (payments, test_events) = crate::payments::configure(config, &state)?;
    state.payments = payments;
    if let Some(events) = test_events {
        tokio::spawn(domain::payments::test_mode::deliver_events(
            state.clone(),
            events,
        ));
    }
    Ok(state)
}

/// [`connect`] without reading the license signing keys: for replacing a key that cannot be
/// read.
pub async fn connect_without_license_keys(config: &Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let storage = Storage::from_url(&config.storage_url()).context("opening object storage")?;
    let mut state = AppState::connect(&config.database_url(), storage)
        .await
        .context("connecting to the database")?;
    migrations::Migrator::up(&state.db, None)
        .await
        .context("applying database migrations")?;
    state.rate_limits = config.rate_limits.to_domain();
    state.public_url = config.public_url();
    state.upload_policy = config.upload_policy();
    state.uploads = domain::uploads::Uploads::new(state.upload_policy.memory_budget_bytes);
    state.mailer = match &config.mail_capture {
        Some(capture) => domain::mail::Mailer::capturing(capture.clone(), &config.mail_from),
        None => domain::mail::Mailer::new(config.smtp_url.as_deref(), &config.mail_from),
    }
    .map_err(anyhow::Error::msg)?;
    state.mail_links_in_page = config.mail_links_in_page();
    Ok(state)
}

pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Everything `bazaar serve` does before it accepts connections.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let state = connect(config).await?;
        if config.seed_demo && domain::catalog::count_models(&state.db).await? == 0 {
            let report = seed_data::load(&state)
                .await
                .context("seeding the demo catalog")?;
            tracing::info!(models = report.models_added, "seeded the demo catalog");
        }
        if let Some(dir) = &config.seed_catalog {
            let report = seed_data::load_dir(&state, dir)
                .await
                .with_context(|| format!("seeding the catalog in {}", dir.display()))?;
            tracing::info!(
                models = report.models_added,
                present = report.models_present,
                "seeded the catalog in {}",
                dir.display()
            );
        }
        tokio::spawn(expire_idle_uploads(state.clone()));
        tokio::spawn(refresh_license_keys(state.clone()));
        // Events a provider never delivered (or that failed here) are fetched and applied.
        let reconciling = state.clone();
        tokio::spawn(domain::jobs::run_periodically(
            state.db.clone(),
            "payments.reconcile",
            std::time::Duration::from_secs(600),
            move || {
                let state = reconciling.clone();
                async move {
                    let since = chrono::Utc::now().timestamp() - 3 * 24 * 3600;
                    domain::payments::webhooks::reconcile(&state, since)
                        .await
                        .map(drop)
                }
            },
        ));
        let router = router(config, state);
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        Ok(Self { listener, router })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(addr = %self.local_addr(), "serving Bazaar");
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown_signal())
            .await
    }
}

/// The app's page routes, found once per process. Finding them renders the app while leptos
/// suppresses resource loads through a process-wide flag, so finding them again while another
/// router in the same process serves pages would leave that router's page renders waiting
/// forever on data that never loads.
pub fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

pub fn router(config: &Config, state: AppState) -> Router {
    let pkg_dir = assets::pkg_dir(&config.site_root);
    let leptos_options = LeptosOptions::builder()
        .output_name("bazaar")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir(pkg_dir.clone())
        .site_addr(config.addr)
        .build();
    let routes = page_routes();
    let pages = Router::new()
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            {
                let state = state.clone();
                move || {
                    provide_context(state.clone());
                    security::provide_request_nonce();
                }
            },
            {
                let options = leptos_options.clone();
                move || app::shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler_with_context(
            {
                let state = state.clone();
                move || {
                    provide_context(state.clone());
                    security::provide_request_nonce();
                }
            },
            app::shell,
        ))
        .with_state(leptos_options)
        .layer(from_fn(crate::form_posts::remember_outcome))
        .layer(from_fn(security::limit_server_fn_body));
    // Pages, server functions and the API know their caller; assets and probes need not.
    let authenticated = pages
        .merge(crate::api::router().with_state(state.clone()))
        .merge(crate::payments::routes().with_state(state.clone()))
        .merge(
            crate::test_checkout::routes(&format!("/{pkg_dir}/bazaar.css"))
                .with_state(state.clone()),
        )
        .layer(from_fn_with_state(state.clone(), authenticate));

    let proxies = Arc::new(security::ProxyPolicy {
        trusted_proxies: config.trusted_proxies.clone(),
        public_https: config.public_url().starts_with("https://"),
    });
    Router::new()
        .merge(crate::api::license_keys::routes().with_state(state.clone()))
        .merge(crate::routes::health().with_state(state))
        .merge(assets::routes(&config.site_root, &pkg_dir))
        .merge(authenticated)
        .layer(CompressionLayer::new())
        .layer(from_fn(security::same_origin_writes))
        .layer(from_fn(security::headers))
        .layer(from_fn_with_state(proxies, security::client_origin))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        // Every request gets an id (or keeps the one a load balancer gave it), which every
        // log line of the request carries and the response returns, so a report of a failed
        // request leads to its log lines.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The span each request's log lines run in: method, path and request id.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}

/// Aborts abandoned uploads (including those a stopped server left) every so often.
async fn expire_idle_uploads(state: AppState) {
    let every = (state.upload_policy.idle_expiry / 4)
        .to_std()
        .unwrap_or_default()
        .clamp(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(600),
        );
    loop {
        match domain::uploads::expire_idle(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(uploads = n, "aborted idle uploads"),
            Err(e) => tracing::warn!(error = ?e, "expiring idle uploads"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Switches to a signing key that another process (`bazaar admin rotate-license-key`, another
/// instance) has made, so that every instance signs with the newest key.
async fn refresh_license_keys(state: AppState) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        match state.license_keys.refresh(&state.db).await {
            Ok(false) => {}
            Ok(true) => tracing::info!(
                kid = state.license_keys.kid(),
                "license signing key rotated"
            ),
            Err(e) => tracing::warn!(error = %e, "refreshing the license signing keys"),
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
