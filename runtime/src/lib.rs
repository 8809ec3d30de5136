//! # peo-runtime
//!
//! Hosts peo nodes. A [`Node`] has an id, a domain, an optional signing key, the keys
//! it trusts, local facts, a clock, and one handler per capability. [`Node::visit`]
//! takes an object's bytes (and optionally an event), runs cycles until the object must
//! leave, and returns a [`Visit`]: the object after, the [`Disposition`] (delegate,
//! dormant, terminated) and the records appended.
//!
//! ```
//! use peo_core::{Context, CreateOptions, Disposition, Object, Status, Trust};
//! use peo_runtime::{HandlerError, Invocation, Node};
//! use serde_json::json;
//!
//! let plan = json!({
//!     "StartAt": "Double",
//!     "States": {"Double": {"Type": "Task", "Resource": "math.double", "End": true}}
//! });
//! let object = Object::create(&plan, Context::new(), &json!({"n": 21}), &CreateOptions::default())?;
//!
//! // An unsigned object: only a node that accepts anything takes it (tests and demos).
//! let node = Node::new("n1", "example").with_trust(Trust::any()).handler("math.double", |call: &Invocation| {
//!     let n = call.input["n"].as_i64().ok_or_else(|| HandlerError::new("BadInput", "n must be an integer"))?;
//!     Ok(json!({"n": n * 2}))
//! });
//! let visit = node.visit(&object.to_bytes(), None)?;
//! match visit.disposition {
//!     Disposition::Terminated { status, output, .. } => {
//!         assert_eq!(status, Status::Succeeded);
//!         assert_eq!(output, Some(json!({"n": 42})));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), peo_core::Error>(())
//! ```

#![warn(missing_docs)]

pub mod host;
pub mod serve;
pub mod stepfunctions;

pub use serve::{Outcome, Poll, ServeOptions, Serving, Transport, Work};

use foldhash::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use peo_core::Proposal;
pub use peo_core::TaskOutcome;
use peo_core::{
    Decision, DormantReason, Error, Limits, NodePolicy, NodeSpec, Object, PublicKey, Record, Result, SigningKey, Step,
    TaskCall, Trust,
};
pub use peo_core::{Disposition, Event, Wake};
use serde_json::Value;

/// A node's clock: ms since the Unix epoch. Core reads no clock; the node passes this
/// one's readings to every cycle.
pub trait Clock: Send + Sync {
    /// Now, in ms since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    }
}

/// A clock that moves only when told to: for tests, simulations and replays.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock that reads `now_ms` until set or advanced.
    pub fn new(now_ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(now_ms))
    }
    /// Sets the time (it may go back: each node judges by its own clock).
    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
    /// Moves the time on by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a handler receives: the state's effective input (after `InputPath` and
/// `Parameters`), the idempotency key `<object id>/<state>/<entry>/<attempt>` (the same wherever
/// this attempt runs, so a handler can recognise a repeated delivery), the deadline
/// (`TimeoutSeconds`, by the node's clock), the state, the capability and the attempt
/// (0 for the first).
pub type Invocation = TaskCall;

/// A handler's failure: an ASL error name (matched by `Retry` / `Catch`) and a cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    /// The error name (`"Inventory.OutOfStock"`, or a `States.*` name).
    pub error: String,
    /// What happened, for people.
    pub cause: Option<String>,
}

impl HandlerError {
    /// A failure named `error` with `cause`.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> HandlerError {
        HandlerError { error: error.into(), cause: Some(cause.into()) }
    }
}

/// The work behind a capability.
pub trait Handler: Send + Sync {
    /// Does the work of one attempt: the state's output, or a failure the plan's
    /// `Retry` / `Catch` see.
    fn call(&self, invocation: &Invocation) -> std::result::Result<Value, HandlerError>;

    /// The output and, optionally, a refinement of the object's intent
    /// (`{Objective?, Class?, Constraints?, States?, Goto?}`), which the next cycle
    /// applies as a `mutate` if policy permits. By default: no refinement.
    fn call_refined(&self, invocation: &Invocation) -> std::result::Result<(Value, Option<Value>), HandlerError> {
        self.call(invocation).map(|v| (v, None))
    }
}

