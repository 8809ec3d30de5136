#!/usr/bin/env bash
# Fuzzes with cargo-fuzz (libFuzzer): Object::from_bytes + verify + the cycle for SECONDS,
# then plans (intent parsing and the cycle) and Cedar policies (node and carried) for
# half of SECONDS each.
# Usage: scripts/fuzz.sh [SECONDS]   (default 60; installs cargo-fuzz if missing)
# The stable toolchain runs cargo-fuzz with RUSTC_BOOTSTRAP=1 (it needs -Z flags).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz@0.13.2 --locked
corpus=fuzz/corpus/from_bytes
mkdir -p "$corpus"
# Seed with a real signed object (the main-job example writes one).
if [ -x target/release/examples/tamper ]; then
  target/release/examples/tamper "$corpus" >/dev/null
else
  cargo run --release -q -p peo-core --example tamper -- "$corpus" >/dev/null
fi
# And with the test vectors' objects (every state type, mid-run and terminated), and
# every input that once crashed it (fuzz/regressions).
cp tests/vectors/objects/*.peo fuzz/regressions/*.peo "$corpus"/
export RUSTC_BOOTSTRAP=1
cargo fuzz run from_bytes "$corpus" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 2>&1 | tail -n 25

# Plans: the vectors' plans, the examples' intents and the corpus' JSONata and
# variable plans as seeds.
corpus=fuzz/corpus/intent
mkdir -p "$corpus"
python3 - "$corpus" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
for v in json.load(open("tests/vectors/manifest.json"))["vectors"]:
    (out / f"{v['name']}.json").write_text(json.dumps(v["plan"]))
for f in sorted(pathlib.Path("tests/conformance/asl-corpus").glob("*.json")):
    for i, case in enumerate(json.load(open(f))):
        text = json.dumps(case["definition"])
        if "JSONata" in text or "Assign" in text:
            (out / f"asl-{f.stem}-{i}.json").write_text(text)
PY
cp examples/order-fulfilment/order.json examples/distributed/plan.json "$corpus"/
half=$(( (secs + 1) / 2 ))
cargo fuzz run intent "$corpus" -- -max_total_time="$half" -rss_limit_mb=2048 -max_len=65536 2>&1 | tail -n 5

# Cedar: the examples' policies as seeds.
corpus=fuzz/corpus/policy
mkdir -p "$corpus"
cp examples/order-fulfilment/policies/*.cedar "$corpus"/
cargo fuzz run policy "$corpus" -- -max_total_time="$half" -rss_limit_mb=2048 -max_len=16384 2>&1 | tail -n 5
