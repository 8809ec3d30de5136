//! The cycle: from an object, a node and a time, decide exactly one action.
//!
//! [`decide`] is pure: it reads the object (its intent, data and memory), the node's
//! description, the node's clock and an optional event, and returns a [`Decision`]:
//! a record to append ([`Transition`]), a handler to run ([`TaskCall`], the first phase
//! of `execute`), or nothing to do yet (a dormant object whose wake condition does not
//! hold). [`outcome`] is the second phase of `execute`: it turns a handler's result
//! into the record. [`Object::apply`] appends a transition; [`Object::step`] and
//! [`Object::record_outcome`] do both at once.
//!
//! Before the state is evaluated, [`decide`] checks, in order: the intent's
//! `Constraints` (hops, domains, deadline), the node's and the object's Cedar policies for
//! `visit` (once per visit), a handler's pending refinement, the `Adapt` rules, and then
//! the pending step (an `Await`, a wake-up, an error to retry or catch), with an
//! advisor's proposal checked against all of them. One cycle's work is bounded by
//! `Limits::max_cycle_work` (`asl::work`).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};

mod adapt;
mod advice;
mod assign;
mod authority;
mod awaits;
mod compact;
mod fanout;
mod history;
mod jsonata;
mod narrow;

pub(crate) use adapt::{check_refinement, refine};
pub use advice::{ADVISED_TERMINATION, Proposal};
pub(crate) use fanout::FanOut;
pub(crate) use fanout::check_results;
pub use fanout::{join, join_all};
pub(crate) use history::History;
pub use narrow::narrow;

use crate::asl::{self, Env, Failure, MAX_PAYLOAD_BYTES, errors};
use crate::intent::{NumberSpec, QueryLanguage, State, StateKind, StringSpec, Transition as Next, WaitFor};
use crate::policy::{NodePolicy, PolicyAction};
use crate::{
    Body, DelegateReason, DormantReason, Error, Hash, MutateKind, NodeRef, Object, PolicyOutcome, Record, ReentryCause,
    Result, SigningKey, Status, TaskError, json as cjson,
};

/// What the cycle knows about the node evaluating an object.
#[derive(Debug, Clone, Default)]
pub struct NodeSpec {
    pub id: String,
    pub domain: String,
    /// Signs the last record of every visit when present.
    pub key: Option<SigningKey>,
    /// The capabilities (Task `Resource`s) this node can execute.
    pub capabilities: BTreeSet<String>,
    /// Local facts (JSON), offered to policy.
    pub facts: Value,
    /// The node's Cedar policies. `None`: the node sets no policy of its own (every
    /// action is allowed unless the object's own policies forbid it).
    pub policy: Option<Arc<NodePolicy>>,
    /// The bounds the cycle applies to what it creates (fan-out children).
    pub limits: crate::Limits,
    /// The compaction this node applies to objects whose plan sets none.
    pub compaction: Option<crate::intent::Compaction>,
}

impl NodeSpec {
    pub fn new(id: impl Into<String>, domain: impl Into<String>) -> NodeSpec {
        NodeSpec { id: id.into(), domain: domain.into(), facts: json!({}), ..Default::default() }
    }
    pub fn with_key(mut self, key: SigningKey) -> NodeSpec {
        self.key = Some(key);
        self
    }
    pub fn with_capability(mut self, capability: impl Into<String>) -> NodeSpec {
        self.capabilities.insert(capability.into());
        self
    }
    pub fn with_policy(mut self, policy: NodePolicy) -> NodeSpec {
        self.policy = Some(Arc::new(policy));
        self
    }
    /// Compacts objects whose plan has no `Compaction` of its own: when the memory holds
    /// more than `after` records, all but the newest `keep` are folded (`keep < after`).
    pub fn with_compaction(mut self, after: u32, keep: u32) -> Result<NodeSpec> {
        self.compaction = Some(crate::intent::Compaction::new(after, keep)?);
        Ok(self)
    }
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.contains(capability)
    }
    fn node_ref(&self) -> NodeRef {
        NodeRef { id: self.id.clone(), domain: self.domain.clone(), key: self.key.as_ref().map(SigningKey::public_key) }
    }
}

/// An external event presented with an object (the wake-up of an awaited event).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    /// The result (`SendTaskSuccess`'s output).
    pub payload: Value,
    /// Set for a failure (`SendTaskFailure`): the awaited state fails with it.
    pub error: Option<TaskError>,
    /// A heartbeat (`SendTaskHeartbeat`): the wait goes on, its heartbeat timer restarts.
    pub heartbeat: bool,
}

impl Event {
    /// An event carrying a result.
    pub fn success(name: impl Into<String>, payload: Value) -> Event {
        Event { name: name.into(), payload, error: None, heartbeat: false }
    }
    /// A heartbeat for an awaited event: the state keeps waiting.
    pub fn heartbeat(name: impl Into<String>) -> Event {
        Event { name: name.into(), payload: Value::Null, error: None, heartbeat: true }
    }
    /// An event reporting a failure: the awaiting state raises `error` with `cause`.
    pub fn failure(name: impl Into<String>, error: impl Into<String>, cause: impl Into<String>) -> Event {
        Event {
            name: name.into(),
            payload: Value::Null,
            error: Some(TaskError { error: error.into(), cause: Some(cause.into()) }),
            heartbeat: false,
        }
    }

    /// An event from its JSON form, the one every binding accepts:
    /// `{"name": ..., "payload": ...}` (a result), `{"name": ..., "error": ..., "cause": ...}`
    /// (a failure) or `{"name": ..., "heartbeat": true}`. Anything else is an
    /// `InvalidArgument` error naming the field.
    pub fn from_json(v: &Value) -> Result<Event> {
        let obj = v.as_object().ok_or_else(|| {
            Error::invalid_argument("an event must be a JSON object such as {\"name\": \"approval\", \"payload\": {}}")
        })?;
        for k in obj.keys() {
            if !matches!(k.as_str(), "name" | "payload" | "error" | "cause" | "heartbeat") {
                return Err(Error::invalid_argument(format!(
                    "unknown event field `{k}` (allowed: name, payload, error, cause, heartbeat)"
                )));
            }
        }
        let name = match obj.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(Error::invalid_argument("an event needs a non-empty string `name`")),
        };
        let text = |field: &str| match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::invalid_argument(format!("the event's `{field}` must be a string"))),
        };
        let (error, cause) = (text("error")?, text("cause")?);
        let heartbeat = match obj.get("heartbeat") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::invalid_argument("the event's `heartbeat` must be true or false")),
        };
        let payload = obj.get("payload").cloned().unwrap_or(Value::Null);
        if (heartbeat as u8) + (error.is_some() as u8) + (!payload.is_null() as u8) > 1 {
            return Err(Error::invalid_argument(
                "an event is a result (`payload`), a failure (`error`, `cause`) or a heartbeat, not several",
            ));
        }
        if error.is_none() && cause.is_some() {
            return Err(Error::invalid_argument("the event has a `cause` but no `error`"));
        }
        Ok(Event { name, payload, error: error.map(|error| TaskError { error, cause }), heartbeat })
    }

    /// The JSON form [`Event::from_json`] reads.
    pub fn to_json(&self) -> Value {
        if self.heartbeat {
            json!({"name": self.name, "heartbeat": true})
        } else if let Some(e) = &self.error {
            json!({"name": self.name, "error": e.error, "cause": e.cause})
        } else {
            json!({"name": self.name, "payload": self.payload})
        }
    }
}

/// What wakes a dormant object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wake {
    pub reason: DormantReason,
    /// The holder's clock must reach this (ms since the Unix epoch).
    pub at_ms: Option<i64>,
    /// Or this event must be presented.
    pub event: Option<String>,
    /// When the wait gives up with `States.Timeout`.
    pub timeout_at_ms: Option<i64>,
}

