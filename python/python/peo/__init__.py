"""peo: persistent executable objects.

Units of work that carry their own execution state (an Amazon States Language plan,
context, an append-only hash-chained memory and data) so that any node, in any language,
can pick one up, decide locally what to do next, do it, record it and pass it on.

>>> import peo
>>> plan = {"StartAt": "Double", "States": {"Double": {"Type": "Task", "Resource": "math.double", "End": True}}}
>>> obj = peo.Object.create(plan, input={"n": 21})
>>> node = peo.Node("n1", domain="example")
>>> @node.handler("math.double")
... def double(data):
...     return {"n": data["n"] * 2}
>>> visit = node.visit(obj)
>>> visit.disposition.kind, visit.disposition.output
('terminated', {'n': 42})
"""

from ._api import (
    HANDLER_INVALID_OUTPUT,
    CheckpointInfo,
    Disposition,
    Event,
    JetStream,
    Node,
    NodeRef,
    Object,
    Proposal,
    Record,
    Signer,
    SigningKey,
    TaskContext,
    VerifyReport,
    Visit,
)
from ._peo import WIRE_FORMAT_VERSION, __version__
from .errors import (
    DecodeError,
    IntegrityError,
    InternalError,
    InvalidArgumentError,
    InvalidIntentError,
    LimitError,
    PeoError,
    PolicyError,
    SignatureError,
    TaskFailed,
    TerminatedError,
    TransportError,
    UnsupportedError,
)

__all__ = [
    "__version__",
    "WIRE_FORMAT_VERSION",
    "Object",
    "Record",
    "NodeRef",
    "VerifyReport",
    "CheckpointInfo",
    "Signer",
    "SigningKey",
    "Node",
    "JetStream",
    "Visit",
    "Disposition",
    "Event",
    "Proposal",
    "TaskContext",
    "TaskFailed",
    "HANDLER_INVALID_OUTPUT",
    "PeoError",
    "DecodeError",
    "IntegrityError",
    "SignatureError",
    "UnsupportedError",
    "LimitError",
    "InvalidIntentError",
    "InvalidArgumentError",
    "PolicyError",
    "TerminatedError",
    "InternalError",
    "TransportError",
]
