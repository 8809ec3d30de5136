"""A Python node serving a JetStream mesh with a window of deliveries in flight against one
at a time (issue 19), in the same run.

Each of 200 one-Task objects is visited by a handler that waits 10 ms on I/O
(``time.sleep``, which releases the GIL), as a handler calling a service does. The node
serves with ``window=1``, then ``window=16``, on a fresh ``nats-server -js`` on loopback
each time; the figure is objects finished per second, from the first submission to the
last finished object.

    python python/bench/bench_serve.py
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import peo

N = 200
WAIT = 0.010
PLAN = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "call", "End": True}}}


def nats_server():
    exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tempfile.mkdtemp(prefix="peo-bench-nats-")
    proc = subprocess.Popen(
        [exe, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    return f"nats://127.0.0.1:{port}", proc, store


def run(window: int) -> float:
    url, proc, store = nats_server()
    try:
        node = peo.Node("py-bench", domain="eu", trust="any")

        @node.handler("call")
        def call(x):
            time.sleep(WAIT)
            return {"i": x["i"], "ok": True}

        mesh = peo.JetStream(url)
        stop = threading.Event()
        t = threading.Thread(target=lambda: node.serve(url, stop=stop, window=window), daemon=True)
        t.start()
        started = time.perf_counter()
        ids = [mesh.submit(peo.Object.create(PLAN, input={"i": i})) for i in range(N)]
        done = mesh.wait(ids, timeout=120)
        took = time.perf_counter() - started
        stop.set()
        t.join(10)
        assert len(done) == N and all(o.status == "succeeded" for o in done.values()), "every object finished"
        return N / took
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    one, sixteen = run(1), run(16)
    print(
        f"python serve: {one:.0f} objects/s with 1 in flight, {sixteen:.0f} with 16 "
        f"({N} objects, a handler waiting {WAIT * 1000:.0f} ms, {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
