#!/usr/bin/env bash
# CI step: formatting of the Rust workspace (its lints run with the build: 04-build.sh).
# Runs alone (scripts/ci/03-lint.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "formatting (clippy's lints run with the build, warnings denied)"
cargo fmt --all --check
