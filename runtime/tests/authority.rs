//! Authority a receiving node can verify: each test is an attack a dishonest node or
//! author could make with the public API or by editing bytes, and what stops it.

use peo_core::{
    Body, Context, CreateOptions, ErrorKind, MutateKind, NodePolicy, Object, Originator, SigningKey, Status, Trust,
    TrustedKey, forge,
};
use peo_runtime::{Disposition, HandlerError, Invocation, Node};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}
fn shop() -> SigningKey {
    key(1)
}
fn eu() -> SigningKey {
    key(2)
}
fn us() -> SigningKey {
    key(3)
}

/// Whom the honest nodes trust: the shop as originator, each node's key as that node.
fn store() -> Trust {
    Trust::store([
        TrustedKey::originator(shop().public_key(), "shop", "eu"),
        TrustedKey::node(eu().public_key(), "wh-eu", "eu"),
        TrustedKey::node(us().public_key(), "pay-us", "us"),
    ])
}

fn plan() -> Value {
    json!({"StartAt": "Reserve", "Constraints": {"AllowedDomains": ["eu", "us"], "MaxHops": 5}, "States": {
        "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.held", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}}})
}

fn context() -> Context {
    Context::new()
        .with_originator(Originator { subject: Some("shop".into()), domain: Some("eu".into()), key: None })
        .with_label("orders")
        .with_policy(
            "charge-only-in-eu",
            r#"forbid(principal, action == Peo::Action::"execute", resource == Peo::Capability::"payment.charge") unless { context.node_domain == "eu" };"#,
        )
        .unwrap()
}

fn create(plan: &Value, context: Context, key: Option<&SigningKey>) -> Object {
    let options = CreateOptions { now_ms: T0, key, ..Default::default() };
    Object::create(plan, context, &json!({"order": 7}), &options).unwrap()
}

fn ok(_: &Invocation) -> Result<Value, HandlerError> {
    Ok(json!("done"))
}

fn warehouse(trust: Trust) -> Node {
    let policy = NodePolicy::new("permit(principal, action, resource);")
        .unwrap()
        .with_library("acme/payments", "forbid(principal, action, resource) when { context.hops > 100 };")
        .unwrap();
    Node::new("wh-eu", "eu")
        .with_key(eu())
        .with_trust(trust)
        .with_policy(policy)
        .handler("inventory.reserve", ok)
        .handler("work.x", ok)
}

fn payments_us(trust: Trust) -> Node {
    Node::new("pay-us", "us").with_key(us()).with_trust(trust).handler("payment.charge", ok)
}

/// The object after the warehouse reserved and delegated the charge.
fn reserved() -> Object {
    let v = warehouse(store()).visit(&create(&plan(), context(), Some(&shop())).to_bytes(), None).unwrap();
    assert!(matches!(v.disposition, Disposition::Delegate { .. }));
    v.object
}

/// Appends a record as a node with `key` would, claiming `id` in `domain`.
fn append_as(o: &mut Object, body: Body, node: (&str, &str, &SigningKey), hashes: [Option<peo_core::Hash>; 2]) {
    forge::append_as(o, body, node, hashes[0], hashes[1]).unwrap();
}

fn broken(o: &Object, trust: &Trust) -> (u32, ErrorKind, String) {
    let decoded = Object::from_bytes(&o.to_bytes(), &Default::default()).unwrap();
    let b = decoded.verify(trust).broken.expect("the object must not verify");
    (b.record, b.kind, b.message)
}

