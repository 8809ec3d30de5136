//! Workflow variables in a plan: `Assign` and the scopes of variable names.

use super::*;

/// `Assign`: an object whose keys (less a `.$` suffix) name variables, checked as a
/// payload template.
pub(super) fn assign(obj: &JsonMap<String, Value>, s: Option<&str>, field: &str) -> Result<Option<Value>> {
    let key = field.rsplit('.').next().unwrap_or(field);
    let Some(v) = obj.get(key) else { return Ok(None) };
    let map = v.as_object().ok_or_else(|| {
        Error::invalid_intent(s, field, format!("`Assign` must be an object of variable names and values, got {v}"))
    })?;
    for k in map.keys() {
        let name = k.strip_suffix(".$").unwrap_or(k);
        if !crate::asl::path::is_variable_name(name) {
            return Err(Error::invalid_intent(
                s,
                &format!("{field}.{k}"),
                format!(
                    "`{name}` cannot name a variable: a name starts with a letter or `_`, holds only letters, digits and `_`, has at most 80 characters and is not the reserved `states`"
                ),
            ));
        }
    }
    let mut holder = JsonMap::new();
    holder.insert(field.to_owned(), v.clone());
    template(&holder, s, field)
}

/// The names a state machine's own states assign (not those of nested branches).
fn assigned_names(machine: &StateMachine) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut add = |st: &State, field: &str, a: &Option<Value>| {
        for k in a.iter().filter_map(Value::as_object).flat_map(|m| m.keys()) {
            out.push((k.strip_suffix(".$").unwrap_or(k).to_owned(), st.name.clone(), format!("{field}.{k}")));
        }
    };
    for st in &machine.states {
        add(st, "Assign", &st.assign);
        if let StateKind::Choice(c) = &st.kind {
            for (i, b) in c.choices.iter().enumerate() {
                add(st, &format!("Choices[{i}].Assign"), &b.assign);
            }
        }
    }
    out
}

/// Variable scopes: each `States` block is one; a Parallel branch or a Map iteration
/// reads the variables of the scopes around it but may not assign the names their
/// states assign. (A Catch entry's `Assign` is left out: Step Functions accepts a
/// branch assigning a name that its Parallel state's catcher assigns.)
pub(super) fn check_scopes(machine: &StateMachine, scope: Option<&str>, outer: &HashSet<String>) -> Result<()> {
    let own = assigned_names(machine);
    for (name, st, field) in &own {
        if outer.contains(name) {
            return Err(Error::invalid_intent(
                Some(&child_path(scope, st)),
                field,
                format!(
                    "`{name}` is a variable of an outer scope: a Parallel branch or Map iteration may read it but not assign it"
                ),
            ));
        }
    }
    let mut visible = outer.clone();
    visible.extend(own.into_iter().map(|(n, _, _)| n));
    for st in &machine.states {
        let at = child_path(scope, &st.name);
        match &st.kind {
            StateKind::Parallel(p) => {
                for (i, b) in p.branches.iter().enumerate() {
                    check_scopes(b, Some(&format!("{at}/branch {i}")), &visible)?;
                }
            }
            StateKind::Map(m) => check_scopes(&m.processor, Some(&format!("{at}/ItemProcessor")), &visible)?,
            _ => {}
        }
    }
    Ok(())
}
