#!/usr/bin/env bash
# Tests Bazaar's ONNX runner: prepares the ONNX backend-test data and the
# all-MiniLM-L6-v2 model (both cached after the first run), then runs the
# crate's unit, hostile-input, fuzz, MiniLM and conformance allow-list
# tests. The allow-list runs on the CPU backend and, when a wgpu adapter
# exists (e.g. Vulkan on llvmpipe), on the GPU backend; set
# RUNNER_REQUIRE_WGPU=1 to make a missing adapter an error. The fuzz test
# runs for RUNNER_FUZZ_SECONDS (default 60) from RUNNER_FUZZ_SEED: a fixed
# default keeps the suite reproducible (a given machine replays the same cases);
# set another seed to explore new ones. Finally the library is built
# for wasm32-unknown-unknown with its WebGPU backend, with whichever
# toolchain has the wasm32 std (scripts/common.sh).
# Exits non-zero on any failure; bounded by RUNNER_TEST_TIMEOUT (seconds).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../common.sh
source "$ROOT/scripts/common.sh"
export RUNNER_CONFORMANCE_DIR="${RUNNER_CONFORMANCE_DIR:-$CARGO_TARGET_DIR/onnx-data}"
RUNNER_MODELS="${RUNNER_MODELS:-$CARGO_TARGET_DIR/runner-models}"
export RUNNER_MINILM_DIR="${RUNNER_MINILM_DIR:-$RUNNER_MODELS/all-MiniLM-L6-v2}"
# One virtualenv for both preparation steps.
export RUNNER_VENV="${RUNNER_VENV:-$CARGO_TARGET_DIR/runner-venv}"
TIMEOUT="${RUNNER_TEST_TIMEOUT:-570}"
export RUNNER_FUZZ_SECONDS="${RUNNER_FUZZ_SECONDS:-60}"
export RUNNER_FUZZ_SEED="${RUNNER_FUZZ_SEED:-20261125}"

log "runner: conformance data in $RUNNER_CONFORMANCE_DIR"
"$ROOT/scripts/runner/prepare-conformance-data.sh" "$RUNNER_CONFORMANCE_DIR"
log "runner: MiniLM in $RUNNER_MODELS"
"$ROOT/scripts/runner/prepare-minilm.sh" "$RUNNER_MODELS"

log "runner: cargo test"
timeout --signal=TERM --kill-after=15 "$TIMEOUT" \
    cargo test --manifest-path "$ROOT/runner/Cargo.toml" --locked -- --nocapture 2>&1 \
    | grep -v '^error: XDG_RUNTIME_DIR is invalid'

log "runner: cargo build --target wasm32-unknown-unknown (library, WebGPU backend)"
# shellcheck disable=SC2046
$(wasm_cargo) build --manifest-path "$ROOT/runner/Cargo.toml" --locked --lib \
    --target wasm32-unknown-unknown
