"""Python nodes on a real NATS JetStream (``nats-server -js`` on loopback): a Python
node serves objects next to a second node, objects finish, events wake dormant objects,
and an unreachable server is a ``TransportError``."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import peo
import pytest

NATS = shutil.which("nats-server") or ("/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else None)


def start_nats(config=None):
    """A ``nats-server -js`` on a free loopback port: (url, process, store folder)."""
    if NATS is None:
        pytest.fail("nats-server is not installed (Debian: apt-get install nats-server; scripts/test installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tempfile.mkdtemp(prefix="peo-py-nats-")
    # PEO_TEST_NATS_CONFIG: a server configuration (TLS, users), run from its folder; the
    # test command sets it, with the NATS_* variables the clients read, for a second run.
    config = config or os.environ.get("PEO_TEST_NATS_CONFIG")
    with_config = ["-c", os.path.abspath(config)] if config else []
    proc = subprocess.Popen(
        [NATS, *with_config, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
        cwd=os.path.dirname(os.path.abspath(config)) if config else None,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.02)
    return f"nats://127.0.0.1:{port}", proc, store


@pytest.fixture
def nats_url():
    url, proc, store = start_nats()
    yield url
    proc.kill()
    proc.wait()
    shutil.rmtree(store, ignore_errors=True)


def serving(node, url):
    stop = threading.Event()
    result = {}
    t = threading.Thread(target=lambda: result.update(node.serve(url, stop=stop)), daemon=True)
    t.start()
    return stop, t, result


PLAN = {
    "StartAt": "Reserve",
    "States": {
        "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Approve"},
        "Approve": {"Type": "Task", "Resource": "approvals.request", "ResultPath": "$.approval", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "payment.charge", "ResultPath": "$.payment", "End": True},
    },
    "Await": {"Approve": {"EventPath": "$.token", "TimeoutSeconds": 60}},
}


def test_python_nodes_serve_objects_across_domains_and_events_wake_them(nats_url):
    key_w, key_p = peo.SigningKey.generate(), peo.SigningKey.generate()
    trusted = [key_w.public_key(), key_p.public_key()]
    warehouse = peo.Node("py-warehouse", domain="warehouse", key=key_w, trusted_keys=trusted)
    payments = peo.Node("py-payments", domain="payments", key=key_p, trusted_keys=trusted)
    seen = []

    @warehouse.handler("inventory.reserve")
    def reserve(order, ctx):
        seen.append(ctx.idempotency_key)
        return {"held": order["qty"]}

    @payments.handler("payment.charge")
    async def charge(order):
        return {"charged": order["qty"] * 5}

    runs = [serving(warehouse, nats_url), serving(payments, nats_url)]
    mesh = peo.JetStream(nats_url)
    objs = [peo.Object.create(PLAN, input={"qty": i + 1, "token": f"ok-{i}"}, key=key_w) for i in range(5)]
    ids = [mesh.submit(o) for o in objs]
    assert ids == [o.id for o in objs]
    time.sleep(0.5)
    for i, oid in enumerate(ids):
        mesh.send_event(oid, {"name": f"ok-{i}", "payload": {"by": "ann"}})
    done = mesh.wait(ids, timeout=30)
    for stop, t, _ in runs:
        stop.set()
        t.join(10)
    assert sorted(done) == sorted(ids)
    for i, oid in enumerate(ids):
        o = done[oid]
        assert o.status == "succeeded", o.to_dict()
        assert o.data["payment"] == {"charged": (i + 1) * 5} and o.data["approval"] == {"by": "ann"}
        report = o.verify(trusted_keys=[key_w.public_key(), key_p.public_key()])
        assert report.valid and report.signatures_checked >= 2
        assert {"py-warehouse", "py-payments"} <= {r.node.id for r in o.memory}
        assert mesh.get(oid) == o
    assert len(seen) == 5 and len(set(seen)) == 5
    stats = runs[0][2]
    assert stats["visits"] >= 5 and stats["duplicates"] == 0


FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "nats")


def test_security_reaches_the_server_and_its_mistakes_are_invalid_arguments(tmp_path):
    files = [("ca", "ca.pem"), ("cert", "client.pem"), ("key", "client-key.pem")]
    tls = {k: os.path.join(FIXTURES, f) for k, f in files}
    url, proc, store = start_nats(os.path.join(FIXTURES, "secure.conf"))
    try:
        mesh = peo.JetStream(url, security={**tls, "user": "node", "password": "node-test-password"})
        oid = mesh.submit(peo.Object.create(PLAN, input={"sku": "s"}))
        assert mesh.get(oid) is not None
        with pytest.raises(peo.TransportError, match="requires credentials and this connection has none"):
            peo.JetStream(url, security=tls)
        with pytest.raises(peo.TransportError, match="TLS failed"):
            peo.JetStream(url, security={"user": "node", "password": "node-test-password"})
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(store, ignore_errors=True)
    with pytest.raises(peo.InvalidArgumentError, match=r"security\.ca: no such file"):
        peo.JetStream(url, security={"ca": tmp_path / "missing.pem"})
    with pytest.raises(peo.InvalidArgumentError, match="unknown field `certificate`"):
        peo.JetStream(url, security={"certificate": "c.pem"})
    with pytest.raises(TypeError):
        peo.JetStream(url, security="ca.pem")  # type: ignore[arg-type]


def test_work_every_node_declines_is_dead_lettered_after_max_deliver(nats_url):
    # A node whose policy forbids running the step declines the object each time it
    # takes it: after max_deliver deliveries, the message is dead-lettered, not
    # circled forever.
    key = peo.SigningKey.generate()
    refuser = peo.Node(
        "py-refuser",
        domain="eu",
        key=key,
        trusted_keys=[key.public_key()],
        policy='forbid(principal, action == Peo::Action::"execute", resource);\npermit(principal, action, resource);',
    )

    @refuser.handler("poison.step")
    def step(data):
        raise AssertionError("the policy forbids running it")

    plan = {"StartAt": "P", "States": {"P": {"Type": "Task", "Resource": "poison.step", "End": True}}}
    peo.JetStream(nats_url).submit(peo.Object.create(plan, input={}, key=key))
    stats = refuser.serve(nats_url, max_deliver=2, idle_timeout=3)
    assert stats["rejected"] == 1 and stats["received"] >= 3, stats
    with pytest.raises(peo.InvalidArgumentError, match="max_deliver must be a number of deliveries, or 0"):
        peo.JetStream(nats_url, max_deliver=-1)
    with pytest.raises(TypeError, match="max_deliver must be an int"):
        peo.JetStream(nats_url, max_deliver="3")  # type: ignore[arg-type]


def test_replicas_are_from_one_to_five_and_reach_the_server(nats_url):
    for n in (0, 6):
        with pytest.raises(peo.InvalidArgumentError, match=f"replicas must be from 1 to 5 .*, not {n}") as e:
            peo.JetStream(nats_url, replicas=n)
        assert e.value.field == "replicas"
    with pytest.raises(TypeError, match="replicas must be an int"):
        peo.JetStream(nats_url, replicas=3.0)  # type: ignore[arg-type]
    # A single server cannot keep three copies of a stream: its refusal comes back.
    with pytest.raises(peo.TransportError, match="replicas > 1 not supported in non-clustered mode"):
        peo.JetStream(nats_url, replicas=3)
    with pytest.raises(peo.TransportError, match="replicas > 1"):
        peo.Node("n", "d").serve(nats_url, replicas=2, idle_timeout=1)
    peo.JetStream(nats_url, replicas=1).submit(
        peo.Object.create({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}, input={})
    )


def test_an_unreachable_server_is_a_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(peo.TransportError) as e:
        peo.JetStream(f"nats://127.0.0.1:{port}")
    assert isinstance(e.value, ConnectionError) and e.value.code == "PEO_TRANSPORT"
    assert "nats-server -js" in str(e.value)
    with pytest.raises(TypeError):
        peo.JetStream(4222)  # type: ignore[arg-type]


def test_a_server_lost_while_serving_is_retried_then_given_up():
    url, proc, store = start_nats()
    try:
        node = peo.Node("py-lonely", domain="eu", trust="any")
        node.handler("noop")(lambda x: x)
        mesh = peo.JetStream(url)
        failed = []

        def run():
            try:
                mesh.serve(node, give_up_after=1.0)
            except peo.TransportError as e:
                failed.append((time.monotonic(), e))

        t = threading.Thread(target=run, daemon=True)
        t.start()
        time.sleep(0.5)
        assert t.is_alive(), "serving"
        proc.kill()
        proc.wait()
        killed = time.monotonic()
        t.join(timeout=30)
        assert not t.is_alive(), "the loop gave up"
        ((when, e),) = failed
        # Retried for the second it was given, not raised at the first failure.
        assert when - killed >= 1.0
        assert e.code == "PEO_TRANSPORT"
    finally:
        proc.kill()
        shutil.rmtree(store, ignore_errors=True)


def test_compactions_keep_what_they_prune_in_the_mesh_and_the_object_audits(nats_url):
    node = peo.Node("py-counter", domain="eu", trust="any", compaction=(6, 2))

    @node.handler("count")
    def count(x):
        return {"n": x["n"] + 1}

    stop, t, _ = serving(node, nats_url)
    plan = {
        "StartAt": "Count",
        "States": {
            "Count": {"Type": "Task", "Resource": "count", "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 8, "Next": "Done"}],
                "Default": "Count",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    mesh = peo.JetStream(nats_url)
    oid = mesh.submit(peo.Object.create(plan, input={"n": 0}))
    last = mesh.wait([oid], timeout=30)[oid]
    stop.set()
    t.join(10)
    assert last.status == "succeeded"
    archive = mesh.archive(oid)
    assert archive, "segments kept"
    report = last.audit(archive)
    assert report.valid and report.checkpoints_audited >= 1
    with pytest.raises(peo.IntegrityError):
        last.audit([])


ONE_STEP = {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": "slow", "End": True}}}


def test_a_window_visits_deliveries_at_once_on_worker_threads(nats_url):
    node = peo.Node("py-window", domain="eu", trust="any")
    lock, now, most, threads = threading.Lock(), [0], [0], set()

    @node.handler("slow")
    def slow(x):
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
            threads.add(threading.get_ident())
        time.sleep(0.2)  # I/O: the GIL is released
        with lock:
            now[0] -= 1
        return {"i": x["i"], "done": True}

    mesh = peo.JetStream(nats_url)
    with pytest.raises(peo.InvalidArgumentError) as e:
        mesh.serve(node, window=0)
    assert e.value.code == "PEO_INVALID_ARGUMENT" and "window" in str(e.value)
    with pytest.raises(TypeError):
        mesh.serve(node, window="4")  # type: ignore[arg-type]
    ids = [mesh.submit(peo.Object.create(ONE_STEP, input={"i": i})) for i in range(8)]
    stop = threading.Event()
    result = {}
    t = threading.Thread(target=lambda: result.update(mesh.serve(node, stop=stop, window=4)), daemon=True)
    t.start()
    done = mesh.wait(ids, timeout=30)
    stop.set()
    t.join(10)
    assert not t.is_alive(), "stop ends a windowed loop"
    assert sorted(done) == sorted(ids)
    assert all(done[i].status == "succeeded" and done[i].data["done"] for i in ids)
    assert most[0] >= 2, f"visits at once: {most[0]}"
    assert threading.main_thread().ident not in threads and len(threads) >= 2
    assert result["visits"] >= 8


def test_a_handler_interrupted_in_a_window_gives_its_delivery_back_and_is_raised(nats_url):
    node = peo.Node("py-interrupted", domain="eu", trust="any")
    calls = []

    @node.handler("slow")
    def slow(x):
        calls.append(x["i"])
        if len(calls) == 1:
            raise KeyboardInterrupt("stop here")
        return {"i": x["i"], "done": True}

    mesh = peo.JetStream(nats_url, ack_wait=30)
    oid = mesh.submit(peo.Object.create(ONE_STEP, input={"i": 7}))
    with pytest.raises(KeyboardInterrupt, match="stop here"):
        mesh.serve(node, window=4, idle_timeout=20)
    # Given back at once (not after ack_wait), and done by the next loop.
    started = time.monotonic()
    mesh.serve(node, window=4, max_deliveries=1, idle_timeout=20)
    assert time.monotonic() - started < 10
    assert mesh.wait([oid], timeout=5)[oid].status == "succeeded"
    assert calls == [7, 7]


CTRL_C_NODE = """
import sys, threading, time, peo
node = peo.Node("py-ctrl-c", domain="eu", trust="any")
lock = threading.Lock()
def say(*words):
    with lock:
        print(*words, flush=True)
