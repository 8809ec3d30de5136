//! Error handling: `Retry` and `Catch`, and their `ErrorEquals`.

use super::*;

pub(super) fn error_equals(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Vec<String>> {
    let f = format!("{field}.ErrorEquals");
    let arr = obj
        .get("ErrorEquals")
        .ok_or_else(|| Error::invalid_intent(s, &f, "`ErrorEquals` is required"))?
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::invalid_intent(s, &f, "`ErrorEquals` must be a non-empty array of error names"))?;
    let names = arr
        .iter()
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or_else(|| Error::invalid_intent(s, &f, "error names must be strings"))
        })
        .collect::<Result<Vec<_>>>()?;
    if names.iter().any(|n| n == "States.ALL") && names.len() != 1 {
        return Err(Error::invalid_intent(s, &f, "`States.ALL` must appear alone in `ErrorEquals`"));
    }
    Ok(names)
}

pub(super) fn entries<'a>(
    obj: &'a JsonMap<String, Value>,
    s: Option<&str>,
    field: &str,
) -> Result<Vec<&'a JsonMap<String, Value>>> {
    match obj.get(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.as_object()
                    .ok_or_else(|| Error::invalid_intent(s, &format!("{field}[{i}]"), "each entry must be an object"))
            })
            .collect(),
        Some(_) => Err(Error::invalid_intent(s, field, format!("`{field}` must be an array"))),
    }
}

/// `States.ALL` must be the last entry of `Retry` / `Catch`.
pub(super) fn all_is_last(lists: &[Vec<String>], s: Option<&str>, field: &str) -> Result<()> {
    for (i, names) in lists.iter().enumerate() {
        if names.iter().any(|n| n == "States.ALL") && i + 1 != lists.len() {
            return Err(Error::invalid_intent(
                s,
                &format!("{field}[{i}]"),
                format!("a `States.ALL` entry must be the last in `{field}`"),
            ));
        }
    }
    Ok(())
}

pub(super) fn retriers(obj: &JsonMap<String, Value>, s: Option<&str>) -> Result<Vec<Retrier>> {
    let mut out = Vec::new();
    for (i, r) in entries(obj, s, "Retry")?.into_iter().enumerate() {
        let field = format!("Retry[{i}]");
        check_keys(
            r,
            s,
            "a Retry entry",
            &[&[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ]],
            true,
        )?;
        let f = |k: &str| format!("{field}.{k}");
        let backoff_rate = match r.get("BackoffRate") {
            None => 2.0,
            Some(v) => match v.as_f64() {
                Some(x) if x >= 1.0 => x,
                _ => return Err(Error::invalid_intent(s, &f("BackoffRate"), "`BackoffRate` must be a number >= 1.0")),
            },
        };
        let jitter = match r.get("JitterStrategy").map(|v| v.as_str()) {
            None | Some(Some("NONE")) => Jitter::None,
            Some(Some("FULL")) => Jitter::Full,
            Some(_) => {
                return Err(Error::invalid_intent(
                    s,
                    &f("JitterStrategy"),
                    "`JitterStrategy` must be \"FULL\" or \"NONE\"",
                ));
            }
        };
        out.push(Retrier {
            error_equals: error_equals(r, s, &field)?,
            interval_seconds: match r.get("IntervalSeconds") {
                None => 1,
                Some(v) => positive_int(v, s, &f("IntervalSeconds"))?,
            },
            max_attempts: match r.get("MaxAttempts") {
                None => 3,
                Some(v) => non_negative_int(v, s, &f("MaxAttempts"))?,
            },
            backoff_rate,
            max_delay_seconds: match r.get("MaxDelaySeconds") {
                None => None,
                Some(v) => Some(positive_int(v, s, &f("MaxDelaySeconds"))?),
            },
            jitter,
        });
    }
    all_is_last(&out.iter().map(|r| r.error_equals.clone()).collect::<Vec<_>>(), s, "Retry")?;
    Ok(out)
}

pub(super) fn catchers(obj: &JsonMap<String, Value>, s: Option<&str>, ql: QueryLanguage) -> Result<Vec<Catcher>> {
    let mut out = Vec::new();
    let ja = ql == QueryLanguage::Jsonata;
    for (i, c) in entries(obj, s, "Catch")?.into_iter().enumerate() {
        let field = format!("Catch[{i}]");
        let allowed: &[&str] = if ja {
            &["ErrorEquals", "Next", "Comment", "Assign", "Output"]
        } else {
            &["ErrorEquals", "Next", "ResultPath", "Comment", "Assign"]
        };
        check_keys(c, s, "a Catch entry", &[allowed], true)?;
        let (assign, output) = if ja {
            (
                jsonata_assign(c, s, &format!("{field}.Assign"), Places::ERROR)?,
                jsonata_field(c, s, "Output", Places::ERROR).map_err(|e| e.in_field(format!("{field}.Output")))?,
            )
        } else {
            (assign(c, s, &format!("{field}.Assign"))?, None)
        };
        out.push(Catcher {
            error_equals: error_equals(c, s, &field)?,
            next: required_string(c, s, "Next").map_err(|e| e.in_field(format!("{field}.Next")))?,
            result_path: path_spec(c, s, "ResultPath")?,
            assign,
            output,
        });
    }
    all_is_last(&out.iter().map(|c| c.error_equals.clone()).collect::<Vec<_>>(), s, "Catch")?;
    Ok(out)
}
