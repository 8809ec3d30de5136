//! # peo-core
//!
//! Persistent executable objects: units of work that carry their own execution state
//! (intent, context, append-only memory, data) so that any node can pick one up,
//! decide locally what to do next, do it, record it and pass it on.
//!
//! This crate is pure and deterministic: no clock, no files, no network. It holds the
//! object model, the FlatBuffers wire format (`schema/peo.fbs`), integrity (a SHA-256
//! hash chain with optional Ed25519 signatures) and the intent model (the Amazon
//! States Language plus peo's extensions).
//!
//! ```
//! use peo_core::{Context, CreateOptions, Limits, Object, SigningKey, Trust};
//! use serde_json::json;
//!
//! let intent = json!({
//!     "StartAt": "Reserve",
//!     "States": { "Reserve": { "Type": "Task", "Resource": "inventory.reserve", "End": true } }
//! });
//! let key = SigningKey::from_bytes(&[1; 32]);
//! let options = CreateOptions { now_ms: 1_700_000_000_000, key: Some(&key), ..Default::default() };
//! let object = Object::create(&intent, Context::new(), &json!({"sku": "A1"}), &options)?;
//!
//! let bytes = object.to_bytes();
//! let decoded = Object::from_bytes(&bytes, &Limits::default())?;
//! let report = decoded.verify(&Trust::keys([key.public_key()])).into_result()?;
//! assert_eq!(report.signatures_checked, 1);
//! assert_eq!(decoded.to_bytes(), bytes);
//! # Ok::<(), peo_core::Error>(())
//! ```

pub mod asl;
pub mod checkpoint;
mod context;
mod cycle;
mod error;
#[doc(hidden)]
pub mod forge;
pub mod forms;
mod hash;
mod id;
pub mod intent;
pub mod json;
mod keys;
mod limits;
pub mod merkle;
mod object;
pub mod policy;
mod record;
pub mod results;
mod trust;
mod verify;
pub mod wire;

pub use context::{CarriedPolicy, Context, Originator};
pub use cycle::{
    ADVISED_TERMINATION, Decision, Disposition, Event, NodeSpec, Proposal, Step, TaskCall, TaskOutcome, Transition,
    Wake, accepts, awaited_key, decide, decide_advised, event_key, is_commitment, is_task_token, join, join_all,
    narrow, outcome, vouched,
};
pub use error::{Error, ErrorKind, Result};
pub use hash::Hash;
pub use id::{Lineage, ObjectId};
pub use intent::{Constraints, Intent, Plan};
pub use keys::{PublicKey, Signature, SigningKey};
pub use limits::Limits;
pub use object::{CreateOptions, FORMAT_VERSION, Object, StoredRecord};
pub use policy::{NodePolicy, PolicyAction};
pub use record::{
    Action, Advice, Body, ChildRef, DelegateReason, DormantReason, MutateKind, NodeRef, PolicyDecision, PolicyOutcome,
    Record, ReentryCause, Status, TaskError,
};
pub use verify::{ANY, Broken, CheckpointReport, SignatureRequirement, Signer, Trust, TrustedKey, VerifyReport};

// Lets the shared test helpers (`tests/common`) name this crate in unit tests too.
#[cfg(test)]
extern crate self as peo_core;

#[cfg(test)]
mod tests;
