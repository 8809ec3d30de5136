"""The JSON forms as Python values: records, verification reports, dispositions,
events and proposals. Their fields are the keys of the forms' JSON Schema
(schema/forms.schema.json, generated from core/src/forms/mod.rs); python/tests/test_forms.py
checks them against it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Optional, Tuple

from .errors import _from_code


@dataclass(frozen=True)
class NodeRef:
    """The node that appended a record."""

    id: str
    domain: str
    key: Optional[str]


@dataclass(frozen=True)
class Record:
    """One record of an object's memory (read-only)."""

    seq: int
    visit: int
    action: str
    state: str
    next_state: str
    status: str
    node: NodeRef
    time_ms: int
    policy: Optional[Dict[str, Any]]
    advice: Optional[Dict[str, Any]]
    intent_hash: Optional[str]
    context_hash: Optional[str]
    data_hash: Optional[str]
    variables_hash: Optional[str]
    assigned: Optional[Dict[str, Any]]
    signed: bool
    body: Dict[str, Any]

    @classmethod
    def _from_dict(cls, d: Dict[str, Any]) -> "Record":
        fields = dict(d)
        fields["node"] = NodeRef(**d["node"])
        return cls(**fields)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _records(text: str) -> Tuple[Record, ...]:
    return tuple(Record._from_dict(r) for r in json.loads(text))


@dataclass(frozen=True)
class Signer:
    key: str
    trusted: bool
    records: Tuple[int, ...]


@dataclass(frozen=True)
class CheckpointInfo:
    """The checkpoint a compacted memory starts from (docs/long-lived.md)."""

    seq: int
    #: records 0 .. pruned-1 were folded into it and removed from the memory
    pruned: int
    node: str
    domain: str
    key: Optional[str]
    trusted: bool
    #: e.g. "records 0-9743 attested by eu-1 (domain eu), signed by a trusted key"
    attests: str


@dataclass(frozen=True)
class VerifyReport:
    """What ``Object.verify`` checked."""

    valid: bool
    records_checked: int
    signatures_checked: int
    signers: Tuple[Signer, ...]
    unsigned_records: int
    untrusted_records: int
    head: str
    #: the originator subject the verification vouches for (or the claim, under trust "any")
    principal: Optional[str]
    #: the domains vouched for by trusted signatures; None when claims are believed
    domains: Optional[Tuple[str, ...]]
    #: changes of context and intent replayed and found legal
    changes_checked: int
    #: records a compaction removed from the memory (attested by ``checkpoint``)
    records_pruned: int
    #: the checkpoint that stands for the pruned records, if any
    checkpoint: Optional[CheckpointInfo]
    #: checkpoints recomputed from the records they fold
    checkpoints_audited: int
    broken: Optional[Dict[str, Any]]


def _report(text: str) -> "VerifyReport":
    """A verification report from its JSON, or the error it names raised."""
    report = json.loads(text)
    broken = report["broken"]
    if broken is not None:
        raise _from_code(broken["code"], broken["message"], broken["record"])
    report["signers"] = tuple(
        Signer(key=s["key"], trusted=s["trusted"], records=tuple(s["records"])) for s in report["signers"]
    )
    if report["domains"] is not None:
        report["domains"] = tuple(report["domains"])
    if report["checkpoint"] is not None:
        report["checkpoint"] = CheckpointInfo(**report["checkpoint"])
    return VerifyReport(**report)


@dataclass(frozen=True)
class Disposition:
    """Why a visit ended: ``delegate`` (send the object to a node with ``capability``),
    ``dormant`` (park it until ``at_ms`` or ``event``) or ``terminated`` (``status``,
    ``output``, ``error``)."""

    kind: str
    reason: Optional[str] = None
    capability: Optional[str] = None
    target: Optional[str] = None
    at_ms: Optional[int] = None
    event: Optional[str] = None
    timeout_at_ms: Optional[int] = None
    status: Optional[str] = None
    output: Any = None
    error: Optional[Dict[str, Any]] = None
    _raw: Optional[Dict[str, Any]] = field(default=None, compare=False, repr=False)

    @classmethod
    def _from_dict(cls, d: Dict[str, Any]) -> "Disposition":
        return cls(**d, _raw=d)

    def to_dict(self) -> Dict[str, Any]:
        """The disposition's JSON form, the same in every language."""
        if self._raw is not None:
            return json.loads(json.dumps(self._raw))  # type: ignore[no-any-return]
        return {k: v for k, v in asdict(self).items() if k != "_raw"}


@dataclass(frozen=True)
class Event:
    """An event for an object awaiting one: a result (``payload``), a failure
    (``error``, ``cause``) or a heartbeat; ``signer`` and ``signature`` when it is
    signed (``signed``), as an ``Await`` state naming ``Signers`` requires."""

    name: str
    payload: Any = None
    error: Optional[str] = None
    cause: Optional[str] = None
    heartbeat: bool = False
    signer: Optional[str] = None
    signature: Optional[str] = None

    @classmethod
    def success(cls, name: str, payload: Any = None) -> "Event":
        return cls(name, payload=payload)

    @classmethod
    def failure(cls, name: str, error: str, cause: Optional[str] = None) -> "Event":
        return cls(name, error=error, cause=cause)

    @classmethod
    def beat(cls, name: str) -> "Event":
        return cls(name, heartbeat=True)

    def signed(self, object_id: str, key: Any) -> "Event":
        """This event signed by ``key`` (a ``peo.SigningKey``) for object ``object_id``:
        an ``Await`` state whose ``Signers`` name the key accepts it, for that object
        only, and only unchanged."""
        d = json.loads(key.sign_event(object_id, json.dumps(self.to_dict())))
        return Event(
            d["name"],
            payload=d.get("payload"),
            error=d.get("error"),
            cause=d.get("cause"),
            heartbeat=bool(d.get("heartbeat", False)),
            signer=d["signer"],
            signature=d["signature"],
        )

    def to_dict(self) -> Dict[str, Any]:
        if self.heartbeat:
            d: Dict[str, Any] = {"name": self.name, "heartbeat": True}
        elif self.error is not None:
            d = {"name": self.name, "error": self.error, "cause": self.cause}
        else:
            d = {"name": self.name, "payload": self.payload}
        if self.signer is not None or self.signature is not None:
            d["signer"], d["signature"] = self.signer, self.signature
        return d


@dataclass(frozen=True)
class Proposal:
    """An advisor's proposal: ``execute``, ``delegate`` or ``terminate``. The node checks
    and authorises it like any action; advice never overrides policy."""

    action: str
    target: Optional[str] = None
    confidence: float = 1.0
    rationale: str = ""
