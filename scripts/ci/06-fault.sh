#!/usr/bin/env bash
# CI step: the JetStream fault tests (after 04-build.sh): a node killed, a server of a
# cluster killed.
# Runs alone (scripts/ci/06-fault.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "fault test: 1,000 objects in flight, a node killed with SIGKILL mid-visit and restarted"
linted cargo test --workspace --release -q --test fault -- --ignored --nocapture

step "cluster test: 1,000 objects on three nats-servers (R3), one killed with SIGKILL mid-load and restarted"
linted cargo test --workspace --release -q --test cluster -- --ignored --nocapture
