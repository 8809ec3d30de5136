//! Amazon States Language semantics in JSONPath mode: paths, payload templates and
//! intrinsic functions, Choice rules, timestamps, error names and retry back-off.
//!
//! Everything here is a pure function of its arguments; the cycle (`crate::cycle`)
//! decides which of them a state needs.

pub(crate) mod intrinsics;
pub(crate) mod jsonata;
pub(crate) mod path;
pub(crate) mod work;

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};

use serde_json::{Map, Value};

use crate::Hash;
use crate::intent::{Comparison, Jitter, Operand, PathSpec, Retrier, Rule};
pub(crate) use work::Work;

/// The predefined error names.
pub mod errors {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const EXCEEDS_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedsToleratedFailureThreshold";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
}

/// The largest state input or output Step Functions accepts: 256 KiB of UTF-8.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Whether `v`'s JSON text is at most `limit` bytes. Serialises only when a cheap
/// upper bound (every string character escaped as `\uXXXX`) exceeds the limit.
pub(crate) fn fits(v: &Value, limit: usize) -> bool {
    fn bound(v: &Value) -> usize {
        match v {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 32,
            Value::String(s) => s.len() * 6 + 2,
            Value::Array(a) => 2 + a.iter().map(|x| bound(x) + 1).sum::<usize>(),
            Value::Object(m) => 2 + m.iter().map(|(k, x)| k.len() * 6 + 4 + bound(x)).sum::<usize>(),
        }
    }
    bound(v) <= limit || crate::json::canonical(v).len() <= limit
}

/// A named ASL error raised while evaluating a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub error: String,
    pub cause: String,
    /// Step Functions prefixes the cause of runtime errors with the state and the
    /// event at which it was entered.
    pub located: bool,
}

impl Failure {
    pub(crate) fn new(error: &str, cause: impl Into<String>) -> Failure {
        Failure { error: error.to_owned(), cause: cause.into(), located: false }
    }
    pub(crate) fn runtime(detail: impl Into<String>) -> Failure {
        Failure { error: errors::RUNTIME.to_owned(), cause: detail.into(), located: true }
    }
    pub(crate) fn intrinsic(detail: impl Into<String>) -> Failure {
        Failure { error: errors::INTRINSIC_FAILURE.to_owned(), cause: detail.into(), located: true }
    }
    /// `Invalid path '<path>' : No results for path: $['x']`.
    pub(crate) fn invalid_path(path: &str, e: &path::PathError) -> Failure {
        if let path::PathError::Budget(m) = e {
            return Failure::runtime(m.clone());
        }
        Failure::runtime(format!("Invalid path '{path}' : {}", e.detail()))
    }
    /// A `.$` field whose path selects nothing.
    pub(crate) fn path_not_found(path: &str, field: &str, input: &Value) -> Failure {
        Failure::runtime(format!(
            "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{input}'"
        ))
    }
    pub(crate) fn data_limit(name: &str) -> Failure {
        Failure::new(
            errors::DATA_LIMIT_EXCEEDED,
            format!(
                "The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit."
            ),
        )
    }
}

/// What an evaluation may read besides the state input: the context object (`$$`),
/// built only when a path asks for it, and the seed of its deterministic randomness.
pub(crate) struct Env<'a> {
    context: OnceCell<Value>,
    seed: OnceCell<[u8; 32]>,
    source: Source<'a>,
    draws: Cell<u64>,
    pub(crate) context_ref: Option<&'a Value>,
    /// The cycle's work budget ([`Env::metered`]), else `own` (unmetered).
    work: Option<&'a Work>,
    own: Work,
    /// The workflow variables in force (`$name` in a path).
    variables: Option<&'a Map<String, Value>>,
    /// The clock reading of the record being written (JSONata's `$now`, `$millis`).
    now_ms: i64,
}

/// What builds the context object and the seed of an environment on first use.
enum Source<'a> {
    None,
    /// A cycle at a state: no allocation (two environments are made a Task cycle).
    State(&'a dyn StateEnv, &'a crate::intent::State),
    Closures(Box<dyn Fn() -> Value + 'a>, Box<dyn Fn() -> [u8; 32] + 'a>),
}

