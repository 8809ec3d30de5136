//! Cross-language test vectors: objects, node specs, scripted handler outcomes and the
//! expected results of every visit. `tests/vectors/README.md` describes the format.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use peo_core::{Body, Context, CreateOptions, Event, Hash, MutateKind, Object, Originator, SigningKey, Trust, forge};
use peo_runtime::{HandlerError, Invocation, ManualClock, Node};
use serde_json::{Value, json};
use sha2::Digest;

const T0: i64 = 1_700_000_000_000;

/// The manifest's format version.
const FORMAT: u32 = 1;

fn key(seed: u8) -> String {
    hex::encode([seed; 32])
}

/// A node spec. `trust` is the node's trust in its JSON form (`Trust::from_json`); these
/// nodes accept any object ("any"): the vectors test the cycle, and the attack vectors
/// below set a trust store or none.
fn node(id: &str, domain: &str, key_seed: Option<u8>, capabilities: &[&str]) -> Value {
    json!({"id": id, "domain": domain, "signing_key": key_seed.map(key), "capabilities": capabilities, "trust": "any"})
}

fn public(seed: u8) -> String {
    SigningKey::from_bytes(&[seed; 32]).public_key().to_hex()
}

/// The trust store of the attack vectors: key 1 originates for `shop` in `eu`, key 2
/// signs as `worker-1` in `eu`, key 3 as `pay-us` in `us`.
fn store() -> Value {
    json!({"keys": [
        {"key": public(1), "subjects": ["shop"], "domain": "eu"},
        {"key": public(2), "nodes": ["worker-1"], "domain": "eu"},
        {"key": public(3), "nodes": ["pay-us"], "domain": "us"},
    ]})
}

/// A node whose policies refuse to visit anything.
fn refusing(mut node: Value) -> Value {
    node["policy"] = json!("permit(principal, action == Peo::Action::\"execute\", resource);");
    node
}

fn with_trust(mut node: Value, trust: Value) -> Value {
    node["trust"] = trust;
    node
}

fn visit(node: Value, now_ms: i64, outcomes: Value) -> Value {
    json!({"node": node, "now_ms": now_ms, "event": null, "handler_outcomes": outcomes})
}

fn child_visit(target: &str, node: Value, now_ms: i64, outcomes: Value) -> Value {
    json!({"target": target, "node": node, "now_ms": now_ms, "event": null, "handler_outcomes": outcomes})
}

fn completion(child: &str, node: Value, now_ms: i64) -> Value {
    json!({"complete": child, "node": node, "now_ms": now_ms, "event": null, "handler_outcomes": []})
}

fn completions(children: &[&str], node: Value, now_ms: i64) -> Value {
    json!({"complete": children, "node": node, "now_ms": now_ms, "event": null, "handler_outcomes": []})
}

fn visit_event(node: Value, now_ms: i64, event: Value) -> Value {
    json!({"node": node, "now_ms": now_ms, "event": event, "handler_outcomes": []})
}

