//! Choice states: the `Choices` and their rules, in both query languages.

use super::*;

pub(super) fn parse_choice(obj: &JsonMap<String, Value>, s: Option<&str>, ql: QueryLanguage) -> Result<Choice> {
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

pub(super) fn finish_rule(
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

pub(super) fn set_once(slot: &mut Option<Rule>, rule: Rule, s: Option<&str>, field: &str) -> Result<()> {
    if slot.is_some() {
        return Err(Error::invalid_intent(s, field, "a Choice rule has only one of `And`, `Or`, `Not`"));
    }
    *slot = Some(rule);
    Ok(())
}
