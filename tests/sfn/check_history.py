"""Checks `peo history --format sfn` documents against the Step Functions API model.

Usage: python tests/sfn/check_history.py HISTORY.json [...]

Each document must be `{"events": [...], "peo": [...]}`; without `peo` it must be a
valid `GetExecutionHistory` output by botocore's Step Functions service model (members,
required members, types), with every event `type` in the model's `HistoryEventType`
enum and every event's details member the one its type names. Exits non-zero and
prints every problem otherwise.
"""

import json
import sys

import botocore.session
from botocore.validate import ParamValidator


def details_key(event_type: str) -> str:
    """`TaskStateEntered` -> `stateEnteredEventDetails`, `TaskScheduled` ->
    `taskScheduledEventDetails` (the model's naming)."""
    for kind in ("Entered", "Exited"):
        if event_type.endswith("State" + kind):
            return f"state{kind}EventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


def problems(doc, shape, types):
    out = []
    extra = set(doc) - {"events", "peo"}
    if extra:
        out.append(f"unexpected top-level members {sorted(extra)}")
    report = ParamValidator().validate({"events": doc.get("events")}, shape)
    if report.has_errors():
        out.append(report.generate_report())
    for e in doc.get("events") or []:
        t = e.get("type")
        if t not in types:
            out.append(f"event {e.get('id')}: type {t!r} is not a HistoryEventType")
        detail = [k for k in e if k.endswith("EventDetails")]
        if detail and detail != [details_key(t)]:
            out.append(f"event {e.get('id')} ({t}) carries {detail}")
    ids = [e.get("id") for e in doc.get("events") or []]
    if ids != list(range(1, len(ids) + 1)):
        out.append("event ids are not 1, 2, 3, ...")
    for p in doc.get("peo") or []:
        if not isinstance(p.get("afterEventId"), int) or not 0 <= p["afterEventId"] <= len(ids):
            out.append(f"peo entry {p} does not name an event it follows")
    return out


def main(paths):
    model = botocore.session.get_session().get_service_model("stepfunctions")
    shape = model.operation_model("GetExecutionHistory").output_shape
    types = set(shape.members["events"].member.members["type"].enum)
    failed = False
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        found = problems(doc, shape, types)
        kinds = sorted({e["type"] for e in doc["events"]})
        if found:
            failed = True
            print(f"{path}: NOT valid against the Step Functions model")
            for p in found:
                print("  " + p)
        else:
            print(f"{path}: {len(doc['events'])} events valid against the Step Functions model ({', '.join(kinds)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
