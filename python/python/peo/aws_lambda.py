"""peo inside AWS Step Functions: a Lambda handler that visits objects, and a relay that
reports objects that left a workflow back to it (docs/step-functions.md).

>>> import peo, peo.aws_lambda
>>> node = peo.Node("lambda", domain="aws")
>>> handler = peo.aws_lambda.handler(node)          # the function Lambda calls
>>> reply = handler({"intent": {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}}, None)
>>> reply["status"], reply["output"]
('succeeded', {})

The payload a handler takes, and what it returns, are the same for every face (the
rules are ``peo_runtime::stepfunctions``); this module only makes the AWS calls, with
boto3 (``pip install boto3``; the Lambda Python runtime has it). Endpoints come from
boto3's own settings (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``, ...) or from the
clients you pass.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional

from . import _peo
from ._api import JetStream, Node, Object
from .errors import PeoError

__all__ = ["ObjectFailed", "handler", "relay"]

#: Errors of the AWS APIs that mean the task is no longer waiting: a completion after
#: the first (redeliveries make completion at-least-once), a task that timed out.
GONE = ("InvalidToken", "TaskDoesNotExist", "TaskTimedOut")


class ObjectFailed(Exception):
    """Raised by a handler for an object that ended without succeeding. Each error name
    gets its own subclass whose ``__name__`` is the name (``Order.Invalid``,
    ``States.Timeout``, ``peo.Policy``), so Lambda reports it as the ``errorType`` that
    the workflow's ``Retry`` and ``Catch`` match."""

    error: str = ""


_named: Dict[str, type] = {}


def _failure(error: str, cause: str) -> ObjectFailed:
    cls = _named.get(error)
    if cls is None:
        cls = type(error, (ObjectFailed,), {"error": error, "__module__": __name__})
        _named[error] = cls
    exc = cls(cause)
    assert isinstance(exc, ObjectFailed)
    return exc


def _client(given: Any, service: str) -> Any:
    if given is not None:
        return given
    import boto3  # the Lambda runtime has it; elsewhere: pip install boto3

    return boto3.client(service)


def handler(
    node: Node,
    *,
    mesh: Optional[JetStream] = None,
    bucket: Optional[str] = None,
    s3: Any = None,
) -> Callable[[Any, Any], Dict[str, Any]]:
    """A Lambda handler (``handler(event, context)``) that visits objects at ``node``.

    The payload holds ``object`` (the bytes in base64), ``pointer`` (where S3 keeps
    them) or ``intent`` (with ``input``, ``context``, ``id``) to create one; a
    ``.waitForTaskToken`` Task adds ``taskToken``, which the created object carries. The
    result of an ``arn:aws:states:::lambda:invoke`` Task passes on as a payload as it is.

    The handler returns ``{"id", "status", "state", "head", "records", "output"?,
    "disposition", "object" | "pointer"}``. An object that ended without succeeding
    raises ``ObjectFailed`` under the object's own error name; a peo error (a policy
    refusal, a tampered object) raises under ``peo.<Kind>``.

    ``mesh``: where an object with a task token goes after the visit (it is submitted,
    and the relay reports it when it finishes); required for ``taskToken`` payloads.
    ``bucket`` (default ``$PEO_S3_BUCKET``) and ``s3`` (a boto3 S3 client; default
    ``boto3.client("s3")``): where an object too large for Step Functions' 256 KiB
    goes, and where pointers are read from."""
    if not isinstance(node, Node):
        raise TypeError(f"node must be a peo.Node, not {type(node).__name__}")
    if mesh is not None and not isinstance(mesh, JetStream):
        raise TypeError(f"mesh must be a peo.JetStream, not {type(mesh).__name__}")
    state: Dict[str, Any] = {"s3": s3}

    def s3_client() -> Any:
        if state["s3"] is None:
            state["s3"] = _client(None, "s3")
        return state["s3"]

    def handle(event: Any, context: Any = None) -> Dict[str, Any]:
        payload = event if isinstance(event, str) else json.dumps(event)
        kind, data = _peo.sfn_request(payload)
        token = None
        try:
            if kind == "object":
                obj = Object.from_bytes(data)
            elif kind == "pointer":
                p = json.loads(data)
                body = s3_client().get_object(Bucket=p["bucket"], Key=p["key"])["Body"].read()
                obj = Object(_peo.sfn_pointed(data, body))
            else:
                intent, ctx, inp, oid, token = data
                obj = Object.create(intent, ctx, None if inp is None else json.loads(inp), id=oid)
            if token is not None and mesh is None:
                raise TypeError("a payload with a taskToken needs handler(node, mesh=peo.JetStream(...))")
            visit = node.visit(obj)
            if token is not None:
                assert mesh is not None
                mesh.submit(visit.bytes)
        except PeoError as e:
            raise _failure(_peo.sfn_error_name(e.code), str(e)) from e
        where = bucket or os.environ.get("PEO_S3_BUCKET") or None
        reply = json.loads(_peo.sfn_reply(visit.object._native, json.dumps(visit.disposition.to_dict()), where))
        if reply["upload"] is not None:
            s3_client().put_object(Bucket=reply["upload"]["bucket"], Key=reply["upload"]["key"], Body=visit.bytes)
        if reply["failure"] is not None:
            raise _failure(reply["failure"]["error"], reply["failure"]["cause"])
        body: Dict[str, Any] = reply["body"]
        return body

    return handle


