#!/usr/bin/env bash
# CI step: builds every target of the workspace once, then the release artifacts.
# Runs alone (scripts/ci/04-build.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

# Every target of the workspace is built once, with one feature set: building single
# packages (`cargo run -p ...`) would resolve features differently and rebuild Cedar.
step "build everything (libraries, binaries, examples, tests, benchmarks) under clippy, warnings denied"
linted cargo build --workspace --all-targets --release -q

# The artifacts users install (dist/): the Python, Node and C/C++ steps test these, not
# the source tree.
step "release artifacts: scripts/dist (wheel, sdist, npm packages, C/C++ SDK, for glibc 2.17)"
scripts/dist
