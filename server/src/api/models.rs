//! Listings and their versions, for publishers (write scope for changes).
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use domain::listings::{self, ListingFields};
use domain::tokens::Scope;
use domain::{AppState, Caller};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{require, ApiError};

#[derive(Deserialize)]
pub struct NewListing {
    /// The account or organization the model is listed under; the caller by default.
    owner: Option<String>,
    slug: String,
    /// The first offer, added with the listing (or later, through the offers endpoint).
    offer: Option<super::offers::NewOffer>,
    #[serde(flatten)]
    fields: Fields,
}

#[derive(Deserialize)]
pub struct Fields {
    name: String,
    #[serde(default)]
    summary: String,
    task: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    card: String,
}

impl Fields {
    fn as_domain(&self) -> ListingFields<'_> {
        ListingFields {
            name: &self.name,
            summary: &self.summary,
            task: &self.task,
            tags: &self.tags,
            card: &self.card,
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Json(new): Json<NewListing>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = require(caller, Scope::Write)?;
    let owner = new
        .owner
        .clone()
        .unwrap_or_else(|| caller.user.username.clone());
    let model = listings::create(
        &state,
        &caller.user,
        &owner,
        &new.slug,
        new.fields.as_domain(),
        new.offer.as_ref().map(|offer| offer.input()).as_ref(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "owner": owner, "slug": model.slug, "published": model.is_published })),
    ))
}

/// The listing as its publisher sees it: drafts, versions and files included.
pub async fn show(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let caller = require(caller, Scope::Read)?;
    let (model, versions) = listings::overview(&state, &caller.user, &owner, &slug).await?;
    let versions: Vec<Value> = versions
        .into_iter()
        .map(|(version, files)| {
            json!({
                "version": version.version,
                "changelog": version.changelog,
                "published": version.published_at.is_some(),
                "files": files.into_iter().map(|f| json!({
                    "path": f.path,
                    "size": f.size,
                    "sha256": f.sha256,
                    "format": f.format,
                    "metadata": f.metadata,
                    "demo": f.is_demo,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({
        "owner": owner,
        "slug": model.slug,
        "name": model.name,
        "summary": model.summary,
        "task": model.task,
        "tags": model.tags,
        "published": model.is_published,
        "versions": versions,
    })))
}

#[derive(Deserialize)]
pub struct ListingChange {
    #[serde(flatten)]
    fields: Option<Fields>,
    published: Option<bool>,
}

/// Edits the descriptive fields and/or shows or hides the listing.
pub async fn update(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((owner, slug)): Path<(String, String)>,
    Json(change): Json<ListingChange>,
) -> Result<Json<Value>, ApiError> {
    let caller = require(caller, Scope::Write)?;
    if let Some(fields) = &change.fields {
        listings::update(&state, &caller.user, &owner, &slug, fields.as_domain()).await?;
    }
    let model = match change.published {
        Some(published) => {
            listings::set_published(&state, &caller.user, &owner, &slug, published).await?
        }
        None => {
            listings::find_for_publisher(&state, &caller.user, &owner, &slug)
                .await?
                .1
        }
    };
    Ok(Json(
        json!({ "owner": owner, "slug": model.slug, "published": model.is_published }),
    ))
}

pub async fn remove(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    client: Option<Extension<domain::rate_limit::ClientIp>>,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let caller = require(caller, Scope::Write)?;
    let ip = client.map_or_else(String::new, |Extension(ip)| ip.0.to_string());
    listings::delete(&state, &caller.user, &owner, &slug, &ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct NewVersion {
    version: String,
    #[serde(default)]
    changelog: String,
}

pub async fn create_version(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((owner, slug)): Path<(String, String)>,
    Json(new): Json<NewVersion>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = require(caller, Scope::Write)?;
    let version = listings::create_version(
        &state,
        &caller.user,
        &owner,
        &slug,
        &new.version,
        &new.changelog,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "version": version.version, "published": false })),
    ))
}

/// Freezes the version; the listing shows in the catalog from now on.
pub async fn publish_version(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((owner, slug, version)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let caller = require(caller, Scope::Write)?;
    let version = listings::publish_version(&state, &caller.user, &owner, &slug, &version).await?;
    Ok(Json(
        json!({ "version": version.version, "published": true }),
    ))
}
