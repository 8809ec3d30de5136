//! JSONPath as ASL uses it.
//!
//! A *reference path* (`$`, `$.a.b`, `$['a'][0]`) selects at most one node and is
//! evaluated directly; it is also the only form allowed where ASL writes a value
//! (`ResultPath`). Every other path (wildcards, slices, filters, unions, `..`) goes to
//! `serde_json_path` (RFC 9535) and, as in Step Functions, yields an array of matches.
//! Paths starting with `$$` address the context object.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// Why a path selected nothing, in Step Functions' words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathError {
    /// The path is not valid JSONPath.
    Syntax(String),
    /// The last step selects nothing: `No results for path: $['x']`.
    NoResults(String),
    /// A step before the last selects nothing: `Missing property in path $['a']`.
    Missing(String),
    /// The cycle's work budget is spent (see `asl::work`).
    Budget(String),
    /// `$name` names no variable in force.
    Undefined(String),
}

impl PathError {
    /// The text Step Functions uses after `Invalid path '<path>' : `.
    pub(crate) fn detail(&self) -> String {
        match self {
            PathError::Syntax(m) => m.clone(),
            PathError::NoResults(p) => format!("No results for path: {p}"),
            PathError::Missing(p) => format!("Missing property in path {p}"),
            PathError::Budget(m) => m.clone(),
            PathError::Undefined(n) => format!("The variable '${n}' is not defined"),
        }
    }
}

/// Parses a reference path (`$`, `.name`, `['name']`, `["name"]`, `[n]`). `None` when
/// the path uses anything else (it may still be valid JSONPath).
pub(crate) fn reference(path: &str) -> Option<Vec<Step>> {
    let rest = path.strip_prefix('$')?;
    let b = rest.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                    j += 1;
                }
                let name = &rest[start..j];
                if name.is_empty() || name.contains(['*', ' ', '(', ')', '?', '@', '\'', '"', ']', ',', ':']) {
                    return None;
                }
                steps.push(Step::Key(name.to_owned()));
                i = j;
            }
            b'[' => {
                let q = *b.get(i + 1)?;
                if q == b'\'' || q == b'"' {
                    // As Jayway (Step Functions' JSONPath): the name runs to the closing
                    // quote-bracket; `\'` stands for a quote, anything else is literal.
                    let start = i + 2;
                    let close = if q == b'\'' { "']" } else { "\"]" };
                    let end = start + rest[start..].find(close)?;
                    let name = rest[start..end].replace("\\'", "'");
                    steps.push(Step::Key(name));
                    i = end + 2;
                } else {
                    let end = i + 1 + rest[i + 1..].find(']')?;
                    let n = &rest[i + 1..end];
                    if n.is_empty() || !n.bytes().all(|c| c.is_ascii_digit()) {
                        return None;
                    }
                    steps.push(Step::Index(n.parse().ok()?));
                    i = end + 1;
                }
            }
            _ => return None,
        }
    }
    Some(steps)
}

/// `$['a']['b'][0]`: how Step Functions prints a path in its messages.
fn normalized(steps: &[Step]) -> String {
    let mut s = String::from("$");
    for st in steps {
        match st {
            Step::Key(k) => {
                let _ = write!(s, "['{k}']");
            }
            Step::Index(n) => {
                let _ = write!(s, "[{n}]");
            }
        }
    }
    s
}

fn get_steps<'v>(value: &'v Value, steps: &[Step]) -> Result<&'v Value, PathError> {
    let mut cur = value;
    for (i, st) in steps.iter().enumerate() {
        let next = match (st, cur) {
            (Step::Key(k), Value::Object(m)) => m.get(k),
            (Step::Index(n), Value::Array(a)) => a.get(*n),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None if i + 1 == steps.len() => return Err(PathError::NoResults(normalized(steps))),
            None => return Err(PathError::Missing(normalized(&steps[..=i]))),
        }
    }
    Ok(cur)
}

/// Evaluates `path` against `value`: a reference path yields the node it selects, any
/// other path an array of every match.
pub(crate) fn query(path: &str, value: &Value) -> Result<Value, PathError> {
    if let Some(steps) = reference(path) {
        return get_steps(value, &steps).cloned();
    }
    let parsed = serde_json_path::JsonPath::parse(path).map_err(|e| PathError::Syntax(e.to_string()))?;
    Ok(Value::Array(parsed.query(value).all().into_iter().cloned().collect()))
}

