"""Per-transition cost from Python against the same visit in Rust (issue 18's target:
at most 2 us a transition from Python).

The visit: a chain of 1,000 Tasks whose handler returns {"i": i + 1}, from bytes (decode +
verify, 1,000 handler calls, 1,001 records, encode), unsigned, a fixed clock. 5 warm-up
visits, then 25 measured; the median visit divided by 1,000. The Rust reference,
target/release/examples/bench_chain (`cargo build --release -p peo-c --example
bench_chain`), runs the same visit with a Rust handler in the same run.

    python python/bench/bench_chain.py
"""

from __future__ import annotations

import asyncio
import pathlib
import statistics
import subprocess
import time
from typing import Any, Dict, List

import peo

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUST = ROOT / "target" / "release" / "examples" / "bench_chain"
T0 = 1_700_000_000_000
N = 1000


def plan(n: int) -> Dict[str, Any]:
    states: Dict[str, Any] = {}
    for i in range(n):
        state: Dict[str, Any] = {"Type": "Task", "Resource": "step"}
        if i + 1 == n:
            state["End"] = True
        else:
            state["Next"] = f"S{i + 1:04}"
        states[f"S{i:04}"] = state
    return {"StartAt": "S0000", "States": states}


def per_transition(data: bytes, handler: Any, awaited: bool = False) -> List[float]:
    """25 measured visits (after 5 warm-up ones) of the chain with `handler`, in us a
    transition; with `visit_async` on an event loop when `awaited`."""
    node = peo.Node("bench", domain="local", now_ms=T0, trust="any")
    node.add_handler("step", handler)
    runs: List[float] = []
    for r in range(30):
        start = time.perf_counter()
        visit = asyncio.run(node.visit_async(data)) if awaited else node.visit(data)
        elapsed = time.perf_counter() - start
        assert visit.object.data == {"i": N}
        if r >= 5:
            runs.append(elapsed / N * 1e6)
    return runs


def main() -> None:
    data = bytes(peo.Object.create(plan(N), input={"i": 0}, now_ms=T0))
    runs = per_transition(data, lambda value: {"i": value["i"] + 1})
    median = statistics.median(runs)
    print(f"python: 1,000-Task chain {median:.2f} us per transition (median of 25; min {min(runs):.2f})")
    # The same with a handler that takes a TaskContext (one made per call).
    runs = per_transition(data, lambda value, ctx: {"i": value["i"] + 1})
    print(f"python, handler with a context: {statistics.median(runs):.2f} us per transition (min {min(runs):.2f})")
    # The first handler again, from an event loop (asyncio.run's own cost included).
    runs = per_transition(data, lambda value: {"i": value["i"] + 1}, awaited=True)
    print(f"python, visit_async: {statistics.median(runs):.2f} us per transition (min {min(runs):.2f})")
    if RUST.exists():
        print(subprocess.run([str(RUST)], capture_output=True, text=True, check=True).stdout.strip())
    else:
        print("(cargo build --release -p peo-c --example bench_chain for the Rust figure)")


if __name__ == "__main__":
    main()
