//! Who may see a listing and download which of its files: the one place that decides it, for
//! the model page's buttons, the download route, the REST API, `bazaar pull` and any download
//! route added later. A version's demo file and every file of an openly licensed listing are
//! free; the rest needs an active license of the caller or of one of their organizations
//! that covers the version; publishers always reach their own files, drafts included.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::catalog::LicenseKind;
use crate::entities::{file, license, license_offer, model, model_version, user};
use crate::error::{DomainError, DomainResult};
use crate::licensing::{self, LicenseStatus};
use crate::orgs::can_publish_as;
use crate::state::AppState;

/// Who may find a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// In the catalog and search.
    Public,
    /// Reachable by its address, absent from the catalog.
    Unlisted,
    /// Its owner's organization (or the owner) only.
    Private,
}

impl Visibility {
    pub const ALL: [Visibility; 3] = [Self::Public, Self::Unlisted, Self::Private];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Private => "private",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == raw)
    }
}

/// What one caller may do with one listing, worked out once per request.
#[derive(Debug, Clone)]
pub struct Rights {
    pub is_publisher: bool,
    /// The listing has an active open offer: every published file is free.
    pub open: bool,
    /// Kinds of the listing's active offers, to say what would unlock a file.
    offered: Vec<LicenseKind>,
    /// The caller's licenses for this listing, their organizations' included, usable now.
    licenses: Vec<license::Model>,
}

/// Whether a file may be downloaded, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAccess {
    /// Anyone may fetch it (shared caches may keep it).
    Free,
    /// The caller's license or publisher rights cover it.
    Entitled,
    /// Not for this caller, with what would change that.
    Refused(String),
}

impl FileAccess {
    pub fn allowed(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }
}

impl Rights {
    /// What `user` (None: anonymous) may do with `listing` owned by `owner`; "not found"
    /// when they may not even see it.
    pub async fn load(
        db: &impl ConnectionTrait,
        user: Option<&user::Model>,
        owner: &user::Model,
        listing: &model::Model,
    ) -> DomainResult<Rights> {
        let is_publisher = match user {
            Some(user) => can_publish_as(db, user, owner).await?,
            None => false,
        };
        if !is_publisher && !may_see(db, user, owner, listing).await? {
            return Err(DomainError::NotFound("model"));
        }
        let offers: Vec<license_offer::Model> =
            crate::catalog::active_offers(db, vec![listing.id]).await?;
        let offered: Vec<LicenseKind> = offers
            .iter()
            .filter_map(|o| LicenseKind::parse(&o.kind))
            .collect();
        let licenses = match user {
            Some(user) if !is_publisher => usable_licenses(db, user, listing.id).await?,
            _ => Vec::new(),
        };
        Ok(Rights {
            is_publisher,
            open: offered.contains(&LicenseKind::Open),
            offered,
            licenses,
        })
    }

    /// Whether `file` of `version` may be downloaded.
    pub fn file(
        &self,
        listing: &model::Model,
        version: &model_version::Model,
        file: &file::Model,
    ) -> FileAccess {
        let published = listing.is_published && version.published_at.is_some();
        if published && (file.is_demo || self.open) {
            return FileAccess::Free;
        }
        if self.is_publisher || (published && self.covers(version)) {
            return FileAccess::Entitled;
        }
        FileAccess::Refused(self.refusal())
    }

    /// Whether one of the caller's licenses covers `version`.
    pub fn covers(&self, version: &model_version::Model) -> bool {
        self.licenses
            .iter()
            .any(|license| licensing::covers(license, version))
    }

    /// The caller's usable licenses for this listing.
    pub fn licenses(&self) -> &[license::Model] {
        &self.licenses
    }