def relay(
    mesh: JetStream,
    *,
    sfn: Any = None,
    s3: Any = None,
    bucket: Optional[str] = None,
    name: str = "peo-sfn-relay",
    heartbeat_every: float = 1.0,
    idle_timeout: Optional[float] = None,
    stop: Optional[threading.Event] = None,
    log: Optional[Callable[[str], None]] = None,
) -> Dict[str, int]:
    """Reports objects carrying a Step Functions task token back to the workflow: a
    ``SendTaskHeartbeat`` while new versions of it arrive (at most once per
    ``heartbeat_every`` seconds per token), and when it finishes ``SendTaskSuccess``
    with the handler's reply as output, or ``SendTaskFailure`` with its error and cause
    (a dead-lettered object fails with ``peo.DeadLetter``).

    Each finish is acknowledged only once reported, so a relay that dies reports it
    again when it (or another relay of the same ``name``) comes back: completion is at
    least once, and a completion the workflow no longer waits for (``InvalidToken``,
    ``TaskDoesNotExist``, ``TaskTimedOut``) counts as done. Runs until ``stop`` is set
    or ``idle_timeout`` seconds pass without an update; returns the counts
    (``heartbeats``, ``succeeded``, ``failed``, ``gone``, ``skipped``, ``errors``).

    ``sfn``: a boto3 Step Functions client (default ``boto3.client("stepfunctions")``);
    ``s3`` and ``bucket`` as for ``handler``, for outputs past 256 KiB."""
    if not isinstance(mesh, JetStream):
        raise TypeError(f"mesh must be a peo.JetStream, not {type(mesh).__name__}")
    client = _client(sfn, "stepfunctions")
    where = bucket or os.environ.get("PEO_S3_BUCKET") or None
    counts = {"heartbeats": 0, "succeeded": 0, "failed": 0, "gone": 0, "skipped": 0, "errors": 0}
    beaten: Dict[str, float] = {}
    native = mesh._native
    native.follow(name)
    say = log or (lambda line: None)
    last = time.monotonic()
    while stop is None or not stop.is_set():
        update = native.next_update(0.25)
        if update is None:
            if idle_timeout is not None and time.monotonic() - last > idle_timeout:
                break
            continue
        last = time.monotonic()
        kind, oid, data, code, message, ack = update
        text = _peo.sfn_relay_report(kind, data, code, message, where)
        if text is None:
            counts["skipped"] += kind != "progress"
            native.ack_update(ack)
            continue
        report: Mapping[str, Any] = json.loads(text)
        token = report["token"]
        try:
            if report["action"] == "heartbeat":
                if time.monotonic() - beaten.get(token, 0.0) >= heartbeat_every:
                    beaten[token] = time.monotonic()
                    client.send_task_heartbeat(taskToken=token)
                    counts["heartbeats"] += 1
            elif report["action"] == "success":
                if report.get("upload"):
                    up = report["upload"]
                    _client(s3, "s3").put_object(Bucket=up["bucket"], Key=up["key"], Body=data)
                client.send_task_success(taskToken=token, output=json.dumps(report["output"]))
                counts["succeeded"] += 1
                say(f"{oid}: SendTaskSuccess")
            else:
                client.send_task_failure(taskToken=token, error=report["error"][:256], cause=report["cause"][:32768])
                counts["failed"] += 1
                say(f"{oid}: SendTaskFailure {report['error']}")
        except Exception as e:  # botocore's ClientError, by its code
            err = getattr(e, "response", {}).get("Error", {}).get("Code")
            if err not in GONE:
                # Not acknowledged: the finish is delivered again (after the ack wait).
                counts["errors"] += 1
                say(f"{oid}: {report['action']} failed: {e}")
                continue
            counts["gone"] += report["action"] != "heartbeat"
            say(f"{oid}: the task is gone ({err})")
        if report["action"] != "heartbeat":
            beaten.pop(token, None)
        native.ack_update(ack)
    return counts
