//! Visits: nodes with their own clocks, keys and handlers.

use std::sync::{Arc, Mutex};

use peo_core::{
    Body, Context, CreateOptions, DormantReason, ErrorKind, Object, ReentryCause, SigningKey, Status, Trust,
};
use peo_runtime::{Disposition, HandlerError, Invocation, ManualClock, Node};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

fn create(plan: Value, input: Value, key: Option<&SigningKey>) -> Vec<u8> {
    let options = CreateOptions { now_ms: T0, key, ..Default::default() };
    Object::create(&plan, Context::new(), &input, &options).unwrap().to_bytes()
}

fn clocked(id: &str, now: i64) -> (Node, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(now));
    (Node::new(id, "test").with_trust(Trust::any()).with_clock(clock.clone()), clock)
}

#[test]
fn a_dormant_object_presented_early_appends_nothing_and_reenters_elsewhere_later() {
    let plan = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "Next": "T"},
        "T": {"Type": "Task", "Resource": "ship", "End": true}
    }});
    let bytes = create(plan, json!({"order": 42}), None);
    let (a, _) = clocked("a", T0);
    let visit = a.visit(&bytes, None).unwrap();
    let Disposition::Dormant(w) = &visit.disposition else { panic!("{:?}", visit.disposition) };
    assert_eq!((w.reason, w.at_ms), (DormantReason::Wait, Some(T0 + 3_600_000)));
    assert_eq!(visit.appended, 1);

    // Node b's clock is 10 minutes behind a's: early by its clock, nothing happens.
    let (b, b_clock) = clocked("b", T0 + 3_000_000);
    let b = b.handler("ship", |_: &Invocation| Ok(json!("shipped")));
    let early = b.visit(&visit.bytes, None).unwrap();
    assert_eq!(early.appended, 0);
    assert_eq!(early.bytes, visit.bytes, "an early presentation leaves the bytes as they were");
    assert!(matches!(early.disposition, Disposition::Dormant(_)));

    // Later by b's own clock: it re-enters and runs to the end.
    b_clock.set(T0 + 3_600_000);
    let done = b.visit(&visit.bytes, None).unwrap();
    let records = done.records().unwrap();
    assert_eq!(records[0].body, Body::Reentry { cause: ReentryCause::Time, event: None, payload: None });
    assert_eq!((records[0].node.id.as_str(), records[0].time_ms), ("b", T0 + 3_600_000));
    assert!(matches!(
        done.disposition,
        Disposition::Terminated { status: Status::Succeeded, output: Some(ref v), .. } if v == &json!("shipped")
    ));
    done.object.verify(&Trust::any()).into_result().unwrap();
}

