#!/usr/bin/env bash
# Writes nats.conf, the distributed example's server configuration: TLS, an operator,
# and a user per participant with the permissions `peo permissions` prints for it.
# Run it (after cargo build --release -p peo-cli) when those permissions change;
# jetstream/tests/jetstream.rs fails while nats.conf is stale.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
peo="$here/../../target/release/peo"
block() { "$peo" permissions "$@" | sed '1!s/^/  /'; }
user() { local name=$1; shift; echo "    { user: $name, password: \"$name-demo-password\", $(block "$@") }"; }
{
cat <<'EOF'
# The distributed example's nats-server configuration (run.sh starts the server with
# it): TLS with client certificates, and a user per participant allowed only what it
# needs. Written by make-nats-conf.sh: each `permissions` block is what `peo
# permissions` prints for the participant, and jetstream/tests/jetstream.rs fails when
# one no longer matches what the code derives.
#
# Demo only: the certificates are tests/nats/'s (make-certs.sh), the passwords are
# plain text and in this file (production: bcrypt hashes from `nats server passwd`,
# nkeys, or an operator with JWTs), and every participant shares one client certificate.
tls {
  cert_file: "../../tests/nats/server.pem"
  key_file: "../../tests/nats/server-key.pem"
  ca_file: "../../tests/nats/ca.pem"
  verify: true
  timeout: 5
}

authorization {
  users = [
    # Creates the streams and the bucket once (any peo connection does, when they are
    # missing), and is the one to set their limits. No one else may.
    { user: operator, password: "operator-demo-password" }

EOF
for n in "py-reserve inventory.reserve" "js-charge payment.charge" "c-pack warehouse.pack" \
  "cli-ship billing.invoice shipping.ship" "kt-notify customer.notify customer.confirm"; do
  set -- $n
  id=$1; shift
  caps=$(printf -- ' --capability %s' "$@")
  echo "    # peo permissions node --id $id$caps"
  # shellcheck disable=SC2086
  user "$id" node --id "$id" $caps
  echo
done
echo "    # Submits the orders and waits for them (peo submit --wait): peo permissions client"
user client client
echo
echo "    # A service answering objects' Await states and task tokens: peo permissions events"
user answers events
echo "  ]"
echo "}"
} > "$here/nats.conf"
