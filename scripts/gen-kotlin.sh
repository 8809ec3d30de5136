#!/usr/bin/env bash
# Regenerates the Kotlin bindings of peo-uniffi (bindings/kotlin/src/main/kotlin/dev/peo/ffi/)
# with the workspace's uniffi-bindgen, in library mode, from the release library.
# With --check, fails when the committed bindings differ instead; it uses the library and
# the generator the workspace build made (scripts/ci/04-build.sh), building nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bindings/kotlin/src/main/kotlin
if [[ "${1:-}" != "--check" ]]; then
  cargo build --release -q -p peo-uniffi -p uniffi-bindgen
fi
if [[ "${1:-}" == "--check" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  target/release/uniffi-bindgen generate --language kotlin --no-format --out-dir "$tmp" target/release/libpeo_uniffi.so >/dev/null
  diff -r "$tmp/dev/peo/ffi" "$out/dev/peo/ffi" >/dev/null \
    || { echo "the Kotlin bindings are stale: run scripts/gen-kotlin.sh and commit the result"; exit 1; }
  echo "uniffi: the Kotlin bindings are up to date"
else
  rm -rf "$out/dev/peo/ffi"
  target/release/uniffi-bindgen generate --language kotlin --no-format --out-dir "$out" target/release/libpeo_uniffi.so
fi
