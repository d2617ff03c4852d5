//! Reading the public catalog: listings, model pages and publisher pages.
use std::collections::HashMap;

use sea_orm::{
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::{file, license_offer, model, model_version, user};
use crate::error::{DomainError, DomainResult};
use crate::names::username_key;

/// How a model may be obtained. Stored by name in `license_offers.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseKind {
    /// Free to download under an open license (SPDX id).
    Open,
    /// Free, but the publisher approves each request.
    Gated,
    /// One payment, perpetual license.
    Paid,
    /// Recurring monthly payment.
    Subscription,
}

impl LicenseKind {
    pub const ALL: [LicenseKind; 4] = [Self::Open, Self::Gated, Self::Paid, Self::Subscription];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Gated => "gated",
            Self::Paid => "paid",
            Self::Subscription => "subscription",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn is_priced(self) -> bool {
        matches!(self, Self::Paid | Self::Subscription)
    }
}

/// One catalog entry with what its card needs.
#[derive(Debug, Clone)]
pub struct Listing {
    pub model: model::Model,
    pub owner: user::Model,
    pub offer: Option<license_offer::Model>,
}

#[derive(Debug, Clone)]
pub struct VersionWithFiles {
    pub version: model_version::Model,
    pub files: Vec<file::Model>,
}

#[derive(Debug, Clone)]
pub struct ModelDetail {
    pub listing: Listing,
    /// Published versions, newest first.
    pub versions: Vec<VersionWithFiles>,
}

#[derive(Debug, Clone)]
pub struct Publisher {
    pub user: user::Model,
    pub models: Vec<Listing>,
}

#[derive(Debug, Clone, Default)]
pub struct CatalogQuery {
    /// Case-insensitive substring of the name, summary or slug.
    pub text: Option<String>,
    pub task: Option<String>,
}

const PAGE_SIZE: u64 = 100;

/// Longest search text accepted; longer is a mistake or an attack, not a search.
const MAX_QUERY_CHARS: usize = 200;