/// A handler that may refine the intent (see [`Node::refining_handler`]).
struct Refining<F>(F);

impl<F> Handler for Refining<F>
where
    F: Fn(&Invocation) -> std::result::Result<(Value, Option<Value>), HandlerError> + Send + Sync,
{
    fn call(&self, invocation: &Invocation) -> std::result::Result<Value, HandlerError> {
        (self.0)(invocation).map(|(v, _)| v)
    }
    fn call_refined(&self, invocation: &Invocation) -> std::result::Result<(Value, Option<Value>), HandlerError> {
        (self.0)(invocation)
    }
}

impl<F> Handler for F
where
    F: Fn(&Invocation) -> std::result::Result<Value, HandlerError> + Send + Sync,
{
    fn call(&self, invocation: &Invocation) -> std::result::Result<Value, HandlerError> {
        self(invocation)
    }
}

/// Called after every record a visit appends, with the object as it is then.
pub type Observer = dyn Fn(&Object) + Send + Sync;

/// Optional cognition: before each cycle, may propose an action (`Proposal`). The
/// node checks and authorises it like any action; advice never overrides policy.
pub type Advisor = dyn Fn(&Object) -> Option<Proposal> + Send + Sync;

/// The message of a caught panic (`panic!("...")`'s text), for hosts that catch panics
/// at their boundary.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// A handler's result as a binding receives it from another language, in text:
/// `kind` `"ok"` with `a` the output JSON and `b` the refinement JSON (or none), or
/// `"error"` with `a` the error name and `b` the cause. Anything else, or text that is
/// not JSON, is the attempt error [`HANDLER_INVALID_OUTPUT`].
pub fn outcome_from_text(kind: &str, a: Option<String>, b: Option<String>) -> TaskOutcome {
    let invalid = |cause: String| TaskOutcome::Error { error: HANDLER_INVALID_OUTPUT.into(), cause: Some(cause) };
    match (kind, a) {
        ("ok", Some(output)) => match (output_from_text(&output), b) {
            (TaskOutcome::Output(output), Some(r)) => match serde_json::from_str(&r) {
                Ok(refinement) => TaskOutcome::Refined { output, refinement },
                Err(e) => invalid(format!("the refinement is not JSON: {e}")),
            },
            (outcome, _) => outcome,
        },
        ("error", Some(error)) if !error.is_empty() => TaskOutcome::Error { error, cause: b },
        _ => invalid(format!("the handler's result was reported as `{kind}` without what goes with it")),
    }
}

/// A handler's output as JSON text: the output, or [`HANDLER_INVALID_OUTPUT`] when it
/// is not JSON (`outcome_from_text("ok", Some(text), None)`, from a borrowed text).
pub fn output_from_text(text: &str) -> TaskOutcome {
    match serde_json::from_str(text) {
        Ok(output) => TaskOutcome::Output(output),
        Err(e) => TaskOutcome::Error {
            error: HANDLER_INVALID_OUTPUT.into(),
            cause: Some(format!("the handler's output is not JSON: {e}")),
        },
    }
}

/// The error name a panicking handler's attempt fails with.
pub const HANDLER_PANICKED: &str = "peo.HandlerPanicked";

/// The error name of an attempt whose handler (in another language) produced no usable
/// result: output that is not JSON, or no result at all. Its cause says which.
pub const HANDLER_INVALID_OUTPUT: &str = "peo.HandlerInvalidOutput";

/// A place that evaluates objects.
#[derive(Clone)]
pub struct Node {
    spec: NodeSpec,
    handlers: HashMap<String, Arc<dyn Handler>>,
    trust: Trust,
    limits: Limits,
    clock: Arc<dyn Clock>,
    max_cycles: usize,
    observer: Option<Arc<Observer>>,
    advisor: Option<Arc<Advisor>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.spec.id)
            .field("domain", &self.spec.domain)
            .field("capabilities", &self.spec.capabilities)
            .finish_non_exhaustive()
    }
}

