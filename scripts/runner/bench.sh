#!/usr/bin/env bash
# Benchmarks Bazaar's runner, its CPU and wgpu backends side by side (wgpu on
# whatever adapter there is: llvmpipe without a GPU), against onnxruntime
# (PyPI) and tract (the Rust crate) on the digits, SqueezeNet, ResNet-50 and
# MiniLM models, in one run.
# Usage: scripts/runner/bench.sh [THREADS] [extra runner-bench arguments...]
#
# Prepares (cached) the conformance data (for the light model zoo's
# SqueezeNet and ResNet-50 graphs), MiniLM, the benchmark inputs
# (make_bench_models.py) and onnxruntime in the runner's virtualenv, then
# builds and runs the `runner-bench` program with THREADS threads for the
# runner's CPU backend and onnxruntime (default 1; tract runs on one).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../common.sh
source "$ROOT/scripts/common.sh"
THREADS="${1:-1}"
shift || true
DATA="${RUNNER_CONFORMANCE_DIR:-$CARGO_TARGET_DIR/onnx-data}"
MODELS="${RUNNER_MODELS:-$CARGO_TARGET_DIR/runner-models}"
export RUNNER_VENV="${RUNNER_VENV:-$CARGO_TARGET_DIR/runner-venv}"
BENCH="$CARGO_TARGET_DIR/bench"

"$ROOT/scripts/runner/prepare-conformance-data.sh" "$DATA" >&2
"$ROOT/scripts/runner/prepare-minilm.sh" "$MODELS" >&2
"$RUNNER_VENV/bin/python" -c 'import onnxruntime' 2>/dev/null \
    || "$RUNNER_VENV/bin/python" -m pip install --quiet --disable-pip-version-check onnxruntime
"$RUNNER_VENV/bin/python" "$ROOT/scripts/runner/make_bench_models.py" \
    "$MODELS/all-MiniLM-L6-v2" "$BENCH" "$DATA/light" >&2

log "runner-bench (threads: $THREADS)"
cargo build --release --locked --manifest-path "$ROOT/runner/Cargo.toml" -p runner-bench >&2
"$CARGO_TARGET_DIR/release/runner-bench" --threads "$THREADS" \
    --ort-python "$RUNNER_VENV/bin/python" "$@" \
    "$BENCH/digits" "$BENCH/squeezenet" "$BENCH/resnet50" "$BENCH/minilm-s128" \
    "$BENCH/minilm-b1" "$BENCH/cnn-64" 2>&1 | grep -v '^error: XDG_RUNTIME_DIR is invalid'
