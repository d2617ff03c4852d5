//! The REST API (`/api/v1`), for scripts and the CLI: `Authorization: Bearer <token>` acts as
//! the token's owner within its scope; a browser session works too. Errors are JSON
//! `{"error": …, "field": …}` with the status the web pages use.
mod accounts;
mod downloads;
pub mod license_keys;
mod licenses;
mod models;
mod offers;
mod profiles;
mod uploads;
use axum::{
    http::Method,
    response::{IntoResponse, Response},
    routing::{delete, get, head, patch, post, MethodRouter},
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
        (route(Method::GET, "/api/v1/whoami"), get(accounts::whoami)),
        (
            route(Method::GET, "/api/v1/tokens"),
            get(accounts::list_tokens),
        ),
        (
            route(Method::DELETE, "/api/v1/tokens/{id}"),
            delete(accounts::revoke_token),
        ),
        (
            route(Method::GET, "/api/v1/avatars/{key}"),
            get(profiles::show),
        ),
        (
            route(Method::POST, "/api/v1/me/avatar"),
            post(profiles::upload),
        ),
        (
            route(Method::GET, "/api/v1/licenses/{id}/status"),
            get(licenses::status),
        ),
        (route(Method::POST, "/api/v1/models"), post(models::create)),
        (
            route(Method::GET, "/api/v1/models/{owner}/{slug}"),
            get(models::show),
        ),
        (
            route(Method::PATCH, "/api/v1/models/{owner}/{slug}"),
            patch(models::update),
        ),
        (
            route(Method::DELETE, "/api/v1/models/{owner}/{slug}"),
            delete(models::remove),
        ),
        (
            route(Method::POST, "/api/v1/models/{owner}/{slug}/versions"),
            post(models::create_version),
        ),
        (
            route(Method::GET, "/api/v1/models/{owner}/{slug}/offers"),
            get(offers::list),
        ),
        (
            route(Method::POST, "/api/v1/models/{owner}/{slug}/offers"),
            post(offers::add),
        ),
        (
            route(Method::DELETE, "/api/v1/models/{owner}/{slug}/offers/{id}"),
            delete(offers::withdraw),
        ),
        (
            route(
                Method::POST,
                "/api/v1/models/{owner}/{slug}/versions/{version}/publish",
            ),
            post(models::publish_version),
        ),
        (
            route(
                Method::GET,
                "/api/v1/models/{owner}/{slug}/versions/{version}/files",
            ),
            get(downloads::list),
        ),
        (
            route(
                Method::GET,
                "/api/v1/models/{owner}/{slug}/versions/{version}/files/{*path}",
            ),
            get(downloads::file),
        ),
        (
            route(
                Method::POST,
                "/api/v1/models/{owner}/{slug}/versions/{version}/uploads",
            ),
            post(uploads::begin),
        ),
        (
            route(Method::HEAD, "/api/v1/uploads/{id}"),
            head(uploads::status),
        ),
        (
            route(Method::PATCH, "/api/v1/uploads/{id}"),
            patch(uploads::append),
        ),
        (
            route(Method::DELETE, "/api/v1/uploads/{id}"),
            delete(uploads::cancel),
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
pub struct ApiError(pub app::error::AppError);

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
        let mut response = (self.0.status(), Json(body)).into_response();
        if let Some(seconds) = self.0.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// The caller, refused with 401 when anonymous and 403 when the token's scope is short.
pub(crate) fn require(caller: Option<Extension<Caller>>, scope: Scope) -> Result<Caller, ApiError> {
    let Extension(caller) = caller.ok_or_else(|| {
        ApiError::from(DomainError::Unauthenticated(
            "send Authorization: Bearer <token>".into(),
        ))
    })?;
    caller.require_scope(scope)?;
    Ok(caller)
}
