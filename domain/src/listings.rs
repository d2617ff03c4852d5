//! Publishers managing their listings: create, edit, publish and unpublish, delete (soft:
//! the files stay until an admin purges them), and versions. Every function checks that the
//! caller may publish as the listing's owner (themselves, or an organization they own or
//! administer); drafts and deleted listings are invisible to everyone else.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

use crate::audit::{self, Action, Actor};
use crate::catalog::find_user;
use crate::entities::{file, model, model_version, user};
use crate::error::{DomainError, DomainResult};
use crate::licensing::offers::{self, OfferInput};
use crate::orgs::can_publish_as;
use crate::publishing::{self, NewModel};
use crate::state::AppState;

/// The owner and listing `owner/slug`, drafts included and deleted ones excluded, for any
/// caller: the callers decide who may see it.
pub async fn find_listing(
    state: &AppState,
    owner: &str,
    slug: &str,
) -> DomainResult<(user::Model, model::Model)> {
    let owner = find_user(&state.db, owner)
        .await?
        .ok_or(DomainError::NotFound("model"))?;
    let listing = model::Entity::find()
        .filter(model::Column::OwnerId.eq(owner.id))
        .filter(model::Column::Slug.eq(slug))
        .filter(model::Column::DeletedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("model"))?;
    Ok((owner, listing))
}

/// The owner and listing `owner/slug` (deleted ones excluded), if `user` may publish as the
/// owner. Others get "not found" for drafts, and "forbidden" for published listings.
pub async fn find_for_publisher(
    state: &AppState,
    user: &user::Model,
    owner: &str,
    slug: &str,
) -> DomainResult<(user::Model, model::Model)> {
    let (owner, listing) = find_listing(state, owner, slug).await?;
    if !can_publish_as(&state.db, user, &owner).await? {
        return Err(if listing.is_published {
            DomainError::Forbidden(format!("you cannot change {}'s models", owner.username))
        } else {
            DomainError::NotFound("model")
        });
    }
    Ok((owner, listing))
}

/// What a publisher sends to create or edit a listing.
pub struct ListingFields<'a> {
    pub name: &'a str,
    pub summary: &'a str,
    pub task: &'a str,
    pub tags: &'a [String],
    pub card: &'a str,
}

/// Creates a draft listing under `owner` (the caller, or one of their organizations), with
/// its first offer when one is given, so that it is never published "unavailable". The offer
/// is checked before anything is written, and the listing and its offer land together.
pub async fn create(
    state: &AppState,
    user: &user::Model,
    owner: &str,
    slug: &str,
    fields: ListingFields<'_>,
    offer: Option<&OfferInput<'_>>,
) -> DomainResult<model::Model> {
    let owner_row = find_user(&state.db, owner)
        .await?
        .ok_or_else(|| DomainError::invalid("owner", format!("no account is called '{owner}'")))?;
    if !can_publish_as(&state.db, user, &owner_row).await? {
        return Err(DomainError::Forbidden(if owner_row.id == user.id {
            "enable publishing on your account first".into()
        } else {
            format!("you cannot publish as {}", owner_row.username)
        }));
    }
    // No versions yet: every version so far is SemVer, as `offers::is_semver_listing` finds.
    let offer = offer
        .map(|input| offers::check(input, true).map(|terms| (terms, input.terms)))
        .transpose()?;
    let txn = state.db.begin().await?;
    let listing = publishing::create_model(
        &txn,
        NewModel {
            owner_id: owner_row.id,
            slug,
            name: fields.name,
            summary: fields.summary,
            task: fields.task,
            tags: fields.tags,
            card: fields.card,
        },
    )
    .await?;
    if let Some((terms, text)) = offer {
        offers::add(&txn, listing.id, &terms, text).await?;
    }
    txn.commit().await?;
    Ok(listing)
}

/// Replaces the listing's descriptive fields (the slug stays: links depend on it).
pub async fn update(
    state: &AppState,
    user: &user::Model,
    owner: &str,
    slug: &str,
    fields: ListingFields<'_>,
) -> DomainResult<model::Model> {
    let (_, listing) = find_for_publisher(state, user, owner, slug).await?;
    publishing::check_listing_fields(
        fields.name,
        fields.summary,
        fields.task,
        fields.tags,
        fields.card,
    )?;
    let mut row: model::ActiveModel = listing.into();
    row.name = Set(fields.name.to_owned());
    row.summary = Set(fields.summary.to_owned());
    row.task = Set(fields.task.to_owned());
    row.tags = Set(serde_json::json!(fields.tags));
    row.card = Set(fields.card.to_owned());
    row.updated_at = Set(Utc::now());
    Ok(row.update(&state.db).await?)
}