#[test]
fn objects_travel_between_signing_nodes_that_trust_each_other() {
    let (shop, eu, us) =
        (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]), SigningKey::from_bytes(&[3; 32]));
    let trusted = [shop.public_key(), eu.public_key(), us.public_key()];
    let plan = json!({"StartAt": "Reserve", "States": {
        "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "payment.charge", "ResultPath": "$.payment", "End": true}
    }});
    let bytes = create(plan, json!({"sku": "A1"}), Some(&shop));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let eu_node = Node::new("eu-1", "eu").with_trust(Trust::any()).with_key(eu.clone()).trusting(trusted).handler(
        "inventory.reserve",
        move |c: &Invocation| {
            s.lock().unwrap().push((c.idempotency_key.clone(), c.attempt, c.deadline_ms));
            Ok(json!({"held": c.input["sku"]}))
        },
    );
    let us_node = Node::new("us-1", "us")
        .with_trust(Trust::any())
        .with_key(us.clone())
        .trusting(trusted)
        .handler("payment.charge", |_: &Invocation| Ok(json!("ok")));

    let v1 = eu_node.visit(&bytes, None).unwrap();
    assert!(matches!(v1.disposition, Disposition::Delegate { capability: Some(ref c), .. } if c == "payment.charge"));
    let id = v1.object.id().to_hex();
    assert_eq!(seen.lock().unwrap().as_slice(), &[(format!("{id}/Reserve/1/0"), 0, None)]);
    // Only the record that ends the visit is signed.
    let signed: Vec<bool> = v1.records().unwrap().iter().map(|r| r.signed).collect();
    assert_eq!(signed, vec![false, true]);

    let v2 = us_node.visit(&v1.bytes, None).unwrap();
    assert!(matches!(v2.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
    assert_eq!(v2.object.data(), &json!({"sku": "A1", "reservation": {"held": "A1"}, "payment": "ok"}));
    let report = v2.object.verify(&Trust::keys(trusted)).into_result().unwrap();
    assert_eq!(report.signatures_checked, 3);

    // A node that trusts only itself refuses the object.
    let stranger = Node::new("x", "x").with_trust(Trust::any()).with_key(us.clone()).trusting([us.public_key()]);
    assert_eq!(stranger.visit(&v1.bytes, None).unwrap_err().kind(), ErrorKind::Signature);
}

#[test]
fn handler_failures_and_panics_are_recorded_errors() {
    let plan = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "End": true}}});
    let node =
        Node::new("n", "d").with_trust(Trust::any()).handler("work", |c: &Invocation| -> Result<Value, HandlerError> {
            if c.input["panic"] == json!(true) {
                panic!("handler bug");
            }
            Err(HandlerError::new("Work.Failed", "no stock"))
        });
    let v = node.visit(&create(plan.clone(), json!({}), None), None).unwrap();
    let Disposition::Terminated { status: Status::Failed, error: Some(e), .. } = v.disposition else { panic!() };
    assert_eq!((e.error.as_str(), e.cause.as_deref()), ("Work.Failed", Some("no stock")));

    let v = node.visit(&create(plan, json!({"panic": true}), None), None).unwrap();
    let Disposition::Terminated { error: Some(e), .. } = v.disposition else { panic!() };
    assert_eq!((e.error.as_str(), e.cause.as_deref()), (peo_runtime::HANDLER_PANICKED, Some("handler bug")));
}

#[test]
fn a_visit_at_its_cycle_bound_keeps_its_work_and_the_next_goes_on() {
    // A pure loop of 3 x 400 cycles: longer than the bound of 50 cycles a visit.
    let plan = json!({"StartAt": "Inc", "States": {
        "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": 400, "Next": "Inc"}],
                  "Default": "Done"},
        "Done": {"Type": "Succeed"}}});
    let bytes = create(plan, json!({"i": 0}), None);
    let bounded = clocked("n", T0).0.with_max_cycles(50);
    let (mut current, mut visits) = (bytes.clone(), 0);
    let last = loop {
        let v = bounded.visit(&current, None).unwrap();
        visits += 1;
        current = v.bytes.clone();
        match &v.disposition {
            Disposition::Dormant(w) => {
                assert_eq!(w.reason, DormantReason::Budget);
                assert_eq!(w.at_ms, Some(T0));
                assert_eq!(v.appended, 50, "each bounded visit records its 50 cycles");
            }
            Disposition::Terminated { .. } => break v,
            other => panic!("{other:?}"),
        }
    };
    let whole = clocked("n", T0).0.visit(&bytes, None).unwrap();
    let (Disposition::Terminated { status, output, .. }, Disposition::Terminated { output: expected, .. }) =
        (&last.disposition, &whole.disposition)
    else {
        panic!()
    };
    assert_eq!(*status, Status::Succeeded);
    assert_eq!(output, expected);
    assert_eq!(output.as_ref().unwrap()["i"], 400);
    assert_eq!(last.object.memory().len(), whole.object.memory().len());
    assert_eq!(visits, whole.object.memory().len().div_ceil(50));
    last.object.verify(&Trust::any()).into_result().unwrap();
}

#[test]
fn a_plan_that_loops_forever_yields_every_visit_at_the_bound() {
    let plan =
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}});
    let node = Node::new("n", "d").with_trust(Trust::any()).with_max_cycles(50);
    let v = node.visit(&create(plan, json!({}), None), None).unwrap();
    let Disposition::Dormant(w) = &v.disposition else { panic!("{:?}", v.disposition) };
    assert_eq!((w.reason, v.appended), (DormantReason::Budget, 50));
    let again = node.visit(&v.bytes, None).unwrap();
    assert_eq!(again.appended, 50);
    assert_eq!(again.object.state(), v.object.state());
}

