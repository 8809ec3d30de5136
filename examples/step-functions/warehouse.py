"""py-pick: a Python node (domain ``warehouse``) serving ``warehouse.pick`` on the mesh.
It has no access to AWS. Usage: python warehouse.py (reads PEO_NATS_URL)."""

import os
import signal
import threading

import peo

node = peo.Node("py-pick", domain="warehouse", trust="any")


@node.handler("warehouse.pick")
def pick(order):
    return {**order, "picked": [line["sku"] for line in order["lines"]], "bin": "B-17"}


stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
print("py-pick: serving warehouse.pick", flush=True)
node.serve(os.environ["PEO_NATS_URL"], stop=stop)
