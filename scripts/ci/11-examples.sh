#!/usr/bin/env bash
# CI step: the main job, its history against the Step Functions model, and the Rust
# examples (after 04-build.sh, and 08-python.sh for the venv).
# Runs alone (scripts/ci/11-examples.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "the main job (examples/order-fulfilment, as the README runs it) and the examples"
# (the README runs it with `cargo run --release -p peo-cli -- run ...`: the same binary)
out=$(mktemp -d)
"$bin/peo" run examples/order-fulfilment/mesh.toml --dir "$out"
"$bin/peo" verify "$out/order.peo" --trust "$(ls examples/order-fulfilment/keys/*.pub | paste -sd, -)"
test -s "$out/order.svg"

step "peo history --format sfn is valid against the Step Functions API model (botocore's)"
# botocore pinned: the Step Functions model the histories are checked against.
"$venv/bin/pip" install -q --disable-pip-version-check botocore==1.44.8
for o in "$out/order.peo" tests/vectors/objects/{jsonata-states,jsonata-error-caught,variables}.final.peo; do
  "$bin/peo" history "$o" --format sfn > "$out/$(basename "$o").history.json"
done
"$venv/bin/python" tests/sfn/check_history.py "$out"/*.history.json
rm -rf "$out"
"$bin/examples/journey"
"$bin/examples/quickstart"
"$bin/examples/tamper"
