//! ASL intrinsic functions (`States.Format(...)`, `States.Array(...)`, ...).
//!
//! Randomness (`States.MathRandom`, `States.UUID`) comes from the evaluation's seed,
//! which the cycle derives from the object (its head hash and the state), so every node
//! and every language computes the same values.

use base64::Engine as _;
use serde_json::{Number, Value};
use sha2::Digest as _;

use super::path::{self, PathError};
use super::{Env, Failure};

/// A parsed argument.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Literal(Value),
    Path(String),
    Call(Call),
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    name: String,
    args: Vec<Arg>,
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub(crate) fn is_call(text: &str) -> bool {
    text.starts_with("States.")
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
    /// How many calls enclose the one being parsed.
    depth: usize,
}

/// The deepest nesting of intrinsic calls an expression may have. The parser recurses
/// once per level, and expressions come from untrusted plans: a bound keeps a hostile
/// plan from exhausting the stack (AWS documents no limit; real plans nest two or three).
pub(crate) const MAX_CALL_DEPTH: usize = 32;

/// The most bytes of JSON one intrinsic expression may materialise (its arguments read
/// from paths and every intermediate result, summed): a few references to a large value
/// (`States.Format` of one string 300 times) cannot amplify a bounded input into an
/// unbounded output. Exceeding it raises `States.DataLimitExceeded`.
pub(crate) const MAX_INTRINSIC_BYTES: usize = 16 * super::MAX_PAYLOAD_BYTES;

