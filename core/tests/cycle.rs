//! The decision table of the cycle, row by row, and the content of every record kind
//! the cycle writes.

use peo_core::{
    Body, Context, CreateOptions, Decision, DelegateReason, Disposition, DormantReason, ErrorKind, Event, MutateKind,
    NodeSpec, Object, Record, ReentryCause, SigningKey, Status, Step, TaskCall, TaskOutcome, Trust, decide,
};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

fn create(plan: Value, input: Value) -> Object {
    Object::create(&plan, Context::new(), &input, &CreateOptions { now_ms: T0, ..Default::default() }).unwrap()
}

fn last(o: &Object) -> Record {
    o.memory().last().unwrap().decode().unwrap()
}

fn node() -> NodeSpec {
    NodeSpec::new("n1", "eu").with_capability("work")
}

/// Runs cycles at `now`, answering every execution with `answer`, until the object leaves.
fn run(o: &mut Object, node: &NodeSpec, now: i64, answer: impl Fn(&TaskCall) -> TaskOutcome) -> Disposition {
    for _ in 0..100 {
        match o.step(node, now, None).unwrap() {
            Step::Appended(Some(d)) => return d,
            Step::Appended(None) => {}
            Step::Execute(call) => {
                let answer = answer(&call);
                if let Some(d) = o.record_outcome(node, call, answer, now).unwrap() {
                    return d;
                }
            }
            Step::Sleep(w) => return Disposition::Dormant(w),
        }
    }
    panic!("the object did not leave");
}

fn echo(c: &TaskCall) -> TaskOutcome {
    TaskOutcome::Output((*c.input).clone())
}

#[test]
fn pass_is_a_data_mutation_and_end_terminates_succeeded() {
    let mut o = create(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "End": true}}}),
        json!({"a": 0}),
    );
    // Pure: deciding twice changes nothing and decides the same.
    let d1 = decide(&o, &node(), T0, None).unwrap();
    let d2 = decide(&o, &node(), T0, None).unwrap();
    assert_eq!(d1, d2);
    assert_eq!(o.memory().len(), 1);

    assert_eq!(o.step(&node(), T0 + 1, None).unwrap(), Step::Appended(None));
    let r = last(&o);
    assert!(matches!(r.body, Body::Mutate { kind: MutateKind::Data, revision: 0, change: None }));
    assert_eq!((r.state.as_str(), r.next_state.as_str(), r.status), ("P", "", Status::Running));
    assert_eq!((r.visit, r.seq, r.time_ms, r.node.id.as_str()), (1, 1, T0 + 1, "n1"));
    assert_eq!(r.data_hash, None, "a record in the middle of a visit does not commit the data");
    assert_eq!(o.data(), &json!({"a": 0, "r": {"x": 1}}));

    let d = o.step(&node(), T0 + 2, None).unwrap();
    let out = json!({"a": 0, "r": {"x": 1}});
    assert_eq!(
        d,
        Step::Appended(Some(Disposition::Terminated {
            status: Status::Succeeded,
            output: Some(out.clone()),
            error: None
        }))
    );
    let r = last(&o);
    assert_eq!(r.body, Body::Terminate { status: Status::Succeeded, output: Some(out.to_string()), error: None });
    assert_eq!(r.data_hash, Some(o.data_hash()));
    assert_eq!(o.status(), Status::Succeeded);
    o.verify(&Trust::any()).into_result().unwrap();
}

#[test]
fn terminated_objects_refuse_every_cycle_unchanged() {
    let mut o = create(json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}), json!(1));
    run(&mut o, &node(), T0, echo);
    let before = o.to_bytes();
    let e = decide(&o, &node(), T0, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Terminated);
    assert_eq!(o.step(&node(), T0, None).unwrap_err().kind(), ErrorKind::Terminated);
    assert_eq!(o.to_bytes(), before);
}

