//! The demo catalog, compiled into the binary so `bazaar seed` works from any directory.
use domain::{seed::SeedReport, AppState, DomainResult};
use include_dir::{include_dir, Dir};

static SEED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../seed");

pub async fn load(state: &AppState) -> DomainResult<SeedReport> {
    domain::seed::seed_catalog(state, &SEED).await
}
