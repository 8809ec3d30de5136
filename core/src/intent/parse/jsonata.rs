//! States in the JSONata query language: their fields, expressions and the placement
//! of `$states.result` / `$states.errorOutput`.

use super::*;

/// Where `$states.result` and `$states.errorOutput` may be read (Step Functions'
/// placement rules, checked when the plan is parsed).
#[derive(Clone, Copy)]
pub(super) struct Places {
    result: bool,
    error: bool,
}

impl Places {
    /// `Arguments`, `Items`, `ItemSelector`, a Choice's fields, a Pass state's output...
    pub(super) const INPUT: Places = Places { result: false, error: false };
    /// A Task's, Map's or Parallel's `Output` and `Assign`.
    pub(super) const RESULT: Places = Places { result: true, error: false };
    /// A Catch entry's `Output` and `Assign`.
    pub(super) const ERROR: Places = Places { result: false, error: true };
}

/// Checks a JSONata template: every `{% ... %}` parses, and reads `$states.result` /
/// `$states.errorOutput` only where they exist.
fn check_jsonata(v: &Value, s: Option<&str>, field: &str, places: Places) -> Result<()> {
    crate::asl::jsonata::check_template(v, field)
        .map_err(|(f, m)| Error::invalid_intent(s, &f, format!("the JSONata expression does not parse: {m}")))?;
    let mut texts = Vec::new();
    collect_expressions(v, &mut texts);
    for t in texts {
        for (name, ok) in [("$states.result", places.result), ("$states.errorOutput", places.error)] {
            if !ok && t.contains(name) {
                return Err(Error::invalid_intent(
                    s,
                    field,
                    format!(
                        "`{name}` cannot be read in `{field}` (Step Functions provides it only in {})",
                        if name.ends_with("result") {
                            "a Task's, Map's or Parallel's `Output` and `Assign`"
                        } else {
                            "a Catch entry's `Output` and `Assign`"
                        }
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn collect_expressions<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(t) => out.extend(crate::asl::jsonata::expression(t)),
        Value::Array(a) => a.iter().for_each(|x| collect_expressions(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_expressions(x, out)),
        _ => {}
    }
}

/// A JSONata template field (`Arguments`, `Output`, `Items`, `ItemSelector`).
pub(super) fn jsonata_field(
    obj: &JsonMap<String, Value>,
    s: Option<&str>,
    field: &str,
    places: Places,
) -> Result<Option<Value>> {
    match obj.get(field) {
        None => Ok(None),
        Some(v) => {
            check_jsonata(v, s, field, places)?;
            Ok(Some(v.clone()))
        }
    }
}

/// A JSONata `Assign`: variable names to templates.
pub(super) fn jsonata_assign(
    obj: &JsonMap<String, Value>,
    s: Option<&str>,
    field: &str,
    places: Places,
) -> Result<Option<Value>> {
    let key = field.rsplit('.').next().unwrap_or(field);
    let Some(v) = obj.get(key) else { return Ok(None) };
    let map = v.as_object().ok_or_else(|| {
        Error::invalid_intent(s, field, format!("`Assign` must be an object of variable names and values, got {v}"))
    })?;
    for (k, x) in map {
        if !crate::asl::path::is_variable_name(k) {
            return Err(Error::invalid_intent(
                s,
                &format!("{field}.{k}"),
                format!(
                    "`{k}` cannot name a variable: a name starts with a letter or `_`, holds only letters, digits and `_`, has at most 80 characters and is not the reserved `states`"
                ),
            ));
        }
        check_jsonata(x, s, &format!("{}/{k}", key), places)?;
    }
    Ok(Some(v.clone()))
}

/// A number given directly or as an expression (`MaxConcurrency`, `TimeoutSeconds`...).
pub(super) fn jsonata_number(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<NumberSpec>> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::String(t)) => match crate::asl::jsonata::expression(t) {
            Some(e) => {
                check_jsonata(&Value::String(t.clone()), s, field, Places::INPUT)?;
                Ok(Some(NumberSpec::Expr(e.to_owned())))
            }
            None => Err(Error::invalid_intent(
                s,
                field,
                format!("`{field}` must be a number or a `{{% ... %}}` expression, got \"{t}\""),
            )),
        },
        Some(v) => match v.as_f64() {
            Some(n) if n >= 0.0 => Ok(Some(NumberSpec::Value(n))),
            _ => Err(Error::invalid_intent(s, field, format!("`{field}` must be a non-negative number, got {v}"))),
        },
    }
}

/// A string given directly or as an expression (a Fail state's `Error`, `Cause`).
fn jsonata_string(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<StringSpec>> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::String(t)) => match crate::asl::jsonata::expression(t) {
            Some(e) => {
                check_jsonata(&Value::String(t.clone()), s, field, Places::INPUT)?;
                Ok(Some(StringSpec::Expr(e.to_owned())))
            }
            None => Ok(Some(StringSpec::Value(t.clone()))),
        },
        Some(v) => Err(Error::invalid_intent(s, field, format!("`{field}` must be a string, got {}", kind_of(v)))),
    }
}

/// A JSONata Choice rule: `Condition` (an expression or a boolean), `Next`, and
/// optionally `Assign` and `Output`.
pub(super) fn jsonata_rule(v: &Value, s: Option<&str>, field: &str) -> Result<ChoiceBranch> {
    let obj = v.as_object().ok_or_else(|| Error::invalid_intent(s, field, "a Choice rule must be an object"))?;
    check_keys(obj, s, "a JSONata Choice rule", &[&["Condition", "Next", "Assign", "Output", "Comment"]], true)
        .map_err(|e| {
            let f = format!("{field}.{}", e.field().unwrap_or_default());
            e.in_field(f)
        })?;
    let cf = format!("{field}.Condition");
    let condition = match obj.get("Condition") {
        None => return Err(Error::invalid_intent(s, &cf, "a JSONata Choice rule needs `Condition`")),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::String(t)) => match crate::asl::jsonata::expression(t) {
            Some(e) => {
                check_jsonata(&Value::String(t.clone()), s, &cf, Places::INPUT)?;
                e.to_owned()
            }
            None => {
                return Err(Error::invalid_intent(
                    s,
                    &cf,
                    format!("`Condition` must be a `{{% ... %}}` expression or a boolean, got \"{t}\""),
                ));
            }
        },
        Some(other) => {
            return Err(Error::invalid_intent(
                s,
                &cf,
                format!("`Condition` must be a `{{% ... %}}` expression or a boolean, got {other}"),
            ));
        }
    };
    let next = required_string(obj, s, "Next").map_err(|e| e.in_field(format!("{field}.Next")))?;
    Ok(ChoiceBranch {
        rule: Rule::Condition(condition),
        next,
        assign: jsonata_assign(obj, s, &format!("{field}.Assign"), Places::INPUT)?,
        output: jsonata_field(obj, s, "Output", Places::INPUT).map_err(|e| e.in_field(format!("{field}.Output")))?,
    })
}

/// A state in the JSONata query language.
pub(super) fn parse_jsonata_state(
    name: &str,
    obj: &JsonMap<String, Value>,
    at: &str,
    ty: &str,
    transition: Transition,
    limits: &Limits,
) -> Result<State> {
    let s = Some(at);
    let ql = QueryLanguage::Jsonata;
    let has_result = matches!(ty, "Task" | "Map" | "Parallel");
    let places = if has_result { Places::RESULT } else { Places::INPUT };
    let kind = match ty {
        "Task" => StateKind::Task(Task {
            resource: required_string(obj, s, "Resource")?,
            parameters: None,
            arguments: jsonata_field(obj, s, "Arguments", Places::INPUT)?,
            result_selector: None,
            result_path: PathSpec::Default,
            retry: retriers(obj, s)?,
            catch: catchers(obj, s, ql)?,
            timeout_seconds: jsonata_number(obj, s, "TimeoutSeconds")?,
            heartbeat_seconds: jsonata_number(obj, s, "HeartbeatSeconds")?,
        }),
        "Pass" => StateKind::Pass(Pass { result: None, parameters: None, result_path: PathSpec::Default }),
        "Choice" => StateKind::Choice(parse_choice(obj, s, ql)?),
        "Wait" => {
            let wait_for = match (obj.get("Seconds"), obj.get("Timestamp")) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(Error::invalid_intent(
                        s,
                        "Seconds",
                        "a Wait state needs exactly one of `Seconds`, `Timestamp`",
                    ));
                }
                (Some(v), None) => match v.as_str().and_then(crate::asl::jsonata::expression) {
                    Some(e) => {
                        check_jsonata(v, s, "Seconds", Places::INPUT)?;
                        WaitFor::SecondsExpr(e.to_owned())
                    }
                    None => WaitFor::Seconds(non_negative_int(v, s, "Seconds")?),
                },
                (None, Some(v)) => match jsonata_string(obj, s, "Timestamp")? {
                    Some(StringSpec::Expr(e)) => WaitFor::TimestampExpr(e),
                    Some(StringSpec::Value(t)) => WaitFor::Timestamp(t),
                    _ => {
                        return Err(Error::invalid_intent(
                            s,
                            "Timestamp",
                            format!("`Timestamp` must be an ISO-8601 string, got {v}"),
                        ));
                    }
                },
            };
            StateKind::Wait(Wait { wait_for })
        }
        "Succeed" => StateKind::Succeed,
        "Fail" => {
            StateKind::Fail(Fail { error: jsonata_string(obj, s, "Error")?, cause: jsonata_string(obj, s, "Cause")? })
        }
        "Parallel" => StateKind::Parallel(parse_parallel(obj, at, limits, ql)?),
        "Map" => StateKind::Map(parse_map(obj, at, limits, ql)?),
        _ => unreachable!("state types were matched by the caller"),
    };
    Ok(State {
        name: name.to_owned(),
        comment: opt_string(obj, s, "Comment")?,
        kind,
        transition,
        input_path: PathSpec::Default,
        output_path: PathSpec::Default,
        assign: jsonata_assign(obj, s, "Assign", places)?,
        query_language: ql,
        output: jsonata_field(obj, s, "Output", places)?,
    })
}
