//! The seed catalogs: the demo catalog, compiled into the binary so `bazaar seed` works from any
//! directory, and an optional one on disk (`seed_catalog`) for models too large to compile in.
use std::path::Path;

use domain::{seed::SeedReport, AppState, DomainResult};
use include_dir::{include_dir, Dir};

static SEED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../seed");

pub async fn load(state: &AppState) -> DomainResult<SeedReport> {
    domain::seed::seed_catalog(state, &SEED).await
}

/// Seeds the catalog in `dir` (`catalog.toml` and a folder per model); idempotent.
pub async fn load_dir(state: &AppState, dir: &Path) -> DomainResult<SeedReport> {
    domain::seed::seed_catalog(state, dir).await
}
