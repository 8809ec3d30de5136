//! `Await`: objects wait, dormant, for named external events.

use std::sync::Arc;

use peo_core::{Body, Context, CreateOptions, DormantReason, Event, Object, ReentryCause, Status, Trust};
use peo_runtime::{Disposition, Invocation, ManualClock, Node};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

fn plan() -> Value {
    json!({
        "StartAt": "Approve",
        "States": {
            "Approve": {"Type": "Task", "Resource": "approvals.request", "ResultPath": "$.approval", "Next": "Ship",
                        "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "Escalate"},
                                  {"ErrorEquals": ["Approval.Rejected"], "ResultPath": "$.rejection", "Next": "Cancelled"}]},
            "Ship": {"Type": "Task", "Resource": "warehouse.ship", "End": true},
            "Escalate": {"Type": "Pass", "Result": "escalated", "ResultPath": "$.outcome", "End": true},
            "Cancelled": {"Type": "Fail", "Error": "Order.Cancelled"}
        },
        "Await": {"Approve": {"EventPath": "$.approval_token", "TimeoutSeconds": 172800}}
    })
}

fn bytes() -> Vec<u8> {
    let options = CreateOptions { now_ms: T0, ..Default::default() };
    Object::create(&plan(), Context::new(), &json!({"order": 7, "approval_token": "approve-7"}), &options)
        .unwrap()
        .to_bytes()
}

fn node(id: &str, now: i64) -> (Node, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(now));
    let n = Node::new(id, "eu")
        .with_trust(Trust::any())
        .with_clock(clock.clone())
        .handler("warehouse.ship", |c: &Invocation| Ok(json!({"shipped": c.input["order"]})));
    (n, clock)
}

#[test]
fn an_event_after_many_hours_resumes_the_object_at_another_node() {
    let (a, _) = node("a", T0);
    let v = a.visit(&bytes(), None).unwrap();
    let Disposition::Dormant(w) = &v.disposition else { panic!("{:?}", v.disposition) };
    assert_eq!(
        (w.reason, w.event.as_deref(), w.at_ms, w.timeout_at_ms),
        (DormantReason::Await, Some("approve-7"), None, Some(T0 + 48 * HOUR))
    );

    // 30 hours later, at another node: first a wrong event (ignored, nothing appended),
    // then the awaited one.
    let (b, _) = node("b", T0 + 30 * HOUR);
    let wrong = b.visit(&v.bytes, Some(&Event::success("approve-8", json!({"by": "x"})))).unwrap();
    assert_eq!(wrong.appended, 0);
    assert_eq!(wrong.bytes, v.bytes);
    let none = b.visit(&v.bytes, None).unwrap();
    assert_eq!(none.appended, 0, "no event and no timeout yet: still dormant");

    let done = b.visit(&v.bytes, Some(&Event::success("approve-7", json!({"by": "ops"})))).unwrap();
    let records = done.records().unwrap();
    assert_eq!(
        records[0].body,
        Body::Reentry {
            cause: ReentryCause::Event,
            event: Some("approve-7".into()),
            payload: Some(r#"{"by":"ops"}"#.into())
        }
    );
    assert_eq!((records[0].node.id.as_str(), records[0].next_state.as_str()), ("b", "Ship"));
    let Disposition::Terminated { status: Status::Succeeded, output: Some(out), .. } = done.disposition else {
        panic!()
    };
    assert_eq!(out, json!({"shipped": 7}));
    assert_eq!(done.object.records().unwrap().iter().filter(|r| r.state == "Approve").count(), 2, "dormant + reentry");
    done.object.verify(&Trust::any()).into_result().unwrap();
}

#[test]
fn a_timeout_goes_to_catch() {
    let (a, clock) = node("a", T0);
    let v = a.visit(&bytes(), None).unwrap();
    clock.set(T0 + 48 * HOUR);
    let v = a.visit(&v.bytes, None).unwrap();
    let records = v.records().unwrap();
    assert!(matches!(records[0].body, Body::Reentry { cause: ReentryCause::Timeout, .. }));
    let Disposition::Terminated { status: Status::Succeeded, output: Some(out), .. } = v.disposition else { panic!() };
    assert_eq!(out["outcome"], json!("escalated"));
    assert_eq!(out["timeout"]["Error"], json!("States.Timeout"));
}

#[test]
fn a_failure_event_is_the_states_error() {
    let (a, _) = node("a", T0);
    let v = a.visit(&bytes(), None).unwrap();
    let v = a.visit(&v.bytes, Some(&Event::failure("approve-7", "Approval.Rejected", "budget"))).unwrap();
    let records = v.records().unwrap();
    assert!(matches!(records[0].body, Body::Reentry { cause: ReentryCause::Failure, .. }));
    let Disposition::Terminated { status: Status::Failed, error: Some(e), .. } = v.disposition else { panic!() };
    assert_eq!(e.error, "Order.Cancelled");
    assert_eq!(v.object.data()["rejection"], json!({"Error": "Approval.Rejected", "Cause": "budget"}));
}

#[test]
fn a_wait_for_task_token_task_hands_out_its_token_and_waits_for_it() {
    use std::sync::Mutex;
    let plan = json!({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "approvals.ask.waitForTaskToken", "TimeoutSeconds": 3600,
                "Parameters": {"token.$": "$$.Task.Token", "order.$": "$.order"}, "ResultPath": "$.answer", "End": true}
    }});
    let options = CreateOptions { now_ms: T0, ..Default::default() };
    let bytes = Object::create(&plan, Context::new(), &json!({"order": 3}), &options).unwrap().to_bytes();
    let token = Arc::new(Mutex::new(String::new()));
    let key = Arc::new(Mutex::new(String::new()));
    let (t, k) = (token.clone(), key.clone());
    let node = Node::new("n", "eu")
        .with_key(peo_core::SigningKey::from_bytes(&[5; 32]))
        .with_trust(Trust::any())
        .with_clock(Arc::new(ManualClock::new(T0)))
        .handler("approvals.ask.waitForTaskToken", move |c: &Invocation| {
            *t.lock().unwrap() = c.input["token"].as_str().unwrap().to_owned();
            *k.lock().unwrap() = c.idempotency_key.clone();
            Ok(json!({"queued": true}))
        });
    let v = node.visit(&bytes, None).unwrap();
    let Disposition::Dormant(w) = &v.disposition else { panic!("{:?}", v.disposition) };
    let (token, attempt) = (token.lock().unwrap().clone(), key.lock().unwrap().clone());
    // The token is not the computable attempt key, and the object keeps only its
    // commitment: nobody reading the object can answer the task.
    assert!(token.starts_with("peo-tt-") && token != attempt, "{token}");
    assert!(attempt.ends_with("/Ask/1/0"), "{attempt}");
    assert_eq!(
        (w.reason, w.event.clone(), w.timeout_at_ms),
        (DormantReason::Await, Some(peo_core::event_key(&token)), Some(T0 + 3_600_000))
    );
    let stored = String::from_utf8_lossy(&v.bytes).into_owned();
    assert!(!stored.contains(&token), "the object carries the token");
    // An event named by the attempt key (what tokens used to be), by the commitment or
    // by anything else is not the token's: the object sleeps on.
    for forged in [attempt.as_str(), &peo_core::event_key(&token), "peo-tt-0000"] {
        let v = node.visit(&v.bytes, Some(&Event::success(forged, json!({"approved": false})))).unwrap();
        assert!(matches!(v.disposition, Disposition::Dormant(_)), "{forged}: {:?}", v.disposition);
        assert!(v.records().unwrap().is_empty(), "{forged} appended a record");
    }
    let v = node.visit(&v.bytes, Some(&Event::success(token.clone(), json!({"approved": true})))).unwrap();
    let Disposition::Terminated { status: Status::Succeeded, output: Some(out), .. } = v.disposition else { panic!() };
    assert_eq!(out, json!({"order": 3, "answer": {"approved": true}}));
    assert!(!String::from_utf8_lossy(&v.bytes).contains(&token), "the used token is not recorded either");
}

