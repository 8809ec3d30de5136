use serde_json::{Value, json};

use super::*;
use crate::{ErrorKind, Limits};

fn parse(doc: Value) -> crate::Result<Intent> {
    Intent::new(&doc, &Limits::default())
}

fn err(doc: Value) -> crate::Error {
    parse(doc).expect_err("the intent should be refused")
}

fn one_state(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state, "End": {"Type": "Succeed"}}})
}

#[test]
fn all_eight_state_types_and_their_fields_parse() {
    let doc = json!({
        "Comment": "everything", "Version": "1.0", "TimeoutSeconds": 3600, "QueryLanguage": "JSONPath",
        "Objective": "ship order", "Class": "order",
        "Constraints": {"Deadline": 1_800_000_000_000i64, "MaxHops": 20, "MaxRecords": 500, "AllowedDomains": ["eu", "us"]},
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task", "Resource": "inventory.reserve", "Comment": "c",
                "InputPath": "$.order", "OutputPath": "$", "ResultPath": "$.r",
                "Parameters": {"sku.$": "$.sku", "fixed": 1, "nested": {"n.$": "States.Format('{}', $.a)"}},
                "ResultSelector": {"id.$": "$.id"},
                "TimeoutSeconds": 30, "HeartbeatSecondsPath": "$.hb",
                "Retry": [
                    {"ErrorEquals": ["Payment.Declined"], "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 1.5,
                     "MaxDelaySeconds": 60, "JitterStrategy": "FULL"},
                    {"ErrorEquals": ["States.ALL"]}
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", "ResultPath": "$.error"}],
                "Next": "P"
            },
            "P": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": null, "Next": "C"},
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.n", "NumericGreaterThanEquals": 10, "Next": "W"},
                    {"And": [{"Variable": "$.s", "StringMatches": "a*"}, {"Not": {"Variable": "$.b", "BooleanEquals": true}}], "Next": "PA"},
                    {"Or": [{"Variable": "$.t", "TimestampLessThanPath": "$.u"}, {"Variable": "$.z", "IsPresent": false}], "Next": "M"}
                ],
                "Default": "F"
            },
            "W": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "PA"},
            "PA": {
                "Type": "Parallel", "ResultSelector": {"a.$": "$[0]"},
                "Branches": [
                    {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}},
                    {"StartAt": "B2", "States": {"B2": {"Type": "Task", "Resource": "x.y", "End": true}}}
                ],
                "Next": "M"
            },
            "M": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ToleratedFailurePercentage": 10,
                "ItemSelector": {"item.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
                "Next": "OK"
            },
            "OK": {"Type": "Succeed", "OutputPath": "$.result"},
            "F": {"Type": "Fail", "Error": "Order.Failed", "CausePath": "$.error.Cause"}
        },
        "Adapt": [{
            "Name": "manual review after two declines",
            "When": {"Variable": "$$.History.Failures.T", "NumericGreaterThanEquals": 2},
            "Then": {"Class": "manual-review", "Goto": "Notify",
                     "States": {"Notify": {"Type": "Task", "Resource": "ops.notify", "Next": "OK"}}}
        }],
        "Await": {"P": {"Event": "shipment.dispatched", "TimeoutSeconds": 86400}}
    });
    let intent = parse(doc).unwrap();
    let plan = intent.plan();
    assert_eq!(intent.objective(), Some("ship order"));
    assert_eq!(intent.class(), Some("order"));
    assert_eq!(plan.timeout_seconds, Some(3600));
    assert_eq!(intent.constraints().max_hops, Some(20));
    assert_eq!(intent.constraints().allowed_domains.as_deref(), Some(&["eu".to_string(), "us".to_string()][..]));
    assert_eq!(plan.machine.count_states(), 11);
    let types: Vec<&str> = plan.machine.states.iter().map(|s| s.type_name()).collect();
    for t in ["Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    let StateKind::Task(t) = &plan.machine.get("T").unwrap().kind else { panic!() };
    assert_eq!(t.resource, "inventory.reserve");
    assert_eq!(t.retry[0].jitter, Jitter::Full);
    assert_eq!(t.retry[0].backoff_rate, 1.5);
    assert_eq!(t.retry[1].max_attempts, 3, "defaults apply");
    assert_eq!(t.retry[1].interval_seconds, 1);
    assert_eq!(t.catch[0].next, "F");
    assert_eq!(t.heartbeat_seconds, Some(NumberSpec::Path("$.hb".into())));
    let StateKind::Pass(p) = &plan.machine.get("P").unwrap().kind else { panic!() };
    assert_eq!(p.result_path, PathSpec::Null);
    let StateKind::Choice(c) = &plan.machine.get("C").unwrap().kind else { panic!() };
    assert_eq!(c.choices.len(), 3);
    assert!(
        matches!(&c.choices[2].rule, Rule::Or(r) if matches!(&r[0], Rule::Test { op: Comparison::TimestampLessThan, operand: Operand::Path(_), .. }))
    );
    let StateKind::Map(m) = &plan.machine.get("M").unwrap().kind else { panic!() };
    assert!(m.processor.get("I").is_some());
    assert_eq!(plan.adapt[0].then.class.as_deref(), Some("manual-review"));
    assert_eq!(plan.awaits["P"].timeout_seconds, Some(86400));
    assert_eq!(intent.revision(), 0);
}

