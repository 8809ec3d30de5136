#!/usr/bin/env bash
# CI step: the Rust tests (after 04-build.sh).
# Runs alone (scripts/ci/05-rust-tests.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "Rust tests (unit, integration, doc; the JetStream ones start nats-server -js on loopback)"
linted cargo test --workspace --release
