//! Nodes: settings, handlers, advisors, clocks, visits and completions.

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

use peo_core::{Error, Object, Proposal};
use peo_runtime::host::{self, Setting};
use peo_runtime::{Clock, HANDLER_INVALID_OUTPUT, Handler, HandlerError, Invocation, Node};
use serde_json::Value;

use crate::{convert::*, error::*, key::*, object::*, visit::*};

/// What a handler is given. Every pointer is borrowed for the duration of the call.
#[repr(C)]
pub struct PeoCall {
    /// The capability (the Task state's `Resource`).
    pub capability: *const c_char,
    /// The state being executed.
    pub state: *const c_char,
    /// The state's effective input (after `InputPath` and `Parameters`), JSON.
    pub input_json: *const c_char,
    /// `<object id>/<state>/<entry>/<attempt>`: the same wherever this attempt runs, so a
    /// handler can recognise a repeated delivery.
    pub idempotency_key: *const c_char,
    /// 0 for the first attempt.
    pub attempt: u32,
    /// Whether the state has a deadline (`TimeoutSeconds`).
    pub has_deadline: bool,
    /// The deadline, ms since the Unix epoch by the node's clock (when `has_deadline`).
    pub deadline_ms: i64,
}

/// Where a handler puts its result: exactly one of `peo_task_result_set_output` or
/// `peo_task_result_set_error` (the last call wins), optionally
/// `peo_task_result_set_refinement`. Valid only during the handler call.
pub struct PeoTaskResult {
    outcome: Option<Result<Value, HandlerError>>,
    refinement: Option<Value>,
}

impl PeoTaskResult {
    pub(crate) fn new() -> PeoTaskResult {
        PeoTaskResult { outcome: None, refinement: None }
    }

    /// What the handler recorded; nothing is `peo.HandlerInvalidOutput`.
    pub(crate) fn take(self) -> Result<(Value, Option<Value>), HandlerError> {
        match self.outcome {
            Some(Ok(v)) => Ok((v, self.refinement)),
            Some(Err(e)) => Err(e),
            None => Err(HandlerError::new(
                HANDLER_INVALID_OUTPUT,
                "the handler returned without a result (call peo_task_result_set_output or peo_task_result_set_error)",
            )),
        }
    }
}

/// A handler call as C sees it, its strings written NUL-terminated into `buf` (which
/// must outlive the view).
pub(crate) fn call_view(invocation: &Invocation, buf: &mut Vec<u8>) -> PeoCall {
    buf.clear();
    let push = |buf: &mut Vec<u8>, s: &str| {
        let start = buf.len();
        if s.contains('\0') {
            buf.extend_from_slice(s.replace('\0', "\u{fffd}").as_bytes());
        } else {
            buf.extend_from_slice(s.as_bytes());
        }
        buf.push(0);
        start
    };
    let capability = push(buf, &invocation.capability);
    let state = push(buf, &invocation.state);
    let key = push(buf, &invocation.idempotency_key);
    // Written in place by serde_json itself (`to_string` goes through `Display`, twice
    // the cost, and allocates). JSON text never holds a raw NUL (serde_json escapes it).
    let input = buf.len();
    serde_json::to_writer(&mut *buf, &*invocation.input).expect("a JSON value writes to a Vec");
    buf.push(0);
    let at = |i: usize| buf[i..].as_ptr().cast::<c_char>();
    PeoCall {
        capability: at(capability),
        state: at(state),
        input_json: at(input),
        idempotency_key: at(key),
        attempt: invocation.attempt,
        has_deadline: invocation.deadline_ms.is_some(),
        deadline_ms: invocation.deadline_ms.unwrap_or(0),
    }
}

/// A handler: runs the work behind a capability. It must record its result in `result`
/// before returning; a handler that records nothing, or output that is not JSON, fails
/// the attempt with the error `peo.HandlerInvalidOutput` (which `Retry`/`Catch` can
/// match), and the visit goes on.
pub type PeoHandler =
    Option<unsafe extern "C" fn(user_data: *mut c_void, call: *const PeoCall, result: *mut PeoTaskResult)>;

/// Where an advisor puts its proposal (`peo_advice_propose`). Valid only during the
/// advisor call.
pub struct PeoAdvice {
    proposal: Option<Proposal>,
}

/// An advisor: before each cycle of a visit, may propose an action with
/// `peo_advice_propose`. `object` is borrowed for the call (read it with the
/// `peo_object_*` accessors; do not free it).
pub type PeoAdvisor =
    Option<unsafe extern "C" fn(user_data: *mut c_void, object: *const PeoObject, advice: *mut PeoAdvice)>;

/// A clock: ms since the Unix epoch.
pub type PeoClock = Option<unsafe extern "C" fn(user_data: *mut c_void) -> i64>;

