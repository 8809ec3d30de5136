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
mod eval;
mod fanout;
mod history;
mod join;
mod jsonata;
mod narrow;
mod outcome;
mod progress;
mod tokens;
mod types;

pub(crate) use adapt::{check_refinement, refine};
pub use advice::{ADVISED_TERMINATION, Proposal};
pub(crate) use fanout::FanOut;
pub(crate) use fanout::check_results;
pub(crate) use history::History;
pub use join::{join, join_all};
pub use narrow::narrow;
pub use outcome::outcome;
pub(crate) use progress::*;
pub use tokens::{accepts, awaited_key, event_key, is_commitment, is_task_token, vouched};
pub use types::*;

use crate::asl::{self, Env, Failure, MAX_PAYLOAD_BYTES, errors};
use crate::intent::{NumberSpec, QueryLanguage, State, StateKind, StringSpec, Transition as Next, WaitFor};
use crate::policy::{NodePolicy, PolicyAction};
use crate::{
    Body, DelegateReason, DormantReason, Error, Hash, MutateKind, NodeRef, Object, ObjectId, PolicyOutcome, PublicKey,
    Record, ReentryCause, Result, Signature, SigningKey, Status, TaskError, json as cjson,
};

/// The `$$` context object of a state: generated from the object, with the
/// `Execution` / `StateMachine` fields of the context attribute `"$$"` laid over it.
fn context_object(obj: &Object, state: &State, p: &Progress, now_ms: i64, key: Option<&SigningKey>) -> Value {
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
            task = Some(json!({"Token": tokens::task_token(key, &attempt_key(obj, &state.name, p))}));
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
        Env::of_state(self, state).metered(&self.work).with_variables(&self.obj.variables).with_now(self.now)
    }
}

impl asl::StateEnv for Cx<'_> {
    fn context_object(&self, state: &State) -> Value {
        context_object(self.obj, state, self.p, self.now, self.node.key.as_ref())
    }
    fn seed(&self, state: &State) -> [u8; 32] {
        seed(self.obj, &state.name)
    }
}

