"""Per-visit cost from Python against the same visit in Rust.

The visit: the 10-state object of bindings/c/bench/plan.json (ten Tasks in a row; from
bytes: decode + verify, ten handler calls, eleven records, encode; unsigned; fixed
clock), with a Python handler returning {"ok": True}. Method, as for the Rust and C
programs: 200 warm-up visits, then 15 rounds of 2,000; the median round's time.

The handler-call cost (the Python side of each call: decoding the input, the handler,
encoding its output) is measured separately by calling the wrapped handler ten times,
and subtracted to give the engine part, which is compared with the Rust figure
(target/release/examples/bench_visit, built by `cargo build --release -p peo-c
--example bench_visit`). Target: the engine part within 2x of Rust.

    python python/bench/bench_visit.py
"""

from __future__ import annotations

import json
import pathlib
import re
import statistics
import subprocess
import time
from typing import Any, Callable, List

import peo
from peo._calls import _wrap_handler

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAN = json.loads((ROOT / "bindings" / "c" / "bench" / "plan.json").read_text())
RUST = ROOT / "target" / "release" / "examples" / "bench_visit"
T0 = 1_700_000_000_000
ROUNDS, PER_ROUND, WARMUP = 15, 2000, 200


def median_us(run: Callable[[], Any]) -> float:
    for _ in range(WARMUP):
        run()
    rounds: List[float] = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(PER_ROUND):
            run()
        rounds.append((time.perf_counter() - start) / PER_ROUND * 1e6)
    return statistics.median(rounds)


def main() -> None:
    data = bytes(peo.Object.create(PLAN, input={"order": 7, "items": ["a", "b"]}, now_ms=T0))
    node = peo.Node("bench", domain="local", clock=lambda: T0, trust="any")

    def step(value: Any, ctx: Any) -> Any:
        return {"ok": True}

    # Registered with the JSON wrapper alone (the path of `async def` handlers), so that
    # the Python side of each call can be measured by itself below and subtracted. A
    # `def` handler is called directly instead: bench_chain.py measures that path.
    wrapped = _wrap_handler(step, True)
    node._native.add_handler("bench.step", wrapped)
    total = median_us(lambda: node.visit(data))

    input_json = json.dumps({"order": 7, "items": ["a", "b"], "last": {"ok": True}})
    key = "0" * 32 + "/S0/0"

    def ten_calls() -> None:
        for _ in range(10):
            wrapped("bench.step", "S0", input_json, key, 0, None)

    handlers = median_us(ten_calls)
    engine = total - handlers
    print(
        f"python: 10-state visit {total:.1f} us; handler calls {handlers:.1f} us (10 x {handlers / 10:.2f} us); "
        f"engine part {engine:.1f} us"
    )
    if RUST.exists():
        out = subprocess.run(
            [str(RUST), str(ROOT / "bindings" / "c" / "bench" / "plan.json")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rust = float(re.search(r"visit ([0-9.]+) us", out).group(1))  # type: ignore[union-attr]
        print(out.strip())
        print(
            f"engine part from Python: {engine / rust:.2f}x Rust (target: within 2x); "
            f"whole visit with Python handlers: {total / rust:.2f}x"
        )
    else:
        print(f"(build {RUST.relative_to(ROOT)} for the Rust comparison)")


if __name__ == "__main__":
    main()
