//! ASL's JSONata query language: `{% ... %}` expressions, evaluated by `jsonata-core`
//! (JSONata 2.x), with `$states` and the workflow variables bound and the functions Step
//! Functions adds (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`).
//!
//! Every value an expression may read is a function of the object and the record being
//! written, so every node that replays or verifies the record computes the same: `$now`
//! and `$millis` read the clock reading the record stores, `$random` and `$uuid` draw
//! from the evaluation's seed (the object's id, head and state, as `States.UUID` does).
//! `$eval` is refused, as Step Functions refuses it.
//!
//! Bounds: an expression may nest at most [`MAX_STACK_DEPTH`] evaluation frames, build
//! sequences of at most [`MAX_SEQUENCE`] items and run for at most [`MAX_EXPRESSION_MS`];
//! its result counts against the cycle's work budget like any other value the cycle
//! builds.

use std::cell::Cell;
use std::rc::Rc;

use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::value::JValue;
use serde_json::{Map, Number, Value};

use super::{Env, Failure, errors};

/// The most nested evaluation frames an expression may use.
pub const MAX_STACK_DEPTH: usize = 2_000;
/// The longest sequence an expression may build.
pub const MAX_SEQUENCE: usize = 1_000_000;
/// The longest an expression may run, by the evaluating node's clock: a backstop for
/// plans whose expressions loop over huge ranges (`$map([1..1000000], ...)` nested),
/// which no count above bounds. The failure is then the node's, not the plan's: another
/// node could finish in time, so the limit is far above any expression a plan needs.
pub const MAX_EXPRESSION_MS: u64 = 2_000;

/// The expression inside `{% ... %}`, if `s` is one.
pub(crate) fn expression(s: &str) -> Option<&str> {
    s.strip_prefix("{%")?.strip_suffix("%}").map(str::trim)
}

/// Checks an expression's syntax (when the intent is created).
pub(crate) fn check(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("the expression is empty".into());
    }
    jsonata_core::parser::parse(text).map(|_| ()).map_err(|e| e.to_string())
}

/// Checks every expression of a JSONata template: `Err((field, message))` names the
/// first that does not parse.
pub(crate) fn check_template(v: &Value, field: &str) -> Result<(), (String, String)> {
    match v {
        Value::String(s) => match expression(s) {
            Some(t) => check(t).map_err(|m| (field.to_owned(), m)),
            None => Ok(()),
        },
        Value::Array(a) => a.iter().enumerate().try_for_each(|(i, x)| check_template(x, &format!("{field}[{i}]"))),
        Value::Object(m) => m.iter().try_for_each(|(k, x)| check_template(x, &format!("{field}/{k}"))),
        _ => Ok(()),
    }
}

/// What `$states` holds for an evaluation, besides the context object (`Env`).
pub(crate) struct States<'a> {
    /// `$states.input`: the state's input.
    pub input: &'a Value,
    /// `$states.result`: a Task's, Map's or Parallel's result (in `Output` and `Assign`).
    pub result: Option<&'a Value>,
    /// `$states.errorOutput`: a Catch entry's error (in its `Output` and `Assign`).
    pub error_output: Option<&'a Value>,
}

fn query_error(cause: String) -> Failure {
    Failure { error: errors::QUERY_EVALUATION_ERROR.to_owned(), cause, located: true }
}