#[test]
fn choice_is_a_route_mutation_and_no_match_fails() {
    let plan = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
            {"And": [{"Variable": "$.s", "IsPresent": true}, {"Variable": "$.s", "StringMatches": "a*"}], "Next": "A"}
        ]},
        "Big": {"Type": "Succeed"}, "A": {"Type": "Succeed"}
    }});
    let mut o = create(plan.clone(), json!({"n": 11}));
    o.step(&node(), T0, None).unwrap();
    let r = last(&o);
    assert_eq!(r.body, Body::Mutate { kind: MutateKind::Route, revision: 0, change: Some(r#"{"choice":0}"#.into()) });
    assert_eq!(r.next_state, "Big");

    let mut o = create(plan.clone(), json!({"n": 1, "s": "abc"}));
    o.step(&node(), T0, None).unwrap();
    assert_eq!(last(&o).next_state, "A");

    let mut o = create(plan, json!({"n": 1}));
    let d = run(&mut o, &node(), T0, echo);
    let Disposition::Terminated { status: Status::Failed, error: Some(e), .. } = d else { panic!("{d:?}") };
    assert_eq!(e.error, "States.NoChoiceMatched");
    assert!(matches!(last(&o).body, Body::Terminate { status: Status::Failed, .. }));
}

#[test]
fn task_executes_in_two_phases_with_an_idempotency_key() {
    let plan = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "work", "InputPath": "$.in", "Parameters": {"v.$": "$.x", "k": 1},
        "ResultSelector": {"got.$": "$.v"}, "ResultPath": "$.out", "End": true
    }}});
    let mut o = create(plan, json!({"in": {"x": 5}}));
    let Decision::Execute(call) = decide(&o, &node(), T0, None).unwrap() else { panic!() };
    assert_eq!(*call.input, json!({"v": 5, "k": 1}));
    assert_eq!(call.attempt, 0);
    assert_eq!(call.idempotency_key, format!("{}/T/1/0", o.id().to_hex()));
    assert_eq!(call.deadline_ms, None);
    assert_eq!(o.memory().len(), 1, "the first phase appends nothing");

    o.record_outcome(&node(), call.clone(), TaskOutcome::Output(json!({"v": 6})), T0 + 5).unwrap();
    let r = last(&o);
    assert_eq!(
        r.body,
        Body::Execute {
            capability: "work".into(),
            attempt: 0,
            idempotency_key: Some(call.idempotency_key.clone()),
            output: Some(r#"{"v":6}"#.into()),
            error: None
        }
    );
    assert_eq!(o.data(), &json!({"in": {"x": 5}, "out": {"got": 6}}));
    // The same call cannot be recorded twice.
    let e = o.record_outcome(&node(), call, TaskOutcome::Output(json!(1)), T0 + 6).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn task_without_the_capability_is_delegated_naming_it() {
    let originator = SigningKey::from_bytes(&[8; 32]);
    let options = CreateOptions { now_ms: T0, key: Some(&originator), ..Default::default() };
    let plan = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "pay", "End": true}}});
    let mut o = Object::create(&plan, Context::new(), &json!({}), &options).unwrap();
    let key = SigningKey::from_bytes(&[9; 32]);
    let spec = node().with_key(key.clone());
    let d = o.step(&spec, T0, None).unwrap();
    assert_eq!(
        d,
        Step::Appended(Some(Disposition::Delegate {
            reason: DelegateReason::Capability,
            capability: Some("pay".into()),
            target: None
        }))
    );
    let r = last(&o);
    assert_eq!(
        r.body,
        Body::Delegate {
            reason: DelegateReason::Capability,
            capability: Some("pay".into()),
            target: None,
            children: vec![]
        }
    );
    assert_eq!((r.state.as_str(), r.next_state.as_str(), r.status), ("T", "T", Status::Running));
    assert!(r.signed && r.data_hash.is_some(), "the record that ends a visit is signed and commits the data");
    let report = o.verify(&Trust::keys([originator.public_key(), key.public_key()])).into_result().unwrap();
    assert_eq!(report.signatures_checked, 2);

    // The next node, which has the capability, executes it in a new visit.
    let other = NodeSpec::new("n2", "us").with_capability("pay");
    let d = run(&mut o, &other, T0 + 10, |_| TaskOutcome::Output(json!("paid")));
    assert!(matches!(d, Disposition::Terminated { status: Status::Succeeded, .. }));
    let visits: Vec<u32> = o.records().unwrap().iter().map(|r| r.visit).collect();
    assert_eq!(visits, vec![0, 1, 2, 2]);
}

