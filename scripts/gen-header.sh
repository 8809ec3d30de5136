#!/usr/bin/env bash
# Regenerates include/peo.h from bindings/c/src/ with the pinned cbindgen.
# With --check, fails when the committed header differs from what cbindgen writes.
set -euo pipefail
cd "$(dirname "$0")/.."
want="0.29.4"
if ! command -v cbindgen >/dev/null || ! cbindgen --version | grep -q "$want"; then
  echo "installing cbindgen $want (cargo install cbindgen@$want --locked, about 2 minutes)" >&2
  cargo install --quiet "cbindgen@$want" --locked
fi
args=(--config bindings/c/cbindgen.toml --crate peo-c --output include/peo.h --quiet)
if [ "${1:-}" = "--check" ]; then
  if ! cbindgen "${args[@]}" --verify bindings/c; then
    echo "error: include/peo.h is stale; run scripts/gen-header.sh and commit the result" >&2
    exit 1
  fi
  echo "cbindgen: include/peo.h is up to date"
else
  cbindgen "${args[@]}" bindings/c
  echo "wrote include/peo.h"
fi
