//! Parsing and validation of an intent document. Every error names the state (as a
//! path through branches) and the field.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map as JsonMap, Value};

use super::model::*;
use crate::{Error, Limits, Result};

mod jsonata;
mod variables;

use jsonata::*;
use variables::*;

const COMMON: &[&str] = &["Type", "Comment", "Next", "End", "InputPath", "OutputPath", "QueryLanguage", "Assign"];
const TASK: &[&str] = &[
    "Resource",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
];
const PASS: &[&str] = &["Result", "Parameters", "ResultPath"];
const CHOICE: &[&str] =
    &["Type", "Comment", "Choices", "Default", "InputPath", "OutputPath", "QueryLanguage", "Assign"];
const WAIT: &[&str] = &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"];
const SUCCEED: &[&str] = &["Type", "Comment", "InputPath", "OutputPath", "QueryLanguage"];
const FAIL: &[&str] = &["Type", "Comment", "Error", "ErrorPath", "Cause", "CausePath", "QueryLanguage"];
const PARALLEL: &[&str] = &["Branches", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"];
const MAP: &[&str] = &[
    "ItemsPath",
    "ItemSelector",
    "Parameters",
    "ItemProcessor",
    "Iterator",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "Label",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
];
// The fields of JSONata states (`QueryLanguage: "JSONata"`).
const JA_COMMON: &[&str] = &["Type", "Comment", "Next", "End", "QueryLanguage", "Assign", "Output"];
const JA_TASK: &[&str] = &["Resource", "Arguments", "Retry", "Catch", "TimeoutSeconds", "HeartbeatSeconds"];
const JA_CHOICE: &[&str] = &["Type", "Comment", "Choices", "Default", "QueryLanguage", "Assign", "Output"];
const JA_WAIT: &[&str] = &["Seconds", "Timestamp"];
const JA_SUCCEED: &[&str] = &["Type", "Comment", "QueryLanguage", "Output"];
const JA_FAIL: &[&str] = &["Type", "Comment", "Error", "Cause", "QueryLanguage"];
const JA_PARALLEL: &[&str] = &["Branches", "Arguments", "Retry", "Catch"];
const JA_MAP: &[&str] = &[
    "Items",
    "ItemSelector",
    "ItemProcessor",
    "Iterator",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
    "Label",
    "Retry",
    "Catch",
];
/// Fields only JSONPath states have.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "ItemsPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];
/// Fields only JSONata states have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items", "Condition"];

const TOP: &[&str] = &[
    "StartAt",
    "States",
    "Comment",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
    "Objective",
    "Class",
    "Constraints",
    "Adapt",
    "Await",
    "Compaction",
];

/// ASL fields this version recognises but does not run yet: rejected as `Unsupported`
/// rather than ignored.
const NOT_YET: &[(&str, &str)] = &[
    ("Credentials", "cross-account task `Credentials` are not supported"),
    ("ItemReader", "Map `ItemReader` (reading items from S3) is not supported"),
    ("ResultWriter", "Map `ResultWriter` (writing results to S3) is not supported"),
    ("ItemBatcher", "Map `ItemBatcher` is not supported yet"),
];

/// Parses and validates an intent document.
pub fn parse_plan(doc: &Value, limits: &Limits) -> Result<Plan> {
    let top = doc
        .as_object()
        .ok_or_else(|| Error::invalid_intent(None, "", "the intent must be a JSON object (an ASL document)"))?;
    check_keys(top, None, "the intent's top level", &[TOP], false)?;
    let ql = query_language(top, None, QueryLanguage::JsonPath)?;
    let machine = parse_machine(top, None, limits, ql)?;
    check_scopes(&machine, None, &HashSet::new())?;
    let count = machine.count_states();
    if count > limits.max_states {
        return Err(Error::limit(format!(
            "the intent has {count} states; the limit is {} (Limits::max_states)",
            limits.max_states
        )));
    }
    let timeout_seconds = match top.get("TimeoutSeconds") {
        None => None,
        Some(v) => Some(positive_int(v, None, "TimeoutSeconds")?),
    };
    let objective = opt_string(top, None, "Objective")?;
    let class = opt_string(top, None, "Class")?;
    let constraints = match top.get("Constraints") {
        None => Constraints::default(),
        Some(v) => parse_constraints(v, None, "Constraints")?,
    };
    let adapt = match top.get("Adapt") {
        None => Vec::new(),
        Some(v) => parse_adapt(v, &machine, limits, ql)?,
    };
    let awaits = match top.get("Await") {
        None => BTreeMap::new(),
        Some(v) => parse_awaits(v, &machine)?,
    };
    let compaction = match top.get("Compaction") {
        None => None,
        Some(v) => Some(parse_compaction(v)?),
    };
    Ok(Plan {
        compaction,
        machine,
        comment: opt_string(top, None, "Comment")?,
        version: opt_string(top, None, "Version")?,
        timeout_seconds,
        objective,
        class,
        constraints,
        adapt,
        awaits,
    })
}

fn check_keys(
    obj: &JsonMap<String, Value>,
    state: Option<&str>,
    what: &str,
    allowed: &[&[&str]],
    not_yet_applies: bool,
) -> Result<()> {
    for key in obj.keys() {
        if allowed.iter().any(|set| set.contains(&key.as_str())) {
            continue;
        }
        if let Some((_, why)) = NOT_YET.iter().find(|(k, _)| *k == key)
            && (not_yet_applies || state.is_some())
        {
            return Err(Error::unsupported_field(state, key, *why));
        }
        if state.is_some() && JSONATA_ONLY.contains(&key.as_str()) {
            return Err(Error::invalid_intent(
                state,
                key,
                format!(
                    "`{key}` is a JSONata field; set `\"QueryLanguage\": \"JSONata\"` on the state or the plan to use it"
                ),
            ));
        }
        if state.is_some() && JSONPATH_ONLY.contains(&key.as_str()) && allowed.iter().any(|set| set.contains(&"Output"))
        {
            return Err(Error::invalid_intent(
                state,
                key,
                format!(
                    "`{key}` is a JSONPath field; in a JSONata state use `Arguments`, `Output` and `{{% ... %}}` expressions"
                ),
            ));
        }
        let mut names: Vec<&str> = allowed.iter().flat_map(|s| s.iter().copied()).collect();
        names.sort_unstable();
        names.dedup();
        return Err(Error::invalid_intent(
            state,
            key,
            format!("unknown field `{key}` in {what}; allowed fields are: {}", names.join(", ")),
        ));
    }
    Ok(())
}

/// The query language of a state (or the plan): its own `QueryLanguage`, else
/// `inherited`. A JSONPath state may not appear where JSONata is the default.
fn query_language(
    obj: &JsonMap<String, Value>,
    state: Option<&str>,
    inherited: QueryLanguage,
) -> Result<QueryLanguage> {
    match obj.get("QueryLanguage") {
        None => Ok(inherited),
        Some(Value::String(s)) if s == "JSONata" => Ok(QueryLanguage::Jsonata),
        Some(Value::String(s)) if s == "JSONPath" && inherited == QueryLanguage::Jsonata => Err(Error::invalid_intent(
            state,
            "QueryLanguage",
            "a JSONPath state cannot appear where JSONata is the query language (as Step Functions rules)",
        )),
        Some(Value::String(s)) if s == "JSONPath" => Ok(QueryLanguage::JsonPath),
        Some(other) => Err(Error::invalid_intent(
            state,
            "QueryLanguage",
            format!("QueryLanguage must be \"JSONPath\" or \"JSONata\", got {other}"),
        )),
    }
}

fn child_path(parent: Option<&str>, name: &str) -> String {
    match parent {
        Some(p) => format!("{p}/{name}"),
        None => name.to_owned(),
    }
}

fn parse_machine(
    obj: &JsonMap<String, Value>,
    scope: Option<&str>,
    limits: &Limits,
    ql: QueryLanguage,
) -> Result<StateMachine> {
    let start_at = required_string(obj, scope, "StartAt")?;
    let states_obj = obj
        .get("States")
        .ok_or_else(|| Error::invalid_intent(scope, "States", "`States` is required"))?
        .as_object()
        .ok_or_else(|| Error::invalid_intent(scope, "States", "`States` must be an object of named states"))?;
    if states_obj.is_empty() {
        return Err(Error::invalid_intent(scope, "States", "`States` must name at least one state"));
    }
    let mut states = Vec::with_capacity(states_obj.len());
    for (name, def) in states_obj {
        let path = child_path(scope, name);
        states.push(parse_state(name, def, &path, limits, ql)?);
    }
    let machine = StateMachine::new(start_at, states);
    validate_targets(&machine, scope, &HashSet::new())?;
    Ok(machine)
}

/// Every `StartAt`, `Next`, `Default` and `Catch.Next` names a state of the machine
/// (or one of `extra`, for states an `Adapt` rule adds).
fn validate_targets(machine: &StateMachine, scope: Option<&str>, extra: &HashSet<&str>) -> Result<()> {
    let exists = |n: &str| machine.get(n).is_some() || extra.contains(n);
    if !exists(&machine.start_at) {
        return Err(Error::invalid_intent(
            scope,
            "StartAt",
            format!("StartAt names `{}`, which is not one of the states", machine.start_at),
        ));
    }
    for st in &machine.states {
        let at = child_path(scope, &st.name);
        let check = |target: &str, field: &str| -> Result<()> {
            if exists(target) {
                Ok(())
            } else {
                Err(Error::invalid_intent(
                    Some(&at),
                    field,
                    format!("`{field}` names `{target}`, which is not a state of this machine"),
                ))
            }
        };
        if let Transition::Next(n) = &st.transition {
            check(n, "Next")?;
        }
        match &st.kind {
            StateKind::Choice(c) => {
                for b in &c.choices {
                    check(&b.next, "Choices.Next")?;
                }
                if let Some(d) = &c.default {
                    check(d, "Default")?;
                }
            }
            StateKind::Task(Task { catch, .. })
            | StateKind::Parallel(Parallel { catch, .. })
            | StateKind::Map(Map { catch, .. }) => {
                for c in catch {
                    check(&c.next, "Catch.Next")?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_state(name: &str, def: &Value, at: &str, limits: &Limits, inherited: QueryLanguage) -> Result<State> {
    let s = Some(at);
    let obj = def.as_object().ok_or_else(|| Error::invalid_intent(s, "", "a state must be a JSON object"))?;
    let ty = required_string(obj, s, "Type")?;
    let ql = query_language(obj, s, inherited)?;
    let ja = ql == QueryLanguage::Jsonata;
    let (allowed, terminal): (&[&[&str]], bool) = match (ty.as_str(), ja) {
        ("Task", false) => (&[COMMON, TASK], false),
        ("Pass", false) => (&[COMMON, PASS], false),
        ("Choice", false) => (&[CHOICE], true),
        ("Wait", false) => (&[COMMON, WAIT], false),
        ("Succeed", false) => (&[SUCCEED], true),
        ("Fail", false) => (&[FAIL], true),
        ("Parallel", false) => (&[COMMON, PARALLEL], false),
        ("Map", false) => (&[COMMON, MAP], false),
        ("Task", true) => (&[JA_COMMON, JA_TASK], false),
        ("Pass", true) => (&[JA_COMMON], false),
        ("Choice", true) => (&[JA_CHOICE], true),
        ("Wait", true) => (&[JA_COMMON, JA_WAIT], false),
        ("Succeed", true) => (&[JA_SUCCEED], true),
        ("Fail", true) => (&[JA_FAIL], true),
        ("Parallel", true) => (&[JA_COMMON, JA_PARALLEL], false),
        ("Map", true) => (&[JA_COMMON, JA_MAP], false),
        (other, _) => {
            return Err(Error::invalid_intent(
                s,
                "Type",
                format!(
                    "unknown state type `{other}`; the types are Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map"
                ),
            ));
        }
    };
    check_keys(obj, s, &format!("a {ty} state"), allowed, true)?;
    if ja {
        return parse_jsonata_state(name, obj, at, &ty, transition(obj, s, &ty, terminal)?, limits);
    }

    let transition = transition(obj, s, &ty, terminal)?;
    let kind = match ty.as_str() {
        "Task" => StateKind::Task(Task {
            resource: required_string(obj, s, "Resource")?,
            parameters: template(obj, s, "Parameters")?,
            arguments: None,
            result_selector: template(obj, s, "ResultSelector")?,
            result_path: path_spec(obj, s, "ResultPath")?,
            retry: retriers(obj, s)?,
            catch: catchers(obj, s, QueryLanguage::JsonPath)?,
            timeout_seconds: number_spec(obj, s, "TimeoutSeconds")?,
            heartbeat_seconds: number_spec(obj, s, "HeartbeatSeconds")?,
        }),
        "Pass" => StateKind::Pass(Pass {
            result: obj.get("Result").cloned(),
            parameters: template(obj, s, "Parameters")?,
            result_path: path_spec(obj, s, "ResultPath")?,
        }),
        "Choice" => StateKind::Choice(parse_choice(obj, s, QueryLanguage::JsonPath)?),
        "Wait" => StateKind::Wait(parse_wait(obj, s)?),
        "Succeed" => StateKind::Succeed,
        "Fail" => StateKind::Fail(Fail { error: string_spec(obj, s, "Error")?, cause: string_spec(obj, s, "Cause")? }),
        "Parallel" => StateKind::Parallel(parse_parallel(obj, at, limits, QueryLanguage::JsonPath)?),
        "Map" => StateKind::Map(parse_map(obj, at, limits, QueryLanguage::JsonPath)?),
        _ => unreachable!("state types were matched above"),
    };
    Ok(State {
        name: name.to_owned(),
        comment: opt_string(obj, s, "Comment")?,
        kind,
        transition,
        input_path: path_spec(obj, s, "InputPath")?,
        output_path: path_spec(obj, s, "OutputPath")?,
        assign: assign(obj, s, "Assign")?,
        query_language: QueryLanguage::JsonPath,
        output: None,
    })
}

/// `Next` or `End: true` (or neither, for a terminal state).
fn transition(obj: &JsonMap<String, Value>, s: Option<&str>, ty: &str, terminal: bool) -> Result<Transition> {
    Ok(if terminal {
        Transition::None
    } else {
        match (obj.get("Next"), obj.get("End")) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid_intent(s, "End", "a state has either `Next` or `End`, not both"));
            }
            (Some(n), None) => Transition::Next(
                n.as_str()
                    .ok_or_else(|| Error::invalid_intent(s, "Next", "`Next` must be a state name (a string)"))?
                    .to_owned(),
            ),
            (None, Some(Value::Bool(true))) => Transition::End,
            (None, Some(_)) => {
                return Err(Error::invalid_intent(s, "End", "`End` must be `true` (or use `Next`)"));
            }
            (None, None) => {
                return Err(Error::invalid_intent(
                    s,
                    "Next",
                    format!("a {ty} state needs `Next` (a state name) or `End: true`"),
                ));
            }
        }
    })
}

fn parse_choice(obj: &JsonMap<String, Value>, s: Option<&str>, ql: QueryLanguage) -> Result<Choice> {
    let arr = obj
        .get("Choices")
        .ok_or_else(|| Error::invalid_intent(s, "Choices", "a Choice state needs `Choices`"))?
        .as_array()
        .ok_or_else(|| Error::invalid_intent(s, "Choices", "`Choices` must be an array of rules"))?;
    if arr.is_empty() {
        return Err(Error::invalid_intent(s, "Choices", "`Choices` must hold at least one rule"));
    }
    let mut choices = Vec::with_capacity(arr.len());
    for (i, rule) in arr.iter().enumerate() {
        let field = format!("Choices[{i}]");
        if ql == QueryLanguage::Jsonata {
            choices.push(jsonata_rule(rule, s, &field)?);
            continue;
        }
        let (rule, next) = parse_rule(rule, s, &field, true)?;
        let assign = match arr[i].as_object() {
            Some(o) => assign(o, s, &format!("{field}.Assign"))?,
            None => None,
        };
        choices.push(ChoiceBranch { rule, next: next.expect("top-level rules carry Next"), assign, output: None });
    }
    Ok(Choice { choices, default: opt_string(obj, s, "Default")? })
}

/// Parses a Choice rule. Top-level rules carry `Next`; nested ones must not.
pub(crate) fn parse_rule(v: &Value, s: Option<&str>, field: &str, top: bool) -> Result<(Rule, Option<String>)> {
    let obj = v.as_object().ok_or_else(|| Error::invalid_intent(s, field, "a Choice rule must be an object"))?;
    let mut next = None;
    let mut found: Option<Rule> = None;
    let mut variable: Option<String> = None;
    let mut test: Option<(Comparison, Operand, &str)> = None;
    for (key, val) in obj {
        let f = || format!("{field}.{key}");
        match key.as_str() {
            "Next" if top => {
                next = Some(
                    val.as_str().ok_or_else(|| Error::invalid_intent(s, &f(), "`Next` must be a string"))?.to_owned(),
                )
            }
            "Next" => {
                return Err(Error::invalid_intent(
                    s,
                    &f(),
                    "a nested Choice rule (inside And, Or or Not) cannot have `Next`",
                ));
            }
            "Comment" => {}
            "Variable" => {
                variable = Some(json_path(val, s, &f())?);
            }
            "And" | "Or" => {
                let arr = val.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                    Error::invalid_intent(s, &f(), format!("`{key}` must be a non-empty array of rules"))
                })?;
                let rules = arr
                    .iter()
                    .enumerate()
                    .map(|(i, r)| parse_rule(r, s, &format!("{field}.{key}[{i}]"), false).map(|x| x.0))
                    .collect::<Result<Vec<_>>>()?;
                set_once(&mut found, if key == "And" { Rule::And(rules) } else { Rule::Or(rules) }, s, &f())?;
            }
            "Not" => {
                let (r, _) = parse_rule(val, s, &f(), false)?;
                set_once(&mut found, Rule::Not(Box::new(r)), s, &f())?;
            }
            "Condition" => {
                return Err(Error::invalid_intent(
                    s,
                    &f(),
                    "`Condition` is a JSONata field; set `\"QueryLanguage\": \"JSONata\"` on the state or the plan to use it",
                ));
            }
            "Assign" if top => {}
            "Assign" => {
                return Err(Error::invalid_intent(
                    s,
                    &f(),
                    "a nested Choice rule (inside And, Or or Not) cannot have `Assign`",
                ));
            }
            op => {
                let (base, is_path) = match op.strip_suffix("Path") {
                    Some(b) => (b, true),
                    None => (op, false),
                };
                let row = Comparison::TABLE.iter().find(|r| r.1 == base && (!is_path || r.3)).ok_or_else(|| {
                    Error::invalid_intent(
                        s,
                        &f(),
                        format!("unknown field `{op}` in a Choice rule (not a comparison operator)"),
                    )
                })?;
                if test.is_some() {
                    return Err(Error::invalid_intent(s, &f(), "a Choice rule has exactly one comparison operator"));
                }
                let operand = if is_path {
                    Operand::Path(json_path(val, s, &f())?)
                } else {
                    let ok = match row.2 {
                        OperandType::String | OperandType::Timestamp => val.is_string(),
                        OperandType::Number => val.is_number(),
                        OperandType::Boolean => val.is_boolean(),
                    };
                    if !ok {
                        let want = match row.2 {
                            OperandType::String => "a string",
                            OperandType::Timestamp => "a timestamp string",
                            OperandType::Number => "a number",
                            OperandType::Boolean => "a boolean",
                        };
                        return Err(Error::invalid_intent(s, &f(), format!("`{op}` takes {want}, got {val}")));
                    }
                    Operand::Value(val.clone())
                };
                test = Some((row.0, operand, row.1));
            }
        }
    }
    match (found, variable, test) {
        (Some(rule), None, None) => finish_rule(rule, next, s, field, top),
        (None, Some(variable), Some((op, operand, _))) => {
            finish_rule(Rule::Test { variable, op, operand }, next, s, field, top)
        }
        (None, Some(_), None) => {
            Err(Error::invalid_intent(s, field, "a Choice rule with `Variable` needs a comparison operator"))
        }
        (None, None, Some((_, _, name))) => {
            Err(Error::invalid_intent(s, field, format!("the comparison `{name}` needs a `Variable`")))
        }
        (Some(_), _, _) => {
            Err(Error::invalid_intent(s, field, "`And`/`Or`/`Not` cannot be combined with `Variable` or a comparison"))
        }
        (None, None, None) => Err(Error::invalid_intent(
            s,
            field,
            "a Choice rule needs `Variable` and a comparison, or `And`, `Or` or `Not`",
        )),
    }
}

fn finish_rule(
    rule: Rule,
    next: Option<String>,
    s: Option<&str>,
    field: &str,
    top: bool,
) -> Result<(Rule, Option<String>)> {
    if top && next.is_none() {
        return Err(Error::invalid_intent(s, &format!("{field}.Next"), "a top-level Choice rule needs `Next`"));
    }
    Ok((rule, next))
}

fn set_once(slot: &mut Option<Rule>, rule: Rule, s: Option<&str>, field: &str) -> Result<()> {
    if slot.is_some() {
        return Err(Error::invalid_intent(s, field, "a Choice rule has only one of `And`, `Or`, `Not`"));
    }
    *slot = Some(rule);
    Ok(())
}

fn parse_wait(obj: &JsonMap<String, Value>, s: Option<&str>) -> Result<Wait> {
    let present: Vec<&str> = WAIT.iter().copied().filter(|k| obj.contains_key(*k)).collect();
    if present.len() != 1 {
        return Err(Error::invalid_intent(
            s,
            "Seconds",
            "a Wait state needs exactly one of `Seconds`, `Timestamp`, `SecondsPath`, `TimestampPath`",
        ));
    }
    let field = present[0];
    let v = &obj[field];
    let wait_for = match field {
        "Seconds" => WaitFor::Seconds(non_negative_int(v, s, field)?),
        "Timestamp" => WaitFor::Timestamp(
            v.as_str()
                .ok_or_else(|| Error::invalid_intent(s, field, "`Timestamp` must be an ISO-8601 string"))?
                .to_owned(),
        ),
        "SecondsPath" => WaitFor::SecondsPath(json_path(v, s, field)?),
        _ => WaitFor::TimestampPath(json_path(v, s, field)?),
    };
    Ok(Wait { wait_for })
}

fn parse_parallel(obj: &JsonMap<String, Value>, at: &str, limits: &Limits, ql: QueryLanguage) -> Result<Parallel> {
    let s = Some(at);
    let arr = obj
        .get("Branches")
        .ok_or_else(|| Error::invalid_intent(s, "Branches", "a Parallel state needs `Branches`"))?
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            Error::invalid_intent(s, "Branches", "`Branches` must be a non-empty array of state machines")
        })?;
    let mut branches = Vec::with_capacity(arr.len());
    for (i, b) in arr.iter().enumerate() {
        let scope = format!("{at}/branch {i}");
        let bobj = b.as_object().ok_or_else(|| {
            Error::invalid_intent(s, &format!("Branches[{i}]"), "a branch must be an object with StartAt and States")
        })?;
        check_keys(bobj, Some(&scope), "a branch", &[&["StartAt", "States", "Comment", "QueryLanguage"]], true)?;
        let inner = query_language(bobj, Some(&scope), ql)?;
        branches.push(parse_machine(bobj, Some(&scope), limits, inner)?);
    }
    let ja = ql == QueryLanguage::Jsonata;
    Ok(Parallel {
        branches,
        parameters: if ja { None } else { template(obj, s, "Parameters")? },
        arguments: if ja { jsonata_field(obj, s, "Arguments", Places::INPUT)? } else { None },
        result_selector: if ja { None } else { template(obj, s, "ResultSelector")? },
        result_path: path_spec(obj, s, "ResultPath")?,
        retry: retriers(obj, s)?,
        catch: catchers(obj, s, ql)?,
    })
}

