//! Memory records: one per decided cycle, stored as immutable FlatBuffers bytes.

use flatbuffers::{FlatBufferBuilder, VerifierOptions, WIPOffset};
use serde_json::Value;

use crate::wire;

mod codec;
mod json;

use crate::{Error, Hash, Lineage, ObjectId, PublicKey, Result};
pub(crate) use codec::{id_field, lineage_from_wire, lineage_to_wire, one_line, string_vector};
pub(crate) use json::lineage_json;

/// The six actions a cycle selects from, plus the genesis record and compaction's
/// checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Genesis,
    Execute,
    Mutate,
    Delegate,
    Dormant,
    Reentry,
    Terminate,
    /// Older records folded and pruned (version 2, docs/long-lived.md).
    Checkpoint,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Genesis => "genesis",
            Action::Execute => "execute",
            Action::Mutate => "mutate",
            Action::Delegate => "delegate",
            Action::Dormant => "dormant",
            Action::Reentry => "reentry",
            Action::Terminate => "terminate",
            Action::Checkpoint => "checkpoint",
        }
    }
    fn to_wire(self) -> wire::ActionKind {
        match self {
            Action::Genesis => wire::ActionKind::Genesis,
            Action::Execute => wire::ActionKind::Execute,
            Action::Mutate => wire::ActionKind::Mutate,
            Action::Delegate => wire::ActionKind::Delegate,
            Action::Dormant => wire::ActionKind::Dormant,
            Action::Reentry => wire::ActionKind::Reentry,
            Action::Terminate => wire::ActionKind::Terminate,
            Action::Checkpoint => wire::ActionKind::Checkpoint,
        }
    }
    fn from_wire(k: wire::ActionKind) -> Result<Action> {
        Ok(match k {
            wire::ActionKind::Genesis => Action::Genesis,
            wire::ActionKind::Execute => Action::Execute,
            wire::ActionKind::Mutate => Action::Mutate,
            wire::ActionKind::Delegate => Action::Delegate,
            wire::ActionKind::Dormant => Action::Dormant,
            wire::ActionKind::Reentry => Action::Reentry,
            wire::ActionKind::Terminate => Action::Terminate,
            wire::ActionKind::Checkpoint => Action::Checkpoint,
            other => return Err(Error::decode(format!("unknown action kind {}", other.0))),
        })
    }
}

/// Where an object stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Dormant,
    Succeeded,
    Failed,
    Expired,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Dormant => "dormant",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Expired => "expired",
            Status::Rejected => "rejected",
        }
    }
    /// Whether nothing more can happen to the object.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Expired | Status::Rejected)
    }
    pub(crate) fn to_wire(self) -> wire::Status {
        match self {
            Status::Running => wire::Status::Running,
            Status::Dormant => wire::Status::Dormant,
            Status::Succeeded => wire::Status::Succeeded,
            Status::Failed => wire::Status::Failed,
            Status::Expired => wire::Status::Expired,
            Status::Rejected => wire::Status::Rejected,
        }
    }
    pub(crate) fn from_wire(s: wire::Status) -> Result<Status> {
        Ok(match s {
            wire::Status::Running => Status::Running,
            wire::Status::Dormant => Status::Dormant,
            wire::Status::Succeeded => Status::Succeeded,
            wire::Status::Failed => Status::Failed,
            wire::Status::Expired => Status::Expired,
            wire::Status::Rejected => Status::Rejected,
            other => return Err(Error::decode(format!("unknown status {}", other.0))),
        })
    }
}

/// The node that wrote a record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeRef {
    pub id: String,
    pub domain: String,
    pub key: Option<PublicKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyDecision {
    NotEvaluated,
    Allow,
    Deny,
}

/// The policy decision behind a record's action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOutcome {
    pub decision: PolicyDecision,
    /// Ids of the deciding policies.
    pub policies: Vec<String>,
    pub errors: Vec<String>,
}

/// An advisor's proposal and what the node did with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    pub action: Action,
    pub target: Option<String>,
    pub confidence: f32,
    pub rationale: String,
    pub followed: bool,
    pub override_reason: Option<String>,
}

