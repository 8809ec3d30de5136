//! Builds objects with realistic memories for tests and benchmarks: the records a
//! journey across two nodes in two domains would leave.
#![allow(dead_code)]

use peo_core::{
    Body, Context, CreateOptions, Decision, DormantReason, NodeRef, Object, Originator, PolicyOutcome, Record,
    ReentryCause, SigningKey, Status, TaskError,
};
use serde_json::{Value, json};

pub const T0: i64 = 1_700_000_000_000;

pub fn originator_key() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}
pub fn eu_key() -> SigningKey {
    SigningKey::from_bytes(&[2; 32])
}
pub fn us_key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

pub fn intent() -> Value {
    json!({
        "Comment": "order fulfilment",
        "Objective": "fulfil order 42",
        "Class": "order",
        "Constraints": {"MaxHops": 10, "Deadline": T0 + 86_400_000},
        "StartAt": "Reserve",
        "States": {
            "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 60, "Next": "Charge"},
            "Charge": {
                "Type": "Task", "Resource": "payment.charge", "Next": "Done",
                "Retry": [{"ErrorEquals": ["Payment.Declined"], "MaxAttempts": 2, "IntervalSeconds": 5}]
            },
            "Done": {"Type": "Succeed"}
        }
    })
}

pub fn context() -> Context {
    Context::new()
        .with_originator(Originator { subject: Some("shop".into()), domain: Some("eu".into()), key: None })
        .with_label("pii")
        .with_label("region:eu")
        .with_attributes(json!({"customer": "c-7", "tier": "gold"}))
        .unwrap()
        .with_policy("eu-only", "forbid(principal, action, resource) unless { context.domain == \"eu\" };")
        .unwrap()
        .with_policy_ref("acme/payments")
}

fn node(id: &str, domain: &str, key: Option<&SigningKey>) -> NodeRef {
    NodeRef { id: id.into(), domain: domain.into(), key: key.map(SigningKey::public_key) }
}

/// Appends one record describing the object as it now is.
#[allow(clippy::too_many_arguments)]
pub fn push(
    obj: &mut Object,
    body: Body,
    state: &str,
    next: &str,
    status: Status,
    node: NodeRef,
    time_ms: i64,
    visit: u32,
    ends_visit: bool,
    key: Option<&SigningKey>,
) {
    let rec = record(obj, body, state, next, status, node, time_ms, visit, ends_visit, key);
    obj.append(rec, if rec_signed(ends_visit, key) { key } else { None }).expect("append");
}

/// A visit signs its last record when the node has a key.
fn rec_signed(ends_visit: bool, key: Option<&SigningKey>) -> bool {
    ends_visit && key.is_some()
}

/// The record a cycle would write, describing the object as it now is.
#[allow(clippy::too_many_arguments)]
pub fn record(
    obj: &Object,
    body: Body,
    state: &str,
    next: &str,
    status: Status,
    node: NodeRef,
    time_ms: i64,
    visit: u32,
    ends_visit: bool,
    key: Option<&SigningKey>,
) -> Record {
    let signed = rec_signed(ends_visit, key);
    Record {
        body,
        state: state.into(),
        next_state: next.into(),
        status,
        node: if signed { node } else { NodeRef { key: None, ..node } },
        time_ms,
        policy: Some(PolicyOutcome {
            decision: Decision::Allow,
            policies: vec!["node-policy-1".into()],
            errors: vec![],
        }),
        advice: None,
        intent_hash: None,
        context_hash: None,
        data_hash: ends_visit.then(|| obj.data_hash()),
        signed,
        visit,
        seq: 0,
    }
}

