//! A publisher managing a listing after creating it: edit its description and card, show or
//! hide it, delete it. Admins purge deleted listings (see `admin`).
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::request::{client_ip, signed_in};
#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
use crate::wire::{DeletedListingRow, ListingSettings};

#[server(endpoint = "listing_settings")]
pub async fn get_listing_settings(
    owner: String,
    slug: String,
) -> Result<ListingSettings, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let (listing, versions) =
        respond(domain::listings::overview(&state, &caller.user, &owner, &slug).await)?;
    Ok(ListingSettings {
        owner,
        slug: listing.slug,
        name: listing.name,
        summary: listing.summary,
        task: listing.task,
        tags: serde_json::from_value::<Vec<String>>(listing.tags)
            .unwrap_or_default()
            .join(", "),
        card: listing.card,
        is_published: listing.is_published,
        published_versions: versions
            .iter()
            .filter(|(v, _)| v.published_at.is_some())
            .count() as u32,
    })
}

/// `tags` is comma-separated.
#[server(endpoint = "update_listing")]
pub async fn update_listing(
    owner: String,
    slug: String,
    name: String,
    summary: String,
    task: String,
    tags: String,
    card: String,
) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let tags = super::publishing::split_tags(&tags);
    let fields = domain::listings::ListingFields {
        name: name.trim(),
        summary: summary.trim(),
        task: task.trim(),
        tags: &tags,
        card: &card,
    };
    respond(domain::listings::update(&state, &caller.user, &owner, &slug, fields).await)?;
    Ok(())
}

/// Shows the listing in the catalog (`published=true`) or hides it again.
#[server(endpoint = "set_listing_published")]
pub async fn set_listing_published(
    owner: String,
    slug: String,
    published: bool,
) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(domain::listings::set_published(&state, &caller.user, &owner, &slug, published).await)?;
    Ok(())
}

/// Deletes the listing once `confirm` repeats its slug; the browser lands on the owner's page.
#[server(endpoint = "delete_listing")]
pub async fn delete_listing(owner: String, slug: String, confirm: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    if confirm.trim() != slug {
        return Err(crate::error::refuse(AppError::Invalid {
            field: "confirm".into(),
            message: format!("type '{slug}' to confirm the deletion"),
        }));
    }
    respond(domain::listings::delete(&state, &caller.user, &owner, &slug, &client_ip()).await)?;
    leptos_axum::redirect(&format!("/settings/deleted?deleted={owner}/{slug}"));
    Ok(())
}

/// The deleted listings the caller may restore or purge.
#[server(endpoint = "my_deleted_listings")]
pub async fn my_deleted_listings() -> Result<Vec<DeletedListingRow>, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let listings = respond(domain::listings::deleted_of(&state, &caller.user).await)?;
    Ok(listings.into_iter().map(DeletedListingRow::from).collect())
}

/// Brings a deleted listing back, hidden until it is listed again.
#[server(endpoint = "restore_listing")]
pub async fn restore_listing(id: i64) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(domain::listings::restore(&state, &caller.user, id, &client_ip()).await)?;
    Ok(())
}

/// Removes a deleted listing and its stored files for good, once `confirm` repeats its
/// `owner/slug`. Its publishers and site admins may.
#[server(endpoint = "purge_listing")]
pub async fn purge_listing(id: i64, confirm: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(domain::listings::purge(&state, &caller.user, id, &confirm, &client_ip()).await)
}