/// Whether `path` is valid JSONPath.
pub(crate) fn is_valid(path: &str) -> bool {
    if let Some((_, rest)) = variable(path) {
        return is_valid(&rest);
    }
    reference(path).is_some() || serde_json_path::JsonPath::parse(path).is_ok()
}

/// Like [`query`], for a path that may start with `$$` (the context object).
pub(crate) fn query_either(path: &str, input: &Value, context: &Value) -> Result<Value, PathError> {
    match path.strip_prefix("$$") {
        Some(rest) => query(&format!("${rest}"), context),
        None => query(path, input),
    }
}

/// A variable path (`$name`, `$name.a[0]`): the variable's name and the rest as a path
/// from `$`. `None` for `$`, `$.x`, `$[..]` and `$$...`.
pub(crate) fn variable(path: &str) -> Option<(&str, String)> {
    let rest = path.strip_prefix('$')?;
    if !rest.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        return None;
    }
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    Some((&rest[..end], format!("${}", &rest[end..])))
}

/// Whether `name` can be a workflow variable's name: a letter or `_`, then letters,
/// digits or `_`, at most 80 characters, and not the reserved `states`.
pub(crate) fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
        && name.chars().count() <= 80
        && name != "states"
}

/// Whether the path (which may start with `$$`) is a reference path, selecting at most
/// one node.
pub(crate) fn is_definite(path: &str) -> bool {
    if let Some((_, rest)) = variable(path) {
        return reference(&rest).is_some();
    }
    reference(path.strip_prefix('$').filter(|r| r.starts_with('$')).unwrap_or(path)).is_some()
}

/// `ResultPath`: places `result` into `input` at the reference path `path`, creating
/// objects on the way. `$` replaces the input.
pub(crate) fn set(input: Value, path: &str, result: Value) -> Result<Value, PathError> {
    let steps = reference(path)
        .ok_or_else(|| PathError::Syntax(format!("'{path}' is not a reference path (ResultPath takes `$.a.b`)")))?;
    if steps.is_empty() {
        return Ok(result);
    }
    let mut root = input;
    let mut cur = &mut root;
    for (i, st) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        match st {
            Step::Key(k) => {
                if !cur.is_object() {
                    // As in Step Functions, a non-object on the way becomes an object.
                    *cur = Value::Object(Map::new());
                }
                let m = cur.as_object_mut().expect("an object");
                if last {
                    m.insert(k.clone(), result);
                    return Ok(root);
                }
                cur = m.entry(k.clone()).or_insert(Value::Object(Map::new()));
            }
            Step::Index(n) => {
                let a = match cur {
                    Value::Array(a) if *n < a.len() => a,
                    _ => return Err(PathError::Missing(normalized(&steps[..=i]))),
                };
                if last {
                    a[*n] = result;
                    return Ok(root);
                }
                cur = &mut a[*n];
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_paths() {
        assert_eq!(reference("$"), Some(vec![]));
        assert_eq!(
            reference("$.a['b c'][2]"),
            Some(vec![Step::Key("a".into()), Step::Key("b c".into()), Step::Index(2)])
        );
        assert_eq!(reference("$.a[*]"), None);
        assert_eq!(reference("$..a"), None);
        assert_eq!(reference("a"), None);
    }

    #[test]
    fn queries_follow_step_functions() {
        let v = json!({"a": {"b": [1, 2, {"c": 3}]}, "items": [{"x": 1}, {"x": 5}]});
        assert_eq!(query("$.a.b[2].c", &v), Ok(json!(3)));
        assert_eq!(query("$.items[*].x", &v), Ok(json!([1, 5])));
        assert_eq!(query("$.items[?(@.x > 2)]", &v), Ok(json!([{"x": 5}])));
        assert_eq!(query("$.nope", &v), Err(PathError::NoResults("$['nope']".into())));
        assert_eq!(query("$.no.such", &v), Err(PathError::Missing("$['no']".into())));
        assert!(matches!(query("$[?(", &v), Err(PathError::Syntax(_))));
    }

    #[test]
    fn set_creates_and_replaces() {
        assert_eq!(set(json!({"a": 1}), "$.r.s", json!(2)), Ok(json!({"a": 1, "r": {"s": 2}})));
        assert_eq!(set(json!({"a": 1}), "$", json!(2)), Ok(json!(2)));
        assert_eq!(set(json!("x"), "$.r", json!(2)), Ok(json!({"r": 2})));
        assert_eq!(set(json!({"a": [0, 1]}), "$.a[1]", json!(9)), Ok(json!({"a": [0, 9]})));
    }
}
