//! The forms with their keys in another casing, for a face whose language names things
//! in camelCase (Node.js: `nextState`, `recordsChecked`). The snake_case forms stay the
//! canonical ones, the same bytes in every language; [`recase`] converts one form either
//! way, guided by the forms' JSON Schema ([`forms_schema`]): only the keys the schema
//! declares are converted. What it declares as any JSON (payloads such as `output`,
//! `input` and `payload`, the variables a record `assigned`, a checkpoint's `summary`)
//! is left as it is, keys and all.

use std::sync::OnceLock;

use serde_json::Value;

use super::{FORMS, forms_schema};
use crate::{Error, Result};

/// A casing of the forms' keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Casing {
    /// `next_state`: the canonical forms, as every language writes and reads them.
    Snake,
    /// `nextState`: the forms as the Node.js package shows them.
    Camel,
}

/// `value`, a form of `form` (a name of the schema's `$defs`, such as `Record` or
/// `VerifyReport`) or an array of them, with its declared keys in casing `to`. Keys
/// given in either casing are understood, so a form goes back to `Snake` whichever
/// casing its user wrote it in; keys the schema does not declare are kept as they are
/// (a parser that refuses unknown fields then names them).
pub fn recase(form: &str, value: Value, to: Casing) -> Result<Value> {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    let schema = SCHEMA.get_or_init(forms_schema);
    let defs = &schema["$defs"];
    match (defs.get(form), value) {
        (Some(s), Value::Array(mut items)) => {
            items.iter_mut().for_each(|v| walk(s, v, defs, to));
            Ok(Value::Array(items))
        }
        (Some(s), mut value) => {
            walk(s, &mut value, defs, to);
            Ok(value)
        }
        (None, _) => Err(Error::invalid_argument(format!(
            "`{form}` is not one of the JSON forms ({}); see docs/json-forms.md",
            FORMS.join(", ")
        ))
        .in_field("form")),
    }
}

/// `next_state` → `nextState`.
pub fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `nextState` → `next_state` (a snake_case key is returned unchanged).
pub fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn resolve<'a>(schema: &'a Value, defs: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(name) => defs.get(name).map_or(schema, |s| resolve(s, defs)),
        None => schema,
    }
}

/// `key` in snake_case, borrowed when it already is (most keys: one word).
fn snake(key: &str) -> std::borrow::Cow<'_, str> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) { snake_case(key).into() } else { key.into() }
}

/// Whether `key` is written differently in `to`.
fn changes(key: &str, to: Casing) -> bool {
    match to {
        Casing::Snake => key.bytes().any(|b| b.is_ascii_uppercase()),
        Casing::Camel => key.contains('_'),
    }
}

/// `key` in `to` (`key` itself when it already is).
fn in_casing(key: String, to: Casing) -> String {
    match to {
        _ if !changes(&key, to) => key,
        Casing::Snake => snake_case(&key),
        Casing::Camel => camel_case(&key),
    }
}

/// Converts `value` in place; a map is rebuilt only when one of its keys changes.
fn walk(schema: &Value, value: &mut Value, defs: &Value, to: Casing) {
    let schema = resolve(schema, defs);
    if let Some(variants) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
        if let Some(v) = variants.iter().find(|v| fits(resolve(v, defs), value)) {
            walk(v, value, defs, to);
        }
        return;
    }
    match value {
        Value::Object(map) => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
            if map.keys().any(|k| changes(k, to) && props.contains_key(&*snake(k))) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, mut v)| match props.get(&*snake(&k)) {
                        Some(s) => {
                            walk(s, &mut v, defs, to);
                            (in_casing(k, to), v)
                        }
                        None => (k, v),
                    })
                    .collect();
            } else {
                for (k, v) in map.iter_mut() {
                    if let Some(s) = props.get(&*snake(k)) {
                        walk(s, v, defs, to);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                items.iter_mut().for_each(|v| walk(s, v, defs, to));
            }
        }
        _ => {}
    }
}

