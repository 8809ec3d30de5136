//! States in the JSONata query language: what differs from JSONPath is where a state's
//! input, result and output come from (`Arguments`, `Output`, `$states`), not what the
//! cycle records (docs/intent.md#jsonata).

use super::assign;
use super::*;
use crate::asl::jsonata::{self as ja, States};

impl Cx<'_> {
    /// A JSONata state's output: its `Output` (or a rule's or a catcher's) evaluated
    /// with `st`, else `default`.
    pub(super) fn output(
        &self,
        spec: Option<&Value>,
        st: &States<'_>,
        env: &Env<'_>,
        default: Value,
    ) -> std::result::Result<Value, Failure> {
        match spec {
            Some(t) => ja::template(t, "Output", st, env),
            None => Ok(default),
        }
    }

    /// The record of a Choice state that chose `which` (a rule's index or `"Default"`).
    pub(super) fn chose(
        &self,
        name: &str,
        which: Value,
        next: String,
        data: Option<Value>,
        assigned: Option<assign::Assigned>,
    ) -> Decision {
        let body = Body::Mutate {
            kind: MutateKind::Route,
            revision: self.obj.intent.revision(),
            change: Some(cjson::canonical(&json!({"choice": which}))),
        };
        Decision::record(assign::commit(assigned, self.stay(body, name, next, data)))
    }

    /// Pass, Choice and Succeed states in JSONata; `None` for the others, which the
    /// JSONPath code runs with their JSONata fields (`Arguments`, `Seconds`, ...).
    pub(super) fn eval_jsonata(&self, state: &State, env: &Env<'_>) -> std::result::Result<Option<Decision>, Failure> {
        let raw = self.obj.data();
        let name = &state.name;
        let st = States { input: raw, result: None, error_output: None };
        Ok(Some(match &state.kind {
            StateKind::Pass(_) => {
                let assigned = self.assign(state, state.assign.as_ref(), raw, &st, env)?;
                let out = self.output(state.output.as_ref(), &st, env, raw.clone())?;
                payload_ok(&out, name)?;
                let t = self.stay(
                    Body::Mutate { kind: MutateKind::Data, revision: self.obj.intent.revision(), change: None },
                    name,
                    Self::next_of(state),
                    (&out != raw).then_some(out),
                );
                Decision::record(assign::commit(assigned, t))
            }
            StateKind::Choice(choice) => {
                let mut chosen = None;
                for (i, b) in choice.choices.iter().enumerate() {
                    if asl::rule_matches(&b.rule, raw, env)? {
                        chosen = Some((json!(i), b.next.clone(), b.assign.as_ref(), b.output.as_ref()));
                        break;
                    }
                }
                let (which, next, assign, output) = match (chosen, &choice.default) {
                    (Some(c), _) => c,
                    (None, Some(d)) => (json!("Default"), d.clone(), state.assign.as_ref(), state.output.as_ref()),
                    (None, None) => {
                        return Err(Failure::new(
                            errors::NO_CHOICE_MATCHED,
                            format!("No Matches! (state '{name}': no choice rule matched and there is no Default)"),
                        ));
                    }
                };
                let assigned = self.assign(state, assign, raw, &st, env)?;
                let out = self.output(output, &st, env, raw.clone())?;
                payload_ok(&out, name)?;
                self.chose(name, which, next, (&out != raw).then_some(out), assigned)
            }
            StateKind::Succeed => {
                let out = self.output(state.output.as_ref(), &st, env, raw.clone())?;
                payload_ok(&out, name)?;
                Decision::record(self.succeed(name, out))
            }
            _ => return Ok(None),
        }))
    }
}