/// The result of a visit.
#[derive(Debug, Clone)]
pub struct Visit {
    /// The object after the visit.
    pub object: Object,
    /// Its encoding (what to pass on, park or store).
    pub bytes: Vec<u8>,
    /// Why the visit ended. A dormant object presented before its wake condition holds
    /// ends as `Dormant` with no records appended.
    pub disposition: Disposition,
    /// How many records the visit appended.
    pub appended: usize,
    /// Child objects created by fan-out (`Parallel`, `Map`) during the visit: send them
    /// on like any delegated object, and present each one's final object to the parent
    /// with [`Node::complete`].
    pub children: Vec<Vec<u8>>,
}

impl Visit {
    /// The records this visit appended, decoded.
    pub fn records(&self) -> Result<Vec<Record>> {
        self.object.records_from(self.first_seq()).iter().map(|r| r.decode()).collect()
    }
    /// The records this visit appended, as a JSON array of `Record::to_json`.
    pub fn records_json(&self) -> Result<Value> {
        self.object.records_json(self.first_seq())
    }
    /// The seq of the first record this visit appended.
    fn first_seq(&self) -> u32 {
        self.object.written() - self.appended as u32
    }
}

impl Node {
    /// A node with no key, no handlers and the system clock, that trusts nothing: give
    /// it the keys whose work it accepts ([`Node::with_trust`], [`Node::trusting`]), or
    /// `Trust::any()` for tests and demos.
    pub fn new(id: impl Into<String>, domain: impl Into<String>) -> Node {
        Node {
            spec: NodeSpec::new(id, domain),
            handlers: HashMap::default(),
            trust: Trust::closed(),
            limits: Limits::default(),
            clock: Arc::new(SystemClock),
            max_cycles: 10_000,
            observer: None,
            advisor: None,
        }
    }
    /// Signs the last record of every visit.
    pub fn with_key(mut self, key: SigningKey) -> Node {
        self.spec.key = Some(key);
        self
    }
    /// Accepts only objects whose signatures are by these keys (every visit signed), each
    /// trusted to sign as any node, domain or originator. A trust store that binds keys
    /// to what they may sign as is [`Node::with_trust`] with `Trust::store`.
    pub fn trusting(mut self, keys: impl IntoIterator<Item = PublicKey>) -> Node {
        self.trust = Trust::keys(keys);
        self
    }
    /// What the node accepts: a trust store (`Trust::store`), keys that may sign as
    /// anyone (`Trust::keys`), or `Trust::any()` for tests and demos. The default,
    /// `Trust::closed()`, accepts nothing.
    pub fn with_trust(mut self, trust: Trust) -> Node {
        self.trust = trust;
        self
    }
    /// The node's Cedar policies (`NodePolicy::new(text)`, validated against peo's
    /// schema). Without them every action is allowed unless the object's own policies
    /// forbid it.
    pub fn with_policy(mut self, policy: NodePolicy) -> Node {
        self.spec.policy = Some(Arc::new(policy));
        self
    }
    /// Adds one fact (what its policies see as `context.node.facts.<name>`).
    pub fn with_fact(mut self, name: impl Into<String>, value: Value) -> Node {
        if !self.spec.facts.is_object() {
            self.spec.facts = Value::Object(Default::default());
        }
        self.spec.facts[name.into()] = value;
        self
    }
    /// Replaces all the node's facts (what its policies see as `context.node.facts`).
    pub fn with_facts(mut self, facts: serde_json::Map<String, Value>) -> Node {
        self.spec.facts = Value::Object(facts);
        self
    }
    /// Removes the advisor, if any.
    pub fn without_advisor(mut self) -> Node {
        self.advisor = None;
        self
    }
    /// The node's clock (the system clock by default).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Node {
        self.clock = clock;
        self
    }
    /// The limits it decodes, verifies and runs objects under ([`Limits`]).
    pub fn with_limits(mut self, limits: Limits) -> Node {
        self.spec.limits = limits.clone();
        self.limits = limits;
        self
    }
    /// The most cycles one visit may run (default 10,000). A visit that reaches it ends
    /// dormant with reason `budget` and a wake time of now, its progress recorded: a
    /// loop longer than the bound goes on at the next visit, and a plan that loops
    /// forever does not hang the node.
    pub fn with_max_cycles(mut self, n: usize) -> Node {
        self.max_cycles = n;
        self
    }
    /// The compaction this node applies to objects whose plan sets no `Compaction`
    /// (`None`: none): see docs/long-lived.md. Build it with `Compaction::new(after, keep)`.
    pub fn with_compaction(mut self, compaction: Option<peo_core::intent::Compaction>) -> Node {
        self.spec.compaction = compaction;
        self
    }
    /// Calls `f` after every record a visit appends.
    pub fn with_observer(mut self, f: impl Fn(&Object) + Send + Sync + 'static) -> Node {
        self.observer = Some(Arc::new(f));
        self
    }
    /// Consults `f` before every cycle of a visit.
    pub fn with_advisor(mut self, f: impl Fn(&Object) -> Option<Proposal> + Send + Sync + 'static) -> Node {
        self.advisor = Some(Arc::new(f));
        self
    }
    /// Registers the handler of a capability (a Task `Resource`).
    pub fn handler(mut self, capability: impl Into<String>, handler: impl Handler + 'static) -> Node {
        let capability = capability.into();
        self.spec.capabilities.insert(capability.clone());
        self.handlers.insert(capability, Arc::new(handler));
        self
    }
    /// Registers a handler that returns its output and, optionally, a refinement of the
    /// object's intent.
    pub fn refining_handler(
        self,
        capability: impl Into<String>,
        f: impl Fn(&Invocation) -> std::result::Result<(Value, Option<Value>), HandlerError> + Send + Sync + 'static,
    ) -> Node {
        self.handler(capability, Refining(f))
    }
    /// The node's id, as its records name it.
    pub fn id(&self) -> &str {
        &self.spec.id
    }
    /// The trust domain it claims (a trust store binds it to its key).
    pub fn domain(&self) -> &str {
        &self.spec.domain
    }
    /// The description the cycle sees.
    pub fn spec(&self) -> &NodeSpec {
        &self.spec
    }
    /// The clock its visits read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Decodes and verifies `bytes` under this node's limits and trust, then visits.
    pub fn visit(&self, bytes: &[u8], event: Option<&Event>) -> Result<Visit> {
        let object = self.admit(bytes)?;
        self.visit_object(object, event)
    }

    /// Decodes `bytes` under this node's limits and verifies them against its trust.
    pub fn admit(&self, bytes: &[u8]) -> Result<Object> {
        let mut object = Object::from_bytes(bytes, &self.limits)?;
        let report = object.verify_for_admission(&self.trust);
        object.note_verification(&report);
        report.into_result()?;
        Ok(object)
    }

    /// Visits an object already decoded and verified (for hosts that keep objects in
    /// memory between visits).
    pub fn visit_object(&self, object: Object, event: Option<&Event>) -> Result<Visit> {
        self.drive(Session::new(self, object, event.cloned()))
    }

    /// Presents a child's final object (`child`, bytes) to its waiting parent
    /// (`parent`, bytes): the completion is checked against the lineage and recorded,
    /// and when it was the last one the parent runs on. A completion already recorded
    /// appends nothing (`appended == 0`); a forged one is an `Integrity` error.
    pub fn complete(&self, parent: &[u8], child: &[u8]) -> Result<Visit> {
        let object = self.admit(parent)?;
        self.complete_object(object, child)
    }

    /// [`Node::complete`] for a parent already decoded and verified (a host that keeps
    /// objects in memory between visits).
    pub fn complete_object(&self, object: Object, child: &[u8]) -> Result<Visit> {
        self.drive(Session::completion(self, object, child)?)
    }

    /// Presents a batch of children's final objects to their waiting parent: each is
    /// checked as [`Node::complete`] checks one (a bad one rejects the batch, the parent
    /// unchanged), and the new completions are recorded by one record. Completions cost
    /// the same whatever the fan-out's size; batching them saves a record, a signature
    /// and, for a parent passed as bytes, a decode and an encode per child.
    pub fn complete_all(&self, parent: &[u8], children: &[&[u8]]) -> Result<Visit> {
        let object = self.admit(parent)?;
        self.complete_object_all(object, children)
    }

    /// [`Node::complete_all`] for a parent already decoded and verified.
    pub fn complete_object_all(&self, object: Object, children: &[&[u8]]) -> Result<Visit> {
        self.drive(Session::completions(self, object, children)?)
    }

    /// Starts a visit that the caller drives: [`Session::advance`] runs cycles until a
    /// handler must be called or the object must leave. For hosts whose handlers cannot
    /// be called from inside the engine (asynchronous ones, in another language's event
    /// loop). Declare such capabilities with [`Node::with_capability`].
    pub fn begin(&self, bytes: &[u8], event: Option<Event>) -> Result<Session<&Node>> {
        let object = self.admit(bytes)?;
        Ok(Session::new(self, object, event))
    }

    /// [`Node::begin`] for a completion (see [`Node::complete`]).
    pub fn begin_completion(&self, parent: &[u8], child: &[u8]) -> Result<Session<&Node>> {
        let object = self.admit(parent)?;
        Session::completion(self, object, child)
    }

    /// [`Node::begin`] for a batch of completions (see [`Node::complete_all`]).
    pub fn begin_completions(&self, parent: &[u8], children: &[&[u8]]) -> Result<Session<&Node>> {
        let object = self.admit(parent)?;
        Session::completions(self, object, children)
    }

    /// Declares a capability whose calls the host answers itself through a
    /// [`Session`] (a plain `visit` of such a call fails the attempt with
    /// `peo.NoHandler`).
    pub fn with_capability(mut self, capability: impl Into<String>) -> Node {
        self.spec.capabilities.insert(capability.into());
        self
    }

    /// Runs a session to its end, calling the registered handlers.
    fn drive(&self, mut session: Session<&Node>) -> Result<Visit> {
        loop {
            match session.advance()? {
                Next::Done(visit) => return Ok(visit),
                Next::Call(call) => {
                    let outcome = self.run(call);
                    session.answer(outcome)?;
                }
            }
        }
    }

    fn observe(&self, object: &Object) {
        if let Some(f) = &self.observer {
            f(object);
        }
    }

    fn run(&self, call: &TaskCall) -> TaskOutcome {
        let Some(handler) = self.handlers.get(&call.capability) else {
            return TaskOutcome::Error {
                error: "peo.NoHandler".into(),
                cause: Some(format!("node `{}` has no handler for `{}`", self.spec.id, call.capability)),
            };
        };
        match catch_unwind(AssertUnwindSafe(|| handler.call_refined(call))) {
            Ok(Ok((v, None))) => TaskOutcome::Output(v),
            Ok(Ok((output, Some(refinement)))) => TaskOutcome::Refined { output, refinement },
            Ok(Err(e)) => TaskOutcome::Error { error: e.error, cause: e.cause },
            Err(panic) => TaskOutcome::Error { error: HANDLER_PANICKED.into(), cause: Some(panic_message(&*panic)) },
        }
    }
}

