#!/usr/bin/env bash
# CI step: builds every target of the workspace once.
# Runs alone (scripts/ci/04-build.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

# Every target of the workspace is built once, with one feature set: building single
# packages (`cargo run -p ...`) would resolve features differently and rebuild Cedar.
step "build everything (libraries, binaries, examples, tests, benchmarks)"
cargo build --workspace --all-targets --release -q
