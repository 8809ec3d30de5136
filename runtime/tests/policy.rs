//! Local authority: nodes decide under their own Cedar policies; an object's own
//! policies can only forbid; bounds end the object.

use peo_core::{
    Body, Context, CreateOptions, DelegateReason, ErrorKind, NodePolicy, Object, Originator, PolicyDecision,
    SigningKey, Status, Trust,
};
use peo_runtime::{Disposition, Invocation, Node};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

fn charge_plan() -> Value {
    json!({"Objective": "charge order 7", "Class": "payment", "StartAt": "Charge",
           "States": {"Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}}})
}

fn create(plan: Value, context: Context) -> Vec<u8> {
    let shop = SigningKey::from_bytes(&[1; 32]);
    let options = CreateOptions { now_ms: T0, key: Some(&shop), ..Default::default() };
    Object::create(&plan, context, &json!({"amount": 5}), &options).unwrap().to_bytes()
}

fn shop() -> Context {
    Context::new().with_originator(Originator { subject: Some("shop".into()), domain: Some("eu".into()), key: None })
}

fn charge(_: &Invocation) -> Result<Value, peo_runtime::HandlerError> {
    Ok(json!("charged"))
}

const BASE: &str = r#"
@id("visit-all") permit(principal, action == Peo::Action::"visit", resource);
@id("delegate-all") permit(principal, action == Peo::Action::"delegate", resource);
"#;

#[test]
fn two_nodes_with_different_policies_decide_differently_and_both_histories_verify() {
    let bytes = create(charge_plan(), shop());
    let strict = NodePolicy::new(&format!(
        r#"{BASE}
        @id("refunds-only") forbid(principal, action == Peo::Action::"execute", resource == Peo::Capability::"payment.charge")
          unless {{ context.class == "refund" }};
        @id("exec") permit(principal, action == Peo::Action::"execute", resource);"#
    ))
    .unwrap();
    let lenient = NodePolicy::new(&format!(
        r#"{BASE}
        @id("payments") permit(principal == Peo::Originator::"shop", action == Peo::Action::"execute", resource == Peo::Capability::"payment.charge");"#
    ))
    .unwrap();
    let a = Node::new("a", "eu")
        .with_trust(Trust::any())
        .with_key(SigningKey::from_bytes(&[2; 32]))
        .with_policy(strict)
        .handler("payment.charge", charge);
    let b = Node::new("b", "eu")
        .with_trust(Trust::any())
        .with_key(SigningKey::from_bytes(&[3; 32]))
        .with_policy(lenient)
        .handler("payment.charge", charge);

    let va = a.visit(&bytes, None).unwrap();
    assert_eq!(
        va.disposition,
        Disposition::Delegate {
            reason: DelegateReason::Policy,
            capability: Some("payment.charge".into()),
            target: None
        }
    );
    let ra = va.records().unwrap();
    let p = ra[0].policy.as_ref().unwrap();
    assert_eq!((p.decision, p.policies.clone()), (PolicyDecision::Deny, vec!["refunds-only".to_string()]));

    let vb = b.visit(&bytes, None).unwrap();
    assert!(matches!(vb.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
    let rb = vb.records().unwrap();
    let Body::Execute { .. } = rb[0].body else { panic!("{:?}", rb[0]) };
    let p = rb[0].policy.as_ref().unwrap();
    assert_eq!((p.decision, p.policies.clone()), (PolicyDecision::Allow, vec!["payments".to_string()]));

    va.object.verify(&Trust::any()).into_result().unwrap();
    vb.object.verify(&Trust::any()).into_result().unwrap();

    // The object delegated by `a` is then executed by `b`.
    let vb2 = b.visit(&va.bytes, None).unwrap();
    assert!(matches!(vb2.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
}

#[test]
fn an_object_policy_forbids_execution_outside_eu() {
    let context = shop()
        .with_policy(
            "eu-only",
            r#"forbid(principal, action == Peo::Action::"execute", resource) unless { context.node_domain == "eu" };"#,
        )
        .unwrap();
    let bytes = create(charge_plan(), context);
    let us = Node::new("us-1", "us").with_trust(Trust::any()).handler("payment.charge", charge);
    let eu = Node::new("eu-1", "eu").with_trust(Trust::any()).handler("payment.charge", charge);

    let v = us.visit(&bytes, None).unwrap();
    assert!(
        matches!(v.disposition, Disposition::Delegate { reason: DelegateReason::Policy, .. }),
        "{:?}",
        v.disposition
    );
    let p = v.records().unwrap()[0].policy.clone().unwrap();
    assert_eq!((p.decision, p.policies), (PolicyDecision::Deny, vec!["eu-only".to_string()]));

    let v = eu.visit(&v.bytes, None).unwrap();
    assert!(matches!(v.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
}

#[test]
fn object_policies_cannot_grant() {
    let e = shop().with_policy("grant", "permit(principal, action, resource);").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("can only forbid"), "{e}");
    assert!(shop().with_policy("bad", "forbid(").is_err());
}

#[test]
fn a_refused_visit_is_a_policy_error_and_a_forbidden_delegation_rejects() {
    let bytes = create(charge_plan(), shop());
    let closed = Node::new("closed", "eu")
        .with_trust(Trust::any())
        .with_policy(NodePolicy::new(r#"@id("nothing") forbid(principal, action, resource);"#).unwrap());
    let before = bytes.clone();
    let e = closed.visit(&bytes, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Policy);
    assert!(e.message().contains("nothing"), "{e}");
    assert_eq!(bytes, before);

    // May visit, may not execute, may not pass on: the object ends rejected.
    let jail = Node::new("jail", "eu")
        .with_trust(Trust::any())
        .with_policy(
            NodePolicy::new(r#"@id("visit") permit(principal, action == Peo::Action::"visit", resource);"#).unwrap(),
        )
        .handler("payment.charge", charge);
    let v = jail.visit(&bytes, None).unwrap();
    let Disposition::Terminated { status: Status::Rejected, error: Some(err), .. } = v.disposition else { panic!() };
    assert_eq!(err.error, "peo.Policy");
    assert_eq!(v.object.status(), Status::Rejected);
}

#[test]
fn unresolved_policy_references_are_delegated() {
    let bytes = create(charge_plan(), shop().with_policy_ref("acme/payments"));
    let open = format!(r#"{BASE} @id("exec") permit(principal, action == Peo::Action::"execute", resource);"#);
    let without = Node::new("without", "eu")
        .with_trust(Trust::any())
        .with_policy(NodePolicy::new(&open).unwrap())
        .handler("payment.charge", charge);
    let v = without.visit(&bytes, None).unwrap();
    assert!(matches!(v.disposition, Disposition::Delegate { reason: DelegateReason::Unresolved, .. }));

    let with = Node::new("with", "eu")
        .with_trust(Trust::any())
        .with_policy(
            NodePolicy::new(&open)
                .unwrap()
                .with_library(
                    "acme/payments",
                    r#"@id("no-big") forbid(principal, action, resource) when { context.attempts > 3 };"#,
                )
                .unwrap(),
        )
        .handler("payment.charge", charge);
    let v = with.visit(&v.bytes, None).unwrap();
    assert!(matches!(v.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
}

#[test]
fn invalid_node_policies_are_refused_when_the_node_is_built() {
    let e = NodePolicy::new("permit(principal, action, resource) when { context.nope == 1 };").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("schema"), "{e}");
    assert!(NodePolicy::new("permit(").is_err());
}

#[test]
fn constraints_end_the_object() {
    let mut plan = charge_plan();
    plan["Constraints"] = json!({"AllowedDomains": ["eu"]});
    let v = Node::new("us-1", "us")
        .with_trust(Trust::any())
        .handler("payment.charge", charge)
        .visit(&create(plan, shop()), None)
        .unwrap();
    let Disposition::Terminated { status: Status::Rejected, error: Some(e), .. } = v.disposition else { panic!() };
    assert_eq!(e.error, "peo.DomainNotAllowed");

    let mut plan = charge_plan();
    plan["Constraints"] = json!({"MaxHops": 1});
    let bytes = create(plan, shop());
    let v = Node::new("a", "eu").with_trust(Trust::any()).visit(&bytes, None).unwrap(); // visit 1: delegates
    assert!(matches!(v.disposition, Disposition::Delegate { .. }));
    let v =
        Node::new("b", "eu").with_trust(Trust::any()).handler("payment.charge", charge).visit(&v.bytes, None).unwrap(); // visit 2
    let Disposition::Terminated { status: Status::Expired, error: Some(e), .. } = v.disposition else { panic!() };
    assert_eq!(e.error, "peo.BoundExceeded");

    let mut plan = charge_plan();
    plan["Constraints"] = json!({"MaxRecords": 2});
    let v = Node::new("a", "eu").with_trust(Trust::any()).visit(&create(plan, shop()), None).unwrap();
    assert!(matches!(v.disposition, Disposition::Delegate { .. }), "genesis + delegate = 2 records");
    let v =
        Node::new("b", "eu").with_trust(Trust::any()).handler("payment.charge", charge).visit(&v.bytes, None).unwrap();
    assert!(matches!(v.disposition, Disposition::Terminated { status: Status::Expired, .. }));
}

#[test]
fn the_context_can_be_narrowed_never_widened() {
    use peo_core::{MutateKind, NodeSpec};
    let options = CreateOptions { now_ms: T0, ..Default::default() };
    let mut o = Object::create(&charge_plan(), shop().with_label("pii"), &json!({}), &options).unwrap();
    let node = NodeSpec::new("n", "eu");
    let narrower = o
        .context()
        .clone()
        .with_label("region:eu")
        .with_policy("no-us", r#"forbid(principal, action, resource) when { context.node_domain == "us" };"#)
        .unwrap();
    o.narrow_context(&node, T0 + 1, narrower).unwrap();
    let r = o.memory().last().unwrap().decode().unwrap();
    let Body::Mutate { kind: MutateKind::Context, change: Some(change), .. } = &r.body else { panic!("{r:?}") };
    let change: Value = serde_json::from_str(change).unwrap();
    assert_eq!(change, json!({"labels": ["region:eu"], "policies": ["no-us"], "policy_refs": []}));
    assert_eq!(r.context_hash, Some(o.context_hash()));
    assert!(o.context().labels().contains(&"region:eu".to_string()));

    // Widening: removing a label is refused, the object unchanged.
    let before = o.memory().len();
    let wider = shop();
    let e = o.narrow_context(&node, T0 + 2, wider).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Policy);
    assert!(e.message().contains("label `pii` would be removed"), "{e}");
    assert_eq!(o.memory().len(), before);

    // The carried policy now applies: a us node may not act on it.
    let bytes = {
        // close the visit properly: a delegate at a node without the capability
        let v = Node::new("n", "eu").with_trust(Trust::any()).visit_object(o, None).unwrap();
        v.bytes
    };
    let us = Node::new("us-1", "us").with_trust(Trust::any()).handler("payment.charge", charge);
    assert_eq!(us.visit(&bytes, None).unwrap_err().kind(), ErrorKind::Policy);
    let eu = Node::new("eu-1", "eu").with_trust(Trust::any()).handler("payment.charge", charge);
    assert!(matches!(
        eu.visit(&bytes, None).unwrap().disposition,
        Disposition::Terminated { status: Status::Succeeded, .. }
    ));
}

#[test]
fn policy_evaluation_fails_closed() {
    // A forbid that reads a field the schema does not have would err at evaluation, and
    // Cedar skips a policy that errs: it is refused when the object is made.
    let err = shop()
        .with_policy(
            "typo",
            r#"forbid(principal, action == Peo::Action::"execute", resource) when { context.hopz > 0 };"#,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("do not validate"), "{err}");

    // A forbid that names its field through an escape still gets the field.
    let obfuscated = shop()
        .with_policy(
            "no-exec-after-a-hop",
            r#"forbid(principal, action == Peo::Action::"execute", resource) when { context["hop\u{73}"] > 0 };"#,
        )
        .unwrap();
    let node = Node::new("a", "eu")
        .with_trust(Trust::any())
        .with_policy(NodePolicy::new(r#"permit(principal, action, resource);"#).unwrap())
        .handler("payment.charge", charge);
    let v = node.visit(&create(charge_plan(), obfuscated), None).unwrap();
    let r = v.records().unwrap();
    assert!(
        matches!(v.disposition, Disposition::Delegate { reason: DelegateReason::Policy, .. }),
        "{:?}",
        v.disposition
    );
    assert_eq!(r[0].policy.as_ref().unwrap().policies, vec!["no-exec-after-a-hop".to_owned()]);
}

#[test]
fn a_pinned_policy_reference_resolves_only_to_the_pinned_text() {
    let reviewed = r#"@id("no-retry-storm") forbid(principal, action, resource) when { context.attempts > 3 };"#;
    let reference = peo_core::policy::pin("acme/payments", reviewed);
    assert!(reference.starts_with("acme/payments@sha256:") && reference.len() == "acme/payments@sha256:".len() + 64);
    let bytes = create(charge_plan(), shop().with_policy_ref(reference.clone()));
    let open = format!(r#"{BASE} @id("exec") permit(principal, action == Peo::Action::"execute", resource);"#);
    let node = |library: &str| {
        Node::new("n", "eu")
            .with_trust(Trust::any())
            .with_policy(NodePolicy::new(&open).unwrap().with_library("acme/payments", library).unwrap())
            .handler("payment.charge", charge)
    };
    // A node that files something else under the name may not act on the object.
    let laxer = r#"@id("no-retry-storm") forbid(principal, action, resource) when { context.attempts > 300 };"#;
    let v = node(laxer).visit(&bytes, None).unwrap();
    assert!(matches!(v.disposition, Disposition::Delegate { reason: DelegateReason::Unresolved, .. }));
    assert!(v.records().unwrap()[0].policy.as_ref().unwrap().errors[0].contains(&reference));
    // The node with the reviewed text acts; so do unpinned references, by name.
    let v = node(reviewed).visit(&bytes, None).unwrap();
    assert!(matches!(v.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
    assert!(NodePolicy::new(&open).unwrap().with_library("acme/payments", laxer).unwrap().resolves("acme/payments"));
}

#[test]
fn a_mutate_request_says_what_it_changes() {
    let no_narrowing = r#"permit(principal, action, resource);
        @id("no-narrowing") forbid(principal, action == Peo::Action::"mutate", resource) when { context.mutation == "narrowing" };"#;
    let no_adapt = r#"permit(principal, action, resource);
        @id("no-adapt") forbid(principal, action == Peo::Action::"mutate", resource) when { context.mutation == "adapt" };"#;
    let bytes = create(charge_plan(), shop());
    let spec = |text: &str| peo_core::NodeSpec::new("n", "eu").with_policy(NodePolicy::new(text).unwrap());
    let mut o = Object::from_bytes(&bytes, &Default::default()).unwrap();
    let narrower = o.context().clone().with_label("audited");
    let err = o.narrow_context(&spec(no_narrowing), T0, narrower.clone()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Policy);
    assert!(err.message().contains("no-narrowing"), "{err}");
    o.narrow_context(&spec(no_adapt), T0, narrower).unwrap();
    assert!(o.context().labels().contains(&"audited".to_owned()));
}
