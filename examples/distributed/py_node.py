"""py-reserve: a Python node (domain `warehouse`) serving `inventory.reserve` on a
JetStream mesh. Usage: python py_node.py NATS_URL KEY_FILE"""

import json
import os
import signal
import sys
import threading

import peo

url, key_file = sys.argv[1], sys.argv[2]
with open(key_file) as f:
    key = peo.SigningKey.from_bytes(bytes.fromhex(f.read().strip()))
# The trust store all the nodes share: each key may sign only as its own node.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "trust.json")) as f:
    trust = json.load(f)
node = peo.Node("py-reserve", domain="warehouse", key=key, trust=trust)


@node.handler("inventory.reserve")
def reserve(order, ctx):
    # ctx.idempotency_key is the same for every node that runs this attempt.
    return {"held": order["qty"], "bin": f"B-{order['order'] % 40}", "language": "python"}


stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
print("py-reserve: serving inventory.reserve on", url, flush=True)
stats = node.serve(url, stop=stop)
print("py-reserve: stopped", stats, flush=True)
