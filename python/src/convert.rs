//! Python values and JSON values, converted directly (no JSON text in between) for the
//! handler calls of synchronous handlers, the hot path of a visit.
//!
//! Python to JSON follows `json.dumps(value, allow_nan=False)`: `dict` (keys `str`, or
//! `int`, `float`, `bool`, `None` written as text), `list`, `tuple`, `str`, `int`,
//! `float` (finite), `bool`, `None`, subclasses included; anything else is not JSON.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// How deep a handler's output may nest (Python's `json.dumps` stops at its recursion
/// limit; a cycle would otherwise never end).
const MAX_DEPTH: usize = 512;

/// A JSON value as the Python value `json.loads` would give.
pub(crate) fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(pythonize::pythonize(py, value)?)
}

/// A Python value as JSON, or why it is not JSON (the handler's output is then
/// `peo.HandlerInvalidOutput`).
pub(crate) fn from_python(value: &Bound<'_, PyAny>) -> Result<Value, String> {
    convert(value, 0)
}

fn convert(v: &Bound<'_, PyAny>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("it nests deeper than {MAX_DEPTH} levels (or refers to itself)"));
    }
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::String(s.to_cow().map_err(|e| e.to_string())?.into_owned()));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(integer(v));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return float(f.value());
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, item) in d.iter() {
            map.insert(key(&k)?, convert(&item, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = v.cast::<PyList>() {
        return l.iter().map(|item| convert(&item, depth + 1)).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        return t.iter().map(|item| convert(&item, depth + 1)).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    Err(format!("Object of type {} is not JSON serializable", type_name(v)))
}

/// An `int` as JSON: exact within 64 bits; larger ones as `json.loads` reads their text
/// into the engine, a float.
fn integer(v: &Bound<'_, PyAny>) -> Value {
    if let Ok(i) = v.extract::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = v.extract::<u64>() {
        return Value::from(u);
    }
    v.extract::<f64>().ok().and_then(Number::from_f64).map_or(Value::Null, Value::Number)
}

fn float(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("Out of range float values are not JSON compliant: {f}"))
}

/// A dict key as `json.dumps` writes it.
fn key(k: &Bound<'_, PyAny>) -> Result<String, String> {
    if let Ok(s) = k.cast::<PyString>() {
        return s.to_cow().map(std::borrow::Cow::into_owned).map_err(|e| e.to_string());
    }
    if k.is_none() {
        return Ok("null".into());
    }
    if let Ok(b) = k.cast::<PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.into());
    }
    if k.is_instance_of::<PyInt>() || k.is_instance_of::<PyFloat>() {
        return match convert(k, 0)? {
            Value::Number(n) => Ok(n.to_string()),
            _ => Err("a key that is not a number".into()),
        };
    }
    Err(format!("keys must be str, int, float, bool or None, not {}", type_name(k)))
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}