#[test]
fn canonical_text_and_hash_do_not_depend_on_key_order_or_spacing() {
    let a = Intent::from_json_text(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#, &Limits::default())
        .unwrap();
    let b = Intent::from_json_text(
        "{ \"States\" : { \"A\": {\"End\": true, \"Type\": \"Pass\"} }, \"StartAt\": \"A\" }",
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(a.canonical_text(), b.canonical_text());
    assert_eq!(a.hash(), b.hash());
}

#[test]
fn unknown_fields_name_the_field_and_the_state() {
    let e = err(one_state(json!({"Type": "Task", "Resourse": "x", "Next": "End"})));
    assert_eq!(e.kind(), ErrorKind::InvalidIntent);
    assert_eq!((e.state(), e.field()), (Some("S"), Some("Resourse")));
    assert!(e.message().contains("allowed fields are:") && e.message().contains("Resource"), "{e}");

    let e = err(json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true}}, "Bogus": 1}));
    assert_eq!((e.state(), e.field()), (None, Some("Bogus")));

    // Inside a Parallel branch, the state is named by its path.
    let e = err(one_state(json!({"Type": "Parallel", "Next": "End", "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true, "Colour": "red"}}}
    ]})));
    assert_eq!((e.state(), e.field()), (Some("S/branch 0/X"), Some("Colour")));
    assert!(e.to_string().contains("in state `S/branch 0/X` (field `Colour`)"), "{e}");
}

#[test]
fn features_not_yet_supported_are_unsupported_not_ignored() {
    for (state, field) in [
        (json!({"Type": "Task", "Resource": "r", "End": true, "Credentials": {}}), "Credentials"),
        (
            json!({"Type": "Map", "End": true, "ItemReader": {}, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}),
            "ItemReader",
        ),
    ] {
        let e = err(json!({"StartAt": "S", "States": {"S": state}}));
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{field}: {e}");
        assert_eq!(e.field(), Some(field));
        assert_eq!(e.state(), Some("S"));
    }
}

