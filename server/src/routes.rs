//! Probes for load balancers and orchestrators.
use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Router};
use domain::AppState;

pub fn health() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up and serving.
async fn healthz() -> &'static str {
    "ok"
}

/// The database and the object store both answer. Anyone can ask, so a failure names only
/// the component; the cause goes to the log.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.check_ready().await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(not_ready) => {
            tracing::warn!(component = not_ready.component, cause = %not_ready.cause, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {}", not_ready.component),
            )
        }
    }
}
