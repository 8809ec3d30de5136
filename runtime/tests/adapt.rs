//! `Adapt`: the intent refines itself from its history.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use peo_core::{Body, Context, CreateOptions, MutateKind, NodePolicy, Object, Status, Trust};
use peo_runtime::{Disposition, HandlerError, Invocation, ManualClock, Node};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

fn plan() -> Value {
    json!({
        "Class": "order",
        "StartAt": "Charge",
        "States": {
            "Charge": {"Type": "Task", "Resource": "payment.charge", "End": true,
                       "Retry": [{"ErrorEquals": ["Payment.Declined"], "IntervalSeconds": 1, "MaxAttempts": 5}]}
        },
        "Adapt": [{
            "Name": "manual-review",
            "When": {"Variable": "$$.History.Failures.Charge", "NumericGreaterThanEquals": 2},
            "Then": {
                "Class": "manual-review",
                "States": {"NotifyOps": {"Type": "Task", "Resource": "ops.notify", "End": true}},
                "Goto": "NotifyOps"
            }
        }]
    })
}

/// Runs visits at `node`, jumping its clock to each wake time, until the object ends.
fn run(node: &Node, clock: &ManualClock, mut bytes: Vec<u8>) -> (Object, Disposition) {
    for _ in 0..20 {
        let v = node.visit(&bytes, None).unwrap();
        bytes = v.bytes;
        match v.disposition {
            Disposition::Dormant(w) => clock.set(w.at_ms.unwrap()),
            d => return (v.object, d),
        }
    }
    panic!("did not end");
}

#[test]
fn after_two_failures_the_object_reclassifies_itself_and_runs_a_new_state() {
    let options = CreateOptions { now_ms: T0, ..Default::default() };
    let bytes = Object::create(&plan(), Context::new(), &json!({"order": 7}), &options).unwrap().to_bytes();
    let charges = Arc::new(AtomicU32::new(0));
    let c = charges.clone();
    let clock = Arc::new(ManualClock::new(T0));
    let node = Node::new("n", "eu")
        .with_trust(Trust::any())
        .with_clock(clock.clone())
        .handler("payment.charge", move |_: &Invocation| -> Result<Value, HandlerError> {
            c.fetch_add(1, Ordering::SeqCst);
            Err(HandlerError::new("Payment.Declined", "card declined"))
        })
        .handler("ops.notify", |c: &Invocation| Ok(json!({"notified": c.input["order"]})));

    let (object, d) = run(&node, &clock, bytes);
    assert!(matches!(d, Disposition::Terminated { status: Status::Succeeded, .. }), "{d:?}");
    assert_eq!(charges.load(Ordering::SeqCst), 2, "the rule fired after the second failure, before any retry");
    assert_eq!(object.intent().revision(), 1);
    assert_eq!(object.intent().class(), Some("manual-review"));
    assert_eq!(object.data(), &json!({"notified": 7}));

    let records = object.records().unwrap();
    let m = records.iter().find(|r| matches!(r.body, Body::Mutate { kind: MutateKind::Intent, .. })).unwrap();
    let Body::Mutate { revision, change: Some(change), .. } = &m.body else { panic!() };
    assert_eq!(*revision, 1);
    let change: Value = serde_json::from_str(change).unwrap();
    assert_eq!(change["adapt"], "manual-review");
    assert_eq!(change["class"], "manual-review");
    assert_eq!(change["states"], json!(["NotifyOps"]));
    assert_eq!((m.state.as_str(), m.next_state.as_str()), ("Charge", "NotifyOps"));
    assert_eq!(m.intent_hash, Some(object.intent().hash()));
    // Both revisions are in the memory: the genesis commits revision 0, the mutate revision 1.
    assert!(records[0].intent_hash.is_some() && records[0].intent_hash != m.intent_hash);
    assert_eq!(records.iter().filter(|r| r.intent_hash.is_some()).count(), 2);
    // The change is replayed from the original plan the object carries.
    assert_eq!(object.verify(&Trust::any()).into_result().unwrap().changes_checked, 1);

    // The rule fires once: decoded elsewhere, the object does not fire it again.
    let again = Object::from_bytes(&object.to_bytes(), &Default::default()).unwrap();
    assert_eq!(again.verify(&Trust::any()).into_result().unwrap().changes_checked, 1);
    assert_eq!(again.intent().revision(), 1);
}