#[test]
fn a_jsonata_wait_for_task_token_task_computes_its_timers_and_output() {
    use std::sync::Mutex;
    let plan = json!({"QueryLanguage": "JSONata", "StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "approvals.ask.waitForTaskToken",
                "TimeoutSeconds": "{% $states.input.hours * 3600 %}", "HeartbeatSeconds": "{% 60 %}",
                "Arguments": {"token": "{% $states.context.Task.Token %}"},
                "Output": {"order": "{% $states.input.order %}", "answer": "{% $states.result %}"}, "End": true}
    }});
    let options = CreateOptions { now_ms: T0, ..Default::default() };
    let bytes = Object::create(&plan, Context::new(), &json!({"order": 3, "hours": 2}), &options).unwrap().to_bytes();
    let token = Arc::new(Mutex::new(String::new()));
    let t = token.clone();
    let node = Node::new("n", "eu").with_trust(Trust::any()).with_clock(Arc::new(ManualClock::new(T0))).handler(
        "approvals.ask.waitForTaskToken",
        move |c: &Invocation| {
            *t.lock().unwrap() = c.input["token"].as_str().unwrap().to_owned();
            Ok(json!({"queued": true}))
        },
    );
    let v = node.visit(&bytes, None).unwrap();
    let Disposition::Dormant(w) = &v.disposition else { panic!("{:?}", v.disposition) };
    assert_eq!((w.at_ms, w.timeout_at_ms), (Some(T0 + 60_000), Some(T0 + 7_200_000)));
    let token = token.lock().unwrap().clone();
    let v = node.visit(&v.bytes, Some(&Event::success(token, json!({"approved": true})))).unwrap();
    let Disposition::Terminated { status: Status::Succeeded, output: Some(out), .. } = v.disposition else { panic!() };
    assert_eq!(out, json!({"order": 3, "answer": {"approved": true}}));
}

