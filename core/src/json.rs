//! JSON payloads: bounded parsing of untrusted text and RFC 8785 canonical form.
//!
//! Every JSON payload on the wire is canonical JSON (RFC 8785, the JSON
//! Canonicalization Scheme), so equal values have equal bytes and equal hashes in every
//! language.

use serde_json::Value;

use crate::{Error, Limits, Result};

/// The deepest nesting `serde_json` itself parses; `Limits::max_json_depth` is capped here.
const PARSER_DEPTH_CAP: usize = 127;

/// Parses untrusted JSON text, enforcing `limits.max_json_bytes` and
/// `limits.max_json_depth`. `what` names the payload in error messages.
pub fn parse(text: &str, limits: &Limits, what: &str) -> Result<Value> {
    if text.len() > limits.max_json_bytes {
        return Err(Error::limit(format!(
            "{what} is {} bytes of JSON; the limit is {} (Limits::max_json_bytes)",
            text.len(),
            limits.max_json_bytes
        )));
    }
    check_depth(text, limits.max_json_depth.min(PARSER_DEPTH_CAP), what)?;
    serde_json::from_str(text).map_err(|e| Error::decode(format!("{what} is not valid JSON: {e}")))
}

/// Checks nesting depth with one pass over the bytes, before any allocation.
fn check_depth(text: &str, max: usize, what: &str) -> Result<()> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(Error::limit(format!(
                        "{what} nests JSON deeper than {max} levels (Limits::max_json_depth)"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Checks the depth of an already-built value (for values handed in by a host).
pub fn check_value(value: &Value, limits: &Limits, what: &str) -> Result<()> {
    fn depth(v: &Value) -> usize {
        match v {
            Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let max = limits.max_json_depth.min(PARSER_DEPTH_CAP);
    if depth(value) > max {
        return Err(Error::limit(format!("{what} nests JSON deeper than {max} levels (Limits::max_json_depth)")));
    }
    Ok(())
}

/// The RFC 8785 canonical text of `value`.
pub fn canonical(value: &Value) -> String {
    // Fast path: without floating-point numbers and without object keys holding
    // characters at or above U+E000, serde_json's compact output already is the
    // canonical form (its maps iterate in code-point order, which is then UTF-16
    // order; integers and string escapes are written alike). Tested against the
    // canonicaliser below.
    if plain(value) {
        return serde_json::to_string(value).expect("a serde_json::Value always serialises");
    }
    // Serialising a `serde_json::Value` cannot fail: its keys are strings and its
    // numbers finite.
    serde_json_canonicalizer::to_string(value).expect("a serde_json::Value always canonicalises")
}

/// The RFC 8785 canonical text of a JSON object given as its map.
pub fn canonical_map(map: &serde_json::Map<String, Value>) -> String {
    // The fast path of `canonical`.
    if plain_map(map) {
        return serde_json::to_string(map).expect("a serde_json map always serialises");
    }
    serde_json_canonicalizer::to_string(map).expect("a serde_json map always canonicalises")
}

fn plain(v: &Value) -> bool {
    match v {
        Value::Number(n) => !n.is_f64(),
        Value::Array(a) => a.iter().all(plain),
        Value::Object(m) => plain_map(m),
        _ => true,
    }
}

fn plain_map(m: &serde_json::Map<String, Value>) -> bool {
    // serde_json keeps insertion order (its `preserve_order` feature is on in this
    // build): the keys must already be in order.
    let mut prev: Option<&String> = None;
    m.iter().all(|(k, x)| {
        let ordered = prev.is_none_or(|p| p < k);
        prev = Some(k);
        ordered && !k.chars().any(|c| c >= '\u{E000}') && plain(x)
    })
}

/// `value` with every object's keys in sorted order: what peo shows wherever key
/// order is visible (`States.JsonToString`, `States.Format`), so that it never depends
/// on how a value was built.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`, `-0.0` equals `0`),
/// as ASL and most JSON tools mean it; everything else structurally.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// Parses untrusted JSON text and returns it with its canonical form.
pub fn parse_canonical(text: &str, limits: &Limits, what: &str) -> Result<(Value, String)> {
    let value = parse(text, limits, what)?;
    let canon = canonical(&value);
    Ok((value, canon))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fast_path_equals_the_canonicaliser() {
        let samples = [
            json!({"b": 1, "a": [1, -2, {"z": null, "y": true}], "é": "x\u{1}\n\"\\/\u{7f}"}),
            json!({"\u{10000}": 1, "\u{e000}": 2, "a": 3}),
            json!({"n": 1.5, "m": 1e21, "k": 100.0, "i": -0.0, "big": 18446744073709551615u64}),
            json!(["\u{1f600}", "\u{2028}", "\t\r\u{8}\u{c}\u{1f}"]),
            json!({"": {"": []}}),
            // Keys inserted out of order.
            {
                let mut m = serde_json::Map::new();
                m.insert("b".into(), json!(1));
                m.insert("a".into(), json!({"d": 1, "c": 2}));
                Value::Object(m)
            },
        ];
        for v in samples {
            assert_eq!(canonical(&v), serde_json_canonicalizer::to_string(&v).unwrap(), "{v}");
            if let Value::Object(m) = &v {
                assert_eq!(canonical_map(m), serde_json_canonicalizer::to_string(m).unwrap(), "{v}");
            }
        }
    }

    #[test]
    fn canonical_sorts_keys_and_formats_numbers_as_ecmascript() {
        let v = json!({"b": 1.0, "a": [1e21, 0.1, -0.0, "é\u{1}"], "\u{20ac}": true, "A": null});
        assert_eq!(canonical(&v), r#"{"A":null,"a":[1e+21,0.1,0,"é\u0001"],"b":1,"€":true}"#);
    }

    #[test]
    fn depth_is_bounded_before_parsing() {
        let limits = Limits { max_json_depth: 3, ..Limits::default() };
        assert!(parse("[[[1]]]", &limits, "x").is_ok());
        let err = parse("[[[[1]]]]", &limits, "input").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Limit);
        assert!(err.message().contains("input nests JSON deeper than 3"));
        // Brackets inside strings do not count.
        assert!(parse(r#"["[[[[\"]]"]"#, &limits, "x").is_ok());
        // Far beyond the parser's own recursion limit: still a typed error, no overflow.
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep, &Limits::default(), "x").unwrap_err().kind(), crate::ErrorKind::Limit);
    }

    #[test]
    fn size_is_bounded() {
        let limits = Limits { max_json_bytes: 4, ..Limits::default() };
        assert_eq!(parse("12345", &limits, "x").unwrap_err().kind(), crate::ErrorKind::Limit);
        assert_eq!(parse("{", &Limits::default(), "x").unwrap_err().kind(), crate::ErrorKind::Decode);
    }
}