/// Evaluates a JSONata template: strings that are `{% ... %}` expressions are replaced
/// by their values, in objects and arrays at any depth; everything else is copied.
pub(crate) fn template(tpl: &Value, field: &str, st: &States<'_>, env: &Env<'_>) -> Result<Value, Failure> {
    env.work().spend(1)?;
    match tpl {
        Value::String(s) => match expression(s) {
            Some(t) => evaluate(t, field, st, env),
            None => Ok(tpl.clone()),
        },
        Value::Array(a) => Ok(Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| template(x, &format!("{field}[{i}]"), st, env))
                .collect::<Result<_, _>>()?,
        )),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                out.insert(k.clone(), template(x, &format!("{field}/{k}"), st, env)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// Evaluates one expression to a JSON value: nothing (undefined), a function or a
/// number JSON cannot hold is `States.QueryEvaluationError`, in Step Functions' words.
pub(crate) fn evaluate(text: &str, field: &str, st: &States<'_>, env: &Env<'_>) -> Result<Value, Failure> {
    let v = raw(text, field, st, env)?.ok_or_else(|| {
        query_error(format!(
            "The JSONata expression '{text}' specified for the field '{field}' returned nothing (undefined)."
        ))
    })?;
    let v = to_json(&v).ok_or_else(|| {
        query_error(format!(
            "The JSONata expression '{text}' specified for the field '{field}' returned an unsupported result type."
        ))
    })?;
    env.work().spend_value(&v)?;
    Ok(v)
}

/// The JSON type name Step Functions uses in its messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value of the wrong type: `... returned an unexpected result type. Expected
/// 'array', but was 'number' for value: 1`.
pub(crate) fn unexpected(text: &str, field: &str, expected: &str, v: &Value) -> Failure {
    query_error(format!(
        "The JSONata expression '{text}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{}' for value: {}",
        type_name(v),
        crate::json::canonical(v)
    ))
}

/// Whether `text` may read the variable `name` (`$name` not followed by a name
/// character): only those are bound.
fn mentions(text: &str, name: &str) -> bool {
    let needle = format!("${name}");
    text.match_indices(&needle)
        .any(|(i, _)| !text[i + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

/// Parsed expressions, per thread (the cycle's values are not `Send`), bounded: an
/// expression is parsed once, not at every evaluation.
const PARSED_CACHE: usize = 1024;

thread_local! {
    static PARSED: std::cell::RefCell<std::collections::HashMap<String, Rc<jsonata_core::ast::AstNode>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn parsed(text: &str) -> Result<Rc<jsonata_core::ast::AstNode>, String> {
    if let Some(ast) = PARSED.with(|c| c.borrow().get(text).cloned()) {
        return Ok(ast);
    }
    let ast = Rc::new(jsonata_core::parser::parse(text).map_err(|e| e.to_string())?);
    PARSED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= PARSED_CACHE {
            c.clear();
        }
        c.insert(text.to_owned(), ast.clone());
    });
    Ok(ast)
}

fn raw(text: &str, field: &str, st: &States<'_>, env: &Env<'_>) -> Result<Option<JValue>, Failure> {
    let threw = |m: &str| {
        query_error(format!(
            "The JSONata expression '{text}' specified for the field '{field}' threw an error during evaluation. {m}"
        ))
    };
    let ast = parsed(text).map_err(|e| threw(&e))?;
    let mut ctx = Context::new();
    if mentions(text, "states") {
        let mut states = Map::new();
        states.insert("input".into(), st.input.clone());
        states.insert("context".into(), env.context().clone());
        if let Some(r) = st.result {
            states.insert("result".into(), r.clone());
        }
        if let Some(e) = st.error_output {
            states.insert("errorOutput".into(), e.clone());
        }
        ctx.bind("states".into(), JValue::from(Value::Object(states)));
    }
    for (name, v) in env.variables().into_iter().flatten() {
        if mentions(text, name) {
            ctx.bind(name.clone(), JValue::from(v.clone()));
        }
    }
    let options = EvaluatorOptions {
        max_stack_depth: Some(MAX_STACK_DEPTH),
        max_sequence_length: Some(MAX_SEQUENCE),
        timeout_ms: Some(MAX_EXPRESSION_MS),
        ..EvaluatorOptions::default()
    };
    let mut ev = Evaluator::with_options(ctx, options);
    let draws = Rc::new(Cell::new(env.draws()));
    install(&mut ev, text, env.now_ms(), env.seed(), draws.clone()).map_err(|e| threw(e.message()))?;
    let input = JValue::from(st.input.clone());
    let out = jsonata_core::value::with_stack(|| ev.evaluate(&ast, &input));
    env.set_draws(draws.get());
    match out {
        Ok(v) if v.is_undefined() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(e) => Err(threw(&aws_message(&e))),
    }
}

/// The error as JSONata 2.0.6 words it (jsonata-core names the callee of T1006).
fn aws_message(e: &EvaluatorError) -> String {
    match e.code() {
        Some("T1006") => "T1006: Attempted to invoke a non-function".to_owned(),
        _ => e.message().to_owned(),
    }
}

fn error(m: impl Into<String>) -> EvaluatorError {
    EvaluatorError::EvaluationError(m.into())
}

/// The deterministic replacements of JSONata's impure functions, `$eval` refused, and
/// the functions Step Functions adds: those `text` may call (a function is reached by
/// its `$name`; an expression cannot build a name at run time).
fn install(
    ev: &mut Evaluator,
    text: &str,
    now_ms: i64,
    seed: [u8; 32],
    draws: Rc<Cell<u64>>,
) -> Result<(), EvaluatorError> {
    if !text.contains('$') {
        return Ok(());
    }
    let uses = |name: &str| mentions(text, name);
    if uses("eval") {
        ev.register_fn_override("eval", |_: &[JValue]| Err(error("T1006: Attempted to invoke a non-function")))?;
    }
    if uses("now") {
        install_now(ev, now_ms)?;
    }
    if uses("millis") {
        ev.register_fn_override("millis", move |_: &[JValue]| Ok(JValue::from_f64(now_ms as f64)))?;
    }
    if uses("random") {
        let d = draws.clone();
        ev.register_fn_override("random", move |args: &[JValue]| {
            let user_seed = match args.first() {
                None => None,
                Some(v) => Some(v.as_f64().ok_or_else(|| error("T0410: the seed of $random must be a number"))? as i64),
            };
            let n = d.get();
            d.set(n + 1);
            let r = super::draw(&seed, n, user_seed);
            Ok(JValue::from_f64((r >> 11) as f64 / (1u64 << 53) as f64))
        })?;
    }
    if uses("uuid") {
        ev.register_fn("uuid", move |_: &[JValue]| {
            let n = draws.get();
            draws.set(n + 2);
            Ok(JValue::from(super::intrinsics::uuid_of(super::draw(&seed, n, None), super::draw(&seed, n + 1, None))))
        })?;
    }
    if uses("partition") {
        install_partition(ev)?;
    }
    if uses("range") {
        install_range(ev)?;
    }
    if uses("hash") {
        install_hash(ev)?;
    }
    if uses("parse") {
        ev.register_fn("parse", |args: &[JValue]| {
            let text = args.first().and_then(JValue::as_str).ok_or_else(|| error("$parse takes a JSON string"))?;
            let v: Value = serde_json::from_str(text).map_err(|e| error(format!("$parse: not JSON: {e}")))?;
            Ok(JValue::from(v))
        })?;
    }
    Ok(())
}

fn install_now(ev: &mut Evaluator, now_ms: i64) -> Result<(), EvaluatorError> {
    ev.register_fn_override("now", move |args: &[JValue]| {
        if args.is_empty() {
            return Ok(JValue::from(super::format_timestamp(now_ms)));
        }
        // `$now(picture, timezone)` formats the same instant.
        let ast = jsonata_core::parser::parse("$fromMillis($m, $p, $t)").map_err(|e| error(e.to_string()))?;
        let mut c = Context::new();
        c.bind("m".into(), JValue::from_f64(now_ms as f64));
        c.bind("p".into(), args[0].clone());
        c.bind("t".into(), args.get(1).cloned().unwrap_or(JValue::Undefined));
        Evaluator::with_context(c).evaluate(&ast, &JValue::Null)
    })?;
    Ok(())
}

fn install_partition(ev: &mut Evaluator) -> Result<(), EvaluatorError> {
    ev.register_fn("partition", |args: &[JValue]| {
        let (Some(items), Some(size)) = (args.first().and_then(JValue::as_array), args.get(1).and_then(JValue::as_f64))
        else {
            return Err(error("$partition takes an array and a chunk size"));
        };
        if size < 1.0 || size.fract() != 0.0 {
            return Err(error("the chunk size of $partition must be a positive integer"));
        }
        Ok(JValue::array(items.chunks(size as usize).map(|c| JValue::array(c.to_vec())).collect()))
    })?;
    Ok(())
}

fn install_range(ev: &mut Evaluator) -> Result<(), EvaluatorError> {
    ev.register_fn("range", |args: &[JValue]| {
        let num = |i: usize| args.get(i).and_then(JValue::as_f64).filter(|n| n.fract() == 0.0);
        let (Some(start), Some(end)) = (num(0), num(1)) else {
            return Err(error("$range takes integers: a start, an end and a step"));
        };
        let step = match args.get(2) {
            None => 1.0,
            Some(_) => {
                num(2).filter(|s| *s != 0.0).ok_or_else(|| error("the step of $range must be a non-zero integer"))?
            }
        };
        let count = ((end - start) / step).floor() + 1.0;
        if count > MAX_SEQUENCE as f64 {
            return Err(error(format!("$range would make more than {MAX_SEQUENCE} items")));
        }
        let items: Vec<JValue> =
            (0..count.max(0.0) as usize).map(|i| JValue::from_f64(start + step * i as f64)).collect();
        // A sequence: a range of one item is that item.
        Ok(JValue::sequence(items))
    })?;
    Ok(())
}

fn install_hash(ev: &mut Evaluator) -> Result<(), EvaluatorError> {
    ev.register_fn("hash", |args: &[JValue]| {
        let data = match args.first() {
            Some(JValue::String(s)) => s.to_string(),
            Some(v) => to_json(v).map(|j| crate::json::canonical(&j)).ok_or_else(|| error("$hash takes a value"))?,
            None => return Err(error("$hash takes a value and an algorithm")),
        };
        let algorithm = args.get(1).and_then(JValue::as_str).unwrap_or("SHA-256");
        super::intrinsics::digest(&data, algorithm).map(JValue::from).ok_or_else(|| {
            error(format!("unknown algorithm `{algorithm}`; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"))
        })
    })?;
    Ok(())
}

/// A JSONata value as JSON: `None` for undefined, a function, a regular expression or
/// a number JSON cannot hold. Whole numbers become integers (as JSON text shows them).
pub(crate) fn to_json(v: &JValue) -> Option<Value> {
    Some(match v {
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n)?,
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(a) => {
            Value::Array(a.iter().filter(|x| !x.is_undefined()).map(to_json).collect::<Option<Vec<_>>>()?)
        }
        JValue::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m.iter().filter(|(_, x)| !x.is_undefined()) {
                out.insert(k.clone(), to_json(x)?);
            }
            Value::Object(out)
        }
        _ => return None,
    })
}

fn number(n: f64) -> Option<Value> {
    if !n.is_finite() {
        return None;
    }
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        return Some(Value::from(n as i64));
    }
    Number::from_f64(n).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(text: &str, input: Value) -> Result<Value, Failure> {
        let ctx = json!({"Execution": {"Id": "x"}});
        let env = Env::new(&ctx, [3; 32]).with_now(1_000);
        evaluate(text, "Output", &States { input: &input, result: None, error_output: None }, &env)
    }

    #[test]
    fn expressions_read_states_and_are_deterministic() {
        assert_eq!(run("$states.input.a + 1", json!({"a": 2})).unwrap(), json!(3));
        assert_eq!(run("$states.context.Execution.Id", json!({})).unwrap(), json!("x"));
        assert_eq!(run("$now()", json!({})).unwrap(), json!("1970-01-01T00:00:01.000Z"));
        assert_eq!(run("$millis()", json!({})).unwrap(), json!(1000));
        assert_eq!(run("$uuid()", json!({})).unwrap(), run("$uuid()", json!({})).unwrap());
        assert_ne!(
            run("[$random(), $random()]", json!({})).unwrap()[0],
            run("[$random(), $random()]", json!({})).unwrap()[1]
        );
        assert_eq!(run("$partition([1,2,3], 2)", json!({})).unwrap(), json!([[1, 2], [3]]));
        assert_eq!(run("$range(0, 4, 2)", json!({})).unwrap(), json!([0, 2, 4]));
        assert_eq!(run("$range(1, 1)", json!({})).unwrap(), json!(1));
        assert_eq!(run("$parse('{\"a\":[1]}')", json!({})).unwrap(), json!({"a": [1]}));
        assert_eq!(run("$hash('abc', 'MD5')", json!({})).unwrap(), json!("900150983cd24fb0d6963f7d28e17f72"));
    }

    #[test]
    fn an_expression_that_would_run_for_ever_is_stopped() {
        let started = std::time::Instant::now();
        let e = run("$map([1..1000000], function($x){ $count($map([1..1000000], function($y){ 0 })) })", json!({}))
            .unwrap_err();
        assert_eq!(e.error, errors::QUERY_EVALUATION_ERROR);
        assert!(started.elapsed().as_secs() < 30, "{:?}: {}", started.elapsed(), e.cause);
        assert!(e.cause.contains("D1012"), "{}", e.cause);
    }

    #[test]
    fn nothing_functions_and_errors_are_query_evaluation_errors() {
        let e = run("$nope", json!({})).unwrap_err();
        assert_eq!(e.error, errors::QUERY_EVALUATION_ERROR);
        assert!(e.cause.contains("returned nothing (undefined)"), "{}", e.cause);
        let e = run("function($x){$x}", json!({})).unwrap_err();
        assert!(e.cause.contains("unsupported result type"), "{}", e.cause);
        let e = run("$eval('1')", json!({})).unwrap_err();
        assert!(e.cause.contains("threw an error during evaluation. T1006"), "{}", e.cause);
        assert!(check("1 +").is_err());
        assert!(mentions("$x + $xy", "x") && !mentions("$xy", "x"));
    }
}
