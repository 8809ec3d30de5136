//! Workflow variables at run time: limits, scopes across a fan-out, and what a node
//! records (docs/intent.md#variables).

use peo_core::{Context, CreateOptions, Object, Status, Trust};
use peo_runtime::{Disposition, Node};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

fn create(plan: Value, input: Value) -> Vec<u8> {
    let options = CreateOptions { now_ms: T0, ..Default::default() };
    Object::create(&plan, Context::new(), &input, &options).unwrap().to_bytes()
}

/// Runs an object (and every child it fans out) at one node to its end.
fn run(node: &Node, bytes: Vec<u8>) -> Object {
    let mut visit = node.visit(&bytes, None).unwrap();
    while let Disposition::Dormant(_) = visit.disposition {
        let children: Vec<Vec<u8>> = visit.children.iter().map(|c| node.visit(c, None).unwrap().bytes).collect();
        let refs: Vec<&[u8]> = children.iter().map(Vec::as_slice).collect();
        visit = node.complete_all(&visit.bytes, &refs).unwrap();
    }
    visit.object
}

fn failure(o: &Object) -> (String, String) {
    match o.records().unwrap().last().map(|r| r.to_json()) {
        Some(r) => (
            r["body"]["error"]["error"].as_str().unwrap_or("").into(),
            r["body"]["error"]["cause"].as_str().unwrap_or("").into(),
        ),
        None => Default::default(),
    }
}

#[test]
fn a_variable_or_an_assign_past_256_kib_fails_the_state_and_assigns_nothing() {
    let node = Node::new("n", "test").with_trust(Trust::any());
    let big = "x".repeat(200 * 1024);
    for (assign, what) in [
        (json!({"big.$": "States.Format('{}{}', $.s, $.s)"}), "The variable 'big'"),
        (json!({"a.$": "$.s", "b.$": "$.s"}), "The values assigned by this state"),
    ] {
        let plan = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"small": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": assign, "OutputPath": "$.n", "End": true}}});
        let o = run(&node, create(plan, json!({"s": big, "n": 1})));
        assert_eq!(o.status(), Status::Failed);
        let (error, cause) = failure(&o);
        assert_eq!(error, "States.DataLimitExceeded");
        assert!(cause.contains(what), "{cause}");
        assert_eq!(Value::Object(o.variables().clone()), json!({"small": 1}));
        assert!(o.verify(&Trust::any()).broken.is_none());
    }
}

#[test]
fn iterations_read_the_parents_variables_and_their_own_end_with_them() {
    let node = Node::new("n", "test").with_trust(Trust::any());
    let plan = json!({"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"base": 10}, "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "Next": "After", "ItemProcessor": {"StartAt": "Add", "States": {
            "Add": {"Type": "Pass", "Assign": {"inner.$": "States.MathAdd($, $base)"}, "Next": "Show"},
            "Show": {"Type": "Pass", "Parameters": {"v.$": "$inner"}, "End": true}}}},
        "After": {"Type": "Pass", "Parameters": {"inner.$": "$inner"}, "End": true}}});
    let o = run(&node, create(plan, json!({"items": [1, 2]})));
    // The children saw `base` and made `inner`; the parent never had `inner`.
    assert_eq!(o.status(), Status::Failed);
    let (error, cause) = failure(&o);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("$inner"), "{cause}");
    assert_eq!(Value::Object(o.variables().clone()), json!({"base": 10}));
    let records = o.records().unwrap();
    let join = records.iter().find(|r| r.state == "Each" && r.next_state == "After").expect("the join");
    assert!(join.to_json()["body"]["payload"].to_string().contains("root"), "the join commits to the children");
}

#[test]
fn jsonata_assign_and_output_read_the_variables_as_the_state_found_them() {
    let node = Node::new("n", "test").with_trust(Trust::any());
    let plan = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1, "y": 2}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"x": "{% $y %}", "y": "{% $x %}"}, "Output": {"x": "{% $x %}", "y": "{% $y %}"}, "Next": "C"},
        "C": {"Type": "Pass", "Output": {"in": "{% $states.input %}", "x": "{% $x %}", "y": "{% $y %}"}, "End": true}}});
    let o = run(&node, create(plan, json!({})));
    assert_eq!(o.status(), Status::Succeeded);
    // B swapped the variables; its Output still saw them unswapped.
    assert_eq!(o.data(), &json!({"in": {"x": 1, "y": 2}, "x": 2, "y": 1}));
}
