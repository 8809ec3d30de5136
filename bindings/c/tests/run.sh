#!/usr/bin/env bash
# The C suite: compiles the C and C++ tests and the C example against the committed
# include/peo.h and target/release/libpeo, and runs each under valgrind (0 bytes lost,
# 0 errors). Then installs libpeo into a temporary prefix and builds the example with
# pkg-config, shared and static.
# Usage (from anywhere): bindings/c/tests/run.sh   (builds the release library first)
set -euo pipefail
cd "$(dirname "$0")/../../.."
scripts/deps-c.sh
lib=target/release
# scripts/test has built the whole workspace already (PEO_PREBUILT=1).
if [ "${PEO_PREBUILT:-0}" != 1 ]; then cargo build --release -q -p peo-c --lib -p peo-cli; fi
out=target/c
mkdir -p "$out"
cflags=(-std=c11 -O1 -g -Wall -Wextra -Werror -pedantic -Iinclude)
link=(-L"$lib" -lpeo -Wl,-rpath,"$PWD/$lib")
cc "${cflags[@]}" bindings/c/tests/vectors.c -o "$out/vectors" "${link[@]}" -lcjson -lcrypto
cc "${cflags[@]}" bindings/c/tests/api.c -o "$out/api" "${link[@]}" -lcrypto -lpthread
cc "${cflags[@]}" bindings/c/tests/leak_canary.c -o "$out/leak_canary" "${link[@]}"
cc "${cflags[@]}" examples/c/journey.c -o "$out/journey" "${link[@]}"
cc "${cflags[@]}" bindings/c/tests/serve.c -o "$out/serve" "${link[@]}"
g++ -std=c++17 -O1 -g -Wall -Wextra -Werror -pedantic -Iinclude bindings/c/tests/cpp_wrapper.cpp \
  -o "$out/cpp_wrapper" "${link[@]}"
# The benchmarks (bindings/c/bench/run.sh runs them): compiled here so they keep building.
for bench in visit chain; do
  cc "${cflags[@]}" "bindings/c/bench/$bench.c" -o "$out/compiled_bench_$bench" "${link[@]}"
done

# Process-wide caches are suppressed as "possibly lost" only (see valgrind.supp);
# anything definitely or indirectly lost, and any invalid access, fails.
vg=(valgrind -q --num-callers=64 --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99
    --suppressions=bindings/c/tests/valgrind.supp)
"${vg[@]}" "$out/vectors" tests/vectors
"${vg[@]}" "$out/api"
"${vg[@]}" "$out/cpp_wrapper"
"${vg[@]}" "$out/journey" > "$out/journey.txt"
grep -q "verified: every visit signed by a trusted key" "$out/journey.txt"
echo "examples/c/journey.c: ran clean under valgrind ($(wc -l < "$out/journey.txt") lines of output)"
# A C node on a real NATS JetStream (nats-server -js on loopback): objects submitted with
# `peo submit` are served by the C program (under valgrind) and finish.
scripts/deps-nats.sh
export PATH="$PATH:/usr/sbin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
store=$(mktemp -d)
nats-server -js -a 127.0.0.1 -p "$port" -sd "$store" >/dev/null 2>&1 &
nats_pid=$!
trap 'kill $nats_pid 2>/dev/null; rm -rf "$store"' EXIT
url="nats://127.0.0.1:$port"
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
printf '%s' '{"StartAt": "Pack", "States": {"Pack": {"Type": "Task", "Resource": "warehouse.pack", "End": true}}}' > "$out/pack.json"
ids=()
for i in 1 2 3; do
  printf '{"order": %d}' "$i" > "$out/pack-input.json"
  "$lib/peo" new "$out/pack.json" --input "$out/pack-input.json" -o "$out/pack-$i.peo" >/dev/null
  ids+=("$("$lib/peo" submit --nats "$url" "$out/pack-$i.peo" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["submitted"][0])')")
done
"${vg[@]}" "$out/serve" "$url" 3
"$lib/peo" wait --nats "$url" --timeout 30 "${ids[@]}"
echo "serve.c: a C node served 3 objects from JetStream under valgrind; all succeeded"

set +e
"${vg[@]}" "$out/leak_canary" 2> "$out/leak_canary.txt"
rc=$?
set -e
if [ "$rc" != 99 ] || ! grep -q "definitely lost" "$out/leak_canary.txt"; then
  echo "error: valgrind did not fail a program that leaks (exit $rc): the leak check would not bite" >&2
  exit 1
fi
echo "leak canary: valgrind fails a program that leaks one object, as it must"

# Install into a temporary prefix and build the example with pkg-config, both ways.
prefix=$(mktemp -d)
trap 'kill $nats_pid 2>/dev/null; rm -rf "$store" "$prefix"' EXIT
bindings/c/install.sh "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 examples/c/journey.c $(pkg-config --cflags --libs peo) -Wl,-rpath,"$prefix/lib" -o "$out/journey-shared"
# shellcheck disable=SC2046
cc -std=c11 examples/c/journey.c $(pkg-config --cflags --libs peo-static) -o "$out/journey-static"
# Outputs are captured whole, not piped to `grep -q`: under pipefail a pipe fails at
# random when grep exits before the writer has written its last line.
for p in journey-shared journey-static; do
  printed=$("$out/$p")
  grep -q "^verified" <<< "$printed" || { echo "error: $p did not verify; it printed: $printed" >&2; exit 1; }
done
libs=$(ldd "$out/journey-static")
if grep -q libpeo <<< "$libs"; then echo "error: the static build links libpeo.so: $libs" >&2; exit 1; fi
echo "pkg-config: examples/c/journey.c built and ran against an installed libpeo, shared and static"
echo "C suite passed"
