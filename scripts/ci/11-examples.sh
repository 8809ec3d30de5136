#!/usr/bin/env bash
# CI step: the main job and the Rust examples (after 04-build.sh).
# Runs alone (scripts/ci/11-examples.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "the main job (examples/order-fulfilment, as the README runs it) and the examples"
# (the README runs it with `cargo run --release -p peo-cli -- run ...`: the same binary)
out=$(mktemp -d)
"$bin/peo" run examples/order-fulfilment/mesh.toml --dir "$out"
"$bin/peo" verify "$out/order.peo" --trust "$(ls examples/order-fulfilment/keys/*.pub | paste -sd, -)"
test -s "$out/order.svg"
rm -rf "$out"
"$bin/examples/journey"
"$bin/examples/quickstart"
"$bin/examples/tamper"
