#!/usr/bin/env bash
# Installs libpeo (shared and static), include/peo.h and a pkg-config file under PREFIX.
# Usage (from anywhere): bindings/c/install.sh [PREFIX]      (default: /usr/local)
# Builds the release library first if it is missing. Afterwards:
#   cc prog.c $(pkg-config --cflags --libs peo)             (shared)
#   cc prog.c $(pkg-config --cflags --libs peo-static)      (static)
# with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a system location.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
prefix="$(mkdir -p "${1:-/usr/local}" && cd "${1:-/usr/local}" && pwd)"
lib="$root/target/release"
if [ ! -f "$lib/libpeo.so" ] || [ ! -f "$lib/libpeo.a" ]; then
  (cd "$root" && cargo build --release -q -p peo-c --lib)
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
# The system libraries the static library needs (from `rustc --print native-static-libs`).
private="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$lib/libpeo.so" "$prefix/lib/libpeo.so"
install -m 0644 "$lib/libpeo.a" "$prefix/lib/libpeo.a"
install -m 0644 "$root/include/peo.h" "$prefix/include/peo.h"
for pc in peo peo-static; do
  sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" -e "s|@PRIVATE_LIBS@|$private|" \
    "$root/bindings/c/$pc.pc.in" > "$prefix/lib/pkgconfig/$pc.pc"
done
echo "installed libpeo $version under $prefix (lib/libpeo.so, lib/libpeo.a, include/peo.h, lib/pkgconfig/peo.pc, peo-static.pc)"