#[test]
fn wait_goes_dormant_and_reenters_only_when_due() {
    let plan = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "P"},
        "P": {"Type": "Pass", "End": true}
    }});
    let mut o = create(plan, json!({"s": 30}));
    let d = run(&mut o, &node(), T0, echo);
    let wake = T0 + 30_000;
    assert_eq!(
        d,
        Disposition::Dormant(peo_core::Wake {
            reason: DormantReason::Wait,
            at_ms: Some(wake),
            event: None,
            timeout_at_ms: None
        })
    );
    assert_eq!(
        last(&o).body,
        Body::Dormant { reason: DormantReason::Wait, wake_at_ms: Some(wake), event: None, timeout_at_ms: None }
    );
    assert_eq!(o.status(), Status::Dormant);

    let n = o.memory().len();
    assert!(matches!(o.step(&node(), wake - 1, None).unwrap(), Step::Sleep(_)));
    assert_eq!(o.memory().len(), n, "early: nothing appended");

    assert_eq!(o.step(&node(), wake, None).unwrap(), Step::Appended(None));
    let r = last(&o);
    assert_eq!(r.body, Body::Reentry { cause: ReentryCause::Time, event: None, payload: None });
    assert_eq!((r.state.as_str(), r.next_state.as_str(), r.status), ("W", "P", Status::Running));
    assert!(matches!(run(&mut o, &node(), wake, echo), Disposition::Terminated { status: Status::Succeeded, .. }));
}

#[test]
fn an_awaited_event_wakes_a_dormant_object() {
    let mut o =
        create(json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "End": true}}}), json!({}));
    // Dormancy on an event, as an `Await` state will record it.
    let mut r = last(&o);
    r.body = Body::Dormant {
        reason: DormantReason::Await,
        wake_at_ms: None,
        event: Some("approved".into()),
        timeout_at_ms: None,
    };
    r.state = "T".into();
    r.next_state = "T".into();
    r.status = Status::Dormant;
    r.visit = 1;
    r.intent_hash = None;
    r.context_hash = None;
    r.data_hash = Some(o.data_hash());
    r.signed = false;
    std::sync::Arc::make_mut(&mut r.node).key = None;
    o.append(r, None).unwrap();

    assert!(matches!(o.step(&node(), T0 + 1_000_000, None).unwrap(), Step::Sleep(_)));
    let other = Event::success("rejected", json!({}));
    assert!(matches!(o.step(&node(), T0, Some(&other)).unwrap(), Step::Sleep(_)));
    let ev = Event::success("approved", json!({"by": "ops"}));
    assert_eq!(o.step(&node(), T0, Some(&ev)).unwrap(), Step::Appended(None));
    assert_eq!(
        last(&o).body,
        Body::Reentry {
            cause: ReentryCause::Event,
            event: Some("approved".into()),
            payload: Some(r#"{"by":"ops"}"#.into())
        }
    );
}

fn retry_plan(jitter: &str) -> Value {
    json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "work", "End": true,
              "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 3, "JitterStrategy": jitter}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}]},
        "Handled": {"Type": "Pass", "End": true}
    }})
}