    fn refusal(&self) -> String {
        let priced = self.offered.iter().any(|k| k.is_priced());
        let gated = self.offered.contains(&LicenseKind::Gated);
        match (priced, gated, self.licenses.is_empty()) {
            (_, _, false) => {
                "your license does not cover this version; its demo file is free".into()
            }
            (true, _, true) => {
                "buy a license for this model to download it; its demo file is free".into()
            }
            (false, true, true) => {
                "this model is gated: request access from its publisher to download it".into()
            }
            (false, false, true) => "this model is not offered for download yet".into(),
        }
    }
}

/// Whether `user` may find `listing` at all (publishers are checked by the caller).
async fn may_see(
    db: &impl ConnectionTrait,
    user: Option<&user::Model>,
    owner: &user::Model,
    listing: &model::Model,
) -> DomainResult<bool> {
    if !listing.is_published || listing.deleted_at.is_some() {
        return Ok(false);
    }
    Ok(match Visibility::parse(&listing.visibility) {
        Some(Visibility::Public | Visibility::Unlisted) => true,
        Some(Visibility::Private) | None => match user {
            Some(user) if user.id == owner.id || user.is_admin => true,
            Some(user) if owner.is_org() => {
                crate::orgs::role_of(db, owner.id, user.id).await?.is_some()
            }
            _ => false,
        },
    })
}

/// `user`'s licenses for `model_id`, their organizations' included, active and unexpired now.
async fn usable_licenses(
    db: &impl ConnectionTrait,
    user: &user::Model,
    model_id: i64,
) -> DomainResult<Vec<license::Model>> {
    let mut licensees = vec![user.id];
    licensees.extend(
        crate::orgs::orgs_of(db, user.id)
            .await?
            .into_iter()
            .map(|(org, _)| org.id),
    );
    let now = Utc::now();
    Ok(license::Entity::find()
        .filter(license::Column::ModelId.eq(model_id))
        .filter(license::Column::LicenseeId.is_in(licensees))
        .filter(license::Column::Status.eq(LicenseStatus::Active.as_str()))
        .all(db)
        .await?
        .into_iter()
        .filter(|l| l.expires_at.is_none_or(|end: DateTime<Utc>| end > now))
        .collect())
}

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
    let rights = Rights::load(&state.db, user, &owner, &listing).await?;
    let version = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(listing.id))
        .filter(model_version::Column::Version.eq(version))
        .one(&state.db)
        .await?
        .filter(|v| v.published_at.is_some() || rights.is_publisher)
        .ok_or(DomainError::NotFound("version"))?;
    let file = file::Entity::find()
        .filter(file::Column::VersionId.eq(version.id))
        .filter(file::Column::Path.eq(path))
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("file"))?;
    match rights.file(&listing, &version, &file) {
        FileAccess::Refused(reason) => Err(DomainError::Forbidden(reason)),
        access => Ok(Download {
            public: access == FileAccess::Free,
            file,
            listing,
        }),
    }
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

/// One file of a version, with whether the caller may download it and why not.
#[derive(Debug, Clone)]
pub struct ListedFile {
    pub file: file::Model,
    pub access: FileAccess,
}

/// The files of `owner/slug@version` the caller can see, each with what they may do with it:
/// what `bazaar pull` and other clients read before downloading.
pub async fn version_files(
    state: &AppState,
    user: Option<&user::Model>,
    owner: &str,
    slug: &str,
    version: &str,
) -> DomainResult<Vec<ListedFile>> {
    use sea_orm::QueryOrder;
    let (owner, listing) = crate::listings::find_listing(state, owner, slug).await?;
    let rights = Rights::load(&state.db, user, &owner, &listing).await?;
    let version = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(listing.id))
        .filter(model_version::Column::Version.eq(version))
        .one(&state.db)
        .await?
        .filter(|v| v.published_at.is_some() || rights.is_publisher)
        .ok_or(DomainError::NotFound("version"))?;
    Ok(file::Entity::find()
        .filter(file::Column::VersionId.eq(version.id))
        .order_by_asc(file::Column::Path)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|file| ListedFile {
            access: rights.file(&listing, &version, &file),
            file,
        })
        .collect())
}