/// The vectors: a plan, an input, who creates the object, and the visits it makes.
fn specs() -> Vec<Value> {
    let worker = |caps: &[&str]| node("worker-1", "eu", Some(2), caps);
    vec![
        json!({
            "name": "pass-chain",
            "description": "Pass states: Result, Parameters with paths, the context object and intrinsic functions (Format, MathAdd, Hash, UUID and MathRandom, whose randomness derives from the object), ResultPath, OutputPath; then the end",
            "plan": {"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Result": {"greeting": "hello"}, "ResultPath": "$.a", "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {
                    "text.$": "States.Format('{} {}', $.a.greeting, $.name)",
                    "sum.$": "States.MathAdd($.n, 2)",
                    "hash.$": "States.Hash($.name, 'SHA-256')",
                    "uuid.$": "States.UUID()",
                    "dice.$": "States.MathRandom(1, 7)",
                    "state.$": "$$.State.Name"
                }, "ResultPath": "$.b", "Next": "C"},
                "C": {"Type": "Pass", "OutputPath": "$.b", "End": true}
            }},
            "input": {"name": "peo", "n": 40},
            "originator_key": 1,
            "visits": [visit(worker(&[]), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "task-success",
            "description": "A Task with InputPath, Parameters, ResultSelector, ResultPath and OutputPath at a signing node: execute, then terminate succeeded",
            "plan": {"StartAt": "Price", "States": {"Price": {
                "Type": "Task", "Resource": "pricing.quote", "InputPath": "$.order",
                "Parameters": {"sku.$": "$.sku", "qty.$": "$.qty"},
                "ResultSelector": {"total.$": "$.amount"}, "ResultPath": "$.quote", "End": true
            }}},
            "input": {"order": {"sku": "A1", "qty": 3}},
            "originator_key": 1,
            "visits": [visit(worker(&["pricing.quote"]), T0 + 1_000, json!([{"output": {"amount": 30, "currency": "EUR"}}]))]
        }),
        json!({
            "name": "delegate-then-execute",
            "description": "A node without the capability delegates naming it; a node in another domain executes it",
            "plan": {"StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}}},
            "input": {"amount": 12},
            "originator_key": 1,
            "visits": [
                visit(worker(&["inventory.reserve"]), T0 + 1_000, json!([])),
                visit(node("payments-1", "us", Some(3), &["payment.charge"]), T0 + 2_000, json!([{"output": {"charged": 12}}]))
            ]
        }),
        json!({
            "name": "choice",
            "description": "Choice rules (And, Not, numeric, string and timestamp comparisons, IsPresent) route; then a second object finds no match and fails with States.NoChoiceMatched",
            "plan": {"StartAt": "Route", "States": {
                "Route": {"Type": "Choice", "Choices": [
                    {"And": [{"Variable": "$.total", "NumericGreaterThanEquals": 100}, {"Not": {"Variable": "$.coupon", "IsPresent": true}}], "Next": "Big"},
                    {"Variable": "$.at", "TimestampLessThan": "2024-01-01T00:00:00Z", "Next": "Old"}
                ]},
                "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.route", "End": true},
                "Old": {"Type": "Pass", "Result": "old", "ResultPath": "$.route", "End": true}
            }},
            "input": {"total": 150, "at": "2025-06-01T12:00:00Z"},
            "originator_key": null,
            "visits": [visit(worker(&[]), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "choice-no-match",
            "description": "No Choice rule matches and there is no Default: terminate failed with States.NoChoiceMatched",
            "plan": {"StartAt": "Route", "States": {
                "Route": {"Type": "Choice", "Choices": [{"Variable": "$.total", "NumericGreaterThan": 100, "Next": "Big"}]},
                "Big": {"Type": "Succeed"}
            }},
            "input": {"total": 5},
            "originator_key": null,
            "visits": [visit(worker(&[]), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "wait-dormant-reentry",
            "description": "A Wait state goes dormant; presented early at another node, nothing is appended; presented after its wake time by that node's clock, it re-enters and ends",
            "plan": {"StartAt": "Cool", "States": {
                "Cool": {"Type": "Wait", "Seconds": 60, "Next": "Done"},
                "Done": {"Type": "Succeed"}
            }},
            "input": {"batch": 7},
            "originator_key": 1,
            "visits": [
                visit(worker(&[]), T0 + 1_000, json!([])),
                visit(node("worker-2", "us", Some(3), &[]), T0 + 30_000, json!([])),
                visit(node("worker-2", "us", Some(3), &[]), T0 + 61_000, json!([]))
            ]
        }),
        json!({
            "name": "retry-catch",
            "description": "A Task fails, is retried after a FULL-jitter back-off (dormant, then reentry), fails again and is caught: the error lands at the Catch's ResultPath",
            "plan": {"StartAt": "Call", "States": {
                "Call": {"Type": "Task", "Resource": "flaky.call", "Next": "Done",
                    "Retry": [{"ErrorEquals": ["Flaky.Busy"], "IntervalSeconds": 2, "MaxAttempts": 1, "JitterStrategy": "FULL"}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}]},
                "Recover": {"Type": "Pass", "Result": true, "ResultPath": "$.recovered", "End": true},
                "Done": {"Type": "Succeed"}
            }},
            "input": {"job": "j-1"},
            "originator_key": 1,
            "visits": [
                visit(worker(&["flaky.call"]), T0 + 1_000, json!([{"error": "Flaky.Busy", "cause": "try later"}])),
                visit(worker(&["flaky.call"]), T0 + 10_000, json!([{"error": "Flaky.Busy", "cause": "still busy"}]))
            ]
        }),
        json!({
            "name": "task-timeout",
            "description": "A handler that takes longer than TimeoutSeconds: States.Timeout, uncaught, terminate failed",
            "plan": {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": "slow.op", "TimeoutSeconds": 5, "End": true}}},
            "input": {},
            "originator_key": null,
            "visits": [visit(worker(&["slow.op"]), T0 + 1_000, json!([{"output": "late", "took_ms": 6_000}]))]
        }),
        json!({
            "name": "fail-state",
            "description": "A Fail state with ErrorPath and an intrinsic CausePath",
            "plan": {"StartAt": "Stop", "States": {"Stop": {"Type": "Fail", "ErrorPath": "$.code", "CausePath": "States.Format('order {} rejected', $.id)"}}},
            "input": {"code": "Order.Rejected", "id": 9},
            "originator_key": null,
            "visits": [visit(worker(&[]), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "execution-timeout",
            "description": "The plan's TimeoutSeconds passes while the object is dormant: presented at its timeout, it terminates expired",
            "plan": {"TimeoutSeconds": 10, "StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 3600, "End": true}}},
            "input": {},
            "originator_key": null,
            "visits": [
                visit(worker(&[]), T0 + 1_000, json!([])),
                visit(worker(&[]), T0 + 10_000, json!([]))
            ]
        }),
        json!({
            "name": "await-event",
            "description": "An Await state goes dormant on an event named from the data; a wrong event at another node 30 hours later appends nothing; the right event resumes it and its payload becomes the state's result",
            "plan": {"StartAt": "Approve", "States": {
                "Approve": {"Type": "Pass", "ResultPath": "$.approval", "Next": "Done"},
                "Done": {"Type": "Succeed"}
            }, "Await": {"Approve": {"EventPath": "$.token", "TimeoutSeconds": 172800}}},
            "input": {"token": "approve-7"},
            "originator_key": 1,
            "visits": [
                visit(worker(&[]), T0 + 1_000, json!([])),
                visit_event(node("worker-2", "us", Some(3), &[]), T0 + 108_000_000, json!({"name": "approve-8", "payload": {"by": "x"}})),
                visit_event(node("worker-2", "us", Some(3), &[]), T0 + 108_000_000, json!({"name": "approve-7", "payload": {"by": "ops"}}))
            ]
        }),
        json!({
            "name": "await-failure-catch",
            "description": "An awaited event reports a failure (SendTaskFailure): the state raises it and Catch routes it",
            "plan": {"StartAt": "Approve", "States": {
                "Approve": {"Type": "Task", "Resource": "approvals.request", "Next": "Done",
                            "Catch": [{"ErrorEquals": ["Approval.Rejected"], "ResultPath": "$.rejection", "Next": "Rejected"}]},
                "Rejected": {"Type": "Pass", "Result": true, "ResultPath": "$.rejected", "End": true},
                "Done": {"Type": "Succeed"}
            }, "Await": {"Approve": {"Event": "approval"}}},
            "input": {"order": 9},
            "originator_key": null,
            "visits": [
                visit(worker(&[]), T0 + 1_000, json!([])),
                visit_event(worker(&[]), T0 + 5_000, json!({"name": "approval", "error": "Approval.Rejected", "cause": "over budget"}))
            ]
        }),
        json!({
            "name": "policy-decides",
            "description": "Cedar: a node whose policy does not permit the capability delegates it (reason policy, the decision recorded); a node that permits it executes, and the object's own forbid policy is evaluated with it",
            "plan": {"Class": "payment", "StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}}},
            "input": {"amount": 5},
            "originator_key": 1,
            "context": {"labels": ["verified"], "policies": [["no-us", "forbid(principal, action == Peo::Action::\"execute\", resource) when { context.node_domain == \"us\" };"]]},
            "visits": [
                visit({
                    let mut n = node("strict-1", "eu", Some(2), &["payment.charge"]);
                    n["policy"] = json!("@id(\"visit\") permit(principal, action == Peo::Action::\"visit\", resource);\n@id(\"delegate\") permit(principal, action == Peo::Action::\"delegate\", resource);");
                    n
                }, T0 + 1_000, json!([])),
                visit({
                    let mut n = node("payments-1", "eu", Some(3), &["payment.charge"]);
                    n["policy"] = json!("@id(\"open\") permit(principal, action, resource) when { context.labels.contains(\"verified\") };");
                    n
                }, T0 + 2_000, json!([{"output": {"charged": 5}}]))
            ]
        }),
        json!({
            "name": "map-fan-out",
            "description": "A Map over three items with MaxConcurrency 2: children created with deterministic ids and lineage, visited at another node, completed out of order (one completion presented twice and recognised), the third child created as a slot frees, outputs joined in item order",
            "plan": {"StartAt": "Squares", "States": {"Squares": {"Type": "Map", "ItemsPath": "$.n", "MaxConcurrency": 2, "ResultPath": "$.squares", "End": true,
                "ItemProcessor": {"StartAt": "Sq", "States": {"Sq": {"Type": "Task", "Resource": "math.square", "End": true}}}}}},
            "input": {"n": [2, 3, 4]},
            "originator_key": 1,
            "visits": [
                visit(worker(&[]), T0 + 1_000, json!([])),
                child_visit("child:1", node("worker-2", "us", Some(3), &["math.square"]), T0 + 2_000, json!([{"output": 9}])),
                child_visit("child:0", node("worker-2", "us", Some(3), &["math.square"]), T0 + 2_000, json!([{"output": 4}])),
                completion("child:1", worker(&[]), T0 + 3_000),
                completion("child:1", worker(&[]), T0 + 3_000),
                completion("child:0", worker(&[]), T0 + 3_000),
                child_visit("child:2", worker(&["math.square"]), T0 + 4_000, json!([{"output": 16}])),
                completion("child:2", worker(&[]), T0 + 5_000)
            ]
        }),
        json!({
            "name": "map-batched-join",
            "description": "A Map over five items whose completions are presented in batches (format version 2): the first batch of three is recorded by one record and kept in the results section (counts and a tally in the record), the second repeats one completion already recorded (recognised) and brings the last two (one failed, within the tolerated count), and the join places the outputs in item order, commits to them by a Merkle root and empties the section",
            "plan": {"StartAt": "Squares", "States": {"Squares": {"Type": "Map", "ItemsPath": "$.n", "ResultPath": "$.squares", "ToleratedFailureCount": 1, "End": true,
                "ItemProcessor": {"StartAt": "Sq", "States": {"Sq": {"Type": "Task", "Resource": "math.square", "End": true}}}}}},
            "input": {"n": [1, 2, 3, 4, 5]},
            "originator_key": 1,
            "visits": [
                visit(worker(&[]), T0 + 1_000, json!([])),
                child_visit("child:0", node("worker-2", "us", Some(3), &["math.square"]), T0 + 2_000, json!([{"output": 1}])),
                child_visit("child:1", node("worker-2", "us", Some(3), &["math.square"]), T0 + 2_000, json!([{"output": 4}])),
                child_visit("child:2", node("worker-2", "us", Some(3), &["math.square"]), T0 + 2_000, json!([{"output": 9}])),
                child_visit("child:3", node("worker-2", "us", Some(3), &["math.square"]), T0 + 2_000, json!([{"output": 16}])),
                child_visit("child:4", node("worker-2", "us", Some(3), &["math.square"]), T0 + 2_000, json!([{"error": "Math.Overflow", "cause": "too big"}])),
                completions(&["child:3", "child:0", "child:1"], worker(&[]), T0 + 3_000),
                completions(&["child:1", "child:4", "child:2"], worker(&[]), T0 + 4_000)
            ]
        }),
        json!({
            "name": "variables",
            "description": "Workflow variables (Assign, format version 2) in JSONPath mode: assigned by a Pass state, read by a Task's Parameters at another node after a delegation, assigned from the Task's result, assigned by a Wait state when it wakes at a third node, read by a Map's ItemSelector and by its children (which start with the parent's variables and assign their own), assigned from the Map's result, and read at the end",
            "plan": {"StartAt": "Start", "States": {
                "Start": {"Type": "Pass", "Assign": {"rate": 3, "label.$": "$.name"}, "Next": "Price"},
                "Price": {"Type": "Task", "Resource": "pricing.quote", "Parameters": {"qty.$": "$.qty", "rate.$": "$rate"},
                          "Assign": {"total.$": "$.amount"}, "ResultPath": "$.quote", "Next": "Cool"},
                "Cool": {"Type": "Wait", "Seconds": 60, "Assign": {"waited.$": "States.Format('{} waited', $label)"}, "Next": "Each"},
                "Each": {"Type": "Map", "ItemsPath": "$.items", "ItemSelector": {"item.$": "$$.Map.Item.Value", "rate.$": "$rate"},
                         "Assign": {"count.$": "States.ArrayLength($)"}, "ResultPath": "$.out", "Next": "Done",
                         "ItemProcessor": {"StartAt": "Add", "States": {
                            "Add": {"Type": "Pass", "Assign": {"sum.$": "States.MathAdd($.item, $rate)"}, "Next": "Show"},
                            "Show": {"Type": "Pass", "Parameters": {"v.$": "$sum", "who.$": "$label"}, "End": true}}}},
                "Done": {"Type": "Pass", "Parameters": {"total.$": "$total", "waited.$": "$waited", "count.$": "$count", "out.$": "$.out"}, "End": true}
            }},
            "input": {"name": "peo", "qty": 2, "items": [1, 2]},
            "originator_key": 1,
            "visits": [
                visit(worker(&[]), T0 + 1_000, json!([])),
                visit(node("payments-1", "us", Some(3), &["pricing.quote"]), T0 + 2_000, json!([{"output": {"amount": 6}}])),
                visit(node("worker-2", "us", Some(4), &[]), T0 + 70_000, json!([])),
                child_visit("child:0", worker(&[]), T0 + 71_000, json!([])),
                child_visit("child:1", worker(&[]), T0 + 71_000, json!([])),
                completions(&["child:0", "child:1"], worker(&[]), T0 + 72_000)
            ]
        }),
        json!({
            "name": "jsonata-states",
            "description": "A JSONata plan (QueryLanguage at the top): a Task's Arguments, Output, Assign and TimeoutSeconds after a delegation, a Choice Condition with a rule's Output and Assign, a Wait whose Seconds is an expression, a Map whose Items and ItemSelector are expressions (children inherit JSONata and read the parent's variables), then a Pass whose Output calls every function Step Functions adds ($partition, $range, $hash, $parse) and the ones peo makes deterministic ($now, $millis, $random, $uuid): the same bytes at every node and in every language",
            "plan": {"QueryLanguage": "JSONata", "StartAt": "Quote", "States": {
                "Quote": {"Type": "Task", "Resource": "pricing.quote", "TimeoutSeconds": "{% 10 * 3 %}",
                          "Arguments": {"sku": "{% $states.input.sku %}", "qty": "{% $count($states.input.items) %}"},
                          "Output": {"quote": "{% $states.result %}", "items": "{% $states.input.items %}"},
                          "Assign": {"total": "{% $states.result.amount %}"}, "Next": "Route"},
                "Route": {"Type": "Choice", "Default": "Cool", "Choices": [
                    {"Condition": "{% $total > 10 %}", "Output": "{% $merge([$states.input, {'big': true}]) %}", "Assign": {"route": "big"}, "Next": "Cool"}]},
                "Cool": {"Type": "Wait", "Seconds": "{% $total %}", "Next": "Each"},
                "Each": {"Type": "Map", "Items": "{% $states.input.items %}",
                         "ItemSelector": {"item": "{% $states.context.Map.Item.Value %}", "index": "{% $states.context.Map.Item.Index %}"},
                         "Output": "{% $states.result %}", "Assign": {"doubled": "{% $sum($states.result) %}"}, "Next": "Functions",
                         "ItemProcessor": {"StartAt": "Double", "States": {
                            "Double": {"Type": "Pass", "Output": "{% $states.input.item * 2 + $total %}", "End": true}}}},
                "Functions": {"Type": "Pass", "End": true, "Output": {
                    "partition": "{% $partition([1, 2, 3, 4, 5], 2) %}",
                    "range": "{% $range(1, 10, 3) %}",
                    "one": "{% $range(4, 4) %}",
                    "hash": "{% $hash('peo', 'SHA-256') %}",
                    "parse": "{% $parse('{\"a\": [1, true]}') %}",
                    "now": "{% $now() %}",
                    "day": "{% $now('[Y0001]-[M01]-[D01]') %}",
                    "millis": "{% $millis() %}",
                    "random": "{% $random() %}",
                    "seeded": "{% $random(7) %}",
                    "uuid": "{% $uuid() %}",
                    "variables": "{% [$route, $total, $doubled] %}",
                    "input": "{% $states.input %}"}}
            }},
            "input": {"sku": "A1", "items": [1, 2, 3]},
            "originator_key": 1,
            "visits": [
                visit(worker(&[]), T0 + 1_000, json!([])),
                visit(node("payments-1", "us", Some(3), &["pricing.quote"]), T0 + 2_000, json!([{"output": {"amount": 12}}])),
                visit(node("worker-2", "us", Some(4), &[]), T0 + 20_000, json!([])),
                child_visit("child:0", worker(&[]), T0 + 21_000, json!([])),
                child_visit("child:1", worker(&[]), T0 + 21_000, json!([])),
                child_visit("child:2", worker(&[]), T0 + 21_000, json!([])),
                completions(&["child:2", "child:0", "child:1"], worker(&[]), T0 + 22_000)
            ]
        }),
        json!({
            "name": "jsonata-error-caught",
            "description": "A JSONata Task whose Output reads nothing (undefined) fails with States.QueryEvaluationError in Step Functions' words; its Catch's Output and Assign read $states.errorOutput",
            "plan": {"QueryLanguage": "JSONata", "StartAt": "Call", "States": {
                "Call": {"Type": "Task", "Resource": "echo", "Output": "{% $states.result.missing %}", "Next": "Done",
                         "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Done",
                                    "Output": {"caught": "{% $states.errorOutput.Error %}", "input": "{% $states.input %}"},
                                    "Assign": {"why": "{% $states.errorOutput.Cause %}"}}]},
                "Done": {"Type": "Pass", "Output": {"out": "{% $states.input %}", "why": "{% $why %}"}, "End": true}
            }},
            "input": {"x": 1},
            "originator_key": null,
            "visits": [visit(worker(&["echo"]), T0 + 1_000, json!([{"output": {"y": 2}}]))]
        }),
        json!({
            "name": "parallel-fail-catch",
            "description": "A Parallel state whose first branch fails: the branch's error fails the state and Catch routes it",
            "plan": {"StartAt": "Both", "States": {
                "Both": {"Type": "Parallel", "Next": "Done", "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Caught"}],
                         "Branches": [
                            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "branch 0"}}},
                            {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
                         ]},
                "Done": {"Type": "Succeed"},
                "Caught": {"Type": "Pass", "End": true}
            }},
            "input": {"x": 1},
            "originator_key": null,
            "visits": [
                visit(worker(&[]), T0 + 1_000, json!([])),
                child_visit("child:0", worker(&[]), T0 + 2_000, json!([])),
                completion("child:0", worker(&[]), T0 + 3_000)
            ]
        }),
        json!({
            "name": "terminated-refuses",
            "description": "A terminated object presented again: the error kind `terminated`, nothing appended",
            "plan": {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}},
            "input": {"x": 1},
            "originator_key": null,
            "visits": [
                visit(worker(&[]), T0 + 1_000, json!([])),
                visit(worker(&[]), T0 + 2_000, json!([]))
            ]
        }),
        json!({
            "name": "attack-widened-context",
            "description": "A node with a trusted key drops the object's carried forbid and adds a label in one signed context `mutate` that says it only added the label: integrity, whatever the trust",
            "plan": charge_plan(),
            "input": {"order": 7},
            "context": shop_context(),
            "originator_key": 1,
            "craft": "widen-context",
            "visits": [visit(worker(&["payment.charge"]), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "attack-replaced-plan",
            "description": "A node replaces the plan (constraints dropped, a capability the originator never planned) in a signed intent `mutate` that is neither an Adapt rule, a refinement within the plan, nor the originator's: integrity",
            "plan": charge_plan(),
            "input": {"order": 7},
            "context": shop_context(),
            "originator_key": 1,
            "craft": "replace-plan",
            "visits": [visit(worker(&["data.export"]), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "attack-unsigned-at-default-node",
            "description": "An unsigned object at a node given no trust: signature (a node accepts nothing by default)",
            "plan": charge_plan(),
            "input": {"order": 7},
            "originator_key": null,
            "visits": [visit(with_trust(worker(&["payment.charge"]), Value::Null), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "attack-impostor-node",
            "description": "Key 3, bound to `pay-us` in `us`, signs a record claiming `worker-1` in `eu`: signature at a node holding the trust store",
            "plan": charge_plan(),
            "input": {"order": 7},
            "context": shop_context(),
            "originator_key": 1,
            "craft": "impostor",
            "visits": [visit(with_trust(worker(&["payment.charge"]), store()), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "attack-subject-other-key",
            "description": "An object claiming originator `shop` whose genesis is signed by a key the store does not let originate it: signature",
            "plan": charge_plan(),
            "input": {"order": 7},
            "context": shop_context(),
            "originator_key": 9,
            "visits": [visit(with_trust(worker(&["payment.charge"]), store()), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "attack-forged-child",
            "description": "A child's public genesis plus an unsigned `succeeded`, presented to its waiting parent at a node holding the trust store: integrity (the child does not verify under the node's trust); then a node that refuses to visit the parent may not record the genuine completion either (policy)",
            "plan": {"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "Next": "Charge", "Branches": [
                    {"StartAt": "X", "States": {"X": {"Type": "Task", "Resource": "work.x", "End": true}}}]},
                "Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}}},
            "input": {"order": 7},
            "context": {"originator": {"subject": "shop", "domain": "eu"}},
            "originator_key": 1,
            "visits": [
                visit(with_trust(worker(&[]), store()), T0 + 1_000, json!([])),
                completion("forged:0", with_trust(worker(&["payment.charge"]), store()), T0 + 2_000),
                child_visit("child:0", with_trust(worker(&["work.x"]), store()), T0 + 3_000, json!([{"output": 1}])),
                completion("child:0", with_trust(refusing(worker(&["payment.charge"])), store()), T0 + 4_000)
            ]
        }),
        json!({
            "name": "error-truncated",
            "description": "Half of an object's bytes: decode, the same error in every language, never a crash",
            "plan": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "input": {"x": 1},
            "originator_key": null,
            "craft": "truncate",
            "visits": [visit(worker(&[]), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "error-tampered-context",
            "description": "An object whose context was replaced without a record: integrity, naming the record whose committed hash it breaks",
            "plan": {"StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}}},
            "input": {"order": 7},
            "context": {"labels": ["orders"]},
            "originator_key": null,
            "craft": "tamper-context",
            "visits": [visit(worker(&["payment.charge"]), T0 + 1_000, json!([{"output": {"ok": true}}]))]
        }),
        json!({
            "name": "hostile-deep-intrinsic",
            "description": "A plan whose Parameters nest 20,000 `States.Array(` calls (crafted past validation): invalid_intent when decoded, never a crash",
            "plan": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "input": {},
            "originator_key": null,
            "craft": "deep-intrinsic",
            "visits": [visit(worker(&[]), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "hostile-deep-policy",
            "description": "An object carrying a Cedar forbid nested 1,000 parentheses deep (crafted past with_policy): the node may not act on it (policy), never a crash",
            "plan": charge_plan(),
            "input": {"order": 7},
            "originator_key": null,
            "craft": "deep-policy",
            "visits": [visit(worker(&["payment.charge"]), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "compaction-poll",
            "description": "A polling loop (Task, Choice, Wait) with Compaction After 6, Keep 2: checkpoints fold and prune the oldest records as it goes; the idempotency keys and the decisions are those of the same loop without compaction",
            "plan": {"StartAt": "Poll", "Compaction": {"After": 6, "Keep": 2}, "States": {
                "Poll": {"Type": "Task", "Resource": "poll", "ResultPath": "$.poll", "Next": "Check",
                    "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 2, "IntervalSeconds": 1}]},
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$.poll.n", "NumericGreaterThanEquals": 4, "Next": "Done"}], "Default": "Pause"},
                "Pause": {"Type": "Wait", "Seconds": 60, "Next": "Poll"},
                "Done": {"Type": "Succeed"}
            }},
            "input": {"target": "svc"},
            "originator_key": 1,
            "visits": [
                visit(worker(&["poll"]), T0 + 1_000, json!([{"output": {"n": 1}}])),
                visit(worker(&["poll"]), T0 + 61_000, json!([{"error": "Flaky", "cause": "timeout"}])),
                visit(worker(&["poll"]), T0 + 62_000, json!([{"output": {"n": 2}}])),
                visit(worker(&["poll"]), T0 + 122_000, json!([{"output": {"n": 3}}])),
                visit(worker(&["poll"]), T0 + 182_000, json!([{"output": {"n": 4}}]))
            ]
        }),
        json!({
            "name": "hostile-map-too-wide",
            "description": "A Map over 10,001 items, one more than Limits::max_children: limit",
            "plan": {"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}}},
            "input": (0..10_001).collect::<Vec<_>>(),
            "originator_key": null,
            "visits": [visit(worker(&[]), T0 + 1_000, json!([]))]
        }),
        json!({
            "name": "hostile-format-amplification",
            "description": "States.Format over 60 references to a 80,000-character string: States.DataLimitExceeded (the 4 MiB intrinsic budget), the object fails",
            "plan": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "Parameters": {
                "x.$": format!("States.Format('{}', {})", "{}".repeat(60), vec!["$.s"; 60].join(", "))}}}},
            "input": {"s": "x".repeat(80_000)},
            "originator_key": null,
            "visits": [visit(worker(&[]), T0 + 1_000, json!([]))]
        }),
    ]
}

fn charge_plan() -> Value {
    json!({"StartAt": "Charge", "Constraints": {"AllowedDomains": ["eu", "us"], "MaxHops": 5}, "States": {
        "Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}}})
}

fn shop_context() -> Value {
    json!({"originator": {"subject": "shop", "domain": "eu"}, "labels": ["orders"], "policies": [[
        "charge-only-in-eu",
        "forbid(principal, action == Peo::Action::\"execute\", resource == Peo::Capability::\"payment.charge\") unless { context.node_domain == \"eu\" };"
    ]]})
}

/// Appends a record a dishonest node signs with key `seed`, claiming `id` in `domain`.
fn append_signed(o: &mut Object, body: Body, (id, domain, seed): (&str, &str, u8), hashes: [Option<Hash>; 2]) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    forge::append_as(o, body, (id, domain, &key), hashes[0], hashes[1]).expect("append");
}

/// A child as it was created, completed by anyone: an unsigned `succeeded` appended.
fn forge_completion(child: &[u8]) -> Result<Vec<u8>, String> {
    let mut o = Object::from_bytes(child, &Default::default()).map_err(|e| e.to_string())?;
    forge::succeed_unsigned(&mut o, ("worker-1", "eu")).map_err(|e| e.to_string())?;
    Ok(o.to_bytes())
}

/// The hostile edits of the attack vectors, made to the object as created.
fn craft(how: &str, mut o: Object) -> Result<Vec<u8>, String> {
    match how {
        "widen-context" => {
            let widened =
                Context::new().with_originator(o.context().originator.clone()).with_label("orders").with_label("vip");
            forge::set_context(&mut o, widened.clone());
            let change = json!({"labels": ["vip"], "policies": [], "policy_refs": []}).to_string();
            let body = Body::Mutate { kind: MutateKind::Context, revision: 0, change: Some(change) };
            append_signed(&mut o, body, ("pay-us", "us", 3), [None, Some(widened.hash())]);
        }
        "replace-plan" => {
            let mut plan = o.intent().document().clone();
            plan["Constraints"] = json!({});
            plan["States"]["Charge"] = json!({"Type": "Task", "Resource": "data.export", "End": true});
            let then = json!({"Constraints": {}, "States": {"Charge": plan["States"]["Charge"].clone()}});
            forge::set_intent(&mut o, &plan, 1).map_err(|e| e.to_string())?;
            let body =
                Body::Mutate { kind: MutateKind::Intent, revision: 1, change: Some(json!({"then": then}).to_string()) };
            let hash = o.intent().hash();
            append_signed(&mut o, body, ("pay-us", "us", 3), [Some(hash), None]);
        }
        // Hostile bytes: half an object.
        "truncate" => {
            let b = o.to_bytes();
            return Ok(b[..b.len() / 2].to_vec());
        }
        // The context replaced with no record of the change: the chain no longer holds.
        "tamper-context" => {
            let widened = Context::new().with_label("orders").with_label("vip");
            forge::set_context(&mut o, widened);
        }
        "impostor" => {
            let body = Body::Mutate { kind: MutateKind::Data, revision: 0, change: None };
            append_signed(&mut o, body, ("worker-1", "eu", 3), [None, None]);
        }
        "deep-intrinsic" => {
            let depth = 20_000;
            let expr = format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
            let plan =
                json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "Parameters": {"x.$": expr}}}});
            return Ok(forge::with_plan_text(&o, &peo_core::json::canonical(&plan)));
        }
        other => return Err(format!("unknown craft `{other}`")),
    }
    Ok(o.to_bytes())
}

/// Builds the node a visit describes: fixed clock, scripted handlers.
fn build_node(v: &Value, calls: Arc<Mutex<Vec<Value>>>) -> Result<(Node, Arc<ManualClock>), String> {
    let n = &v["node"];
    let clock = Arc::new(ManualClock::new(v["now_ms"].as_i64().ok_or("now_ms")?));
    let mut node = Node::new(n["id"].as_str().ok_or("node.id")?, n["domain"].as_str().ok_or("node.domain")?)
        .with_clock(clock.clone());
    // The node's trust in its JSON form; none: the default, which accepts nothing.
    if !n["trust"].is_null() {
        node = node.with_trust(Trust::from_json(&n["trust"]).map_err(|e| e.to_string())?);
    }
    if let Some(text) = n.get("policy").and_then(Value::as_str) {
        node = node.with_policy(peo_core::NodePolicy::new(text).map_err(|e| e.to_string())?);
    }
    if let Some(k) = n["signing_key"].as_str() {
        let bytes = hex::decode(k).map_err(|e| e.to_string())?;
        node = node.with_key(SigningKey::from_slice(&bytes).map_err(|e| e.to_string())?);
    }
    let outcomes: Vec<Value> = v["handler_outcomes"].as_array().cloned().unwrap_or_default();
    let queue = Arc::new(Mutex::new(outcomes.into_iter()));
    for cap in n["capabilities"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let (queue, calls, clock) = (queue.clone(), calls.clone(), clock.clone());
        node = node.handler(cap, move |c: &Invocation| -> Result<Value, HandlerError> {
            calls.lock().expect("lock").push(json!({
                "capability": c.capability, "state": c.state, "input": c.input, "attempt": c.attempt,
                "idempotency_key": c.idempotency_key, "deadline_ms": c.deadline_ms,
            }));
            let o = queue.lock().expect("lock").next().unwrap_or_else(|| json!({"error": "Vector.NoOutcome"}));
            if let Some(ms) = o["took_ms"].as_i64() {
                clock.advance(ms);
            }
            match o.get("output") {
                Some(v) => Ok(v.clone()),
                None => Err(HandlerError {
                    error: o["error"].as_str().unwrap_or_default().to_owned(),
                    cause: o["cause"].as_str().map(str::to_owned),
                }),
            }
        });
    }
    Ok((node, clock))
}

/// Runs one visit of a vector: what every language must reproduce.
/// The objects of one vector: the object it starts with and the children its fan-outs
/// created (`child:0`, `child:1`, ... in creation order).
struct Objects {
    parent: Vec<u8>,
    children: Vec<Vec<u8>>,
    /// Objects the vector brings along (`extra_objects`: a forged child, say).
    extra: BTreeMap<String, Vec<u8>>,
}

impl Objects {
    fn slot(&mut self, name: &str) -> Result<&mut Vec<u8>, String> {
        if let Some(b) = self.extra.get_mut(name) {
            return Ok(b);
        }
        match name.strip_prefix("child:") {
            None => Ok(&mut self.parent),
            Some(i) => {
                let i: usize = i.parse().map_err(|_| format!("bad object name `{name}`"))?;
                self.children.get_mut(i).ok_or_else(|| format!("no `{name}` yet"))
            }
        }
    }
}

/// One visit of a vector: of the object named by `target` (default the parent), or, with
/// `complete`, the presentation of that child's final object (or, given a list, of a
/// batch of children's) to its parent.
fn run_step(objs: &mut Objects, v: &Value) -> Result<Value, String> {
    let target = v["target"].as_str().unwrap_or("parent").to_owned();
    let complete: Option<Vec<&str>> = match &v["complete"] {
        Value::String(c) => Some(vec![c.as_str()]),
        Value::Array(a) => {
            Some(a.iter().map(|c| c.as_str().ok_or("`complete` names objects")).collect::<Result<_, _>>()?)
        }
        _ => None,
    };
    let batch = v["complete"].is_array();
    let children = match complete {
        Some(names) => Some(names.into_iter().map(|c| objs.slot(c).cloned()).collect::<Result<Vec<_>, _>>()?),
        None => None,
    };
    let bytes = objs.slot(&target)?.clone();
    let (expect, after, children) = run_visit(&bytes, children.as_deref(), batch, v)?;
    *objs.slot(&target)? = after;
    objs.children.extend(children);
    Ok(expect)
}

/// The expectation, the object's bytes after the visit, and the children it created.
type VisitResult = (Value, Vec<u8>, Vec<Vec<u8>>);

fn run_visit(bytes: &[u8], children: Option<&[Vec<u8>]>, batch: bool, v: &Value) -> Result<VisitResult, String> {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (node, _clock) = build_node(v, calls.clone())?;
    // The event's JSON form is the one every binding passes (`Event::from_json`).
    let event = match &v["event"] {
        Value::Null => None,
        e => Some(Event::from_json(e).map_err(|e| e.to_string())?),
    };
    let calls_json = |c: &Arc<Mutex<Vec<Value>>>| Value::Array(c.lock().expect("lock").clone());
    let result = match children {
        Some(c) if batch => node.complete_all(bytes, &c.iter().map(Vec::as_slice).collect::<Vec<_>>()),
        Some(c) => node.complete(bytes, &c[0]),
        None => node.visit(bytes, event.as_ref()),
    };
    match result {
        Ok(visit) => {
            let records = visit.records_json().map_err(|e| e.to_string())?;
            let expect = json!({
                "calls": calls_json(&calls),
                "error": null,
                "disposition": visit.disposition.to_json(),
                "appended": visit.appended,
                "records": records,
                "status": visit.object.status().as_str(),
                "state": visit.object.state(),
                "data": visit.object.data(),
                "variables": visit.object.variables(),
                "head": visit.object.head().to_hex(),
                "object_sha256": hex::encode(sha2::Sha256::digest(&visit.bytes)),
                "children": visit.children.iter().map(|c| hex::encode(sha2::Sha256::digest(c))).collect::<Vec<_>>(),
            });
            Ok((expect, visit.bytes, visit.children))
        }
        Err(e) => Ok((
            json!({
                "calls": calls_json(&calls),
                "error": {
                    "kind": e.kind().as_str(), "code": e.kind().code(),
                    "record": e.record(), "state": e.state(), "field": e.field()
                },
                "disposition": null,
                "appended": 0,
            }),
            bytes.to_vec(),
            Vec::new(),
        )),
    }
}

/// Every file of the vectors folder, by relative path.
fn build() -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    let mut entries = Vec::new();
    for spec in specs() {
        let name = spec["name"].as_str().ok_or("name")?.to_owned();
        let originator = spec["originator_key"].as_u64().map(|s| SigningKey::from_bytes(&[s as u8; 32]));
        let options = CreateOptions { now_ms: T0, key: originator.as_ref(), ..Default::default() };
        let mut context = Context::new();
        if let Some(o) = spec["context"].get("originator") {
            context = context.with_originator(Originator {
                subject: o["subject"].as_str().map(str::to_owned),
                domain: o["domain"].as_str().map(str::to_owned),
                key: None,
            });
        }
        if spec["craft"] == "deep-policy" {
            let nested = format!("{}true{}", "(".repeat(1_000), ")".repeat(1_000));
            let text = format!("forbid(principal, action, resource) when {{ {nested} }};");
            context = forge::with_carried_policy(context, "deep", &text);
        }
        for l in spec["context"]["labels"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            context = context.with_label(l);
        }
        for p in spec["context"]["policies"].as_array().into_iter().flatten() {
            context = context
                .with_policy(p[0].as_str().unwrap_or_default(), p[1].as_str().unwrap_or_default())
                .map_err(|e| format!("{name}: {e}"))?;
        }
        let object =
            Object::create(&spec["plan"], context, &spec["input"], &options).map_err(|e| format!("{name}: {e}"))?;
        let bytes = match spec["craft"].as_str() {
            Some(how) if how != "deep-policy" => craft(how, object).map_err(|e| format!("{name}: {e}"))?,
            _ => object.to_bytes(),
        };
        let object_file = format!("objects/{name}.peo");
        files.insert(object_file.clone(), bytes.clone());
        let mut visits = Vec::new();
        let mut objs = Objects { parent: bytes, children: Vec::new(), extra: BTreeMap::new() };
        let mut extra_files = serde_json::Map::new();
        for (i, v) in spec["visits"].as_array().ok_or("visits")?.iter().enumerate() {
            // A forged child ("forged:N"): child N as created, plus an unsigned `succeeded`.
            if let Some(forged) = v["complete"].as_str().filter(|c| c.starts_with("forged:"))
                && !objs.extra.contains_key(forged)
            {
                let n: usize = forged["forged:".len()..].parse().map_err(|_| format!("{name}: bad `{forged}`"))?;
                let child = objs.children.get(n).ok_or_else(|| format!("{name}: no child {n} to forge"))?;
                let bytes = forge_completion(child).map_err(|e| format!("{name}: {e}"))?;
                let file = format!("objects/{name}.forged-{n}.peo");
                files.insert(file.clone(), bytes.clone());
                extra_files.insert(forged.to_owned(), Value::String(file));
                objs.extra.insert(forged.to_owned(), bytes);
            }
            let expect = run_step(&mut objs, v).map_err(|e| format!("{name} visit {i}: {e}"))?;
            let mut entry = v.clone();
            entry["expect"] = expect;
            visits.push(entry);
        }
        files.insert(format!("objects/{name}.final.peo"), objs.parent);
        entries.push(json!({
            "name": name,
            "description": spec["description"],
            "object": object_file,
            "final_object": format!("objects/{name}.final.peo"),
            "plan": spec["plan"],
            "input": spec["input"],
            "context": spec.get("context").cloned().unwrap_or(Value::Null),
            "originator_key": spec["originator_key"].as_u64().map(|s| key(s as u8)),
            "crafted": spec.get("craft").cloned().unwrap_or(Value::Null),
            "extra_objects": extra_files,
            "visits": visits,
        }));
    }
    let manifest = json!({
        "format": FORMAT,
        "generated_by": "cargo run -p peo-conformance -- vectors tests/vectors",
        "created_at_ms": T0,
        // Every error kind with its code: each language's error hierarchy is checked
        // against this list, not against one written by hand.
        "errors": peo_core::ErrorKind::ALL
            .iter()
            .map(|k| json!({"code": k.code(), "kind": k.as_str()}))
            .collect::<Vec<_>>(),
        "vectors": entries,
    });
    let mut text = serde_json::to_string_pretty(&peo_core::json::sorted(&manifest)).map_err(|e| e.to_string())?;
    text.push('\n');
    files.insert("manifest.json".into(), text.into_bytes());
    Ok(files)
}

/// Writes the vectors into `dir` (or, with `check`, reports whether `dir` holds exactly them).
pub fn write(dir: &Path, check: bool) -> Result<bool, String> {
    let files = build()?;
    if check {
        let mut same = true;
        for (rel, bytes) in &files {
            match std::fs::read(dir.join(rel)) {
                Ok(b) if &b == bytes => {}
                Ok(_) => {
                    println!("vectors: {rel} differs from what the generator writes");
                    same = false;
                }
                Err(_) => {
                    println!("vectors: {rel} is missing");
                    same = false;
                }
            }
        }
        let objects = dir.join("objects");
        if let Ok(rd) = std::fs::read_dir(&objects) {
            for e in rd.flatten() {
                let rel = format!("objects/{}", e.file_name().to_string_lossy());
                if !files.contains_key(&rel) {
                    println!("vectors: {rel} is not written by the generator (remove it)");
                    same = false;
                }
            }
        }
        println!("vectors: {} files {}", files.len(), if same { "up to date" } else { "out of date: regenerate" });
        return Ok(same);
    }
    std::fs::create_dir_all(dir.join("objects")).map_err(|e| e.to_string())?;
    for (rel, bytes) in &files {
        std::fs::write(dir.join(rel), bytes).map_err(|e| format!("{rel}: {e}"))?;
    }
    println!("vectors: wrote {} files to {}", files.len(), dir.display());
    Ok(true)
}

/// Replays every vector from the files in `dir`, as another language's suite does,
/// and returns how many visits matched; the first mismatch is an error.
pub fn replay(dir: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).map_err(|e| e.to_string())?;
    let manifest: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut n = 0;
    for v in manifest["vectors"].as_array().ok_or("vectors")? {
        let name = v["name"].as_str().unwrap_or("?");
        let bytes = std::fs::read(dir.join(v["object"].as_str().ok_or("object")?)).map_err(|e| e.to_string())?;
        let mut objs = Objects { parent: bytes, children: Vec::new(), extra: BTreeMap::new() };
        for (k, file) in v["extra_objects"].as_object().into_iter().flatten() {
            let file = file.as_str().ok_or("extra_objects")?;
            objs.extra.insert(k.clone(), std::fs::read(dir.join(file)).map_err(|e| e.to_string())?);
        }
        for (i, visit) in v["visits"].as_array().ok_or("visits")?.iter().enumerate() {
            let got = run_step(&mut objs, visit)?;
            if got != visit["expect"] {
                return Err(format!("{name} visit {i}: got {got}\nexpected {}", visit["expect"]));
            }
            n += 1;
        }
        let bytes = objs.parent;
        let fin =
            std::fs::read(dir.join(v["final_object"].as_str().ok_or("final_object")?)).map_err(|e| e.to_string())?;
        if fin != bytes {
            return Err(format!("{name}: the final object differs from {}", v["final_object"]));
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_vectors_replay() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
        let n = super::replay(&dir).unwrap();
        assert!(n >= 15, "{n} visits");
    }

    #[test]
    fn vectors_are_deterministic() {
        assert_eq!(super::build().unwrap(), super::build().unwrap());
    }
}
