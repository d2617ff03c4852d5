//! The caller's own account and tokens.
use axum::{
    extract::{Path, State},
    Extension, Json,
};
use domain::tokens::Scope;
use domain::{AppState, Caller};
use serde_json::json;

use super::{require, ApiError};

pub async fn whoami(
    caller: Option<Extension<Caller>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = require(caller, Scope::Read)?;
    let scope = match caller.credential {
        domain::caller::Credential::ApiToken { scope, .. } => scope.as_str(),
        domain::caller::Credential::Session { .. } => "session",
    };
    Ok(Json(json!({
        "username": caller.user.username,
        "is_publisher": caller.user.is_publisher,
        "is_admin": caller.user.is_admin,
        "scope": scope,
    })))
}

pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = require(caller, Scope::Read)?;
    let tokens = domain::tokens::list(&state.db, caller.user.id).await?;
    let rows: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            json!({
                "id": t.id,
                "name": t.name,
                "scope": t.scope,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "last_used_at": t.last_used_at,
            })
        })
        .collect();
    Ok(Json(json!({ "tokens": rows })))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    client: Option<Extension<domain::rate_limit::ClientIp>>,
    Path(id): Path<i64>,
) -> Result<axum::http::StatusCode, ApiError> {
    let caller = require(caller, Scope::Write)?;
    let ip = client.map_or_else(String::new, |Extension(ip)| ip.0.to_string());
    domain::tokens::revoke(&state.db, &caller.user, id, &ip).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
