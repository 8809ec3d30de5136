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

import importlib
import json
import os
import threading
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple, Union

from . import _peo
from ._api import BytesLike, JetStream, Node, Object, _keys
from .errors import PeoError

__all__ = ["ObjectFailed", "handler", "relay"]


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
    boto3 = importlib.import_module("boto3")  # the Lambda runtime has it; elsewhere: pip install boto3
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
                fetched = s3_client().get_object(Bucket=p["bucket"], Key=p["key"])["Body"].read()
                obj = Object(_peo.sfn_pointed(data, fetched))
            else:
                intent, ctx, inp, oid, token = data
                # Signed by the node's key: whoever trusts the node trusts its genesis.
                obj = Object.create(intent, ctx, None if inp is None else json.loads(inp), id=oid, key=node._key)
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
        result: Dict[str, Any] = reply["body"]
        return result

    return handle


class _Boto:
    """The relay's AWS calls with boto3 clients: None when AWS accepted, else the error's
    code (botocore's ``ClientError``; None when AWS could not be reached) and message."""

    def __init__(self, sfn: Any, s3: Any) -> None:
        self.sfn = sfn
        self.s3 = s3

    @staticmethod
    def _call(fn: Callable[..., Any], **kw: Any) -> Optional[Tuple[Optional[str], str]]:
        try:
            fn(**kw)
            return None
        except Exception as e:  # botocore's ClientError carries the service's code
            code = getattr(e, "response", {}).get("Error", {}).get("Code")
            return (code, str(e))

    def heartbeat(self, token: str) -> Optional[Tuple[Optional[str], str]]:
        return self._call(self.sfn.send_task_heartbeat, taskToken=token)

    def success(self, token: str, output: str) -> Optional[Tuple[Optional[str], str]]:
        return self._call(self.sfn.send_task_success, taskToken=token, output=output)

    def failure(self, token: str, error: str, cause: str) -> Optional[Tuple[Optional[str], str]]:
        return self._call(self.sfn.send_task_failure, taskToken=token, error=error, cause=cause)

    def upload(self, bucket: str, key: str, data: bytes) -> Optional[Tuple[Optional[str], str]]:
        return self._call(_client(self.s3, "s3").put_object, Bucket=bucket, Key=key, Body=data)


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
    trusted_keys: Optional[Iterable[BytesLike]] = None,
    trust: Union[str, Mapping[str, Any], None] = None,
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
    (``heartbeats``, ``succeeded``, ``failed``, ``gone``, ``skipped``, ``errors``,
    ``untrusted``).
    The loop is ``peo_jetstream::relay``, the same as ``peo relay``'s.

    ``sfn``: a boto3 Step Functions client (default ``boto3.client("stepfunctions")``);
    ``s3`` and ``bucket`` as for ``handler``, for outputs past 256 KiB.

    ``trusted_keys`` or ``trust`` (as a ``Node`` takes them): whose finishes complete a
    task. A finish that does not verify under them (forged, or ended by a node they do
    not trust) is never reported and counts as ``untrusted``. Without either, a finish
    signed by any key is reported: give one wherever anyone but your own nodes may
    publish to ``peo.done.*``."""
    if not isinstance(mesh, JetStream):
        raise TypeError(f"mesh must be a peo.JetStream, not {type(mesh).__name__}")
    reporter = _Boto(_client(sfn, "stepfunctions"), s3)
    where = bucket or os.environ.get("PEO_S3_BUCKET") or None
    counts: Dict[str, int] = json.loads(
        mesh._native.relay(
            reporter,
            name,
            float(heartbeat_every),
            idle_timeout,
            where,
            stop,
            log,
            None if trusted_keys is None else _keys(trusted_keys),
            None if trust is None else json.dumps(trust),
        )
    )
    return counts