/// Records the handler's output (JSON). Output that is not JSON fails the attempt
/// with `peo.HandlerInvalidOutput` and returns `PEO_DECODE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_task_result_set_output(
    result: *mut PeoTaskResult,
    output_json: *const c_char,
) -> PeoStatus {
    guard(|| {
        let result = unsafe { handle_mut(result, "result") }?;
        match unsafe { json_arg(output_json, "output_json") } {
            Ok(v) => {
                result.outcome = Some(Ok(v));
                Ok(())
            }
            Err(e) => {
                result.outcome = Some(Err(HandlerError::new(HANDLER_INVALID_OUTPUT, e.message())));
                Err(e)
            }
        }
    })
}

/// Records the handler's failure: an error name (matched by `Retry` / `Catch`, for
/// example `"Inventory.OutOfStock"`) and a cause (NULL for none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_task_result_set_error(
    result: *mut PeoTaskResult,
    error: *const c_char,
    cause: *const c_char,
) -> PeoStatus {
    guard(|| {
        let result = unsafe { handle_mut(result, "result") }?;
        let error = unsafe { str_arg(error, "error") };
        let cause = unsafe { opt_str_arg(cause, "cause") };
        let (error, cause) = match (error, cause) {
            (Ok(e), Ok(c)) if !e.is_empty() => (e, c),
            (Ok(_), Ok(_)) => {
                let e = invalid("`error` is empty: name the error, for example \"Inventory.OutOfStock\"");
                result.outcome = Some(Err(HandlerError::new(HANDLER_INVALID_OUTPUT, e.message())));
                return Err(e);
            }
            (Err(e), _) | (_, Err(e)) => {
                result.outcome = Some(Err(HandlerError::new(HANDLER_INVALID_OUTPUT, e.message())));
                return Err(e);
            }
        };
        result.outcome = Some(Err(HandlerError { error: error.to_owned(), cause: cause.map(str::to_owned) }));
        Ok(())
    })
}

/// Proposes a refinement of the object's intent along with the output
/// (`{"Objective"?, "Class"?, "Constraints"?, "States"?, "Goto"?}`, JSON), applied as a
/// `mutate` record if policy permits. Ignored when the handler records an error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_task_result_set_refinement(
    result: *mut PeoTaskResult,
    refinement_json: *const c_char,
) -> PeoStatus {
    guard(|| {
        let result = unsafe { handle_mut(result, "result") }?;
        result.refinement = Some(unsafe { json_arg(refinement_json, "refinement_json") }?);
        Ok(())
    })
}

/// Proposes an action (JSON `{"action": "execute" | "delegate" | "terminate",
/// "target"?, "confidence"?, "rationale"?}`). The node checks and authorises it like
/// any action: advice never overrides policy. An invalid proposal is not used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_advice_propose(advice: *mut PeoAdvice, proposal_json: *const c_char) -> PeoStatus {
    guard(|| {
        let advice = unsafe { handle_mut(advice, "advice") }?;
        advice.proposal = None;
        advice.proposal = Some(Proposal::from_json(&unsafe { json_arg(proposal_json, "proposal_json") }?)?);
        Ok(())
    })
}

/// A C function with its user data. The node may be used from several threads; the
/// header documents that callbacks run on the calling thread, and the user data is the
/// caller's to synchronise.
#[derive(Clone, Copy)]
pub(crate) struct Callback<F> {
    f: F,
    user_data: *mut c_void,
}

// SAFETY: the header makes the caller responsible for the user data being usable from
// the threads that call `peo_node_visit`; the function pointers themselves are plain code.
unsafe impl<F> Send for Callback<F> {}
unsafe impl<F> Sync for Callback<F> {}

pub(crate) type HandlerFn = unsafe extern "C" fn(*mut c_void, *const PeoCall, *mut PeoTaskResult);
pub(crate) type AdvisorFn = unsafe extern "C" fn(*mut c_void, *const PeoObject, *mut PeoAdvice);
pub(crate) type ClockFn = unsafe extern "C" fn(*mut c_void) -> i64;

impl Handler for Callback<HandlerFn> {
    fn call(&self, invocation: &Invocation) -> Result<Value, HandlerError> {
        self.call_refined(invocation).map(|(v, _)| v)
    }

    fn call_refined(&self, invocation: &Invocation) -> Result<(Value, Option<Value>), HandlerError> {
        // The call's strings go in a buffer reused across calls on this thread (taken out
        // while in use, so a nested visit gets its own).
        let mut buf = CALL_BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
        let call = call_view(invocation, &mut buf);
        let mut result = PeoTaskResult::new();
        // SAFETY: a function pointer registered by the caller, with its own user data.
        unsafe { (self.f)(self.user_data, &call, &mut result) };
        CALL_BUFFER.with(|b| *b.borrow_mut() = buf);
        result.take()
    }
}