fn parse_map(obj: &JsonMap<String, Value>, at: &str, limits: &Limits, ql: QueryLanguage) -> Result<Map> {
    let s = Some(at);
    let (field, proc_v) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
        (Some(p), None) => ("ItemProcessor", p),
        (None, Some(p)) => ("Iterator", p),
        (Some(_), Some(_)) => {
            return Err(Error::invalid_intent(s, "Iterator", "use `ItemProcessor` or the older `Iterator`, not both"));
        }
        (None, None) => return Err(Error::invalid_intent(s, "ItemProcessor", "a Map state needs `ItemProcessor`")),
    };
    let scope = format!("{at}/{field}");
    let pobj = proc_v.as_object().ok_or_else(|| {
        Error::invalid_intent(s, field, format!("`{field}` must be an object with StartAt and States"))
    })?;
    check_keys(
        pobj,
        Some(&scope),
        &format!("`{field}`"),
        &[&["StartAt", "States", "Comment", "ProcessorConfig", "QueryLanguage"]],
        true,
    )?;
    if let Some(cfg) = pobj.get("ProcessorConfig") {
        let cobj = cfg.as_object().ok_or_else(|| {
            Error::invalid_intent(Some(&scope), "ProcessorConfig", "`ProcessorConfig` must be an object")
        })?;
        check_keys(cobj, Some(&scope), "`ProcessorConfig`", &[&["Mode", "ExecutionType"]], true)?;
        if let Some(mode) = cobj.get("Mode")
            && mode != "INLINE"
            && mode != "DISTRIBUTED"
        {
            return Err(Error::invalid_intent(
                Some(&scope),
                "ProcessorConfig.Mode",
                "`Mode` must be INLINE or DISTRIBUTED",
            ));
        }
    }
    let inner = query_language(pobj, Some(&scope), ql)?;
    let processor = parse_machine(pobj, Some(&scope), limits, inner)?;
    if ql == QueryLanguage::Jsonata {
        let number = |f: &str| jsonata_number(obj, s, f);
        return Ok(Map {
            items_path: PathSpec::Default,
            items: jsonata_field(obj, s, "Items", Places::INPUT)?,
            item_selector: jsonata_field(obj, s, "ItemSelector", Places::INPUT)?,
            processor,
            max_concurrency: number("MaxConcurrency")?,
            tolerated_failure_count: number("ToleratedFailureCount")?,
            tolerated_failure_percentage: number("ToleratedFailurePercentage")?,
            label: opt_string(obj, s, "Label")?,
            result_selector: None,
            result_path: PathSpec::Default,
            retry: retriers(obj, s)?,
            catch: catchers(obj, s, ql)?,
        });
    }
    let item_selector = match (template(obj, s, "ItemSelector")?, template(obj, s, "Parameters")?) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_intent(
                s,
                "Parameters",
                "use `ItemSelector` or the older `Parameters`, not both",
            ));
        }
        (a, b) => a.or(b),
    };
    Ok(Map {
        items_path: path_spec(obj, s, "ItemsPath")?,
        items: None,
        item_selector,
        processor,
        max_concurrency: number_spec(obj, s, "MaxConcurrency")?,
        tolerated_failure_count: number_spec(obj, s, "ToleratedFailureCount")?,
        tolerated_failure_percentage: number_spec(obj, s, "ToleratedFailurePercentage")?,
        label: opt_string(obj, s, "Label")?,
        result_selector: template(obj, s, "ResultSelector")?,
        result_path: path_spec(obj, s, "ResultPath")?,
        retry: retriers(obj, s)?,
        catch: catchers(obj, s, ql)?,
    })
}

