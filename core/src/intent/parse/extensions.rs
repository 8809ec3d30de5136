//! peo's extensions to ASL: `Compaction`, `Constraints`, `Adapt`, `Await`.

use super::*;

/// `{"After": n, "Keep": k}` with `Keep < After`, so that a compaction leaves room
/// before the next one.
pub(crate) fn parse_compaction(v: &Value) -> Result<Compaction> {
    let field = "Compaction";
    let obj = v
        .as_object()
        .ok_or_else(|| Error::invalid_intent(None, field, "`Compaction` must be an object {\"After\", \"Keep\"}"))?;
    check_keys(obj, None, "`Compaction`", &[&["After", "Keep"]], true)?;
    let count = |k: &str, default: Option<u64>| -> Result<u32> {
        let n = match (obj.get(k), default) {
            (Some(v), _) => non_negative_int(v, None, &format!("{field}.{k}"))?,
            (None, Some(d)) => d,
            (None, None) => {
                return Err(Error::invalid_intent(None, &format!("{field}.{k}"), format!("`{k}` is required")));
            }
        };
        u32::try_from(n).map_err(|_| {
            Error::invalid_intent(None, &format!("{field}.{k}"), format!("`{k}` must be at most {}", u32::MAX))
        })
    };
    let after = count("After", None)?;
    let keep = count("Keep", Some(0))?;
    if after == 0 || keep >= after {
        return Err(Error::invalid_intent(
            None,
            field,
            format!(
                "`Compaction` needs 0 <= Keep < After (got After {after}, Keep {keep}): a checkpoint must leave fewer records than the next one waits for"
            ),
        ));
    }
    Ok(Compaction { after, keep })
}

pub(super) fn parse_constraints(v: &Value, s: Option<&str>, field: &str) -> Result<Constraints> {
    let obj = v.as_object().ok_or_else(|| Error::invalid_intent(s, field, "`Constraints` must be an object"))?;
    check_keys(obj, s, "`Constraints`", &[&["Deadline", "MaxHops", "MaxRecords", "AllowedDomains"]], true)?;
    let f = |k: &str| format!("{field}.{k}");
    let u32_field = |k: &str| -> Result<Option<u32>> {
        match obj.get(k) {
            None => Ok(None),
            Some(v) => {
                let n = non_negative_int(v, s, &f(k))?;
                u32::try_from(n)
                    .map(Some)
                    .map_err(|_| Error::invalid_intent(s, &f(k), format!("`{k}` must be at most {}", u32::MAX)))
            }
        }
    };
    let deadline_ms = match obj.get("Deadline") {
        None => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            Error::invalid_intent(s, &f("Deadline"), "`Deadline` must be an integer: milliseconds since the Unix epoch")
        })?),
    };
    let allowed_domains = match obj.get("AllowedDomains") {
        None => None,
        Some(v) => Some(string_list(v, s, &f("AllowedDomains"))?),
    };
    Ok(Constraints {
        deadline_ms,
        max_hops: u32_field("MaxHops")?,
        max_records: u32_field("MaxRecords")?,
        allowed_domains,
    })
}

