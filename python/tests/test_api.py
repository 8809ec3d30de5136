"""The Python API end to end: objects, keys, a two-node visit with Python handlers and
Cedar policies, async handlers, advisors, refinements, and bad input of every kind."""

import asyncio
import dataclasses
import os
import random
import sys
import threading
import time
from typing import Any

import peo
import pytest

ORDER_PLAN = {
    "StartAt": "Reserve",
    "States": {
        "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "payment.charge", "ResultPath": "$.payment", "End": True},
    },
}
T0 = 1_700_000_000_000


def order(key=None, **kw):
    return peo.Object.create(
        ORDER_PLAN, {"labels": ["orders"]}, {"order": 7, "sku": "A1", "qty": 2}, now_ms=T0, key=key, **kw
    )


def test_object_round_trip_and_accessors():
    key = peo.SigningKey.generate()
    obj = order(key)
    data = bytes(obj)
    assert data == obj.to_bytes() and data[4:8] == b"PEO1"
    again = peo.Object.from_bytes(data)
    assert again == obj and again.to_bytes() == data
    assert obj.status == "running" and obj.state == "Reserve" and len(obj.id) == 32 and len(obj.head) == 64
    assert obj.data == {"order": 7, "sku": "A1", "qty": 2}
    (genesis,) = obj.memory
    assert genesis.action == "genesis" and genesis.next_state == "Reserve" and genesis.seq == 0
    assert genesis.node.key == key.public_key().hex()
    with pytest.raises(AttributeError):
        genesis.seq = 3  # records are read-only (frozen)
    report = obj.verify(trusted_keys=[key.public_key()])
    assert report.valid and report.signatures_checked == 1 and report.signers[0].trusted
    d = obj.to_dict()
    assert d["id"] == obj.id and d["context"]["labels"] == ["orders"]
    assert peo.Object.create(ORDER_PLAN, now_ms=T0).id == peo.Object.create(ORDER_PLAN, now_ms=T0).id
    assert "Object(id=" in repr(obj)
    seed = bytes(range(32))
    assert peo.SigningKey.from_bytes(seed).to_bytes() == seed


def test_two_nodes_with_python_handlers_and_cedar_policies():
    shop, wh_key, bank_key = (peo.SigningKey.generate() for _ in range(3))
    trusted = [k.public_key() for k in (shop, wh_key, bank_key)]
    warehouse = peo.Node(
        "warehouse-1",
        domain="eu",
        key=wh_key,
        trusted_keys=trusted,
        facts={"site": "lyon"},
        policy='permit(principal, action, resource) when { context.labels.contains("orders") };',
    )
    seen = {}

    @warehouse.handler("inventory.reserve")
    def reserve(order, ctx):
        seen["key"] = ctx.idempotency_key
        ctx.refine({"Objective": "ship order 7 today"})
        return {"held": order["qty"]}

    bank = peo.Node(
        "bank-1",
        domain="us",
        key=bank_key,
        trusted_keys=trusted,
        policy='forbid(principal, action == Peo::Action::"execute", resource) when { context.node_domain == "eu" };\n'
        "permit(principal, action, resource);",
    )

    @bank.handler("payment.charge")
    async def charge(order):
        await asyncio.sleep(0)
        return {"charged": 30, "held": order["reservation"]["held"]}

    obj = order(shop)
    first = warehouse.visit(obj)
    assert first.disposition.kind == "delegate" and first.disposition.capability == "payment.charge"
    assert seen["key"] == f"{obj.id}/Reserve/1/0"
    assert [r.action for r in first.records] == ["execute", "mutate", "delegate"]
    assert first.records[0].policy["decision"] == "allow"
    second = bank.visit(first.bytes)
    assert second.disposition.kind == "terminated" and second.disposition.status == "succeeded"
    assert second.disposition.output["payment"] == {"charged": 30, "held": 2}
    done = second.object
    assert done.status == "succeeded" and done.to_dict()["intent"]["objective"] == "ship order 7 today"
    assert done.verify(trusted).valid
    with pytest.raises(peo.SignatureError) as e:
        done.verify(trusted_keys=[shop.public_key()])
    assert isinstance(e.value, ValueError) and e.value.code == "PEO_SIGNATURE" and e.value.record is not None
    # The warehouse does not trust a stranger's objects.
    with pytest.raises(peo.SignatureError):
        warehouse.visit(order(peo.SigningKey.generate()))
    # A terminated object refuses another visit.
    with pytest.raises(peo.TerminatedError) as e:
        bank.visit(done)
    assert isinstance(e.value, RuntimeError) and e.value.kind == "terminated"


