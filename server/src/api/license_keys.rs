//! `GET /.well-known/bazaar-license-key`: the public keys license keys verify against, as a JWK
//! Set. Read from the database on each request, so every instance publishes a key as soon as
//! any instance may sign with it; clients keep it for five minutes.
use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use domain::{AppState, DomainError};

use super::ApiError;

pub const PATH: &str = "/.well-known/bazaar-license-key";

pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(key_set))
}

async fn key_set(State(state): State<AppState>) -> Response {
    match domain::licensing::keys::published(&state.db).await {
        Ok(set) => ([(header::CACHE_CONTROL, "public, max-age=300")], Json(set)).into_response(),
        Err(e) => ApiError::from(DomainError::from(e)).into_response(),
    }
}
