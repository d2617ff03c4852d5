//! Publishers changing what a listing offers: add an offer (checked by `offers::check`) or
//! withdraw one. Licenses granted under a withdrawn offer stay as they were.
use crate::entities::{license_offer, user};
use crate::error::DomainResult;
use crate::licensing::offers::{self, OfferInput};
use crate::state::AppState;

/// The active offers of `owner/slug`, for one of its publishers.
pub async fn list(
    state: &AppState,
    publisher: &user::Model,
    owner: &str,
    slug: &str,
) -> DomainResult<Vec<license_offer::Model>> {
    let (_, listing) = crate::listings::find_for_publisher(state, publisher, owner, slug).await?;
    crate::catalog::active_offers(&state.db, vec![listing.id]).await
}

/// Adds an offer to `owner/slug`.
pub async fn add(
    state: &AppState,
    publisher: &user::Model,
    owner: &str,
    slug: &str,
    input: &OfferInput<'_>,
) -> DomainResult<license_offer::Model> {
    let (_, listing) = crate::listings::find_for_publisher(state, publisher, owner, slug).await?;
    let semver = offers::is_semver_listing(&state.db, listing.id).await?;
    let terms = offers::check(input, semver)?;
    offers::add(&state.db, listing.id, &terms, input.terms).await
}

/// Withdraws offer `offer_id` of `owner/slug`.
pub async fn withdraw(
    state: &AppState,
    publisher: &user::Model,
    owner: &str,
    slug: &str,
    offer_id: i64,
) -> DomainResult<()> {
    let (_, listing) = crate::listings::find_for_publisher(state, publisher, owner, slug).await?;
    offers::withdraw(&state.db, listing.id, offer_id).await
}