/// Why an object leaves a node at the end of a visit.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// It must go to a node with `capability`.
    Delegate { reason: DelegateReason, capability: Option<String>, target: Option<String> },
    /// It sleeps until `Wake` holds; present it again then.
    Dormant(Wake),
    /// It ended.
    Terminated { status: Status, output: Option<Value>, error: Option<TaskError> },
}

/// A record the cycle decided to append, and the data after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub record: Record,
    /// The new data, when the record changes it.
    pub data: Option<Value>,
    /// The new intent, when the record refines it (`mutate`, kind `intent`).
    pub intent: Option<crate::Intent>,
    /// The new context, when the record narrows it (`mutate`, kind `context`).
    pub context: Option<crate::Context>,
    /// A handler's refinement, for the next cycle to apply.
    pub refinement: Option<Value>,
    /// Child objects a fan-out created (their bytes).
    pub children: Vec<Vec<u8>>,
    /// The canonical text of `data`, when the cycle already computed it (to hash it).
    pub(crate) data_text: Option<String>,
    /// Set when the record ends the visit.
    pub disposition: Option<Disposition>,
    /// The completions a fan-out's batch record adds to the results section.
    pub(crate) completions: Vec<crate::results::Completion>,
    /// The variables in force after the record, when it assigns some, and their
    /// canonical text.
    pub(crate) variables: Option<(std::sync::Arc<serde_json::Map<String, Value>>, String)>,
}

impl Transition {
    /// Makes a record that would leave the visit open end it instead, as a record that
    /// leaves does: it commits the data hash, is signed when `node` signs, and the visit
    /// ends with `disposition`. A host that bounds its visits uses this on the record at
    /// its bound, so that what the visit did is kept and the next visit goes on.
    pub fn end_visit(&mut self, obj: &Object, node: &NodeSpec, disposition: Disposition) {
        if self.disposition.is_some() {
            return;
        }
        if self.data_text.is_none() {
            self.data_text = self.data.as_ref().map(cjson::canonical);
        }
        self.record.data_hash = Some(match &self.data_text {
            Some(t) => Hash::data(t),
            None => obj.data_hash(),
        });
        self.record.signed = node.key.is_some();
        self.disposition = Some(disposition);
    }
}

/// The first phase of `execute`: the handler to run.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskCall {
    pub state: String,
    pub capability: String,
    /// The effective input (after `InputPath` and `Parameters`).
    pub input: Value,
    /// 0 for the first attempt.
    pub attempt: u32,
    /// `<object id>/<state>/<entry>/<attempt>` ([`attempt_key`]): the same for every node
    /// that runs this attempt, new for every entry into the state.
    pub idempotency_key: String,
    /// When the handler's result stops counting (`TimeoutSeconds`), by the node's clock.
    pub deadline_ms: Option<i64>,
    /// The policy decision that allowed the execution (recorded with its outcome).
    pub policy: Option<PolicyOutcome>,
    /// An advisor's proposal and what the node made of it (recorded with the outcome).
    pub advice: Option<crate::Advice>,
}

/// What a handler returned.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    Output(Value),
    /// An output and a refinement of the intent (`{Objective?, Class?, Constraints?,
    /// States?, Goto?}`, like an `Adapt` rule's `Then`): the next cycle applies it as a
    /// `mutate` if policy permits.
    Refined {
        output: Value,
        refinement: Value,
    },
    Error {
        error: String,
        cause: Option<String>,
    },
}

/// The cycle's decision.
// A decision is moved once, right after the cycle: boxing the record would cost an
// allocation per cycle for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Append this record.
    Record(Transition),
    /// Run this handler, then record its outcome ([`outcome`] / [`Object::record_outcome`]).
    Execute(TaskCall),
    /// Dormant, and the wake condition does not hold at this node: nothing to append.
    Sleep(Wake),
}

/// What [`Object::step`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A record was appended; `Some` when it ended the visit.
    Appended(Option<Disposition>),
    /// A handler must run: call [`Object::record_outcome`] with its result.
    Execute(TaskCall),
    /// Nothing appended: the object sleeps.
    Sleep(Wake),
}

/// What the last records leave to the next cycle.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pending {
    /// Evaluate the current state.
    Evaluate,
    /// The current state raised this error: retry, catch or fail.
    Error(TaskError),
    /// Dormant until this holds.
    Dormant(Wake),
    /// The plan reached its end: terminate.
    Ended,
    /// A `.waitForTaskToken` Task's handler has run: wait for the token's event.
    AwaitToken(String),
    /// Terminated.
    Done,
}

/// Facts about the current state entry, derived from memory (cached on the object).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Progress {
    pub visit: u32,
    pub pending: Pending,
    /// Execute records since the current state was entered.
    pub attempts: u32,
    /// Errors counted against each retrier of the current state (including a pending one).
    pub retries: Vec<u32>,
    /// The first record of the current state entry.
    pub entered_seq: u32,
    pub entered_ms: i64,
    /// The genesis record's time (the execution's start).
    pub start_ms: i64,
}

fn retrier_index(state: Option<&State>, error: &str) -> Option<usize> {
    let retry = match &state?.kind {
        StateKind::Task(t) => &t.retry,
        StateKind::Parallel(p) => &p.retry,
        StateKind::Map(m) => &m.retry,
        _ => return None,
    };
    if !asl::retriable(error) {
        return None;
    }
    retry.iter().position(|r| asl::error_matches(&r.error_equals, error))
}

fn retrier_count(state: Option<&State>) -> usize {
    match state.map(|s| &s.kind) {
        Some(StateKind::Task(t)) => t.retry.len(),
        Some(StateKind::Parallel(p)) => p.retry.len(),
        Some(StateKind::Map(m)) => m.retry.len(),
        _ => 0,
    }
}

fn pending_of(r: &Record) -> Pending {
    match &r.body {
        _ if r.status.is_terminal() => Pending::Done,
        Body::Execute { error: Some(e), .. } => Pending::Error(e.clone()),
        Body::Delegate { reason: DelegateReason::FanOut, .. } | Body::Reentry { cause: ReentryCause::Children, .. }
            if r.status == Status::Dormant =>
        {
            Pending::Dormant(Wake { reason: DormantReason::Join, at_ms: None, event: None, timeout_at_ms: None })
        }
        Body::Reentry { .. } if fanout::children_error(r).is_some() => {
            Pending::Error(fanout::children_error(r).expect("checked"))
        }
        Body::Reentry { .. } if awaits::reentry_error(r).is_some() => {
            Pending::Error(awaits::reentry_error(r).expect("checked"))
        }
        Body::Dormant { reason, wake_at_ms, event, timeout_at_ms } => Pending::Dormant(Wake {
            reason: *reason,
            at_ms: *wake_at_ms,
            event: event.clone(),
            timeout_at_ms: *timeout_at_ms,
        }),
        Body::Execute { error: None, idempotency_key: Some(k), capability, .. }
            if r.state == r.next_state && capability.ends_with(WAIT_FOR_TASK_TOKEN) =>
        {
            Pending::AwaitToken(k.clone())
        }
        _ if r.next_state.is_empty() => Pending::Ended,
        _ => Pending::Evaluate,
    }
}

/// `<object id>/<state>/<entry>/<attempt>`: names one attempt of one entry into a
/// state, the same on every node (all four parts come from the memory). `<entry>` is the
/// position of the record that entered the state, so a loop that comes back to a state
/// gets new keys: a handler can tell a second pass from a redelivery. It is also a
/// `.waitForTaskToken` Task's token.
fn attempt_key(obj: &Object, state: &str, p: &Progress) -> String {
    format!("{}/{state}/{}/{}", obj.id.to_hex(), obj.ordinal(p.entered_seq), p.attempts)
}

/// The suffix of a Task resource that waits for its task token to be answered.
pub const WAIT_FOR_TASK_TOKEN: &str = ".waitForTaskToken";

