//! `peo._peo`: the native module behind the `peo` Python package.
//!
//! Deliberately thin: objects, keys, nodes and visits over JSON text and bytes. The
//! pythonic API (dicts, dataclasses, decorators, async handlers, the exception classes)
//! is Python code in `python/python/peo/`; its stubs (`_peo.pyi`) are checked against this
//! module by `python/tests/test_stubs.py`.
//!
//! The engine runs with the GIL released (`Python::detach`); handlers, the advisor and
//! the clock re-attach to call back into Python, both through `shutdown` (a thread that
//! would re-enter a shutting-down interpreter parks instead).

mod convert;
#[cfg(feature = "jetstream")]
mod jetstream;
mod shutdown;
mod stepfunctions;

use std::cell::RefCell;
use std::sync::Arc;

use peo_core::{Error, Limits, Object, PublicKey, SigningKey, Trust};
use peo_runtime::host::{self, NewObject, Setting};
use peo_runtime::{
    Clock, HANDLER_INVALID_OUTPUT, Handler, HandlerError, Invocation, ManualClock, Next, Node, Session, SystemClock,
    TaskOutcome, Visit, outcome_from_text,
};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use serde_json::Value;

/// The error name of an attempt whose Python handler was interrupted by an exception that
/// is not an `Exception` (`KeyboardInterrupt`, `SystemExit`): the visit's result is then
/// dropped and the exception re-raised to the caller.
const HANDLER_INTERRUPTED: &str = "peo.HandlerInterrupted";

thread_local! {
    /// A `BaseException` (not an `Exception`) raised by a callback during the current
    /// visit on this thread: re-raised when the visit returns, whatever its outcome.
    static PENDING: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// A peo error as the matching exception of `peo.errors` (built there by `_from_native`).
fn to_py(e: &Error) -> PyErr {
    shutdown::attach(|py| {
        let made = py
            .import("peo.errors")
            .and_then(|m| m.getattr("_from_native"))
            .and_then(|f| f.call1((e.kind().code(), e.to_string(), e.message(), e.record(), e.state(), e.field())));
        match made {
            Ok(exc) => PyErr::from_value(exc),
            Err(err) => err,
        }
    })
}

trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T> OrRaise<T> for peo_core::Result<T> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(|e| to_py(&e))
    }
}

fn keys(trusted_keys: Vec<Vec<u8>>) -> PyResult<Vec<PublicKey>> {
    host::public_keys(&trusted_keys).or_raise()
}

/// Takes the `BaseException` a callback stashed during this thread's visit, if any.
fn take_pending() -> Option<PyErr> {
    PENDING.with(|p| p.borrow_mut().take())
}

/// An error from a callback: a `BaseException` that is not an `Exception` is kept to be
/// re-raised after the visit; the description is returned for the record.
fn callback_error(py: Python<'_>, err: PyErr) -> String {
    let text = err.to_string();
    if !err.is_instance_of::<PyException>(py) {
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            if p.is_none() {
                *p = Some(err);
            }
        });
    }
    text
}

/// An Ed25519 signing key.
#[pyclass(frozen, module = "peo._peo", name = "SigningKey")]
struct PySigningKey(SigningKey);

#[pymethods]
impl PySigningKey {
    /// A new key from the operating system's randomness.
    #[staticmethod]
    fn generate() -> PyResult<PySigningKey> {
        SigningKey::generate().map(PySigningKey).or_raise()
    }
    /// The key of a 32-byte seed.
    #[staticmethod]
    fn from_bytes(seed: &[u8]) -> PyResult<PySigningKey> {
        SigningKey::from_slice(seed).map(PySigningKey).or_raise()
    }
    /// The 32-byte seed (the secret).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }
    /// The 32-byte public key.
    fn public_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.public_key().as_bytes())
    }
    /// An event's JSON form signed by this key for object `object_id` (`peo.Event.signed`).
    fn sign_event(&self, object_id: &str, event_json: &str) -> PyResult<String> {
        host::sign_event(&self.0, object_id, event_json).or_raise()
    }
    fn __repr__(&self) -> String {
        format!("SigningKey(public_key={})", self.0.public_key().to_hex())
    }
}