fn error_equals(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Vec<String>> {
    let f = format!("{field}.ErrorEquals");
    let arr = obj
        .get("ErrorEquals")
        .ok_or_else(|| Error::invalid_intent(s, &f, "`ErrorEquals` is required"))?
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::invalid_intent(s, &f, "`ErrorEquals` must be a non-empty array of error names"))?;
    let names = arr
        .iter()
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or_else(|| Error::invalid_intent(s, &f, "error names must be strings"))
        })
        .collect::<Result<Vec<_>>>()?;
    if names.iter().any(|n| n == "States.ALL") && names.len() != 1 {
        return Err(Error::invalid_intent(s, &f, "`States.ALL` must appear alone in `ErrorEquals`"));
    }
    Ok(names)
}

fn entries<'a>(
    obj: &'a JsonMap<String, Value>,
    s: Option<&str>,
    field: &str,
) -> Result<Vec<&'a JsonMap<String, Value>>> {
    match obj.get(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.as_object()
                    .ok_or_else(|| Error::invalid_intent(s, &format!("{field}[{i}]"), "each entry must be an object"))
            })
            .collect(),
        Some(_) => Err(Error::invalid_intent(s, field, format!("`{field}` must be an array"))),
    }
}

/// `States.ALL` must be the last entry of `Retry` / `Catch`.
fn all_is_last(lists: &[Vec<String>], s: Option<&str>, field: &str) -> Result<()> {
    for (i, names) in lists.iter().enumerate() {
        if names.iter().any(|n| n == "States.ALL") && i + 1 != lists.len() {
            return Err(Error::invalid_intent(
                s,
                &format!("{field}[{i}]"),
                format!("a `States.ALL` entry must be the last in `{field}`"),
            ));
        }
    }
    Ok(())
}

