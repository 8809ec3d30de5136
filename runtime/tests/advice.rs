//! Advisors propose; policy decides.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use peo_core::{
    Action, Body, Context, CreateOptions, DelegateReason, NodePolicy, Object, Originator, PolicyDecision, Proposal,
    Status, Trust,
};
use peo_runtime::{Disposition, Invocation, Node};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

fn bytes() -> Vec<u8> {
    let plan = json!({"StartAt": "Wire", "States": {
        "Wire": {"Type": "Task", "Resource": "payment.wire", "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let context = Context::new().with_originator(Originator {
        subject: Some("shop".into()),
        domain: Some("eu".into()),
        key: None,
    });
    Object::create(&plan, context, &json!({"amount": 900}), &CreateOptions { now_ms: T0, ..Default::default() })
        .unwrap()
        .to_bytes()
}

fn proposal(action: Action, target: Option<&str>) -> Proposal {
    Proposal { action, target: target.map(str::to_owned), confidence: 1.0, rationale: "the model is sure".into() }
}

const OPEN: &str = r#"
@id("visit") permit(principal, action == Peo::Action::"visit", resource);
@id("delegate") permit(principal, action == Peo::Action::"delegate", resource);
"#;

#[test]
fn confident_advice_to_execute_a_forbidden_capability_is_overridden() {
    let ran = Arc::new(AtomicU32::new(0));
    let r = ran.clone();
    let policy = NodePolicy::new(&format!(
        r#"{OPEN}
        @id("no-wires") forbid(principal, action == Peo::Action::"execute", resource == Peo::Capability::"payment.wire");
        @id("exec") permit(principal, action == Peo::Action::"execute", resource);"#
    ))
    .unwrap();
    let node = Node::new("n", "eu")
        .with_trust(Trust::any())
        .with_policy(policy)
        .with_advisor(|_: &Object| Some(proposal(Action::Execute, Some("payment.wire"))))
        .handler("payment.wire", move |_: &Invocation| {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(json!("sent"))
        });
    let v = node.visit(&bytes(), None).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 0, "not executed");
    assert!(matches!(v.disposition, Disposition::Delegate { reason: DelegateReason::Policy, .. }));
    let r = &v.records().unwrap()[0];
    let a = r.advice.as_ref().unwrap();
    assert_eq!((a.action, a.confidence, a.followed), (Action::Execute, 1.0, false));
    assert!(a.override_reason.as_deref().unwrap().contains("no-wires"), "{a:?}");
    assert_eq!(r.policy.as_ref().unwrap().decision, PolicyDecision::Deny);
}

#[test]
fn advice_that_agrees_with_the_plan_is_recorded_as_followed() {
    let node = Node::new("n", "eu")
        .with_trust(Trust::any())
        .with_advisor(|o: &Object| (o.state() == "Wire").then(|| proposal(Action::Execute, None)))
        .handler("payment.wire", |_: &Invocation| Ok(json!("sent")));
    let v = node.visit(&bytes(), None).unwrap();
    let r = &v.records().unwrap()[0];
    assert!(matches!(r.body, Body::Execute { .. }));
    assert!(r.advice.as_ref().unwrap().followed);
}

#[test]
fn advice_to_terminate_is_refused_unless_policy_permits_terminate() {
    let advisor = |_: &Object| Some(proposal(Action::Terminate, None));
    // No policy: refused.
    let node = Node::new("n", "eu")
        .with_trust(Trust::any())
        .with_advisor(advisor)
        .handler("payment.wire", |_: &Invocation| Ok(json!("sent")));
    let v = node.visit(&bytes(), None).unwrap();
    assert!(matches!(v.disposition, Disposition::Terminated { status: Status::Succeeded, .. }), "the plan ran on");
    let a = v.records().unwrap()[0].advice.clone().unwrap();
    assert!(!a.followed && a.override_reason.unwrap().contains("terminate"));

    // A policy that does not permit it: refused.
    let exec = format!(r#"{OPEN} @id("exec") permit(principal, action == Peo::Action::"execute", resource);"#);
    let node = Node::new("n", "eu")
        .with_trust(Trust::any())
        .with_policy(NodePolicy::new(&exec).unwrap())
        .with_advisor(advisor)
        .handler("payment.wire", |_: &Invocation| Ok(json!("sent")));
    let v = node.visit(&bytes(), None).unwrap();
    assert!(matches!(v.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));

    // A policy that permits advised termination: followed.
    let node = Node::new("n", "eu").with_trust(Trust::any())
        .with_policy(
            NodePolicy::new(&format!(
                r#"{exec} @id("advised-stop") permit(principal, action == Peo::Action::"terminate", resource) when {{ context.advised }};"#
            ))
            .unwrap(),
        )
        .with_advisor(advisor)
        .handler("payment.wire", |_: &Invocation| Ok(json!("sent")));
    let v = node.visit(&bytes(), None).unwrap();
    let Disposition::Terminated { status: Status::Failed, error: Some(e), .. } = &v.disposition else { panic!() };
    assert_eq!(e.error, peo_core::ADVISED_TERMINATION);
    let r = &v.records().unwrap()[0];
    assert!(r.advice.as_ref().unwrap().followed);
    assert_eq!(r.policy.as_ref().unwrap().policies, vec!["advised-stop".to_string()]);
}

#[test]
fn advice_to_delegate_is_followed_when_permitted() {
    let node = Node::new("n", "eu")
        .with_trust(Trust::any())
        .with_advisor(|_: &Object| Some(proposal(Action::Delegate, Some("gpu-node-7"))))
        .handler("payment.wire", |_: &Invocation| -> Result<Value, _> { panic!("must not run") });
    let v = node.visit(&bytes(), None).unwrap();
    assert_eq!(
        v.disposition,
        Disposition::Delegate {
            reason: DelegateReason::Advice,
            capability: Some("payment.wire".into()),
            target: Some("gpu-node-7".into())
        }
    );
    // An invalid proposal is overridden.
    let node = Node::new("n", "eu")
        .with_trust(Trust::any())
        .with_advisor(|_: &Object| Some(proposal(Action::Mutate, None)))
        .handler("payment.wire", |_: &Invocation| Ok(json!("sent")));
    let v = node.visit(&bytes(), None).unwrap();
    let a = v.records().unwrap()[0].advice.clone().unwrap();
    assert!(!a.followed);
}