/// The error of a task whose handler returned a refinement that is not valid.
pub const INVALID_REFINEMENT: &str = "peo.InvalidRefinement";

/// The error a record raised at its state: a failed execution, or a failed or timed-out
/// wait for an awaited event.
pub(crate) fn failed(r: &Record) -> Option<TaskError> {
    match &r.body {
        Body::Execute { error: Some(e), .. } => Some(e.clone()),
        _ => awaits::reentry_error(r).or_else(|| fanout::children_error(r)),
    }
}

/// Whether `r` continues the entry of its state (a failed attempt, a retry back-off).
pub(crate) fn continues_entry(r: &Record) -> bool {
    r.state == r.next_state
        && match &r.body {
            Body::Checkpoint { .. } => true,
            Body::Execute { error: Some(_), .. } | Body::Dormant { .. } | Body::Reentry { .. } => true,
            Body::Delegate { reason: DelegateReason::FanOut, .. } => true,
            Body::Execute { capability, .. } => capability.ends_with(WAIT_FOR_TASK_TOKEN),
            _ => false,
        }
}

impl Progress {
    /// Reads the progress from the memory: the last record, and the records of the
    /// current state entry before it.
    pub(crate) fn from_memory(obj: &Object) -> Result<Progress> {
        let n = obj.memory.len();
        let first = obj.pruned() as usize;
        let base = obj.base.as_ref().map(|b| &b.summary);
        let last = obj.memory.last().ok_or_else(|| Error::internal("an object without records"))?.decode()?;
        let state = crate::intent::find_state(&obj.intent.plan().machine, &last.next_state);
        // Positions come from the memory itself, not from the records' own `seq` fields
        // (an object that has not been verified may carry any values there).
        let mut p = Progress {
            visit: last.visit,
            pending: pending_of(&last),
            attempts: 0,
            retries: vec![0; retrier_count(state)],
            entered_seq: (first + n) as u32,
            entered_ms: last.time_ms,
            start_ms: match base {
                Some(s) => s.start_ms,
                None if n == 1 => last.time_ms,
                None => obj.memory[0].decode()?.time_ms,
            },
        };
        let mut at = n - 1;
        let mut rec = last;
        loop {
            if !continues_entry(&rec) {
                break;
            }
            if let Some(e) = failed(&rec) {
                p.attempts += 1;
                if let Some(i) = retrier_index(state, &e.error)
                    && let Some(c) = p.retries.get_mut(i)
                {
                    *c += 1;
                }
            }
            p.entered_seq = (first + at) as u32;
            p.entered_ms = rec.time_ms;
            if at == 0 {
                // The entry may go on among the pruned records: the checkpoint's summary
                // says how it stood after the last of them.
                if let Some(s) = base
                    && s.entry.state == rec.state
                {
                    if !s.entry.continues {
                        p.entered_ms = s.entry.ms;
                        break;
                    }
                    for (error, count) in &s.entry.errors {
                        p.attempts += count;
                        if let Some(i) = retrier_index(state, error)
                            && let Some(c) = p.retries.get_mut(i)
                        {
                            *c += count;
                        }
                    }
                    p.entered_seq = s.entry.seq;
                    p.entered_ms = s.entry.ms;
                }
                break;
            }
            let prev = obj.memory[at - 1].decode()?;
            if prev.next_state != rec.state {
                break;
            }
            if !continues_entry(&prev) {
                p.entered_ms = prev.time_ms;
                break;
            }
            rec = prev;
            at -= 1;
        }
        Ok(p)
    }

    /// The progress after appending `r` (without re-reading memory).
    fn after(&self, r: &Record, obj: &Object) -> Progress {
        if !continues_entry(r) {
            return Progress {
                visit: r.visit,
                pending: pending_of(r),
                attempts: 0,
                retries: Vec::new(),
                entered_seq: r.seq + 1,
                entered_ms: r.time_ms,
                start_ms: self.start_ms,
            };
        }
        let mut p = self.clone();
        p.visit = r.visit;
        p.pending = pending_of(r);
        if let Some(e) = failed(r) {
            p.attempts += 1;
            let state = crate::intent::find_state(&obj.intent.plan().machine, &r.next_state);
            if let Some(i) = retrier_index(state, &e.error) {
                if p.retries.len() <= i {
                    p.retries.resize(i + 1, 0);
                }
                p.retries[i] += 1;
            }
        }
        p
    }
}

/// How many Step Functions history events a record stands for (to quote "entered at
/// the event id #N" in runtime errors as Step Functions does).
/// `after_wait`: the record before `r` is a Wait state's `dormant` (so a `reentry`
/// ends a Wait state).
pub(crate) fn aws_events(r: &Record, after_wait: bool, plan_state: Option<&State>) -> u32 {
    match &r.body {
        Body::Genesis { .. } => 1,
        Body::Mutate { kind: MutateKind::Data | MutateKind::Route, change, .. } => {
            if change.as_deref().is_some_and(|c| c.contains("\"catch\"")) { 1 } else { 2 }
        }
        Body::Mutate { .. } => 0,
        Body::Execute { attempt, error, .. } => (*attempt == 0) as u32 + 3 + error.is_none() as u32,
        Body::Dormant { reason: DormantReason::Wait, .. } => 1,
        Body::Reentry { .. } if after_wait => 1,
        Body::Terminate { .. } => match plan_state.map(|s| &s.kind) {
            Some(StateKind::Succeed) => 2,
            Some(StateKind::Fail(_)) => 1,
            _ => 0,
        },
        _ => 0,
    }
}

fn entered_event_id(obj: &Object, entered_seq: u32) -> u32 {
    let machine = &obj.intent.plan().machine;
    let (mut n, mut after_wait) =
        obj.base.as_ref().map_or((0, false), |b| (b.summary.aws_events, b.summary.after_wait));
    for r in obj.memory.iter().take_while(|r| r.meta.seq < entered_seq) {
        if let Ok(rec) = r.decode() {
            n += aws_events(&rec, after_wait, crate::intent::find_state(machine, &rec.state));
            after_wait = matches!(rec.body, Body::Dormant { reason: DormantReason::Wait, .. });
        }
    }
    n + 1
}

/// The `$$` context object of a state: generated from the object, with the
/// `Execution` / `StateMachine` fields of the context attribute `"$$"` laid over it.
fn context_object(obj: &Object, state: &State, p: &Progress, now_ms: i64) -> Value {
    let genesis = obj.memory.first().and_then(|r| r.decode().ok());
    let (input, start_ms) = match (&genesis, &obj.base) {
        (_, Some(b)) => (b.summary.input.clone(), b.summary.start_ms),
        (Some(Record { body: Body::Genesis { input, .. }, time_ms, .. }), None) => {
            (serde_json::from_str(input).unwrap_or(Value::Null), *time_ms)
        }
        _ => (Value::Null, 0),
    };
    let id = obj.id.to_hex();
    let machine_name = obj.intent.objective().unwrap_or("peo").to_owned();
    let mut state_obj = json!({
        "Name": state.name,
        "EnteredTime": asl::format_timestamp(if p.entered_ms > 0 { p.entered_ms } else { now_ms }),
    });
    let mut task = None;
    if let StateKind::Task(t) = &state.kind {
        state_obj["RetryCount"] = json!(p.attempts);
        if t.resource.ends_with(WAIT_FOR_TASK_TOKEN) {
            task = Some(json!({"Token": attempt_key(obj, &state.name, p)}));
        }
    }
    let mut ctx = json!({
        "Execution": {
            "Id": format!("peo:{id}"),
            "Input": input,
            "Name": id,
            "RoleArn": obj.context.originator.subject.clone().unwrap_or_default(),
            "StartTime": asl::format_timestamp(start_ms),
            "RedriveCount": 0,
        },
        "StateMachine": { "Id": format!("peo:intent:{}", obj.intent.hash().to_hex()), "Name": machine_name },
        "State": state_obj,
    });
    if let Some(t) = task {
        ctx["Task"] = t;
    }
    if let Some(Value::Object(over)) = obj.context.attributes().get("$$") {
        for section in ["Execution", "StateMachine"] {
            if let (Some(Value::Object(src)), Some(Value::Object(dst))) = (over.get(section), ctx.get_mut(section)) {
                for (k, v) in src {
                    dst.insert(k.clone(), v.clone());
                }
            }
        }
    }
    ctx
}