/// A small journey: genesis, a visit in `eu` (execute, dormant) and a visit in `us`
/// (reentry, a failed then retried execute, terminate). Signed when `signed`.
pub fn journey(signed: bool) -> Object {
    let okey = originator_key();
    let (eu, us) = (eu_key(), us_key());
    let opts = CreateOptions { now_ms: T0, key: signed.then_some(&okey), ..Default::default() };
    let mut obj = Object::create(&intent(), context(), &json!({"order": 42, "items": ["a", "b"]}), &opts).unwrap();
    let k = |k: &SigningKey| signed.then(|| k.clone());
    let (eu, us) = (k(&eu), k(&us));

    let mut data = obj.data().clone();
    data["reservation"] = json!({"id": "r-1"});
    obj.set_data(data);
    let body = Body::Execute {
        capability: "inventory.reserve".into(),
        attempt: 0,
        idempotency_key: Some("k-reserve-0".into()),
        output: Some(r#"{"id":"r-1"}"#.into()),
        error: None,
    };
    push(
        &mut obj,
        body,
        "Reserve",
        "Pause",
        Status::Running,
        node("eu-1", "eu", eu.as_ref()),
        T0 + 10,
        1,
        false,
        eu.as_ref(),
    );
    let body =
        Body::Dormant { reason: DormantReason::Wait, wake_at_ms: Some(T0 + 60_010), event: None, timeout_at_ms: None };
    push(
        &mut obj,
        body,
        "Pause",
        "Charge",
        Status::Dormant,
        node("eu-1", "eu", eu.as_ref()),
        T0 + 10,
        1,
        true,
        eu.as_ref(),
    );

    let body = Body::Reentry { cause: ReentryCause::Time, event: None, payload: None };
    push(
        &mut obj,
        body,
        "Pause",
        "Charge",
        Status::Running,
        node("us-1", "us", us.as_ref()),
        T0 + 61_000,
        2,
        false,
        us.as_ref(),
    );
    let body = Body::Execute {
        capability: "payment.charge".into(),
        attempt: 0,
        idempotency_key: Some("k-charge-0".into()),
        output: None,
        error: Some(TaskError { error: "Payment.Declined".into(), cause: Some("insufficient funds".into()) }),
    };
    push(
        &mut obj,
        body,
        "Charge",
        "Charge",
        Status::Running,
        node("us-1", "us", us.as_ref()),
        T0 + 61_001,
        2,
        false,
        us.as_ref(),
    );
    let body = Body::Execute {
        capability: "payment.charge".into(),
        attempt: 1,
        idempotency_key: Some("k-charge-1".into()),
        output: Some(r#"{"paid":true}"#.into()),
        error: None,
    };
    obj.set_data(json!({"paid": true}));
    push(
        &mut obj,
        body,
        "Charge",
        "Done",
        Status::Running,
        node("us-1", "us", us.as_ref()),
        T0 + 66_001,
        2,
        false,
        us.as_ref(),
    );
    let body = Body::Terminate { status: Status::Succeeded, output: Some(r#"{"paid":true}"#.into()), error: None };
    push(
        &mut obj,
        body,
        "Done",
        "",
        Status::Succeeded,
        node("us-1", "us", us.as_ref()),
        T0 + 66_002,
        2,
        true,
        us.as_ref(),
    );
    obj
}

/// An object with `n` records in all, each visit `per_visit` records long, each an
/// execute record of ~370 bytes (with a policy outcome and a 40-byte pad). Signed
/// visits when `key` is given.
pub fn chain(n: usize, per_visit: usize, key: Option<&SigningKey>) -> Object {
    chain_sized(n, per_visit, key, true)
}

/// Like [`chain`]; with `large == false` the records are ~200 bytes (no policy
/// outcome, no pad).
pub fn chain_sized(n: usize, per_visit: usize, key: Option<&SigningKey>, large: bool) -> Object {
    let intent = json!({"StartAt": "Step", "States": {"Step": {"Type": "Pass", "End": true}}});
    let opts = CreateOptions { now_ms: T0, ..Default::default() };
    let mut obj = Object::create(&intent, Context::new(), &json!({"n": 0}), &opts).unwrap();
    let pad = if large { "x".repeat(40) } else { String::new() };
    for i in 1..n {
        let visit = ((i - 1) / per_visit + 1) as u32;
        let ends = i % per_visit == 0 || i == n - 1;
        let body = Body::Execute {
            capability: "counter.increment".into(),
            attempt: 0,
            idempotency_key: Some(format!("k-{i}")),
            output: Some(format!(r#"{{"n":{i},"pad":"{pad}"}}"#)),
            error: None,
        };
        push(
            &mut obj,
            body,
            "Step",
            "Step",
            Status::Running,
            node("node-1", "d", key),
            T0 + i as i64,
            visit,
            ends,
            key,
        );
    }
    obj
}