@node.handler("slow")
def slow(x):
    say("start", x["i"])
    time.sleep(0.5)
    say("end", x["i"])
    return {"i": x["i"], "done": True}
try:
    node.serve(sys.argv[1], window=4)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_ends_a_windowed_loop_after_the_visits_in_flight(nats_url):
    mesh = peo.JetStream(nats_url)
    ids = [mesh.submit(peo.Object.create(ONE_STEP, input={"i": i})) for i in range(12)]
    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_NODE, nats_url], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    lines = []
    assert proc.stdout is not None
    while len([x for x in lines if x.startswith("start")]) < 2:
        line = proc.stdout.readline()
        assert line, f"the node ended early: {lines}"
        lines.append(line.strip())
    proc.send_signal(signal.SIGINT)
    hung = threading.Timer(30, proc.kill)  # a node that does not stop fails the test
    hung.start()
    lines += [line.strip() for line in proc.stdout]  # to its end: the node exited
    hung.cancel()
    assert proc.wait() == 0, f"the node did not stop on Ctrl-C: {lines}"
    started = {x.split()[1] for x in lines if x.startswith("start")}
    ended = {x.split()[1] for x in lines if x.startswith("end")}
    assert "interrupted" in lines, lines
    assert started == ended and len(started) < 12, f"every visit in flight finished: {lines}"
    # What the node finished is in the mesh; the rest is still there for another node.
    done = mesh.wait(ids, timeout=2)
    assert {str(o.data["i"]) for o in done.values()} == ended


EXIT_WHILE_WAITING = """
import atexit, os, sys, threading, time
# Registered before peo's hook, so it runs after it: the interpreter is exiting.
atexit.register(lambda: (time.sleep(1.5), os.write(1, b"hooks done\\n")))
import peo
mesh = peo.JetStream(sys.argv[1])
def wait():
    mesh.wait(["0" * 32], timeout=0.5)
    os.write(1, b"came back\\n")
threading.Thread(target=wait, daemon=True).start()
time.sleep(0.1)
"""


def test_a_daemon_thread_coming_back_while_the_interpreter_exits_does_not_reenter_it(nats_url):
    # Before 3.14, CPython ends such a thread with pthread_exit, through the engine's
    # frames: the process crashed (a pytest run with serving threads left behind).
    run = subprocess.run(
        [sys.executable, "-c", EXIT_WHILE_WAITING, nats_url], capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hooks done\n", "the thread parked instead of re-entering the interpreter"
