#!/usr/bin/env bash
# CI step: the Step Functions example, offline (after 08-python.sh, whose venv has peo,
# boto3, moto and awslambdaric, and 09-node.sh, which installed the Node package).
# Runs alone (scripts/ci/17-step-functions.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "the Step Functions example: moto, the peo Lambda in awslambdaric, Python and Node.js nodes on nats-server -js, the relay"
PYTHON="$root/$venv/bin/python" NODE_PATH="$app/node_modules" examples/step-functions/run.sh
