"""The pythonic API over the native engine (``peo._peo``)."""

from __future__ import annotations

import json
import os
import threading
import warnings
from dataclasses import asdict
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
    cast,
)

from . import _peo
from ._calls import (
    F,
    Handler,
    TaskContext,
    _answer,
    _direct,
    _wants_context,
    _wrap_handler,
)
from ._forms import (
    CheckpointInfo,
    Disposition,
    Event,
    NodeRef,
    Proposal,
    Record,
    Signer,
    VerifyReport,
    _records,
    _report,
)
from .errors import InvalidArgumentError, UnsupportedError

__all__ = [
    "SigningKey",
    "Object",
    "Record",
    "NodeRef",
    "VerifyReport",
    "CheckpointInfo",
    "Signer",
    "Node",
    "Visit",
    "Disposition",
    "Event",
    "Proposal",
    "TaskContext",
    "HANDLER_INVALID_OUTPUT",
]

SigningKey = _peo.SigningKey

#: The error name of an attempt whose handler returned something that is not JSON.
HANDLER_INVALID_OUTPUT: str = _peo.HANDLER_INVALID_OUTPUT

JSONLike = Union[Mapping[str, Any], str]
BytesLike = Union[bytes, bytearray, memoryview]


def _dumps(value: Any, what: str) -> str:
    """JSON text of a value; a value that is not JSON is an InvalidArgumentError."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"{what} is not JSON-serialisable: {e}") from e


def _json_arg(value: Any, what: str, *, allow_str: bool = True) -> str:
    """A dict (or JSON text) argument as JSON text."""
    if allow_str and isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dict{' or a JSON string' if allow_str else ''}, not {type(value).__name__}")
    return _dumps(value, what)


def _bytes_arg(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {type(value).__name__}")


def _keys(keys: Optional[Iterable[BytesLike]]) -> List[bytes]:
    if keys is None:
        return []
    if isinstance(keys, (bytes, bytearray, memoryview)):
        raise TypeError("trusted_keys must be an iterable of 32-byte public keys, not a single bytes value")
    return [_bytes_arg(k, "a trusted key") for k in keys]


class Object:
    """A persistent executable object: intent, context, memory and data, as bytes that
    any node can verify and evaluate."""

    __slots__ = ("_native",)

    def __init__(self, native: _peo.Object) -> None:
        if not isinstance(native, _peo.Object):
            raise TypeError("use Object.create(...) or Object.from_bytes(...)")
        self._native = native

    @classmethod
    def create(
        cls,
        intent: JSONLike,
        context: Optional[JSONLike] = None,
        input: Any = None,
        *,
        id: Optional[str] = None,
        now_ms: Optional[int] = None,
        key: Optional[SigningKey] = None,
    ) -> "Object":
        """Creates an object from its intent (an ASL plan with peo's extensions), its
        context (``{"labels", "attributes", "policies", ...}``) and its input (any JSON
        value; ``{}`` when None). ``now_ms`` defaults to the system clock; ``key`` signs
        the genesis record."""
        intent_json = _json_arg(intent, "intent")
        context_json = None if context is None else _json_arg(context, "context")
        input_json = "{}" if input is None else _dumps(input, "input")
        if key is not None and not isinstance(key, SigningKey):
            raise TypeError(f"key must be a peo.SigningKey, not {type(key).__name__}")
        if now_ms is not None and (not isinstance(now_ms, int) or isinstance(now_ms, bool)):
            raise TypeError(f"now_ms must be an int, not {type(now_ms).__name__}")
        if id is not None and not isinstance(id, str):
            raise TypeError(f"id must be a hex string, not {type(id).__name__}")
        return cls(_peo.Object.create(intent_json, context_json, input_json, id, now_ms, key))

    @classmethod
    def from_bytes(cls, data: BytesLike) -> "Object":
        """Decodes an object (untrusted input: any bytes give an object or a
        ``DecodeError``/``IntegrityError``). Decoding does not check signatures: see
        ``verify``."""
        return cls(_peo.Object.from_bytes(_bytes_arg(data, "data")))

    def to_bytes(self) -> bytes:
        return self._native.to_bytes()

    def __bytes__(self) -> bytes:
        return self._native.to_bytes()

    def verify(self, trusted_keys: Optional[Iterable[BytesLike]] = None) -> VerifyReport:
        """Verifies the hash chain, the committed hashes and the signatures. With
        ``trusted_keys`` (32-byte public keys) every visit must be signed by one of
        them; without, any valid signature is accepted. Returns the report, or raises
        ``IntegrityError`` / ``SignatureError`` naming the first broken record."""
        return _report(self._native.verify_json(_keys(trusted_keys)))

    def audit(self, archive: Iterable[BytesLike], trusted_keys: Optional[Iterable[BytesLike]] = None) -> VerifyReport:
        """Verifies the whole history: this object with the records its compactions
        pruned put back from ``archive`` (segments as ``Visit.archive`` gives them, in
        any order), every checkpoint recomputed from the records it folded. Raises as
        ``verify`` does, naming the record; a missing segment is an ``IntegrityError``."""
        segments = [_bytes_arg(s, "an archive segment") for s in archive]
        return _report(self._native.audit_json(segments, _keys(trusted_keys)))

    def prove_pruned(self, archive: Iterable[BytesLike], seq: int) -> Dict[str, Any]:
        """The proof that pruned record ``seq`` is part of this object's history, made
        from ``archive`` (segments as ``Visit.archive`` gives them): ``{"index",
        "record_hash", "path"}``, the record's hash and its RFC 6962 audit path to the
        Merkle frontier the newest checkpoint carries. Whoever holds the object alone
        checks it with ``check_pruned``."""
        segments = [_bytes_arg(s, "an archive segment") for s in archive]
        return cast(Dict[str, Any], json.loads(self._native.prove_pruned_json(segments, seq)))

    def check_pruned(self, proof: Union[Mapping[str, Any], str]) -> None:
        """Checks, offline, that ``proof`` (``prove_pruned``'s dict or its JSON text)
        shows its record as a pruned record of this object. Raises ``IntegrityError``
        naming the field ``proof`` when it does not; whether the checkpoint's signer is
        trusted is what ``verify`` says."""
        self._native.check_pruned(proof if isinstance(proof, str) else json.dumps(proof))

    @property
    def id(self) -> str:
        """The object's id (32 hex digits)."""
        return self._native.id

    @property
    def status(self) -> str:
        """``running``, ``dormant``, ``succeeded``, ``failed``, ``expired`` or ``rejected``."""
        return self._native.status

    @property
    def state(self) -> str:
        """The current state's name (empty once terminated)."""
        return self._native.state

    @property
    def head(self) -> str:
        """The hash of the last record (64 hex digits)."""
        return self._native.head

    @property
    def data(self) -> Any:
        """The object's current data (a fresh copy each time)."""
        return json.loads(self._native.data_json)

    @property
    def variables(self) -> Dict[str, Any]:
        """The workflow variables in force (``Assign``), name to value (a fresh copy)."""
        return cast(Dict[str, Any], json.loads(self._native.variables_json))

    @property
    def memory(self) -> Tuple[Record, ...]:
        """The records of the memory, oldest first (after a compaction, from the first
        record kept: its ``seq`` is ``verify().records_pruned``)."""
        return _records(self._native.records_json())

    def __len__(self) -> int:
        return self._native.record_count

    def to_dict(self) -> Dict[str, Any]:
        """The whole object: id, lineage, status, state, head, intent, context, memory, data,
        results (a fan-out's completions while it waits on them)."""
        return cast(Dict[str, Any], json.loads(self._native.to_json()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Object) and self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Object(id={self.id!r}, status={self.status!r}, state={self.state!r}, records={len(self)})"


class Visit:
    """The result of a visit: the object after it, why it ended, the records appended
    and the child objects fan-out created. Each part is read from the engine when first
    used."""

    __slots__ = ("_native", "_object", "_disposition")

    def __init__(self, native: _peo.Visit) -> None:
        self._native = native
        self._object: Optional[Object] = None
        self._disposition: Optional[Disposition] = None

    @property
    def object(self) -> Object:
        """The object after the visit."""
        if self._object is None:
            self._object = Object(self._native.object)
        return self._object

    @property
    def disposition(self) -> Disposition:
        """Why the visit ended."""
        if self._disposition is None:
            self._disposition = Disposition._from_dict(json.loads(self._native.disposition_json))
        return self._disposition

    @property
    def appended(self) -> int:
        """How many records the visit appended."""
        return self._native.appended

    @property
    def bytes(self) -> bytes:
        """The object's bytes after the visit: what to pass on, park or store."""
        return self._native.bytes

    @property
    def records(self) -> Tuple[Record, ...]:
        """The records this visit appended."""
        return _records(self._native.records_json())

    @property
    def children(self) -> Tuple[bytes, ...]:
        """Child objects created by ``Parallel`` / ``Map``: send them on, and present each
        one's final object to the parent with ``Node.complete``."""
        return tuple(self._native.children)

    @property
    def archive(self) -> Tuple[bytes, ...]:
        """The records this visit's compactions pruned, as archive segments: keep them
        (keyed as you like) to ``Object.audit`` the whole history later."""
        return tuple(self._native.archive)

    def __repr__(self) -> str:
        return f"Visit(disposition={self.disposition.kind!r}, appended={self.appended}, object={self.object!r})"


Advisor = Callable[[Object], Union[Proposal, Mapping[str, Any], None]]


def _wrap_advisor(fn: Advisor) -> Callable[[_peo.Object], Optional[str]]:
    def advise(native: _peo.Object) -> Optional[str]:
        try:
            proposal = fn(Object(native))
        except Exception as e:
            warnings.warn(
                f"the advisor raised {type(e).__name__}: {e}; no advice this cycle", RuntimeWarning, stacklevel=2
            )
            return None
        if proposal is None:
            return None
        if isinstance(proposal, Proposal):
            return json.dumps(asdict(proposal))
        if isinstance(proposal, Mapping):
            return json.dumps(dict(proposal))
        warnings.warn(
            f"the advisor returned {type(proposal).__name__}, not a Proposal or dict", RuntimeWarning, stacklevel=2
        )
        return None

    return advise


def _event_json(event: Union[Event, Mapping[str, Any], None]) -> Optional[str]:
    if event is None:
        return None
    if isinstance(event, Event):
        return _dumps(event.to_dict(), "the event")
    if isinstance(event, Mapping):
        return _dumps(dict(event), "the event")
    raise TypeError(f"event must be a peo.Event or a dict, not {type(event).__name__}")


Children = Union[Object, BytesLike, Sequence[Union[Object, BytesLike]]]
"""A child's final object, or a batch of them (a list or tuple), for ``Node.complete``."""


def _child_bytes(child: Any, what: str) -> bytes:
    return child.to_bytes() if isinstance(child, Object) else _bytes_arg(child, what)


def _children_arg(children: Any) -> Optional[List[bytes]]:
    """The children of a batch as bytes, or None when ``children`` is one child."""
    if not isinstance(children, (list, tuple)):
        return None
    return [_child_bytes(c, f"child {i}") for i, c in enumerate(children)]


class Node:
    """A place that evaluates objects: an id, a domain, optional Cedar policies, facts,
    a signing key, whom it trusts, one handler per capability and an optional advisor.

    A node accepts only work signed by keys it trusts: ``trusted_keys`` (keys trusted
    to sign as anyone) or ``trust``, a trust store binding each key to what it may sign
    as (``{"keys": [{"key": hex, "nodes": [...], "domain": "eu", "subjects": [...]}]}``),
    or ``"any"`` to accept anything (tests and demos). Without either it accepts nothing.

    Time is the system clock's, unless ``now_ms`` fixes it (a manual clock that
    ``advance_clock`` moves, read without calling into Python) or ``clock`` is a
    callable returning ms since the Unix epoch, called at every reading.

    >>> node = Node("warehouse-1", domain="eu", trust="any")
    >>> @node.handler("inventory.reserve")
    ... def reserve(order):
    ...     return {"held": order["qty"]}
    """

    def __init__(
        self,
        id: str,
        domain: str,
        *,
        policy: Optional[str] = None,
        facts: Optional[Mapping[str, Any]] = None,
        key: Optional[SigningKey] = None,
        trusted_keys: Optional[Iterable[BytesLike]] = None,
        trust: Union[str, Mapping[str, Any], None] = None,
        advisor: Optional[Advisor] = None,
        clock: Optional[Callable[[], int]] = None,
        now_ms: Optional[int] = None,
        max_cycles: Optional[int] = None,
        compaction: Optional[Tuple[int, int]] = None,
    ) -> None:
        if not isinstance(id, str) or not isinstance(domain, str):
            raise TypeError("a node's id and domain must be strings")
        self._native = _peo.Node(id, domain)
        # capability -> (handler, whether it takes a context), for visit_async.
        self._handlers: Dict[str, Tuple[Handler, bool]] = {}
        # The key also signs what this node creates (peo.aws_lambda's new objects).
        self._key = key
        if policy is not None:
            if not isinstance(policy, str):
                raise TypeError(f"policy must be Cedar text (str), not {type(policy).__name__}")
            self._native.set_policy(policy)
        if facts is not None:
            self._native.set_facts_json(_json_arg(facts, "facts", allow_str=False))
        if key is not None:
            if not isinstance(key, SigningKey):
                raise TypeError(f"key must be a peo.SigningKey, not {type(key).__name__}")
            self._native.set_key(key)
        if trusted_keys is not None:
            self._native.set_trusted_keys(_keys(trusted_keys))
        if trust is not None:
            if trusted_keys is not None:
                raise TypeError("give trusted_keys or trust, not both")
            self._native.set_trust_json(json.dumps(trust))
        if advisor is not None:
            self.advisor = advisor
        if clock is not None:
            if now_ms is not None:
                raise TypeError("give now_ms or clock, not both")
            if not callable(clock):
                raise TypeError("clock must be a callable returning ms since the Unix epoch")
            self._native.set_clock(clock)
        if now_ms is not None:
            if not isinstance(now_ms, int) or isinstance(now_ms, bool):
                raise TypeError(f"now_ms must be an int (ms since the Unix epoch), not {type(now_ms).__name__}")
            self._native.set_now_ms(now_ms)
        if max_cycles is not None:
            self._native.set_max_cycles(max_cycles)
        if compaction is not None:
            after, keep = compaction
            self._native.set_compaction(after, keep)

    @property
    def id(self) -> str:
        return self._native.id

    @property
    def domain(self) -> str:
        return self._native.domain

    @property
    def capabilities(self) -> Tuple[str, ...]:
        return tuple(sorted(self._handlers))

    def advance_clock(self, ms: int) -> None:
        """Moves the manual clock (``now_ms``) on by ``ms``; also during a visit, from a
        handler. ``InvalidArgumentError`` when the node has no manual clock."""
        self._native.advance_clock(ms)

    def handler(self, capability: str) -> Callable[[F], F]:
        """Registers the decorated function as the handler of ``capability`` (a Task
        state's ``Resource``). It takes the state's input (and, if it accepts a second
        argument, a ``TaskContext``), returns a JSON-able value or raises
        ``peo.TaskFailed(error, cause)``; ``async def`` handlers are awaited."""

        def register(fn: F) -> F:
            self.add_handler(capability, fn)
            return fn

        return register

    def add_handler(self, capability: str, fn: Handler) -> None:
        if not callable(fn):
            raise TypeError(f"the handler of {capability!r} must be callable")
        with_context = _wants_context(fn)
        self._native.add_handler(capability, _wrap_handler(fn, with_context), _direct(fn, with_context))
        self._handlers[capability] = (fn, with_context)

    @property
    def advisor(self) -> Optional[Advisor]:
        return getattr(self, "_advisor", None)

    @advisor.setter
    def advisor(self, fn: Optional[Advisor]) -> None:
        if fn is not None and not callable(fn):
            raise TypeError("the advisor must be callable (object) -> Proposal | dict | None")
        self._advisor = fn
        self._native.set_advisor(None if fn is None else _wrap_advisor(fn))

    def visit(self, obj: Union[Object, BytesLike], event: Union[Event, Mapping[str, Any], None] = None) -> Visit:
        """Verifies the object under this node's trust and runs cycles (calling handlers)
        until it must leave. The engine runs with the GIL released. On an error nothing
        changed: the object you passed is still the object."""
        data = obj.to_bytes() if isinstance(obj, Object) else _bytes_arg(obj, "obj")
        return Visit(self._native.visit(data, _event_json(event)))

    async def visit_async(
        self, obj: Union[Object, BytesLike], event: Union[Event, Mapping[str, Any], None] = None
    ) -> Visit:
        """``visit`` driven from this event loop, one handler call at a time: the engine
        works in short synchronous steps (releasing the GIL), ``async def`` handlers are
        awaited here, and while they wait the loop runs other work. No thread is used.
        Advisors and clocks are called synchronously, as in ``visit``."""
        data = obj.to_bytes() if isinstance(obj, Object) else _bytes_arg(obj, "obj")
        return await self._drive(self._native.begin(data, _event_json(event)))

    async def complete_async(self, parent: Union[Object, BytesLike], child: Children) -> Visit:
        """``complete`` driven from this event loop, as ``visit_async``."""
        p = parent.to_bytes() if isinstance(parent, Object) else _bytes_arg(parent, "parent")
        batch = _children_arg(child)
        if batch is None:
            return await self._drive(self._native.begin_completion(p, _child_bytes(child, "child")))
        return await self._drive(self._native.begin_completions(p, batch))

    async def _drive(self, session: Any) -> Visit:
        step = session.advance()
        while isinstance(step, tuple):
            pending = _answer(session, self._handlers.get(step[0]), step)
            if pending is not None:
                await pending
            step = session.advance()
        return Visit(step)

    def complete(self, parent: Union[Object, BytesLike], child: Children) -> Visit:
        """Presents a child's final object to its waiting parent (fan-out joins), or a
        list of them: a batch is checked child by child (one bad child rejects it, the
        parent unchanged) and recorded by one record, so presenting completions as they
        arrive in groups costs a decode, a record and an encode of the parent per group,
        not per child."""
        p = parent.to_bytes() if isinstance(parent, Object) else _bytes_arg(parent, "parent")
        batch = _children_arg(child)
        if batch is None:
            return Visit(self._native.complete(p, _child_bytes(child, "child")))
        return Visit(self._native.complete_all(p, batch))

    def serve(
        self,
        url: str,
        *,
        ack_wait: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        max_deliveries: Optional[int] = None,
        give_up_after: Optional[float] = None,
        stop: Optional[threading.Event] = None,
        security: Optional[Mapping[str, Any]] = None,
        max_deliver: Optional[int] = None,
        window: int = 1,
        replicas: Optional[int] = None,
    ) -> Dict[str, int]:
        """Runs this node as a service on a NATS JetStream mesh (``nats-server -js``):
        takes the objects for its capabilities (and new objects, dormant ones that are
        due, events and fan-out completions), visits them with its handlers and sends
        them on. Runs until ``stop`` is set, ``idle_timeout`` seconds pass without work,
        ``max_deliveries`` were handled, or Ctrl-C. Returns the connection's counters.

        Raises ``TransportError`` when the server cannot be reached at the start. A
        server lost while serving is retried (nothing is lost) until it has been gone
        ``give_up_after`` seconds (default: retry forever), then ``TransportError``.
        ``security``, ``max_deliver`` and ``replicas``: see ``JetStream``.

        ``window``: deliveries in flight at once (1 to 1024). Above 1, each is visited
        on a worker thread of its own, so handlers are called from several threads at
        once (the GIL is held only while Python code runs: handlers that wait on I/O
        overlap); this thread watches for Ctrl-C and ``stop``, which end the loop after
        the deliveries in hand."""
        js = JetStream(
            url,
            ack_wait=ack_wait,
            name=f"peo python {self.id}",
            security=security,
            max_deliver=max_deliver,
            replicas=replicas,
        )
        return js.serve(
            self,
            idle_timeout=idle_timeout,
            max_deliveries=max_deliveries,
            give_up_after=give_up_after,
            stop=stop,
            window=window,
        )

    def __repr__(self) -> str:
        return f"Node(id={self.id!r}, domain={self.domain!r}, capabilities={list(self.capabilities)!r})"


class JetStream:
    """A connection to a NATS JetStream mesh: put objects in, send them events, wait for
    them to finish, or serve a node (``Node.serve`` is the short form).

    >>> mesh = peo.JetStream("nats://127.0.0.1:4222")          # doctest: +SKIP
    >>> oid = mesh.submit(peo.Object.create(plan, input={}))    # doctest: +SKIP
    >>> mesh.wait([oid], timeout=30)[oid].status                # doctest: +SKIP
    'succeeded'
    """

    def __init__(
        self,
        url: str,
        *,
        ack_wait: Optional[float] = None,
        name: Optional[str] = None,
        security: Optional[Mapping[str, Any]] = None,
        max_deliver: Optional[int] = None,
        replicas: Optional[int] = None,
    ) -> None:
        """``security``: TLS and credentials, ``{"ca", "cert", "key", "tls", "creds",
        "nkey", "user", "password", "token"}`` (file paths for ca, cert, key, creds and
        nkey; docs/security.md). Without it, the ``nats`` tool's variables are read:
        ``NATS_CA``, ``NATS_CERT``, ``NATS_KEY``, ``NATS_CREDS``, ``NATS_NKEY``,
        ``NATS_USER``, ``NATS_PASSWORD``, ``NATS_TOKEN``.

        ``max_deliver``: how often one message of work is delivered without being
        settled (its takers died or declined it) before it is dead-lettered to
        ``peo.dead.<id>``; default 50, 0 for no limit.

        ``replicas``: on a JetStream cluster, how many servers keep each of peo's
        streams and its bucket when this connection creates them (1 to 5, default 1; 3
        survives a server's loss; docs/distributed.md). Streams that exist keep theirs."""
        if not isinstance(url, str):
            raise TypeError(f"url must be a str such as 'nats://127.0.0.1:4222', not {type(url).__name__}")
        if not hasattr(_peo, "JetStream"):
            raise UnsupportedError("this peo was built without JetStream (the `jetstream` feature of peo-python)")
        if max_deliver is not None and (isinstance(max_deliver, bool) or not isinstance(max_deliver, int)):
            raise TypeError(f"max_deliver must be an int, not {type(max_deliver).__name__}")
        if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int)):
            raise TypeError(f"replicas must be an int, not {type(replicas).__name__}")
        self._native = _peo.JetStream(url, ack_wait, name, _security_json(security), max_deliver, replicas)

    def submit(self, obj: Union[Object, BytesLike]) -> str:
        """Puts a new object into the mesh; returns its id (hex)."""
        data = obj.to_bytes() if isinstance(obj, Object) else _bytes_arg(obj, "obj")
        return self._native.submit(data)

    def send_event(self, object_id: str, event: Union[Event, Mapping[str, Any]]) -> None:
        """Sends an event to an object; it is kept until the object awaits it."""
        self._native.send_event(object_id, _event_json(event) or "null")

    def get(self, object_id: str) -> Optional[Object]:
        """The newest version of an object, or None if the mesh does not know it."""
        data = self._native.get(object_id)
        return None if data is None else Object.from_bytes(data)

    def wait(self, ids: Iterable[str], timeout: float = 60.0) -> Dict[str, Object]:
        """Waits until every object in ``ids`` finished or ``timeout`` seconds passed;
        returns the finished ones by id."""
        done = self._native.wait_done(list(ids), float(timeout))
        return {k: Object.from_bytes(v) for k, v in done.items()}

    def serve(
        self,
        node: Node,
        *,
        idle_timeout: Optional[float] = None,
        max_deliveries: Optional[int] = None,
        give_up_after: Optional[float] = None,
        stop: Optional[threading.Event] = None,
        window: int = 1,
    ) -> Dict[str, int]:
        """Serves ``node`` on this connection (see ``Node.serve``)."""
        if not isinstance(node, Node):
            raise TypeError(f"node must be a peo.Node, not {type(node).__name__}")
        if isinstance(window, bool) or not isinstance(window, int):
            raise TypeError(f"window must be an int (deliveries in flight at once), not {type(window).__name__}")
        self._native.serve(node._native, idle_timeout, max_deliveries, give_up_after, stop, window)
        return self.stats()

    def archive(self, object_id: str) -> List[bytes]:
        """The records compactions pruned from an object, as the mesh keeps them (archive
        segments): audit the object with them (``Object.audit``)."""
        return list(self._native.archive(object_id))

    def stats(self) -> Dict[str, int]:
        """Counters: received, visits, forwarded, finished, children, duplicates,
        reconciled, declined, rejected, deferred, superseded, ignored."""
        stats: Dict[str, int] = json.loads(self._native.stats_json())
        return stats


def _security_json(security: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The JSON form of a connection's ``security`` (paths may be ``os.PathLike``)."""
    if security is None:
        return None
    if not isinstance(security, Mapping):
        raise TypeError(f"security must be a dict such as {{'ca': 'ca.pem'}}, not {type(security).__name__}")
    return json.dumps({k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in security.items()})