pub async fn list(db: &impl ConnectionTrait, query: &CatalogQuery) -> DomainResult<Vec<Listing>> {
    if query
        .text
        .as_deref()
        .is_some_and(|t| t.chars().count() > MAX_QUERY_CHARS)
    {
        return Err(DomainError::invalid(
            "query",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    // A NUL or other control character is no text anyone searches for; SQL LIKE treated the
    // NUL as the end of the pattern and matched every model.
    for (field, value) in [("query", &query.text), ("task", &query.task)] {
        if value
            .as_deref()
            .is_some_and(|v| v.contains(char::is_control))
        {
            return Err(DomainError::invalid(
                field,
                "must not contain control characters",
            ));
        }
    }
    if query.task.as_deref().is_some_and(|t| t.len() > 64) {
        return Err(DomainError::invalid(
            "task",
            "must be at most 64 characters",
        ));
    }
    let mut select = model::Entity::find()
        .filter(model::Column::IsPublished.eq(true))
        .filter(model::Column::Visibility.eq(crate::downloads::Visibility::Public.as_str()))
        .filter(model::Column::DeletedAt.is_null());
    if let Some(text) = query
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        let matches = |col: model::Column| {
            Expr::expr(Func::lower(Expr::col(col)))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        select = select.filter(
            matches(model::Column::Name)
                .or(matches(model::Column::Summary))
                .or(matches(model::Column::Slug)),
        );
    }
    if let Some(task) = query.task.as_deref().filter(|t| !t.is_empty()) {
        select = select.filter(model::Column::Task.eq(task));
    }
    let models = select
        .order_by_desc(model::Column::Downloads)
        .order_by_asc(model::Column::Name)
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    attach_owners_and_offers(db, models).await
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

async fn attach_owners_and_offers(
    db: &impl ConnectionTrait,
    models: Vec<model::Model>,
) -> DomainResult<Vec<Listing>> {
    let owner_ids: Vec<i64> = models.iter().map(|m| m.owner_id).collect();
    let model_ids: Vec<i64> = models.iter().map(|m| m.id).collect();
    let owners: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(owner_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut offers: HashMap<i64, Vec<license_offer::Model>> = HashMap::new();
    for offer in active_offers(db, model_ids).await? {
        offers.entry(offer.model_id).or_default().push(offer);
    }
    Ok(models
        .into_iter()
        .filter_map(|model| {
            let owner = owners.get(&model.owner_id)?.clone();
            let offer = offers.remove(&model.id).and_then(headline_offer);
            Some(Listing {
                model,
                owner,
                offer,
            })
        })
        .collect())
}

/// The active offers of `model_ids`, oldest first.
pub(crate) async fn active_offers(
    db: &impl ConnectionTrait,
    model_ids: Vec<i64>,
) -> DomainResult<Vec<license_offer::Model>> {
    Ok(license_offer::Entity::find()
        .filter(license_offer::Column::ModelId.is_in(model_ids))
        .filter(license_offer::Column::IsActive.eq(true))
        .order_by_asc(license_offer::Column::Id)
        .all(db)
        .await?)
}

/// The offer a listing is shown and downloaded under, of its active ones: an open one when
/// there is one (its files are free whatever else is sold), else the oldest. The catalog, the
/// model page and `downloads` all ask this.
pub fn headline_offer(offers: Vec<license_offer::Model>) -> Option<license_offer::Model> {
    let open = offers
        .iter()
        .position(|o| LicenseKind::parse(&o.kind) == Some(LicenseKind::Open));
    offers.into_iter().nth(open.unwrap_or(0))
}

pub async fn find_user(
    db: &impl ConnectionTrait,
    username: &str,
) -> DomainResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::UsernameKey.eq(username_key(username)))
        .one(db)
        .await?)
}

pub async fn model_detail(
    db: &impl ConnectionTrait,
    owner: &str,
    slug: &str,
) -> DomainResult<Option<ModelDetail>> {
    let Some(owner) = find_user(db, owner).await? else {
        return Ok(None);
    };
    let Some(model) = model::Entity::find()
        .filter(model::Column::OwnerId.eq(owner.id))
        .filter(model::Column::Slug.eq(slug))
        .filter(model::Column::IsPublished.eq(true))
        .filter(model::Column::DeletedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let versions = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(model.id))
        .filter(model_version::Column::PublishedAt.is_not_null())
        .order_by_desc(model_version::Column::PublishedAt)
        .all(db)
        .await?;
    let mut files_by_version: HashMap<i64, Vec<file::Model>> = HashMap::new();
    for f in file::Entity::find()
        .filter(file::Column::VersionId.is_in(versions.iter().map(|v| v.id)))
        .order_by_asc(file::Column::Path)
        .all(db)
        .await?
    {
        files_by_version.entry(f.version_id).or_default().push(f);
    }
    let versions = versions
        .into_iter()
        .map(|version| VersionWithFiles {
            files: files_by_version.remove(&version.id).unwrap_or_default(),
            version,
        })
        .collect();
    let mut listing = attach_owners_and_offers(db, vec![model]).await?;
    Ok(listing
        .pop()
        .map(|listing| ModelDetail { listing, versions }))
}

pub async fn publisher(
    db: &impl ConnectionTrait,
    username: &str,
) -> DomainResult<Option<Publisher>> {
    let Some(user) = find_user(db, username).await? else {
        return Ok(None);
    };
    let models = model::Entity::find()
        .filter(model::Column::OwnerId.eq(user.id))
        .filter(model::Column::IsPublished.eq(true))
        .filter(model::Column::Visibility.eq(crate::downloads::Visibility::Public.as_str()))
        .filter(model::Column::DeletedAt.is_null())
        .order_by_asc(model::Column::Name)
        .all(db)
        .await?;
    let models = attach_owners_and_offers(db, models).await?;
    Ok(Some(Publisher { user, models }))
}

pub async fn count_models(db: &impl ConnectionTrait) -> DomainResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(model::Entity::find().count(db).await?)
}
