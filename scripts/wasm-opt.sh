#!/usr/bin/env bash
# Optimises a wasm file in place: for size, or with --speed for speed (the runner's bundle).
# Uses binaryen from the end-to-end npm packages (a current release; distribution builds of
# wasm-opt can be too old for today's rustc output).
source "$(dirname "$0")/common.sh"
level="-Oz"
[[ "$1" == "--speed" ]] && { level="-O3"; shift; }
wasm="$1"
opt="$ROOT/end2end/node_modules/.bin/wasm-opt"
[[ -x "$opt" ]] || opt="$(command -v wasm-opt)"
"$opt" "$level" --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$wasm" -o "$wasm.opt"
mv "$wasm.opt" "$wasm"
