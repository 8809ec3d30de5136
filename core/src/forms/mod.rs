//! The JSON forms: every JSON document peo shows or reads besides plans and payloads, in
//! one place. Each is a type here; the `to_json` methods of records, dispositions,
//! handler calls, events, proposals, verification reports and errors build these types,
//! and `schema/forms.schema.json` is generated from them (`forms_schema`), so the
//! published schema cannot drift from what the code writes. `core/tests/forms.rs` fails
//! when the committed schema differs (`PEO_REGENERATE=1` rewrites it:
//! `scripts/gen-schema.sh`); the Python dataclasses and the TypeScript declarations are
//! tested against the schema.
//!
//! Keys are snake_case, the same bytes in every language (docs/json-forms.md); [`recase`]
//! gives a form in camelCase to the faces that show it so (Node.js).

mod casing;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::{
    Action, Advice, Body, DelegateReason, DormantReason, MutateKind, PolicyDecision, Record, ReentryCause, Status,
    TaskError,
};
use crate::{Hash, Lineage};

pub use casing::{Casing, camel_case, recase, snake_case};

/// One record of an object's memory, as shown by `to_json`, `peo inspect` and every face.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Record")]
#[schemars(transform = all_required)]
pub struct RecordForm {
    /// The record's index in the memory (counting pruned records).
    pub seq: u32,
    /// 0 for genesis, +1 for every visit.
    pub visit: u32,
    pub action: Action,
    /// The state the cycle evaluated (empty for genesis).
    pub state: String,
    /// The state the object is in after this record (empty once terminated).
    pub next_state: String,
    /// The object's status after this record.
    pub status: Status,
    pub node: NodeForm,
    /// The writing node's clock, ms since the Unix epoch.
    pub time_ms: i64,
    pub policy: Option<PolicyForm>,
    pub advice: Option<AdviceForm>,
    /// Hashes (64 hex digits) in force after this record, when it changed them.
    pub intent_hash: Option<String>,
    pub context_hash: Option<String>,
    /// The data's hash, on the last record of every visit.
    pub data_hash: Option<String>,
    pub variables_hash: Option<String>,
    /// The workflow variables this record assigned, name to value.
    pub assigned: Option<Value>,
    /// Whether the visit this record ends is signed by `node.key`.
    pub signed: bool,
    /// What the action did; its fields depend on `action`.
    pub body: BodyForm,
}

/// The node that wrote a record.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Node")]
#[schemars(transform = all_required)]
pub struct NodeForm {
    pub id: String,
    pub domain: String,
    /// Its Ed25519 public key, 64 hex digits.
    pub key: Option<String>,
}

/// The node policy's verdict on a record's action.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Policy")]
#[schemars(transform = all_required)]
pub struct PolicyForm {
    pub decision: PolicyDecision,
    /// The Cedar policies that decided.
    pub policies: Vec<String>,
    pub errors: Vec<String>,
}

/// An advisor's proposal as the record keeps it: followed, or overridden and why.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Advice")]
#[schemars(transform = all_required)]
pub struct AdviceForm {
    pub action: Action,
    pub target: Option<String>,
    pub confidence: f32,
    pub rationale: String,
    pub followed: bool,
    pub override_reason: Option<String>,
}

/// A failure: an ASL error name and its cause.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "TaskError")]
#[schemars(transform = all_required)]
pub struct TaskErrorForm {
    pub error: String,
    pub cause: Option<String>,
}

