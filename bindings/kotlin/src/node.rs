//! Nodes: settings, handlers, advisors and clocks as JVM callbacks, visits and
//! completions.

use std::sync::{Arc, Mutex, RwLock};

use peo_core::Object;
use peo_runtime::host::{self, Setting};
use peo_runtime::{
    Clock, HANDLER_INVALID_OUTPUT, Handler, HandlerError, Invocation, Node, TaskOutcome, outcome_from_text,
};
use serde_json::Value;

use crate::error::{PeoFfiError, Res};
use crate::lane;
use crate::object::{FfiObject, FfiSigningKey};

/// What a handler is given.
#[derive(Debug, uniffi::Record)]
pub struct TaskCallInfo {
    /// The capability (the Task state's `Resource`).
    pub capability: String,
    pub state: String,
    /// The state's effective input, JSON text.
    pub input_json: String,
    /// `<object id>/<state>/<entry>/<attempt>`: the same wherever this attempt runs.
    pub idempotency_key: String,
    pub attempt: u32,
    /// The deadline (`TimeoutSeconds`), ms since the Unix epoch by the node's clock.
    pub deadline_ms: Option<i64>,
}

/// A handler's result: `error` (and `cause`) for a failed attempt, else `output_json`
/// (and a proposed refinement of the intent).
#[derive(Debug, uniffi::Record)]
pub struct HandlerReply {
    pub output_json: Option<String>,
    pub refinement_json: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl HandlerReply {
    /// The reply as the engine records it (output that is not JSON is
    /// `peo.HandlerInvalidOutput`).
    pub(crate) fn outcome(self) -> TaskOutcome {
        match self {
            HandlerReply { error: Some(error), cause, .. } => outcome_from_text("error", Some(error), cause),
            HandlerReply { output_json, refinement_json, .. } => outcome_from_text("ok", output_json, refinement_json),
        }
    }
}

/// A handler implemented on the JVM (`dev.peo.Node.handler` wraps a lambda in one).
#[uniffi::export(callback_interface)]
pub trait TaskHandler: Send + Sync {
    fn call(&self, call: TaskCallInfo) -> Result<HandlerReply, PeoFfiError>;
}

/// An advisor on the JVM: a proposal as JSON text, or null for none.
#[uniffi::export(callback_interface)]
pub trait FfiAdvisor: Send + Sync {
    fn advise(&self, object: Arc<FfiObject>) -> Option<String>;
}

/// A clock on the JVM: ms since the Unix epoch.
#[uniffi::export(callback_interface)]
pub trait FfiClock: Send + Sync {
    fn now_ms(&self) -> i64;
}

struct JvmHandler(Box<dyn TaskHandler>);

impl Handler for JvmHandler {
    fn call(&self, invocation: &Invocation) -> Result<Value, HandlerError> {
        self.call_refined(invocation).map(|(v, _)| v)
    }

    fn call_refined(&self, invocation: &Invocation) -> Result<(Value, Option<Value>), HandlerError> {
        let call = TaskCallInfo {
            capability: invocation.capability.clone(),
            state: invocation.state.clone(),
            input_json: peo_runtime::host::json_text(&invocation.input),
            idempotency_key: invocation.idempotency_key.clone(),
            attempt: invocation.attempt,
            deadline_ms: invocation.deadline_ms,
        };
        let outcome = match self.0.call(call) {
            Ok(reply) => reply.outcome(),
            Err(e) => TaskOutcome::Error { error: HANDLER_INVALID_OUTPUT.into(), cause: Some(e.to_string()) },
        };
        match outcome {
            TaskOutcome::Output(output) => Ok((output, None)),
            TaskOutcome::Refined { output, refinement } => Ok((output, Some(refinement))),
            TaskOutcome::Error { error, cause } => Err(HandlerError { error, cause }),
        }
    }
}

struct JvmClock(Box<dyn FfiClock>);

impl Clock for JvmClock {
    fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }
}

