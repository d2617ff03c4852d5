//! Profile pictures: uploaded from the account page (a plain form, so it works without
//! JavaScript) or by a script, and served by key to every page that shows the account.
use app::error::AppError;
use axum::{
    body::Bytes,
    extract::{FromRequest, Multipart, Path, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Extension, Json,
};
use domain::tokens::Scope;
use domain::{AppState, Caller, DomainError};
use serde_json::json;

use super::{require, ApiError};

/// The picture, cacheable for good: a new picture gets a new key.
pub async fn show(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let (bytes, kind) = domain::profiles::avatar(&state, &key).await?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
    ];
    Ok((headers, bytes).into_response())
}

/// Sets the caller's picture from a form's `avatar` file field or from a raw image body. A
/// browser's form post goes back to the account page, which says what happened.
pub async fn upload(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    client: Option<Extension<domain::rate_limit::ClientIp>>,
    request: Request,
) -> Response {
    let from_form = wants_html(request.headers());
    let outcome = async {
        let caller = require(caller, Scope::Write)?;
        let ip = client.map_or_else(String::new, |Extension(ip)| ip.0.to_string());
        let bytes = picture_bytes(request).await?;
        let saved = domain::profiles::set_avatar(&state, &caller.user, bytes, &ip).await?;
        Ok::<_, ApiError>(domain::profiles::picture_url(&saved))
    }
    .await;
    // The account page words the outcome itself: no text from the address reaches the page.
    match (from_form, outcome) {
        (true, Ok(_)) => Redirect::to("/settings?picture=saved").into_response(),
        (true, Err(ApiError(AppError::Unauthenticated(_)))) => {
            Redirect::to("/login").into_response()
        }
        (true, Err(_)) => Redirect::to("/settings?picture=refused").into_response(),
        (false, Ok(url)) => (StatusCode::OK, Json(json!({ "avatar_url": url }))).into_response(),
        (false, Err(err)) => err.into_response(),
    }
}

async fn picture_bytes(request: Request) -> Result<Bytes, ApiError> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_form {
        return Bytes::from_request(request, &()).await.map_err(too_large);
    }
    let mut form = Multipart::from_request(request, &()).await.map_err(|_| {
        ApiError::from(DomainError::invalid("avatar", "send the picture as a form"))
    })?;
    while let Some(field) = form.next_field().await.map_err(too_large)? {
        if field.name() == Some("avatar") {
            return field.bytes().await.map_err(too_large);
        }
    }
    Ok(Bytes::new())
}

/// A browser's plain form post (not a script) asks for HTML.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn too_large<E>(_: E) -> ApiError {
    ApiError::from(DomainError::invalid(
        "avatar",
        "must be at most 1 MB; a square of 400 pixels is plenty",
    ))
}