/// The seed of a state's deterministic randomness: the memory head and the state.
fn seed(obj: &Object, state: &str) -> [u8; 32] {
    let mut buf = Vec::with_capacity(32 + state.len());
    buf.extend_from_slice(obj.head().as_bytes());
    buf.extend_from_slice(state.as_bytes());
    Hash::tagged(b"peo/seed/v1", &buf).0
}

/// The name Step Functions gives a task in data-limit messages: the resource, or the
/// service of an optimised integration (`arn:aws:states:::lambda:invoke` -> `lambda`).
fn task_display_name(resource: &str) -> &str {
    match resource.strip_prefix("arn:aws:states:::") {
        Some(rest) => rest.split(':').next().unwrap_or(rest),
        None => resource,
    }
}

/// The new data, or `None` when `out` is the raw data itself (unchanged).
fn changed(raw: &Value, out: Cow<'_, Value>) -> Option<Value> {
    match out {
        Cow::Borrowed(v) if std::ptr::eq(v, raw) => None,
        other => Some(other.into_owned()),
    }
}

fn payload_ok(v: &Value, name: &str) -> std::result::Result<(), Failure> {
    if asl::fits(v, MAX_PAYLOAD_BYTES) { Ok(()) } else { Err(Failure::data_limit(name)) }
}

struct Cx<'a> {
    obj: &'a Object,
    node: &'a NodeSpec,
    now: i64,
    p: &'a Progress,
    /// The cycle's policy request parts, built on first use.
    prepared: std::cell::OnceCell<crate::policy::Prepared>,
    /// What the cycle's evaluations may still do (`Limits::max_cycle_work`).
    work: asl::Work,
}

impl<'a> Cx<'a> {
    fn new(obj: &'a Object, node: &'a NodeSpec, now: i64, p: &'a Progress) -> Cx<'a> {
        Cx { obj, node, now, p, prepared: std::cell::OnceCell::new(), work: asl::Work::new(node.limits.max_cycle_work) }
    }
}

impl<'a> Cx<'a> {
    /// What evaluating `state` may read: the context object and the seed (built on first
    /// use), the variables in force and the record's clock reading, with the cycle's work
    /// budget.
    fn env<'e>(&'e self, state: &'e State) -> Env<'e> {
        Env::lazy(move || context_object(self.obj, state, self.p, self.now), move || seed(self.obj, &state.name))
            .metered(&self.work)
            .with_variables(&self.obj.variables)
            .with_now(self.now)
    }
}

impl Cx<'_> {
    /// The visit the cycle's record belongs to: the open one, or the next.
    fn visit_number(&self) -> u32 {
        if self.obj.scratch.visit_open { self.p.visit } else { self.p.visit.saturating_add(1) }
    }

    fn record(&self, body: Body, state: &str, next_state: String, status: Status) -> Record {
        let visit = self.visit_number();
        Record {
            body,
            state: state.to_owned(),
            next_state,
            status,
            node: self.node.node_ref(),
            time_ms: self.now,
            policy: None,
            advice: None,
            intent_hash: None,
            context_hash: None,
            data_hash: None,
            variables_hash: None,
            assigned: None,
            signed: false,
            visit,
            seq: self.obj.next_seq(),
        }
    }

    /// A record that stays in this visit.
    fn stay(&self, body: Body, state: &str, next: String, data: Option<Value>) -> Transition {
        Transition {
            record: self.record(body, state, next, Status::Running),
            data,
            intent: None,
            context: None,
            refinement: None,
            children: Vec::new(),
            data_text: None,
            disposition: None,
            completions: Vec::new(),
            variables: None,
        }
    }

    /// A record that ends the visit: commits the data hash and is signed when the node signs.
    fn leave(
        &self,
        body: Body,
        state: &str,
        next: String,
        status: Status,
        data: Option<Value>,
        disposition: Disposition,
    ) -> Transition {
        let mut record = self.record(body, state, next, status);
        // The data's canonical text is computed once: hashed here, stored by `apply`.
        let data_text = data.as_ref().map(cjson::canonical);
        record.data_hash = Some(match &data_text {
            Some(t) => Hash::data(t),
            None => self.obj.data_hash(),
        });
        record.signed = self.node.key.is_some();
        Transition {
            record,
            data,
            intent: None,
            context: None,
            refinement: None,
            children: Vec::new(),
            data_text,
            disposition: Some(disposition),
            completions: Vec::new(),
            variables: None,
        }
    }

    /// A wake condition, with the execution's deadline as its timeout when that comes
    /// first (so the holder presents the object in time to expire it).
    fn wake(&self, reason: DormantReason, at_ms: Option<i64>) -> Wake {
        let timeout_at_ms = deadline(self.obj, self.p).filter(|d| at_ms.is_none_or(|a| *d < a));
        Wake { reason, at_ms, event: None, timeout_at_ms }
    }

    fn dormant(&self, state: &State, wake: Wake) -> Transition {
        self.leave(
            Body::Dormant {
                reason: wake.reason,
                wake_at_ms: wake.at_ms,
                event: wake.event.clone(),
                timeout_at_ms: wake.timeout_at_ms,
            },
            &state.name,
            state.name.clone(),
            Status::Dormant,
            None,
            Disposition::Dormant(wake),
        )
    }

    fn next_of(state: &State) -> String {
        match &state.transition {
            Next::Next(n) => n.clone(),
            _ => String::new(),
        }
    }