#[test]
fn heartbeats_keep_a_wait_alive_and_a_missed_one_times_it_out() {
    let plan = json!({"StartAt": "Job", "States": {
        "Job": {"Type": "Pass", "ResultPath": "$.result", "End": true,
                "Catch": []}
    }, "Await": {"Job": {"Event": "job-1", "TimeoutSeconds": 3600, "HeartbeatSeconds": 60}}});
    // Pass states take no Catch: drop it.
    let mut plan = plan;
    plan["States"]["Job"].as_object_mut().unwrap().remove("Catch");
    let options = CreateOptions { now_ms: T0, ..Default::default() };
    let bytes = Object::create(&plan, Context::new(), &json!({}), &options).unwrap().to_bytes();
    let clock = Arc::new(ManualClock::new(T0));
    let node = Node::new("n", "eu").with_trust(Trust::any()).with_clock(clock.clone());
    let v = node.visit(&bytes, None).unwrap();
    let Disposition::Dormant(w) = &v.disposition else { panic!() };
    assert_eq!((w.at_ms, w.timeout_at_ms), (Some(T0 + 60_000), Some(T0 + 3_600_000)));

    clock.set(T0 + 50_000);
    let v = node.visit(&v.bytes, Some(&Event::heartbeat("job-1"))).unwrap();
    let Disposition::Dormant(w) = &v.disposition else { panic!() };
    assert_eq!(w.at_ms, Some(T0 + 110_000), "the heartbeat timer restarted");
    assert_eq!(v.appended, 1);

    clock.set(T0 + 110_000);
    let v = node.visit(&v.bytes, None).unwrap();
    let Disposition::Terminated { status: Status::Failed, error: Some(e), .. } = v.disposition else { panic!() };
    assert_eq!(e.error, "States.HeartbeatTimeout");
}

#[test]
fn an_await_naming_signers_takes_only_their_signed_events_for_this_object() {
    let ops = peo_core::SigningKey::from_bytes(&[21; 32]);
    let eve = peo_core::SigningKey::from_bytes(&[22; 32]);
    let mut p = plan();
    p["Await"]["Approve"]["Signers"] = json!([ops.public_key().to_hex()]);
    let create = |order: i64| {
        let options = CreateOptions { now_ms: T0, ..Default::default() };
        Object::create(&p, Context::new(), &json!({"order": order, "approval_token": "approve-7"}), &options).unwrap()
    };
    let (a, _) = node("a", T0);
    let v = a.visit(&create(7).to_bytes(), None).unwrap();
    assert!(matches!(v.disposition, Disposition::Dormant(_)), "{:?}", v.disposition);
    let id = v.object.id().to_hex();
    let other = create(8).id().to_hex();

    // Unsigned, signed by a key the plan does not name, signed for another object, or
    // changed after signing: the object stays asleep, nothing appended.
    let approval = Event::success("approve-7", json!({"by": "ops"}));
    let mut changed = approval.clone().signed(&id, &ops).unwrap();
    changed.payload = json!({"by": "eve"});
    for forged in [
        approval.clone(),
        approval.clone().signed(&id, &eve).unwrap(),
        approval.clone().signed(&other, &ops).unwrap(),
        changed,
        Event::failure("approve-7", "Approval.Rejected", "no").signed(&id, &eve).unwrap(),
    ] {
        assert!(!peo_core::vouched(&v.object, &forged), "{forged:?}");
        let r = a.visit(&v.bytes, Some(&forged)).unwrap();
        assert_eq!(r.appended, 0, "{forged:?}");
    }
    // Signed by the key the plan names, for this object, as it crosses the wire (its
    // JSON form): the object resumes with the payload.
    let signed = approval.signed(&id, &ops).unwrap();
    let wire = Event::from_json(&signed.to_json()).unwrap();
    assert_eq!(wire, signed);
    assert!(peo_core::vouched(&v.object, &wire));
    let r = a.visit(&v.bytes, Some(&wire)).unwrap();
    assert_eq!(r.object.status(), Status::Succeeded, "{:?}", r.disposition);
    let reentry = &r.records().unwrap()[0];
    assert_eq!(
        reentry.body,
        Body::Reentry {
            cause: ReentryCause::Event,
            event: Some("approve-7".into()),
            payload: Some(r#"{"by":"ops"}"#.into())
        }
    );

    // Signers that are not keys are the plan's mistake.
    for bad in [json!([]), json!(["zz"]), json!("key")] {
        let mut p = plan();
        p["Await"]["Approve"]["Signers"] = bad;
        let e = Object::create(&p, Context::new(), &json!({}), &CreateOptions::default()).unwrap_err();
        assert_eq!(e.kind(), peo_core::ErrorKind::InvalidIntent, "{e}");
        assert!(e.to_string().contains("Signers"), "{e}");
    }
}
