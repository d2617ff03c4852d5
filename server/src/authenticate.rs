//! Finds who a request acts for, once, before any handler runs: an API token from
//! `Authorization: Bearer`, or else the session cookie. Handlers and server functions read
//! the resulting [`Caller`] from the request's extensions. A bearer token that is not live is
//! refused here with 401, so no handler ever sees it.
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use chrono::Utc;
use domain::caller::{Caller, Credential, SecureTransport};
use domain::AppState;
use http::{header, HeaderMap, StatusCode};

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let now = Utc::now();
    let caller = if let Some(secret) = bearer(request.headers()) {
        match domain::tokens::authenticate(&state.db, secret, now).await {
            Ok(Some((user, token))) => Some(Caller {
                user,
                credential: Credential::ApiToken {
                    id: token.id,
                    scope: token.scope(),
                },
            }),
            Ok(None) => return unauthorized("the bearer token is invalid, expired or revoked"),
            Err(err) => return internal(err),
        }
    } else {
        let https = request
            .extensions()
            .get::<SecureTransport>()
            .is_some_and(|secure| secure.0);
        match app::api::request::session_cookie::read(request.headers(), https) {
            Some(token) => {
                match domain::accounts::session_user(&state.db, &state.sessions, &token, now).await
                {
                    Ok(user) => user.map(|user| Caller {
                        user,
                        credential: Credential::Session { token },
                    }),
                    Err(err) => return internal(err),
                }
            }
            None => None,
        }
    };
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn unauthorized(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

fn internal(err: domain::DomainError) -> Response {
    tracing::error!(error = ?err, "authenticating a request");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({ "error": "something went wrong on our side" })),
    )
        .into_response()
}