# One Task whose every error is caught into $.error.
CALL_OR_CATCH = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": "x.call",
            "End": True,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
        },
        "Caught": {"Type": "Pass", "End": True},
    },
}


def test_handler_failures_are_recorded_not_raised():
    plan = CALL_OR_CATCH
    not_json = "the handler returned a value that is not JSON"

    async def async_not_json(_: Any) -> Any:
        return {"not json": object()}

    # `def` handlers are called directly, `async def` ones through the JSON wrapper: both
    # word a value that is not JSON alike (and as Node does).
    cases = [
        (lambda _: (_ for _ in ()).throw(peo.TaskFailed("Stock.Out", "sku A1")), "Stock.Out", "sku A1"),
        (lambda _: 1 / 0, "ZeroDivisionError", "division by zero"),
        (lambda _: {"not json": object()}, peo.HANDLER_INVALID_OUTPUT, not_json),
        (lambda _: float("nan"), peo.HANDLER_INVALID_OUTPUT, not_json),
        (async_not_json, peo.HANDLER_INVALID_OUTPUT, not_json),
    ]
    for fn, error, cause in cases:
        node = peo.Node("n", domain="d", trust="any")
        node.add_handler("x.call", fn)
        visit = node.visit(peo.Object.create(plan, now_ms=T0))
        assert visit.object.status == "succeeded"
        got = visit.object.data["error"]
        assert got["Error"] == error and cause in got["Cause"], got


def test_handlers_that_take_a_context_get_it_and_refine_through_it():
    """Synchronous handlers that take a context are called directly too, with a context
    made per call: its fields, a refinement (also when the result is awaitable), and a
    refinement that is not JSON."""
    plan = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "x.call", "End": True}}}
    seen = []

    async def later(v):
        return {"later": v}

    def plain(v, ctx):
        assert isinstance(ctx, peo.TaskContext) and ctx.refinement == []
        seen.append(ctx)
        ctx.refine({"Objective": "plain"})
        return {"got": v["n"]}

    def awaiting(v, ctx):
        ctx.refine({"Objective": "awaiting"})
        return later(v["n"])

    def rest(v, *args):
        args[0].refine({"Objective": "rest"})
        return {"got": v["n"]}

    ids = []
    for fn, output, objective in [
        (plain, {"got": 1}, "plain"),
        (awaiting, {"later": 1}, "awaiting"),
        (rest, {"got": 1}, "rest"),
    ]:
        node = peo.Node("n", domain="d", trust="any")
        node.add_handler("x.call", fn)
        obj = peo.Object.create(plan, input={"n": 1}, now_ms=T0)
        ids.append(obj.id)
        visit = node.visit(obj)
        assert visit.object.status == "succeeded" and visit.disposition.output == output
        assert visit.object.to_dict()["intent"]["objective"] == objective
    # Every field of the dataclass, as its constructor makes them (the engine makes it
    # without calling it); still frozen.
    assert seen == [peo.TaskContext("x.call", "Call", f"{ids[0]}/Call/1/0", 0, None)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        seen[0].attempt = 1  # type: ignore[misc]

    def bad(v, ctx):
        ctx.refine({"Objective": float("nan")})
        return {}

    node = peo.Node("n", domain="d", trust="any")
    node.add_handler("x.call", bad)
    visit = node.visit(peo.Object.create(plan, now_ms=T0))
    assert visit.object.status == "failed"
    failed = visit.records[0].to_dict()["body"]["error"]
    assert failed["error"] == peo.HANDLER_INVALID_OUTPUT and "the refinement is not JSON" in failed["cause"], failed


def test_handler_values_cross_as_json_would_carry_them():
    """Plain synchronous handlers are called without JSON text in between; what they
    receive and what is recorded must still be what json.loads and json.dumps give."""
    plan = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "x.call", "End": True}}}
    value = {"s": "é\u2028", "i": -(2**53), "f": 0.1, "b": True, "n": None, "l": [1, [2.5]], "d": {}}
    seen = []

    class Number(int):
        pass

    async def later():
        return {"later": True}

    cases = [
        (lambda v: (seen.append(v), v)[1], value),
        (
            lambda v: {1: "a", 2.5: "b", False: "c", None: "d", Number(3): "e"},
            {"1": "a", "2.5": "b", "false": "c", "null": "d", "3": "e"},
        ),
        (lambda v: (1, "two", (3,)), [1, "two", [3]]),
        (lambda v: 2**70, float(2**70)),
        (lambda v: later(), {"later": True}),
    ]
    for fn, expected in cases:
        node = peo.Node("n", domain="d", trust="any")
        node.add_handler("x.call", fn)
        visit = node.visit(peo.Object.create(plan, input=value, now_ms=T0))
        assert visit.object.status == "succeeded" and visit.disposition.output == expected
    assert seen == [value] and type(seen[0]["i"]) is int and type(seen[0]["l"][1][0]) is float
    cycle: list = []
    cycle.append(cycle)
    bad = [(lambda v: cycle, "nests deeper"), (lambda v: {(1, 2): 3}, "keys must be"), (lambda v: {1, 2}, "set")]
    for fn, cause in bad:
        node = peo.Node("n", domain="d", trust="any")
        node.add_handler("x.call", fn)
        visit = node.visit(peo.Object.create(plan, now_ms=T0))
        assert visit.object.status == "failed"
        error = visit.disposition.error
        assert error["error"] == peo.HANDLER_INVALID_OUTPUT and cause in error["cause"], error


