//! `Await`: a state that waits, dormant, for a named external event (the callback
//! pattern). The event's payload becomes the state's result; a failure event is the
//! state's error; the timeout raises `States.Timeout`. All three go through the
//! state's `ResultSelector` / `ResultPath` / `OutputPath`, `Retry` and `Catch`.

use super::*;
use crate::intent::AwaitSpec;

/// The error of a record that ended an awaited state's wait badly, if it did.
pub(super) fn reentry_error(r: &Record) -> Option<TaskError> {
    match &r.body {
        Body::Reentry { cause: ReentryCause::Failure | ReentryCause::Timeout, payload, .. } => {
            let v: Value = payload.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or(Value::Null);
            Some(TaskError {
                error: v["Error"].as_str().unwrap_or(errors::TIMEOUT).to_owned(),
                cause: v["Cause"].as_str().map(str::to_owned),
            })
        }
        _ => None,
    }
}

impl Cx<'_> {
    /// The state starts waiting: `dormant` (reason `await`) on the event's name.
    pub(super) fn await_event(&self, state: &State, spec: &AwaitSpec, env: &Env<'_>) -> Result<Decision, Failure> {
        let raw = &self.obj.data;
        let name = match &spec.event {
            StringSpec::Value(v) => v.clone(),
            StringSpec::Path(p) => {
                let v = asl::path::query_either(p, raw, env.context()).map_err(|e| Failure::invalid_path(p, &e))?;
                match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                }
            }
        };
        let timeout = spec.timeout_seconds.map(|t| self.now.saturating_add((t as i64).saturating_mul(1000)));
        let exec = deadline(self.obj, self.p);
        let timeout_at_ms = match (timeout, exec) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wake = Wake { reason: DormantReason::Await, at_ms: None, event: Some(name), timeout_at_ms };
        Ok(Decision::Record(self.dormant(state, wake)))
    }

    /// The awaited event arrived, or the wait timed out.
    pub(super) fn end_await(&self, state: &State, event: Option<&Event>) -> Decision {
        let failure = |cause: ReentryCause, name: Option<String>, e: &TaskError| {
            let payload = json!({"Error": e.error, "Cause": e.cause.clone().unwrap_or_default()});
            Decision::Record(self.stay(
                Body::Reentry { cause, event: name, payload: Some(cjson::canonical(&payload)) },
                &state.name,
                state.name.clone(),
                None,
            ))
        };
        let Some(e) = event else {
            let timeout = TaskError { error: errors::TIMEOUT.to_owned(), cause: None };
            return failure(ReentryCause::Timeout, None, &timeout);
        };
        if let Some(err) = &e.error {
            return failure(ReentryCause::Failure, Some(e.name.clone()), err);
        }
        let (selector, result_path) = match &state.kind {
            StateKind::Task(t) => (t.result_selector.as_ref(), &t.result_path),
            StateKind::Pass(p) => (None, &p.result_path),
            _ => (None, &crate::intent::PathSpec::Default),
        };
        let build = || context_object(self.obj, state, self.p, self.now);
        let make_seed = || seed(self.obj, &state.name);
        let env = Env::lazy(&build, &make_seed);
        let processed = (|| {
            payload_ok(&e.payload, &state.name)?;
            let selected = match selector {
                Some(t) => Cow::Owned(asl::template(t, &e.payload, &env)?),
                None => Cow::Borrowed(&e.payload),
            };
            let placed = asl::place(&self.obj.data, result_path, selected)?;
            let out = asl::select(placed, &state.output_path, &env)?;
            payload_ok(&out, &state.name)?;
            Ok::<_, Failure>(changed(&self.obj.data, out))
        })();
        match processed {
            Ok(data) => Decision::Record(self.stay(
                Body::Reentry {
                    cause: ReentryCause::Event,
                    event: Some(e.name.clone()),
                    payload: Some(cjson::canonical(&e.payload)),
                },
                &state.name,
                Cx::next_of(state),
                data,
            )),
            Err(f) => failure(ReentryCause::Failure, Some(e.name.clone()), &self.located(state, f)),
        }
    }
}
