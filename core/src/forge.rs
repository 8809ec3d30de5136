//! Building the objects a dishonest node or author would send, for tests, shared
//! vectors and fuzzing. Nothing here is needed to use peo, and everything it makes
//! without a legitimate record is refused by [`Object::verify`]: these are the edits an
//! attacker can make to the bytes anyway, offered so that the attacks stay tested.

use std::sync::Arc;

use serde_json::Value;

use crate::{Body, Context, Hash, Intent, Limits, NodeRef, Object, Record, Result, SigningKey};

/// Replaces the object's context (and the hash it is known by) without a record.
pub fn set_context(obj: &mut Object, context: Context) {
    obj.context_hash = context.hash();
    obj.context = context;
}

/// Replaces the object's intent with `plan` at `revision`, without a record (keeping
/// the original plan, as a change of intent does).
pub fn set_intent(obj: &mut Object, plan: &Value, revision: u32) -> Result<()> {
    if obj.origin.is_none() {
        obj.origin = Some(Arc::from(obj.intent.canonical_text()));
    }
    obj.intent = Arc::new(Intent::at_revision(plan.clone(), revision, &Limits::default())?);
    Ok(())
}

/// Replaces the object's plan text, unparsed and unvalidated, in its encoding: for
/// plans no valid intent can hold (a hostile expression, a nesting bomb).
pub fn with_plan_text(obj: &Object, plan: &str) -> Vec<u8> {
    obj.to_bytes_with_plan(Some(plan))
}

/// Replaces the object's results section without a record (a forged, dropped or
/// reordered completion).
pub fn set_results(obj: &mut Object, results: Vec<crate::results::Completion>) {
    obj.results = results;
}

/// Adds a carried policy to a context without checking it (a nesting bomb, a permit).
pub fn with_carried_policy(mut context: Context, id: &str, text: &str) -> Context {
    context.insert_policy_unchecked(crate::CarriedPolicy { id: id.to_owned(), text: text.to_owned() });
    context
}

/// Appends a record as a node with `key` would write it, claiming node `id` in
/// `domain`, as the next visit, committing `intent_hash` / `context_hash` when given
/// (the caller has replaced the intent or context to match) and the current data.
pub fn append_as(
    obj: &mut Object,
    body: Body,
    (id, domain, key): (&str, &str, &SigningKey),
    intent_hash: Option<Hash>,
    context_hash: Option<Hash>,
) -> Result<Hash> {
    let last = obj.memory.last().expect("an object has a genesis record").decode()?;
    let record = Record {
        body,
        state: obj.state.clone(),
        next_state: obj.state.clone(),
        status: obj.status,
        node: Arc::new(NodeRef { id: id.into(), domain: domain.into(), key: Some(key.public_key()) }),
        time_ms: last.time_ms + 1,
        policy: None,
        advice: None,
        intent_hash,
        context_hash,
        data_hash: Some(obj.data_hash()),
        variables_hash: None,
        assigned: None,
        signed: true,
        visit: last.visit + 1,
        seq: 0,
    };
    obj.append(record, Some(key))
}

/// Appends an unsigned `succeeded` end (output `{"forged":true}`) claiming node `id` in
/// `domain`, as the next visit: what anyone holding a child's public genesis can make of
/// it to complete its parent early.
pub fn succeed_unsigned(obj: &mut Object, (id, domain): (&str, &str)) -> Result<Hash> {
    let last = obj.memory.last().expect("an object has a genesis record").decode()?;
    let record = Record {
        body: Body::Terminate {
            status: crate::Status::Succeeded,
            output: Some("{\"forged\":true}".into()),
            error: None,
        },
        state: obj.state.clone(),
        next_state: String::new(),
        status: crate::Status::Succeeded,
        node: Arc::new(NodeRef { id: id.into(), domain: domain.into(), key: None }),
        time_ms: last.time_ms + 1,
        policy: None,
        advice: None,
        intent_hash: None,
        context_hash: None,
        data_hash: Some(obj.data_hash()),
        variables_hash: None,
        assigned: None,
        signed: false,
        visit: last.visit + 1,
        seq: 0,
    };
    obj.append(record, None)
}

/// Compacts the object as a node with `key` would (all but the newest `keep` records
/// folded into a signed checkpoint, as the next visit), after `tamper` has had its way
/// with the summary and the frontier: what a dishonest but trusted node can write.
/// Returns the archive segment of the pruned records.
pub fn compact(
    obj: &mut Object,
    keep: u32,
    signer: (&str, &str, &SigningKey),
    tamper: impl FnOnce(&mut crate::checkpoint::Summary, &mut Vec<Hash>),
) -> Result<Vec<crate::checkpoint::Segment>> {
    let Some(Body::Checkpoint { pruned, base, mut frontier, summary, plan }) =
        crate::checkpoint::checkpoint_body(obj, keep, u32::MAX)?
    else {
        return Err(crate::Error::invalid_argument("nothing to compact"));
    };
    let mut summary = crate::checkpoint::Summary::from_text(&summary)?;
    tamper(&mut summary, &mut frontier);
    let body = Body::Checkpoint { pruned, base, frontier, summary: summary.to_text(), plan };
    append_as(obj, body, signer, None, None)?;
    obj.prune()?;
    Ok(obj.take_archive())
}