pub(super) fn parse_adapt(
    v: &Value,
    machine: &StateMachine,
    limits: &Limits,
    ql: QueryLanguage,
) -> Result<Vec<AdaptRule>> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::invalid_intent(None, "Adapt", "`Adapt` must be an array of {When, Then} rules"))?;
    let mut rules = Vec::with_capacity(arr.len());
    for (i, r) in arr.iter().enumerate() {
        let field = format!("Adapt[{i}]");
        let obj = r.as_object().ok_or_else(|| {
            Error::invalid_intent(None, &field, "an Adapt rule must be an object with `When` and `Then`")
        })?;
        check_keys(obj, None, "an Adapt rule", &[&["Name", "When", "Then", "Comment"]], true)?;
        let when_v = obj
            .get("When")
            .ok_or_else(|| Error::invalid_intent(None, &format!("{field}.When"), "an Adapt rule needs `When`"))?;
        let (when, _) = parse_rule(when_v, None, &format!("{field}.When"), false)?;
        let then_v = obj.get("Then").and_then(Value::as_object).ok_or_else(|| {
            Error::invalid_intent(None, &format!("{field}.Then"), "an Adapt rule needs `Then`, an object")
        })?;
        check_keys(then_v, None, "an Adapt `Then`", &[&["Objective", "Class", "Constraints", "States", "Goto"]], true)?;
        let tf = |k: &str| format!("{field}.Then.{k}");
        let mut states = Vec::new();
        if let Some(sv) = then_v.get("States") {
            let sobj = sv.as_object().ok_or_else(|| {
                Error::invalid_intent(None, &tf("States"), "`States` must be an object of named states")
            })?;
            for (name, def) in sobj {
                states.push(parse_state(name, def, name, limits, ql)?);
            }
        }
        let then = Refinement {
            objective: opt_string(then_v, None, "Objective")?,
            class: opt_string(then_v, None, "Class")?,
            constraints: match then_v.get("Constraints") {
                None => None,
                Some(c) => Some(parse_constraints(c, None, &tf("Constraints"))?),
            },
            goto: opt_string(then_v, None, "Goto")?,
            states,
        };
        // The added states may lead to each other and to the machine's states.
        let added: HashSet<&str> = then.states.iter().map(|s| s.name.as_str()).collect();
        let mut merged = machine.clone();
        for st in &then.states {
            merged.states.retain(|x| x.name != st.name);
            merged.states.push(st.clone());
        }
        let merged = StateMachine::new(merged.start_at.clone(), merged.states);
        validate_targets(&merged, None, &added).map_err(|e| e.in_field(tf("States")))?;
        if let Some(g) = &then.goto
            && merged.get(g).is_none()
        {
            return Err(Error::invalid_intent(None, &tf("Goto"), format!("`Goto` names `{g}`, which is not a state")));
        }
        rules.push(AdaptRule { name: opt_string(obj, None, "Name")?, when, then });
    }
    Ok(rules)
}

pub(super) fn parse_awaits(v: &Value, machine: &StateMachine) -> Result<BTreeMap<String, AwaitSpec>> {
    let obj = v.as_object().ok_or_else(|| {
        Error::invalid_intent(None, "Await", "`Await` must map state names to {Event, TimeoutSeconds}")
    })?;
    let mut out = BTreeMap::new();
    for (name, spec) in obj {
        let field = format!("Await.{name}");
        let state = find_state(machine, name).ok_or_else(|| {
            Error::invalid_intent(None, &field, format!("`Await` names `{name}`, which is not a state"))
        })?;
        if !matches!(state.kind, StateKind::Task(_) | StateKind::Pass(_)) {
            return Err(Error::invalid_intent(
                Some(name),
                &field,
                format!("only Task and Pass states can await an event; `{name}` is a {}", state.type_name()),
            ));
        }
        let sobj = spec
            .as_object()
            .ok_or_else(|| Error::invalid_intent(Some(name), &field, "an Await entry must be an object"))?;
        check_keys(
            sobj,
            Some(name),
            "an Await entry",
            &[&["Event", "EventPath", "TimeoutSeconds", "HeartbeatSeconds", "Signers", "Comment"]],
            true,
        )?;
        let event = string_spec(sobj, Some(name), "Event")?.ok_or_else(|| {
            Error::invalid_intent(Some(name), &format!("{field}.Event"), "an Await entry needs `Event` or `EventPath`")
        })?;
        let secs = |k: &str| -> Result<Option<u64>> {
            sobj.get(k).map(|v| positive_int(v, Some(name), &format!("{field}.{k}"))).transpose()
        };
        let signers = match sobj.get("Signers") {
            None => Vec::new(),
            Some(Value::Array(keys)) if !keys.is_empty() => keys
                .iter()
                .map(|k| {
                    k.as_str().and_then(|h| crate::PublicKey::from_hex(h).ok()).ok_or_else(|| {
                        Error::invalid_intent(
                            Some(name),
                            &format!("{field}.Signers"),
                            "`Signers` lists public keys, each 64 hex digits",
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            Some(_) => {
                return Err(Error::invalid_intent(
                    Some(name),
                    &format!("{field}.Signers"),
                    "`Signers` must be a non-empty list of public keys (64 hex digits each)",
                ));
            }
        };
        out.insert(
            name.clone(),
            AwaitSpec {
                event,
                signers,
                timeout_seconds: secs("TimeoutSeconds")?,
                heartbeat_seconds: secs("HeartbeatSeconds")?,
            },
        );
    }
    Ok(out)
}