impl Cx<'_> {
    /// The visit the cycle's record belongs to: the open one, or the next.
    fn visit_number(&self) -> u32 {
        if self.obj.scratch.visit_open { self.p.visit } else { self.p.visit.saturating_add(1) }
    }

    fn record(&self, body: Body, state: impl Into<String>, next_state: String, status: Status) -> Record {
        let visit = self.visit_number();
        Record {
            body,
            state: state.into(),
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
    /// `state` is the state's name (a `String` already made for this record is moved in).
    fn stay(&self, body: Body, state: impl Into<String>, next: String, data: Option<Value>) -> Box<Transition> {
        Box::new(Transition {
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
        })
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
    ) -> Box<Transition> {
        let mut record = self.record(body, state, next, status);
        // The data's canonical text is computed once: hashed here, stored by `apply`.
        let data_text = data.as_ref().map(cjson::canonical);
        record.data_hash = Some(match &data_text {
            Some(t) => Hash::data(t),
            None => self.obj.data_hash(),
        });
        record.signed = self.node.key.is_some();
        Box::new(Transition {
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
        })
    }

    /// A wake condition, with the execution's deadline as its timeout when that comes
    /// first (so the holder presents the object in time to expire it).
    fn wake(&self, reason: DormantReason, at_ms: Option<i64>) -> Wake {
        let timeout_at_ms = deadline(self.obj, self.p).filter(|d| at_ms.is_none_or(|a| *d < a));
        Wake { reason, at_ms, event: None, timeout_at_ms }
    }

    fn dormant(&self, state: &State, wake: Wake) -> Box<Transition> {
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

    fn terminate_failed(&self, state: &str, error: TaskError) -> Box<Transition> {
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
                return Ok(Decision::record(self.dormant(state, wake)));
            }
        }
        let caught = catch.iter().enumerate().find(|(_, c)| asl::error_matches(&c.error_equals, &e.error));
        if let Some((i, c)) = caught.filter(|_| e.error != errors::RUNTIME) {
            let error_output = json!({"Error": e.error, "Cause": e.cause.clone().unwrap_or_default()});
            let env = self.env(state);
            let st = asl::jsonata::States { input: &self.obj.data, result: None, error_output: Some(&error_output) };
            let assigned = match self.assign(state, c.assign.as_ref(), &error_output, &st, &env) {
                Ok(a) => a,
                Err(f) => return Ok(Decision::record(self.terminate_failed(&state.name, self.located(state, f)))),
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
                        return Ok(Decision::record(self.terminate_failed(&state.name, self.located(state, f))));
                    }
                    let change = json!({"catch": i, "error": e.error});
                    Ok(Decision::record(assign::commit(
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
                Err(f) => Ok(Decision::record(self.terminate_failed(&state.name, self.located(state, f)))),
            };
        }
        Ok(Decision::record(self.terminate_failed(&state.name, e)))
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
        return Ok(Decision::record(t));
    }
    if !obj.scratch.visit_open
        && let Some(t) = cx.visit_check()?
    {
        return Ok(Decision::record(t));
    }
    if let Some(t) = cx.handler_refinement()? {
        return Ok(Decision::record(t));
    }
    let at_error = matches!(p.pending, Pending::Error(_));
    if (at_error || matches!(p.pending, Pending::Evaluate))
        && let Some(t) = cx.adapt(at_error)?
    {
        return Ok(Decision::record(t));
    }
    match &p.pending {
        Pending::Done => Err(Error::terminated("the object has already terminated")),
        Pending::Ended => {
            let data = obj.data().clone();
            Ok(Decision::record(cx.succeed("", data)))
        }
        Pending::Dormant(w) => {
            let by_time = w.at_ms.is_some_and(|at| now_ms >= at) || w.timeout_at_ms.is_some_and(|at| now_ms >= at);
            let by_event = match (&w.event, event) {
                (Some(name), Some(e)) => tokens::accepts(name, &e.name) && tokens::vouched(obj, e),
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
                                Cow::Owned(cx.output(state.output.as_ref(), &st, &env, obj.data().clone())?)
                            }
                        };
                        payload_ok(&out, &state.name)?;
                        Ok((assigned, out))
                    });
                    match out {
                        Ok((assigned, out)) => {
                            let data = changed(&obj.data, out);
                            let t = cx.stay(body, &state.name, Cx::next_of(state), data);
                            Ok(Decision::record(assign::commit(assigned, t)))
                        }
                        Err(f) => Ok(Decision::record(cx.terminate_failed(&state.name, cx.located(state, f)))),
                    }
                }
                _ => Ok(Decision::record(cx.stay(body, &state.name, state.name.clone(), None))),
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
                        signers: Vec::new(),
                        timeout_seconds,
                        heartbeat_seconds: seconds("HeartbeatSeconds")?,
                    };
                    cx.await_event(state, &spec, &env)
                })
                .or_else(|f| Ok(Decision::record(cx.terminate_failed(&state.name, cx.located(state, f)))))
        }
        Pending::Evaluate => {
            if let Some(t) = cx.compaction()? {
                return Ok(Decision::record(t));
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
    pub fn apply(&mut self, t: Box<Transition>, node: &NodeSpec) -> Result<Option<Disposition>> {
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
        } = *t;
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
            self.intent = std::sync::Arc::new(*i);
        }
        if let Some(c) = context {
            let hash = c.hash();
            if record.context_hash != Some(hash) {
                return Err(Error::invalid_argument("a transition that changes the context must commit its hash"));
            }
            self.context = *c;
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
        call: TaskCall,
        result: TaskOutcome,
        now_ms: i64,
    ) -> Result<Option<Disposition>> {
        let t = outcome(self, node, call, result, now_ms)?;
        self.apply(t, node)
    }
}
