//! `peo history --format sfn`: an object's memory as the output of Step Functions'
//! `GetExecutionHistory` (`{"events": [HistoryEvent, ...]}`), valid against the Step
//! Functions API model (the test command checks it with botocore's model), plus a `peo`
//! section for what Step Functions has no event for (delegations between nodes, dormancy,
//! checkpoints, a fan-out's children). Removing `peo` leaves exactly the API's shape.
//! docs/cli.md#history says what maps to what.

use peo_core::{Object, Record};
use serde_json::{Map, Value, json};

const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

/// Step Functions' `resourceType` and `resource` for a Task's `Resource`: an AWS
/// integration ARN (`arn:aws:states:::lambda:invoke`) gives its service and action; a
/// peo capability (`payment.charge`) is `peo` and the capability.
fn resource_of(capability: &str) -> (String, String) {
    if let Some(rest) = capability.strip_prefix("arn:aws:states:::") {
        let mut parts = rest.splitn(2, ':');
        let service = parts.next().unwrap_or("states").to_owned();
        let action = parts.next().unwrap_or(rest).to_owned();
        return (service, action);
    }
    if capability.starts_with("arn:aws:lambda:") {
        return ("lambda".to_owned(), capability.to_owned());
    }
    ("peo".to_owned(), capability.to_owned())
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

struct History<'a> {
    plan: &'a Value,
    events: Vec<Value>,
    peo: Vec<Value>,
    /// The state the execution is in (entered, not yet exited).
    current: Option<String>,
}

