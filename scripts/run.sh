#!/usr/bin/env bash
# Sets everything up, builds, and serves the marketplace (with demo models) at http://127.0.0.1:3000.
# Extra arguments go to `bazaar serve`, e.g. `scripts/run.sh --addr 0.0.0.0:8080`.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build-site.sh"
# all-MiniLM-L6-v2 (87 MB) joins the demo catalog from disk, not from the binary.
if [[ -z "${BAZAAR_SEED_CATALOG:-}" ]]; then
  export BAZAAR_SEED_CATALOG="$CARGO_TARGET_DIR/seed-catalog"
  "$ROOT/scripts/seed-models/prepare-minilm-catalog.sh" "$BAZAAR_SEED_CATALOG"
fi
log "compiling the server (release)"
cargo build --release --package server --bin bazaar
exec "$CARGO_TARGET_DIR/release/bazaar" serve "$@"