    /// The error as recorded: runtime errors quote the state and its entry event.
    fn located(&self, state: &State, f: Failure) -> TaskError {
        let cause = if f.located {
            format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
                state.name,
                entered_event_id(self.obj, self.p.entered_seq),
                f.cause
            )
        } else {
            f.cause
        };
        TaskError { error: f.error, cause: Some(cause) }
    }

    fn terminate_failed(&self, state: &str, error: TaskError) -> Transition {
        let disposition = Disposition::Terminated { status: Status::Failed, output: None, error: Some(error.clone()) };
        self.leave(
            Body::Terminate { status: Status::Failed, output: None, error: Some(error) },
            state,
            String::new(),
            Status::Failed,
            None,
            disposition,
        )
    }

    /// An error raised by `state`: retried (when `may_retry`), caught, or the end.
    fn handle_error(&self, state: &State, e: TaskError, may_retry: bool) -> Result<Decision> {
        let (retry, catch) = match &state.kind {
            StateKind::Task(t) => (&t.retry[..], &t.catch[..]),
            StateKind::Parallel(p) => (&p.retry[..], &p.catch[..]),
            StateKind::Map(m) => (&m.retry[..], &m.catch[..]),
            _ => (&[][..], &[][..]),
        };
        if let Some(i) = retrier_index(Some(state), &e.error).filter(|_| may_retry) {
            let r = &retry[i];
            let count = self.p.retries.get(i).copied().unwrap_or(1).max(1);
            if u64::from(count) <= r.max_attempts {
                let make_seed = || seed(self.obj, &state.name);
                let env = Env::lazy(|| Value::Null, make_seed)
                    .metered(&self.work)
                    .with_variables(&self.obj.variables)
                    .with_now(self.now);
                let delay = asl::backoff_ms(r, count - 1, env.random(None));
                if delay <= 0 {
                    return self.evaluate(state);
                }
                let wake = self.wake(DormantReason::Retry, Some(self.now.saturating_add(delay)));
                return Ok(Decision::Record(self.dormant(state, wake)));
            }
        }
        let caught = catch.iter().enumerate().find(|(_, c)| asl::error_matches(&c.error_equals, &e.error));
        if let Some((i, c)) = caught.filter(|_| e.error != errors::RUNTIME) {
            let error_output = json!({"Error": e.error, "Cause": e.cause.clone().unwrap_or_default()});
            let env = self.env(state);
            let st = asl::jsonata::States { input: &self.obj.data, result: None, error_output: Some(&error_output) };
            let assigned = match self.assign(state, c.assign.as_ref(), &error_output, &st, &env) {
                Ok(a) => a,
                Err(f) => return Ok(Decision::Record(self.terminate_failed(&state.name, self.located(state, f)))),
            };
            let data = match state.query_language {
                QueryLanguage::JsonPath => {
                    asl::place(&self.obj.data, &c.result_path, Cow::Borrowed(&error_output)).map(Cow::into_owned)
                }
                QueryLanguage::Jsonata => self.output(c.output.as_ref(), &st, &env, error_output.clone()),
            };
            return match data {
                Ok(data) => {
                    if let Err(f) = payload_ok(&data, &state.name) {
                        return Ok(Decision::Record(self.terminate_failed(&state.name, self.located(state, f))));
                    }
                    let change = json!({"catch": i, "error": e.error});
                    Ok(Decision::Record(assign::commit(
                        assigned,
                        self.stay(
                            Body::Mutate {
                                kind: MutateKind::Route,
                                revision: self.obj.intent.revision(),
                                change: Some(cjson::canonical(&change)),
                            },
                            &state.name,
                            c.next.clone(),
                            Some(data),
                        ),
                    )))
                }
                Err(f) => Ok(Decision::Record(self.terminate_failed(&state.name, self.located(state, f)))),
            };
        }
        Ok(Decision::Record(self.terminate_failed(&state.name, e)))
    }

    /// Evaluates `state` with the object's data as its input.
    fn evaluate(&self, state: &State) -> Result<Decision> {
        let env = self.env(state);
        if let StateKind::Map(_) = &state.kind
            && fanout::fan_out_launched(self.obj) == 0
            && let Ok(n) = self.count_children(state, &env)
            && n > self.node.limits.max_children
        {
            return Err(Error::limit(format!(
                "Map state `{}` has {n} items, more than a fan-out may create (Limits::max_children = {}): \
                 each item is a child object recorded in the parent",
                state.name, self.node.limits.max_children
            ))
            .in_state(state.name.clone()));
        }
        // A budget error a rule or lookup absorbed (an `IsPresent` on a spent budget
        // reads as absent) still ends the state: nothing decided past it stands.
        match self
            .eval_state(state, &env)
            .and_then(|d| if self.work.exhausted() { Err(self.work.failure()) } else { Ok(d) })
        {
            Ok(d) => Ok(d),
            Err(f) => {
                let e = self.located(state, f);
                self.handle_error(state, e, false)
            }
        }
    }

    fn eval_state(&self, state: &State, env: &Env<'_>) -> std::result::Result<Decision, Failure> {
        let raw = &self.obj.data;
        let name = &state.name;
        if let Some(spec) = self.obj.intent.plan().awaits.get(name) {
            return self.await_event(state, spec, env);
        }
        if state.query_language == QueryLanguage::Jsonata
            && let Some(d) = self.eval_jsonata(state, env)?
        {
            return Ok(d);
        }
        match &state.kind {
            StateKind::Pass(pass) => {
                let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
                let result = match (&pass.result, &pass.parameters) {
                    (Some(r), _) => Cow::Borrowed(r),
                    (None, Some(t)) => Cow::Owned(asl::template(t, &input, env)?),
                    (None, None) => input,
                };
                let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                let assigned = self.assign(state, state.assign.as_ref(), &result, &st, env)?;
                let placed = asl::place(raw, &pass.result_path, result)?;
                let out = asl::select(placed, &state.output_path, env)?;
                payload_ok(&out, name)?;
                let next = Self::next_of(state);
                Ok(Decision::Record(assign::commit(
                    assigned,
                    self.stay(
                        Body::Mutate { kind: MutateKind::Data, revision: self.obj.intent.revision(), change: None },
                        name,
                        next,
                        changed(raw, out),
                    ),
                )))
            }
            StateKind::Choice(choice) => {
                let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
                let mut chosen = None;
                for (i, b) in choice.choices.iter().enumerate() {
                    if asl::rule_matches(&b.rule, &input, env)? {
                        chosen = Some((json!(i), b.next.clone(), b.assign.as_ref()));
                        break;
                    }
                }
                let (which, next, assign) = match (chosen, &choice.default) {
                    (Some(c), _) => c,
                    (None, Some(d)) => (json!("Default"), d.clone(), state.assign.as_ref()),
                    (None, None) => {
                        return Err(Failure::new(
                            errors::NO_CHOICE_MATCHED,
                            format!("No Matches! (state '{name}': no choice rule matched and there is no Default)"),
                        ));
                    }
                };
                let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                let assigned = self.assign(state, assign, &input, &st, env)?;
                let out = asl::select(input, &state.output_path, env)?;
                Ok(self.chose(name, which, next, changed(raw, out), assigned))
            }
            StateKind::Wait(w) => {
                let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
                let at = self.wake_at(&w.wait_for, &input, env)?;
                Ok(Decision::Record(self.dormant(state, self.wake(DormantReason::Wait, Some(at)))))
            }
            StateKind::Succeed => {
                let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
                let out = asl::select(input, &state.output_path, env)?;
                Ok(Decision::Record(self.succeed(name, out.into_owned())))
            }
            StateKind::Fail(f) => {
                let text = |spec: &Option<StringSpec>, field: &str| -> std::result::Result<Option<String>, Failure> {
                    Ok(match spec {
                        None => None,
                        Some(StringSpec::Value(v)) => Some(v.clone()),
                        Some(StringSpec::Path(p)) => {
                            let v = if asl::intrinsics::is_call(p) {
                                asl::intrinsics::eval(p, raw, env, field)?
                            } else {
                                env.query(p, raw).map_err(|e| {
                                    if let asl::path::PathError::Budget(_) = e {
                                        return Failure::invalid_path(p, &e);
                                    }
                                    Failure::runtime(format!(
                                        "The JSONPath '{p}' specified for the field '{field}' could not be found in the input '{raw}'"
                                    ))
                                })?
                            };
                            Some(v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        }
                        Some(StringSpec::Expr(e)) => {
                            let field = field.trim_end_matches("Path");
                            let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                            let v = asl::jsonata::evaluate(e, field, &st, env)?;
                            Some(v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        }
                    })
                };
                let error = text(&f.error, "ErrorPath")?;
                let cause = text(&f.cause, "CausePath")?;
                let te = match (error, cause) {
                    (None, None) => None,
                    (e, c) => Some(TaskError { error: e.unwrap_or_default(), cause: c }),
                };
                let disposition = Disposition::Terminated { status: Status::Failed, output: None, error: te.clone() };
                Ok(Decision::Record(self.leave(
                    Body::Terminate { status: Status::Failed, output: None, error: te },
                    name,
                    String::new(),
                    Status::Failed,
                    None,
                    disposition,
                )))
            }
            StateKind::Task(task) => {
                if !self.node.has(&task.resource) {
                    return Ok(Decision::Record(self.delegate(
                        state,
                        DelegateReason::Capability,
                        &task.resource,
                        None,
                    )));
                }
                let policy = self.authorize(PolicyAction::Execute, Some(&task.resource));
                if let Some(p) = policy.as_ref().filter(|p| p.decision == crate::PolicyDecision::Deny) {
                    let denied = p.clone();
                    return Ok(Decision::Record(self.delegate(
                        state,
                        DelegateReason::Policy,
                        &task.resource,
                        Some(denied),
                    )));
                }
                let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
                let effective = match (&task.parameters, &task.arguments) {
                    (Some(t), _) => asl::template(t, &input, env)?,
                    (None, Some(a)) => {
                        let st = asl::jsonata::States { input: &input, result: None, error_output: None };
                        asl::jsonata::template(a, "Arguments", &st, env)?
                    }
                    (None, None) => input.into_owned(),
                };
                let timeout = match &task.timeout_seconds {
                    None => None,
                    Some(NumberSpec::Value(v)) => Some(*v),
                    Some(NumberSpec::Expr(e)) => {
                        let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                        let v = asl::jsonata::evaluate(e, "TimeoutSeconds", &st, env)?;
                        match v.as_f64() {
                            Some(n) if n > 0.0 => Some(n),
                            _ => return Err(asl::jsonata::unexpected(e, "TimeoutSeconds", "number", &v)),
                        }
                    }
                    Some(NumberSpec::Path(p)) => {
                        let v = env.query(p, raw).map_err(|e| Failure::invalid_path(p, &e))?;
                        match v.as_f64() {
                            Some(n) if n > 0.0 => Some(n),
                            _ => {
                                return Err(Failure::runtime(format!(
                                    "The TimeoutSecondsPath parameter does not reference a positive number: {p} == {v}"
                                )));
                            }
                        }
                    }
                };
                let attempt = self.p.attempts;
                Ok(Decision::Execute(TaskCall {
                    state: name.clone(),
                    capability: task.resource.clone(),
                    input: effective,
                    attempt,
                    idempotency_key: attempt_key(self.obj, name, self.p),
                    deadline_ms: timeout.map(|t| self.now.saturating_add((t * 1000.0) as i64)),
                    policy,
                    advice: None,
                }))
            }
            StateKind::Parallel(_) | StateKind::Map(_) => self.fan_out(state, env),
        }
    }

    /// A Task's `TimeoutSeconds` / `HeartbeatSeconds` in whole seconds: given, read by
    /// `...SecondsPath` or computed by a JSONata expression, from the object's data.
    fn seconds(
        &self,
        spec: &Option<NumberSpec>,
        field: &str,
        env: &Env<'_>,
    ) -> std::result::Result<Option<u64>, Failure> {
        let raw = &self.obj.data;
        let (v, shown) = match spec {
            None => return Ok(None),
            Some(NumberSpec::Value(v)) => return Ok(Some(*v as u64)),
            Some(NumberSpec::Path(p)) => (env.query(p, raw).map_err(|e| Failure::invalid_path(p, &e))?, p.clone()),
            Some(NumberSpec::Expr(e)) => {
                let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                let v = asl::jsonata::evaluate(e, field, &st, env)?;
                match v.as_f64() {
                    Some(n) if n > 0.0 => return Ok(Some(n.ceil() as u64)),
                    _ => return Err(asl::jsonata::unexpected(e, field, "number", &v)),
                }
            }
        };
        match v.as_f64() {
            Some(n) if n > 0.0 => Ok(Some(n.ceil() as u64)),
            _ => Err(Failure::runtime(format!(
                "The {field}Path parameter does not reference a positive number: {shown} == {v}"
            ))),
        }
    }

    /// When a Wait state wakes: `Seconds` / `Timestamp` as given, read by a path or
    /// computed by a JSONata expression.
    fn wake_at(&self, wait_for: &WaitFor, input: &Value, env: &Env<'_>) -> std::result::Result<i64, Failure> {
        Ok(match wait_for {
            WaitFor::Seconds(s) => self.now.saturating_add(i64::try_from(*s).unwrap_or(i64::MAX).saturating_mul(1000)),
            WaitFor::Timestamp(t) => asl::parse_timestamp(t).ok_or_else(|| {
                Failure::runtime(format!(
                    "The Timestamp parameter does not reference a valid ISO-8601 extended offset date-time format string: {t}"
                ))
            })?,
            WaitFor::SecondsPath(p) => {
                let v = env.query(p, input)
                    .map_err(|e| Failure::invalid_path(p, &e))?;
                let secs = match &v {
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.as_i64().unwrap_or(i64::MAX),
                    Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => n.as_f64().unwrap_or(0.0) as i64,
                    _ => {
                        return Err(Failure::runtime(format!(
                            "The SecondsPath parameter cannot be parsed as a long value: {p} == {v}"
                        )));
                    }
                };
                if secs < 0 {
                    return Err(Failure::runtime(format!(
                        "The SecondsPath parameter references a negative value: {p} == {v}"
                    )));
                }
                self.now.saturating_add(secs.saturating_mul(1000))
            }
            WaitFor::SecondsExpr(e) => {
                let st = asl::jsonata::States { input, result: None, error_output: None };
                let v = asl::jsonata::evaluate(e, "Seconds", &st, env)?;
                match v.as_i64() {
                    Some(secs) if secs >= 0 => self.now.saturating_add(secs.saturating_mul(1000)),
                    _ => return Err(asl::jsonata::unexpected(e, "Seconds", "integer", &v)),
                }
            }
            WaitFor::TimestampExpr(e) => {
                let st = asl::jsonata::States { input, result: None, error_output: None };
                let v = asl::jsonata::evaluate(e, "Timestamp", &st, env)?;
                let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                v.as_str().and_then(asl::parse_timestamp).ok_or_else(|| Failure {
                    error: errors::QUERY_EVALUATION_ERROR.to_owned(),
                    cause: format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}"
                    ),
                    located: true,
                })?
            }
            WaitFor::TimestampPath(p) => {
                let v = env.query(p, input)
                    .map_err(|e| Failure::invalid_path(p, &e))?;
                let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                v.as_str().and_then(asl::parse_timestamp).ok_or_else(|| {
                    Failure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {shown}"
                    ))
                })?
            }
        })
    }

    fn succeed(&self, state: &str, output: Value) -> Transition {
        let disposition =
            Disposition::Terminated { status: Status::Succeeded, output: Some(output.clone()), error: None };
        self.leave(
            Body::Terminate { status: Status::Succeeded, output: Some(cjson::canonical(&output)), error: None },
            state,
            String::new(),
            Status::Succeeded,
            Some(output),
            disposition,
        )
    }
}