/// A record's body, by action.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Body")]
pub enum BodyForm {
    #[schemars(transform = all_required)]
    Genesis {
        /// The object id, 32 hex digits.
        id: String,
        lineage: LineageForm,
        input: Value,
    },
    #[schemars(transform = all_required)]
    Execute {
        capability: String,
        attempt: u32,
        idempotency_key: Option<String>,
        output: Option<Value>,
        error: Option<TaskErrorForm>,
    },
    #[schemars(transform = all_required)]
    Mutate { kind: MutateKind, revision: u32, change: Option<Value> },
    #[schemars(transform = all_required)]
    Delegate { reason: DelegateReason, capability: Option<String>, target: Option<String>, children: Vec<ChildForm> },
    #[schemars(transform = all_required)]
    Dormant { reason: DormantReason, wake_at_ms: Option<i64>, event: Option<String>, timeout_at_ms: Option<i64> },
    #[schemars(transform = all_required)]
    Reentry { cause: ReentryCause, event: Option<String>, payload: Option<Value> },
    #[schemars(transform = all_required)]
    Terminate { status: Status, output: Option<Value>, error: Option<TaskErrorForm> },
    #[schemars(transform = all_required)]
    Checkpoint { pruned: u32, base: Option<String>, frontier: Vec<String>, summary: Value, plan: Option<Value> },
}

/// A fan-out child as its parent's record names it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Child")]
#[schemars(transform = all_required)]
pub struct ChildForm {
    pub id: String,
    pub genesis_hash: Option<String>,
    pub branch: u32,
}

/// Where an object sits in a fan-out tree.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Lineage")]
#[schemars(transform = all_required)]
pub struct LineageForm {
    pub parent: Option<String>,
    pub root: String,
    pub generation: u32,
    pub branch: u32,
    pub fanout_state: Option<String>,
}

/// Why a visit ended.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[schemars(rename = "Disposition")]
pub enum DispositionForm {
    /// The object goes on to another node.
    #[schemars(transform = all_required)]
    Delegate { reason: DelegateReason, capability: Option<String>, target: Option<String> },
    /// The object sleeps until a time or an event.
    #[schemars(transform = all_required)]
    Dormant { reason: DormantReason, at_ms: Option<i64>, event: Option<String>, timeout_at_ms: Option<i64> },
    /// The object is finished.
    #[schemars(transform = all_required)]
    Terminated { status: Status, output: Option<Value>, error: Option<TaskErrorForm> },
}

/// When a dormant object wakes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Wake")]
#[schemars(transform = all_required)]
pub struct WakeForm {
    pub reason: DormantReason,
    pub at_ms: Option<i64>,
    pub event: Option<String>,
    pub timeout_at_ms: Option<i64>,
}

/// What a handler is given.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "TaskCall")]
#[schemars(transform = all_required)]
pub struct TaskCallForm {
    pub state: String,
    pub capability: String,
    pub input: Value,
    pub attempt: u32,
    /// `<object id>/<state>/<entry>/<attempt>`: the same wherever this attempt runs.
    pub idempotency_key: String,
    pub deadline_ms: Option<i64>,
}

