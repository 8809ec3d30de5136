#!/usr/bin/env bash
# The C API's per-visit overhead against the same visit in Rust (target: under 10%),
# then the per-transition cost of a 1,000-Task chain from C and from Rust.
# Usage (from the repository root): bindings/c/bench/run.sh
# Builds what it needs (release), runs the Rust and the C program alternately five
# times each, and prints the median of each side's medians and the overhead.
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo build --release -q -p peo-c --lib --example bench_visit
mkdir -p target/c
cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bindings/c/bench/visit.c -o target/c/bench_visit \
  -Ltarget/release -lpeo -Wl,-rpath,"$PWD/target/release"
plan=bindings/c/bench/plan.json
rust=(); c=()
for _ in 1 2 3 4 5; do
  line=$(target/release/examples/bench_visit "$plan"); echo "$line"; rust+=("$(echo "$line" | awk '{print $4}')")
  line=$(target/c/bench_visit "$plan"); echo "$line"; c+=("$(echo "$line" | awk '{print $4}')")
done
python3 - "${rust[@]}" "${c[@]}" <<'PY'
import statistics, sys
v = list(map(float, sys.argv[1:])); n = len(v) // 2
rust, c = statistics.median(v[:n]), statistics.median(v[n:])
print(f"C API overhead: rust {rust:.2f} us, C {c:.2f} us per 10-state visit: {100 * (c / rust - 1):+.1f}% (target < +10%)")
PY

# The 1,000-Task chain of the faces' benchmarks (issue 18's per-transition figure): C and
# Rust alternately, three times each.
cargo build --release -q -p peo-c --example bench_chain
cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bindings/c/bench/chain.c -o target/c/bench_chain \
  -Ltarget/release -lpeo -Wl,-rpath,"$PWD/target/release"
for _ in 1 2 3; do
  target/c/bench_chain
  target/release/examples/bench_chain
done
