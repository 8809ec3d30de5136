"""A Map end to end from Python, as a user drives it: per-item cost at 100 and at 10,000
items, measured in the same run.

The parent (a Map whose items each run one Task, `math.square`) is visited with
``node.visit``: it fans out and goes dormant. Every child is visited with
``node.visit`` at a worker node, and the children's final objects are presented to the
parent with ``node.complete`` as they come back, a hundred at a time (a list: one
record per batch), the parent travelling as bytes between batches. Signing nodes
(Ed25519), so every child and every batch record is signed and verified.

Target (issue 17): the per-item cost at 10,000 within 1.3x of the per-item cost at 100.
Also printed: the parent's size after the join against its size with the output alone.

    python python/bench/bench_fanout.py
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import List

import peo

T0 = 1_700_000_000_000
BATCH = 100

PLAN = {
    "StartAt": "Squares",
    "States": {
        "Squares": {
            "Type": "Map",
            "ItemsPath": "$.numbers",
            "ResultPath": "$.squares",
            "End": True,
            "ItemProcessor": {
                "StartAt": "Square",
                "States": {"Square": {"Type": "Task", "Resource": "math.square", "End": True}},
            },
        }
    },
}


def nodes() -> "tuple[peo.Node, peo.Node, peo.SigningKey]":
    parent_key, worker_key = peo.SigningKey.generate(), peo.SigningKey.generate()
    trusted = [parent_key.public_key(), worker_key.public_key()]
    parent = peo.Node("parent", "eu", key=parent_key, trusted_keys=trusted)
    worker = peo.Node("worker", "eu", key=worker_key, trusted_keys=trusted)
    worker.add_handler("math.square", lambda n: n * n)
    return parent, worker, parent_key


def run(n: int) -> "tuple[float, int]":
    """One Map over `n` items: seconds end to end, and the parent's final size."""
    parent, worker, key = nodes()
    obj = peo.Object.create(PLAN, input={"numbers": list(range(n))}, now_ms=T0, key=key)
    start = time.perf_counter()
    v = parent.visit(obj)
    data = v.bytes
    children = v.children
    for i in range(0, len(children), BATCH):
        done = [worker.visit(c).bytes for c in children[i : i + BATCH]]
        v = parent.complete(data, done)
        data = v.bytes
    elapsed = time.perf_counter() - start
    assert v.disposition.kind == "terminated" and v.object.status == "succeeded", v.disposition
    assert v.object.data["squares"][-1] == (n - 1) ** 2
    return elapsed, len(data)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    run(100)  # warm-up
    small: List[float] = []
    large: List[float] = []
    size = 0
    for _ in range(rounds):
        t, _ = run(100)
        small.append(t / 100 * 1e6)
        t, size = run(10_000)
        large.append(t / 10_000 * 1e6)
    a, b = statistics.median(small), statistics.median(large)
    print(f"Map from Python, batches of {BATCH}, signing nodes ({rounds} rounds, median)")
    print(f"  100 items:    {a:7.1f} us per item")
    print(f"  10,000 items: {b:7.1f} us per item  = {b / a:.2f}x the per-item cost at 100 (target 1.3x)")
    print(f"  parent after the join: {size:,} bytes")


if __name__ == "__main__":
    main()