/// Shows or hides the listing in the catalog. Publishing needs a published version.
pub async fn set_published(
    state: &AppState,
    user: &user::Model,
    owner: &str,
    slug: &str,
    published: bool,
) -> DomainResult<model::Model> {
    let (_, listing) = find_for_publisher(state, user, owner, slug).await?;
    if published {
        let versions = model_version::Entity::find()
            .filter(model_version::Column::ModelId.eq(listing.id))
            .filter(model_version::Column::PublishedAt.is_not_null())
            .count(&state.db)
            .await?;
        if versions == 0 {
            return Err(DomainError::Conflict(
                "publish a version first: a listing without files cannot be shown".into(),
            ));
        }
    }
    let mut row: model::ActiveModel = listing.into();
    row.is_published = Set(published);
    row.updated_at = Set(Utc::now());
    Ok(row.update(&state.db).await?)
}

/// Soft-deletes the listing: gone from every page and API at once; its publishers may restore
/// it until it is purged.
pub async fn delete(
    state: &AppState,
    user: &user::Model,
    owner: &str,
    slug: &str,
    ip: &str,
) -> DomainResult<()> {
    let (_, listing) = find_for_publisher(state, user, owner, slug).await?;
    let subject = format!("{owner}/{slug}");
    let mut row: model::ActiveModel = listing.into();
    row.deleted_at = Set(Some(Utc::now()));
    row.is_published = Set(false);
    row.update(&state.db).await?;
    audit::record(
        &state.db,
        Actor::user(user, ip),
        Action::ListingDelete,
        &subject,
    )
    .await
}

pub async fn create_version(
    state: &AppState,
    user: &user::Model,
    owner: &str,
    slug: &str,
    version: &str,
    changelog: &str,
) -> DomainResult<model_version::Model> {
    let (_, listing) = find_for_publisher(state, user, owner, slug).await?;
    if semver::Version::parse(version).is_err()
        && offers::sells_until_next_major(&state.db, listing.id).await?
    {
        return Err(DomainError::invalid(
            "version",
            "this model is sold for every version up to the next major, so its versions are \
             numbered in SemVer (like 1.2.0)",
        ));
    }
    publishing::create_version(&state.db, listing.id, version, changelog).await
}

/// The draft version `owner/slug@version`, if `user` may publish into it.
pub async fn writable_version(
    state: &AppState,
    user: &user::Model,
    owner: &str,
    slug: &str,
    version: &str,
) -> DomainResult<(model::Model, model_version::Model)> {
    let (_, listing) = find_for_publisher(state, user, owner, slug).await?;
    let version = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(listing.id))
        .filter(model_version::Column::Version.eq(version))
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("version"))?;
    if version.published_at.is_some() {
        return Err(DomainError::Conflict(format!(
            "version {} is published and can no longer change",
            version.version
        )));
    }
    Ok((listing, version))
}

/// Freezes a draft version (it must have files), and shows the listing if it was a draft.
pub async fn publish_version(
    state: &AppState,
    user: &user::Model,
    owner: &str,
    slug: &str,
    version: &str,
) -> DomainResult<model_version::Model> {
    let (listing, draft) = writable_version(state, user, owner, slug, version).await?;
    let files = file::Entity::find()
        .filter(file::Column::VersionId.eq(draft.id))
        .count(&state.db)
        .await?;
    if files == 0 {
        return Err(DomainError::Conflict(format!(
            "version {version} has no files yet"
        )));
    }
    let listing = adopt_readme(state, listing, &draft).await?;
    publishing::mark_demo(&state.db, &listing, &draft).await?;
    let published = publishing::publish_version(&state.db, draft).await?;
    if !listing.is_published {
        publishing::publish_model(&state.db, listing).await?;
    }
    Ok(published)
}

/// The largest README.md that becomes a card (a card is read whole to render it).
const MAX_README_BYTES: i64 = 1 << 20;

