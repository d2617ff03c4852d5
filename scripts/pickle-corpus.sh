#!/usr/bin/env bash
# Writes the pickle test corpus (scripts/pickle-corpus.py) into target/pickle-corpus, which the
# `inspect` crate's tests read. Python's own pickle, zipfile, gzip/bz2/lzma make it, with numpy,
# joblib and zstandard from a private virtualenv at target/pickle-corpus-venv (made once).
source "$(dirname "$0")/common.sh"
venv="$ROOT/target/pickle-corpus-venv"
want="numpy==2.3.5 joblib==1.5.2 zstandard==0.25.0"
if [[ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]]; then
  log "installing $want into $venv (pickle test corpus)"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $want
  echo "$want" >"$venv/.installed"
fi
"$venv/bin/python" "$ROOT/scripts/pickle-corpus.py" "$ROOT/target/pickle-corpus"