def test_a_node_without_the_capability_delegates_and_no_handler_fails_the_attempt():
    node = peo.Node("n", domain="d", trust="any")
    visit = node.visit(order())
    assert visit.disposition.kind == "delegate" and visit.disposition.reason == "capability"


def test_advisor_proposals_are_checked_and_recorded():
    advice = []

    def advisor(obj):
        advice.append(obj.state)
        if obj.state == "Reserve":
            return peo.Proposal("execute", target="inventory.reserve", confidence=0.9, rationale="in stock")
        return {"action": "terminate", "rationale": "give up"}  # forbidden: overridden

    node = peo.Node(
        "n",
        domain="d",
        trust="any",
        advisor=advisor,
        policy='permit(principal, action, resource) unless { action == Peo::Action::"terminate" && context.advised };',
    )
    node.add_handler("inventory.reserve", lambda o: {"held": 1})
    visit = node.visit(order())
    assert advice[:2] == ["Reserve", "Charge"]
    records = visit.records
    assert records[0].advice["followed"] and records[0].advice["rationale"] == "in stock"
    overridden = [r.advice for r in records if r.advice and not r.advice["followed"]]
    assert overridden and overridden[0]["action"] == "terminate"
    with pytest.warns(RuntimeWarning):
        peo.Node("n", domain="d", trust="any", advisor=lambda o: 1 / 0).visit(order())


def test_events_resume_awaiting_objects():
    plan = {
        "StartAt": "Approve",
        "States": {"Approve": {"Type": "Pass", "ResultPath": "$.approval", "End": True}},
        "Await": {"Approve": {"Event": "approval"}},
    }
    node = peo.Node("n", domain="d", trust="any", clock=lambda: T0 + 5)
    first = node.visit(peo.Object.create(plan, now_ms=T0))
    assert first.disposition.kind == "dormant" and first.disposition.event == "approval"
    done = node.visit(first.bytes, peo.Event.success("approval", {"by": "ops"}))
    assert done.object.data["approval"] == {"by": "ops"}
    with pytest.raises(peo.InvalidArgumentError, match="name"):
        node.visit(first.bytes, {"payload": 1})
    with pytest.raises(TypeError):
        node.visit(first.bytes, "approval")