/// A node (see `dev.peo.Node`). Settings replace the node for visits that start
/// afterwards; visits already running keep the node they started with. Visits go
/// through the lane (`crate::lane`), which knows the node by its lane id.
#[derive(uniffi::Object)]
pub struct FfiNode {
    pub(crate) node: RwLock<Arc<Node>>,
    lane_id: u64,
    /// The node as the lane runs it on the host's clock, and the node it was made from.
    pub(crate) lane_cache: Mutex<Option<(Arc<Node>, Arc<Node>)>>,
}

impl Drop for FfiNode {
    fn drop(&mut self) {
        lane::unregister(self.lane_id);
    }
}

impl FfiNode {
    pub(crate) fn set(&self, setting: Setting<'_>) -> Res<()> {
        let mut guard = self.node.write().unwrap_or_else(|p| p.into_inner());
        Ok(host::apply(Arc::make_mut(&mut guard), setting)?)
    }

    pub(crate) fn current(&self) -> Arc<Node> {
        self.node.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[uniffi::export]
impl FfiNode {
    #[uniffi::constructor]
    pub fn new(id: String, domain: String) -> Res<Arc<FfiNode>> {
        let node = RwLock::new(Arc::new(host::new_node(&id, &domain)?));
        let node = Arc::new(FfiNode { node, lane_id: lane::next_id(), lane_cache: Mutex::new(None) });
        lane::register(&node);
        Ok(node)
    }
    /// The node's id in the visit lane (`dev.peo.Lane`).
    pub fn lane_id(&self) -> u64 {
        self.lane_id
    }
    pub fn set_key(&self, key: Arc<FfiSigningKey>) -> Res<()> {
        self.set(Setting::Key(key.0.clone()))
    }
    /// The node's Cedar policies (validated against peo's schema).
    pub fn set_policy(&self, cedar: String) -> Res<()> {
        self.set(Setting::Policy(&cedar))
    }
    pub fn set_facts_json(&self, facts_json: String) -> Res<()> {
        self.set(Setting::FactsJson(&facts_json))
    }
    /// Accepts objects whose visits are signed by these 32-byte public keys.
    pub fn set_trusted_keys(&self, trusted_keys: Vec<Vec<u8>>) -> Res<()> {
        let keys: Vec<&[u8]> = trusted_keys.iter().map(Vec::as_slice).collect();
        self.set(Setting::TrustedKeys(&keys))
    }
    /// The node's trust in its JSON form: "any" or a trust store.
    pub fn set_trust_json(&self, trust_json: String) -> Res<()> {
        self.set(Setting::TrustJson(&trust_json))
    }
    /// The handler of `capability` as a callback, for the loops that run in the library
    /// (`FfiJetStream.serve`); visits driven by the host (`begin`) answer calls themselves.
    pub fn add_handler(&self, capability: String, handler: Box<dyn TaskHandler>) -> Res<()> {
        self.set(Setting::Handler(&capability, Box::new(JvmHandler(handler))))
    }
    pub fn set_advisor(&self, advisor: Option<Box<dyn FfiAdvisor>>) -> Res<()> {
        let advisor = advisor.map(|a| -> host::AdvisorJson {
            Box::new(move |object: &Object| a.advise(Arc::new(FfiObject(object.clone()))))
        });
        self.set(Setting::AdvisorJson(advisor))
    }
    /// The node's clock; null for the system clock.
    pub fn set_clock(&self, clock: Option<Box<dyn FfiClock>>) -> Res<()> {
        self.set(Setting::Clock(clock.map(|c| Arc::new(JvmClock(c)) as Arc<dyn Clock>)))
    }
    pub fn set_max_cycles(&self, max_cycles: u32) -> Res<()> {
        self.set(Setting::MaxCycles(max_cycles as usize))
    }
    pub fn set_compaction(&self, after: u32, keep: u32) -> Res<()> {
        self.set(Setting::Compaction(after, keep))
    }
    pub fn id(&self) -> String {
        self.current().id().into()
    }
    pub fn domain(&self) -> String {
        self.current().domain().into()
    }
}
