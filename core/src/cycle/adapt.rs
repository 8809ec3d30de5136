//! `Adapt`: the intent refines itself from its history. A rule `{When, Then}` whose
//! condition holds fires once: one `mutate` record (kind `intent`) carries the new
//! revision and the change, and the object continues under the new intent.

use super::*;
use crate::Intent;

impl Cx<'_> {
    /// `$$.History`: what the rules can read about the execution so far.
    fn history_json(&self) -> Value {
        match self.obj.history() {
            Ok(h) => h.to_json(
                self.hops(),
                self.now.saturating_sub(self.p.start_ms),
                self.obj.memory.len(),
                self.obj.intent.revision(),
            ),
            Err(_) => Value::Null,
        }
    }

    /// The first rule that has not fired yet and whose `When` holds, applied; `None`
    /// when no rule fires. At a pending error only rules with a `Goto` may fire (they
    /// lead away from the error); the others wait for the next state.
    pub(super) fn adapt(&self, at_error: bool) -> Result<Option<Transition>> {
        let plan = self.obj.intent.plan();
        if plan.adapt.is_empty() {
            return Ok(None);
        }
        let fired = &self.obj.history()?.fired;
        let Some(state) = crate::intent::find_state(&plan.machine, &self.obj.state) else { return Ok(None) };
        let build = || {
            let mut ctx = context_object(self.obj, state, self.p, self.now);
            ctx["History"] = self.history_json();
            ctx
        };
        let make_seed = || seed(self.obj, &state.name);
        let env = Env::lazy(&build, &make_seed);
        for (i, rule) in plan.adapt.iter().enumerate() {
            let key = rule.name.clone().unwrap_or_else(|| format!("#{i}"));
            if fired.contains(&key) || (at_error && rule.then.goto.is_none()) {
                continue;
            }
            // A condition that cannot be evaluated (a path that selects nothing) does not hold.
            if !asl::rule_matches(&rule.when, &self.obj.data, &env).unwrap_or(false) {
                continue;
            }
            let policy = self.authorize(PolicyAction::Mutate, None);
            if policy.as_ref().is_some_and(|p| p.decision == crate::PolicyDecision::Deny) {
                // This node may not change the intent; the rule stays unfired for
                // another node to apply.
                continue;
            }
            let then = &self.obj.intent.document()["Adapt"][i]["Then"];
            let mut doc = self.obj.intent.document().clone();
            for field in ["Objective", "Class", "Constraints"] {
                if let Some(v) = then.get(field) {
                    doc[field] = v.clone();
                }
            }
            let mut added = Vec::new();
            if let Some(Value::Object(states)) = then.get("States") {
                for (name, def) in states {
                    doc["States"][name.as_str()] = def.clone();
                    added.push(name.clone());
                }
            }
            let revision = self.obj.intent.revision() + 1;
            let intent = Intent::at_revision(doc, revision, &crate::Limits::default())
                .map_err(|e| e.in_field(format!("Adapt[{i}].Then")))?;
            let change = json!({
                "adapt": key,
                "objective": then.get("Objective"),
                "class": then.get("Class"),
                "constraints": then.get("Constraints"),
                "states": added,
                "goto": rule.then.goto,
            });
            let next = rule.then.goto.clone().unwrap_or_else(|| self.obj.state.clone());
            let mut t = self.stay(
                Body::Mutate { kind: MutateKind::Intent, revision, change: Some(cjson::canonical(&change)) },
                &self.obj.state,
                next,
                None,
            );
            t.record.intent_hash = Some(intent.hash());
            t.record.policy = policy;
            t.intent = Some(intent);
            return Ok(Some(t));
        }
        Ok(None)
    }
}
