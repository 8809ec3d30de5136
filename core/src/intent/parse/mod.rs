//! Parsing and validation of an intent document. Every error names the state (as a
//! path through branches) and the field.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map as JsonMap, Value};

use super::model::*;
use crate::{Error, Limits, Result};

mod extensions;
mod fields;
mod jsonata;
mod retry;
mod rules;
mod variables;

pub(crate) use extensions::parse_compaction;
use extensions::*;
use fields::*;
use jsonata::*;
use retry::*;
pub(crate) use rules::parse_rule;
use rules::*;
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
