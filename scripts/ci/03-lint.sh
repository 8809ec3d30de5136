#!/usr/bin/env bash
# CI step: formatting of the Rust workspace (its lints run with the build: 04-build.sh),
# and the fuzz targets compile.
# Runs alone (scripts/ci/03-lint.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "formatting (clippy's lints run with the build, warnings denied)"
cargo fmt --all --check

# The fuzz targets are a workspace of their own (cargo-fuzz builds them with its flags,
# scripts/fuzz.sh), so neither the build nor the tests compile them: this does, against
# their committed lock file, so that an engine change cannot leave them broken.
step "the fuzz targets (fuzz/) compile, formatted, warnings denied"
cargo fmt --manifest-path fuzz/Cargo.toml --check
CARGO_TARGET_DIR=target/fuzz-check RUSTFLAGS="-D warnings" cargo check -q --locked --manifest-path fuzz/Cargo.toml --bins
