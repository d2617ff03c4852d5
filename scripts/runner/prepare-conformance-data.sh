#!/usr/bin/env bash
# Prepares the ONNX backend-test data used by Bazaar's runner conformance
# harness. Usage: prepare-conformance-data.sh DEST_DIR
#
# Installs a pinned `onnx` wheel into a private virtualenv and copies its
# bundled backend test data (node, pytorch-converted, pytorch-operator,
# simple, light, real) into DEST_DIR, and writes the light model zoo
# (AlexNet, SqueezeNet, ResNet-50, ...) as backend-test cases into
# DEST_DIR/zoo-light (light_models_to_cases.py). Idempotent: a second run
# with the same pin returns immediately. The data is never committed.
set -euo pipefail

DEST=${1:?usage: $0 DEST_DIR}
ONNX_VERSION=${RUNNER_ONNX_VERSION:-1.22.0}
# The suffix changes whenever the prepared layout does.
STAMP="$DEST/.prepared-onnx-$ONNX_VERSION-zoo"

if [[ -f "$STAMP" ]]; then
    echo "conformance data (onnx $ONNX_VERSION) already in $DEST"
    exit 0
fi

VENV=${RUNNER_VENV:-"$DEST/.venv"}
mkdir -p "$DEST"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "onnx==$ONNX_VERSION"

SRC=$("$VENV/bin/python" -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data"))')
if [[ ! -d "$SRC/node" ]]; then
    echo "onnx $ONNX_VERSION does not ship backend test data under $SRC" >&2
    exit 1
fi

for suite in "$SRC"/*/; do
    name=$(basename "$suite")
    rm -rf "${DEST:?}/$name"
    cp -r "$suite" "$DEST/$name"
done
rm -rf "${DEST:?}/zoo-light"
"$VENV/bin/python" "$(dirname "${BASH_SOURCE[0]}")/light_models_to_cases.py" "$DEST/light" "$DEST/zoo-light"
rm -f "$DEST"/.prepared-onnx-*
touch "$STAMP"
echo "conformance data (onnx $ONNX_VERSION) copied to $DEST"
