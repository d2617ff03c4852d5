//! `GET /api/v1/licenses/{id}/status`: whether a license still stands, for a deployment that
//! verified its key offline and can go online now and then to learn of a refund or
//! revocation. It tells only the status and the end date, nothing of the licensee.
use axum::{
    extract::{Path, State},
    Json,
};
use domain::AppState;
use serde_json::{json, Value};

use super::ApiError;

pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let standing = domain::licensing::held::standing(&state, id).await?;
    Ok(Json(json!({
        "id": id,
        "status": standing.status,
        "active": standing.active,
        "expires_at": standing.expires_at.map(|t| t.to_rfc3339()),
    })))
}
