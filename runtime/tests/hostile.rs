//! Hostile plans, policies and data: each gives a typed error or a bounded ASL failure,
//! and the process lives.

use peo_core::{Context, CreateOptions, ErrorKind, NodePolicy, Object, Status, Trust};
use peo_runtime::{Disposition, Node};
use serde_json::{Value, json};

fn node() -> Node {
    Node::new("n1", "eu").with_trust(Trust::any())
}

fn create(plan: Value, input: Value) -> peo_core::Result<Object> {
    Object::create(&plan, Context::new(), &input, &CreateOptions::default())
}

fn pass(parameters: Value) -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": parameters, "End": true}}})
}

#[test]
fn deeply_nested_intrinsic_calls_are_an_invalid_intent_not_a_crash() {
    let depth = 20_000;
    let expr = format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
    let err = create(pass(json!({"x.$": expr})), json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidIntent, "{err}");
    assert!(err.message().contains("nested deeper than 32"), "{err}");
    // Nesting within the bound still works.
    let expr = format!("{}1{}", "States.Array(".repeat(30), ")".repeat(30));
    let o = create(pass(json!({"x.$": expr})), json!({})).unwrap();
    let v = node().visit(&o.to_bytes(), None).unwrap();
    assert_eq!(v.object.status(), Status::Succeeded);
}

#[test]
fn deeply_nested_cedar_is_refused_before_the_parser_sees_it() {
    let nested = format!("{}true{}", "(".repeat(1_000), ")".repeat(1_000));
    let text = format!("forbid(principal, action, resource) when {{ {nested} }};");
    let err = Context::new().with_policy("deep", text.clone()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("deeper than 32"), "{err}");
    let err = NodePolicy::new(&text.replace("forbid", "permit")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let unary = format!("forbid(principal, action, resource) when {{ {}true }};", "!".repeat(1_000));
    assert!(Context::new().with_policy("not", unary).is_err());
    // Chains without brackets: `if` expressions, attribute accesses, operators.
    for body in [
        format!("{}true{}", "if true then ".repeat(1_000), " else false".repeat(1_000)),
        format!("context.attributes{} == 1", ".x".repeat(5_000)),
        format!("1{} == 1", " + 1".repeat(5_000)),
    ] {
        let err =
            Context::new().with_policy("chain", format!("forbid(principal, action, resource) when {{ {body} }};"));
        assert_eq!(err.unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
    // A realistic policy with many conditions is fine.
    let many = vec!["context.hops < 10 && context.labels.contains(\"x\")"; 40].join(" && ");
    Context::new().with_policy("many", format!("forbid(principal, action, resource) when {{ {many} }};")).unwrap();
    // A brace inside a string literal is not nesting.
    let quoted = format!("forbid(principal, action, resource) when {{ context.state == \"{}\" }};", "(".repeat(100));
    Context::new().with_policy("quoted", quoted).unwrap();
}

#[test]
fn format_amplification_stops_at_the_intrinsic_budget() {
    let refs = vec!["$.s"; 300].join(", ");
    let expr = format!("States.Format('{}', {refs})", "{}".repeat(300));
    let o = create(pass(json!({"x.$": expr})), json!({"s": "x".repeat(900_000)})).unwrap();
    let v = node().visit(&o.to_bytes(), None).unwrap();
    match v.disposition {
        Disposition::Terminated { status: Status::Failed, error: Some(e), .. } => {
            assert_eq!(e.error, "States.DataLimitExceeded", "{e:?}");
        }
        other => panic!("{other:?}"),
    }
    // The same through States.Array (each reference a copy of the string).
    let expr = format!("States.Array({refs})");
    let o = create(pass(json!({"x.$": expr})), json!({"s": "x".repeat(900_000)})).unwrap();
    let v = node().visit(&o.to_bytes(), None).unwrap();
    assert!(matches!(v.disposition, Disposition::Terminated { status: Status::Failed, .. }));
}

#[test]
fn array_unique_of_many_items_keeps_the_first_of_each() {
    let items: Vec<Value> = (0..150_000).map(|i| json!(i % 1_000)).chain([json!(1.0), json!("1")]).collect();
    let o = create(pass(json!({"u.$": "States.ArrayUnique($.a)"})), json!({"a": items})).unwrap();
    let v = node().visit(&o.to_bytes(), None).unwrap();
    let Disposition::Terminated { output: Some(out), .. } = v.disposition else { panic!() };
    let u = out["u"].as_array().unwrap();
    assert_eq!(u.len(), 1_001, "1.0 equals 1; the string \"1\" does not");
    assert_eq!(u[0], json!(0));
    assert_eq!(u[1_000], json!("1"));
}

#[test]
fn a_map_over_more_items_than_max_children_is_a_limit_error() {
    let plan = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}
    }}});
    let o = create(plan.clone(), json!((0..100_000).collect::<Vec<_>>())).unwrap();
    let err = node().visit(&o.to_bytes(), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
    assert!(err.message().contains("max_children"), "{err}");
    assert_eq!(err.state(), Some("M"));
    // Within the bound, the fan-out goes ahead.
    let o = create(plan, json!((0..50).collect::<Vec<_>>())).unwrap();
    let v = node().visit(&o.to_bytes(), None).unwrap();
    assert_eq!(v.children.len(), 50);
}

