//! The REST API (`/api/v1`), for scripts and the CLI: `Authorization: Bearer <token>` acts as
//! the token's owner within its scope; a browser session works too. Errors are JSON
//! `{"error": …, "field": …}` with the status the web pages use.
use axum::{
    extract::{Path, State},
    http::Method,
    response::{IntoResponse, Response},
    routing::{get, MethodRouter},
    Extension, Json, Router,
};
use domain::tokens::Scope;
use domain::{AppState, Caller, DomainError};
use serde_json::json;

/// One entry per route; the router is built from this table, so tests can enumerate it.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
}

pub fn routes() -> Vec<(ApiRoute, MethodRouter<AppState>)> {
    vec![
        (route(Method::GET, "/api/v1/whoami"), get(whoami)),
        (route(Method::GET, "/api/v1/tokens"), get(list_tokens)),
        (
            route(Method::DELETE, "/api/v1/tokens/{id}"),
            axum::routing::delete(revoke_token),
        ),
    ]
}

fn route(method: Method, path: &'static str) -> ApiRoute {
    ApiRoute { method, path }
}

pub fn router() -> Router<AppState> {
    routes()
        .into_iter()
        .fold(Router::new(), |router, (route, handler)| {
            router.route(route.path, handler)
        })
}

/// A domain refusal as JSON with its status.
pub struct ApiError(app::error::AppError);

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.0 {
            app::error::AppError::Invalid { field, message } => {
                json!({ "error": message, "field": field })
            }
            other => json!({ "error": other.to_string() }),
        };
        (self.0.status(), Json(body)).into_response()
    }
}

/// The caller, refused with 401 when anonymous and 403 when the token's scope is short.
fn require(caller: Option<Extension<Caller>>, scope: Scope) -> Result<Caller, ApiError> {
    let Extension(caller) = caller.ok_or_else(|| {
        ApiError::from(DomainError::Unauthenticated(
            "send Authorization: Bearer <token>".into(),
        ))
    })?;
    caller.require_scope(scope)?;
    Ok(caller)
}

async fn whoami(caller: Option<Extension<Caller>>) -> Result<Json<serde_json::Value>, ApiError> {
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

async fn list_tokens(
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

async fn revoke_token(
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
