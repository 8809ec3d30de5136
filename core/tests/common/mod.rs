//! Builds objects with realistic memories for tests and benchmarks: the records a
//! journey across two nodes in two domains would leave.
#![allow(dead_code)]

use peo_core::{
    Body, Context, CreateOptions, DormantReason, NodeRef, Object, Originator, PolicyDecision, PolicyOutcome, Record,
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
        .with_policy("eu-only", "forbid(principal, action, resource) unless { context.node_domain == \"eu\" };")
        .unwrap()
        .with_policy_ref("acme/payments")
}

fn node(id: &str, domain: &str, key: Option<&SigningKey>) -> NodeRef {
    NodeRef { id: id.into(), domain: domain.into(), key: key.map(SigningKey::public_key) }
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
        node: std::sync::Arc::new(if signed { node } else { NodeRef { key: None, ..node } }),
        time_ms,
        policy: Some(PolicyOutcome {
            decision: PolicyDecision::Allow,
            policies: vec!["node-policy-1".into()],
            errors: vec![],
        }),
        advice: None,
        intent_hash: None,
        context_hash: None,
        data_hash: ends_visit.then(|| obj.data_hash()),
        variables_hash: None,
        assigned: None,
        signed,
        visit,
        seq: 0,
    }
}

/// Where records are written: one visit of one node.
struct At<'a> {
    node: NodeRef,
    visit: u32,
    key: Option<&'a SigningKey>,
}

impl At<'_> {
    /// Appends one record describing the object as it now is, `t` ms after `T0`.
    #[allow(clippy::too_many_arguments)]
    fn push(&self, obj: &mut Object, body: Body, state: &str, next: &str, status: Status, t: i64, ends: bool) {
        let rec = record(obj, body, state, next, status, self.node.clone(), T0 + t, self.visit, ends, self.key);
        obj.append(rec, if rec_signed(ends, self.key) { self.key } else { None }).expect("append");
    }
}

/// A small journey: genesis, a visit in `eu` (execute, dormant) and a visit in `us`
/// (reentry, a failed then retried execute, terminate). Signed when `signed`.
pub fn journey(signed: bool) -> Object {
    let okey = originator_key();
    let (eu_k, us_k) = (eu_key(), us_key());
    let opts = CreateOptions { now_ms: T0, key: signed.then_some(&okey), ..Default::default() };
    let mut obj = Object::create(&intent(), context(), &json!({"order": 42, "items": ["a", "b"]}), &opts).unwrap();
    let eu = At { node: node("eu-1", "eu", Some(&eu_k)), visit: 1, key: signed.then_some(&eu_k) };
    let us = At { node: node("us-1", "us", Some(&us_k)), visit: 2, key: signed.then_some(&us_k) };
    let execute = |capability: &str, attempt, output: Option<&str>, error: Option<TaskError>| Body::Execute {
        capability: capability.into(),
        attempt,
        idempotency_key: Some(format!("k-{capability}-{attempt}")),
        output: output.map(str::to_owned),
        error,
    };

    let mut data = obj.data().clone();
    data["reservation"] = json!({"id": "r-1"});
    obj.set_data(data);
    eu.push(
        &mut obj,
        execute("inventory.reserve", 0, Some(r#"{"id":"r-1"}"#), None),
        "Reserve",
        "Pause",
        Status::Running,
        10,
        false,
    );
    let wait =
        Body::Dormant { reason: DormantReason::Wait, wake_at_ms: Some(T0 + 60_010), event: None, timeout_at_ms: None };
    eu.push(&mut obj, wait, "Pause", "Charge", Status::Dormant, 10, true);

    let wake = Body::Reentry { cause: ReentryCause::Time, event: None, payload: None };
    us.push(&mut obj, wake, "Pause", "Charge", Status::Running, 61_000, false);
    let declined = TaskError { error: "Payment.Declined".into(), cause: Some("insufficient funds".into()) };
    us.push(
        &mut obj,
        execute("payment.charge", 0, None, Some(declined)),
        "Charge",
        "Charge",
        Status::Running,
        61_001,
        false,
    );
    obj.set_data(json!({"paid": true}));
    us.push(
        &mut obj,
        execute("payment.charge", 1, Some(r#"{"paid":true}"#), None),
        "Charge",
        "Done",
        Status::Running,
        66_001,
        false,
    );
    let done = Body::Terminate { status: Status::Succeeded, output: Some(r#"{"paid":true}"#.into()), error: None };
    us.push(&mut obj, done, "Done", "", Status::Succeeded, 66_002, true);
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
        let output = if large { format!(r#"{{"n":{i},"pad":"{pad}"}}"#) } else { format!(r#"{{"n":{i}}}"#) };
        let body = Body::Execute {
            capability: "counter.increment".into(),
            attempt: 0,
            idempotency_key: Some(format!("k-{i}")),
            output: Some(output),
            error: None,
        };
        let at = node("node-1", "d", key);
        let mut rec = record(&obj, body, "Step", "Step", Status::Running, at, T0 + i as i64, visit, ends, key);
        if !large {
            rec.policy = None;
        }
        obj.append(rec, if rec_signed(ends, key) { key } else { None }).expect("append");
    }
    obj
}