impl<'a> Parser<'a> {
    fn err(&self, what: &str) -> String {
        // Quote at most 80 characters of the expression: it may be huge.
        let shown: String = self.s.chars().take(80).collect();
        let more = if shown.len() < self.s.len() { "..." } else { "" };
        format!("{what} at character {} of `{shown}{more}`", self.i)
    }
    fn ws(&mut self) {
        while self.s[self.i..].starts_with(char::is_whitespace) {
            self.i += self.s[self.i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    fn call(&mut self) -> Result<Call, String> {
        self.depth += 1;
        if self.depth > MAX_CALL_DEPTH {
            return Err(self.err(&format!("intrinsic calls nested deeper than {MAX_CALL_DEPTH} levels")));
        }
        let call = self.call_inner();
        self.depth -= 1;
        call
    }
    fn call_inner(&mut self) -> Result<Call, String> {
        self.ws();
        let start = self.i;
        while self.s[self.i..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '.') {
            self.i += 1;
        }
        let name = self.s[start..self.i].to_owned();
        if !name.starts_with("States.") {
            return Err(self.err("expected an intrinsic function name (`States.<Name>`)"));
        }
        self.ws();
        if !self.s[self.i..].starts_with('(') {
            return Err(self.err("expected `(`"));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.s[self.i..].starts_with(')') {
            self.i += 1;
            return Ok(Call { name, args });
        }
        loop {
            args.push(self.arg()?);
            self.ws();
            match self.s[self.i..].chars().next() {
                Some(',') => self.i += 1,
                Some(')') => {
                    self.i += 1;
                    return Ok(Call { name, args });
                }
                _ => return Err(self.err("expected `,` or `)`")),
            }
        }
    }
    fn arg(&mut self) -> Result<Arg, String> {
        self.ws();
        let rest = &self.s[self.i..];
        if rest.starts_with('\'') {
            self.i += 1;
            let mut out = String::new();
            loop {
                let Some(c) = self.s[self.i..].chars().next() else {
                    return Err(self.err("unterminated string literal"));
                };
                self.i += c.len_utf8();
                match c {
                    '\\' => {
                        let Some(n) = self.s[self.i..].chars().next() else {
                            return Err(self.err("unterminated escape"));
                        };
                        self.i += n.len_utf8();
                        match n {
                            'n' => out.push('\n'),
                            't' => out.push('\t'),
                            'r' => out.push('\r'),
                            other => {
                                // `\'`, `\{`, `\}`, `\\`: kept escaped for States.Format
                                // placeholders, unescaped otherwise (see `unescape`).
                                if other == '{' || other == '}' {
                                    out.push('\\');
                                }
                                out.push(other);
                            }
                        }
                    }
                    '\'' => return Ok(Arg::Literal(Value::String(out))),
                    c => out.push(c),
                }
            }
        }
        if rest.starts_with('$') {
            let start = self.i;
            let mut depth = 0i32;
            let mut quote: Option<char> = None;
            while let Some(c) = self.s[self.i..].chars().next() {
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, '\'' | '"') => quote = Some(c),
                    (None, '[' | '(') => depth += 1,
                    (None, ']') => depth -= 1,
                    (None, ')') if depth == 0 => break,
                    (None, ')') => depth -= 1,
                    (None, ',') if depth == 0 => break,
                    _ => {}
                }
                self.i += c.len_utf8();
            }
            return Ok(Arg::Path(self.s[start..self.i].trim_end().to_owned()));
        }
        if rest.starts_with("States.") {
            return Ok(Arg::Call(self.call()?));
        }
        let end = rest.find([',', ')']).unwrap_or(rest.len());
        let token = rest[..end].trim();
        self.i += end;
        let v: Value = serde_json::from_str(token)
            .map_err(|_| self.err(&format!("`{token}` is not a string, number, boolean, null, path or call")))?;
        if v.is_object() || v.is_array() {
            return Err(self.err("literal arrays and objects are not arguments"));
        }
        Ok(Arg::Literal(v))
    }
}

fn parse(text: &str) -> Result<Call, String> {
    let mut p = Parser { s: text, i: 0, depth: 0 };
    let c = p.call()?;
    p.ws();
    if p.i != text.len() {
        return Err(p.err("unexpected text after the call"));
    }
    Ok(c)
}

/// Checks an intrinsic expression's syntax, function names and paths (at intent
/// validation).
pub(crate) fn validate(text: &str) -> Result<(), String> {
    fn names(c: &Call) -> Result<(), String> {
        if !FUNCTIONS.contains(&c.name.as_str()) {
            return Err(format!("unknown intrinsic function `{}`; known: {}", c.name, FUNCTIONS.join(", ")));
        }
        for a in &c.args {
            match a {
                Arg::Call(inner) => names(inner)?,
                Arg::Path(p) => {
                    let q = p.strip_prefix("$$").map_or_else(|| p.clone(), |r| format!("${r}"));
                    if !path::is_valid(&q) {
                        return Err(format!("`{p}` is not a valid JSONPath"));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
    names(&parse(text)?)
}

const FUNCTIONS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

/// Evaluates an intrinsic expression. `field` names the template key (`"x.$"`) for
/// error messages.
pub(crate) fn eval(text: &str, input: &Value, env: &Env<'_>, field: &str) -> Result<Value, Failure> {
    let call = parse(text).map_err(Failure::intrinsic)?;
    eval_call(&call, input, env, field, &mut 0)
}

/// Adds `v`'s size to what the expression has materialised so far.
pub(crate) fn charge(used: &mut usize, v: &Value, name: &str) -> Result<(), Failure> {
    *used = used.saturating_add(super::work::size(v, MAX_INTRINSIC_BYTES));
    if *used > MAX_INTRINSIC_BYTES {
        return Err(over_budget(name));
    }
    Ok(())
}

fn over_budget(name: &str) -> Failure {
    Failure::new(
        super::errors::DATA_LIMIT_EXCEEDED,
        format!("{name}: the evaluation materialises more than {MAX_INTRINSIC_BYTES} bytes of JSON"),
    )
}

fn failure(name: &str, message: impl std::fmt::Display) -> Failure {
    Failure::intrinsic(format!("{name}: {message}"))
}

fn eval_call(c: &Call, input: &Value, env: &Env<'_>, field: &str, used: &mut usize) -> Result<Value, Failure> {
    let mut args = Vec::with_capacity(c.args.len());
    for a in &c.args {
        args.push(match a {
            Arg::Literal(v) => v.clone(),
            Arg::Call(inner) => eval_call(inner, input, env, field, used)?,
            Arg::Path(p) => match env.query(p, input) {
                Ok(v) => {
                    charge(used, &v, &c.name)?;
                    v
                }
                Err(PathError::Syntax(m)) => return Err(failure(&c.name, format!("invalid path `{p}`: {m}"))),
                Err(e @ PathError::Budget(_)) => return Err(Failure::invalid_path(p, &e)),
                Err(_) => return Err(Failure::path_not_found(p, field, input)),
            },
        });
    }
    let out = apply(c, args, env, used)?;
    charge(used, &out, &c.name)?;
    env.work().spend_value(&out)?;
    Ok(out)
}

fn apply(c: &Call, args: Vec<Value>, env: &Env<'_>, used: &mut usize) -> Result<Value, Failure> {
    let name = c.name.as_str();
    let n = args.len();
    let arity = |lo: usize, hi: usize| -> Result<(), Failure> {
        if n < lo || n > hi {
            let want = if lo == hi { format!("{lo}") } else { format!("{lo} to {hi}") };
            return Err(failure(name, format!("takes {want} arguments, got {n}")));
        }
        Ok(())
    };
    let string = |i: usize| -> Result<&str, Failure> {
        args[i].as_str().ok_or_else(|| failure(name, format!("argument {} must be a string, got {}", i + 1, args[i])))
    };
    let array = |i: usize| -> Result<&Vec<Value>, Failure> {
        args[i].as_array().ok_or_else(|| failure(name, format!("argument {} must be an array, got {}", i + 1, args[i])))
    };
    let int = |i: usize| -> Result<i64, Failure> {
        match &args[i] {
            Value::Number(x) => match x.as_i64() {
                Some(v) => Ok(v),
                // As Java's Math.round: half-way values go up.
                None => Ok(x.as_f64().map_or(0, |f| (f + 0.5).floor() as i64)),
            },
            other => Err(failure(name, format!("argument {} must be a number, got {other}", i + 1))),
        }
    };
    Ok(match name {
        "States.Format" => {
            if n == 0 {
                return Err(failure(name, "needs a format string"));
            }
            let fmt = string(0)?;
            let mut out = String::new();
            let mut next = 1;
            let mut chars = fmt.chars().peekable();
            while let Some(ch) = chars.next() {
                match ch {
                    '\\' => {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    }
                    '{' if chars.peek() == Some(&'}') => {
                        chars.next();
                        let Some(v) = args.get(next) else {
                            return Err(failure(name, "more {} placeholders than arguments"));
                        };
                        next += 1;
                        out.push_str(&display(v));
                        if used.saturating_add(out.len()) > MAX_INTRINSIC_BYTES {
                            return Err(over_budget(name));
                        }
                    }
                    c => out.push(c),
                }
            }
            if next != n {
                return Err(failure(name, format!("{} arguments for {} placeholders", n - 1, next - 1)));
            }
            Value::String(out)
        }
        "States.StringToJson" => {
            arity(1, 1)?;
            let s = string(0)?;
            if s.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(s).map_err(|e| failure(name, format!("not JSON text: {e}")))?
            }
        }
        "States.JsonToString" => {
            arity(1, 1)?;
            Value::String(crate::json::sorted(&args[0]).to_string())
        }
        "States.Array" => Value::Array(args),
        "States.ArrayPartition" => {
            arity(2, 2)?;
            let size = int(1)?;
            if size <= 0 {
                return Err(failure(name, format!("the chunk size must be positive, got {size}")));
            }
            Value::Array(array(0)?.chunks(size as usize).map(|c| Value::Array(c.to_vec())).collect())
        }
        "States.ArrayContains" => {
            arity(2, 2)?;
            Value::Bool(array(0)?.iter().any(|v| crate::json::equal(v, &args[1])))
        }
        "States.ArrayRange" => {
            arity(3, 3)?;
            let (start, end, step) = (int(0)?, int(1)?, int(2)?);
            if step == 0 {
                return Err(failure(name, "the step must not be 0"));
            }
            let mut out = Vec::new();
            let mut v = start;
            while (step > 0 && v <= end) || (step < 0 && v >= end) {
                out.push(Value::from(v));
                if out.len() > 1000 {
                    return Err(failure(name, "the range has more than 1000 items"));
                }
                v = match v.checked_add(step) {
                    Some(n) => n,
                    None => break,
                };
            }
            Value::Array(out)
        }
        "States.ArrayGetItem" => {
            arity(2, 2)?;
            let a = array(0)?;
            let i = int(1)?;
            usize::try_from(i)
                .ok()
                .and_then(|i| a.get(i))
                .cloned()
                .ok_or_else(|| failure(name, format!("index {i} is out of bounds for an array of {}", a.len())))?
        }
        "States.ArrayLength" => {
            arity(1, 1)?;
            Value::from(array(0)?.len())
        }
        "States.ArrayUnique" => {
            arity(1, 1)?;
            // Equal values (in JSON's sense: 1 and 1.0 are equal) have one canonical text:
            // a set of those texts keeps the first of each in linear time.
            let mut seen = std::collections::HashSet::new();
            let out = array(0)?.iter().filter(|v| seen.insert(crate::json::canonical(v))).cloned().collect();
            Value::Array(out)
        }
        "States.Base64Encode" => {
            arity(1, 1)?;
            Value::String(base64::engine::general_purpose::STANDARD.encode(string(0)?))
        }
        "States.Base64Decode" => {
            arity(1, 1)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(string(0)?)
                .map_err(|e| failure(name, format!("not base64: {e}")))?;
            Value::String(String::from_utf8(bytes).map_err(|_| failure(name, "the decoded bytes are not UTF-8"))?)
        }
        "States.Hash" => {
            arity(2, 2)?;
            let data = match &args[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let algo = string(1)?;
            Value::String(digest(&data, algo).ok_or_else(|| {
                failure(name, format!("unknown algorithm `{algo}`; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"))
            })?)
        }
        "States.JsonMerge" => {
            arity(3, 3)?;
            if args[2] != Value::Bool(false) {
                return Err(failure(name, "only shallow merges are supported: the third argument must be false"));
            }
            let (Some(a), Some(b)) = (args[0].as_object(), args[1].as_object()) else {
                return Err(failure(name, "both arguments must be objects"));
            };
            let mut m = a.clone();
            for (k, v) in b {
                m.insert(k.clone(), v.clone());
            }
            Value::Object(m)
        }
        "States.MathRandom" => {
            arity(2, 3)?;
            let (start, end) = (int(0)?, int(1)?);
            if end <= start {
                return Err(failure(name, format!("the end ({end}) must be greater than the start ({start})")));
            }
            let seed = if n == 3 { Some(int(2)?) } else { None };
            let r = env.random(seed);
            let span =
                end.checked_sub(start).ok_or_else(|| failure(name, "the range does not fit a 64-bit integer"))? as u64;
            Value::from(start + (r % span) as i64)
        }
        "States.MathAdd" => {
            arity(2, 2)?;
            Value::from(
                int(0)?.checked_add(int(1)?).ok_or_else(|| failure(name, "the sum does not fit a 64-bit integer"))?,
            )
        }
        "States.StringSplit" => {
            arity(2, 2)?;
            let (s, d) = (string(0)?, string(1)?);
            let parts: Vec<Value> = if d.is_empty() {
                vec![Value::String(s.to_owned())]
            } else {
                s.split(|c| d.contains(c)).filter(|p| !p.is_empty()).map(|p| Value::String(p.to_owned())).collect()
            };
            Value::Array(parts)
        }
        "States.UUID" => {
            arity(0, 0)?;
            Value::String(uuid_of(env.random(None), env.random(None)))
        }
        other => return Err(failure(other, "unknown intrinsic function")),
    })
}

/// The lower-case hex digest of `data` by `algorithm` (`MD5`, `SHA-1`, `SHA-256`,
/// `SHA-384`, `SHA-512`), as `States.Hash` and JSONata's `$hash` give it.
pub(crate) fn digest(data: &str, algorithm: &str) -> Option<String> {
    let d: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(data.as_bytes()).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data.as_bytes()).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data.as_bytes()).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data.as_bytes()).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data.as_bytes()).to_vec(),
        _ => return None,
    };
    Some(hex::encode(d))
}

/// A version-4 UUID from two random draws.
pub(crate) fn uuid_of(a: u64, b: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string()
}

/// How `States.Format` shows a value: strings as they are, objects and arrays as
/// Step Functions does (`{a=1, b=x}`, `[1, 2]`), other values as JSON.
fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys.into_iter().map(|k| format!("{k}={}", display(&m[k]))).collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(display).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Number(n) => number_text(n),
        other => other.to_string(),
    }
}

