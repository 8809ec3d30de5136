#!/usr/bin/env bash
# CI step: the JetStream suites again, against a server that requires TLS (client
# certificates) and passwords: tests/nats/secure.conf (after 05, 08, 09 and 14, whose
# builds it uses), and this time a current nats-server (2.15.1; the earlier steps ran
# Debian's 2.9.10). Every suite's server starter reads PEO_TEST_NATS_CONFIG and takes the
# first nats-server on PATH; every peo connection, in every language, reads the nats
# tool's NATS_* variables.
# Runs alone (scripts/ci/15-secure-mesh.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "the JetStream suites on nats-server 2.15.1 with TLS and credentials (Rust, the fault test, Python, Node.js, Kotlin)"
export PATH="$nats_current:$PATH"
nats-server --version
nats=$root/tests/nats
export PEO_TEST_NATS_CONFIG=$nats/secure.conf
export NATS_CA=$nats/ca.pem NATS_CERT=$nats/client.pem NATS_KEY=$nats/client-key.pem
export NATS_USER=node NATS_PASSWORD=node-test-password
linted cargo test --workspace --release -q --test jetstream --test security
linted cargo test --workspace --release -q --test fault -- --ignored
(cd python && "../$venv/bin/python" -m pytest -q tests/test_jetstream.py)
(cd node && PEO_NODE_PACKAGE="$app/node_modules/peo" node --test test/jetstream.test.js)
mvn -q -B -o -f bindings/kotlin/pom.xml surefire:test -Dtest=JetStreamTest