impl Callback<AdvisorFn> {
    fn advise(&self, object: &Object) -> Option<Proposal> {
        let mut advice = PeoAdvice { proposal: None };
        let object = ptr::from_ref(object).cast::<PeoObject>();
        // SAFETY: `PeoObject` is a transparent wrapper of `Object`; the pointer is
        // borrowed for the call, as the header says.
        unsafe { (self.f)(self.user_data, object, &mut advice) };
        advice.proposal
    }
}

impl Clock for Callback<ClockFn> {
    fn now_ms(&self) -> i64 {
        // SAFETY: a function pointer registered by the caller, with its own user data.
        unsafe { (self.f)(self.user_data) }
    }
}

/// A node: a place that evaluates objects. Free with `peo_node_free`.
///
/// Visits, completions and serve loops use it shared (several threads may visit with
/// one node at once); `peo_node_set_*` and `peo_node_add_handler` change it only while
/// nothing uses it, and otherwise fail with `PEO_INVALID_ARGUMENT` (a handler or advisor
/// reconfiguring the node that is calling it, a serve loop running on another thread):
/// configure a node before using it.
pub struct PeoNode {
    pub(crate) node: std::sync::RwLock<Arc<Node>>,
}

impl PeoNode {
    pub(crate) fn set(&self, setting: Setting<'_>) -> Result<(), Error> {
        let mut guard = match self.node.try_write() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(invalid(
                    "the node is in use (a visit, completion or serve loop is running with it, perhaps the one \
                     calling this from a handler): configure a node before using it",
                ));
            }
        };
        // A session in progress keeps the node as it was when it began.
        host::apply(Arc::make_mut(&mut guard), setting)
    }

    /// The node, shared, for the duration of a visit, a completion or a serve loop.
    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Arc<Node>> {
        self.node.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// A node with an id and a domain, no key, no handlers, no policy, the system clock,
/// accepting nothing until it is given trust (`peo_node_set_trust`,
/// `peo_node_set_trusted_keys`). Configure it with the `peo_node_set_*` /
/// `peo_node_add_handler` functions before visits (while a visit, completion or serve
/// loop uses the node they fail with `PEO_INVALID_ARGUMENT`). Free `*out` with
/// `peo_node_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_new(id: *const c_char, domain: *const c_char, out: *mut *mut PeoNode) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let id = unsafe { str_arg(id, "id") }?;
        let domain = unsafe { str_arg(domain, "domain") }?;
        *out = Box::into_raw(Box::new(PeoNode { node: std::sync::RwLock::new(Arc::new(host::new_node(id, domain)?)) }));
        Ok(())
    })
}

/// The node signs the last record of every visit with `key` (copied; free yours
/// whenever you like).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_key(node: *mut PeoNode, key: *const PeoSigningKey) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        let key = unsafe { handle(key, "key") }?.0.clone();
        node.set(Setting::Key(key))
    })
}

/// The node's Cedar policies (text), validated against peo's schema (docs/policy.md).
/// Without them every action is allowed unless the object's own policies forbid it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_policy(node: *mut PeoNode, cedar_policies: *const c_char) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::Policy(unsafe { str_arg(cedar_policies, "cedar_policies") }?))
    })
}

/// Replaces the node's facts (a JSON object; policies see them as
/// `context.node.facts`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_facts(node: *mut PeoNode, facts_json: *const c_char) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::FactsJson(unsafe { str_arg(facts_json, "facts_json") }?))
    })
}

/// The keys the node trusts: `trusted_keys` holds `key_count` 32-byte public keys one
/// after the other. With `key_count` > 0 the node accepts only objects whose every visit
/// is signed by one of them (each trusted to sign as anyone); with 0 it trusts no key and
/// accepts nothing (accepting anything is `peo_node_set_trust(node, "\"any\"")`, for
/// tests and demos). A node never given trust accepts nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_trusted_keys(
    node: *mut PeoNode,
    trusted_keys: *const u8,
    key_count: usize,
) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        // No keys trusts nothing: accepting anything is `peo_node_set_trust(node, "\"any\"")`.
        let bytes = unsafe { key_bytes(trusted_keys, key_count) }?;
        let keys: Vec<&[u8]> = bytes.chunks(32).collect();
        node.set(Setting::TrustedKeys(&keys))
    })
}

/// The node's trust in its JSON form: `"any"` (tests and demos) or a trust store
/// `{"keys": [{"key": "<64 hex digits>", "nodes": [...], "domain": "eu", "subjects":
/// [...]}]}` binding each key to the node ids, domain and originator subjects it may
/// sign as. A node never given trust accepts nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_trust(node: *mut PeoNode, trust_json: *const c_char) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::TrustJson(unsafe { str_arg(trust_json, "trust_json") }?))
    })
}