fn retriers(obj: &JsonMap<String, Value>, s: Option<&str>) -> Result<Vec<Retrier>> {
    let mut out = Vec::new();
    for (i, r) in entries(obj, s, "Retry")?.into_iter().enumerate() {
        let field = format!("Retry[{i}]");
        check_keys(
            r,
            s,
            "a Retry entry",
            &[&[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ]],
            true,
        )?;
        let f = |k: &str| format!("{field}.{k}");
        let backoff_rate = match r.get("BackoffRate") {
            None => 2.0,
            Some(v) => match v.as_f64() {
                Some(x) if x >= 1.0 => x,
                _ => return Err(Error::invalid_intent(s, &f("BackoffRate"), "`BackoffRate` must be a number >= 1.0")),
            },
        };
        let jitter = match r.get("JitterStrategy").map(|v| v.as_str()) {
            None | Some(Some("NONE")) => Jitter::None,
            Some(Some("FULL")) => Jitter::Full,
            Some(_) => {
                return Err(Error::invalid_intent(
                    s,
                    &f("JitterStrategy"),
                    "`JitterStrategy` must be \"FULL\" or \"NONE\"",
                ));
            }
        };
        out.push(Retrier {
            error_equals: error_equals(r, s, &field)?,
            interval_seconds: match r.get("IntervalSeconds") {
                None => 1,
                Some(v) => positive_int(v, s, &f("IntervalSeconds"))?,
            },
            max_attempts: match r.get("MaxAttempts") {
                None => 3,
                Some(v) => non_negative_int(v, s, &f("MaxAttempts"))?,
            },
            backoff_rate,
            max_delay_seconds: match r.get("MaxDelaySeconds") {
                None => None,
                Some(v) => Some(positive_int(v, s, &f("MaxDelaySeconds"))?),
            },
            jitter,
        });
    }
    all_is_last(&out.iter().map(|r| r.error_equals.clone()).collect::<Vec<_>>(), s, "Retry")?;
    Ok(out)
}