/// When the execution expires: the plan's `TimeoutSeconds` after its start, or the
/// `Constraints.Deadline`, whichever comes first.
fn deadline(obj: &Object, p: &Progress) -> Option<i64> {
    let plan = obj.intent.plan();
    let by_timeout = plan
        .timeout_seconds
        .map(|t| p.start_ms.saturating_add(i64::try_from(t).unwrap_or(i64::MAX).saturating_mul(1000)));
    match (by_timeout, plan.constraints.deadline_ms) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn state_of<'a>(obj: &'a Object, name: &str) -> Result<&'a State> {
    crate::intent::find_state(&obj.intent.plan().machine, name)
        .ok_or_else(|| Error::integrity(format!("the object is at state `{name}`, which its intent does not define")))
}

/// Decides the next action for `obj` at `node`, by the node's clock `now_ms`, with an
/// optional presented `event`. Pure: the object is not changed.
pub fn decide(obj: &Object, node: &NodeSpec, now_ms: i64, event: Option<&Event>) -> Result<Decision> {
    decide_advised(obj, node, now_ms, event, None)
}

/// [`decide`] with an advisor's proposal: followed when it is valid and policy permits
/// it, otherwise overridden; either way the record of the decided action holds it.
pub fn decide_advised(
    obj: &Object,
    node: &NodeSpec,
    now_ms: i64,
    event: Option<&Event>,
    advice: Option<&Proposal>,
) -> Result<Decision> {
    if obj.status.is_terminal() {
        return Err(Error::terminated(format!("the object has already terminated ({})", obj.status.as_str())));
    }
    let p = obj.progress()?;
    let cx = Cx::new(obj, node, now_ms, p);
    // The object's own limits first, then whether this node may visit it at all, then
    // what changes the plan, then the step itself.
    if let Some(t) = cx.constraints() {
        return Ok(Decision::Record(t));
    }
    if !obj.scratch.visit_open
        && let Some(t) = cx.visit_check()?
    {
        return Ok(Decision::Record(t));
    }
    if let Some(t) = cx.handler_refinement()? {
        return Ok(Decision::Record(t));
    }
    let at_error = matches!(p.pending, Pending::Error(_));
    if (at_error || matches!(p.pending, Pending::Evaluate))
        && let Some(t) = cx.adapt(at_error)?
    {
        return Ok(Decision::Record(t));
    }
    match &p.pending {
        Pending::Done => Err(Error::terminated("the object has already terminated")),
        Pending::Ended => {
            let data = obj.data.clone();
            Ok(Decision::Record(cx.succeed("", data)))
        }
        Pending::Dormant(w) => {
            let by_time = w.at_ms.is_some_and(|at| now_ms >= at) || w.timeout_at_ms.is_some_and(|at| now_ms >= at);
            let by_event = match (&w.event, event) {
                (Some(name), Some(e)) => *name == e.name,
                _ => false,
            };
            if !by_time && !by_event {
                return Ok(Decision::Sleep(w.clone()));
            }
            let state = state_of(obj, &obj.state)?;
            if w.reason == DormantReason::Await {
                return Ok(cx.end_await(state, w, event.filter(|_| by_event)));
            }
            let (cause, ev, payload) = if by_event {
                let e = event.expect("checked");
                (ReentryCause::Event, Some(e.name.clone()), Some(cjson::canonical(&e.payload)))
            } else {
                (ReentryCause::Time, None, None)
            };
            let body = Body::Reentry { cause, event: ev, payload };
            match (&w.reason, &state.kind) {
                (DormantReason::Wait, StateKind::Wait(_)) => {
                    let env = cx.env(state);
                    let out = asl::select(Cow::Borrowed(&obj.data), &state.input_path, &env).and_then(|input| {
                        let st = asl::jsonata::States { input: &obj.data, result: None, error_output: None };
                        let assigned = cx.assign(state, state.assign.as_ref(), &input, &st, &env)?;
                        let out = match state.query_language {
                            QueryLanguage::JsonPath => asl::select(input, &state.output_path, &env)?,
                            QueryLanguage::Jsonata => {
                                Cow::Owned(cx.output(state.output.as_ref(), &st, &env, obj.data.clone())?)
                            }
                        };
                        payload_ok(&out, &state.name)?;
                        Ok((assigned, out))
                    });
                    match out {
                        Ok((assigned, out)) => {
                            let data = changed(&obj.data, out);
                            let t = cx.stay(body, &state.name, Cx::next_of(state), data);
                            Ok(Decision::Record(assign::commit(assigned, t)))
                        }
                        Err(f) => Ok(Decision::Record(cx.terminate_failed(&state.name, cx.located(state, f)))),
                    }
                }
                _ => Ok(Decision::Record(cx.stay(body, &state.name, state.name.clone(), None))),
            }
        }
        Pending::Error(e) => {
            let state = state_of(obj, &obj.state)?;
            cx.handle_error(state, e.clone(), true)
        }
        Pending::AwaitToken(token) => {
            let state = state_of(obj, &obj.state)?;
            let env = cx.env(state);
            let seconds = |field: &str| match &state.kind {
                StateKind::Task(t) if field == "TimeoutSeconds" => cx.seconds(&t.timeout_seconds, field, &env),
                StateKind::Task(t) => cx.seconds(&t.heartbeat_seconds, field, &env),
                _ => Ok(None),
            };
            seconds("TimeoutSeconds")
                .and_then(|timeout_seconds| {
                    let spec = crate::intent::AwaitSpec {
                        event: StringSpec::Value(token.clone()),
                        timeout_seconds,
                        heartbeat_seconds: seconds("HeartbeatSeconds")?,
                    };
                    cx.await_event(state, &spec, &env)
                })
                .or_else(|f| Ok(Decision::Record(cx.terminate_failed(&state.name, cx.located(state, f)))))
        }
        Pending::Evaluate => {
            if let Some(t) = cx.compaction()? {
                return Ok(Decision::Record(t));
            }
            let state = state_of(obj, &obj.state)?;
            let Some(proposal) = advice else { return cx.evaluate(state) };
            match cx.judge(state, proposal) {
                advice::Verdict::Follow(d) => Ok(d),
                advice::Verdict::Annotate(a) => Ok(match cx.evaluate(state)? {
                    Decision::Record(mut t) => {
                        t.record.advice = Some(a);
                        Decision::Record(t)
                    }
                    Decision::Execute(mut call) => {
                        call.advice = Some(a);
                        Decision::Execute(call)
                    }
                    d => d,
                }),
            }
        }
    }
}