/// Registers (or replaces) the handler of a capability (a Task state's `Resource`).
/// `user_data` is passed to every call and must stay valid while the node lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_add_handler(
    node: *mut PeoNode,
    capability: *const c_char,
    handler: PeoHandler,
    user_data: *mut c_void,
) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        let capability = unsafe { str_arg(capability, "capability") }?;
        let f = handler.ok_or_else(|| invalid("`handler` is NULL"))?;
        node.set(Setting::Handler(capability, Box::new(Callback::<HandlerFn> { f, user_data })))
    })
}

/// Sets the advisor consulted before every cycle of a visit (NULL removes it).
/// `user_data` must stay valid while the node lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_advisor(
    node: *mut PeoNode,
    advisor: PeoAdvisor,
    user_data: *mut c_void,
) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        let advisor = advisor.map(|f| {
            let callback = Callback::<AdvisorFn> { f, user_data };
            Box::new(move |object: &Object| callback.advise(object)) as host::Advisor
        });
        node.set(Setting::Advisor(advisor))
    })
}

/// Sets the node's clock (NULL: the system clock). Cycles read it for timers, waits,
/// deadlines and record times. `user_data` must stay valid while the node lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_clock(node: *mut PeoNode, clock: PeoClock, user_data: *mut c_void) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        let clock = clock.map(|f| Arc::new(Callback::<ClockFn> { f, user_data }) as Arc<dyn Clock>);
        node.set(Setting::Clock(clock))
    })
}

/// Compacts objects whose plan sets no `Compaction`: when the memory holds more than
/// `after` records, all but the newest `keep` are folded into a checkpoint
/// (`keep < after`, else `PEO_INVALID_INTENT`; docs/long-lived.md).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_compaction(node: *mut PeoNode, after: u32, keep: u32) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::Compaction(after, keep))
    })
}

/// The most cycles one visit may run (default 10,000). At the bound the visit ends
/// `PEO_DISPOSITION_KIND_DORMANT` with reason `budget` and a wake time of now, its work
/// recorded: present the object again and it goes on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_max_cycles(node: *mut PeoNode, max_cycles: usize) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::MaxCycles(max_cycles))
    })
}

/// Visits an object: decodes and verifies `bytes` under the node's trust, runs cycles
/// (calling handlers) until the object must leave, and returns the visit. `event_json`
/// is NULL or an event (`{"name", "payload"}`, `{"name", "error", "cause"}` or
/// `{"name", "heartbeat": true}`) for an object awaiting one. On failure nothing
/// changed: the bytes you passed are still the object. Free `*out` with
/// `peo_visit_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_visit(
    node: *const PeoNode,
    bytes: *const u8,
    len: usize,
    event_json: *const c_char,
    out: *mut *mut PeoVisit,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let node = unsafe { handle(node, "node") }?;
        let bytes = unsafe { bytes_arg(bytes, len, "bytes") }?;
        let event = unsafe { opt_str_arg(event_json, "event_json") }?.map(host::event).transpose()?;
        let visit = node.read().visit(bytes, event.as_ref())?;
        *out = Box::into_raw(Box::new(PeoVisit { visit }));
        Ok(())
    })
}

/// Presents a child's final object (`child`, from a fan-out: `Parallel` branch or
/// `Map` item) to its waiting parent (`parent`). The completion is checked and recorded;
/// when it was the last one the parent runs on. A completion already recorded appends
/// nothing. Free `*out` with `peo_visit_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_complete(
    node: *const PeoNode,
    parent: *const u8,
    parent_len: usize,
    child: *const u8,
    child_len: usize,
    out: *mut *mut PeoVisit,
) -> PeoStatus {
    // A batch of one.
    unsafe { peo_node_complete_all(node, parent, parent_len, &child, &child_len, 1, out) }
}

/// Presents a batch of `count` children's final objects (`children[i]`, `child_lens[i]`
/// bytes each) to their waiting parent: each is checked as `peo_node_complete` checks one
/// (one bad child rejects the batch, the parent unchanged), and the new completions are
/// recorded by one record. Free `*out` with `peo_visit_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_complete_all(
    node: *const PeoNode,
    parent: *const u8,
    parent_len: usize,
    children: *const *const u8,
    child_lens: *const usize,
    count: usize,
    out: *mut *mut PeoVisit,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let node = unsafe { handle(node, "node") }?;
        let parent = unsafe { bytes_arg(parent, parent_len, "parent") }?;
        let batch = unsafe { byte_arrays(children, child_lens, count, if count == 1 { "child" } else { "children" }) }?;
        let visit = node.read().complete_all(parent, &batch)?;
        *out = Box::into_raw(Box::new(PeoVisit { visit }));
        Ok(())
    })
}
