"""The Step Functions example, offline end to end (run.sh runs it): a workflow whose
first Task runs a peo Lambda, whose second waits for a task token while the object
visits a Python node and a Node.js node in other domains on the mesh, and whose last
routes on the result. Prints each execution's final status and checks the object's
memory."""

import json
import os
import sys

import peo
from stack import HERE, Stack

ORDER = {
    "id": 1042,
    "lines": [{"sku": "A1", "qty": 2, "unit": 40}, {"sku": "B7", "qty": 1, "unit": 100}],
    "destination": "lyon",
}


def caught(stack: Stack, execution: dict) -> list:
    """The error names of the failed Tasks in an execution's history."""
    names = []
    for e in stack.history(execution["executionArn"]):
        for key in ("taskFailedEventDetails", "lambdaFunctionFailedEventDetails"):
            if key in e:
                names.append(e[key].get("error"))
    if names:
        print("  failed tasks:", ", ".join(map(str, names)))
    return names


def main() -> int:
    with Stack() as stack:
        stack.start([sys.executable, "warehouse.py"])
        stack.start(["node", "carrier.js"])
        stack.start([sys.executable, "relay.py"])
        with open(os.path.join(HERE, "workflow.json")) as f:
            machine = stack.machine(f.read())
        mesh = peo.JetStream(stack.nats_url)
        failures = []

        # 1. An order that ships: SUCCEEDED, and the object that left the workflow and came
        # back carries the Lambda's records and both remote domains', signed or not, intact.
        d = stack.run(machine, {"order": ORDER}, "order-1042")
        print(f"order-1042: {d['status']}  {d.get('output', d.get('cause', ''))}")
        output = json.loads(d.get("output") or "{}")
        if d["status"] != "SUCCEEDED":
            failures.append("order-1042 did not succeed")
        else:
            obj = mesh.get(output["object"])
            report = obj.verify()
            domains = [f"{r.node.id} ({r.node.domain})" for r in obj.memory if r.node.id]
            print(f"  object {obj.id}: {obj.status} after {len(obj)} records, verified {report.valid}")
            print("  visited by:", " -> ".join(dict.fromkeys(domains)))
            if {r.node.domain for r in obj.memory} < {"aws", "warehouse", "carrier"} or not report.valid:
                failures.append("the object's memory does not show the three domains")

        # 2. An order no carrier takes: the object fails with its own error name, the relay
        # sends SendTaskFailure, and the workflow's Catch on that name routes it.
        d = stack.run(machine, {"order": {**ORDER, "id": 1043, "destination": "atlantis"}}, "order-1043")
        print(f"order-1043: {d['status']}  {d.get('error', '')}: {d.get('cause', '')}")
        if (
            d["status"] != "FAILED"
            or d.get("error") != "Order.Undeliverable"
            or "Carrier.Unavailable" not in caught(stack, d)
        ):
            failures.append("order-1043 was not caught as Carrier.Unavailable")

        # 3. An order without lines: the Lambda's object fails with Order.Invalid, which
        # the first Task's Catch matches.
        d = stack.run(machine, {"order": {**ORDER, "id": 1044, "lines": []}}, "order-1044")
        print(f"order-1044: {d['status']}  {d.get('error', '')}: {d.get('cause', '')}")
        ok = d["status"] == "FAILED" and d.get("error") == "Order.Rejected"
        if not ok or "Order.Invalid" not in caught(stack, d):
            failures.append("order-1044 was not caught as Order.Invalid")

        if failures:
            print("\n".join(["FAILED:", *failures, stack.stack_log()[-4000:]]), file=sys.stderr)
            return 1
        print("step-functions example: all three executions ended as expected")
        return 0


if __name__ == "__main__":
    sys.exit(main())
