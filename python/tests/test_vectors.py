"""Every entry of the cross-language test vectors (tests/vectors/manifest.json), run
through the Python API, with results byte-identical to Rust: handler calls, error,
disposition, records, status, state, data, variables, head, the SHA-256 of the object's bytes and
of every child, and the final object. Fails if an entry was skipped."""

import hashlib
import json
import pathlib

import peo
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"

VISIT_KEYS = {"target", "complete", "node", "now_ms", "event", "handler_outcomes", "expect"}
NODE_KEYS = {"id", "domain", "signing_key", "policy", "capabilities", "trust"}
EXPECT_KEYS = {
    "calls",
    "error",
    "disposition",
    "appended",
    "records",
    "status",
    "state",
    "data",
    "variables",
    "head",
    "object_sha256",
    "children",
}


def build_node(spec, now_ms, outcomes, calls):
    unknown = set(spec) - NODE_KEYS
    assert not unknown, f"the node has {unknown}, which this runner does not handle"
    clock = {"now": now_ms}
    key = peo.SigningKey.from_bytes(bytes.fromhex(spec["signing_key"])) if spec["signing_key"] else None
    # The node's trust in its JSON form; None: the default, which accepts nothing.
    node = peo.Node(
        spec["id"],
        domain=spec["domain"],
        policy=spec.get("policy"),
        key=key,
        trust=spec["trust"],
        clock=lambda: clock["now"],
    )
    queue = list(outcomes)

    def handler(value, ctx):
        calls.append(
            {
                "capability": ctx.capability,
                "state": ctx.state,
                "input": value,
                "attempt": ctx.attempt,
                "idempotency_key": ctx.idempotency_key,
                "deadline_ms": ctx.deadline_ms,
            }
        )
        o = queue.pop(0) if queue else {"error": "Vector.NoOutcome"}
        if "took_ms" in o:
            clock["now"] += o["took_ms"]
        if "output" in o:
            return o["output"]
        raise peo.TaskFailed(o["error"], o.get("cause"))

    for cap in spec["capabilities"]:
        node.add_handler(cap, handler)
    return node


def run_visit(name, index, v, objects):
    unknown = set(v) - VISIT_KEYS
    assert not unknown, f"{name} visit {index}: {unknown} is not handled by this runner"
    expect = v["expect"]
    assert not set(expect) - EXPECT_KEYS, f"{name} visit {index}: unknown expectations {set(expect) - EXPECT_KEYS}"
    calls = []
    node = build_node(v["node"], v["now_ms"], v["handler_outcomes"], calls)
    target = v.get("target", "parent")
    data = objects[target]
    try:
        if "complete" in v:
            c = v["complete"]
            visit = node.complete(data, [objects[n] for n in c] if isinstance(c, list) else objects[c])
        else:
            visit = node.visit(data, v["event"])
    except peo.PeoError as e:
        error = {"kind": e.kind, "code": e.code, "record": e.record, "state": e.state, "field": e.field}
        got = {"calls": calls, "error": error, "disposition": None, "appended": 0}
        assert got == expect, f"{name} visit {index}: {got} != {expect}"
        return
    got = {
        "calls": calls,
        "error": None,
        "disposition": visit.disposition.to_dict(),
        "appended": visit.appended,
        "records": [r.to_dict() for r in visit.records],
        "status": visit.object.status,
        "state": visit.object.state,
        "data": visit.object.data,
        "variables": visit.object.variables,
        "head": visit.object.head,
        "object_sha256": hashlib.sha256(visit.bytes).hexdigest(),
        "children": [hashlib.sha256(c).hexdigest() for c in visit.children],
    }
    for k in EXPECT_KEYS:
        assert got[k] == expect[k], f"{name} visit {index}: `{k}` differs\n  expected {expect[k]}\n  got      {got[k]}"
    objects[target] = visit.bytes
    for c in visit.children:
        objects[f"child:{sum(1 for k in objects if k.startswith('child:'))}"] = c


