"""The exceptions peo raises: one class per error kind, each also a builtin exception.

Every error has a stable ``code`` (``"PEO_DECODE"``, ...) shared by all languages, the
``kind`` (``"decode"``, ...), a ``message`` a user can act on, and where known the
memory ``record``, the intent ``state`` and the ``field`` it concerns.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = [
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
    "TaskFailed",
]


class PeoError(Exception):
    """Base class of every error peo raises."""

    code: str = "PEO_INTERNAL"
    kind: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        record: Optional[int] = None,
        state: Optional[str] = None,
        field: Optional[str] = None,
        text: Optional[str] = None,
    ) -> None:
        super().__init__(text if text is not None else message)
        self.message = message
        self.record = record
        self.state = state
        self.field = field


class DecodeError(PeoError, ValueError):
    """The bytes are not a well-formed peo object, or a JSON payload is not JSON."""

    code = "PEO_DECODE"
    kind = "decode"


class IntegrityError(PeoError, ValueError):
    """The content does not match its hash chain or committed hashes."""

    code = "PEO_INTEGRITY"
    kind = "integrity"


class SignatureError(PeoError, ValueError):
    """A signature is missing, invalid, or by a key that is not trusted."""

    code = "PEO_SIGNATURE"
    kind = "signature"


class UnsupportedError(PeoError, NotImplementedError):
    """Well-formed, but uses something this version does not support."""

    code = "PEO_UNSUPPORTED"
    kind = "unsupported"


class LimitError(PeoError, OverflowError):
    """A configured limit (size, count, depth, cycles) was exceeded."""

    code = "PEO_LIMIT"
    kind = "limit"


class InvalidIntentError(PeoError, ValueError):
    """The intent (the ASL plan and its peo extensions) is invalid."""

    code = "PEO_INVALID_INTENT"
    kind = "invalid_intent"


class InvalidArgumentError(PeoError, ValueError):
    """An argument is invalid (a wrong length, a value that is not JSON, a wrong shape)."""

    code = "PEO_INVALID_ARGUMENT"
    kind = "invalid_argument"


class PolicyError(PeoError, PermissionError):
    """Policy refused the action."""

    code = "PEO_POLICY"
    kind = "policy"


class TerminatedError(PeoError, RuntimeError):
    """The object has already terminated; nothing more can happen to it."""

    code = "PEO_TERMINATED"
    kind = "terminated"


class InternalError(PeoError, RuntimeError):
    """A bug in peo. Please report it."""

    code = "PEO_INTERNAL"
    kind = "internal"


class TransportError(PeoError, ConnectionError):
    """The NATS server cannot be reached, or a JetStream request timed out or was
    refused. Nothing was lost: retry when the server is back."""

    code = "PEO_TRANSPORT"
    kind = "transport"


_BY_CODE: Dict[str, Type[PeoError]] = {
    cls.code: cls
    for cls in (
        DecodeError,
        IntegrityError,
        SignatureError,
        UnsupportedError,
        LimitError,
        InvalidIntentError,
        InvalidArgumentError,
        PolicyError,
        TerminatedError,
        InternalError,
        TransportError,
    )
}


def _from_native(
    code: str,
    text: str,
    message: str,
    record: Optional[int],
    state: Optional[str],
    field: Optional[str],
) -> PeoError:
    """Builds the exception for an error raised by the engine (called from Rust)."""
    cls = _BY_CODE.get(code, InternalError)
    return cls(message, record=record, state=state, field=field, text=text)


def _from_code(code: str, message: str, record: Optional[int] = None) -> PeoError:
    cls = _BY_CODE.get(code, InternalError)
    where = f" at record {record}" if record is not None else ""
    return cls(message, record=record, text=f"{cls.kind} error{where}: {message}")


class TaskFailed(Exception):
    """Raised by a handler to fail its attempt with an ASL error name and a cause.

    ``Retry`` and ``Catch`` in the plan match ``error``, for example
    ``raise peo.TaskFailed("Inventory.OutOfStock", "sku A1")``.
    """

    def __init__(self, error: str, cause: Optional[str] = None) -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause
