#!/usr/bin/env bash
# Benchmarks the runner's browser bundle (runner-web) against onnxruntime-web in one headless
# Chromium run: the digit model, SqueezeNet 1.1 (random weights) and all-MiniLM-L6-v2, on the CPU
# (wasm, one thread each) and on WebGPU (SwiftShader). See bench/web/README.md.
# Usage: scripts/web-bench.sh [OUT_DIR] [run.mjs options: --runs 10 --warmup 3 --budget 60 ...]
#   OUT_DIR defaults to $CARGO_TARGET_DIR/web-bench/out-<date>.
# Env: WEB_BENCH_SKIP_BUILD=1 uses the site bundle as it is instead of running build-site.sh;
#      RUNNER_MODELS: where all-MiniLM-L6-v2/ is or gets prepared
#      (default $CARGO_TARGET_DIR/runner-models, shared with the runner's tests);
#      RUNNER_VENV: the Python venv.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

WORK="$CARGO_TARGET_DIR/web-bench"
OUT="${1:-$WORK/out-$(date +%Y%m%d-%H%M%S)}"
shift || true
MODELS="${RUNNER_MODELS:-$CARGO_TARGET_DIR/runner-models}"
export RUNNER_VENV="${RUNNER_VENV:-$CARGO_TARGET_DIR/runner-venv}"
GEN="$WORK/models"
mkdir -p "$WORK"

if [[ "${WEB_BENCH_SKIP_BUILD:-}" != 1 ]]; then
  "$ROOT/scripts/build-site.sh"   # idempotent: returns at once when the bundle is current
fi
PKG_ROOT="$CARGO_TARGET_DIR/site/pkg"
if [[ ! -f "$PKG_ROOT/current" || ! -f "$PKG_ROOT/$(cat "$PKG_ROOT/current")/runner_web_bg.wasm" ]]; then
  echo "no runner bundle in $PKG_ROOT: run scripts/build-site.sh first" >&2
  exit 1
fi

log "preparing all-MiniLM-L6-v2 in $MODELS"
"$ROOT/scripts/runner/prepare-minilm.sh" "$MODELS" >&2

# SqueezeNet and the sentences' token ids, regenerated only when the generator changes.
stamp="$GEN/.stamp-$(sha256sum "$ROOT/bench/web/prepare_models.py" | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  log "generating SqueezeNet 1.1 and the MiniLM inputs in $GEN"
  [[ -x "$RUNNER_VENV/bin/python" ]] || python3 -m venv "$RUNNER_VENV"
  "$RUNNER_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    onnx==1.22.0 numpy tokenizers==0.23.3
  rm -f "$GEN"/.stamp-*
  "$RUNNER_VENV/bin/python" "$ROOT/bench/web/prepare_models.py" "$GEN" "$MODELS/all-MiniLM-L6-v2"
  touch "$stamp"
fi

log "installing the benchmark's packages (onnxruntime-web, Playwright)"
# Chromium is the system one (/usr/bin/chromium): Playwright downloads no browser.
(cd "$ROOT/bench/web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

log "running the benchmark (results in $OUT)"
# The whole run is bounded twice: the page's own --timeout, and this hard limit around it.
timeout --kill-after=30 "${WEB_BENCH_TIMEOUT:-2400}" \
  node "$ROOT/bench/web/run.mjs" --out "$OUT" --gen "$GEN" --minilm "$MODELS/all-MiniLM-L6-v2" "$@"