/// An object (see `peo.Object` for the documented API).
#[pyclass(frozen, module = "peo._peo", name = "Object")]
struct PyObject_(Object);

#[pymethods]
impl PyObject_ {
    #[staticmethod]
    #[pyo3(signature = (intent_json, context_json, input_json, id_hex, now_ms, key))]
    fn create(
        py: Python<'_>,
        intent_json: &str,
        context_json: Option<&str>,
        input_json: &str,
        id_hex: Option<&str>,
        now_ms: Option<i64>,
        key: Option<&PySigningKey>,
    ) -> PyResult<PyObject_> {
        let key = key.map(|k| &k.0);
        let new = NewObject { intent_json, context_json, input_json: Some(input_json), id_hex, now_ms, key };
        let created = shutdown::detach(py, || new.create());
        created.map(PyObject_).or_raise()
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<PyObject_> {
        shutdown::detach(py, || Object::from_bytes(data, &Limits::default())).map(PyObject_).or_raise()
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let bytes = shutdown::detach(py, || self.0.to_bytes());
        PyBytes::new(py, &bytes)
    }

    /// The verification report as JSON (never raises for a broken object: the report
    /// says what is broken).
    fn verify_json(&self, py: Python<'_>, trusted_keys: Vec<Vec<u8>>) -> PyResult<String> {
        let trust = Trust::for_verify(keys(trusted_keys)?);
        Ok(shutdown::detach(py, || peo_runtime::host::json_text(&self.0.verify(&trust).to_json())))
    }

    /// The audit report against an archive (segments as bytes) as JSON: the whole
    /// history restored and verified, every checkpoint recomputed.
    fn audit_json(&self, py: Python<'_>, archive: Vec<Vec<u8>>, trusted_keys: Vec<Vec<u8>>) -> PyResult<String> {
        let trust = Trust::for_verify(keys(trusted_keys)?);
        let segments = host::segments(&archive).or_raise()?;
        Ok(shutdown::detach(py, || peo_runtime::host::json_text(&self.0.audit(&segments, &trust).to_json())))
    }

    /// The inclusion proof of pruned record `seq`, made from the archive, as JSON.
    fn prove_pruned_json(&self, py: Python<'_>, archive: Vec<Vec<u8>>, seq: i64) -> PyResult<String> {
        shutdown::detach(py, || host::prove_pruned(&self.0, &archive, seq, host::Casing::Snake)).or_raise()
    }

    /// Checks a pruned-record proof (JSON text) against the object, offline.
    fn check_pruned(&self, proof_json: &str) -> PyResult<()> {
        host::check_pruned(&self.0, proof_json).or_raise()
    }

    #[getter]
    fn status(&self) -> &'static str {
        self.0.status().as_str()
    }
    #[getter]
    fn state(&self) -> &str {
        self.0.state()
    }
    #[getter]
    fn id(&self) -> String {
        self.0.id().to_hex()
    }
    #[getter]
    fn head(&self) -> String {
        self.0.head().to_hex()
    }
    #[getter]
    fn data_json(&self) -> &str {
        self.0.data_text()
    }
    #[getter]
    fn variables_json(&self) -> &str {
        self.0.variables_text()
    }
    #[getter]
    fn record_count(&self) -> usize {
        self.0.memory().len()
    }
    fn records_json(&self) -> PyResult<String> {
        Ok(self.0.records_json(0).or_raise()?.to_string())
    }
    fn to_json(&self) -> String {
        peo_runtime::host::json_text(&self.0.to_json())
    }
}

/// The result of a visit.
#[pyclass(frozen, module = "peo._peo", name = "Visit")]
struct PyVisit(Visit);