#[test]
fn string_matches_with_a_hostile_pattern_is_linear() {
    let plan = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.s", "StringMatches": format!("{}b", "*a".repeat(5_000)), "Next": "Y"}], "Default": "N"},
        "Y": {"Type": "Succeed"}, "N": {"Type": "Fail", "Error": "NoMatch"}
    }});
    let o = create(plan, json!({"s": "a".repeat(200_000)})).unwrap();
    let v = node().visit(&o.to_bytes(), None).unwrap();
    assert_eq!(v.object.status(), Status::Failed);
}

#[test]
fn a_template_copying_a_large_input_many_times_stops_at_the_budget() {
    let fields: serde_json::Map<String, Value> = (0..2_000).map(|i| (format!("f{i}.$"), json!("$.s"))).collect();
    let o = create(pass(Value::Object(fields)), json!({"s": "x".repeat(200_000)})).unwrap();
    let v = node().visit(&o.to_bytes(), None).unwrap();
    match v.disposition {
        Disposition::Terminated { status: Status::Failed, error: Some(e), .. } => {
            assert_eq!(e.error, "States.DataLimitExceeded", "{e:?}");
        }
        other => panic!("{other:?}"),
    }
}

/// A Choice whose rules each compare two large strings: linear per rule, so the
/// cycle's work budget (`Limits::max_cycle_work`) is what bounds the state.
fn choice_over_large_strings(rules: usize) -> (Value, Value) {
    let choices: Vec<Value> =
        (0..rules).map(|_| json!({"Variable": "$.s", "StringEqualsPath": "$.t", "Next": "Same"})).collect();
    let plan = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": choices, "Default": "Differ"},
        "Same": {"Type": "Succeed"}, "Differ": {"Type": "Succeed"}}});
    let s = "x".repeat(200_000);
    let t = format!("{}y", &s[1..]);
    (plan, json!({"s": s, "t": t}))
}

#[test]
fn a_choice_past_the_cycles_work_budget_fails_the_state_not_the_node() {
    let (plan, input) = choice_over_large_strings(3_000);
    let o = create(plan, input).unwrap();
    let started = std::time::Instant::now();
    let v = node().visit(&o.to_bytes(), None).unwrap();
    let Disposition::Terminated { status, error: Some(e), .. } = &v.disposition else { panic!("{:?}", v.disposition) };
    assert_eq!(*status, Status::Failed);
    assert_eq!(e.error, "States.Runtime");
    assert!(e.cause.as_deref().unwrap_or("").contains("Limits::max_cycle_work"), "{e:?}");
    eprintln!("3,000 rules over 200 KB strings: failed after {:?}", started.elapsed());
    // The budget is the node's to set: with a larger one the same state runs.
    let (plan, input) = choice_over_large_strings(3_000);
    let roomy = node().with_limits(peo_core::Limits { max_cycle_work: 4 << 30, ..Default::default() });
    let started = std::time::Instant::now();
    let v = roomy.visit(&create(plan, input).unwrap().to_bytes(), None).unwrap();
    assert_eq!(v.object.status(), Status::Succeeded);
    eprintln!("the same with a 4 GiB budget: ran in {:?}", started.elapsed());
    // A realistic Choice is far inside the default budget.
    let (plan, input) = choice_over_large_strings(100);
    let v = node().visit(&create(plan, input).unwrap().to_bytes(), None).unwrap();
    assert_eq!(v.object.status(), Status::Succeeded);
}

#[test]
fn adapt_rules_past_the_cycles_work_budget_end_the_object() {
    let adapt: Vec<Value> = (0..3_000)
        .map(|i| {
            json!({"Name": format!("r{i}"), "When": {"Variable": "$.s", "StringEqualsPath": "$.t"},
                        "Then": {"Constraints": {"MaxHops": 3}}})
        })
        .collect();
    let (mut plan, input) = choice_over_large_strings(1);
    plan["Adapt"] = Value::Array(adapt);
    let v = node().visit(&create(plan, input).unwrap().to_bytes(), None).unwrap();
    let Disposition::Terminated { error: Some(e), .. } = &v.disposition else { panic!("{:?}", v.disposition) };
    assert_eq!(e.error, "States.Runtime");
}

#[test]
fn a_recursive_path_per_rule_is_bounded_too() {
    // `$..k` searches the whole input once per rule.
    let choices: Vec<Value> =
        (0..2_000).map(|_| json!({"Variable": "$..k", "IsPresent": true, "Next": "Found"})).collect();
    let plan = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": choices, "Default": "Found"}, "Found": {"Type": "Succeed"}}});
    let items: Vec<Value> = (0..20_000).map(|i| json!({"a": i, "b": [i, i]})).collect();
    let v = node().visit(&create(plan, json!({"items": items})).unwrap().to_bytes(), None).unwrap();
    let Disposition::Terminated { error: Some(e), .. } = &v.disposition else { panic!("{:?}", v.disposition) };
    assert_eq!(e.error, "States.Runtime");
}