def test_a_manual_clock_is_read_without_a_call_and_advanced_by_hand():
    plan = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Work"},
            "Work": {"Type": "Task", "Resource": "work", "End": True},
        },
    }
    node = peo.Node("n", domain="d", trust="any", now_ms=T0)
    node.add_handler("work", lambda v: node.advance_clock(250) or {"done": True})
    first = node.visit(peo.Object.create(plan, now_ms=T0))
    assert (first.disposition.kind, first.disposition.at_ms) == ("dormant", T0 + 5_000)
    assert node.visit(first.bytes).disposition.kind == "dormant", "not yet: the clock has not moved"
    node.advance_clock(5_000)
    done = node.visit(first.bytes)
    work = next(r for r in done.records if r.action == "execute")
    # The record is stamped after the handler moved the clock.
    assert (done.object.data, work.time_ms) == ({"done": True}, T0 + 5_250)
    with pytest.raises(TypeError, match="not both"):
        peo.Node("n", domain="d", now_ms=T0, clock=lambda: T0)
    with pytest.raises(TypeError, match="now_ms must be an int"):
        peo.Node("n", domain="d", now_ms=1.5)
    with pytest.raises(peo.InvalidArgumentError, match="no manual clock"):
        peo.Node("n", domain="d").advance_clock(1)


def test_bad_input_raises_the_documented_exceptions():
    rng = random.Random(7)
    for _ in range(500):
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
        with pytest.raises(peo.PeoError) as e:
            peo.Object.from_bytes(junk)
        assert isinstance(e.value, ValueError) and e.value.code in ("PEO_DECODE", "PEO_INTEGRITY", "PEO_UNSUPPORTED")
    data = bytes(order())
    for cut in range(0, len(data), 7):
        with pytest.raises(peo.DecodeError):
            peo.Object.from_bytes(data[:cut])
    with pytest.raises(peo.DecodeError) as e:
        peo.Object.create("{not json")
    assert e.value.code == "PEO_DECODE" and str(e.value).startswith("decode error")
    with pytest.raises(peo.InvalidIntentError) as e:
        peo.Object.create({"StartAt": "X", "States": {"X": {"Type": "Task", "Resourse": "a", "End": True}}})
    assert e.value.state == "X" and "Resourse" in str(e.value)
    with pytest.raises(peo.InvalidArgumentError) as e:
        peo.Object.create(ORDER_PLAN, input={"when": object()})
    assert isinstance(e.value.__cause__, TypeError)
    with pytest.raises(TypeError):
        peo.Object.create(42)
    with pytest.raises(TypeError):
        peo.Object.from_bytes("not bytes")
    with pytest.raises(TypeError):
        peo.Object.create(ORDER_PLAN, now_ms="soon")
    with pytest.raises(peo.InvalidArgumentError):
        peo.SigningKey.from_bytes(b"short")
    with pytest.raises(peo.InvalidArgumentError):
        peo.Node("n", domain="d", trust="any", trusted_keys=[b"x" * 31])
    with pytest.raises(peo.InvalidArgumentError, match="schema"):
        peo.Node("n", domain="d", trust="any", policy="permit(principal, action, resource) when { context.nope == 1 };")
    with pytest.raises(TypeError):
        peo.Node("n", domain="d", trust="any", facts=[1, 2])
    with pytest.raises(peo.InvalidArgumentError):
        peo.Node("", domain="d")
    with pytest.raises(TypeError):
        peo.Node("n", domain="d", trust="any").add_handler("x", 3)
    with pytest.raises(peo.DecodeError):
        peo.Node("n", domain="d", trust="any").visit(b"PEO1 and then nothing")


def test_keyboard_interrupt_in_a_handler_reaches_the_caller_and_loses_nothing():
    node = peo.Node("n", domain="d", trust="any")

    @node.handler("inventory.reserve")
    def reserve(order):
        raise KeyboardInterrupt

    obj = order()
    before = bytes(obj)
    with pytest.raises(KeyboardInterrupt):
        node.visit(obj)
    assert bytes(obj) == before


