//! The cycle's nouns: the node it runs at, events, wake conditions, dispositions,
//! transitions, handler calls and outcomes, decisions; and their JSON forms.

use super::*;
use crate::forms::{self, DispositionForm, EventForm, TaskCallForm, WakeForm};

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
    /// The node as its records name it, made once (the fields above are public: it is
    /// checked against them at each use).
    node_ref: NodeRefCache,
}

/// [`NodeSpec::node_ref`]'s: a clone starts empty, so a spec changed through
/// `Arc::make_mut` (as the runtime's setters do) makes its own.
#[derive(Debug, Default)]
struct NodeRefCache(std::sync::OnceLock<Arc<NodeRef>>);

impl Clone for NodeRefCache {
    fn clone(&self) -> NodeRefCache {
        NodeRefCache::default()
    }
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
    /// The node as its records name it: one `NodeRef` shared by all of them (two
    /// allocations a record fewer).
    pub(super) fn node_ref(&self) -> Arc<NodeRef> {
        let key = self.key.as_ref().map(SigningKey::public_key);
        let made =
            self.node_ref.0.get_or_init(|| Arc::new(NodeRef { id: self.id.clone(), domain: self.domain.clone(), key }));
        if made.id == self.id && made.domain == self.domain && made.key == key {
            return made.clone();
        }
        // A field changed since: this record names the node as it is now.
        Arc::new(NodeRef { id: self.id.clone(), domain: self.domain.clone(), key })
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
    /// Who vouches for the event ([`Event::signed`]): required by an `Await` state that
    /// names `Signers`.
    pub signature: Option<Box<EventSignature>>,
}

/// A key's Ed25519 signature of an event for one object ([`Event::signed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EventSignature {
    pub signer: PublicKey,
    pub signature: Signature,
}

/// What an event signature signs is tagged, so it can never be taken for a record's.
const EVENT_TAG: &[u8] = b"peo/event/v1\0";

impl Event {
    /// An event carrying a result.
    pub fn success(name: impl Into<String>, payload: Value) -> Event {
        Event { name: name.into(), payload, error: None, heartbeat: false, signature: None }
    }
    /// A heartbeat for an awaited event: the state keeps waiting.
    pub fn heartbeat(name: impl Into<String>) -> Event {
        Event { name: name.into(), payload: Value::Null, error: None, heartbeat: true, signature: None }
    }
    /// An event reporting a failure: the awaiting state raises `error` with `cause`.
    pub fn failure(name: impl Into<String>, error: impl Into<String>, cause: impl Into<String>) -> Event {
        Event {
            name: name.into(),
            payload: Value::Null,
            error: Some(TaskError { error: error.into(), cause: Some(cause.into()) }),
            heartbeat: false,
            signature: None,
        }
    }

    /// The event signed by `key` for object `object_id` (hex): an `Await` state that
    /// names `Signers` accepts only events signed by one of them, for that object. The
    /// signature covers the tag `peo/event/v1`, the object's id and the event's
    /// canonical JSON form without its signature, so it can be replayed neither to
    /// another object nor with another payload.
    pub fn signed(mut self, object_id: &str, key: &SigningKey) -> Result<Event> {
        let id = ObjectId::from_hex(object_id)?;
        self.signature = None;
        let signature = Signature(key.sign_bytes(&self.signed_message(&id)));
        self.signature = Some(Box::new(EventSignature { signer: key.public_key(), signature }));
        Ok(self)
    }

    /// The key that signed this event for object `id`, if its signature is valid.
    pub fn signer_for(&self, id: &ObjectId) -> Option<PublicKey> {
        let s = self.signature.as_ref()?;
        let unsigned = Event { signature: None, ..self.clone() };
        s.signer.verify_bytes(&unsigned.signed_message(id), &s.signature).then_some(s.signer)
    }

