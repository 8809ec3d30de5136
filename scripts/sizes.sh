#!/usr/bin/env bash
# Prints the size of each face's native library with and without the JetStream
# transport (the `jetstream` feature, on by default), stripped as a package ships it.
# Builds in target/sizes so the workspace's own artifacts are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
target=target/sizes
size_of() { # crate, features flag, artifact
  cargo build --release -q -p "$1" $2 --target-dir "$target"
  cp "$target/release/$3" "$target/stripped" && strip "$target/stripped"
  stat -c %s "$target/stripped"
}
printf '%-28s %12s %12s %8s\n' library "with" without saved
for row in "peo-c libpeo.so" "peo-python lib_peo.so" "peo-node libpeo_node.so"; do
  set -- $row
  with=$(size_of "$1" "" "$2")
  without=$(size_of "$1" --no-default-features "$2")
  printf '%-28s %12s %12s %7s%%\n' "$2 ($1)" "$with" "$without" "$(( (with - without) * 100 / with ))"
done
