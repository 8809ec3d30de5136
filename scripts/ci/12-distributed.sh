#!/usr/bin/env bash
# CI step: the distributed example (after 04-build.sh, 08-python.sh and 09-node.sh).
# Runs alone (scripts/ci/12-distributed.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "the distributed example: Python, Node.js, C and peo serve nodes on nats-server -js"
PYTHON="$root/$venv/bin/python" NODE_PATH="$app/node_modules" examples/distributed/run.sh 20