def test_every_vector_replays_byte_identically():
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    assert manifest["format"] == 1
    listed = sum(len(v["visits"]) for v in manifest["vectors"])
    ran = proofs = 0
    for vector in manifest["vectors"]:
        objects = {"parent": (VECTORS / vector["object"]).read_bytes()}
        for key, file in vector["extra_objects"].items():  # objects the vector brings (a forged child)
            objects[key] = (VECTORS / file).read_bytes()
        for i, v in enumerate(vector["visits"]):
            run_visit(vector["name"], i, v, objects)
            ran += 1
        final = (VECTORS / vector["final_object"]).read_bytes()
        assert objects["parent"] == final, f"{vector['name']}: the final object differs"
        proofs += check_pruned_proofs(vector, final)
    assert ran == listed and ran >= 35, f"ran {ran} of {listed} visits: an entry was skipped"
    assert proofs > 0, "no pruned-record proof was checked"


def check_pruned_proofs(vector, final):
    """Each pruned-record proof is made again from the archive, byte for byte, holds
    against the final object, and fails naming `proof` once its record hash changes."""
    if not vector["pruned_proofs"]:
        return 0
    archive = [(VECTORS / f).read_bytes() for f in vector["archive"]]
    obj = peo.Object.from_bytes(final)
    for p in vector["pruned_proofs"]:
        made = obj.prove_pruned(archive, p["seq"])
        assert made == p["proof"], f"{vector['name']}: the proof of record {p['seq']} differs: {made}"
        obj.check_pruned(made)
        obj.check_pruned(json.dumps(made))
        h = made["record_hash"]
        tampered = {**made, "record_hash": h[:63] + ("1" if h.endswith("0") else "0")}
        with pytest.raises(peo.IntegrityError) as e:
            obj.check_pruned(tampered)
        assert e.value.field == "proof" and e.value.record == p["seq"]
    return len(vector["pruned_proofs"])


def test_one_exception_per_error_kind_of_the_engine():
    """The manifest lists every ErrorKind of the engine: each has its class, and there are no others."""
    listed = json.loads((VECTORS / "manifest.json").read_text())["errors"]
    classes = {
        getattr(peo, name).code: getattr(peo, name)
        for name in peo.errors.__all__
        if isinstance(getattr(peo, name), type)
        and getattr(peo, name) is not peo.PeoError
        and issubclass(getattr(peo, name), peo.PeoError)
    }
    assert sorted(classes) == sorted(e["code"] for e in listed)
    for e in listed:
        cls = classes[e["code"]]
        assert cls.kind == e["kind"] and issubclass(cls, peo.PeoError)
        raised = cls("m", record=3, state="S", field="F")
        assert (raised.code, raised.kind, raised.record, raised.state, raised.field) == (
            e["code"],
            e["kind"],
            3,
            "S",
            "F",
        )


def test_a_compacted_object_verifies_and_names_its_checkpoint():
    final = peo.Object.from_bytes((VECTORS / "objects" / "compaction-poll.final.peo").read_bytes())
    report = final.verify([peo.SigningKey.from_bytes(bytes([2] * 32)).public_key()])
    assert report.records_pruned > 0
    assert report.checkpoint is not None and report.checkpoint.node == "worker-1"
    assert report.checkpoint.pruned == report.records_pruned and report.checkpoint.trusted
    assert report.checkpoint.attests.startswith(f"records 0-{report.records_pruned - 1} attested by worker-1")
    assert final.memory[0].seq == report.records_pruned
    assert any(r.action == "checkpoint" for r in final.memory)


def test_a_proof_needs_a_pruned_record_its_archive_and_a_proof_shape():
    final = peo.Object.from_bytes((VECTORS / "objects" / "compaction-poll.final.peo").read_bytes())
    with pytest.raises(peo.InvalidArgumentError) as e:
        final.prove_pruned([], 10_000)
    assert e.value.field == "seq"
    with pytest.raises(peo.InvalidArgumentError) as e:
        final.prove_pruned([], -1)
    assert e.value.field == "seq"
    with pytest.raises(peo.IntegrityError):
        final.prove_pruned([], 0)  # the archive is missing
    with pytest.raises(peo.InvalidArgumentError) as e:
        final.check_pruned({"index": 0})
    assert e.value.field == "proof"
    with pytest.raises(peo.DecodeError):
        final.check_pruned("{not json")
