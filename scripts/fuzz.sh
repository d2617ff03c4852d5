#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ (cargo-fuzz, libFuzzer) and runs each for SECONDS (default
# 20), from the seeds committed in fuzz/corpus/<target>/. New inputs go to target/fuzz/corpus/,
# crashes to target/fuzz/artifacts/<target>/ (the run then fails and prints how to replay).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Works on the stable toolchain: the targets are built without a sanitizer (Rust is memory-safe;
# the targets assert their own invariants), with debug assertions for overflow checks.
source "$(dirname "$0")/common.sh"
seconds="${1:-20}"
shift || true

# cargo-fuzz from crates.io, once (idempotent).
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install --locked --quiet cargo-fuzz
fi

cd "$ROOT/fuzz"
out="$ROOT/target/fuzz"
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cargo fuzz list)
fi
flags=(--sanitizer none --debug-assertions --target-dir "$out/build")
log "fuzz: building ${targets[*]}"
cargo fuzz build "${flags[@]}"
for target in "${targets[@]}"; do
  log "fuzz: $target for ${seconds}s"
  mkdir -p "$out/corpus/$target" "$out/artifacts/$target"
  # libFuzzer reports every new input; keep that in a log and show the verdict and its figures.
  run_log="$out/$target.log"
  if ! cargo fuzz run "${flags[@]}" "$target" "$out/corpus/$target" "$ROOT/fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$out/artifacts/$target/" -print_final_stats=1 >"$run_log" 2>&1; then
    tail -n 60 "$run_log" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$run_log" >&2 || true
done
log "fuzz: every target ran ${seconds}s without a crash"
