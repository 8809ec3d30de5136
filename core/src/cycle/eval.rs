//! Evaluating a state: what each state type does with its input (the decision table of
//! docs/cycle.md), timers and waits.

use super::*;

impl Cx<'_> {
    pub(super) fn eval_state(&self, state: &State, env: &Env<'_>) -> std::result::Result<Decision, Failure> {
        let raw = self.obj.data();
        let name = &state.name;
        if let Some(spec) = self.obj.intent.plan().awaits.get(name) {
            return self.await_event(state, spec, env);
        }
        if state.query_language == QueryLanguage::Jsonata
            && let Some(d) = self.eval_jsonata(state, env)?
        {
            return Ok(d);
        }
        match &state.kind {
            StateKind::Pass(pass) => {
                let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
                let result = match (&pass.result, &pass.parameters) {
                    (Some(r), _) => Cow::Borrowed(r),
                    (None, Some(t)) => Cow::Owned(asl::template(t, &input, env)?),
                    (None, None) => input,
                };
                let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                let assigned = self.assign(state, state.assign.as_ref(), &result, &st, env)?;
                let placed = asl::place(raw, &pass.result_path, result)?;
                let out = asl::select(placed, &state.output_path, env)?;
                payload_ok(&out, name)?;
                let next = Self::next_of(state);
                Ok(Decision::record(assign::commit(
                    assigned,
                    self.stay(
                        Body::Mutate { kind: MutateKind::Data, revision: self.obj.intent.revision(), change: None },
                        name,
                        next,
                        changed(raw, out),
                    ),
                )))
            }
            StateKind::Choice(choice) => {
                let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
                let mut chosen = None;
                for (i, b) in choice.choices.iter().enumerate() {
                    if asl::rule_matches(&b.rule, &input, env)? {
                        chosen = Some((json!(i), b.next.clone(), b.assign.as_ref()));
                        break;
                    }
                }
                let (which, next, assign) = match (chosen, &choice.default) {
                    (Some(c), _) => c,
                    (None, Some(d)) => (json!("Default"), d.clone(), state.assign.as_ref()),
                    (None, None) => {
                        return Err(Failure::new(
                            errors::NO_CHOICE_MATCHED,
                            format!("No Matches! (state '{name}': no choice rule matched and there is no Default)"),
                        ));
                    }
                };
                let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                let assigned = self.assign(state, assign, &input, &st, env)?;
                let out = asl::select(input, &state.output_path, env)?;
                Ok(self.chose(name, which, next, changed(raw, out), assigned))
            }
            StateKind::Wait(w) => {
                let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
                let at = self.wake_at(&w.wait_for, &input, env)?;
                Ok(Decision::record(self.dormant(state, self.wake(DormantReason::Wait, Some(at)))))
            }
            StateKind::Succeed => {
                let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
                let out = asl::select(input, &state.output_path, env)?;
                Ok(Decision::record(self.succeed(name, out.into_owned())))
            }
            StateKind::Fail(f) => {
                let text = |spec: &Option<StringSpec>, field: &str| -> std::result::Result<Option<String>, Failure> {
                    Ok(match spec {
                        None => None,
                        Some(StringSpec::Value(v)) => Some(v.clone()),
                        Some(StringSpec::Path(p)) => {
                            let v = if asl::intrinsics::is_call(p) {
                                asl::intrinsics::eval(p, raw, env, field)?
                            } else {
                                env.query(p, raw).map_err(|e| {
                                    if let asl::path::PathError::Budget(_) = e {
                                        return Failure::invalid_path(p, &e);
                                    }
                                    Failure::runtime(format!(
                                        "The JSONPath '{p}' specified for the field '{field}' could not be found in the input '{raw}'"
                                    ))
                                })?
                            };
                            Some(v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        }
                        Some(StringSpec::Expr(e)) => {
                            let field = field.trim_end_matches("Path");
                            let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                            let v = asl::jsonata::evaluate(e, field, &st, env)?;
                            Some(v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        }
                    })
                };
                let error = text(&f.error, "ErrorPath")?;
                let cause = text(&f.cause, "CausePath")?;
                let te = match (error, cause) {
                    (None, None) => None,
                    (e, c) => Some(TaskError { error: e.unwrap_or_default(), cause: c }),
                };
                let disposition = Disposition::Terminated { status: Status::Failed, output: None, error: te.clone() };
                Ok(Decision::record(self.leave(
                    Body::Terminate { status: Status::Failed, output: None, error: te },
                    name,
                    String::new(),
                    Status::Failed,
                    None,
                    disposition,
                )))
            }
            StateKind::Task(task) => {
                if !self.node.has(&task.resource) {
                    return Ok(Decision::record(self.delegate(
                        state,
                        DelegateReason::Capability,
                        &task.resource,
                        None,
                    )));
                }
                let policy = self.authorize(PolicyAction::Execute, Some(&task.resource));
                if let Some(p) = policy.as_ref().filter(|p| p.decision == crate::PolicyDecision::Deny) {
                    let denied = p.clone();
                    return Ok(Decision::record(self.delegate(
                        state,
                        DelegateReason::Policy,
                        &task.resource,
                        Some(denied),
                    )));
                }
                let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
                let effective = match (&task.parameters, &task.arguments) {
                    (Some(t), _) => Arc::new(asl::template(t, &input, env)?),
                    (None, Some(a)) => {
                        let st = asl::jsonata::States { input: &input, result: None, error_output: None };
                        Arc::new(asl::jsonata::template(a, "Arguments", &st, env)?)
                    }
                    // The whole data, unchanged: shared with the call, not copied.
                    (None, None) if matches!(&input, Cow::Borrowed(x) if std::ptr::eq(*x, raw)) => {
                        Arc::clone(&self.obj.data)
                    }
                    (None, None) => Arc::new(input.into_owned()),
                };
                let timeout = match &task.timeout_seconds {
                    None => None,
                    Some(NumberSpec::Value(v)) => Some(*v),
                    Some(NumberSpec::Expr(e)) => {
                        let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                        let v = asl::jsonata::evaluate(e, "TimeoutSeconds", &st, env)?;
                        match v.as_f64() {
                            Some(n) if n > 0.0 => Some(n),
                            _ => return Err(asl::jsonata::unexpected(e, "TimeoutSeconds", "number", &v)),
                        }
                    }
                    Some(NumberSpec::Path(p)) => {
                        let v = env.query(p, raw).map_err(|e| Failure::invalid_path(p, &e))?;
                        match v.as_f64() {
                            Some(n) if n > 0.0 => Some(n),
                            _ => {
                                return Err(Failure::runtime(format!(
                                    "The TimeoutSecondsPath parameter does not reference a positive number: {p} == {v}"
                                )));
                            }
                        }
                    }
                };
                let attempt = self.p.attempts;
                Ok(Decision::Execute(TaskCall {
                    state: name.clone(),
                    capability: task.resource.clone(),
                    input: effective,
                    attempt,
                    idempotency_key: attempt_key(self.obj, name, self.p),
                    deadline_ms: timeout.map(|t| self.now.saturating_add((t * 1000.0) as i64)),
                    policy,
                    advice: None,
                }))
            }
            StateKind::Parallel(_) | StateKind::Map(_) => self.fan_out(state, env),
        }
    }

    /// A Task's `TimeoutSeconds` / `HeartbeatSeconds` in whole seconds: given, read by
    /// `...SecondsPath` or computed by a JSONata expression, from the object's data.
    pub(super) fn seconds(
        &self,
        spec: &Option<NumberSpec>,
        field: &str,
        env: &Env<'_>,
    ) -> std::result::Result<Option<u64>, Failure> {
        let raw = self.obj.data();
        let (v, shown) = match spec {
            None => return Ok(None),
            Some(NumberSpec::Value(v)) => return Ok(Some(*v as u64)),
            Some(NumberSpec::Path(p)) => (env.query(p, raw).map_err(|e| Failure::invalid_path(p, &e))?, p.clone()),
            Some(NumberSpec::Expr(e)) => {
                let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                let v = asl::jsonata::evaluate(e, field, &st, env)?;
                match v.as_f64() {
                    Some(n) if n > 0.0 => return Ok(Some(n.ceil() as u64)),
                    _ => return Err(asl::jsonata::unexpected(e, field, "number", &v)),
                }
            }
        };
        match v.as_f64() {
            Some(n) if n > 0.0 => Ok(Some(n.ceil() as u64)),
            _ => Err(Failure::runtime(format!(
                "The {field}Path parameter does not reference a positive number: {shown} == {v}"
            ))),
        }
    }

    /// When a Wait state wakes: `Seconds` / `Timestamp` as given, read by a path or
    /// computed by a JSONata expression.
    pub(super) fn wake_at(
        &self,
        wait_for: &WaitFor,
        input: &Value,
        env: &Env<'_>,
    ) -> std::result::Result<i64, Failure> {
        Ok(match wait_for {
            WaitFor::Seconds(s) => self.now.saturating_add(i64::try_from(*s).unwrap_or(i64::MAX).saturating_mul(1000)),
            WaitFor::Timestamp(t) => asl::parse_timestamp(t).ok_or_else(|| {
                Failure::runtime(format!(
                    "The Timestamp parameter does not reference a valid ISO-8601 extended offset date-time format string: {t}"
                ))
            })?,
            WaitFor::SecondsPath(p) => {
                let v = env.query(p, input)
                    .map_err(|e| Failure::invalid_path(p, &e))?;
                let secs = match &v {
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.as_i64().unwrap_or(i64::MAX),
                    Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => n.as_f64().unwrap_or(0.0) as i64,
                    _ => {
                        return Err(Failure::runtime(format!(
                            "The SecondsPath parameter cannot be parsed as a long value: {p} == {v}"
                        )));
                    }
                };
                if secs < 0 {
                    return Err(Failure::runtime(format!(
                        "The SecondsPath parameter references a negative value: {p} == {v}"
                    )));
                }
                self.now.saturating_add(secs.saturating_mul(1000))
            }
            WaitFor::SecondsExpr(e) => {
                let st = asl::jsonata::States { input, result: None, error_output: None };
                let v = asl::jsonata::evaluate(e, "Seconds", &st, env)?;
                match v.as_i64() {
                    Some(secs) if secs >= 0 => self.now.saturating_add(secs.saturating_mul(1000)),
                    _ => return Err(asl::jsonata::unexpected(e, "Seconds", "integer", &v)),
                }
            }
            WaitFor::TimestampExpr(e) => {
                let st = asl::jsonata::States { input, result: None, error_output: None };
                let v = asl::jsonata::evaluate(e, "Timestamp", &st, env)?;
                let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                v.as_str().and_then(asl::parse_timestamp).ok_or_else(|| Failure {
                    error: errors::QUERY_EVALUATION_ERROR.to_owned(),
                    cause: format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}"
                    ),
                    located: true,
                })?
            }
            WaitFor::TimestampPath(p) => {
                let v = env.query(p, input)
                    .map_err(|e| Failure::invalid_path(p, &e))?;
                let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                v.as_str().and_then(asl::parse_timestamp).ok_or_else(|| {
                    Failure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {shown}"
                    ))
                })?
            }
        })
    }

    pub(super) fn succeed(&self, state: &str, output: Value) -> Box<Transition> {
        let disposition =
            Disposition::Terminated { status: Status::Succeeded, output: Some(output.clone()), error: None };
        self.leave(
            Body::Terminate { status: Status::Succeeded, output: Some(cjson::canonical(&output)), error: None },
            state,
            String::new(),
            Status::Succeeded,
            Some(output),
            disposition,
        )
    }
}