/// The second phase of `execute`: the record of a handler's `outcome` for `call`
/// (which [`decide`] returned for this object), by the node's clock `now_ms`. A result
/// after the call's deadline is `States.Timeout`.
pub fn outcome(obj: &Object, node: &NodeSpec, call: &TaskCall, result: TaskOutcome, now_ms: i64) -> Result<Transition> {
    let p = obj.progress()?;
    if obj.state != call.state || p.pending != Pending::Evaluate || call.attempt != p.attempts {
        return Err(Error::invalid_argument(format!(
            "this task call (state `{}`, attempt {}) is not the object's pending execution",
            call.state, call.attempt
        )));
    }
    let state = state_of(obj, &call.state)?;
    let StateKind::Task(task) = &state.kind else {
        return Err(Error::invalid_argument(format!("state `{}` is not a Task", call.state)));
    };
    let cx = Cx::new(obj, node, now_ms, p);
    let (result, refinement) = match result {
        TaskOutcome::Refined { output, refinement } => {
            // Checked now, so that a bad refinement is the task's error, not a later surprise.
            let legal =
                adapt::refine(&obj.intent, &refinement).map_err(|e| e.message().to_owned()).and_then(|(after, _)| {
                    let origin = match &obj.origin {
                        Some(text) => crate::Intent::from_json_text(text, &crate::Limits::default())
                            .map_err(|e| e.message().to_owned())?,
                        None => (*obj.intent).clone(),
                    };
                    adapt::check_refinement(&origin, &obj.intent, &after, &refinement)
                });
            if let Err(why) = legal {
                let error = TaskError { error: INVALID_REFINEMENT.into(), cause: Some(why) };
                return Ok(cx.stay(
                    Body::Execute {
                        capability: call.capability.clone(),
                        attempt: call.attempt,
                        idempotency_key: Some(call.idempotency_key.clone()),
                        output: None,
                        error: Some(error),
                    },
                    &state.name,
                    state.name.clone(),
                    None,
                ));
            }
            (TaskOutcome::Output(output), Some(refinement))
        }
        other => (other, None),
    };
    let result = match result {
        _ if call.deadline_ms.is_some_and(|d| now_ms > d) => {
            TaskOutcome::Error { error: errors::TIMEOUT.to_owned(), cause: None }
        }
        r => r,
    };
    let body = |output: Option<String>, error: Option<TaskError>| Body::Execute {
        capability: call.capability.clone(),
        attempt: call.attempt,
        idempotency_key: Some(call.idempotency_key.clone()),
        output,
        error,
    };
    let with_policy = |mut t: Transition| {
        t.record.policy = call.policy.clone();
        t.record.advice = call.advice.clone();
        t
    };
    let failed = |e: TaskError| with_policy(cx.stay(body(None, Some(e)), &state.name, state.name.clone(), None));
    match result {
        TaskOutcome::Error { error, cause } => Ok(failed(TaskError { error, cause })),
        TaskOutcome::Refined { .. } => Err(Error::internal("a refined outcome is unwrapped above")),
        TaskOutcome::Output(v) => {
            let env = cx.env(state);
            let mut assigned = None;
            let processed = (|| {
                payload_ok(&v, task_display_name(&task.resource))?;
                let selected = match &task.result_selector {
                    Some(t) => Cow::Owned(asl::template(t, &v, &env)?),
                    None => Cow::Borrowed(&v),
                };
                let st = asl::jsonata::States { input: &obj.data, result: Some(&v), error_output: None };
                if !task.resource.ends_with(WAIT_FOR_TASK_TOKEN) {
                    assigned = cx.assign(state, state.assign.as_ref(), &selected, &st, &env)?;
                }
                let out = match state.query_language {
                    QueryLanguage::JsonPath => {
                        let placed = asl::place(&obj.data, &task.result_path, selected)?;
                        asl::select(placed, &state.output_path, &env)?
                    }
                    QueryLanguage::Jsonata if task.resource.ends_with(WAIT_FOR_TASK_TOKEN) => Cow::Borrowed(&obj.data),
                    QueryLanguage::Jsonata => match &state.output {
                        Some(t) => Cow::Owned(asl::jsonata::template(t, "Output", &st, &env)?),
                        None => Cow::Borrowed(&v),
                    },
                };
                payload_ok(&out, &state.name)?;
                // Which value the data becomes: the raw data (unchanged), the handler's
                // output itself (moved, not copied), or a new value.
                Ok::<_, Failure>(match out {
                    Cow::Borrowed(x) if std::ptr::eq(x, &obj.data) => Ok(None),
                    Cow::Borrowed(x) if std::ptr::eq(x, &v) => Err(()),
                    other => Ok(Some(other.into_owned())),
                })
            })();
            match processed {
                Ok(_) if task.resource.ends_with(WAIT_FOR_TASK_TOKEN) => {
                    // The handler has handed the token out; the state now waits for it.
                    let text = cjson::canonical(&v);
                    Ok(with_policy(cx.stay(body(Some(text), None), &state.name, state.name.clone(), None)))
                }
                Ok(out) => {
                    let text = cjson::canonical(&v);
                    let data = out.unwrap_or(Some(v));
                    let mut t = with_policy(cx.stay(body(Some(text), None), &state.name, Cx::next_of(state), data));
                    t.refinement = refinement;
                    Ok(assign::commit(assigned, t))
                }
                Err(f) => Ok(failed(cx.located(state, f))),
            }
        }
    }
}