def test_visit_async_records_what_visit_records():
    """visit_async calls handlers on the loop with the input as a Python value and takes
    the output back as one: every kind of outcome is recorded as visit records it."""
    plan = CALL_OR_CATCH

    def refines(v, ctx):
        ctx.refine({"Objective": f"{ctx.state} {ctx.attempt}"})
        return {"n": v["n"] + 1, "t": (1, 2.5)}

    async def later(v, *rest):
        await asyncio.sleep(0)
        return [v, {1: None}]

    def bad_refinement(v, ctx):
        ctx.refine({"Objective": float("inf")})
        return v

    cases = [
        refines,
        later,
        bad_refinement,
        lambda v: (_ for _ in ()).throw(peo.TaskFailed("Stock.Out", "sku A1")),
        lambda v: 1 / 0,
        lambda v: {"x": object()},
        None,
    ]
    for fn in cases:
        node = peo.Node("n", domain="d", trust="any", now_ms=T0)
        if fn is not None:
            node.add_handler("x.call", fn)
        obj = peo.Object.create(plan, input={"n": 1}, now_ms=T0)
        sync, awaited = node.visit(obj), asyncio.run(node.visit_async(obj))
        assert bytes(awaited.bytes) == bytes(sync.bytes), (fn, awaited.records[0].to_dict(), sync.records[0].to_dict())
    assert sync.disposition.kind == "delegate" and sync.disposition.capability == "x.call"


def test_async_handlers_with_visit_async():
    node = peo.Node("n", domain="d", trust="any")
    loop_seen = []

    @node.handler("inventory.reserve")
    async def reserve(order):
        loop_seen.append(asyncio.get_running_loop())
        await asyncio.sleep(0.001)
        return {"held": 1}

    async def main():
        visit = await node.visit_async(order())
        return visit, asyncio.get_running_loop()

    visit, loop = asyncio.run(main())
    assert visit.disposition.capability == "payment.charge" and loop_seen == [loop]

    # visit_async uses no thread: two visits interleave on one loop while their handlers wait.
    threads = set()
    order_of = []

    @node.handler("inventory.reserve")
    async def slow_reserve(o):
        threads.add(threading.get_ident())
        order_of.append(("start", o["order"]))
        await asyncio.sleep(0.01)
        order_of.append(("end", o["order"]))
        return {"held": 1}

    async def two():
        a, b = order(), peo.Object.create(ORDER_PLAN, {"labels": ["orders"]}, {"order": 8, "qty": 1}, now_ms=T0)
        return await asyncio.gather(node.visit_async(a), node.visit_async(b))

    visits = asyncio.run(two())
    assert [v.disposition.kind for v in visits] == ["delegate", "delegate"]
    assert threads == {threading.get_ident()}
    assert [step for step, _ in order_of] == ["start", "start", "end", "end"], order_of
    # The same bytes as a synchronous visit, and errors as exceptions of the same kinds.
    fixed = peo.Node("n", domain="d", trust="any", clock=lambda: T0 + 5)
    fixed.add_handler("inventory.reserve", slow_reserve)
    assert bytes(asyncio.run(fixed.visit_async(order())).bytes) == bytes(fixed.visit(order()).bytes)
    with pytest.raises(peo.DecodeError):
        asyncio.run(node.visit_async(b"not an object"))

    # A synchronous visit inside a running loop still awaits the handler (on a helper thread).
    async def sync_inside():
        return node.visit(order())

    assert asyncio.run(sync_inside()).disposition.kind == "delegate"


def test_the_engine_releases_the_gil():
    # A long visit (5,000 Pass states) on a worker thread. The main thread counts the
    # loops it runs while the worker is inside `visit`: it can run at all only if the
    # engine released the GIL (with a 1 s switch interval it would otherwise wait).
    n = 5000
    plan = {
        "StartAt": "S0",
        "States": {
            f"S{i}": {"Type": "Pass", **({"Next": f"S{i + 1}"} if i < n - 1 else {"End": True})} for i in range(n)
        },
    }
    data = bytes(peo.Object.create(plan, now_ms=T0))
    node = peo.Node("n", domain="d", trust="any")
    inside = threading.Event()
    done = threading.Event()

    def work():
        inside.set()
        node.visit(data)
        inside.clear()
        done.set()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        t = threading.Thread(target=work)
        t.start()
        spins = 0
        while not done.is_set():
            if inside.is_set():
                spins += 1
        t.join()
    finally:
        sys.setswitchinterval(old)
    assert spins > 1000, spins


def test_exceptions_are_builtin_exceptions_too():
    # The hierarchy itself is checked against the engine's list in test_vectors.py.
    assert issubclass(peo.DecodeError, ValueError) and issubclass(peo.PolicyError, PermissionError)
    assert issubclass(peo.TransportError, ConnectionError)
    assert peo.__version__