fn catchers(obj: &JsonMap<String, Value>, s: Option<&str>, ql: QueryLanguage) -> Result<Vec<Catcher>> {
    let mut out = Vec::new();
    let ja = ql == QueryLanguage::Jsonata;
    for (i, c) in entries(obj, s, "Catch")?.into_iter().enumerate() {
        let field = format!("Catch[{i}]");
        let allowed: &[&str] = if ja {
            &["ErrorEquals", "Next", "Comment", "Assign", "Output"]
        } else {
            &["ErrorEquals", "Next", "ResultPath", "Comment", "Assign"]
        };
        check_keys(c, s, "a Catch entry", &[allowed], true)?;
        let (assign, output) = if ja {
            (
                jsonata_assign(c, s, &format!("{field}.Assign"), Places::ERROR)?,
                jsonata_field(c, s, "Output", Places::ERROR).map_err(|e| e.in_field(format!("{field}.Output")))?,
            )
        } else {
            (assign(c, s, &format!("{field}.Assign"))?, None)
        };
        out.push(Catcher {
            error_equals: error_equals(c, s, &field)?,
            next: required_string(c, s, "Next").map_err(|e| e.in_field(format!("{field}.Next")))?,
            result_path: path_spec(c, s, "ResultPath")?,
            assign,
            output,
        });
    }
    all_is_last(&out.iter().map(|c| c.error_equals.clone()).collect::<Vec<_>>(), s, "Catch")?;
    Ok(out)
}