#[test]
fn a_context_change_that_drops_a_forbid_is_an_integrity_error() {
    let mut o = reserved();
    // The us node drops the object's forbid and adds a label, in one signed record that
    // says it only added the label.
    let widened = Context::new().with_originator(o.context().originator.clone()).with_label("orders").with_label("vip");
    forge::set_context(&mut o, widened.clone());
    let change = json!({"labels": ["vip"], "policies": [], "policy_refs": []}).to_string();
    let body = Body::Mutate { kind: MutateKind::Context, revision: 0, change: Some(change) };
    append_as(&mut o, body, ("pay-us", "us", &us()), [None, Some(widened.hash())]);
    let n = o.memory().len() as u32 - 1;
    for trust in [store(), Trust::keys([shop(), eu(), us()].map(|k| k.public_key())), Trust::any()] {
        let (record, kind, msg) = broken(&o, &trust);
        assert_eq!((record, kind), (n, ErrorKind::Integrity), "{msg}");
        assert!(msg.contains("can only gain"), "{msg}");
    }
    // And so the honest node that would delegate the charge refuses the object.
    let err = payments_us(store()).visit(&o.to_bytes(), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
}

#[test]
fn a_plan_replaced_outside_the_rules_is_an_integrity_error() {
    let o = reserved();
    // Dropping AllowedDomains and MaxHops and running a capability the shop never planned.
    let mut replaced = plan();
    replaced["Constraints"] = json!({});
    replaced["States"]["Charge"] = json!({"Type": "Task", "Resource": "data.export", "End": true});
    let then = json!({"Constraints": {}, "States": {"Charge": replaced["States"]["Charge"].clone()}});

    for (change, why) in [
        (json!({"then": then}), "without an Adapt rule, a refinement or the originator's signature"),
        (json!({"refinement": "Reserve", "then": then}), "beyond what the plan allows: Constraints.MaxHops removed"),
    ] {
        let mut o = o.clone();
        forge::set_intent(&mut o, &replaced, 1).unwrap();
        let body = Body::Mutate { kind: MutateKind::Intent, revision: 1, change: Some(change.to_string()) };
        let hash = o.intent().hash();
        append_as(&mut o, body, ("pay-us", "us", &us()), [Some(hash), None]);
        let (record, kind, msg) = broken(&o, &store());
        assert_eq!((record, kind), (o.memory().len() as u32 - 1, ErrorKind::Integrity), "{msg}");
        assert!(msg.contains(why), "{msg}");
    }

    // A refinement within the plan (a planned capability, constraints kept) verifies.
    let mut within = plan();
    within["States"]["Charge"] = json!({"Type": "Task", "Resource": "inventory.reserve", "End": true});
    let then = json!({"States": {"Charge": within["States"]["Charge"].clone()}});
    let mut o = o.clone();
    forge::set_intent(&mut o, &within, 1).unwrap();
    let change = json!({"refinement": "Reserve", "then": then});
    let body = Body::Mutate { kind: MutateKind::Intent, revision: 1, change: Some(change.to_string()) };
    let hash = o.intent().hash();
    append_as(&mut o, body, ("pay-us", "us", &us()), [Some(hash), None]);
    let decoded = Object::from_bytes(&o.to_bytes(), &Default::default()).unwrap();
    let report = decoded.verify(&store()).into_result().unwrap();
    assert_eq!(report.changes_checked, 1);
}

#[test]
fn a_default_node_accepts_no_unsigned_object() {
    let o = create(&plan(), context(), None);
    let err = Node::new("wh-eu", "eu").handler("inventory.reserve", ok).visit(&o.to_bytes(), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Signature, "{err}");
    // Nor one signed by a key it was not told about.
    let o = create(&plan(), context(), Some(&shop()));
    let err = Node::new("wh-eu", "eu").visit(&o.to_bytes(), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Signature, "{err}");
}

#[test]
fn a_key_signing_as_another_node_or_domain_is_a_signature_error() {
    // The us node's key, claiming to be the eu warehouse.
    let impostor = Node::new("wh-eu", "eu").with_key(us()).with_trust(store()).handler("inventory.reserve", ok);
    let v = impostor.visit(&create(&plan(), context(), Some(&shop())).to_bytes(), None).unwrap();
    let (record, kind, msg) = broken(&v.object, &store());
    assert_eq!((record, kind), (v.object.memory().len() as u32 - 1, ErrorKind::Signature), "{msg}");
    assert!(msg.contains("claims node `wh-eu` in domain `eu`"), "{msg}");
    assert!(payments_us(store()).visit(&v.bytes, None).is_err());
}

#[test]
fn a_subject_not_signed_by_its_bound_key_is_a_signature_error() {
    let o = create(&plan(), context(), Some(&key(9)));
    let trust = store().with(TrustedKey::node(key(9).public_key(), "other", "eu"));
    let (record, kind, msg) = broken(&o, &trust);
    assert_eq!((record, kind), (0, ErrorKind::Signature), "{msg}");
    assert!(msg.contains("claims originator `shop`"), "{msg}");
    // The same object under its real key verifies, and policy sees the vouched principal.
    let o = create(&plan(), context(), Some(&shop()));
    let report = o.verify(&store()).into_result().unwrap();
    assert_eq!(report.principal.as_deref(), Some("shop"));
    assert_eq!(report.domains, Some(vec!["eu".to_owned()]));
}

#[test]
fn an_unsigned_claim_is_not_a_principal() {
    // Only the shop may execute; an unsigned object claiming to be the shop does not
    // get that far at a node that trusts anything either: its principal is not vouched
    // for under a store, and a store refuses it outright.
    let policy = r#"permit(principal, action == Peo::Action::"visit", resource);
        permit(principal == Peo::Originator::"shop", action == Peo::Action::"execute", resource);
        permit(principal, action == Peo::Action::"delegate", resource);"#;
    let o = create(&plan(), context(), None);
    let node = Node::new("wh-eu", "eu")
        .with_key(eu())
        .with_trust(store())
        .with_policy(NodePolicy::new(policy).unwrap())
        .handler("inventory.reserve", ok);
    assert_eq!(node.visit(&o.to_bytes(), None).unwrap_err().kind(), ErrorKind::Signature);
}

fn fan_out_plan() -> Value {
    json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Charge",
              "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Task", "Resource": "work.x", "End": true}}}]},
        "Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}}})
}

