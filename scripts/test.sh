#!/usr/bin/env bash
# Sets everything up and runs every test: unit, integration (SQLite, and PostgreSQL when
# DATABASE_URL is set), end-to-end in Chromium with and without JavaScript, and the inference
# engine's suite (ONNX conformance on CPU and wgpu, MiniLM, hostile input).
source "$(dirname "$0")/common.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build-site.sh"

log "formatting"
cargo fmt --all --check
cargo fmt --manifest-path runner/Cargo.toml --check

log "unit and integration tests"
# The browser entry point is compiled for wasm32 by build-site.sh; building it here would
# unify the app's `hydrate` and `ssr` features into one native build.
cargo test --workspace --exclude frontend --locked

log "end-to-end tests (Chromium)"
export BAZAAR_BIN="$CARGO_TARGET_DIR/debug/bazaar"
export BAZAAR_SITE_ROOT="$ROOT/target/site"
(cd "$ROOT/end2end" && npx playwright test)

log "inference engine (runner)"
"$ROOT/scripts/runner/test.sh"