@pytest.mark.skipif(os.environ.get("PEO_SKIP_SLOW") == "1", reason="slow")
def test_many_visits_do_not_grow_memory():
    import tracemalloc

    node = peo.Node("n", domain="d", trust="any")
    node.add_handler("inventory.reserve", lambda o: {"held": 1})
    data = bytes(order())
    for _ in range(200):
        node.visit(data)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(2000):
        node.visit(data)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 200_000, grown
    time.sleep(0)


def test_a_node_accepts_only_what_its_trust_store_vouches_for():
    shop, wh = peo.SigningKey.generate(), peo.SigningKey.generate()
    # Without trust settings a node accepts nothing, not even a signed object.
    with pytest.raises(peo.SignatureError):
        peo.Node("n", domain="d").visit(order(shop))
    with pytest.raises(peo.SignatureError):
        peo.Node("n", domain="d").visit(order())
    with pytest.raises(peo.SignatureError):  # an empty key list trusts nothing
        peo.Node("n", domain="d", trusted_keys=[]).visit(order(shop))
    store = {
        "keys": [
            {"key": shop.public_key().hex(), "subjects": ["*"]},
            {"key": wh.public_key().hex(), "nodes": ["warehouse-1"], "domain": "eu"},
        ]
    }
    node = peo.Node("warehouse-1", domain="eu", key=wh, trust=store)
    node.add_handler("inventory.reserve", lambda order: {"held": order["qty"]})
    visit = node.visit(order(shop))
    assert visit.object.verify(trusted_keys=[shop.public_key(), wh.public_key()]).valid
    # The same key signing as another node is refused by a node holding the store.
    impostor = peo.Node("bank-1", domain="us", key=wh, trust=store)
    impostor.add_handler("inventory.reserve", lambda order: {"held": order["qty"]})
    forged = impostor.visit(order(shop)).object
    with pytest.raises(peo.SignatureError, match="claims node `bank-1`"):
        peo.Node("x", domain="eu", trust=store).visit(forged)
    with pytest.raises(peo.InvalidArgumentError, match="unknown trust field"):
        peo.Node("n", domain="d", trust={"keyz": []})
    with pytest.raises(TypeError):
        peo.Node("n", domain="d", trusted_keys=[], trust="any")


WAIT_LOOP = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Pass", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 1, "Next": "D"},
        "D": {"Type": "Pass", "End": True},
    },
}


def test_a_node_compacts_objects_whose_plan_does_not():
    now = [T0]
    node = peo.Node("n", domain="d", trust="any", clock=lambda: now[0], compaction=(4, 0))
    first = node.visit(peo.Object.create(WAIT_LOOP, now_ms=T0))
    assert first.disposition.kind == "dormant"
    now[0] = T0 + 1_000
    done = node.visit(first.bytes)
    assert done.object.status == "succeeded"
    assert [r.action for r in done.records] == ["reentry", "checkpoint", "mutate", "terminate"]
    report = done.object.verify()
    assert report.records_pruned == 5 and report.checkpoint is not None and report.checkpoint.node == "n"
    # The pruned records, kept as archive segments, audit the whole history.
    assert first.archive == () and len(done.archive) == 1
    audit = done.object.audit(done.archive)
    assert audit.records_pruned == 0 and audit.checkpoints_audited == 1
    with pytest.raises(peo.IntegrityError, match="archive"):
        done.object.audit([])
    with pytest.raises(peo.DecodeError):
        done.object.audit([b"not a segment"])
    with pytest.raises(peo.InvalidIntentError, match="Keep < After"):
        peo.Node("n", domain="d", compaction=(4, 4))