/// `{"After": n, "Keep": k}` with `Keep < After`, so that a compaction leaves room
/// before the next one.
pub(crate) fn parse_compaction(v: &Value) -> Result<Compaction> {
    let field = "Compaction";
    let obj = v
        .as_object()
        .ok_or_else(|| Error::invalid_intent(None, field, "`Compaction` must be an object {\"After\", \"Keep\"}"))?;
    check_keys(obj, None, "`Compaction`", &[&["After", "Keep"]], true)?;
    let count = |k: &str, default: Option<u64>| -> Result<u32> {
        let n = match (obj.get(k), default) {
            (Some(v), _) => non_negative_int(v, None, &format!("{field}.{k}"))?,
            (None, Some(d)) => d,
            (None, None) => {
                return Err(Error::invalid_intent(None, &format!("{field}.{k}"), format!("`{k}` is required")));
            }
        };
        u32::try_from(n).map_err(|_| {
            Error::invalid_intent(None, &format!("{field}.{k}"), format!("`{k}` must be at most {}", u32::MAX))
        })
    };
    let after = count("After", None)?;
    let keep = count("Keep", Some(0))?;
    if after == 0 || keep >= after {
        return Err(Error::invalid_intent(
            None,
            field,
            format!(
                "`Compaction` needs 0 <= Keep < After (got After {after}, Keep {keep}): a checkpoint must leave fewer records than the next one waits for"
            ),
        ));
    }
    Ok(Compaction { after, keep })
}

