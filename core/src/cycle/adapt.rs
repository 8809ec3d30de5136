//! `Adapt`: the intent refines itself from its history. A rule `{When, Then}` whose
//! condition holds fires once: one `mutate` record (kind `intent`) carries the new
//! revision and the change, and the object continues under the new intent.

use super::*;
use crate::{Intent, PolicyOutcome};

/// The intent after a refinement (`{Objective?, Class?, Constraints?, States?, Goto?}`,
/// the shape of an `Adapt` rule's `Then`), at the next revision, and the change as
/// recorded.
pub(crate) fn refine(current: &Intent, then: &Value) -> Result<(Intent, Value)> {
    let Some(fields) = then.as_object() else {
        return Err(Error::invalid_argument(
            "a refinement is an object with Objective, Class, Constraints, States, Goto",
        ));
    };
    if let Some(k) =
        fields.keys().find(|k| !["Objective", "Class", "Constraints", "States", "Goto"].contains(&k.as_str()))
    {
        return Err(Error::invalid_argument(format!(
            "a refinement has no field `{k}`; allowed: Objective, Class, Constraints, States, Goto"
        )));
    }
    let mut doc = current.document().clone();
    for field in ["Objective", "Class", "Constraints"] {
        if let Some(v) = then.get(field) {
            doc[field] = v.clone();
        }
    }
    let mut added = Vec::new();
    if let Some(states) = then.get("States") {
        let Value::Object(states) = states else {
            return Err(Error::invalid_argument("a refinement's `States` is an object of named states"));
        };
        for (name, def) in states {
            doc["States"][name.as_str()] = def.clone();
            added.push(name.clone());
        }
    }
    let revision =
        current.revision().checked_add(1).ok_or_else(|| Error::limit("the intent has reached its last revision"))?;
    let intent = Intent::at_revision(doc, revision, &crate::Limits::default())?;
    if let Some(g) = then.get("Goto") {
        let ok = g.as_str().is_some_and(|g| intent.plan().machine.get(g).is_some());
        if !ok {
            return Err(Error::invalid_argument(format!("a refinement's `Goto` ({g}) must name a top-level state")));
        }
    }
    let change = json!({
        "objective": then.get("Objective"),
        "class": then.get("Class"),
        "constraints": then.get("Constraints"),
        "states": added,
        "goto": then.get("Goto"),
        "then": then,
    });
    Ok((intent, change))
}

/// Whether a handler's refinement stays within what the plan allows, so that a verifier
/// can accept it without the originator's signature: `Constraints` only tightened (a
/// bound kept or lowered, `AllowedDomains` kept or narrowed), and every Task the new
/// or replaced states run uses a capability the original plan (`origin`, revision 0,
/// including its `Adapt` rules) already names.
pub(crate) fn check_refinement(origin: &Intent, before: &Intent, after: &Intent, then: &Value) -> Result<(), String> {
    let (b, a) = (before.constraints(), after.constraints());
    let tighter = |old: Option<i64>, new: Option<i64>, name: &str| match (old, new) {
        (Some(o), Some(n)) if n > o => Err(format!("Constraints.{name} raised from {o} to {n}")),
        (Some(_), None) => Err(format!("Constraints.{name} removed")),
        _ => Ok(()),
    };
    tighter(b.deadline_ms, a.deadline_ms, "Deadline")?;
    tighter(b.max_hops.map(i64::from), a.max_hops.map(i64::from), "MaxHops")?;
    tighter(b.max_records.map(i64::from), a.max_records.map(i64::from), "MaxRecords")?;
    if let Some(old) = &b.allowed_domains {
        match &a.allowed_domains {
            None => return Err("Constraints.AllowedDomains removed".into()),
            Some(new) => {
                if let Some(d) = new.iter().find(|d| !old.contains(d)) {
                    return Err(format!("Constraints.AllowedDomains widened with `{d}`"));
                }
            }
        }
    }
    let mut planned = std::collections::BTreeSet::new();
    task_resources(origin.document(), &mut planned);
    let mut wanted = std::collections::BTreeSet::new();
    task_resources(&then["States"], &mut wanted);
    if let Some(c) = wanted.iter().find(|c| !planned.contains(*c)) {
        return Err(format!("a state runs capability `{c}`, which the original plan never names"));
    }
    Ok(())
}

