#!/usr/bin/env bash
# Lays out libpeo under PREFIX, the way the C/C++ SDK tarball is laid out:
#   lib/libpeo.so.X.Y.Z, libpeo.so.0.Y (the SONAME) and libpeo.so (symlinks), lib/libpeo.a
#   include/peo.h, include/peo.hpp (the header-only C++ wrapper)
#   lib/pkgconfig/peo.pc, peo-static.pc (relocatable)
#   lib/cmake/peo/peoConfig.cmake, peoConfigVersion.cmake (find_package(peo): peo::peo,
#   peo::peo_static)
# Usage (from anywhere): bindings/c/install.sh [PREFIX]      (default: /usr/local)
#        PEO_LIB_DIR=dir bindings/c/install.sh PREFIX  takes the libraries from dir
#        (scripts/dist passes its glibc 2.17 build); otherwise target/release, built
#        first if missing.
# Afterwards:
#   cc prog.c $(pkg-config --cflags --libs peo)             (shared)
#   cc prog.c $(pkg-config --cflags --libs peo-static)      (static)
#   cmake -DCMAKE_PREFIX_PATH=PREFIX ...  and  target_link_libraries(app peo::peo)
# with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a system location.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
prefix="$(mkdir -p "${1:-/usr/local}" && cd "${1:-/usr/local}" && pwd)"
lib="${PEO_LIB_DIR:-$root/target/release}"
if [ -z "${PEO_LIB_DIR:-}" ] && { [ ! -f "$lib/libpeo.so" ] || [ ! -f "$lib/libpeo.a" ]; }; then
  (cd "$root" && cargo build --release -q -p peo-c --lib)
fi
version=$(sed -n '/^version = /{s/^version = "\(.*\)"/\1/p;q}' "$root/Cargo.toml")
# The SONAME: libpeo.so.0.<minor> while the version is 0.x (each 0.x minor may break the
# ABI, as Cargo's semver has it), libpeo.so.<major> from 1.0 on.
major=${version%%.*}
minor=${version#*.}; minor=${minor%%.*}
if [ "$major" = 0 ]; then soname="libpeo.so.0.$minor"; else soname="libpeo.so.$major"; fi
# The system libraries the static library needs (from `rustc --print native-static-libs`).
private="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
install -d "$prefix/lib/pkgconfig" "$prefix/lib/cmake/peo" "$prefix/include"
install -m 0755 "$lib/libpeo.so" "$prefix/lib/libpeo.so.$version"
ln -sf "libpeo.so.$version" "$prefix/lib/$soname"
ln -sf "$soname" "$prefix/lib/libpeo.so"
install -m 0644 "$lib/libpeo.a" "$prefix/lib/libpeo.a"
install -m 0644 "$root/include/peo.h" "$root/include/peo.hpp" "$prefix/include/"
for pc in peo peo-static; do
  sed -e "s|@VERSION@|$version|" -e "s|@PRIVATE_LIBS@|$private|" \
    "$root/bindings/c/$pc.pc.in" > "$prefix/lib/pkgconfig/$pc.pc"
done
sed -e "s|@VERSION@|$version|g" -e "s|@SONAME@|$soname|g" -e "s|@PLATFORM@|x86_64-linux-gnu|g" \
  "$root/bindings/c/cmake/peoConfig.cmake.in" > "$prefix/lib/cmake/peo/peoConfig.cmake"
# The version file is CMake's own (write_basic_package_version_file): 0.x minors are
# not compatible with each other, later versions are from 1.0 on.
compat=SameMajorVersion; [ "$major" = 0 ] && compat=SameMinorVersion
cmake -DOUT="$prefix/lib/cmake/peo/peoConfigVersion.cmake" -DVERSION="$version" -DCOMPAT="$compat" \
  -P "$root/bindings/c/cmake/version-file.cmake"
echo "installed libpeo $version ($soname) under $prefix: lib/, include/peo.h, include/peo.hpp, lib/pkgconfig, lib/cmake/peo"
