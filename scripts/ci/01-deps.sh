#!/usr/bin/env bash
# CI step: what the suites need beyond the toolchains.
# Runs alone (scripts/ci/01-deps.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "nats-server (JetStream) for the distributed tests: Debian's, and a current one"
scripts/deps-nats.sh
echo "Debian's: $(nats-server --version); current: $("$nats_current/nats-server" --version)"