#[test]
fn retry_backs_off_dormant_then_catch_routes_the_error() {
    let mut o = create(retry_plan("NONE"), json!({"id": 1}));
    let flaky = |_: &TaskCall| TaskOutcome::Error { error: "Flaky".into(), cause: Some("try again".into()) };
    let mut now = T0;
    let mut wakes = vec![];
    loop {
        match run(&mut o, &node(), now, flaky) {
            Disposition::Dormant(w) => {
                assert_eq!(w.reason, DormantReason::Retry);
                wakes.push(w.at_ms.unwrap() - now);
                now = w.at_ms.unwrap();
            }
            Disposition::Terminated { status, output, .. } => {
                assert_eq!(status, Status::Succeeded);
                assert_eq!(output, Some(json!({"id": 1, "error": {"Error": "Flaky", "Cause": "try again"}})));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(wakes, vec![2_000, 6_000], "IntervalSeconds x BackoffRate^n");
    let records = o.records().unwrap();
    let attempts: Vec<u32> = records
        .iter()
        .filter_map(|r| if let Body::Execute { attempt, .. } = r.body { Some(attempt) } else { None })
        .collect();
    assert_eq!(attempts, vec![0, 1, 2]);
    let catch = records.iter().find(|r| matches!(r.body, Body::Mutate { kind: MutateKind::Route, .. })).unwrap();
    assert_eq!(
        catch.body,
        Body::Mutate { kind: MutateKind::Route, revision: 0, change: Some(r#"{"catch":0,"error":"Flaky"}"#.into()) }
    );
    assert_eq!(catch.next_state, "Handled");
}

#[test]
fn full_jitter_is_the_same_on_every_node() {
    let mut o = create(retry_plan("FULL"), json!({"id": 1}));
    let Decision::Execute(call) = decide(&o, &node(), T0, None).unwrap() else { panic!() };
    o.record_outcome(&node(), call, TaskOutcome::Error { error: "Flaky".into(), cause: None }, T0).unwrap();
    // Two nodes in two domains decide on the same object: the same back-off.
    let delay = |node_id: &str, domain: &str| {
        let spec = NodeSpec::new(node_id, domain).with_capability("work");
        let Decision::Record(t) = decide(&o, &spec, T0, None).unwrap() else { panic!() };
        let Body::Dormant { reason: DormantReason::Retry, wake_at_ms: Some(at), .. } = t.record.body else { panic!() };
        at - T0
    };
    let a = delay("a", "eu");
    assert_eq!(a, delay("b", "us"));
    assert!((0..=2_000).contains(&a), "FULL jitter lies in [0, interval]: {a}");
    // A different object draws differently (over a few objects, not all equal).
    let draws: std::collections::BTreeSet<i64> = (0..8)
        .map(|i| {
            let mut o = create(retry_plan("FULL"), json!({"id": i}));
            let Decision::Execute(call) = decide(&o, &node(), T0, None).unwrap() else { panic!() };
            o.record_outcome(&node(), call, TaskOutcome::Error { error: "Flaky".into(), cause: None }, T0).unwrap();
            let Decision::Record(t) = decide(&o, &node(), T0, None).unwrap() else { panic!() };
            t.record.time_ms
                + match t.record.body {
                    Body::Dormant { wake_at_ms: Some(at), .. } => at - T0,
                    _ => 0,
                }
        })
        .collect();
    assert!(draws.len() > 1);
}

#[test]
fn uncaught_errors_fail_and_runtime_errors_are_never_caught() {
    let mut o = create(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "End": true,
            "Catch": [{"ErrorEquals": ["Other"], "Next": "T"}]}}}),
        json!({}),
    );
    let d = run(&mut o, &node(), T0, |_| TaskOutcome::Error { error: "Boom".into(), cause: Some("c".into()) });
    let Disposition::Terminated { status: Status::Failed, error: Some(e), .. } = d else { panic!("{d:?}") };
    assert_eq!((e.error.as_str(), e.cause.as_deref()), ("Boom", Some("c")));

    let mut o = create(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "OutputPath": "$.missing", "End": true,
            "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "T"}, {"ErrorEquals": ["States.ALL"], "Next": "T"}]}}}),
        json!({}),
    );
    let d = run(&mut o, &node(), T0, echo);
    let Disposition::Terminated { status: Status::Failed, error: Some(e), .. } = d else { panic!("{d:?}") };
    assert_eq!(e.error, "States.Runtime");
    assert_eq!(
        e.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'T' (entered at the event id #2). Invalid path '$.missing' : No results for path: $['missing']"
        )
    );
}

#[test]
fn fail_state_terminates_with_its_error_and_cause() {
    let mut o = create(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('because {}', $.c)"}}}),
        json!({"e": "Bad", "c": 7}),
    );
    let d = run(&mut o, &node(), T0, echo);
    let Disposition::Terminated { status: Status::Failed, error: Some(e), output: None } = d else { panic!("{d:?}") };
    assert_eq!((e.error.as_str(), e.cause.as_deref()), ("Bad", Some("because 7")));
}

#[test]
fn task_timeout_and_payload_limit_are_named_errors() {
    let mut o = create(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "TimeoutSeconds": 5, "End": true}}}),
        json!({}),
    );
    let Decision::Execute(call) = decide(&o, &node(), T0, None).unwrap() else { panic!() };
    assert_eq!(call.deadline_ms, Some(T0 + 5_000));
    let d = o.record_outcome(&node(), call, TaskOutcome::Output(json!(1)), T0 + 5_001).unwrap();
    assert_eq!(d, None, "the error is recorded; the next cycle decides what it means");
    let Body::Execute { error: Some(e), output: None, .. } = last(&o).body else { panic!() };
    assert_eq!(e.error, "States.Timeout");
    let d = run(&mut o, &node(), T0 + 5_001, echo);
    assert!(matches!(d, Disposition::Terminated { status: Status::Failed, .. }));

    let mut o =
        create(json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "End": true}}}), json!({}));
    let d = run(&mut o, &node(), T0, |_| TaskOutcome::Output(json!("a".repeat(256 * 1024 + 1))));
    let Disposition::Terminated { error: Some(e), .. } = d else { panic!() };
    assert_eq!(e.error, "States.DataLimitExceeded");
    assert_eq!(
        e.cause.as_deref(),
        Some(
            "The state/task 'work' returned a result with a size exceeding the maximum number of bytes service limit."
        )
    );
}