MAP = {
    "StartAt": "Sq",
    "States": {
        "Sq": {
            "Type": "Map",
            "ItemsPath": "$.n",
            "ResultPath": "$.sq",
            "End": True,
            "ItemProcessor": {"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "sq", "End": True}}},
        }
    },
}


def test_completions_in_a_batch_are_one_record_and_a_bad_batch_changes_nothing():
    node = peo.Node("n", domain="d", trust="any")
    node.add_handler("sq", lambda x: x * x)
    parent = node.visit(peo.Object.create(MAP, input={"n": [1, 2, 3]}, now_ms=T0))
    done = [node.visit(c).bytes for c in parent.children]
    stranger = node.visit(node.visit(peo.Object.create(MAP, input={"n": [9]}, now_ms=T0)).children[0]).bytes
    with pytest.raises(peo.IntegrityError, match="not a child"):
        node.complete(parent.bytes, [done[0], stranger])
    with pytest.raises(peo.InvalidArgumentError, match="no child objects"):
        node.complete(parent.bytes, [])
    two = node.complete(parent.object, [peo.Object.from_bytes(done[2]), done[0]])
    assert two.appended == 1 and [r.action for r in two.records] == ["reentry"]
    assert two.records[0].body["payload"]["results"]["count"] == 2
    assert [c["branch"] for c in two.object.to_dict()["results"]] == [2, 0]
    last = node.complete(two.bytes, (done[1], done[0]))
    assert last.object.status == "succeeded" and last.object.data["sq"] == [1, 4, 9]


def test_jsonata_plans_run_with_variables_and_bad_ones_name_state_and_field():
    with pytest.raises(peo.InvalidIntentError) as e:
        peo.Object.create(
            {
                "QueryLanguage": "JSONata",
                "StartAt": "S",
                "States": {"S": {"Type": "Pass", "Output": "{% 1 + %}", "End": True}},
            }
        )
    assert (e.value.state, e.value.field) == ("S", "Output") and "does not parse" in str(e.value)
    with pytest.raises(peo.InvalidIntentError) as e:
        peo.Object.create({"StartAt": "S", "States": {"S": {"Type": "Pass", "Assign": {"states": 1}, "End": True}}})
    assert (e.value.state, e.value.field) == ("S", "Assign.states")
    plan = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"n": "{% $states.input.n * 2 %}"}, "Next": "B"},
            "B": {"Type": "Pass", "Output": {"n": "{% $n %}", "missing": "{% $states.input.nope %}"}, "End": True},
        },
    }
    node = peo.Node("n", domain="d", trust="any")
    visit = node.visit(peo.Object.create(plan, input={"n": 21}, now_ms=T0))
    assert visit.object.variables == {"n": 42}
    assert visit.object.memory[1].assigned == {"n": 42}
    assert visit.object.status == "failed"
    error = visit.disposition.to_dict()["error"]
    assert error["error"] == "States.QueryEvaluationError" and "'Output/missing' returned nothing" in error["cause"]


def test_an_await_naming_signers_takes_only_events_they_signed_for_this_object():
    ops, eve = peo.SigningKey.generate(), peo.SigningKey.generate()
    plan = {
        "StartAt": "Approve",
        "States": {"Approve": {"Type": "Pass", "ResultPath": "$.approval", "End": True}},
        "Await": {"Approve": {"Event": "approved", "Signers": [ops.public_key().hex()]}},
    }
    node = peo.Node("approvals", domain="eu", trust="any")
    waiting = node.visit(peo.Object.create(plan, input={}))
    assert waiting.disposition.kind == "dormant"
    oid = waiting.object.id
    approval = peo.Event.success("approved", {"by": "ops"})
    other = peo.Object.create(plan, input={"n": 2}).id
    for forged in [approval, approval.signed(oid, eve), approval.signed(other, ops)]:
        assert node.visit(waiting.object, event=forged).appended == 0, forged
    signed = approval.signed(oid, ops)
    assert signed.signer == ops.public_key().hex() and len(signed.signature or "") == 128
    assert signed.to_dict()["payload"] == {"by": "ops"}
    done = node.visit(waiting.object, event=signed)
    assert done.object.status == "succeeded" and done.object.data["approval"] == {"by": "ops"}
    # As a dict (the JSON form every language shares), too.
    assert node.visit(waiting.object, event=signed.to_dict()).object.status == "succeeded"
    with pytest.raises(peo.InvalidArgumentError, match="object id"):
        approval.signed("not-an-id", ops)
    with pytest.raises(peo.InvalidArgumentError, match="both `signer` and `signature`"):
        node.visit(waiting.object, event={"name": "approved", "signer": signed.signer})
