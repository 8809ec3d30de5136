//! Reading one field of a state: strings, paths, numbers, templates, with the error
//! naming the state and the field.

use super::*;

pub(super) fn required_string(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<String> {
    match obj.get(field) {
        Some(Value::String(v)) => Ok(v.clone()),
        Some(other) => {
            Err(Error::invalid_intent(s, field, format!("`{field}` must be a string, got {}", kind_of(other))))
        }
        None => Err(Error::invalid_intent(s, field, format!("`{field}` is required"))),
    }
}

pub(super) fn opt_string(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<String>> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::String(v)) => Ok(Some(v.clone())),
        Some(other) => {
            Err(Error::invalid_intent(s, field, format!("`{field}` must be a string, got {}", kind_of(other))))
        }
    }
}

pub(super) fn string_list(v: &Value, s: Option<&str>, field: &str) -> Result<Vec<String>> {
    v.as_array()
        .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
        .ok_or_else(|| Error::invalid_intent(s, field, format!("`{field}` must be an array of strings")))
}

pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(super) fn json_path(v: &Value, s: Option<&str>, field: &str) -> Result<String> {
    match v.as_str() {
        Some(p) if p.starts_with('$') => Ok(p.to_owned()),
        _ => Err(Error::invalid_intent(s, field, format!("`{field}` must be a JSONPath starting with `$`, got {v}"))),
    }
}

pub(super) fn path_spec(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<PathSpec> {
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

pub(super) fn positive_int(v: &Value, s: Option<&str>, field: &str) -> Result<u64> {
    match v.as_u64() {
        Some(n) if n > 0 => Ok(n),
        _ => Err(Error::invalid_intent(s, field, format!("`{field}` must be a positive integer, got {v}"))),
    }
}

pub(super) fn non_negative_int(v: &Value, s: Option<&str>, field: &str) -> Result<u64> {
    v.as_u64()
        .ok_or_else(|| Error::invalid_intent(s, field, format!("`{field}` must be a non-negative integer, got {v}")))
}

/// `X` (a number) or `XPath` (a path), not both.
pub(super) fn number_spec(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<NumberSpec>> {
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
pub(super) fn string_spec(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<StringSpec>> {
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
pub(super) fn template(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<Value>> {
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