#[test]
fn jsonata_states_are_checked_when_the_plan_is_parsed() {
    let ok = parse(json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "Arguments": {"a": "{% $states.input.x %}"},
              "Output": "{% $states.result %}", "Assign": {"v": "{% $states.result.n %}"}, "TimeoutSeconds": "{% 3 %}",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "C"}], "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% $v > 1 %}", "Output": 1, "Next": "W"}], "Default": "W"},
        "W": {"Type": "Wait", "Seconds": "{% 1 %}", "Next": "M"},
        "M": {"Type": "Map", "Items": "{% [1, 2] %}", "ItemSelector": {"i": "{% $states.context.Map.Item.Value %}"}, "Next": "F",
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}},
        "F": {"Type": "Fail", "Error": "{% 'E' %}", "Cause": "literal"}
    }}));
    assert!(ok.is_ok(), "{ok:?}");
    let ja = |state: Value| json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": state, "End": {"Type": "Succeed"}}});
    let cases: Vec<(Value, &str, &str)> = vec![
        (ja(json!({"Type": "Pass", "Output": "{% 1 + %}", "Next": "End"})), "Output", "does not parse"),
        (ja(json!({"Type": "Pass", "Output": {"a": ["{% ( %}"]}, "Next": "End"})), "Output/a[0]", "does not parse"),
        (
            ja(json!({"Type": "Pass", "Output": "{% $states.result %}", "Next": "End"})),
            "Output",
            "`$states.result` cannot be read",
        ),
        (
            ja(json!({"Type": "Task", "Resource": "r", "Arguments": "{% $states.result %}", "Next": "End"})),
            "Arguments",
            "`$states.result` cannot be read",
        ),
        (
            ja(json!({"Type": "Task", "Resource": "r", "Output": "{% $states.errorOutput %}", "Next": "End"})),
            "Output",
            "`$states.errorOutput` cannot be read",
        ),
        (ja(json!({"Type": "Pass", "InputPath": "$.a", "Next": "End"})), "InputPath", "is a JSONPath field"),
        (
            ja(json!({"Type": "Pass", "QueryLanguage": "JSONPath", "Next": "End"})),
            "QueryLanguage",
            "cannot appear where JSONata",
        ),
        (ja(json!({"Type": "Pass", "Assign": {"a.$": "$.x"}, "Next": "End"})), "Assign.a.$", "cannot name a variable"),
        (
            ja(json!({"Type": "Choice", "Choices": [{"Condition": "yes", "Next": "End"}]})),
            "Choices[0].Condition",
            "expression or a boolean",
        ),
        (one_state(json!({"Type": "Pass", "Output": {}, "Next": "End"})), "Output", "is a JSONata field"),
        (
            one_state(json!({"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "End"}]})),
            "Choices[0].Condition",
            "is a JSONata field",
        ),
    ];
    for (doc, field, msg) in cases {
        let e = err(doc);
        assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidIntent, Some(field)), "{e}");
        assert!(e.message().contains(msg), "{e}");
    }
}

#[test]
fn variables_are_checked_when_the_plan_is_parsed() {
    let ok = parse(json!({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1, "y.$": "$.a", "z.$": "States.Format('{}', $x)"}, "Next": "C"},
            "C": {"Type": "Choice", "Assign": {"d": 1},
                  "Choices": [{"Variable": "$x", "NumericEquals": 1, "Assign": {"w.$": "$y.b[0]"}, "Next": "M"}],
                  "Default": "M"},
            "M": {"Type": "Map", "ItemsPath": "$items", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"x.$": "$.Error"}, "Next": "E"}],
                  "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Assign": {"inner.$": "$x"}, "End": true}}}},
            "E": {"Type": "Succeed"}
        }
    }));
    assert!(ok.is_ok(), "{ok:?}");
    let cases: Vec<(Value, &str, &str, &str)> = vec![
        (one_state(json!({"Type": "Pass", "Assign": [1], "Next": "End"})), "S", "Assign", "must be an object"),
        (one_state(json!({"Type": "Pass", "Assign": {"states": 1}, "Next": "End"})), "S", "Assign.states", "reserved"),
        (one_state(json!({"Type": "Pass", "Assign": {"1x": 1}, "Next": "End"})), "S", "Assign.1x", "cannot name"),
        (one_state(json!({"Type": "Pass", "Assign": {"a.$": "nope"}, "Next": "End"})), "S", "Assign.a.$", "JSONPath"),
        (
            one_state(json!({"Type": "Pass", "ResultPath": "$x", "Next": "End"})),
            "S",
            "ResultPath",
            "cannot name a variable",
        ),
        (
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "M"},
                "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I", "States": {
                    "I": {"Type": "Pass", "Assign": {"x": 2}, "End": true}}}}}}),
            "M/ItemProcessor/I",
            "Assign.x",
            "outer scope",
        ),
    ];
    for (doc, state, field, msg) in cases {
        let e = err(doc);
        assert_eq!(e.kind(), ErrorKind::InvalidIntent, "{e}");
        assert_eq!((e.state(), e.field()), (Some(state), Some(field)), "{e}");
        assert!(e.message().contains(msg), "{e}");
    }
}