impl History<'_> {
    fn type_of(&self, state: &str) -> String {
        self.plan["States"][state]["Type"].as_str().unwrap_or("Task").to_owned()
    }

    fn push(&mut self, kind: &str, time: &str, details: Option<(&str, Value)>) -> usize {
        let id = self.events.len() + 1;
        let mut e = json!({"id": id, "timestamp": time, "type": kind});
        if id > 1 {
            e["previousEventId"] = json!(id - 1);
        }
        if let Some((key, d)) = details {
            e[key] = d;
        }
        self.events.push(e);
        id
    }

    /// A fact of peo's, placed after the last event so far.
    fn note(&mut self, kind: &str, record: &Value, detail: Value) {
        self.peo.push(json!({
            "afterEventId": self.events.len(),
            "type": kind,
            "seq": record["seq"],
            "node": record["node"],
            "timestamp": record["time_ms"],
            "detail": detail,
        }));
    }

    fn enter(&mut self, state: &str, time: &str, input: Option<&Value>) {
        let mut d = json!({"name": state});
        if let Some(i) = input {
            d["input"] = json!(text(i));
            d["inputDetails"] = json!({"truncated": false});
        }
        let kind = format!("{}StateEntered", self.type_of(state));
        self.push(&kind, time, Some(("stateEnteredEventDetails", d)));
        self.current = Some(state.to_owned());
    }

    fn exit(&mut self, time: &str, output: Option<&Value>, assigned: &Value) {
        let Some(state) = self.current.take() else { return };
        let mut d = json!({"name": state});
        if let Some(o) = output {
            d["output"] = json!(text(o));
            d["outputDetails"] = json!({"truncated": false});
        }
        if let Value::Object(vars) = assigned {
            let vars: Map<String, Value> = vars.iter().map(|(k, v)| (k.clone(), json!(text(v)))).collect();
            d["assignedVariables"] = Value::Object(vars);
            d["assignedVariablesDetails"] = json!({"truncated": false});
        }
        let kind = format!("{}StateExited", self.type_of(&state));
        self.push(&kind, time, Some(("stateExitedEventDetails", d)));
    }

    fn evaluation_failed(&mut self, time: &str, state: &str, error: &Value) {
        if error["error"] == QUERY_EVALUATION_ERROR {
            let mut d = json!({"state": state, "error": error["error"]});
            if let Some(c) = error["cause"].as_str() {
                d["cause"] = json!(c);
            }
            self.push("EvaluationFailed", time, Some(("evaluationFailedEventDetails", d)));
        }
    }

    fn record(&mut self, r: &Value) {
        let time = super::time_text(r["time_ms"].as_i64().unwrap_or(0));
        let state = r["state"].as_str().unwrap_or("").to_owned();
        let next = r["next_state"].as_str().unwrap_or("").to_owned();
        let body = &r["body"];
        let assigned = &r["assigned"];
        let moves = !next.is_empty() && next != state;
        match r["action"].as_str().unwrap_or("") {
            "genesis" => {
                let d = json!({"input": text(&body["input"]), "inputDetails": {"truncated": false}});
                self.push("ExecutionStarted", &time, Some(("executionStartedEventDetails", d)));
                if !next.is_empty() {
                    self.enter(&next, &time, Some(&body["input"]));
                }
                return;
            }
            "execute" => {
                let (resource_type, resource) = resource_of(body["capability"].as_str().unwrap_or(""));
                let region = r["node"]["domain"].as_str().filter(|d| !d.is_empty()).unwrap_or("local");
                // peo records a task's result, not its input: `parameters` is `null`.
                let scheduled = json!({"resourceType": resource_type, "resource": resource, "region": region, "parameters": "null"});
                self.push("TaskScheduled", &time, Some(("taskScheduledEventDetails", scheduled)));
                let started = json!({"resourceType": resource_type, "resource": resource});
                self.push("TaskStarted", &time, Some(("taskStartedEventDetails", started)));
                match &body["error"] {
                    Value::Object(e) => {
                        let mut d = json!({"resourceType": resource_type, "resource": resource, "error": e["error"]});
                        if let Some(c) = e.get("cause").and_then(Value::as_str) {
                            d["cause"] = json!(c);
                        }
                        if e["error"] == "States.Timeout" {
                            self.push("TaskTimedOut", &time, Some(("taskTimedOutEventDetails", d)));
                        } else {
                            self.evaluation_failed(&time, &state, &Value::Object(e.clone()));
                            self.push("TaskFailed", &time, Some(("taskFailedEventDetails", d)));
                        }
                    }
                    _ => {
                        let d = json!({"resourceType": resource_type, "resource": resource,
                            "output": text(&body["output"]), "outputDetails": {"truncated": false}});
                        self.push("TaskSucceeded", &time, Some(("taskSucceededEventDetails", d)));
                    }
                }
            }
            "delegate" if body["reason"] == "fanout" => {
                let kind = self.type_of(&state);
                let children = body["children"].as_array().map_or(0, Vec::len);
                if kind == "Map" {
                    self.push(
                        "MapStateStarted",
                        &time,
                        Some(("mapStateStartedEventDetails", json!({"length": children}))),
                    );
                } else {
                    self.push("ParallelStateStarted", &time, None);
                }
                self.note("FannedOut", r, body.clone());
            }
            "delegate" => self.note("Delegated", r, body.clone()),
            "dormant" => self.note("Dormant", r, body.clone()),
            "checkpoint" => self.note("Checkpoint", r, json!({"pruned": body["pruned"]})),
            "reentry" if body["cause"] == "children" => {
                if moves || body["payload"].get("raise").is_some() {
                    let kind = self.type_of(&state);
                    let ok = body["payload"].get("raise").is_none();
                    self.push(&format!("{kind}State{}", if ok { "Succeeded" } else { "Failed" }), &time, None);
                } else {
                    self.note("Completions", r, body.clone());
                }
            }
            "reentry" if !moves => self.note("Reentry", r, body.clone()),
            "mutate" if body["kind"] == "intent" || body["kind"] == "context" => {
                self.note(if body["kind"] == "intent" { "IntentChanged" } else { "ContextNarrowed" }, r, body.clone());
            }
            "terminate" => {
                let output = body.get("output").filter(|o| !o.is_null());
                let error = &body["error"];
                let kind = self.current.as_deref().map(|s| self.type_of(s));
                match kind.as_deref() {
                    Some("Fail") => self.current = None,
                    _ if body["status"] == "succeeded" => self.exit(&time, output, assigned),
                    Some(_) => {
                        if let Some(s) = self.current.take() {
                            self.evaluation_failed(&time, &s, error);
                        }
                    }
                    None => {}
                }
                let (kind, key, d) = match body["status"].as_str() {
                    Some("succeeded") => (
                        "ExecutionSucceeded",
                        "executionSucceededEventDetails",
                        json!({"output": text(output.unwrap_or(&Value::Null)), "outputDetails": {"truncated": false}}),
                    ),
                    Some("expired") => ("ExecutionTimedOut", "executionTimedOutEventDetails", error_details(error)),
                    _ => ("ExecutionFailed", "executionFailedEventDetails", error_details(error)),
                };
                self.push(kind, &time, Some((key, d)));
                if body["status"] == "rejected" || body["status"] == "expired" {
                    self.note("Terminated", r, json!({"status": body["status"]}));
                }
                return;
            }
            _ => {}
        }
        if moves {
            // The output of a state is the next one's input, which peo keeps only at the
            // end; Step Functions' model makes both optional.
            self.exit(&time, None, assigned);
            self.enter(&next, &time, None);
        } else if !assigned.is_null() {
            // A state that assigns without moving on (a Wait that wakes into itself) has
            // nowhere else to show it.
            self.note("Assigned", r, assigned.clone());
        }
    }
}

fn error_details(e: &Value) -> Value {
    let mut d = json!({});
    if let Some(x) = e["error"].as_str() {
        d["error"] = json!(x);
    }
    if let Some(c) = e["cause"].as_str() {
        d["cause"] = json!(c);
    }
    d
}

/// The history: `{"events": [...], "peo": [...]}`.
pub(crate) fn history(object: &Object, records: &[Record]) -> Value {
    let mut h = History { plan: object.intent().document(), events: Vec::new(), peo: Vec::new(), current: None };
    for r in records {
        h.record(&r.to_json());
    }
    json!({"events": h.events, "peo": h.peo})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrations_and_capabilities_name_their_resource() {
        assert_eq!(resource_of("arn:aws:states:::lambda:invoke"), ("lambda".into(), "invoke".into()));
        assert_eq!(
            resource_of("arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
            ("sqs".into(), "sendMessage.waitForTaskToken".into())
        );
        assert_eq!(resource_of("payment.charge"), ("peo".into(), "payment.charge".into()));
    }
}