#[test]
fn an_expired_execution_terminates_expired() {
    let mut o = create(
        json!({"TimeoutSeconds": 5, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}),
        json!({}),
    );
    let Disposition::Dormant(w) = run(&mut o, &node(), T0, echo) else { panic!() };
    assert_eq!((w.at_ms, w.timeout_at_ms), (Some(T0 + 60_000), Some(T0 + 5_000)));
    let d = run(&mut o, &node(), T0 + 5_000, echo);
    let Disposition::Terminated { status: Status::Expired, error: Some(e), .. } = d else { panic!("{d:?}") };
    assert_eq!(e.error, "States.Timeout");
    assert_eq!(o.status(), Status::Expired);
}

#[test]
fn decoded_objects_resume_where_they_were() {
    let mut o = create(retry_plan("NONE"), json!({"id": 1}));
    let flaky = |_: &TaskCall| TaskOutcome::Error { error: "Flaky".into(), cause: None };
    let Disposition::Dormant(w) = run(&mut o, &node(), T0, flaky) else { panic!() };
    // Decode the bytes: the retry count is read back from the memory.
    let mut o = Object::from_bytes(&o.to_bytes(), &Default::default()).unwrap();
    let Disposition::Dormant(w2) = run(&mut o, &node(), w.at_ms.unwrap(), flaky) else { panic!() };
    assert_eq!(w2.at_ms.unwrap() - w.at_ms.unwrap(), 6_000, "second retry: 2 s x 3");
    let mut o = Object::from_bytes(&o.to_bytes(), &Default::default()).unwrap();
    let d = run(&mut o, &node(), w2.at_ms.unwrap(), flaky);
    assert!(matches!(d, Disposition::Terminated { status: Status::Succeeded, .. }), "{d:?}");
    o.verify(&Trust::any()).into_result().unwrap();
}

#[test]
fn records_name_the_node_as_it_is_when_they_are_written() {
    // The node's record identity is made once and shared; a spec changed after it wrote
    // records (its fields are public) names itself anew, and a clone starts afresh.
    let plan = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "work", "Next": "B"},
        "B": {"Type": "Task", "Resource": "work", "Next": "C"},
        "C": {"Type": "Task", "Resource": "work", "End": true}}});
    let mut o = create(plan, json!({}));
    let mut spec = node();
    let step = |o: &mut Object, spec: &NodeSpec| match o.step(spec, T0, None).unwrap() {
        Step::Execute(call) => {
            o.record_outcome(spec, call, echo_of(), T0).unwrap();
        }
        other => panic!("expected an execution, got {other:?}"),
    };
    step(&mut o, &spec);
    assert_eq!((last(&o).node.id.as_str(), last(&o).node.domain.as_str()), ("n1", "eu"));
    spec.id = "n2".into();
    step(&mut o, &spec);
    assert_eq!(last(&o).node.id, "n2");
    let mut copy = spec.clone();
    copy.domain = "us".into();
    step(&mut o, &copy);
    assert_eq!((last(&o).node.id.as_str(), last(&o).node.domain.as_str()), ("n2", "us"));
}

fn echo_of() -> TaskOutcome {
    TaskOutcome::Output(json!({"ok": true}))
}