/// A parent waiting for its one child, the child's genuine final object and the child
/// as it was created.
fn waiting_parent(context: Context) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let v = warehouse(store()).visit(&create(&fan_out_plan(), context, Some(&shop())).to_bytes(), None).unwrap();
    assert_eq!(v.children.len(), 1);
    let child = warehouse(store()).visit(&v.children[0], None).unwrap();
    assert_eq!(child.object.status(), Status::Succeeded);
    (v.bytes, child.bytes, v.children[0].clone())
}

#[test]
fn a_forged_child_completion_is_rejected() {
    let (parent, genuine, created) = waiting_parent(context());
    // The child's genesis is public; anyone can append an unsigned `succeeded` to it.
    let mut forged = Object::from_bytes(&created, &Default::default()).unwrap();
    peo_core::forge::succeed_unsigned(&mut forged, ("wh-eu", "eu")).unwrap();
    let err = payments_us(store()).complete(&parent, &forged.to_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.message().contains("under this node's trust"), "{err}");
    // The genuine completion is then still accepted: the forgery recorded nothing.
    let done = payments_us(store()).complete(&parent, &genuine).unwrap();
    assert!(done.appended > 0);
}

#[test]
fn a_completion_runs_under_the_nodes_authority() {
    // A node whose policy refuses to visit the parent may not record its completion
    // (and so never reaches its next Task).
    let (parent, child, _) = waiting_parent(context());
    let refusing = payments_us(store())
        .with_policy(NodePolicy::new(r#"permit(principal, action == Peo::Action::"execute", resource);"#).unwrap());
    let err = refusing.complete(&parent, &child).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Policy, "{err}");
    // Nor may a node that cannot resolve the parent's policy references.
    let (parent, child, _) = waiting_parent(context().with_policy_ref("acme/payments"));
    let err = payments_us(store()).complete(&parent, &child).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Policy, "{err}");
    assert!(err.message().contains("policy references"), "{err}");
}