/// Whether `value` is of the variant `schema` of a union: an object has exactly the
/// variant's keys (output forms carry every field), `null` is a null variant.
fn fits(schema: &Value, value: &Value) -> bool {
    let types = |t: &str| match schema.get("type") {
        Some(Value::String(s)) => s == t,
        Some(Value::Array(a)) => a.iter().any(|x| x == t),
        _ => false,
    };
    match value {
        Value::Null => types("null"),
        Value::Object(map) => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else { return false };
            let required = schema.get("required").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
            let keys: Vec<_> = map.keys().map(|k| snake(k)).collect();
            keys.iter().all(|k| props.contains_key(&**k))
                && required.iter().filter_map(Value::as_str).all(|r| keys.iter().any(|k| k == r))
        }
        _ => !types("null") && !types("object"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_declared_key_survives_the_round_trip() {
        let schema = forms_schema();
        let mut keys = 0;
        for def in schema["$defs"].as_object().unwrap().values() {
            let variants = def.get("anyOf").or_else(|| def.get("oneOf")).and_then(Value::as_array);
            for v in variants.map_or(vec![def], |v| v.iter().collect()) {
                for k in v.get("properties").and_then(Value::as_object).into_iter().flat_map(|p| p.keys()) {
                    assert_eq!(snake_case(&camel_case(k)), *k, "{k}");
                    keys += 1;
                }
            }
        }
        assert!(keys > 80, "{keys} keys");
    }

    #[test]
    fn declared_keys_change_and_payloads_do_not() {
        let record = json!({
            "seq": 1, "visit": 1, "action": "execute", "state": "A", "next_state": "B", "status": "running",
            "node": {"id": "n", "domain": "d", "key": null}, "time_ms": 5, "policy": null,
            "advice": {"action": "execute", "target": null, "confidence": 1.0, "rationale": "r",
                       "followed": false, "override_reason": "no"},
            "intent_hash": null, "context_hash": null, "data_hash": "ab", "variables_hash": null,
            "assigned": {"my_var": {"inner_key": 1}}, "signed": false,
            "body": {"capability": "c", "attempt": 1, "idempotency_key": "k",
                     "output": {"user_key": [{"deep_key": 1}]}, "error": null},
        });
        let camel = recase("Record", record.clone(), Casing::Camel).unwrap();
        assert_eq!(camel["nextState"], "B");
        assert_eq!(camel["timeMs"], 5);
        assert_eq!(camel["dataHash"], "ab");
        assert_eq!(camel["advice"]["overrideReason"], "no");
        assert_eq!(camel["body"]["idempotencyKey"], "k");
        assert_eq!(camel["body"]["output"], json!({"user_key": [{"deep_key": 1}]}));
        assert_eq!(camel["assigned"], json!({"my_var": {"inner_key": 1}}));
        assert!(camel.get("next_state").is_none());
        assert_eq!(recase("Record", camel, Casing::Snake).unwrap(), record);
    }

    #[test]
    fn a_union_converts_by_the_variant_its_keys_match() {
        let dormant = json!({"kind": "dormant", "reason": "wait", "at_ms": 9, "event": null, "timeout_at_ms": null});
        let camel = recase("Disposition", dormant.clone(), Casing::Camel).unwrap();
        assert_eq!(camel, json!({"kind": "dormant", "reason": "wait", "atMs": 9, "event": null, "timeoutAtMs": null}));
        assert_eq!(recase("Disposition", camel, Casing::Snake).unwrap(), dormant);
        let wait = json!({"reason": "event", "wake_at_ms": null, "event": "e", "timeout_at_ms": 3});
        let camel = recase("Body", wait, Casing::Camel).unwrap();
        assert_eq!(camel["wakeAtMs"], Value::Null);
        assert_eq!(camel["timeoutAtMs"], 3);
    }

    #[test]
    fn an_array_of_forms_converts_each() {
        let proofs =
            json!([{"index": 1, "record_hash": "a", "path": []}, {"index": 2, "record_hash": "b", "path": []}]);
        let camel = recase("PrunedProof", proofs, Casing::Camel).unwrap();
        assert_eq!(camel[0]["recordHash"], "a");
        assert_eq!(camel[1]["recordHash"], "b");
    }

    #[test]
    fn unknown_keys_and_forms_are_kept_or_refused() {
        let proof = json!({"index": 3, "recordHash": "ab", "path": [], "extra_key": 1});
        let snake = recase("PrunedProof", proof, Casing::Snake).unwrap();
        assert_eq!(snake, json!({"index": 3, "record_hash": "ab", "path": [], "extra_key": 1}));
        let e = recase("Recrod", json!({}), Casing::Camel).unwrap_err();
        assert_eq!((e.kind(), e.field()), (crate::ErrorKind::InvalidArgument, Some("form")));
        assert!(e.message().contains("Record, Disposition"), "{}", e.message());
    }
}