impl Object {
    /// The cached progress of the current state entry.
    pub(crate) fn progress(&self) -> Result<&Progress> {
        if let Some(p) = self.scratch.progress.get() {
            return Ok(p);
        }
        let p = Progress::from_memory(self)?;
        Ok(self.scratch.progress.get_or_init(|| p))
    }

    /// Appends a transition [`decide`] or [`outcome`] returned for this object,
    /// signing it with `node.key` when it ends the visit.
    pub fn apply(&mut self, t: Transition, node: &NodeSpec) -> Result<Option<Disposition>> {
        let Transition {
            record,
            data,
            intent,
            context,
            refinement,
            children,
            data_text,
            disposition,
            completions,
            variables,
        } = t;
        self.scratch.spawned.extend(children);
        if record.seq != self.next_seq() {
            return Err(Error::invalid_argument("this transition was decided for another version of the object"));
        }
        if let Some(i) = intent {
            if record.intent_hash != Some(i.hash()) {
                return Err(Error::invalid_argument("a transition that changes the intent must commit its hash"));
            }
            if self.origin.is_none() && self.version >= 2 {
                self.origin = Some(std::sync::Arc::from(self.intent.canonical_text()));
            }
            self.intent = std::sync::Arc::new(i);
        }
        if let Some(c) = context {
            let hash = c.hash();
            if record.context_hash != Some(hash) {
                return Err(Error::invalid_argument("a transition that changes the context must commit its hash"));
            }
            self.context = c;
            self.context_hash = hash;
        }
        if let Some((v, text)) = variables {
            if record.variables_hash != Some(Hash::variables(&text)) {
                return Err(Error::invalid_argument("a transition that assigns variables must commit their hash"));
            }
            self.set_variables(v, text);
        }
        let next = self.progress()?.after(&record, self);
        if let Some(d) = data {
            self.set_data(d);
            if let Some(text) = data_text {
                self.data_text = OnceLock::from(text);
            }
        }
        if let Some(h) = self.scratch.history.get_mut() {
            h.add(&record);
        }
        fanout::after(self, &record, &completions);
        if !completions.is_empty() {
            self.results.extend(completions);
        } else if !matches!(record.body, Body::Delegate { reason: DelegateReason::FanOut, .. }) {
            // Anything but a batch or a launch ends the fan-out's results section.
            self.results.clear();
        }
        self.scratch.refinement = refinement.map(|r| (record.state.clone(), r));
        let signer = if record.signed { node.key.as_ref() } else { None };
        let checkpoint = matches!(record.body, Body::Checkpoint { .. });
        self.append(record, signer)?;
        if checkpoint {
            self.prune()?;
        }
        self.scratch.progress = OnceLock::from(next);
        self.scratch.visit_open = disposition.is_none();
        Ok(disposition)
    }

    /// One cycle: decides and, unless a handler must run or the object sleeps, appends.
    pub fn step(&mut self, node: &NodeSpec, now_ms: i64, event: Option<&Event>) -> Result<Step> {
        self.step_advised(node, now_ms, event, None)
    }

    /// [`Object::step`] with an advisor's proposal.
    pub fn step_advised(
        &mut self,
        node: &NodeSpec,
        now_ms: i64,
        event: Option<&Event>,
        advice: Option<&Proposal>,
    ) -> Result<Step> {
        match decide_advised(self, node, now_ms, event, advice)? {
            Decision::Record(t) => Ok(Step::Appended(self.apply(t, node)?)),
            Decision::Execute(call) => Ok(Step::Execute(call)),
            Decision::Sleep(w) => Ok(Step::Sleep(w)),
        }
    }

    /// Records a handler's result for `call` (the second phase of `execute`).
    pub fn record_outcome(
        &mut self,
        node: &NodeSpec,
        call: &TaskCall,
        result: TaskOutcome,
        now_ms: i64,
    ) -> Result<Option<Disposition>> {
        let t = outcome(self, node, call, result, now_ms)?;
        self.apply(t, node)
    }
}

impl Wake {
    /// `{"reason": "wait", "at_ms": ..., "event": ..., "timeout_at_ms": ...}`.
    pub fn to_json(&self) -> Value {
        json!({
            "reason": format!("{:?}", self.reason).to_lowercase(),
            "at_ms": self.at_ms,
            "event": self.event,
            "timeout_at_ms": self.timeout_at_ms,
        })
    }
}

impl Disposition {
    /// The disposition as JSON, the same in every language: `{"kind": "delegate" |
    /// "dormant" | "terminated", ...}`.
    pub fn to_json(&self) -> Value {
        match self {
            Disposition::Delegate { reason, capability, target } => json!({
                "kind": "delegate",
                "reason": format!("{reason:?}").to_lowercase(),
                "capability": capability,
                "target": target,
            }),
            Disposition::Dormant(w) => {
                let mut v = w.to_json();
                v["kind"] = json!("dormant");
                v
            }
            Disposition::Terminated { status, output, error } => json!({
                "kind": "terminated",
                "status": status.as_str(),
                "output": output,
                "error": error.as_ref().map(|e| json!({"error": e.error, "cause": e.cause})),
            }),
        }
    }
}

impl TaskCall {
    /// What a handler is given, as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "state": self.state,
            "capability": self.capability,
            "input": self.input,
            "attempt": self.attempt,
            "idempotency_key": self.idempotency_key,
            "deadline_ms": self.deadline_ms,
        })
    }
}