#[pymethods]
impl PyVisit {
    #[getter]
    fn object(&self) -> PyObject_ {
        PyObject_(self.0.object.clone())
    }
    #[getter]
    fn bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.bytes)
    }
    #[getter]
    fn disposition_json(&self) -> String {
        peo_runtime::host::json_text(&self.0.disposition.to_json())
    }
    #[getter]
    fn appended(&self) -> usize {
        self.0.appended
    }
    fn records_json(&self) -> PyResult<String> {
        Ok(self.0.records_json().or_raise()?.to_string())
    }
    #[getter]
    fn children<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.0.children.iter().map(|c| PyBytes::new(py, c)).collect()
    }
    /// The records the visit's compactions pruned, as archive segments.
    #[getter]
    fn archive<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.0.object.archive().iter().map(|s| PyBytes::new(py, &s.to_bytes())).collect()
    }
}

/// A handler: the Python-side wrapper `(capability, state, input_json, idempotency_key,
/// attempt, deadline_ms) -> ("ok", output_json, refinement_json | None) | ("error", name,
/// cause | None)`, and for a synchronous handler (`def`, not `async def`) the function
/// itself, called directly with the input as a Python value (no JSON text either way; see
/// `convert`) and, when it takes one, a `TaskContext` made here.
struct PyHandler {
    wrapper: Py<PyAny>,
    direct: Option<Direct>,
}

/// What the direct call needs besides the function: the `TaskContext` class when the
/// function takes a context, `settle(result, context) -> outcome` for a result that turns
/// out to be awaitable, `failure(exception) -> outcome` for an exception (all from
/// `peo._api`, so the rules are written once).
struct Direct {
    function: Py<PyAny>,
    context: Option<Py<PyAny>>,
    settle: Py<PyAny>,
    failure: Py<PyAny>,
}

type Reply = (String, Option<String>, Option<String>);

/// `add_handler`'s `direct` argument: see [`Direct`].
type DirectArgs = (Py<PyAny>, Option<Py<PyAny>>, Py<PyAny>, Py<PyAny>);

impl PyHandler {
    /// A callback's exception as the attempt's error (and stashed for re-raising when it
    /// is not an `Exception`).
    fn failed(py: Python<'_>, e: PyErr) -> HandlerError {
        let interrupted = !e.is_instance_of::<PyException>(py);
        let text = callback_error(py, e);
        HandlerError {
            error: if interrupted { HANDLER_INTERRUPTED } else { HANDLER_INVALID_OUTPUT }.into(),
            cause: Some(text),
        }
    }

    fn reply(reply: Reply) -> Result<(Value, Option<Value>), HandlerError> {
        let (kind, a, b) = reply;
        match outcome_from_text(&kind, a, b) {
            TaskOutcome::Output(output) => Ok((output, None)),
            TaskOutcome::Refined { output, refinement } => Ok((output, Some(refinement))),
            TaskOutcome::Error { error, cause } => Err(HandlerError { error, cause }),
        }
    }

    fn call_direct(py: Python<'_>, d: &Direct, call: &Invocation) -> Result<(Value, Option<Value>), HandlerError> {
        let outcome = |called: PyResult<Py<PyAny>>| {
            called.and_then(|r| r.extract::<Reply>(py)).map_err(|e| Self::failed(py, e)).and_then(Self::reply)
        };
        let value = convert::to_python(py, &call.input).map_err(|e| Self::failed(py, e))?;
        let context = match &d.context {
            Some(class) => Some(Self::context(class.bind(py), call).map_err(|e| Self::failed(py, e))?),
            None => None,
        };
        let called = match &context {
            Some(ctx) => d.function.bind(py).call1((value, ctx)),
            None => d.function.bind(py).call1((value,)),
        };
        match called {
            // JSON first: a failed `hasattr` builds an AttributeError, which cost half
            // of the crossing when it came first. No JSON value is awaitable.
            Ok(result) => match convert::from_python(&result) {
                Ok(output) => {
                    let proposed = context.as_ref().map(Self::proposed).transpose()?.flatten();
                    with_refinement(output, proposed.as_ref())
                }
                Err(_) if result.hasattr("__await__").unwrap_or(false) => {
                    outcome(d.settle.call1(py, (result, context)))
                }
                Err(why) => Err(output_not_json(&why)),
            },
            Err(e) if e.is_instance_of::<PyException>(py) => outcome(d.failure.call1(py, (e.into_value(py),))),
            Err(e) => Err(Self::failed(py, e)),
        }
    }