/// An event presented to an awaiting object: a result (`payload`), a failure (`error`,
/// `cause`) or a heartbeat, one of them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Event")]
pub struct EventForm {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<bool>,
    /// The public key (64 hex digits) that signed the event (`Event::signed`), with
    /// `signature`: required by an `Await` state that names `Signers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The Ed25519 signature (128 hex digits) of the event for one object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// What an advisor proposes for the next cycle (the node checks it against the plan and
/// policy).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Proposal")]
pub struct ProposalForm {
    #[schemars(extend("enum" = ["execute", "delegate", "terminate"]))]
    pub action: Action,
    #[serde(default)]
    pub target: Option<String>,
    /// From 0 to 1 (default 1).
    #[serde(default)]
    pub confidence: Option<f32>,
    #[serde(default)]
    pub rationale: Option<String>,
}

/// What verifying an object found.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "VerifyReport")]
#[schemars(transform = all_required)]
pub struct VerifyReportForm {
    pub valid: bool,
    pub records_checked: u32,
    pub signatures_checked: u32,
    pub signers: Vec<SignerForm>,
    pub unsigned_records: u32,
    pub untrusted_records: u32,
    /// The memory head, 64 hex digits.
    pub head: String,
    /// The originator subject the verification vouches for.
    pub principal: Option<String>,
    /// The domains vouched for by trusted signatures; null when claims are believed.
    pub domains: Option<Vec<String>>,
    pub changes_checked: u32,
    pub records_pruned: u32,
    pub checkpoint: Option<CheckpointForm>,
    pub checkpoints_audited: u32,
    /// The first problem found: the object is valid only when this is null.
    pub broken: Option<BrokenForm>,
}

/// A key that signed records, and which.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Signer")]
#[schemars(transform = all_required)]
pub struct SignerForm {
    pub key: String,
    pub trusted: bool,
    pub records: Vec<u32>,
}

/// The checkpoint a compacted memory starts from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Checkpoint")]
#[schemars(transform = all_required)]
pub struct CheckpointForm {
    pub seq: u32,
    pub pruned: u32,
    pub node: String,
    pub domain: String,
    pub key: Option<String>,
    pub trusted: bool,
    /// "records 0-9743 attested by eu-1 (domain eu), signed by a trusted key".
    pub attests: String,
}

/// The first broken record.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Broken")]
#[schemars(transform = all_required)]
pub struct BrokenForm {
    pub record: u32,
    pub kind: String,
    pub code: String,
    pub message: String,
}

/// A pruned record's inclusion proof (`prove_pruned`, `check_pruned`): the record's hash
/// and its RFC 6962 audit path in the Merkle tree over the pruned record hashes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "PrunedProof")]
#[schemars(transform = all_required)]
pub struct PrunedProofForm {
    /// The pruned record's `seq`.
    pub index: u64,
    /// The sibling hashes from the leaf up, 64 hex digits each.
    pub path: Vec<String>,
    /// The record's hash, 64 hex digits.
    pub record_hash: String,
}

/// An error, the same fields in every language.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Error")]
#[schemars(transform = all_required)]
pub struct ErrorForm {
    /// `PEO_DECODE`, `PEO_SIGNATURE`, ...
    pub code: String,
    /// `decode`, `signature`, ...
    pub kind: String,
    /// The message without its context.
    pub message: String,
    /// The whole text: kind, record, state, field and message.
    pub text: String,
    pub record: Option<u32>,
    pub state: Option<String>,
    pub field: Option<String>,
}

/// Every form, for the schema's `$defs`.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Forms {
    record: RecordForm,
    disposition: DispositionForm,
    task_call: TaskCallForm,
    event: EventForm,
    proposal: ProposalForm,
    verify_report: VerifyReportForm,
    pruned_proof: PrunedProofForm,
    error: ErrorForm,
}

/// Output forms always carry every field (null when absent): all are required.
fn all_required(schema: &mut schemars::Schema) {
    let keys: Vec<Value> = match schema.get("properties").and_then(Value::as_object) {
        Some(p) => p.keys().map(|k| Value::from(k.as_str())).collect(),
        None => return,
    };
    schema.insert("required".into(), Value::Array(keys));
}

/// The forms in the schema's `anyOf`, by name.
const FORMS: [&str; 8] =
    ["Record", "Disposition", "TaskCall", "Event", "Proposal", "VerifyReport", "PrunedProof", "Error"];

/// The JSON Schema (draft 2020-12) of every form, as committed in
/// `schema/forms.schema.json`: a document valid against it is one of the forms, and
/// each is also in `$defs` under its name.
pub fn forms_schema() -> Value {
    let generated = schemars::schema_for!(Forms).to_value();
    let refs: Vec<Value> = FORMS.iter().map(|f| serde_json::json!({"$ref": format!("#/$defs/{f}")})).collect();
    serde_json::json!({
        "$schema": generated["$schema"],
        "$id": "https://peo.dev/schema/forms.schema.json",
        "title": "peo JSON forms",
        "description": "The JSON documents peo shows and reads, the same in every language (docs/json-forms.md). Generated from core/src/forms/mod.rs by scripts/gen-schema.sh.",
        "anyOf": refs,
        "$defs": generated["$defs"],
    })
}

pub(crate) fn hex(h: Option<Hash>) -> Option<String> {
    h.map(|h| h.to_hex())
}