/// A named error with its cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    pub error: String,
    pub cause: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MutateKind {
    Data,
    Route,
    Intent,
    Context,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DelegateReason {
    Capability,
    Policy,
    FanOut,
    Unresolved,
    /// An advisor proposed it and policy permitted it.
    Advice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DormantReason {
    Wait,
    Await,
    Retry,
    Join,
    /// The visit reached its node's cycle bound with work left: present the object
    /// again (here or at another node) and it goes on. Only a [`crate::Wake`] of a
    /// visit's disposition says this; no record carries it.
    Budget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReentryCause {
    Time,
    Event,
    Children,
    Timeout,
    /// An awaited event reported a failure (`SendTaskFailure`).
    Failure,
}

/// A child object created by fan-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildRef {
    pub id: ObjectId,
    pub genesis_hash: Option<Hash>,
    pub branch: u32,
}

/// The bytes one child takes in a version-2 fan-out record (`Delegate.launched`).
const LAUNCHED_BYTES: usize = 16 + 32 + 4;

impl ChildRef {
    fn from_launched(b: &[u8]) -> ChildRef {
        ChildRef {
            id: ObjectId(b[..16].try_into().expect("16 bytes")),
            genesis_hash: Hash::from_slice(&b[16..48]),
            branch: u32::from_be_bytes(b[48..52].try_into().expect("4 bytes")),
        }
    }
    fn to_launched(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.id.0);
        buf.extend_from_slice(&self.genesis_hash.unwrap_or(Hash::ZERO).0);
        buf.extend_from_slice(&self.branch.to_be_bytes());
    }
}

/// What a record did. JSON payloads are canonical JSON text.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Genesis {
        id: ObjectId,
        lineage: Lineage,
        input: String,
    },
    Execute {
        capability: String,
        attempt: u32,
        idempotency_key: Option<String>,
        output: Option<String>,
        error: Option<TaskError>,
    },
    Mutate {
        kind: MutateKind,
        revision: u32,
        change: Option<String>,
    },
    Delegate {
        reason: DelegateReason,
        capability: Option<String>,
        target: Option<String>,
        children: Vec<ChildRef>,
    },
    Dormant {
        reason: DormantReason,
        wake_at_ms: Option<i64>,
        event: Option<String>,
        timeout_at_ms: Option<i64>,
    },
    Reentry {
        cause: ReentryCause,
        event: Option<String>,
        payload: Option<String>,
    },
    Terminate {
        status: Status,
        output: Option<String>,
        error: Option<TaskError>,
    },
    /// Records `0 .. pruned` folded into `summary` and removed from the memory.
    Checkpoint {
        /// How many records were pruned (seq `0 .. pruned`).
        pruned: u32,
        /// The hash of record `pruned - 1` (`None` when nothing was pruned).
        base: Option<Hash>,
        /// RFC 6962 frontier over the pruned records' hashes, largest subtree first.
        frontier: Vec<Hash>,
        /// Canonical JSON of [`crate::checkpoint::Summary`].
        summary: String,
        /// The plan in force after record `pruned - 1`, when the intent had changed.
        plan: Option<String>,
    },
}

impl Body {
    pub fn action(&self) -> Action {
        match self {
            Body::Genesis { .. } => Action::Genesis,
            Body::Execute { .. } => Action::Execute,
            Body::Mutate { .. } => Action::Mutate,
            Body::Delegate { .. } => Action::Delegate,
            Body::Dormant { .. } => Action::Dormant,
            Body::Reentry { .. } => Action::Reentry,
            Body::Terminate { .. } => Action::Terminate,
            Body::Checkpoint { .. } => Action::Checkpoint,
        }
    }
}

/// One decided cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub body: Body,
    /// The state the cycle evaluated (empty for genesis).
    pub state: String,
    /// The state the object is in after this record (empty once terminated).
    pub next_state: String,
    /// The object's status after this record.
    pub status: Status,
    /// The writing node (shared: a node's records hold one `NodeRef`).
    pub node: std::sync::Arc<NodeRef>,
    /// The writing node's clock, ms since the Unix epoch.
    pub time_ms: i64,
    pub policy: Option<PolicyOutcome>,
    pub advice: Option<Advice>,
    /// The intent hash in force after this record, when this record changed it (always
    /// on genesis); `None` means unchanged since the previous record.
    pub intent_hash: Option<Hash>,
    /// Likewise for the context hash.
    pub context_hash: Option<Hash>,
    /// Present on the last record of every visit.
    pub data_hash: Option<Hash>,
    /// The hash of the workflow variables in force after this record, when this record
    /// changed them (version 2); `None` means unchanged (none at first).
    pub variables_hash: Option<Hash>,
    /// The variables this record assigned, canonical JSON object (version 2).
    pub assigned: Option<String>,
    /// Whether the entry carries a signature by `node.key`.
    pub signed: bool,
    /// 0 for genesis, +1 for every visit.
    pub visit: u32,
    /// The record's index in the memory.
    pub seq: u32,
}

/// The per-record facts verification needs, read without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordMeta {
    pub action: Action,
    pub seq: u32,
    pub visit: u32,
    pub signed: bool,
    pub key: Option<PublicKey>,
    pub status: Status,
    pub intent_hash: Option<Hash>,
    pub context_hash: Option<Hash>,
    pub data_hash: Option<Hash>,
    pub variables_hash: Option<Hash>,
}

impl Record {
    pub fn action(&self) -> Action {
        self.body.action()
    }
}
