#!/usr/bin/env bash
# The Step Functions example, offline: moto's Step Functions and S3 on loopback, the
# peo-node Lambda in awslambdaric, nats-server -js, a Python node, a Node.js node and the
# relay (run.py says what each execution shows).
#
# Usage: examples/step-functions/run.sh
# Needs: nats-server (Debian: apt-get install nats-server); $PYTHON (default python3)
# with peo, boto3, "moto[server,stepfunctions,s3]" and awslambdaric
# (pip install peo boto3 "moto[server,stepfunctions,s3]==5.2.5" awslambdaric); node with
# require('peo') resolvable (npm install peo, or NODE_PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python3}"
export PATH="$PATH:/usr/sbin"
command -v nats-server >/dev/null || { echo "nats-server is not installed (apt-get install nats-server)" >&2; exit 1; }
"$PYTHON" -c "import peo, boto3, moto, awslambdaric" 2>/dev/null \
  || { echo "$PYTHON needs peo, boto3, moto[server,stepfunctions,s3] and awslambdaric" >&2; exit 1; }
node -e "require('peo')" 2>/dev/null || { echo "node cannot require('peo') (npm install peo, or set NODE_PATH)" >&2; exit 1; }
exec "$PYTHON" "$here/run.py"
