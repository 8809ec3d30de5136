#!/usr/bin/env bash
# The distributed example: starts `nats-server -js` on loopback, then five nodes in two
# domains, each its own process and language, each signing its records:
#   py-reserve  (Python, domain warehouse)  inventory.reserve
#   js-charge   (Node.js, domain commerce)  payment.charge
#   kt-notify   (Kotlin on the JVM, domain commerce)  customer.notify, customer.confirm
#   c-pack      (C, domain warehouse)       warehouse.pack
#   cli-ship    (`peo serve`, domain commerce, shell handlers)  billing.invoice, shipping.ship
# submits N orders (plan.json: five Tasks, a Parallel whose branches run as child objects,
# a Wait), waits for them, and checks every one succeeded, verifies against the six
# public keys and was worked on in all five languages.
#
# The server is secured as a production mesh should be (nats.conf): TLS with client
# certificates, and a user per participant allowed only what it needs (`peo
# permissions`). Every node reads its credentials from the `nats` tool's variables
# (NATS_CA, NATS_CERT, NATS_KEY, NATS_USER, NATS_PASSWORD): no code of theirs names them.
#
# Usage: examples/distributed/run.sh [N]      (default 20 orders)
# Needs: nats-server (Debian: apt-get install nats-server), the workspace built
# (cargo build --release --workspace), `peo` importable by $PYTHON (pip install ./python)
# and `require('peo')` resolvable by node (npm install ./node, or NODE_PATH), Maven with
# dev.peo:peo installed (mvn -f bindings/kotlin/pom.xml install).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${1:-20}"
PYTHON="${PYTHON:-python3}"
peo="$root/target/release/peo"
export PATH="$PATH:/usr/sbin"
command -v nats-server >/dev/null || { echo "nats-server is not installed (apt-get install nats-server)" >&2; exit 1; }
[ -x "$peo" ] && [ -f "$root/target/release/libpeo.so" ] \
  || { echo "build first: cargo build --release --workspace" >&2; exit 1; }
"$PYTHON" -c "import peo" 2>/dev/null || { echo "$PYTHON cannot import peo (pip install ./python)" >&2; exit 1; }
node -e "require('peo')" 2>/dev/null || { echo "node cannot require('peo') (npm install ./node, or set NODE_PATH)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "Maven is not installed (the Kotlin node needs it)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${PEO_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="nats://127.0.0.1:$port"
# From this folder: nats.conf names its certificates relative to it.
(cd "$here" && exec nats-server -c nats.conf -js -a 127.0.0.1 -p "$port" -sd "$work/jetstream") > "$work/nats.log" 2>&1 &
nats=$!
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
echo "nats-server -js on $url (nats.conf: TLS, a user per participant)"

# The demo CA and client certificate (tests/nats/make-certs.sh), and `env $(user NAME)
# command` to run a command as one of nats.conf's users.
export NATS_CA="$root/tests/nats/ca.pem" NATS_CERT="$root/tests/nats/client.pem" NATS_KEY="$root/tests/nats/client-key.pem"
user() { echo "NATS_USER=$1 NATS_PASSWORD=$1-demo-password"; }
# The operator creates the streams and the bucket once; no other user may.
env $(user operator) "$PYTHON" -c 'import peo, sys; peo.JetStream(sys.argv[1])' "$url"

cc -std=c11 -O2 -Wall -Wextra -Werror "$here/c_node.c" -I"$root/include" -L"$root/target/release" -lpeo \
  -Wl,-rpath,"$root/target/release" -o "$work/c_node"

# The Kotlin node, compiled as any Maven project using dev.peo:peo (offline when the
# dependencies are in ~/.m2 already).
# (Maven writes colour resets even with -B; they are stripped.)
nocolour() { sed 's/\x1b\[[0-9;]*m//g'; }
mvn -q -B -f "$here/kt-node/pom.xml" compile 2>&1 | nocolour \
  || { echo "the Kotlin node does not build: is dev.peo:peo installed (mvn -f bindings/kotlin/pom.xml install)?" >&2; exit 1; }

cd "$here"
env $(user py-reserve) "$PYTHON" py_node.py "$url" keys/py-reserve.key > "$work/py-reserve.log" 2>&1 & pids+=($!)
env $(user js-charge) node js_node.js "$url" keys/js-charge.key > "$work/js-charge.log" 2>&1 & pids+=($!)
env $(user c-pack) "$work/c_node" "$url" keys/c-pack.key trust.json > "$work/c-pack.log" 2>&1 & pids+=($!)
env $(user cli-ship) "$peo" serve --nats "$url" --node cli-ship.toml > "$work/cli-ship.log" 2>&1 & pids+=($!)
env $(user kt-notify) mvn -q -B -f kt-node/pom.xml exec:java \
  -Dexec.args="$url keys/kt-notify.key trust.json" > "$work/kt-notify.log" 2>&1 & pids+=($!)
# The JVM takes a few seconds to start: the orders are timed from when it serves.
for _ in $(seq 600); do grep -qs "serving" "$work/kt-notify.log" && break; sleep 0.1; done

objects=()
for i in $(seq "$n"); do
  printf '{"order": %d, "sku": "SKU-%d", "qty": %d}' "$i" "$((i % 7))" "$((1 + i % 3))" > "$work/input-$i.json"
  "$peo" new plan.json --input "$work/input-$i.json" --key keys/submitter.key -o "$work/order-$i.peo" > /dev/null
  objects+=("$work/order-$i.peo")
done
t0=$(date +%s.%N)
env $(user client) "$peo" submit --nats "$url" --wait 120 --out "$work/done" --json "${objects[@]}" > "$work/report.json" || true
t1=$(date +%s.%N)

for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
wait "${pids[@]}" 2>/dev/null || true
pids=("$nats")

"$PYTHON" - "$work/report.json" "$n" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
want = {"py-reserve", "js-charge", "c-pack", "cli-ship", "kt-notify"}
bad = [r for r in report if r["status"] != "succeeded" or not want <= set(r.get("nodes", []))]
assert len(report) == n, f"{len(report)} of {n} objects reported"
if bad:
    print("objects that did not succeed across all five languages:", json.dumps(bad, indent=1))
    sys.exit(1)
print(f"{n} objects succeeded; each was worked on by {', '.join(sorted(want))}")
PY
trust=$(ls keys/*.pub | paste -sd, -)
for f in "$work"/done/*.peo; do
  "$peo" verify "$f" --trust "$trust" > /dev/null || { echo "$f does not verify" >&2; "$peo" verify "$f" --trust "$trust"; exit 1; }
done
echo "every history verifies: each visit signed by one of the six demo keys"
done_files=("$work"/done/*.peo)
first=${done_files[0]}
# The client may submit and wait, not answer objects: the server refuses, and says so.
if why=$(env $(user client) "$peo" send --nats "$url" "$(basename "$first" .peo)" approved 2>&1); then
  echo "the client sent an event, which nats.conf does not allow it" >&2; exit 1
fi
grep -q "Permissions Violation" <<< "$why" || { echo "unexpected: $why" >&2; exit 1; }
echo "the client may not send events: $why"
echo
echo "the journey of $(basename "$first" .peo):"
"$peo" inspect "$first" | sed -n '1,40p'
echo
for log in py-reserve js-charge c-pack cli-ship kt-notify; do
  nocolour < "$work/$log.log" | grep -E "^$log: stopped" | tail -1 || echo "$log: (no summary)"
done
awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d orders in %.2f s (each: 6 tasks in 5 processes, 2 child objects, a 1 s wait)\n", n, b - a }'
