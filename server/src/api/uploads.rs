//! Resumable uploads over HTTP, in the manner of tus 1.0: `POST …/uploads` declares a file
//! and answers its id; `PATCH /api/v1/uploads/{id}` with `Upload-Offset` appends the body
//! (streamed, never held whole); `HEAD` tells the offset to continue from after a dropped
//! connection; `DELETE` abandons it. The last byte completes the file.
use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use domain::tokens::Scope;
use domain::uploads::{self, NewUpload};
use domain::{AppState, Caller, DomainError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{require, ApiError};

const OFFSET: &str = "upload-offset";
const LENGTH: &str = "upload-length";

#[derive(Deserialize)]
pub struct Declared {
    path: String,
    size: u64,
    sha256: Option<String>,
}

fn progress(upload: &domain::entities::upload::Model) -> Value {
    json!({
        "id": upload.id,
        "path": upload.path,
        "size": upload.size,
        "offset": upload.received,
    })
}

fn offset_headers(upload: &domain::entities::upload::Model) -> [(&'static str, HeaderValue); 2] {
    [
        (OFFSET, HeaderValue::from(upload.received)),
        (LENGTH, HeaderValue::from(upload.size)),
    ]
}

pub async fn begin(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((owner, slug, version)): Path<(String, String, String)>,
    Json(declared): Json<Declared>,
) -> Result<Response, ApiError> {
    let caller = require(caller, Scope::Write)?;
    let upload = uploads::begin(
        &state,
        &caller.user,
        NewUpload {
            owner: &owner,
            slug: &slug,
            version: &version,
            path: &declared.path,
            size: declared.size,
            sha256: declared.sha256.as_deref(),
        },
    )
    .await?;
    let location = format!("/api/v1/uploads/{}", upload.id);
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, location)],
        offset_headers(&upload),
        Json(progress(&upload)),
    )
        .into_response())
}

pub async fn status(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = require(caller, Scope::Write)?;
    let upload = uploads::status(&state, &caller.user, &id).await?;
    Ok((StatusCode::OK, offset_headers(&upload)).into_response())
}

pub async fn append(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = require(caller, Scope::Write)?;
    let offset = headers
        .get(OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::from(DomainError::invalid(
                "upload-offset",
                "send the Upload-Offset header: the byte this body starts at",
            ))
        })?;
    let outcome = uploads::append(&state, &caller.user, &id, offset, body.into_data_stream()).await;
    match outcome {
        Ok(progress_now) => {
            let mut body = progress(&progress_now.upload);
            if let Some(file) = &progress_now.file {
                body["complete"] = json!(true);
                body["file"] = json!({
                    "path": file.path,
                    "size": file.size,
                    "sha256": file.sha256,
                    "format": file.format,
                    "metadata": file.metadata,
                });
            } else {
                body["complete"] = json!(false);
            }
            Ok((StatusCode::OK, offset_headers(&progress_now.upload), Json(body)).into_response())
        }
        Err(DomainError::OffsetMismatch { expected }) => Ok((
            StatusCode::CONFLICT,
            [(OFFSET, HeaderValue::from(expected))],
            Json(json!({ "error": format!("the upload continues at byte {expected}"), "offset": expected })),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

pub async fn cancel(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let caller = require(caller, Scope::Write)?;
    uploads::cancel(&state, &caller.user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