#[test]
fn bad_bytes_are_typed_errors() {
    let node = Node::new("n", "d").with_trust(Trust::any());
    assert_eq!(node.visit(b"", None).unwrap_err().kind(), ErrorKind::Decode);
    assert_eq!(node.visit(&[0u8; 64], None).unwrap_err().kind(), ErrorKind::Decode);
    let plan = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let mut bytes = create(plan, json!({"a": 1}), None);
    let n = bytes.len();
    bytes[n - 20] ^= 0xff;
    assert!(node.visit(&bytes, None).is_err());
}

#[test]
fn a_host_driven_session_matches_a_visit_byte_for_byte() {
    use peo_core::TaskOutcome;
    use peo_runtime::Next;
    let plan = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "x.a", "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Task", "Resource": "x.b", "ResultPath": "$.b", "End": true}}});
    let bytes = create(plan, json!({"n": 1}), None);
    let (node, _) = clocked("n1", 1_700_000_000_000);
    let node = node
        .handler("x.a", |c: &Invocation| Ok(json!({"got": c.input["n"]})))
        .handler("x.b", |_: &Invocation| Err(HandlerError::new("B.Failed", "no")));
    let visit = node.visit(&bytes, None).unwrap();

    // The same visit, the host answering each call itself on a node that only declares
    // the capabilities.
    let (host, _) = clocked("n1", 1_700_000_000_000);
    let host = host.with_capability("x.a").with_capability("x.b");
    let mut session = host.begin(&bytes, None).unwrap();
    let mut calls = Vec::new();
    let done = loop {
        match session.advance().unwrap() {
            Next::Done(v) => break v,
            Next::Call(call) => {
                calls.push(call.capability.clone());
                let outcome = if call.capability == "x.a" {
                    TaskOutcome::Output(json!({"got": call.input["n"]}))
                } else {
                    TaskOutcome::Error { error: "B.Failed".into(), cause: Some("no".into()) }
                };
                assert!(session.advance().is_err(), "a pending call must be answered first");
                session.answer(outcome).unwrap();
            }
        }
    };
    assert_eq!(calls, ["x.a", "x.b"]);
    assert_eq!(done.bytes, visit.bytes);
    assert_eq!(done.appended, visit.appended);
    assert!(session.advance().is_err(), "the session is over");
    // A plain visit on the declaring node has no handler to call.
    let v = host.visit(&bytes, None).unwrap();
    let last = v.records().unwrap().into_iter().find(|r| r.action().as_str() == "execute").unwrap();
    assert!(last.to_json()["body"]["error"]["error"] == json!("peo.NoHandler"), "{}", last.to_json());
}

#[test]
fn a_loop_back_into_a_task_gets_new_idempotency_keys() {
    // Poll three times: the same state entered three times.
    let plan = json!({"StartAt": "Poll", "States": {
        "Poll": {"Type": "Task", "Resource": "poll", "ResultPath": "$.n", "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": "Poll"}],
                  "Default": "Done"},
        "Done": {"Type": "Succeed"}}});
    let keys = Arc::new(Mutex::new(Vec::new()));
    let k = keys.clone();
    let node = clocked("n", T0).0.handler("poll", move |c: &Invocation| {
        let mut seen = k.lock().unwrap();
        seen.push(c.idempotency_key.clone());
        Ok(json!(seen.len()))
    });
    let bytes = create(plan, json!({}), None);
    let v = node.visit(&bytes, None).unwrap();
    assert_eq!(v.object.status(), Status::Succeeded);
    let keys = keys.lock().unwrap().clone();
    let id = v.object.id().to_hex();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with(&format!("{id}/Poll/")) && k.ends_with("/0")), "{keys:?}");
    let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), 3, "a new key for every entry: {keys:?}");
    // The same attempt at another node (a redelivery of the same version) has the same key.
    let again = Arc::new(Mutex::new(Vec::new()));
    let a = again.clone();
    let other = clocked("m", T0).0.handler("poll", move |c: &Invocation| {
        a.lock().unwrap().push(c.idempotency_key.clone());
        Ok(json!(9))
    });
    other.visit(&bytes, None).unwrap();
    assert_eq!(again.lock().unwrap()[0], keys[0]);
}