#[test]
fn a_node_whose_policy_forbids_mutating_the_intent_does_not_apply_the_rule() {
    let options = CreateOptions { now_ms: T0, ..Default::default() };
    let bytes = Object::create(&plan(), Context::new(), &json!({"order": 7}), &options).unwrap().to_bytes();
    let clock = Arc::new(ManualClock::new(T0));
    let policy = NodePolicy::new(
        r#"@id("all") permit(principal, action, resource);
           @id("frozen-intent") forbid(principal, action == Peo::Action::"mutate", resource);"#,
    )
    .unwrap();
    let node = Node::new("n", "eu")
        .with_trust(Trust::any())
        .with_clock(clock.clone())
        .with_policy(policy)
        .handler("payment.charge", |_: &Invocation| -> Result<Value, HandlerError> {
            Err(HandlerError::new("Payment.Declined", "card declined"))
        })
        .handler("ops.notify", |_: &Invocation| Ok(json!("notified")));
    let (object, d) = run(&node, &clock, bytes);
    let Disposition::Terminated { status: Status::Failed, error: Some(e), .. } = d else { panic!("{d:?}") };
    assert_eq!(e.error, "Payment.Declined", "retries ran out; the plan was never refined here");
    assert_eq!(object.intent().revision(), 0);
}

#[test]
fn a_handler_refines_the_intent_through_policy() {
    let plan = json!({"Class": "triage", "StartAt": "Assess", "States": {
        "Assess": {"Type": "Task", "Resource": "triage.assess", "ResultPath": "$.assessment", "End": true}
    }});
    let options = CreateOptions { now_ms: T0, ..Default::default() };
    let bytes = Object::create(&plan, Context::new(), &json!({"ticket": 5}), &options).unwrap().to_bytes();
    let refining = |_: &Invocation| -> Result<(Value, Option<Value>), HandlerError> {
        Ok((
            json!({"severity": "high"}),
            Some(
                json!({"Class": "incident", "States": {"Page": {"Type": "Pass", "Result": "paged", "ResultPath": "$.page", "End": true}}, "Goto": "Page"}),
            ),
        ))
    };
    let node = Node::new("n", "eu").with_trust(Trust::any()).refining_handler("triage.assess", refining);
    let v = node.visit(&bytes, None).unwrap();
    assert!(matches!(v.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
    assert_eq!(v.object.intent().class(), Some("incident"));
    assert_eq!(v.object.data(), &json!({"ticket": 5, "assessment": {"severity": "high"}, "page": "paged"}));
    let kinds: Vec<String> = v.records().unwrap().iter().map(|r| r.action().as_str().to_owned()).collect();
    assert_eq!(kinds, vec!["execute", "mutate", "mutate", "terminate"]);

    // A node that forbids mutating the intent ignores the refinement.
    let strict = Node::new("s", "eu")
        .with_trust(Trust::any())
        .with_policy(
            NodePolicy::new(
                r#"@id("all") permit(principal, action, resource);
                   @id("frozen") forbid(principal, action == Peo::Action::"mutate", resource);"#,
            )
            .unwrap(),
        )
        .refining_handler("triage.assess", refining);
    let v = strict.visit(&bytes, None).unwrap();
    assert!(matches!(v.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
    assert_eq!(v.object.intent().class(), Some("triage"));

    // An invalid refinement is the task's error.
    let bad = Node::new("b", "eu")
        .with_trust(Trust::any())
        .refining_handler("triage.assess", |_: &Invocation| Ok((json!(1), Some(json!({"Nope": 1})))));
    let v = bad.visit(&bytes, None).unwrap();
    let Disposition::Terminated { status: Status::Failed, error: Some(e), .. } = v.disposition else { panic!() };
    assert_eq!(e.error, "peo.InvalidRefinement");
}
