#!/usr/bin/env bash
# CI step: what the suites need beyond the toolchains.
# Runs alone (scripts/ci/01-deps.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "nats-server (JetStream) for the distributed tests"
scripts/deps-nats.sh
nats-server --version