pub(crate) fn task_error(e: &Option<TaskError>) -> Option<TaskErrorForm> {
    e.as_ref().map(|e| TaskErrorForm { error: e.error.clone(), cause: e.cause.clone() })
}

pub(crate) fn lineage(l: &Lineage) -> LineageForm {
    LineageForm {
        parent: l.parent.map(|p| p.to_hex()),
        root: l.root.to_hex(),
        generation: l.generation,
        branch: l.branch,
        fanout_state: l.fanout_state.clone(),
    }
}

/// Record payloads are canonical JSON; shown parsed (or as text if a writer stored
/// something else).
pub(crate) fn shown(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn advice(a: &Advice) -> AdviceForm {
    AdviceForm {
        action: a.action,
        target: a.target.clone(),
        confidence: a.confidence,
        rationale: a.rationale.clone(),
        followed: a.followed,
        override_reason: a.override_reason.clone(),
    }
}

impl From<&Record> for RecordForm {
    fn from(r: &Record) -> RecordForm {
        let payload = |s: &Option<String>| s.as_deref().map(shown);
        let body = match &r.body {
            Body::Genesis { id, lineage: l, input } => {
                BodyForm::Genesis { id: id.to_hex(), lineage: lineage(l), input: shown(input) }
            }
            Body::Execute { capability, attempt, idempotency_key, output, error } => BodyForm::Execute {
                capability: capability.clone(),
                attempt: *attempt,
                idempotency_key: idempotency_key.clone(),
                output: payload(output),
                error: task_error(error),
            },
            Body::Mutate { kind, revision, change } => {
                BodyForm::Mutate { kind: *kind, revision: *revision, change: payload(change) }
            }
            Body::Delegate { reason, capability, target, children } => BodyForm::Delegate {
                reason: *reason,
                capability: capability.clone(),
                target: target.clone(),
                children: children
                    .iter()
                    .map(|c| ChildForm { id: c.id.to_hex(), genesis_hash: hex(c.genesis_hash), branch: c.branch })
                    .collect(),
            },
            Body::Dormant { reason, wake_at_ms, event, timeout_at_ms } => BodyForm::Dormant {
                reason: *reason,
                wake_at_ms: *wake_at_ms,
                event: event.clone(),
                timeout_at_ms: *timeout_at_ms,
            },
            Body::Reentry { cause, event, payload: p } => {
                BodyForm::Reentry { cause: *cause, event: event.clone(), payload: payload(p) }
            }
            Body::Terminate { status, output, error } => {
                BodyForm::Terminate { status: *status, output: payload(output), error: task_error(error) }
            }
            Body::Checkpoint { pruned, base, frontier, summary, plan } => BodyForm::Checkpoint {
                pruned: *pruned,
                base: hex(*base),
                frontier: frontier.iter().map(Hash::to_hex).collect(),
                summary: shown(summary),
                plan: payload(plan),
            },
        };
        RecordForm {
            seq: r.seq,
            visit: r.visit,
            action: r.action(),
            state: r.state.clone(),
            next_state: r.next_state.clone(),
            status: r.status,
            node: NodeForm {
                id: r.node.id.clone(),
                domain: r.node.domain.clone(),
                key: r.node.key.map(|k| k.to_hex()),
            },
            time_ms: r.time_ms,
            policy: r.policy.as_ref().map(|p| PolicyForm {
                decision: p.decision,
                policies: p.policies.clone(),
                errors: p.errors.clone(),
            }),
            advice: r.advice.as_ref().map(advice),
            intent_hash: hex(r.intent_hash),
            context_hash: hex(r.context_hash),
            data_hash: hex(r.data_hash),
            variables_hash: hex(r.variables_hash),
            assigned: r.assigned.as_deref().map(shown),
            signed: r.signed,
            body,
        }
    }
}

/// A form as a JSON value (forms always serialise).
pub(crate) fn value<T: Serialize>(form: &T) -> Value {
    serde_json::to_value(form).expect("a JSON form serialises")
}