/// What a [`Session`] needs next.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // returned once per handler call or visit
pub enum Next<'s> {
    /// Run this handler call and give its outcome to [`Session::answer`].
    Call(&'s TaskCall),
    /// The visit is over.
    Done(Visit),
}

/// A visit driven by its host, one handler call at a time (see [`Node::begin`]): the
/// same cycles as [`Node::visit`], which is a session whose calls go to the registered
/// handlers.
#[derive(Debug)]
pub struct Session<N: std::borrow::Borrow<Node> = Node> {
    node: N,
    object: Option<Object>,
    event: Option<Event>,
    start: usize,
    cycles: usize,
    pending: Option<TaskCall>,
    finished: Option<Disposition>,
}

impl<N: std::borrow::Borrow<Node>> Session<N> {
    /// A session over an object already decoded and verified.
    pub fn new(node: N, object: Object, event: Option<Event>) -> Session<N> {
        let start = object.written() as usize;
        Session { node, object: Some(object), event, start, cycles: 0, pending: None, finished: None }
    }

    /// A session that first presents `child` (a fan-out child's final object, bytes) to
    /// `object`, its waiting parent.
    pub fn completion(node: N, object: Object, child: &[u8]) -> Result<Session<N>> {
        Session::completions(node, object, &[child])
    }

