#!/usr/bin/env bash
# Sets everything up and runs every check: formatting and lints, unit and integration tests
# (SQLite, and PostgreSQL when DATABASE_URL is set), end-to-end in Chromium with and without
# JavaScript, the inference engine's suite (ONNX conformance on CPU and wgpu, MiniLM, hostile
# input), and a short bounded run of every fuzz target.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build-site.sh"
"$ROOT/scripts/bundle-budget.sh"

log "formatting"
cargo fmt --all --check
cargo fmt --manifest-path tools/wasm-split/Cargo.toml --check

log "lints"
# runner-bench only times runners (tract included); scripts/runner/bench.sh builds it.
cargo clippy --workspace --exclude frontend --exclude runner-bench --all-targets --locked -- -D warnings

log "unit and integration tests"
"$ROOT/scripts/pickle-corpus.sh" # files the inspect crate's pickle tests read
# The browser entry point is compiled for wasm32 by build-site.sh; building it here would
# unify the app's `hydrate` and `ssr` features into one native build.
# The runner's tests need the ONNX test data and MiniLM: scripts/runner/test.sh prepares them.
cargo test --workspace --exclude frontend --exclude runner --exclude runner-bench --locked

log "end-to-end tests (Chromium)"
export BAZAAR_BIN="$CARGO_TARGET_DIR/debug/bazaar"
export BAZAAR_SITE_ROOT="$ROOT/target/site"
# The text-embedding demo's model, seeded from disk as the run command does.
export BAZAAR_SEED_CATALOG="$CARGO_TARGET_DIR/seed-catalog"
"$ROOT/scripts/seed-models/prepare-minilm-catalog.sh" "$BAZAAR_SEED_CATALOG"
(cd "$ROOT/end2end" && npx playwright test)

log "inference engine (runner)"
"$ROOT/scripts/runner/test.sh"

log "fuzzing the file inspectors, card renderer and name rules"
"$ROOT/scripts/fuzz.sh" 20
