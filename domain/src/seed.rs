//! Seed catalogs: real models loaded through the same publishing and storage services as any
//! upload. The demo catalog (`seed/` and the script that generates it) is compiled into the
//! binary; larger ones (all-MiniLM-L6-v2, prepared by the run command) are read from a directory.
use std::path::Path;

use bytes::Bytes;
use include_dir::Dir;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde::Deserialize;

use crate::catalog;
use crate::entities::model;
use crate::error::{DomainError, DomainResult};
use crate::licensing::offers;
use crate::publishing::{self, NewModel, NewPublisher};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCatalog {
    #[serde(rename = "publisher")]
    pub publishers: Vec<SeedPublisher>,
    #[serde(rename = "model")]
    pub models: Vec<SeedModel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPublisher {
    pub username: String,
    pub display_name: String,
    pub bio: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedModel {
    pub owner: String,
    pub slug: String,
    pub name: String,
    pub summary: String,
    pub task: String,
    pub tags: Vec<String>,
    pub license: String,
    pub spdx: Option<String>,
    pub price_cents: i64,
    /// The terms a gated or priced license is granted under.
    #[serde(default)]
    pub terms: String,
    pub version: String,
    pub changelog: String,
    pub files: Vec<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub models_added: usize,
    pub models_present: usize,
}

/// Where a catalog's files come from: `catalog.toml` and one folder per model.
pub trait SeedFiles: Sync {
    /// The file at `path` (relative, `/`-separated), or `None` when there is none.
    fn read(&self, path: &str) -> Option<Bytes>;
}

/// A catalog compiled into the binary.
impl SeedFiles for Dir<'static> {
    fn read(&self, path: &str) -> Option<Bytes> {
        self.get_file(path)
            .map(|f| Bytes::from_static(f.contents()))
    }
}

/// A catalog in a directory on disk.
impl SeedFiles for Path {
    fn read(&self, path: &str) -> Option<Bytes> {
        std::fs::read(self.join(path)).ok().map(Bytes::from)
    }
}

/// Loads `catalog.toml` and the model folders beside it. Idempotent: models that exist are left alone.
pub async fn seed_catalog(
    state: &AppState,
    dir: &(impl SeedFiles + ?Sized),
) -> DomainResult<SeedReport> {
    let manifest = dir
        .read("catalog.toml")
        .ok_or(DomainError::NotFound("catalog.toml"))?;
    let manifest = std::str::from_utf8(&manifest)
        .map_err(|_| DomainError::invalid("catalog.toml", "the file is not UTF-8"))?;
    let catalog: SeedCatalog = toml::from_str(manifest)
        .map_err(|e| DomainError::invalid("catalog.toml", e.to_string()))?;
    let db = &state.db;

    for p in &catalog.publishers {
        if catalog::find_user(db, &p.username).await?.is_none() {
            publishing::create_publisher(
                db,
                NewPublisher {
                    username: &p.username,
                    display_name: &p.display_name,
                    bio: &p.bio,
                },
            )
            .await?;
        }
    }

    let mut report = SeedReport::default();
    for m in &catalog.models {
        let owner = catalog::find_user(db, &m.owner)
            .await?
            .ok_or(DomainError::invalid(
                "owner",
                format!("unknown publisher '{}'", m.owner),
            ))?;
        let exists = model::Entity::find()
            .filter(model::Column::OwnerId.eq(owner.id))
            .filter(model::Column::Slug.eq(&m.slug))
            .one(db)
            .await?;
        if exists.is_some() {
            report.models_present += 1;
            continue;
        }
        seed_model(state, dir, owner.id, m).await?;
        report.models_added += 1;
    }
    Ok(report)
}

async fn seed_model(
    state: &AppState,
    dir: &(impl SeedFiles + ?Sized),
    owner_id: i64,
    m: &SeedModel,
) -> DomainResult<()> {
    // One transaction per model: a crash mid-seed leaves no half-made listing behind.
    let txn = state.db.begin().await?;
    let db = &txn;
    let read = |name: &str| -> DomainResult<Bytes> {
        let path = format!("{}/{name}", m.slug);
        dir.read(&path).ok_or(DomainError::invalid(
            "files",
            format!("seed file {path} is missing"),
        ))
    };
    let card = read("README.md")?;
    let card = std::str::from_utf8(&card)
        .map_err(|_| DomainError::invalid("card", "README.md is not UTF-8"))?;
    // The seed's offers pass the same checks as a publisher's.
    let offer = offers::check(
        &offers::OfferInput {
            kind: &m.license,
            spdx: m.spdx.as_deref(),
            price_minor: (m.price_cents > 0).then_some(m.price_cents),
            terms: &m.terms,
            ..Default::default()
        },
        semver::Version::parse(&m.version).is_ok(),
    )?;

    let model = publishing::create_model(
        db,
        NewModel {
            owner_id,
            slug: &m.slug,
            name: &m.name,
            summary: &m.summary,
            task: &m.task,
            tags: &m.tags,
            card,
        },
    )
    .await?;
    let version = publishing::create_version(db, model.id, &m.version, &m.changelog).await?;
    for name in &m.files {
        let body = futures::stream::iter([Ok(read(name)?)]);
        publishing::add_file(db, &state.storage, &version, name, body, false).await?;
    }
    offers::add(db, model.id, &offer, &m.terms).await?;
    // The same demo rule as a publisher's version: a sold model's demo must differ from it.
    publishing::mark_demo(db, &model, &version).await?;
    publishing::publish_version(db, version).await?;
    publishing::publish_model(db, model).await?;
    txn.commit().await?;
    Ok(())
}
