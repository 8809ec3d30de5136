#!/usr/bin/env bash
# The C/C++ SDK as a user gets it: checks the tarball's .sha256, untars it to a temporary
# folder, and builds a C program (examples/c/journey.c) and a C++ program (the peo.hpp
# test) against it, shared and static, both with a CMake project (find_package(peo)) and
# with pkg-config, and runs each under valgrind (0 bytes lost, 0 errors).
# Usage: bindings/c/sdk-test/run.sh dist/peo-<version>-x86_64-linux-gnu.tar.gz
# Prints the SDK's `peo_version() wire-format` line last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
tarball="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t0=$(date +%s%N)
elapsed() { local d=$((($(date +%s%N) - t0) / 100000000)); printf '%d.%d s' $((d / 10)) $((d % 10)); }

(cd "$(dirname "$tarball")" && sha256sum -c --quiet "$(basename "$tarball").sha256")
tar -xzf "$tarball" -C "$work"
sdk=$(echo "$work"/peo-*)
echo "sdk: $(basename "$tarball") checked and untarred ($(elapsed))"

vg=(valgrind -q --num-callers=64 --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99
    --suppressions="$root/bindings/c/tests/valgrind.supp")
fail() { echo "error: $*" >&2; exit 1; }
check() {   # check <program>: runs it under valgrind and checks what it printed
  local out libs want
  out=$("${vg[@]}" "$1")
  case "$(basename "$1")" in
    journey*) want="verified: every visit signed by a trusted key" ;;
    cpp*) want="cpp: peo.hpp" ;;
  esac
  grep -qF "$want" <<< "$out" || fail "$1 did not print \"$want\"; it printed: $out"
  # ldd's output is captured whole: under pipefail, `ldd | grep -q` fails at random when
  # grep exits before ldd has written its last line.
  libs=$(ldd "$1")
  case "$(basename "$1")" in
    *static) if grep -q libpeo <<< "$libs"; then fail "$1 links libpeo.so: $libs"; fi ;;
    *shared) grep -q "libpeo\.so\.0" <<< "$libs" || fail "$1 does not link libpeo.so.0: $libs" ;;
  esac
}

# CMake: a project outside the repository.
proj="$work/cmake-project"
mkdir -p "$proj"
cp "$here/CMakeLists.txt" "$here/version.c" "$root/examples/c/journey.c" "$root/bindings/c/tests/cpp_wrapper.cpp" "$proj/"
cmake -S "$proj" -B "$proj/build" -DCMAKE_PREFIX_PATH="$sdk" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$proj/build" -j 2 >/dev/null
for p in journey_shared journey_static cpp_shared cpp_static; do check "$proj/build/$p"; done
echo "sdk: CMake find_package(peo): a C and a C++ program, shared and static, ran clean under valgrind ($(elapsed))"

# pkg-config, with the SDK's relocatable .pc files.
export PKG_CONFIG_PATH="$sdk/lib/pkgconfig"
pc="$work/pkg-config"
mkdir -p "$pc"
# shellcheck disable=SC2046
{
  cc -std=c11 -g "$proj/journey.c" $(pkg-config --cflags --libs peo) -Wl,-rpath,"$sdk/lib" -o "$pc/journey_shared"
  cc -std=c11 -g "$proj/journey.c" $(pkg-config --cflags --libs peo-static) -o "$pc/journey_static"
  c++ -std=c++17 -g "$proj/cpp_wrapper.cpp" $(pkg-config --cflags --libs peo) -Wl,-rpath,"$sdk/lib" -o "$pc/cpp_shared"
  c++ -std=c++17 -g "$proj/cpp_wrapper.cpp" $(pkg-config --cflags --libs peo-static) -o "$pc/cpp_static"
}
for p in journey_shared journey_static cpp_shared cpp_static; do check "$pc/$p"; done
echo "sdk: pkg-config peo / peo-static: the same programs, shared and static, ran clean under valgrind ($(elapsed))"
"$proj/build/version"