/// A README.md among the version's files becomes the listing's card when the version is
/// published, however the files arrived (the browser or `bazaar push`), so the card and its
/// `demo:` block are the ones the publisher shipped with the files.
async fn adopt_readme(
    state: &AppState,
    listing: model::Model,
    draft: &model_version::Model,
) -> DomainResult<model::Model> {
    let Some(readme) = file::Entity::find()
        .filter(file::Column::VersionId.eq(draft.id))
        .filter(file::Column::Path.eq("README.md"))
        .one(&state.db)
        .await?
    else {
        return Ok(listing);
    };
    if readme.size > MAX_README_BYTES {
        return Err(DomainError::invalid(
            "card",
            "README.md is the model card and must be at most 1 MiB",
        ));
    }
    let bytes = state.storage.read_all(&readme.object_key).await?;
    let card = String::from_utf8(bytes.to_vec())
        .map_err(|_| DomainError::invalid("card", "README.md must be UTF-8 text"))?;
    crate::card::parse(&card)
        .map_err(|e| DomainError::invalid("card", format!("README.md: {e}")))?;
    if card == listing.card {
        return Ok(listing);
    }
    let mut row: model::ActiveModel = listing.into();
    row.card = Set(card);
    Ok(row.update(&state.db).await?)
}

/// A listing with its versions and their files, as its publisher sees it (drafts included).
pub async fn overview(
    state: &AppState,
    user: &user::Model,
    owner: &str,
    slug: &str,
) -> DomainResult<(model::Model, Vec<(model_version::Model, Vec<file::Model>)>)> {
    let (_, listing) = find_for_publisher(state, user, owner, slug).await?;
    let versions = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(listing.id))
        .order_by_desc(model_version::Column::Id)
        .all(&state.db)
        .await?;
    let mut out = Vec::with_capacity(versions.len());
    for version in versions {
        let files = file::Entity::find()
            .filter(file::Column::VersionId.eq(version.id))
            .order_by_asc(file::Column::Path)
            .all(&state.db)
            .await?;
        out.push((version, files));
    }
    Ok((listing, out))
}

/// A soft-deleted listing waiting to be restored or purged.
#[derive(Debug, Clone)]
pub struct DeletedListing {
    pub listing: model::Model,
    pub owner: user::Model,
    pub files: u64,
    pub bytes: i64,
}

impl DeletedListing {
    /// What a purge asks to have typed: the listing's `owner/slug`.
    pub fn confirmation(&self) -> String {
        format!("{}/{}", self.owner.username, self.listing.slug)
    }
}

/// Every soft-deleted listing, newest deletion first, with what purging it frees. Admins only.
pub async fn deleted(state: &AppState, admin: &user::Model) -> DomainResult<Vec<DeletedListing>> {
    audit::require_admin(admin)?;
    let listings = model::Entity::find()
        .filter(model::Column::DeletedAt.is_not_null())
        .order_by_desc(model::Column::DeletedAt)
        .all(&state.db)
        .await?;
    with_owners_and_sizes(state, listings).await
}

/// The soft-deleted listings `user` may restore: their own and those of the organizations
/// they publish for, newest deletion first.
pub async fn deleted_of(state: &AppState, user: &user::Model) -> DomainResult<Vec<DeletedListing>> {
    let mut owners = vec![user.id];
    for (org, role) in crate::orgs::orgs_of(&state.db, user.id).await? {
        if role >= crate::orgs::Role::Admin {
            owners.push(org.id);
        }
    }
    let listings = model::Entity::find()
        .filter(model::Column::DeletedAt.is_not_null())
        .filter(model::Column::OwnerId.is_in(owners))
        .order_by_desc(model::Column::DeletedAt)
        .all(&state.db)
        .await?;
    with_owners_and_sizes(state, listings).await
}

async fn with_owners_and_sizes(
    state: &AppState,
    listings: Vec<model::Model>,
) -> DomainResult<Vec<DeletedListing>> {
    let mut out = Vec::with_capacity(listings.len());
    for listing in listings {
        let owner = user::Entity::find_by_id(listing.owner_id)
            .one(&state.db)
            .await?
            .ok_or(DomainError::NotFound("owner"))?;
        let files = files_of(state, listing.id).await?;
        out.push(DeletedListing {
            files: files.len() as u64,
            bytes: files.iter().map(|f| f.size).sum(),
            listing,
            owner,
        });
    }
    Ok(out)
}

/// The deleted listing `model_id`, if `actor` is a site admin or may publish as its owner.
/// Others get "not found": they cannot tell it exists.
async fn find_deleted(
    state: &AppState,
    actor: &user::Model,
    model_id: i64,
) -> DomainResult<DeletedListing> {
    let listing = model::Entity::find_by_id(model_id)
        .filter(model::Column::DeletedAt.is_not_null())
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("deleted model"))?;
    let found = with_owners_and_sizes(state, vec![listing])
        .await?
        .pop()
        .ok_or(DomainError::NotFound("deleted model"))?;
    if actor.is_admin || can_publish_as(&state.db, actor, &found.owner).await? {
        Ok(found)
    } else {
        Err(DomainError::NotFound("deleted model"))
    }
}