fn number_text(n: &Number) -> String {
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, input: Value) -> Result<Value, Failure> {
        let ctx = json!({"Execution": {"Name": "exec-1"}});
        let env = Env::new(&ctx, [7; 32]);
        eval(expr, &input, &env, "r.$")
    }

    #[test]
    fn functions() {
        assert_eq!(run("States.Format('a {} b {}', $.x, $.y)", json!({"x": "s", "y": 2})), Ok(json!("a s b 2")));
        assert_eq!(run("States.Format('\\{\\}{}', 'x')", json!({})), Ok(json!("{}x")));
        assert_eq!(
            run("States.Array(1, 'a', true, null, $.x)", json!({"x": [1]})),
            Ok(json!([1, "a", true, null, [1]]))
        );
        assert_eq!(run("States.ArrayPartition($, 2)", json!([1, 2, 3])), Ok(json!([[1, 2], [3]])));
        assert_eq!(run("States.ArrayRange(0, 9, 3)", json!({})), Ok(json!([0, 3, 6, 9])));
        assert_eq!(
            run("States.ArrayGetItem(States.StringSplit($$.Execution.Name, '-'), 1)", json!({})),
            Ok(json!("1"))
        );
        assert_eq!(run("States.ArrayUnique($)", json!([1, 1.0, "a", "a"])), Ok(json!([1, "a"])));
        assert_eq!(run("States.Base64Decode(States.Base64Encode('hé'))", json!({})), Ok(json!("hé")));
        assert_eq!(
            run("States.Hash('input data', 'SHA-1')", json!({})),
            Ok(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
        );
        assert_eq!(run("States.MathAdd(1.49, 1.5)", json!({})), Ok(json!(3)));
        assert_eq!(run("States.JsonToString($)", json!({"b": 1})), Ok(json!("{\"b\":1}")));
        assert_eq!(run("States.StringToJson('{\"a\": [1]}')", json!({})), Ok(json!({"a": [1]})));
        assert_eq!(
            run("States.JsonMerge($.a, $.b, false)", json!({"a": {"x": 1}, "b": {"y": 2}})),
            Ok(json!({"x": 1, "y": 2}))
        );
        assert_eq!(run("States.ArrayContains($, 2)", json!([1, 2])), Ok(json!(true)));
        assert_eq!(run("States.ArrayLength($)", json!([1, 2])), Ok(json!(2)));
        assert_eq!(run("States.Format('{}', $)", json!({"a": 1, "b": "x"})), Ok(json!("{a=1, b=x}")));
    }

    #[test]
    fn randomness_is_derived_from_the_seed() {
        let ctx = json!({});
        let a = eval("States.UUID()", &json!({}), &Env::new(&ctx, [1; 32]), "u.$").unwrap();
        let b = eval("States.UUID()", &json!({}), &Env::new(&ctx, [1; 32]), "u.$").unwrap();
        let c = eval("States.UUID()", &json!({}), &Env::new(&ctx, [2; 32]), "u.$").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_str().unwrap().len(), 36);
        let r = eval("States.MathRandom(10, 20)", &json!({}), &Env::new(&ctx, [1; 32]), "r.$").unwrap();
        assert!((10..20).contains(&r.as_i64().unwrap()));
    }

    #[test]
    fn bad_calls_are_intrinsic_failures() {
        for bad in ["States.Nope()", "States.Array(", "States.ArrayGetItem($, 5)", "States.Hash('a', 'CRC')"] {
            let e = run(bad, json!([1])).unwrap_err();
            assert_eq!(e.error, "States.IntrinsicFailure", "{bad}");
        }
        assert!(validate("States.Nope()").is_err());
        assert!(validate("States.Format('{}', $.a)").is_ok());
    }
}
