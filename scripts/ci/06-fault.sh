#!/usr/bin/env bash
# CI step: the JetStream fault test (after 04-build.sh).
# Runs alone (scripts/ci/06-fault.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "fault test: 1,000 objects in flight, a node killed with SIGKILL mid-visit and restarted"
cargo test --release -q -p peo-cli --test fault -- --ignored --nocapture