#[test]
fn structural_rules_are_enforced() {
    let cases: Vec<(Value, Option<&str>, &str, &str)> = vec![
        (json!([]), None, "", "must be a JSON object"),
        (json!({"States": {"A": {"Type": "Succeed"}}}), None, "StartAt", "is required"),
        (json!({"StartAt": "Z", "States": {"A": {"Type": "Succeed"}}}), None, "StartAt", "not one of the states"),
        (json!({"StartAt": "A", "States": {}}), None, "States", "at least one state"),
        (one_state(json!({"Type": "Pass", "Next": "Nowhere"})), Some("S"), "Next", "not a state of this machine"),
        (one_state(json!({"Type": "Pass"})), Some("S"), "Next", "needs `Next`"),
        (one_state(json!({"Type": "Pass", "Next": "End", "End": true})), Some("S"), "End", "not both"),
        (one_state(json!({"Type": "Pass", "End": false})), Some("S"), "End", "must be `true`"),
        (one_state(json!({"Type": "Teleport", "End": true})), Some("S"), "Type", "unknown state type"),
        (one_state(json!({"Type": "Task", "End": true})), Some("S"), "Resource", "is required"),
        (one_state(json!({"Type": "Task", "Resource": 7, "End": true})), Some("S"), "Resource", "must be a string"),
        (
            one_state(json!({"Type": "Pass", "End": true, "InputPath": "order"})),
            Some("S"),
            "InputPath",
            "JSONPath starting with `$`",
        ),
        (
            one_state(json!({"Type": "Pass", "End": true, "Parameters": {"a.$": 5}})),
            Some("S"),
            "Parameters.a.$",
            "must be a JSONPath",
        ),
        (one_state(json!({"Type": "Choice", "Choices": []})), Some("S"), "Choices", "at least one rule"),
        (
            one_state(json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": "1", "Next": "End"}]})),
            Some("S"),
            "Choices[0].NumericEquals",
            "takes a number",
        ),
        (
            one_state(json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x"}]})),
            Some("S"),
            "Choices[0].Next",
            "needs `Next`",
        ),
        (
            one_state(
                json!({"Type": "Choice", "Choices": [{"Not": {"Variable": "$.a", "IsNull": true, "Next": "End"}, "Next": "End"}]}),
            ),
            Some("S"),
            "Choices[0].Not.Next",
            "cannot have `Next`",
        ),
        (
            one_state(
                json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x", "StringMatchesPath": "$.b", "Next": "End"}]}),
            ),
            Some("S"),
            "Choices[0].StringMatchesPath",
            "not a comparison operator",
        ),
        (
            one_state(json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "Next": "End"}]})),
            Some("S"),
            "Choices[0]",
            "needs a comparison operator",
        ),
        (
            one_state(
                json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "End"}], "Default": "Q"}),
            ),
            Some("S"),
            "Default",
            "not a state",
        ),
        (one_state(json!({"Type": "Wait", "Next": "End"})), Some("S"), "Seconds", "exactly one of"),
        (
            one_state(json!({"Type": "Wait", "Seconds": 1, "Timestamp": "2024-01-01T00:00:00Z", "Next": "End"})),
            Some("S"),
            "Seconds",
            "exactly one of",
        ),
        (
            one_state(json!({"Type": "Wait", "Seconds": -1, "Next": "End"})),
            Some("S"),
            "Seconds",
            "non-negative integer",
        ),
        (one_state(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})), Some("S"), "ErrorPath", "not both"),
        (
            one_state(json!({"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": []}]})),
            Some("S"),
            "Retry[0].ErrorEquals",
            "non-empty",
        ),
        (
            one_state(
                json!({"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": ["A"], "BackoffRate": 0.5}]}),
            ),
            Some("S"),
            "Retry[0].BackoffRate",
            ">= 1.0",
        ),
        (
            one_state(
                json!({"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": ["A"], "JitterStrategy": "SOME"}]}),
            ),
            Some("S"),
            "Retry[0].JitterStrategy",
            "FULL",
        ),
        (
            one_state(
                json!({"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": ["A"], "IntervalSeconds": 0}]}),
            ),
            Some("S"),
            "Retry[0].IntervalSeconds",
            "positive integer",
        ),
        (
            one_state(
                json!({"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": ["States.ALL", "A"]}]}),
            ),
            Some("S"),
            "Retry[0].ErrorEquals",
            "alone",
        ),
        (
            one_state(
                json!({"Type": "Task", "Resource": "r", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "End"}, {"ErrorEquals": ["A"], "Next": "End"}]}),
            ),
            Some("S"),
            "Catch[0]",
            "must be the last",
        ),
        (
            one_state(
                json!({"Type": "Task", "Resource": "r", "End": true, "Catch": [{"ErrorEquals": ["A"], "Next": "Gone"}]}),
            ),
            Some("S"),
            "Catch.Next",
            "not a state",
        ),
        (
            one_state(
                json!({"Type": "Task", "Resource": "r", "End": true, "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"}),
            ),
            Some("S"),
            "TimeoutSecondsPath",
            "not both",
        ),
        (one_state(json!({"Type": "Parallel", "End": true, "Branches": []})), Some("S"), "Branches", "non-empty"),
        (one_state(json!({"Type": "Map", "End": true})), Some("S"), "ItemProcessor", "needs `ItemProcessor`"),
        (
            json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true}}, "Constraints": {"MaxHops": -1}}),
            None,
            "Constraints.MaxHops",
            "non-negative",
        ),
        (
            json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true}}, "Await": {"Nope": {"Event": "e"}}}),
            None,
            "Await.Nope",
            "not a state",
        ),
        (
            json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}, "Await": {"S": {"Event": "e"}}}),
            Some("S"),
            "Await.S",
            "only Task and Pass",
        ),
        (
            json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true}}, "Adapt": [{"When": {"Variable": "$.a", "IsNull": true}, "Then": {"Goto": "Q"}}]}),
            None,
            "Adapt[0].Then.Goto",
            "not a state",
        ),
        (
            json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true}}, "Adapt": [{"Then": {}}]}),
            None,
            "Adapt[0].When",
            "needs `When`",
        ),
    ];
    for (doc, state, field, msg) in cases {
        let e = err(doc.clone());
        assert_eq!(e.kind(), ErrorKind::InvalidIntent, "{doc}: {e}");
        assert_eq!(e.state(), state, "{doc}: {e}");
        assert_eq!(e.field(), Some(field), "{doc}: {e}");
        assert!(e.message().contains(msg), "{doc}: expected {msg:?} in {e}");
    }
}

#[test]
fn the_states_limit_applies() {
    let states: serde_json::Map<String, Value> =
        (0..20).map(|i| (format!("S{i}"), json!({"Type": "Pass", "End": true}))).collect();
    let doc = json!({"StartAt": "S0", "States": states});
    let limits = Limits { max_states: 10, ..Limits::default() };
    assert_eq!(Intent::new(&doc, &limits).unwrap_err().kind(), ErrorKind::Limit);
    let limits = Limits { max_plan_bytes: 100, ..Limits::default() };
    assert_eq!(Intent::new(&doc, &limits).unwrap_err().kind(), ErrorKind::Limit);
}
