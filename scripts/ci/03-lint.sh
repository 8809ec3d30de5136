#!/usr/bin/env bash
# CI step: formatting and lints of the Rust workspace.
# Runs alone (scripts/ci/03-lint.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -q -- -D warnings
# The faces built without the JetStream transport (scripts/sizes.sh prints what it saves).
cargo clippy --release -q -p peo-c -p peo-python -p peo-node -p peo-uniffi --no-default-features -- -D warnings