fn parse_constraints(v: &Value, s: Option<&str>, field: &str) -> Result<Constraints> {
    let obj = v.as_object().ok_or_else(|| Error::invalid_intent(s, field, "`Constraints` must be an object"))?;
    check_keys(obj, s, "`Constraints`", &[&["Deadline", "MaxHops", "MaxRecords", "AllowedDomains"]], true)?;
    let f = |k: &str| format!("{field}.{k}");
    let u32_field = |k: &str| -> Result<Option<u32>> {
        match obj.get(k) {
            None => Ok(None),
            Some(v) => {
                let n = non_negative_int(v, s, &f(k))?;
                u32::try_from(n)
                    .map(Some)
                    .map_err(|_| Error::invalid_intent(s, &f(k), format!("`{k}` must be at most {}", u32::MAX)))
            }
        }
    };
    let deadline_ms = match obj.get("Deadline") {
        None => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            Error::invalid_intent(s, &f("Deadline"), "`Deadline` must be an integer: milliseconds since the Unix epoch")
        })?),
    };
    let allowed_domains = match obj.get("AllowedDomains") {
        None => None,
        Some(v) => Some(string_list(v, s, &f("AllowedDomains"))?),
    };
    Ok(Constraints {
        deadline_ms,
        max_hops: u32_field("MaxHops")?,
        max_records: u32_field("MaxRecords")?,
        allowed_domains,
    })
}

fn parse_adapt(v: &Value, machine: &StateMachine, limits: &Limits, ql: QueryLanguage) -> Result<Vec<AdaptRule>> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::invalid_intent(None, "Adapt", "`Adapt` must be an array of {When, Then} rules"))?;
    let mut rules = Vec::with_capacity(arr.len());
    for (i, r) in arr.iter().enumerate() {
        let field = format!("Adapt[{i}]");
        let obj = r.as_object().ok_or_else(|| {
            Error::invalid_intent(None, &field, "an Adapt rule must be an object with `When` and `Then`")
        })?;
        check_keys(obj, None, "an Adapt rule", &[&["Name", "When", "Then", "Comment"]], true)?;
        let when_v = obj
            .get("When")
            .ok_or_else(|| Error::invalid_intent(None, &format!("{field}.When"), "an Adapt rule needs `When`"))?;
        let (when, _) = parse_rule(when_v, None, &format!("{field}.When"), false)?;
        let then_v = obj.get("Then").and_then(Value::as_object).ok_or_else(|| {
            Error::invalid_intent(None, &format!("{field}.Then"), "an Adapt rule needs `Then`, an object")
        })?;
        check_keys(then_v, None, "an Adapt `Then`", &[&["Objective", "Class", "Constraints", "States", "Goto"]], true)?;
        let tf = |k: &str| format!("{field}.Then.{k}");
        let mut states = Vec::new();
        if let Some(sv) = then_v.get("States") {
            let sobj = sv.as_object().ok_or_else(|| {
                Error::invalid_intent(None, &tf("States"), "`States` must be an object of named states")
            })?;
            for (name, def) in sobj {
                states.push(parse_state(name, def, name, limits, ql)?);
            }
        }
        let then = Refinement {
            objective: opt_string(then_v, None, "Objective")?,
            class: opt_string(then_v, None, "Class")?,
            constraints: match then_v.get("Constraints") {
                None => None,
                Some(c) => Some(parse_constraints(c, None, &tf("Constraints"))?),
            },
            goto: opt_string(then_v, None, "Goto")?,
            states,
        };
        // The added states may lead to each other and to the machine's states.
        let added: HashSet<&str> = then.states.iter().map(|s| s.name.as_str()).collect();
        let mut merged = machine.clone();
        for st in &then.states {
            merged.states.retain(|x| x.name != st.name);
            merged.states.push(st.clone());
        }
        let merged = StateMachine::new(merged.start_at.clone(), merged.states);
        validate_targets(&merged, None, &added).map_err(|e| e.in_field(tf("States")))?;
        if let Some(g) = &then.goto
            && merged.get(g).is_none()
        {
            return Err(Error::invalid_intent(None, &tf("Goto"), format!("`Goto` names `{g}`, which is not a state")));
        }
        rules.push(AdaptRule { name: opt_string(obj, None, "Name")?, when, then });
    }
    Ok(rules)
}

fn parse_awaits(v: &Value, machine: &StateMachine) -> Result<BTreeMap<String, AwaitSpec>> {
    let obj = v.as_object().ok_or_else(|| {
        Error::invalid_intent(None, "Await", "`Await` must map state names to {Event, TimeoutSeconds}")
    })?;
    let mut out = BTreeMap::new();
    for (name, spec) in obj {
        let field = format!("Await.{name}");
        let state = find_state(machine, name).ok_or_else(|| {
            Error::invalid_intent(None, &field, format!("`Await` names `{name}`, which is not a state"))
        })?;
        if !matches!(state.kind, StateKind::Task(_) | StateKind::Pass(_)) {
            return Err(Error::invalid_intent(
                Some(name),
                &field,
                format!("only Task and Pass states can await an event; `{name}` is a {}", state.type_name()),
            ));
        }
        let sobj = spec
            .as_object()
            .ok_or_else(|| Error::invalid_intent(Some(name), &field, "an Await entry must be an object"))?;
        check_keys(
            sobj,
            Some(name),
            "an Await entry",
            &[&["Event", "EventPath", "TimeoutSeconds", "HeartbeatSeconds", "Comment"]],
            true,
        )?;
        let event = string_spec(sobj, Some(name), "Event")?.ok_or_else(|| {
            Error::invalid_intent(Some(name), &format!("{field}.Event"), "an Await entry needs `Event` or `EventPath`")
        })?;
        let secs = |k: &str| -> Result<Option<u64>> {
            sobj.get(k).map(|v| positive_int(v, Some(name), &format!("{field}.{k}"))).transpose()
        };
        out.insert(
            name.clone(),
            AwaitSpec { event, timeout_seconds: secs("TimeoutSeconds")?, heartbeat_seconds: secs("HeartbeatSeconds")? },
        );
    }
    Ok(out)
}

/// Finds a state by name in the machine or any nested branch or processor.
pub fn find_state<'a>(machine: &'a StateMachine, name: &str) -> Option<&'a State> {
    if let Some(s) = machine.get(name) {
        return Some(s);
    }
    machine.states.iter().find_map(|s| match &s.kind {
        StateKind::Parallel(p) => p.branches.iter().find_map(|b| find_state(b, name)),
        StateKind::Map(m) => find_state(&m.processor, name),
        _ => None,
    })
}

