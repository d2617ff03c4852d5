#!/usr/bin/env bash
# Sets everything up, builds, and serves the marketplace (with demo models) at http://127.0.0.1:3000.
# Extra arguments go to `bazaar serve`, e.g. `scripts/run.sh --addr 0.0.0.0:8080`.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build-site.sh"
log "compiling the server (release)"
cargo build --release --package server --bin bazaar
exec "$CARGO_TARGET_DIR/release/bazaar" serve "$@"