/// Brings a deleted listing back, hidden from the catalog until its publisher lists it again.
pub async fn restore(
    state: &AppState,
    actor: &user::Model,
    model_id: i64,
    ip: &str,
) -> DomainResult<DeletedListing> {
    let found = find_deleted(state, actor, model_id).await?;
    let mut row: model::ActiveModel = found.listing.clone().into();
    row.deleted_at = Set(None);
    row.update(&state.db).await?;
    let actor = acting_on(state, actor, &found.owner, ip).await?;
    audit::record(
        &state.db,
        actor,
        Action::ListingRestore,
        &found.confirmation(),
    )
    .await?;
    Ok(found)
}

/// Removes a soft-deleted listing for good, once `confirm` repeats its `owner/slug`: its stored
/// files first, then its rows (versions, files, offers and unfinished uploads go with it).
/// Deleting objects first means a purge cut short leaves rows of an invisible listing to
/// retry, never unreferenced objects. Its publishers and site admins may purge.
pub async fn purge(
    state: &AppState,
    actor: &user::Model,
    model_id: i64,
    confirm: &str,
    ip: &str,
) -> DomainResult<()> {
    let found = find_deleted(state, actor, model_id).await?;
    let expected = found.confirmation();
    if confirm.trim() != expected {
        return Err(DomainError::invalid(
            "confirm",
            format!("type '{expected}' to confirm that its files go for good"),
        ));
    }
    for f in files_of(state, model_id).await? {
        state.storage.delete(&f.object_key).await?;
    }
    let versions: Vec<i64> = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(model_id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|v| v.id)
        .collect();
    for upload in crate::entities::upload::Entity::find()
        .filter(crate::entities::upload::Column::VersionId.is_in(versions))
        .all(&state.db)
        .await?
    {
        state.storage.discard_partial(&upload.object_key).await?;
    }
    model::Entity::delete_by_id(model_id)
        .exec(&state.db)
        .await?;
    let actor = acting_on(state, actor, &found.owner, ip).await?;
    let subject = format!("model {expected} (id {model_id})");
    audit::record(&state.db, actor, Action::ListingPurge, &subject).await
}

/// In what capacity `actor` acts on `owner`'s listing: as its publisher, or with the site
/// admin's rights they would otherwise lack.
async fn acting_on<'a>(
    state: &AppState,
    actor: &'a user::Model,
    owner: &user::Model,
    ip: &'a str,
) -> DomainResult<Actor<'a>> {
    let without_admin_rights = user::Model {
        is_admin: false,
        ..actor.clone()
    };
    Ok(
        if can_publish_as(&state.db, &without_admin_rights, owner).await? {
            Actor::user(actor, ip)
        } else {
            Actor::admin(actor, ip)
        },
    )
}

/// Removes one file from a draft version: its row first, so it is gone from every page at
/// once, then its stored object.
pub async fn remove_draft_file(
    state: &AppState,
    user: &user::Model,
    at: VersionAt<'_>,
    path: &str,
    ip: &str,
) -> DomainResult<()> {
    let (_, version) = writable_version(state, user, at.owner, at.slug, at.version).await?;
    let file = file::Entity::find()
        .filter(file::Column::VersionId.eq(version.id))
        .filter(file::Column::Path.eq(path))
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("file"))?;
    file::Entity::delete_by_id(file.id).exec(&state.db).await?;
    if let Err(e) = state.storage.delete(&file.object_key).await {
        // The row is gone, so nothing refers to the object any more; say so and go on.
        tracing::warn!(key = %file.object_key, error = %e, "deleting a removed draft file");
    }
    let subject = format!("{}/{}@{}: {path}", at.owner, at.slug, at.version);
    audit::record(
        &state.db,
        Actor::user(user, ip),
        Action::DraftFileRemove,
        &subject,
    )
    .await
}

/// A version named by its listing's owner and slug.
#[derive(Debug, Clone, Copy)]
pub struct VersionAt<'a> {
    pub owner: &'a str,
    pub slug: &'a str,
    pub version: &'a str,
}

async fn files_of(state: &AppState, model_id: i64) -> DomainResult<Vec<file::Model>> {
    let versions = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(model_id))
        .all(&state.db)
        .await?;
    Ok(file::Entity::find()
        .filter(file::Column::VersionId.is_in(versions.iter().map(|v| v.id)))
        .all(&state.db)
        .await?)
}