// ----- field helpers -----

fn required_string(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<String> {
    match obj.get(field) {
        Some(Value::String(v)) => Ok(v.clone()),
        Some(other) => {
            Err(Error::invalid_intent(s, field, format!("`{field}` must be a string, got {}", kind_of(other))))
        }
        None => Err(Error::invalid_intent(s, field, format!("`{field}` is required"))),
    }
}

fn opt_string(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<String>> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::String(v)) => Ok(Some(v.clone())),
        Some(other) => {
            Err(Error::invalid_intent(s, field, format!("`{field}` must be a string, got {}", kind_of(other))))
        }
    }
}

fn string_list(v: &Value, s: Option<&str>, field: &str) -> Result<Vec<String>> {
    v.as_array()
        .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
        .ok_or_else(|| Error::invalid_intent(s, field, format!("`{field}` must be an array of strings")))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn json_path(v: &Value, s: Option<&str>, field: &str) -> Result<String> {
    match v.as_str() {
        Some(p) if p.starts_with('$') => Ok(p.to_owned()),
        _ => Err(Error::invalid_intent(s, field, format!("`{field}` must be a JSONPath starting with `$`, got {v}"))),
    }
}

fn path_spec(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<PathSpec> {
    match obj.get(field) {
        None => Ok(PathSpec::Default),
        Some(Value::Null) => Ok(PathSpec::Null),
        Some(v) => {
            let p = json_path(v, s, field)?;
            if field == "ResultPath" && crate::asl::path::variable(&p).is_some() {
                return Err(Error::invalid_intent(
                    s,
                    field,
                    format!(
                        "`ResultPath` places the result in the state's input; it cannot name a variable (`{p}`): use `Assign`"
                    ),
                ));
            }
            Ok(PathSpec::Path(p))
        }
    }
}

fn positive_int(v: &Value, s: Option<&str>, field: &str) -> Result<u64> {
    match v.as_u64() {
        Some(n) if n > 0 => Ok(n),
        _ => Err(Error::invalid_intent(s, field, format!("`{field}` must be a positive integer, got {v}"))),
    }
}

fn non_negative_int(v: &Value, s: Option<&str>, field: &str) -> Result<u64> {
    v.as_u64()
        .ok_or_else(|| Error::invalid_intent(s, field, format!("`{field}` must be a non-negative integer, got {v}")))
}

/// `X` (a number) or `XPath` (a path), not both.
fn number_spec(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<NumberSpec>> {
    let path_field = format!("{field}Path");
    match (obj.get(field), obj.get(&path_field)) {
        (Some(_), Some(_)) => {
            Err(Error::invalid_intent(s, &path_field, format!("use `{field}` or `{path_field}`, not both")))
        }
        (Some(v), None) => match v.as_f64() {
            Some(n) if n >= 0.0 => Ok(Some(NumberSpec::Value(n))),
            _ => Err(Error::invalid_intent(s, field, format!("`{field}` must be a non-negative number, got {v}"))),
        },
        (None, Some(p)) => Ok(Some(NumberSpec::Path(json_path(p, s, &path_field)?))),
        (None, None) => Ok(None),
    }
}

/// `X` (a string) or `XPath` (a path), not both.
fn string_spec(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<StringSpec>> {
    let path_field = format!("{field}Path");
    match (obj.get(field), obj.get(&path_field)) {
        (Some(_), Some(_)) => {
            Err(Error::invalid_intent(s, &path_field, format!("use `{field}` or `{path_field}`, not both")))
        }
        (Some(Value::String(v)), None) => Ok(Some(StringSpec::Value(v.clone()))),
        (Some(v), None) => {
            Err(Error::invalid_intent(s, field, format!("`{field}` must be a string, got {}", kind_of(v))))
        }
        (None, Some(p)) => match p.as_str() {
            Some(text) if text.starts_with('$') || text.starts_with("States.") => {
                Ok(Some(StringSpec::Path(text.to_owned())))
            }
            _ => Err(Error::invalid_intent(
                s,
                &path_field,
                format!("`{path_field}` must be a JSONPath or an intrinsic function"),
            )),
        },
        (None, None) => Ok(None),
    }
}

/// A payload template (`Parameters`, `ResultSelector`, `ItemSelector`): every key
/// ending in `.$` must hold a path or an intrinsic function call.
fn template(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<Value>> {
    fn walk(v: &Value, s: Option<&str>, at: &str) -> Result<()> {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let here = format!("{at}.{k}");
                    if k.ends_with(".$") {
                        match child.as_str() {
                            Some(t) if t.starts_with("States.") => {
                                crate::asl::intrinsics::validate(t).map_err(|m| {
                                    Error::invalid_intent(s, &here, format!("invalid intrinsic function call: {m}"))
                                })?;
                            }
                            Some(t) if t.starts_with('$') => {
                                let q = t.strip_prefix("$$").map_or_else(|| t.to_owned(), |r| format!("${r}"));
                                if !crate::asl::path::is_valid(&q) {
                                    return Err(Error::invalid_intent(
                                        s,
                                        &here,
                                        format!("`{t}` is not a valid JSONPath"),
                                    ));
                                }
                            }
                            _ => {
                                return Err(Error::invalid_intent(
                                    s,
                                    &here,
                                    format!(
                                        "the value of `{k}` must be a JSONPath (`$...`) or an intrinsic function (`States....`), got {child}"
                                    ),
                                ));
                            }
                        }
                    } else {
                        walk(child, s, &here)?;
                    }
                }
                Ok(())
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, s, &format!("{at}[{i}]"))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    match obj.get(field) {
        None => Ok(None),
        Some(v) => {
            walk(v, s, field)?;
            Ok(Some(v.clone()))
        }
    }
}
