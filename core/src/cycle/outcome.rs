//! The second phase of `execute`: a handler's outcome as a record.

use super::*;

/// The second phase of `execute`: the record of a handler's `outcome` for `call`
/// (which [`decide`] returned for this object), by the node's clock `now_ms`. A result
/// after the call's deadline is `States.Timeout`. The call is consumed: its capability,
/// attempt key and policy decision move into the record.
pub fn outcome(
    obj: &Object,
    node: &NodeSpec,
    call: TaskCall,
    result: TaskOutcome,
    now_ms: i64,
) -> Result<Box<Transition>> {
    let p = obj.progress()?;
    if obj.state != call.state || p.pending != Pending::Evaluate || call.attempt != p.attempts {
        return Err(Error::invalid_argument(format!(
            "this task call (state `{}`, attempt {}) is not the object's pending execution",
            call.state, call.attempt
        )));
    }
    let state = state_of(obj, &call.state)?;
    let StateKind::Task(task) = &state.kind else {
        return Err(Error::invalid_argument(format!("state `{}` is not a Task", call.state)));
    };
    let cx = Cx::new(obj, node, now_ms, p);
    let (result, refinement) = match result {
        TaskOutcome::Refined { output, refinement } => {
            // Checked now, so that a bad refinement is the task's error, not a later surprise.
            let legal =
                adapt::refine(&obj.intent, &refinement).map_err(|e| e.message().to_owned()).and_then(|(after, _)| {
                    let origin = match &obj.origin {
                        Some(text) => crate::Intent::from_json_text(text, &crate::Limits::default())
                            .map_err(|e| e.message().to_owned())?,
                        None => (*obj.intent).clone(),
                    };
                    adapt::check_refinement(&origin, &obj.intent, &after, &refinement)
                });
            if let Err(why) = legal {
                let error = TaskError { error: INVALID_REFINEMENT.into(), cause: Some(why) };
                return Ok(cx.stay(
                    Body::Execute {
                        capability: call.capability,
                        attempt: call.attempt,
                        idempotency_key: Some(call.idempotency_key),
                        output: None,
                        error: Some(error),
                    },
                    &state.name,
                    state.name.clone(),
                    None,
                ));
            }
            (TaskOutcome::Output(output), Some(refinement))
        }
        other => (other, None),
    };
    let result = match result {
        _ if call.deadline_ms.is_some_and(|d| now_ms > d) => {
            TaskOutcome::Error { error: errors::TIMEOUT.to_owned(), cause: None }
        }
        r => r,
    };
    let TaskCall { state: state_name, capability, attempt, idempotency_key, policy, advice, .. } = call;
    // Each path below moves these into its record once.
    let body = |key: String, output: Option<String>, error: Option<TaskError>| Body::Execute {
        capability,
        attempt,
        idempotency_key: Some(key),
        output,
        error,
    };
    let with_policy = |mut t: Box<Transition>| {
        t.record.policy = policy;
        t.record.advice = advice;
        t
    };
    macro_rules! failed {
        ($e:expr) => {
            with_policy(cx.stay(body(idempotency_key, None, Some($e)), &state.name, state.name.clone(), None))
        };
    }
    match result {
        TaskOutcome::Error { error, cause } => Ok(failed!(TaskError { error, cause })),
        TaskOutcome::Refined { .. } => Err(Error::internal("a refined outcome is unwrapped above")),
        TaskOutcome::Output(v) => {
            let env = cx.env(state);
            let mut assigned = None;
            let processed = (|| {
                payload_ok(&v, task_display_name(&task.resource))?;
                let selected = match &task.result_selector {
                    Some(t) => Cow::Owned(asl::template(t, &v, &env)?),
                    None => Cow::Borrowed(&v),
                };
                let st = asl::jsonata::States { input: &obj.data, result: Some(&v), error_output: None };
                if !task.resource.ends_with(WAIT_FOR_TASK_TOKEN) {
                    assigned = cx.assign(state, state.assign.as_ref(), &selected, &st, &env)?;
                }
                let out = match state.query_language {
                    QueryLanguage::JsonPath => {
                        let placed = asl::place(&obj.data, &task.result_path, selected)?;
                        asl::select(placed, &state.output_path, &env)?
                    }
                    QueryLanguage::Jsonata if task.resource.ends_with(WAIT_FOR_TASK_TOKEN) => Cow::Borrowed(obj.data()),
                    QueryLanguage::Jsonata => match &state.output {
                        Some(t) => Cow::Owned(asl::jsonata::template(t, "Output", &st, &env)?),
                        None => Cow::Borrowed(&v),
                    },
                };
                payload_ok(&out, &state.name)?;
                // Which value the data becomes: the raw data (unchanged), the handler's
                // output itself (moved, not copied), or a new value.
                Ok::<_, Failure>(match out {
                    Cow::Borrowed(x) if std::ptr::eq(x, obj.data()) => Ok(None),
                    Cow::Borrowed(x) if std::ptr::eq(x, &v) => Err(()),
                    other => Ok(Some(other.into_owned())),
                })
            })();
            match processed {
                Ok(_) if task.resource.ends_with(WAIT_FOR_TASK_TOKEN) => {
                    // The handler has handed the token out; the state now waits for an
                    // event named by it. The record keeps the token's commitment in place
                    // of the idempotency key (the attempt key, derivable from the memory),
                    // never the token.
                    let text = cjson::canonical(&v);
                    let token = tokens::task_token(node.key.as_ref(), &idempotency_key);
                    let b = body(tokens::event_key(&token), Some(text), None);
                    Ok(with_policy(cx.stay(b, &state.name, state.name.clone(), None)))
                }
                Ok(out) => {
                    let text = cjson::canonical(&v);
                    let data = out.unwrap_or(Some(v));
                    let mut t = with_policy(cx.stay(
                        body(idempotency_key, Some(text), None),
                        state_name,
                        Cx::next_of(state),
                        data,
                    ));
                    t.refinement = refinement;
                    Ok(assign::commit(assigned, t))
                }
                Err(f) => Ok(failed!(cx.located(state, f))),
            }
        }
    }
}