    /// A `TaskContext` (a frozen dataclass) for `call`, made as pickle makes one: its
    /// `__dict__` filled in, without the Python-level `__init__`, which was about as
    /// costly as the rest of the handler call.
    fn context<'py>(class: &Bound<'py, PyAny>, call: &Invocation) -> PyResult<Bound<'py, PyAny>> {
        let py = class.py();
        let ctx = class.call_method1(pyo3::intern!(py, "__new__"), (class,))?;
        let fields = ctx.getattr(pyo3::intern!(py, "__dict__"))?;
        let fields = fields.cast::<PyDict>()?;
        fields.set_item(pyo3::intern!(py, "capability"), call.capability.as_str())?;
        fields.set_item(pyo3::intern!(py, "state"), call.state.as_str())?;
        fields.set_item(pyo3::intern!(py, "idempotency_key"), call.idempotency_key.as_str())?;
        fields.set_item(pyo3::intern!(py, "attempt"), call.attempt)?;
        fields.set_item(pyo3::intern!(py, "deadline_ms"), call.deadline_ms)?;
        fields.set_item(pyo3::intern!(py, "refinement"), PyList::empty(py))?;
        Ok(ctx)
    }

    /// The refinement a handler proposed with `ctx.refine(...)`, if any (as `_outcome`
    /// reads it for the wrapped handlers).
    fn proposed<'py>(ctx: &Bound<'py, PyAny>) -> Result<Option<Bound<'py, PyAny>>, HandlerError> {
        let py = ctx.py();
        let proposed = ctx.getattr(pyo3::intern!(py, "refinement")).map_err(|e| Self::failed(py, e))?;
        if proposed.is_empty().map_err(|e| Self::failed(py, e))? {
            return Ok(None);
        }
        proposed.get_item(0).map(Some).map_err(|e| Self::failed(py, e))
    }
}

/// A handler's JSON output with the refinement it proposed, converted.
fn with_refinement(
    output: Value,
    refinement: Option<&Bound<'_, PyAny>>,
) -> Result<(Value, Option<Value>), HandlerError> {
    let refinement = refinement
        .map(convert::from_python)
        .transpose()
        .map_err(|why| invalid_output(format!("the refinement is not JSON: {why}")))?;
    Ok((output, refinement))
}

/// The attempt's error for a handler's output that is not JSON, worded as the JSON
/// wrapper (`peo._calls._outcome`) and Node word it.
fn output_not_json(why: &str) -> HandlerError {
    invalid_output(format!("the handler returned a value that is not JSON: {why}"))
}

/// The attempt's `peo.HandlerInvalidOutput` error, with its cause.
fn invalid_output(cause: String) -> HandlerError {
    HandlerError { error: HANDLER_INVALID_OUTPUT.into(), cause: Some(cause) }
}

impl Handler for PyHandler {
    fn call(&self, invocation: &Invocation) -> Result<Value, HandlerError> {
        self.call_refined(invocation).map(|(v, _)| v)
    }

    fn call_refined(&self, invocation: &Invocation) -> Result<(Value, Option<Value>), HandlerError> {
        if let Some(d) = &self.direct {
            return shutdown::attach(|py| Self::call_direct(py, d, invocation));
        }
        let input = host::json_text(&invocation.input);
        let reply = shutdown::attach(|py| {
            let args = (
                invocation.capability.as_str(),
                invocation.state.as_str(),
                input,
                invocation.idempotency_key.as_str(),
                invocation.attempt,
                invocation.deadline_ms,
            );
            self.wrapper.call1(py, args).and_then(|r| r.extract::<Reply>(py)).map_err(|e| Self::failed(py, e))
        })?;
        Self::reply(reply)
    }
}

/// A clock calling a Python callable (`() -> int`, ms since the Unix epoch).
struct PyClock(Py<PyAny>);

