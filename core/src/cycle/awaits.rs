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
        let raw = self.obj.data();
        let name = match &spec.event {
            StringSpec::Value(v) => v.clone(),
            StringSpec::Path(p) => {
                let v = env.query(p, raw).map_err(|e| Failure::invalid_path(p, &e))?;
                match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                }
            }
            StringSpec::Expr(e) => {
                let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                match asl::jsonata::evaluate(e, "Event", &st, env)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                }
            }
        };
        let timeout = spec
            .timeout_seconds
            .map(|t| self.now.saturating_add(i64::try_from(t).unwrap_or(i64::MAX).saturating_mul(1000)));
        let exec = deadline(self.obj, self.p);
        let timeout_at_ms = match (timeout, exec) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // The heartbeat timer is the wait's wake time: reaching it without a heartbeat
        // raises States.HeartbeatTimeout.
        let at_ms = spec
            .heartbeat_seconds
            .map(|h| self.now.saturating_add(i64::try_from(h).unwrap_or(i64::MAX).saturating_mul(1000)));
        let wake = Wake { reason: DormantReason::Await, at_ms, event: Some(name), timeout_at_ms };
        Ok(Decision::record(self.dormant(state, wake)))
    }

    /// The awaited event arrived (a result, a failure or a heartbeat), or the wait timed
    /// out.
    pub(super) fn end_await(&self, state: &State, w: &Wake, event: Option<&Event>) -> Decision {
        let failure = |cause: ReentryCause, name: Option<String>, e: &TaskError| {
            let payload = json!({"Error": e.error, "Cause": e.cause.clone().unwrap_or_default()});
            Decision::record(self.stay(
                Body::Reentry { cause, event: name, payload: Some(cjson::canonical(&payload)) },
                &state.name,
                state.name.clone(),
                None,
            ))
        };
        let Some(e) = event else {
            let heartbeat_missed =
                w.at_ms.is_some_and(|at| self.now >= at) && w.timeout_at_ms.is_none_or(|t| self.now < t);
            let error = if heartbeat_missed { errors::HEARTBEAT_TIMEOUT } else { errors::TIMEOUT };
            return failure(ReentryCause::Timeout, None, &TaskError { error: error.to_owned(), cause: None });
        };
        // The name recorded: a token's commitment, never the token (a later reader of
        // the object learns nothing it could answer with).
        let name = w.event.clone().filter(|a| super::tokens::is_commitment(a)).unwrap_or_else(|| e.name.clone());
        if e.heartbeat {
            let heartbeat = match self.obj.intent.plan().awaits.get(&state.name) {
                Some(spec) => spec.heartbeat_seconds,
                None => match &state.kind {
                    StateKind::Task(t) => {
                        let env = self.env(state);
                        self.seconds(&t.heartbeat_seconds, "HeartbeatSeconds", &env).ok().flatten()
                    }
                    _ => None,
                },
            };
            let Some(heartbeat) = heartbeat else {
                // No heartbeat timer on this wait: nothing to restart.
                return Decision::Sleep(w.clone());
            };
            let at_ms =
                Some(self.now.saturating_add(i64::try_from(heartbeat).unwrap_or(i64::MAX).saturating_mul(1000)));
            let wake = Wake { at_ms, ..w.clone() };
            return Decision::record(self.dormant(state, wake));
        }
        if let Some(err) = &e.error {
            return failure(ReentryCause::Failure, Some(name), err);
        }
        let (selector, result_path) = match &state.kind {
            StateKind::Task(t) => (t.result_selector.as_ref(), &t.result_path),
            StateKind::Pass(p) => (None, &p.result_path),
            _ => (None, &crate::intent::PathSpec::Default),
        };
        let env = self.env(state);
        let processed = (|| {
            payload_ok(&e.payload, &state.name)?;
            let selected = match selector {
                Some(t) => Cow::Owned(asl::template(t, &e.payload, &env)?),
                None => Cow::Borrowed(&e.payload),
            };
            let st = asl::jsonata::States { input: &self.obj.data, result: Some(&e.payload), error_output: None };
            let assigned = self.assign(state, state.assign.as_ref(), &selected, &st, &env)?;
            let out = match state.query_language {
                QueryLanguage::JsonPath => {
                    let placed = asl::place(&self.obj.data, result_path, selected)?;
                    asl::select(placed, &state.output_path, &env)?
                }
                QueryLanguage::Jsonata => {
                    Cow::Owned(self.output(state.output.as_ref(), &st, &env, e.payload.clone())?)
                }
            };
            payload_ok(&out, &state.name)?;
            Ok::<_, Failure>((assigned, changed(&self.obj.data, out)))
        })();
        match processed {
            Ok((assigned, data)) => Decision::record(super::assign::commit(
                assigned,
                self.stay(
                    Body::Reentry {
                        cause: ReentryCause::Event,
                        event: Some(name),
                        payload: Some(cjson::canonical(&e.payload)),
                    },
                    &state.name,
                    Cx::next_of(state),
                    data,
                ),
            )),
            Err(f) => failure(ReentryCause::Failure, Some(name), &self.located(state, f)),
        }
    }
}
