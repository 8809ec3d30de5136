#!/usr/bin/env bash
# Regenerates schema/forms.schema.json (the JSON Schema of the JSON forms) from
# core/src/forms/mod.rs. With --check, fails when the committed file differs instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--check" ]]; then
  cargo test -q --release -p peo-core --test forms
else
  PEO_REGENERATE=1 cargo test -q --release -p peo-core --test forms
fi