    /// [`Session::completion`] for a batch of children: all are checked, and the new
    /// completions recorded by one record (see [`peo_core::join_all`]).
    pub fn completions(node: N, mut object: Object, children: &[&[u8]]) -> Result<Session<N>> {
        let n = node.borrow();
        let children = children.iter().map(|c| Object::from_bytes(c, &n.limits)).collect::<Result<Vec<Object>>>()?;
        let refs: Vec<&Object> = children.iter().collect();
        let start = object.written() as usize;
        let finished = match object.complete_children(&n.spec, n.clock.now_ms(), &refs, &n.trust)? {
            Step::Sleep(wake) => Some(Disposition::Dormant(wake)),
            Step::Appended(d) => {
                n.observe(&object);
                d
            }
            Step::Execute(_) => return Err(Error::internal("a completion never executes a handler")),
        };
        Ok(Session { node, object: Some(object), event: None, start, cycles: 0, pending: None, finished })
    }

    /// The object as it is now.
    pub fn object(&self) -> Option<&Object> {
        self.object.as_ref()
    }

    /// Runs cycles until a handler call is needed ([`Next::Call`]: answer it with
    /// [`Session::answer`]) or the object must leave ([`Next::Done`]).
    pub fn advance(&mut self) -> Result<Next<'_>> {
        if self.pending.is_some() {
            return Err(Error::invalid_argument("a handler call is pending: answer it first (Session::answer)"));
        }
        if let Some(d) = self.finished.take() {
            return self.finish(d);
        }
        let node = self.node.borrow();
        let Some(object) = self.object.as_mut() else {
            return Err(Error::invalid_argument("the visit is over: start another one"));
        };
        loop {
            self.cycles += 1;
            let now = node.clock.now_ms();
            let proposal = node.advisor.as_ref().and_then(|f| f(object));
            match peo_core::decide_advised(object, &node.spec, now, self.event.as_ref(), proposal.as_ref())? {
                Decision::Sleep(wake) => return self.finish(Disposition::Dormant(wake)),
                Decision::Record(mut t) => {
                    if self.cycles >= node.max_cycles {
                        // The bound, with work left: this record ends the visit, so
                        // what the visit did is kept, and whoever presents the object
                        // next goes on from here.
                        let wake =
                            Wake { reason: DormantReason::Budget, at_ms: Some(now), event: None, timeout_at_ms: None };
                        t.end_visit(object, &node.spec, Disposition::Dormant(wake));
                    }
                    let d = object.apply(t, &node.spec)?;
                    // An event is consumed by the cycle that used it.
                    self.event = None;
                    node.observe(object);
                    if let Some(d) = d {
                        return self.finish(d);
                    }
                }
                Decision::Execute(call) => return Ok(Next::Call(self.pending.insert(call))),
            }
        }
    }

    /// Records the outcome of the pending handler call.
    pub fn answer(&mut self, outcome: TaskOutcome) -> Result<()> {
        let Some(call) = self.pending.take() else {
            return Err(Error::invalid_argument("no handler call is pending"));
        };
        let node = self.node.borrow();
        let object = self.object.as_mut().ok_or_else(|| Error::internal("a pending call without an object"))?;
        let d = object.record_outcome(&node.spec, call, outcome, node.clock.now_ms())?;
        node.observe(object);
        self.finished = d;
        Ok(())
    }

    fn finish(&mut self, disposition: Disposition) -> Result<Next<'_>> {
        let mut object = self.object.take().ok_or_else(|| Error::invalid_argument("the visit is over"))?;
        let bytes = object.to_bytes();
        let appended = object.written() as usize - self.start;
        let children = object.take_children();
        Ok(Next::Done(Visit { object, bytes, disposition, appended, children }))
    }
}