    fn signed_message(&self, id: &ObjectId) -> Vec<u8> {
        debug_assert!(self.signature.is_none());
        [EVENT_TAG, id.to_hex().as_bytes(), b"\0", cjson::canonical(&self.to_json()).as_bytes()].concat()
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
            if !matches!(k.as_str(), "name" | "payload" | "error" | "cause" | "heartbeat" | "signer" | "signature") {
                return Err(Error::invalid_argument(format!(
                    "unknown event field `{k}` (allowed: name, payload, error, cause, heartbeat, signer, signature)"
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
        let signature = match (text("signer")?, text("signature")?) {
            (None, None) => None,
            (Some(signer), Some(signature)) => Some(Box::new(EventSignature {
                signer: PublicKey::from_hex(&signer)
                    .map_err(|e| Error::invalid_argument(format!("the event's `signer`: {}", e.message())))?,
                signature: hex::decode(&signature).ok().and_then(|b| Signature::from_slice(&b)).ok_or_else(|| {
                    Error::invalid_argument("the event's `signature` must be 128 hex digits (an Ed25519 signature)")
                })?,
            })),
            _ => return Err(Error::invalid_argument("an event has both `signer` and `signature`, or neither")),
        };
        Ok(Event { name, payload, error: error.map(|error| TaskError { error, cause }), heartbeat, signature })
    }

    /// The JSON form [`Event::from_json`] reads ([`EventForm`]).
    pub fn to_json(&self) -> Value {
        let mut form = EventForm {
            name: self.name.clone(),
            payload: None,
            error: None,
            cause: None,
            heartbeat: None,
            signer: self.signature.as_ref().map(|s| s.signer.to_hex()),
            signature: self.signature.as_ref().map(|s| s.signature.to_hex()),
        };
        if self.heartbeat {
            form.heartbeat = Some(true);
        } else if let Some(e) = &self.error {
            (form.error, form.cause) = (Some(e.error.clone()), e.cause.clone());
        } else {
            form.payload = Some(self.payload.clone());
        }
        forms::value(&form)
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
    /// The new intent, when the record refines it (`mutate`, kind `intent`). Boxed, as
    /// the context: rare, and a transition is moved several times a cycle.
    pub intent: Option<Box<crate::Intent>>,
    /// The new context, when the record narrows it (`mutate`, kind `context`).
    pub context: Option<Box<crate::Context>>,
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
    /// The effective input (after `InputPath` and `Parameters`): the object's data
    /// itself, shared, when neither changes it.
    pub input: std::sync::Arc<Value>,
    /// 0 for the first attempt.
    pub attempt: u32,
    /// `<object id>/<state>/<entry>/<attempt>` (`attempt_key`): the same for every node
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
    /// Append this record (boxed: a `Transition` is large, and a decision is moved
    /// several times a cycle).
    Record(Box<Transition>),
    /// Run this handler, then record its outcome ([`outcome`] / [`Object::record_outcome`]).
    Execute(TaskCall),
    /// Dormant, and the wake condition does not hold at this node: nothing to append.
    Sleep(Wake),
}

impl Decision {
    pub(crate) fn record(t: Box<Transition>) -> Decision {
        Decision::Record(t)
    }
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

impl Wake {
    /// `{"reason": "wait", "at_ms": ..., "event": ..., "timeout_at_ms": ...}` ([`WakeForm`]).
    pub fn to_json(&self) -> Value {
        forms::value(&self.form())
    }

    fn form(&self) -> WakeForm {
        WakeForm {
            reason: self.reason,
            at_ms: self.at_ms,
            event: self.event.clone(),
            timeout_at_ms: self.timeout_at_ms,
        }
    }
}

impl Disposition {
    /// The disposition as JSON, the same in every language: `{"kind": "delegate" |
    /// "dormant" | "terminated", ...}` ([`DispositionForm`]).
    pub fn to_json(&self) -> Value {
        forms::value(&match self {
            Disposition::Delegate { reason, capability, target } => {
                DispositionForm::Delegate { reason: *reason, capability: capability.clone(), target: target.clone() }
            }
            Disposition::Dormant(w) => DispositionForm::Dormant {
                reason: w.reason,
                at_ms: w.at_ms,
                event: w.event.clone(),
                timeout_at_ms: w.timeout_at_ms,
            },
            Disposition::Terminated { status, output, error } => {
                DispositionForm::Terminated { status: *status, output: output.clone(), error: forms::task_error(error) }
            }
        })
    }
}

impl TaskCall {
    /// What a handler is given, as JSON ([`TaskCallForm`]).
    pub fn to_json(&self) -> Value {
        forms::value(&TaskCallForm {
            state: self.state.clone(),
            capability: self.capability.clone(),
            input: (*self.input).clone(),
            attempt: self.attempt,
            idempotency_key: self.idempotency_key.clone(),
            deadline_ms: self.deadline_ms,
        })
    }
}
