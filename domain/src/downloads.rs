//! Who may download which file: the one place that decides it. Today anyone may fetch a
//! version's public demo file and every file of an openly licensed listing, and publishers
//! their own files, drafts included; licences bought or granted will be checked here too.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::catalog::LicenseKind;
use crate::entities::{file, model, model_version, user};
use crate::error::{DomainError, DomainResult};
use crate::orgs::can_publish_as;
use crate::state::AppState;

/// A file the caller may download.
#[derive(Debug, Clone)]
pub struct Download {
    pub file: file::Model,
    pub listing: model::Model,
    /// Anyone may fetch it, so shared caches may keep it.
    pub public: bool,
}

/// The file `path` of `owner/slug@version`, if `user` (None: anonymous) may download it.
/// What the caller may not see at all is "not found"; what they see but may not fetch is
/// "forbidden", with the reason.
pub async fn authorize(
    state: &AppState,
    user: Option<&user::Model>,
    owner: &str,
    slug: &str,
    version: &str,
    path: &str,
) -> DomainResult<Download> {
    let (owner, listing) = crate::listings::find_listing(state, owner, slug).await?;
    let is_publisher = match user {
        Some(user) => can_publish_as(&state.db, user, &owner).await?,
        None => false,
    };
    if !listing.is_published && !is_publisher {
        return Err(DomainError::NotFound("model"));
    }
    let version = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(listing.id))
        .filter(model_version::Column::Version.eq(version))
        .one(&state.db)
        .await?
        .filter(|v| v.published_at.is_some() || is_publisher)
        .ok_or(DomainError::NotFound("version"))?;
    let file = file::Entity::find()
        .filter(file::Column::VersionId.eq(version.id))
        .filter(file::Column::Path.eq(path))
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("file"))?;
    let kind = offered_kind(state, listing.id).await?;
    let public = listing.is_published && version.published_at.is_some() && is_public(&file, kind);
    if !public && !is_publisher {
        return Err(DomainError::Forbidden(match kind {
            Some(LicenseKind::Gated) => {
                "this model is gated: request access from its publisher to download it".into()
            }
            Some(LicenseKind::Paid | LicenseKind::Subscription) => {
                "buy a license for this model to download it; its demo file is free".into()
            }
            _ => "this model is not offered for download yet".into(),
        }));
    }
    Ok(Download {
        file,
        listing,
        public,
    })
}

/// Whether anyone may fetch `file` of a published version of a published listing offered
/// as `kind`: its demo file always, every file when the licence is open.
pub fn is_public(file: &file::Model, kind: Option<LicenseKind>) -> bool {
    file.is_demo || kind == Some(LicenseKind::Open)
}

/// How the listing is offered now, if it is: the kind of its headline offer, the one the
/// model page shows.
async fn offered_kind(state: &AppState, model_id: i64) -> DomainResult<Option<LicenseKind>> {
    let offers = crate::catalog::active_offers(&state.db, vec![model_id]).await?;
    Ok(crate::catalog::headline_offer(offers).and_then(|offer| LicenseKind::parse(&offer.kind)))
}

/// Counts a download on the listing (a whole file, or the first part of a ranged one).
pub async fn count(state: &AppState, listing: &model::Model) -> DomainResult<()> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    model::Entity::update_many()
        .col_expr(
            model::Column::Downloads,
            Expr::col(model::Column::Downloads).add(1),
        )
        .filter(model::Column::Id.eq(listing.id))
        .exec(&state.db)
        .await?;
    Ok(())
}
