//! The cost of policy in the cycle: a Task transition inside a visit at a node with a
//! 5-policy Cedar set for an object carrying 2 policies, against the same transition
//! with no policy at all, and Cedar's own `is_authorized` on the pre-parsed sets.
//! Run: `cargo bench -p peo-core --bench policy`.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use peo_core::{
    Context, CreateOptions, Decision, NodePolicy, NodeSpec, Object, Originator, TaskOutcome, decide, outcome,
};
use serde_json::json;
use std::hint::black_box;

const NODE_POLICIES: &str = r#"
@id("visit") permit(principal, action == Peo::Action::"visit", resource);
@id("delegate") permit(principal, action == Peo::Action::"delegate", resource);
@id("payments") permit(principal == Peo::Originator::"shop", action == Peo::Action::"execute", resource == Peo::Capability::"payment.charge")
  when { context.class == "order" && context.labels.contains("verified") };
@id("no-untrusted") forbid(principal, action, resource) when { context.untrusted_records > 0 };
@id("office-hours") forbid(principal, action == Peo::Action::"execute", resource) when { context.facts.contains("maintenance=true") };
"#;

/// An object in the middle of a visit at `node`, about to execute its Task: with
/// two carried policies, or none.
fn object(node: &NodeSpec, governed: bool) -> Object {
    let plan = json!({"Class": "order", "StartAt": "Start",
        "States": {"Start": {"Type": "Pass", "Next": "Charge"},
                   "Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}}});
    let mut context = Context::new()
        .with_originator(Originator { subject: Some("shop".into()), domain: Some("eu".into()), key: None })
        .with_label("verified")
        .with_label("region:eu")
        .with_attributes(json!({"tier": "gold", "customer": "c-7"}))
        .unwrap();
    if governed {
        context = context
            .with_policy("eu-only", r#"forbid(principal, action == Peo::Action::"execute", resource) unless { context.node_domain == "eu" };"#)
            .unwrap()
            .with_policy("few-attempts", r#"forbid(principal, action, resource) when { context.attempts > 5 };"#)
            .unwrap();
    }
    let mut o =
        Object::create(&plan, context, &json!({"amount": 5}), &CreateOptions { now_ms: 1, ..Default::default() })
            .unwrap();
    // The first cycle of the visit (the `visit` authorisation) happens here, once.
    o.step(node, 2, None).unwrap();
    o
}

fn bench(c: &mut Criterion) {
    let with = NodeSpec::new("eu-1", "eu")
        .with_capability("payment.charge")
        .with_policy(NodePolicy::new(NODE_POLICIES).unwrap());
    let without = NodeSpec::new("eu-1", "eu").with_capability("payment.charge");
    let plain = object(&without, false);
    let governed = object(&with, true);

    let mut g = c.benchmark_group("task transition in a visit (decide + outcome + apply)");
    for (label, node, obj) in
        [("no policy", &without, &plain), ("5 node policies + 2 object policies", &with, &governed)]
    {
        g.bench_function(label, |b| {
            b.iter_batched(
                || obj.clone(),
                |mut o| {
                    let Decision::Execute(call) = decide(&o, node, 3, None).unwrap() else { panic!() };
                    let t = outcome(&o, node, call, TaskOutcome::Output(json!({"ok": true})), 4).unwrap();
                    o.apply(t, node).unwrap();
                    o
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("policy part");
    for (label, node, obj) in [("decide, no policy", &without, &plain), ("decide, with policy", &with, &governed)] {
        g.bench_function(label, |b| b.iter(|| decide(black_box(obj), node, 3, None).unwrap()));
    }
    // Cedar alone, as peo evaluates it: one request (with the six context fields these
    // policies read) against the node's set merged with the object's forbids.
    use cedar_policy::{Authorizer, Context as Ctx, Entities, EntityUid, PolicySet, Request};
    let combined: PolicySet = format!(
        r#"{NODE_POLICIES}
        @id("eu-only") forbid(principal, action == Peo::Action::"execute", resource) unless {{ context.node_domain == "eu" }};
        @id("few-attempts") forbid(principal, action, resource) when {{ context.attempts > 5 }};"#
    )
    .parse()
    .unwrap();
    let ctx = Ctx::from_json_value(
        json!({"class": "order", "labels": ["verified", "region:eu"], "untrusted_records": 0, "facts": [], "node_domain": "eu", "attempts": 0}),
        None,
    )
    .unwrap();
    let uid = |s: &str| s.parse::<EntityUid>().unwrap();
    let request = Request::new(
        uid(r#"Peo::Originator::"shop""#),
        uid(r#"Peo::Action::"execute""#),
        uid(r#"Peo::Capability::"payment.charge""#),
        ctx,
        None,
    )
    .unwrap();
    let auth = Authorizer::new();
    let entities = Entities::empty();
    g.bench_function("cedar is_authorized alone (pre-built request, merged set)", |b| {
        b.iter(|| auth.is_authorized(black_box(&request), &combined, &entities).decision())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
