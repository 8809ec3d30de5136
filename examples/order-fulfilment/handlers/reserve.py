"""inventory.reserve: holds stock for the order (input JSON on stdin, output on stdout)."""

import json
import os
import sys

order = json.load(sys.stdin)
if order["qty"] > 50:
    json.dump({"error": "Inventory.OutOfStock", "cause": f"only 50 of {order['sku']} left"}, sys.stderr)
    sys.exit(1)
json.dump({"held": order["qty"], "bin": "B-17", "key": os.environ["PEO_IDEMPOTENCY_KEY"]}, sys.stdout)