impl Clock for PyClock {
    fn now_ms(&self) -> i64 {
        shutdown::attach(|py| match self.0.call0(py).and_then(|v| v.extract::<i64>(py)) {
            Ok(t) => t,
            Err(e) => {
                // A broken clock fails the visit: keep the error to raise it afterwards.
                let text = e.to_string();
                let err = PyValueError::new_err(format!("the node's clock failed: {text}"));
                err.set_cause(py, Some(e));
                PENDING.with(|p| {
                    p.borrow_mut().get_or_insert(err);
                });
                SystemClock.now_ms()
            }
        })
    }
}

/// A node (see `peo.Node` for the documented API).
#[pyclass(module = "peo._peo", name = "Node")]
struct PyNode {
    node: Arc<Node>,
    /// The manual clock `set_now_ms` set, which `advance_clock` moves.
    manual: Option<Arc<ManualClock>>,
}

impl PyNode {
    fn set(&mut self, setting: Setting<'_>) -> PyResult<()> {
        host::apply(Arc::make_mut(&mut self.node), setting).or_raise()
    }

    /// Runs `f` (a visit) with the GIL released, then raises what a callback left pending.
    fn run(&self, py: Python<'_>, f: impl FnOnce(&Node) -> peo_core::Result<Visit> + Send) -> PyResult<PyVisit> {
        take_pending();
        let node = &self.node;
        let result = shutdown::detach(py, || f(node));
        if let Some(err) = take_pending() {
            return Err(err);
        }
        result.map(PyVisit).or_raise()
    }
}