/// What a cycle gives an environment of one of its states ([`Env::of_state`]).
pub(crate) trait StateEnv {
    /// The context object (`$$`) at `state`.
    fn context_object(&self, state: &crate::intent::State) -> Value;
    /// The seed of the randomness at `state`.
    fn seed(&self, state: &crate::intent::State) -> [u8; 32];
}

impl<'a> Env<'a> {
    /// An environment with a ready context object.
    pub(crate) fn new(context: &'a Value, seed: [u8; 32]) -> Env<'a> {
        Env {
            context: OnceCell::new(),
            seed: OnceCell::from(seed),
            source: Source::None,
            draws: Cell::new(0),
            context_ref: Some(context),
            work: None,
            own: Work::unmetered(),
            variables: None,
            now_ms: 0,
        }
    }
    /// An environment that builds the context object and the seed on first use.
    pub(crate) fn lazy(build: impl Fn() -> Value + 'a, make_seed: impl Fn() -> [u8; 32] + 'a) -> Env<'a> {
        Env::with_source(Source::Closures(Box::new(build), Box::new(make_seed)))
    }
    /// An environment of a cycle at `state`: `cycle` builds the context object and the
    /// seed on first use.
    pub(crate) fn of_state(cycle: &'a dyn StateEnv, state: &'a crate::intent::State) -> Env<'a> {
        Env::with_source(Source::State(cycle, state))
    }
    fn with_source(source: Source<'a>) -> Env<'a> {
        Env {
            context: OnceCell::new(),
            seed: OnceCell::new(),
            source,
            draws: Cell::new(0),
            context_ref: None,
            work: None,
            own: Work::unmetered(),
            variables: None,
            now_ms: 0,
        }
    }
    /// This environment, counting its work against the cycle's budget.
    pub(crate) fn metered(mut self, work: &'a Work) -> Env<'a> {
        self.work = Some(work);
        self
    }
    /// This environment, reading `variables` for `$name` paths.
    pub(crate) fn with_variables(mut self, variables: &'a Map<String, Value>) -> Env<'a> {
        self.variables = Some(variables);
        self
    }
    /// This environment, with the clock reading of the record being written.
    pub(crate) fn with_now(mut self, now_ms: i64) -> Env<'a> {
        self.now_ms = now_ms;
        self
    }
    pub(crate) fn now_ms(&self) -> i64 {
        self.now_ms
    }
    /// The variables in force, if the environment reads any.
    pub(crate) fn variables(&self) -> Option<&Map<String, Value>> {
        self.variables
    }
    /// The variable `name`, if one is in force.
    pub(crate) fn variable(&self, name: &str) -> Option<&Value> {
        self.variables.and_then(|v| v.get(name))
    }
    pub(crate) fn work(&self) -> &Work {
        self.work.unwrap_or(&self.own)
    }
    /// Evaluates `path` (which may start with `$$`) against `input`, counting the work:
    /// the value it yields (a copy), and for a path that is not a reference path the
    /// document it searches.
    pub(crate) fn query(&self, p: &str, input: &Value) -> Result<Value, path::PathError> {
        let work = self.work();
        let budget = || path::PathError::Budget(work.failure().cause);
        if work.exhausted() {
            return Err(budget());
        }
        if let Some((name, rest)) = path::variable(p) {
            let value = self.variable(name).ok_or_else(|| path::PathError::Undefined(name.to_owned()))?;
            if !path::is_definite(&rest) {
                work.spend_value(value).map_err(|_| budget())?;
            }
            let v = path::query(&rest, value)?;
            work.spend_value(&v).map_err(|_| budget())?;
            return Ok(v);
        }
        if !path::is_definite(p) {
            let doc = if p.starts_with("$$") { self.context() } else { input };
            work.spend_value(doc).map_err(|_| budget())?;
        }
        let v = path::query_either(p, input, self.context())?;
        work.spend_value(&v).map_err(|_| budget())?;
        Ok(v)
    }
    pub(crate) fn context(&self) -> &Value {
        if let Some(c) = self.context_ref {
            return c;
        }
        self.context.get_or_init(|| match &self.source {
            Source::None => Value::Null,
            Source::State(cycle, state) => cycle.context_object(state),
            Source::Closures(build, _) => build(),
        })
    }
    /// The next deterministic 64-bit draw (with an optional user seed, as
    /// `States.MathRandom`'s third argument).
    pub(crate) fn random(&self, user_seed: Option<i64>) -> u64 {
        let n = self.draws.get();
        self.draws.set(n + 1);
        draw(&self.seed(), n, user_seed)
    }
    /// The seed of the evaluation's randomness.
    pub(crate) fn seed(&self) -> [u8; 32] {
        *self.seed.get_or_init(|| match &self.source {
            Source::None => [0; 32],
            Source::State(cycle, state) => cycle.seed(state),
            Source::Closures(_, make_seed) => make_seed(),
        })
    }
    /// How many draws were made (JSONata's functions draw on their own and put the
    /// count back, so that the draws stay one sequence).
    pub(crate) fn draws(&self) -> u64 {
        self.draws.get()
    }
    pub(crate) fn set_draws(&self, n: u64) {
        self.draws.set(n);
    }
}

/// The `n`-th deterministic draw from `seed` (with an optional user seed).
pub(crate) fn draw(seed: &[u8; 32], n: u64, user_seed: Option<i64>) -> u64 {
    let mut buf = Vec::with_capacity(48);
    buf.extend_from_slice(seed);
    buf.extend_from_slice(&n.to_be_bytes());
    if let Some(s) = user_seed {
        buf.extend_from_slice(&s.to_be_bytes());
    }
    let h = Hash::tagged(b"peo/random/v1", &buf);
    u64::from_be_bytes(h.0[..8].try_into().expect("8 bytes"))
}

/// Applies `InputPath` / `OutputPath`: `$` by default (no copy), `null` gives `{}`.
pub(crate) fn select<'a>(value: Cow<'a, Value>, spec: &PathSpec, env: &Env<'_>) -> Result<Cow<'a, Value>, Failure> {
    match spec {
        PathSpec::Default => Ok(value),
        PathSpec::Null => Ok(Cow::Owned(Value::Object(Map::new()))),
        PathSpec::Path(p) => env.query(p, &value).map(Cow::Owned).map_err(|e| Failure::invalid_path(p, &e)),
    }
}

/// Applies `ResultPath`: where `result` goes in the state's raw `input`.
pub(crate) fn place<'a>(input: &'a Value, spec: &PathSpec, result: Cow<'a, Value>) -> Result<Cow<'a, Value>, Failure> {
    match spec {
        PathSpec::Default => Ok(result),
        PathSpec::Null => Ok(Cow::Borrowed(input)),
        PathSpec::Path(p) => {
            path::set(input.clone(), p, result.into_owned()).map(Cow::Owned).map_err(|e| Failure::invalid_path(p, &e))
        }
    }
}

/// Evaluates a payload template (`Parameters`, `ResultSelector`, `ItemSelector`):
/// keys ending in `.$` take the value of a path, a context path (`$$.`) or an intrinsic
/// call; everything else is copied.
pub(crate) fn template(tpl: &Value, input: &Value, env: &Env<'_>) -> Result<Value, Failure> {
    template_within(tpl, input, env, &mut 0)
}

/// [`template`], counting the JSON each `.$` field materialises: a plan with many
/// fields copying a large input (`{"a.$": "$", "b.$": "$", ...}`) is stopped at
/// [`intrinsics::MAX_INTRINSIC_BYTES`] with `States.DataLimitExceeded`, before it has
/// built its whole output.
fn template_within(tpl: &Value, input: &Value, env: &Env<'_>, used: &mut usize) -> Result<Value, Failure> {
    match tpl {
        Value::Object(m) => {
            env.work().spend(1)?;
            let mut out = Map::new();
            for (k, v) in m {
                match (k.strip_suffix(".$"), v) {
                    (Some(name), Value::String(expr)) => {
                        let value = if intrinsics::is_call(expr) {
                            intrinsics::eval(expr, input, env, k)?
                        } else {
                            match env.query(expr, input) {
                                Ok(v) => v,
                                Err(path::PathError::Syntax(m)) => {
                                    return Err(Failure::runtime(format!(
                                        "The JSONPath '{expr}' specified for the field '{k}' is invalid: {m}"
                                    )));
                                }
                                Err(e @ path::PathError::Budget(_)) => return Err(Failure::invalid_path(expr, &e)),
                                Err(_) => return Err(Failure::path_not_found(expr, k, input)),
                            }
                        };
                        intrinsics::charge(used, &value, k)?;
                        out.insert(name.to_owned(), value);
                    }
                    _ => {
                        out.insert(k.clone(), template_within(v, input, env, used)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => {
            env.work().spend(1)?;
            Ok(Value::Array(a.iter().map(|v| template_within(v, input, env, used)).collect::<Result<_, _>>()?))
        }
        other => {
            env.work().spend_value(other)?;
            Ok(other.clone())
        }
    }
}

/// Whether `error` is matched by a `Retry` / `Catch` entry's `ErrorEquals`.
pub(crate) fn error_matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|e| match e.as_str() {
        errors::ALL => error != errors::RUNTIME,
        errors::TASK_FAILED => {
            !matches!(
                error,
                errors::TIMEOUT | errors::RUNTIME | errors::DATA_LIMIT_EXCEEDED | errors::HEARTBEAT_TIMEOUT
            ) && !error.starts_with("States.")
                || error == errors::TASK_FAILED
        }
        other => other == error,
    })
}

/// Whether a retrier may retry `error` at all (`States.Runtime` is never retried).
pub(crate) fn retriable(error: &str) -> bool {
    error != errors::RUNTIME && error != errors::DATA_LIMIT_EXCEEDED
}

/// The back-off before retry number `retry` (0 = the first retry) of `r`, in ms, with
/// `FULL` jitter drawn from `jitter_draw`.
pub(crate) fn backoff_ms(r: &Retrier, retry: u32, jitter_draw: u64) -> i64 {
    let base = r.interval_seconds as f64 * r.backoff_rate.powi(retry as i32);
    let mut secs = base;
    if let Some(max) = r.max_delay_seconds {
        secs = secs.min(max as f64);
    }
    let ms = (secs * 1000.0).min(i64::MAX as f64 / 2.0);
    let ms = match r.jitter {
        Jitter::None => ms,
        // FULL: uniform in [0, delay]; Step Functions keeps at least the interval's
        // first second, so the wait never drops to zero.
        Jitter::Full => (jitter_draw as f64 / u64::MAX as f64) * ms,
    };
    ms.round() as i64
}

/// Parses an ISO-8601 extended date-time with an offset (what Step Functions accepts
/// for `Timestamp`, `TimestampPath` and the `Timestamp*` comparisons), in ms since the
/// Unix epoch.
pub(crate) fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' {
        return None;
    }
    let last = *b.last()?;
    if !(last == b'Z' || b[19..].iter().any(|c| *c == b'+' || *c == b'-')) {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis())
}

/// Formats ms since the Unix epoch as Step Functions shows times
/// (`2024-01-02T03:04:05.678Z`).
pub(crate) fn format_timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// Evaluates a Choice rule against the state's input.
pub(crate) fn rule_matches(rule: &Rule, input: &Value, env: &Env<'_>) -> Result<bool, Failure> {
    env.work().spend(1)?;
    match rule {
        Rule::And(rs) => {
            for r in rs {
                if !rule_matches(r, input, env)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Rule::Or(rs) => {
            for r in rs {
                if rule_matches(r, input, env)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Rule::Not(r) => Ok(!rule_matches(r, input, env)?),
        Rule::Condition(c) => {
            let st = jsonata::States { input, result: None, error_output: None };
            match jsonata::evaluate(c, "Condition", &st, env)? {
                Value::Bool(b) => Ok(b),
                other => Err(jsonata::unexpected(c, "Condition", "boolean", &other)),
            }
        }
        Rule::Test { variable, op, operand } => test(variable, *op, operand, input, env),
    }
}

fn test(variable: &str, op: Comparison, operand: &Operand, input: &Value, env: &Env<'_>) -> Result<bool, Failure> {
    let lookup = |p: &str| env.query(p, input);
    if op == Comparison::IsPresent {
        let present = match lookup(variable) {
            Ok(Value::Array(a)) if !path::is_definite(variable) => !a.is_empty(),
            Ok(_) => true,
            Err(e @ path::PathError::Budget(_)) => return Err(Failure::invalid_path(variable, &e)),
            Err(_) => false,
        };
        return Ok(Some(present) == operand_bool(operand));
    }
    let v = lookup(variable).map_err(|e| Failure::invalid_path(variable, &e))?;
    let rhs = match operand {
        Operand::Value(x) => x.clone(),
        Operand::Path(p) => lookup(p).map_err(|e| Failure::invalid_path(p, &e))?,
    };
    use Comparison as C;
    Ok(match op {
        C::IsNull => Some(v.is_null()) == rhs.as_bool(),
        C::IsNumeric => Some(v.is_number()) == rhs.as_bool(),
        C::IsString => Some(v.is_string()) == rhs.as_bool(),
        C::IsBoolean => Some(v.is_boolean()) == rhs.as_bool(),
        C::IsTimestamp => Some(v.as_str().and_then(parse_timestamp).is_some()) == rhs.as_bool(),
        C::IsPresent => unreachable!("handled above"),
        C::StringEquals
        | C::StringLessThan
        | C::StringGreaterThan
        | C::StringLessThanEquals
        | C::StringGreaterThanEquals => {
            let (Some(a), Some(b)) = (v.as_str(), rhs.as_str()) else { return Ok(false) };
            env.work().spend(a.len().min(b.len()))?;
            let o = utf16_cmp(a, b);
            ordering(op, o)
        }
        C::StringMatches => {
            let (Some(a), Some(b)) = (v.as_str(), rhs.as_str()) else { return Ok(false) };
            env.work().spend(a.len() + b.len())?;
            glob(b, a)
        }
        C::NumericEquals
        | C::NumericLessThan
        | C::NumericGreaterThan
        | C::NumericLessThanEquals
        | C::NumericGreaterThanEquals => {
            let (Some(a), Some(b)) = (v.as_f64().filter(|_| v.is_number()), rhs.as_f64()) else { return Ok(false) };
            match a.partial_cmp(&b) {
                Some(o) => ordering(op, o),
                None => false,
            }
        }
        C::BooleanEquals => match (v.as_bool(), rhs.as_bool()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        C::TimestampEquals
        | C::TimestampLessThan
        | C::TimestampGreaterThan
        | C::TimestampLessThanEquals
        | C::TimestampGreaterThanEquals => {
            let (Some(a), Some(b)) = (v.as_str().and_then(parse_timestamp), rhs.as_str().and_then(parse_timestamp))
            else {
                return Ok(false);
            };
            ordering(op, a.cmp(&b))
        }
    })
}

fn operand_bool(o: &Operand) -> Option<bool> {
    match o {
        Operand::Value(v) => v.as_bool(),
        Operand::Path(_) => None,
    }
}

fn ordering(op: Comparison, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    let name = op.name();
    if name.ends_with("LessThanEquals") {
        o != Greater
    } else if name.ends_with("GreaterThanEquals") {
        o != Less
    } else if name.ends_with("LessThan") {
        o == Less
    } else if name.ends_with("GreaterThan") {
        o == Greater
    } else {
        o == Equal
    }
}

/// Strings compare as Java's `String.compareTo` does (UTF-16 code units).
fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
///
/// Linear in the pattern and the text (the pattern is untrusted): the literal runs
/// between stars are matched in order, each at its leftmost place after the previous
/// one, which is optimal for `*`-only patterns; the first run must start the text and
/// the last must end it.
fn glob(pattern: &str, text: &str) -> bool {
    let mut runs = vec![String::new()];
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => runs.last_mut().expect("never empty").push(it.next().unwrap_or('\\')),
            '*' => runs.push(String::new()),
            c => runs.last_mut().expect("never empty").push(c),
        }
    }
    if runs.len() == 1 {
        return text == runs[0];
    }
    let (first, last) = (&runs[0], &runs[runs.len() - 1]);
    if text.len() < first.len() + last.len() || !text.starts_with(first.as_str()) || !text.ends_with(last.as_str()) {
        return false;
    }
    let (mut at, end) = (first.len(), text.len() - last.len());
    for run in &runs[1..runs.len() - 1] {
        match text[at..end].find(run.as_str()) {
            Some(i) => at += i + run.len(),
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        assert!(glob("log-*.txt", "log-1.txt"));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "ac"));
        assert!(glob("a\\*b", "a*b"));
        assert!(!glob("a\\*b", "axb"));
        assert!(glob("*a*b*", "xxaxxbxx"));
        assert!(!glob("*b*a", "ab"));
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("a*a", "aa"));
        // A hostile pattern over a long text (quadratic work with backtracking).
        assert!(!glob(&format!("{}b", "*a".repeat(5_000)), &"a".repeat(200_000)));
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("2016-03-14T01:59:00Z"), Some(1_457_920_740_000));
        assert_eq!(parse_timestamp("2016-03-14T01:59:00.5+01:00"), Some(1_457_917_140_500));
        for bad in [
            "2016-12-05 21:29:29Z",
            "2016-12-05T21:29:29",
            "2016-13-05T21:29:29Z",
            "05-12-2016T21:29:29Z",
            "2025-06-01T12:00:0\u{665}",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        assert_eq!(format_timestamp(1_457_920_740_000), "2016-03-14T01:59:00.000Z");
    }

    #[test]
    fn error_names() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(error_matches(&v(&["States.ALL"]), "Exception"));
        assert!(error_matches(&v(&["States.ALL"]), "States.Timeout"));
        assert!(!error_matches(&v(&["States.ALL"]), "States.Runtime"));
        assert!(error_matches(&v(&["States.TaskFailed"]), "Exception"));
        assert!(!error_matches(&v(&["States.TaskFailed"]), "States.Timeout"));
        assert!(error_matches(&v(&["A", "B"]), "B"));
    }

    #[test]
    fn backoff() {
        let r = Retrier {
            error_equals: vec![],
            interval_seconds: 2,
            max_attempts: 5,
            backoff_rate: 2.0,
            max_delay_seconds: Some(5),
            jitter: Jitter::None,
        };
        assert_eq!(backoff_ms(&r, 0, 0), 2000);
        assert_eq!(backoff_ms(&r, 1, 0), 4000);
        assert_eq!(backoff_ms(&r, 2, 0), 5000);
        let full = Retrier { jitter: Jitter::Full, ..r };
        assert_eq!(backoff_ms(&full, 1, u64::MAX / 2), 2000);
    }

    #[test]
    fn templates() {
        let ctx = json!({"Execution": {"Id": "e"}});
        let env = Env::new(&ctx, [0; 32]);
        let out = template(
            &json!({"a.$": "$.x", "b": [{"c.$": "$$.Execution.Id"}], "d.$": "States.Array($.x)"}),
            &json!({"x": 1}),
            &env,
        );
        assert_eq!(out, Ok(json!({"a": 1, "b": [{"c": "e"}], "d": [1]})));
        let e = template(&json!({"v.$": "$.nope"}), &json!({"x": 1}), &env).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert!(e.cause.contains("'$.nope' specified for the field 'v.$' could not be found"), "{}", e.cause);
    }
}
