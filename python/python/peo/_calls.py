"""How the engine calls a Python handler: the handler's context, the direct call's
helpers, the JSON wrapper of `async def` handlers, and `visit_async`'s answers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar, cast

from . import _peo
from .errors import TaskFailed

HANDLER_INVALID_OUTPUT: str = _peo.HANDLER_INVALID_OUTPUT


@dataclass(frozen=True)
class TaskContext:
    """What a handler may want besides its input."""

    capability: str
    state: str
    idempotency_key: str
    attempt: int
    deadline_ms: Optional[int] = None
    #: Set by the handler to propose a refinement of the intent (``{"Objective"?,
    #: "Class"?, "Constraints"?, "States"?, "Goto"?}``), applied if policy permits.
    refinement: List[Dict[str, Any]] = field(default_factory=list, compare=False)

    def refine(self, refinement: Mapping[str, Any]) -> None:
        """Proposes a refinement of the object's intent along with this output."""
        self.refinement.clear()
        self.refinement.append(dict(refinement))


Handler = Callable[..., Any]
F = TypeVar("F", bound=Handler)

# A private loop per thread for async handlers of synchronous visits.
_private_loop = threading.local()


def _run_coroutine(coro: Awaitable[Any]) -> Any:
    """Runs an async handler of a synchronous visit (``visit_async`` awaits them instead)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        private = getattr(_private_loop, "loop", None)
        if private is None or private.is_closed():
            private = asyncio.new_event_loop()
            _private_loop.loop = private
        return private.run_until_complete(coro)
    # A synchronous visit called from inside a running loop: run the coroutine on a
    # helper thread with its own loop rather than block-and-deadlock this one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, cast(Any, coro)).result()


def _wants_context(fn: Callable[..., Any]) -> bool:
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


Outcome = Tuple[str, Optional[str], Optional[str]]


def _invoke(fn: Handler, with_context: bool, call: Tuple[Any, ...]) -> Tuple[Optional[TaskContext], Any]:
    """Calls a handler with a call's input, a Python value (and a context when it takes
    one); the result may still be awaitable."""
    capability, state, value, key, attempt, deadline_ms = call
    ctx = TaskContext(capability, state, key, attempt, deadline_ms) if with_context else None
    return ctx, (fn(value, ctx) if with_context else fn(value))


def _failure(e: Exception) -> Outcome:
    """A handler's own exception as a recorded task error."""
    if isinstance(e, TaskFailed):
        return ("error", e.error or "TaskFailed", e.cause)
    return ("error", type(e).__name__, str(e) or repr(e))


def _proposed(ctx: Optional[TaskContext]) -> Any:
    """The refinement a handler proposed through its context, if any."""
    return ctx.refinement[0] if ctx is not None and ctx.refinement else None


def _outcome(result: Any, ctx: Optional[TaskContext]) -> Outcome:
    """A handler's result (and the refinement it proposed) as the engine takes it."""
    try:
        output = json.dumps(result, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        return ("error", HANDLER_INVALID_OUTPUT, f"the handler returned a value that is not JSON: {e}")
    refinement = None
    proposed = _proposed(ctx)
    if proposed is not None:
        try:
            refinement = json.dumps(proposed, allow_nan=False)
        except (TypeError, ValueError) as e:
            return ("error", HANDLER_INVALID_OUTPUT, f"the refinement is not JSON: {e}")
    return ("ok", output, refinement)


def _wrap_handler(fn: Handler, with_context: bool) -> Callable[..., Outcome]:
    """The uniform callable the engine calls with JSON text (`async def` handlers): never
    raises for an ordinary exception."""

    def call(capability: str, state: str, input_json: str, *rest: Any) -> Outcome:
        try:
            ctx, result = _invoke(fn, with_context, (capability, state, json.loads(input_json), *rest))
            if inspect.isawaitable(result):
                result = _run_coroutine(result)
        except Exception as e:
            return _failure(e)
        return _outcome(result, ctx)

    return call


def _settle(result: Any, ctx: Optional[TaskContext]) -> Outcome:
    """A directly called handler's result that is awaitable: awaited, then as usual."""
    try:
        result = _run_coroutine(result)
    except Exception as e:
        return _failure(e)
    return _outcome(result, ctx)


_Settle = Callable[[Any, Optional[TaskContext]], Outcome]
_Direct = Tuple[Handler, Optional[type], _Settle, Callable[[Exception], Outcome]]


def _direct(fn: Handler, with_context: bool) -> Optional[_Direct]:
    """What the engine needs to call a synchronous handler itself, its input and output
    converted without JSON text: the function, the ``TaskContext`` class when it takes a
    context (the engine makes one per call), and the helpers for an awaitable result and
    an exception. None for an ``async def``, which goes through `_wrap_handler`."""
    if inspect.iscoroutinefunction(fn):
        return None
    return (fn, TaskContext if with_context else None, _settle, _failure)


def _answer(session: Any, handler: Optional[Tuple[Handler, bool]], call: Tuple[Any, ...]) -> Any:
    """Answers a session's handler call, or returns what the handler returned when it
    must be awaited first (then `_answer_awaited`). `handler`: the function and whether
    it takes a context (decided once, when it was added: `inspect.signature` costs more
    than the rest of a call). The input arrives as a Python value and the output goes
    back as one, converted as for the handlers `visit` calls directly. A plain function
    is answered here, without a coroutine."""
    if handler is None:
        session.answer("error", "peo.NoHandler", f"no handler for {call[0]}")
        return None
    try:
        ctx, result = _invoke(handler[0], handler[1], call)
    except Exception as e:
        session.answer(*_failure(e))
        return None
    if inspect.isawaitable(result):
        return _answer_awaited(session, result, ctx)
    session.answer_output(result, _proposed(ctx))
    return None


async def _answer_awaited(session: Any, result: Awaitable[Any], ctx: Optional[TaskContext]) -> None:
    """`_answer` for a handler's awaitable result: awaited on the caller's event loop."""
    try:
        value = await result
    except Exception as e:
        session.answer(*_failure(e))
        return
    session.answer_output(value, _proposed(ctx))