#[pymethods]
impl PyNode {
    #[new]
    fn new(id: &str, domain: &str) -> PyResult<PyNode> {
        Ok(PyNode { node: Arc::new(host::new_node(id, domain).or_raise()?), manual: None })
    }
    fn set_key(&mut self, key: &PySigningKey) -> PyResult<()> {
        self.set(Setting::Key(key.0.clone()))
    }
    fn set_policy(&mut self, py: Python<'_>, cedar: &str) -> PyResult<()> {
        let node = Arc::make_mut(&mut self.node);
        shutdown::detach(py, || host::apply(node, Setting::Policy(cedar))).or_raise()
    }
    fn set_facts_json(&mut self, facts_json: &str) -> PyResult<()> {
        self.set(Setting::FactsJson(facts_json))
    }
    fn set_trusted_keys(&mut self, trusted_keys: Vec<Vec<u8>>) -> PyResult<()> {
        let keys: Vec<&[u8]> = trusted_keys.iter().map(Vec::as_slice).collect();
        self.set(Setting::TrustedKeys(&keys))
    }
    /// The node's trust in its JSON form (`Trust::from_json`): "any" or a trust store.
    fn set_trust_json(&mut self, trust_json: &str) -> PyResult<()> {
        self.set(Setting::TrustJson(trust_json))
    }
    /// `direct`: `(function, context_class | None, settle, failure)` for a synchronous
    /// handler, called without the wrapper.
    #[pyo3(signature = (capability, wrapper, direct=None))]
    fn add_handler(&mut self, capability: &str, wrapper: Py<PyAny>, direct: Option<DirectArgs>) -> PyResult<()> {
        let direct = direct.map(|(function, context, settle, failure)| Direct { function, context, settle, failure });
        self.set(Setting::Handler(capability, Box::new(PyHandler { wrapper, direct })))
    }
    /// `advisor(object: _peo.Object) -> str | None` (a proposal as JSON), or None to remove it.
    #[pyo3(signature = (advisor))]
    fn set_advisor(&mut self, advisor: Option<Py<PyAny>>) -> PyResult<()> {
        let advisor = advisor.map(|f| -> host::AdvisorJson {
            Box::new(move |object: &Object| {
                shutdown::attach(|py| {
                    match f.call1(py, (PyObject_(object.clone()),)).and_then(|r| r.extract::<Option<String>>(py)) {
                        Ok(text) => text,
                        Err(e) => {
                            callback_error(py, e);
                            None
                        }
                    }
                })
            })
        });
        self.set(Setting::AdvisorJson(advisor))
    }
    /// `clock() -> int` (ms since the Unix epoch), or None for the system clock.
    #[pyo3(signature = (clock))]
    fn set_clock(&mut self, clock: Option<Py<PyAny>>) -> PyResult<()> {
        self.manual = None;
        self.set(Setting::Clock(clock.map(|f| Arc::new(PyClock(f)) as Arc<dyn Clock>)))
    }
    /// A manual clock at `now_ms` (no call into Python at each reading), or None for the
    /// system clock.
    #[pyo3(signature = (now_ms))]
    fn set_now_ms(&mut self, now_ms: Option<i64>) -> PyResult<()> {
        self.manual = host::manual_clock(Arc::make_mut(&mut self.node), now_ms).or_raise()?;
        Ok(())
    }
    /// Moves the manual clock (`now_ms`) on by `ms`; also during a visit, from a handler.
    fn advance_clock(&self, ms: i64) -> PyResult<()> {
        host::advance_clock(self.manual.as_deref(), ms, "now_ms").or_raise()
    }
    fn set_max_cycles(&mut self, max_cycles: usize) -> PyResult<()> {
        self.set(Setting::MaxCycles(max_cycles))
    }
    fn set_compaction(&mut self, after: u32, keep: u32) -> PyResult<()> {
        self.set(Setting::Compaction(after, keep))
    }
    #[getter]
    fn id(&self) -> &str {
        self.node.id()
    }
    #[getter]
    fn domain(&self) -> &str {
        self.node.domain()
    }
    #[pyo3(signature = (data, event_json))]
    fn visit(&self, py: Python<'_>, data: &[u8], event_json: Option<&str>) -> PyResult<PyVisit> {
        let event = event_json.map(host::event).transpose().or_raise()?;
        self.run(py, |node| node.visit(data, event.as_ref()))
    }
    fn complete(&self, py: Python<'_>, parent: &[u8], child: &[u8]) -> PyResult<PyVisit> {
        self.run(py, |node| node.complete(parent, child))
    }
    fn complete_all(&self, py: Python<'_>, parent: &[u8], children: Vec<Vec<u8>>) -> PyResult<PyVisit> {
        let refs: Vec<&[u8]> = children.iter().map(Vec::as_slice).collect();
        self.run(py, |node| node.complete_all(parent, &refs))
    }
    /// Starts a visit the caller drives (`Session.advance` / `answer`): for hosts whose
    /// handlers are coroutines, awaited on their own event loop.
    #[pyo3(signature = (data, event_json=None))]
    fn begin(&self, py: Python<'_>, data: &[u8], event_json: Option<&str>) -> PyResult<PySession> {
        let event = event_json.map(host::event).transpose().or_raise()?;
        let object = shutdown::detach(py, || self.node.admit(data)).or_raise()?;
        Ok(PySession(Some(Session::new(self.node.clone(), object, event))))
    }
    /// Starts the presentation of a child's final object to its waiting parent, driven
    /// by the caller.
    fn begin_completion(&self, py: Python<'_>, parent: &[u8], child: &[u8]) -> PyResult<PySession> {
        let session = shutdown::detach(py, || {
            self.node.admit(parent).and_then(|o| Session::completion(self.node.clone(), o, child))
        })
        .or_raise()?;
        Ok(PySession(Some(session)))
    }
    /// Starts the presentation of a batch of children's final objects, driven by the
    /// caller.
    fn begin_completions(&self, py: Python<'_>, parent: &[u8], children: Vec<Vec<u8>>) -> PyResult<PySession> {
        let refs: Vec<&[u8]> = children.iter().map(Vec::as_slice).collect();
        let session = shutdown::detach(py, || {
            self.node.admit(parent).and_then(|o| Session::completions(self.node.clone(), o, &refs))
        })
        .or_raise()?;
        Ok(PySession(Some(session)))
    }
}

/// A visit driven by its host, one handler call at a time (`Node.begin`).
#[pyclass(module = "peo._peo", name = "Session")]
struct PySession(Option<Session<Arc<Node>>>);

