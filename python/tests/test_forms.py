"""The JSON forms against their JSON Schema (schema/forms.schema.json, generated from
core/src/forms/mod.rs): the Python dataclasses have exactly the schema's fields, and every
record, disposition and handler call of the shared vectors (which every language
reproduces byte for byte) is valid against it."""

import dataclasses
import json
import pathlib

import jsonschema
import peo
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schema" / "forms.schema.json").read_text())
DEFS = SCHEMA["$defs"]


def properties(name):
    """The keys a form may have (a tagged union: the keys of any of its variants)."""
    form = DEFS[name]
    variants = form.get("oneOf") or form.get("anyOf") or [form]
    return {k for v in variants for k in v.get("properties", {})}


def fields(cls):
    return {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}


@pytest.mark.parametrize(
    "cls, form",
    [
        (peo.Record, "Record"),
        (peo.NodeRef, "Node"),
        (peo.Disposition, "Disposition"),
        (peo.VerifyReport, "VerifyReport"),
        (peo.Signer, "Signer"),
        (peo.CheckpointInfo, "Checkpoint"),
        (peo.Event, "Event"),
        (peo.Proposal, "Proposal"),
    ],
)
def test_the_dataclasses_have_the_schemas_fields(cls, form):
    assert fields(cls) == properties(form), f"peo.{cls.__name__} differs from the schema's {form}"


def test_a_handlers_context_is_the_task_call_without_its_input():
    assert fields(peo.TaskContext) - {"refinement"} == properties("TaskCall") - {"input"}


def validator(name):
    schema = dict(SCHEMA)
    schema.pop("anyOf")
    schema["$ref"] = f"#/$defs/{name}"
    return jsonschema.Draft202012Validator(schema)


def test_the_vectors_are_valid_against_the_schema():
    manifest = json.loads((ROOT / "tests" / "vectors" / "manifest.json").read_text())
    checks = {"records": validator("Record"), "disposition": validator("Disposition"), "calls": validator("TaskCall")}
    counted = {key: 0 for key in checks}
    for vector in manifest["vectors"]:
        for visit in vector["visits"]:
            expect = visit["expect"]
            for key, check in checks.items():
                values = expect.get(key)
                for value in values if isinstance(values, list) else [values] if values else []:
                    check.validate(value)
                    counted[key] += 1
    assert all(counted.values()), counted
    # The pruned-record proofs, and what Python's prove_pruned makes.
    proofs = [p["proof"] for vector in manifest["vectors"] for p in vector.get("pruned_proofs", [])]
    for proof in proofs:
        validator("PrunedProof").validate(proof)
    assert proofs
    with pytest.raises(jsonschema.ValidationError):
        validator("PrunedProof").validate({k: v for k, v in proofs[0].items() if k != "record_hash"})
    # And the schema is not vacuous: a record with a wrong action or without a field fails.
    record = next(v["expect"]["records"][0] for v in manifest["vectors"][0]["visits"])
    for broken in [dict(record, action="fly"), {k: v for k, v in record.items() if k != "seq"}]:
        with pytest.raises(jsonschema.ValidationError):
            checks["records"].validate(broken)


def test_what_python_writes_is_valid_against_the_schema():
    plan = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    node = peo.Node("n", domain="d", trust="any")
    visit = node.visit(peo.Object.create(plan, input={"x": 1}))
    validator("Disposition").validate(visit.disposition.to_dict())
    for record in visit.records:
        validator("Record").validate(dataclasses.asdict(record))
    validator("Event").validate(peo.Event.failure("e", "E", "why").to_dict())
    validator("Proposal").validate(dataclasses.asdict(peo.Proposal("delegate", target="x")))