/// Every Task `Resource` anywhere in a JSON document (nested branches, item processors
/// and `Adapt` rules included).
fn task_resources(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if m.get("Type").and_then(Value::as_str) == Some("Task")
                && let Some(r) = m.get("Resource").and_then(Value::as_str)
            {
                out.insert(r.to_owned());
            }
            m.values().for_each(|x| task_resources(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| task_resources(x, out)),
        _ => {}
    }
}

impl Cx<'_> {
    /// One `mutate` (kind `intent`) record to `intent`, continuing at `next`.
    pub(super) fn intent_mutate(
        &self,
        intent: Intent,
        change: Value,
        next: String,
        policy: Option<PolicyOutcome>,
    ) -> Box<Transition> {
        let mut t = self.stay(
            Body::Mutate {
                kind: MutateKind::Intent,
                revision: intent.revision(),
                change: Some(cjson::canonical(&change)),
            },
            &self.obj.state,
            next,
            None,
        );
        t.record.intent_hash = Some(intent.hash());
        t.record.policy = policy;
        t.intent = Some(Box::new(intent));
        t
    }

    /// A refinement a handler returned with its output (kept on the object between
    /// the execute record and this cycle): authorised as `mutate`, then applied.
    pub(super) fn handler_refinement(&self) -> Result<Option<Box<Transition>>> {
        let Some((from_state, then)) = &self.obj.scratch.refinement else { return Ok(None) };
        let policy = self.authorize_mutation("refinement");
        if policy.as_ref().is_some_and(|p| p.decision == crate::PolicyDecision::Deny) {
            return Ok(None);
        }
        let (intent, mut change) = refine(&self.obj.intent, then)?;
        change["refinement"] = json!(from_state);
        let next = then.get("Goto").and_then(Value::as_str).map_or_else(|| self.obj.state.clone(), str::to_owned);
        Ok(Some(self.intent_mutate(intent, change, next, policy)))
    }

    /// `$$.History`: what the rules can read about the execution so far.
    fn history_json(&self) -> Value {
        match self.obj.history() {
            Ok(h) => h.to_json(
                self.hops(),
                self.now.saturating_sub(self.p.start_ms),
                self.obj.ordinal(self.obj.next_seq()) as usize,
                self.obj.intent.revision(),
            ),
            Err(_) => Value::Null,
        }
    }

    /// The first rule that has not fired yet and whose `When` holds, applied; `None`
    /// when no rule fires. At a pending error only rules with a `Goto` may fire (they
    /// lead away from the error); the others wait for the next state.
    pub(super) fn adapt(&self, at_error: bool) -> Result<Option<Box<Transition>>> {
        let plan = self.obj.intent.plan();
        if plan.adapt.is_empty() {
            return Ok(None);
        }
        let fired = &self.obj.history()?.fired;
        let Some(state) = crate::intent::find_state(&plan.machine, &self.obj.state) else { return Ok(None) };
        let build = || {
            let mut ctx = context_object(self.obj, state, self.p, self.now, self.node.key.as_ref());
            ctx["History"] = self.history_json();
            ctx
        };
        let make_seed = || seed(self.obj, &state.name);
        let env =
            Env::lazy(build, make_seed).metered(&self.work).with_variables(&self.obj.variables).with_now(self.now);
        for (i, rule) in plan.adapt.iter().enumerate() {
            let key = rule.name.clone().unwrap_or_else(|| format!("#{i}"));
            if fired.contains(&key) || (at_error && rule.then.goto.is_none()) {
                continue;
            }
            // A condition that cannot be evaluated (a path that selects nothing) does not hold.
            let holds = asl::rule_matches(&rule.when, &self.obj.data, &env).unwrap_or(false);
            if self.work.exhausted() {
                // Rules too costly to evaluate end the object, as a state that is.
                return Ok(Some(self.terminate_failed(&state.name, self.located(state, self.work.failure()))));
            }
            if !holds {
                continue;
            }
            let policy = self.authorize_mutation("adapt");
            if policy.as_ref().is_some_and(|p| p.decision == crate::PolicyDecision::Deny) {
                // This node may not change the intent; the rule stays unfired for
                // another node to apply.
                continue;
            }
            let then = &self.obj.intent.document()["Adapt"][i]["Then"];
            let (intent, mut change) =
                refine(&self.obj.intent, then).map_err(|e| e.in_field(format!("Adapt[{i}].Then")))?;
            change["adapt"] = json!(key);
            let next = rule.then.goto.clone().unwrap_or_else(|| self.obj.state.clone());
            let t = self.intent_mutate(intent, change, next, policy);
            return Ok(Some(t));
        }
        Ok(None)
    }
}
