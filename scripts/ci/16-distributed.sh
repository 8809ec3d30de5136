#!/usr/bin/env bash
# CI step: the distributed example (after 04-build.sh, 08-python.sh, 09-node.sh and
# 14-kotlin.sh, which installs dev.peo:peo for its Kotlin node).
# Runs alone (scripts/ci/16-distributed.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "the distributed example: Python, Node.js, C, Kotlin and peo serve nodes on nats-server -js with TLS and per-node users"
PYTHON="$root/$venv/bin/python" NODE_PATH="$app/node_modules" examples/distributed/run.sh 20
