//! The vectors themselves: each a plan, an input, and the visits to replay, with the
//! nodes (ids, keys, trust, capabilities) and the handlers' scripted outcomes.

use super::*;

pub(super) fn key(seed: u8) -> String {
    hex::encode([seed; 32])
}

/// A node spec. `trust` is the node's trust in its JSON form (`Trust::from_json`); these
/// nodes accept any object ("any"): the vectors test the cycle, and the attack vectors
/// below set a trust store or none.
pub(super) fn node(id: &str, domain: &str, key_seed: Option<u8>, capabilities: &[&str]) -> Value {
    json!({"id": id, "domain": domain, "signing_key": key_seed.map(key), "capabilities": capabilities, "trust": "any"})
}

pub(super) fn public(seed: u8) -> String {
    SigningKey::from_bytes(&[seed; 32]).public_key().to_hex()
}

/// The trust store of the attack vectors: key 1 originates for `shop` in `eu`, key 2
/// signs as `worker-1` in `eu`, key 3 as `pay-us` in `us`.
pub(super) fn store() -> Value {
    json!({"keys": [
        {"key": public(1), "subjects": ["shop"], "domain": "eu"},
        {"key": public(2), "nodes": ["worker-1"], "domain": "eu"},
        {"key": public(3), "nodes": ["pay-us"], "domain": "us"},
    ]})
}

/// A node whose policies refuse to visit anything.
pub(super) fn refusing(mut node: Value) -> Value {
    node["policy"] = json!("permit(principal, action == Peo::Action::\"execute\", resource);");
    node
}

pub(super) fn with_trust(mut node: Value, trust: Value) -> Value {
    node["trust"] = trust;
    node
}

pub(super) fn visit(node: Value, now_ms: i64, outcomes: Value) -> Value {
    json!({"node": node, "now_ms": now_ms, "event": null, "handler_outcomes": outcomes})
}

pub(super) fn child_visit(target: &str, node: Value, now_ms: i64, outcomes: Value) -> Value {
    json!({"target": target, "node": node, "now_ms": now_ms, "event": null, "handler_outcomes": outcomes})
}

pub(super) fn completion(child: &str, node: Value, now_ms: i64) -> Value {
    json!({"complete": child, "node": node, "now_ms": now_ms, "event": null, "handler_outcomes": []})
}

pub(super) fn completions(children: &[&str], node: Value, now_ms: i64) -> Value {
    json!({"complete": children, "node": node, "now_ms": now_ms, "event": null, "handler_outcomes": []})
}

pub(super) fn visit_event(node: Value, now_ms: i64, event: Value) -> Value {
    json!({"node": node, "now_ms": now_ms, "event": event, "handler_outcomes": []})
}

/// The vectors: a plan, an input, who creates the object, and the visits it makes.
pub(super) fn specs() -> Vec<Value> {
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

pub(super) fn charge_plan() -> Value {
    json!({"StartAt": "Charge", "Constraints": {"AllowedDomains": ["eu", "us"], "MaxHops": 5}, "States": {
        "Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}}})
}

pub(super) fn shop_context() -> Value {
    json!({"originator": {"subject": "shop", "domain": "eu"}, "labels": ["orders"], "policies": [[
        "charge-only-in-eu",
        "forbid(principal, action == Peo::Action::\"execute\", resource == Peo::Capability::\"payment.charge\") unless { context.node_domain == \"eu\" };"
    ]]})
}