#[pymethods]
impl PySession {
    /// Runs cycles until a handler must be called, returned as `(capability, state,
    /// input, idempotency_key, attempt, deadline_ms)` with the input as a Python value
    /// (answer it with `answer_output` or `answer`), or the visit is over: then its
    /// `Visit`, and the session is spent.
    fn advance(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let session = self.0.as_mut().ok_or_else(|| to_py(&Error::invalid_argument("the visit is over")))?;
        take_pending();
        let next = shutdown::detach(py, || -> peo_core::Result<_> {
            Ok(match session.advance()? {
                Next::Call(c) => Err((
                    c.capability.clone(),
                    c.state.clone(),
                    Arc::clone(&c.input),
                    c.idempotency_key.clone(),
                    c.attempt,
                    c.deadline_ms,
                )),
                Next::Done(v) => Ok(v),
            })
        });
        if let Some(err) = take_pending() {
            self.0 = None;
            return Err(err);
        }
        match next {
            Ok(Ok(visit)) => {
                self.0 = None;
                Ok(Py::new(py, PyVisit(visit))?.into_any())
            }
            Ok(Err((capability, state, input, key, attempt, deadline_ms))) => {
                let input = convert::to_python(py, &input)?;
                Ok((capability, state, input, key, attempt, deadline_ms).into_pyobject(py)?.into_any().unbind())
            }
            Err(e) => {
                self.0 = None;
                Err(to_py(&e))
            }
        }
    }
    /// Records the pending call's output, a Python value as a handler returned it, and
    /// the refinement it proposed (`TaskContext.refine`), converted as for the handlers
    /// `visit` calls directly: a value that is not JSON is recorded as the attempt's
    /// `peo.HandlerInvalidOutput` error.
    #[pyo3(signature = (output, refinement=None))]
    fn answer_output(&mut self, output: &Bound<'_, PyAny>, refinement: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let session = self.0.as_mut().ok_or_else(|| to_py(&Error::invalid_argument("the visit is over")))?;
        let answered = convert::from_python(output)
            .map_err(|why| output_not_json(&why))
            .and_then(|output| with_refinement(output, refinement));
        let outcome = match answered {
            Ok((output, None)) => TaskOutcome::Output(output),
            Ok((output, Some(refinement))) => TaskOutcome::Refined { output, refinement },
            Err(e) => TaskOutcome::Error { error: e.error, cause: e.cause },
        };
        session.answer(outcome).or_raise()
    }
    /// Records the pending call's outcome: `("ok", output_json, refinement_json | None)`
    /// or `("error", error_name, cause)`, as the handler wrappers return it.
    #[pyo3(signature = (kind, a, b))]
    fn answer(&mut self, kind: &str, a: Option<String>, b: Option<String>) -> PyResult<()> {
        let session = self.0.as_mut().ok_or_else(|| to_py(&Error::invalid_argument("the visit is over")))?;
        session.answer(outcome_from_text(kind, a, b)).or_raise()
    }
}

#[pymodule]
fn _peo(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("WIRE_FORMAT_VERSION", peo_core::FORMAT_VERSION)?;
    m.add("HANDLER_INVALID_OUTPUT", HANDLER_INVALID_OUTPUT)?;
    m.add("HANDLER_INTERRUPTED", HANDLER_INTERRUPTED)?;
    m.add_class::<PySigningKey>()?;
    m.add_class::<PyObject_>()?;
    m.add_class::<PyVisit>()?;
    m.add_class::<PyNode>()?;
    m.add_class::<PySession>()?;
    #[cfg(feature = "jetstream")]
    m.add_class::<jetstream::PyJetStream>()?;
    m.add_function(wrap_pyfunction!(stepfunctions::sfn_request, m)?)?;
    m.add_function(wrap_pyfunction!(stepfunctions::sfn_pointed, m)?)?;
    m.add_function(wrap_pyfunction!(stepfunctions::sfn_reply, m)?)?;
    m.add_function(wrap_pyfunction!(stepfunctions::sfn_error_name, m)?)?;
    shutdown::register(m)?;
    Ok(())
}
