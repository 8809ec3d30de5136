//! Advisors: optional cognition. A proposal (an action with a confidence and a
//! rationale) is checked for validity and authorised like any action; a proposal that
//! is invalid or forbidden is overridden, whatever its confidence, and the record of
//! what the node did instead says so.

use super::*;
use crate::{Action, Advice, PolicyDecision};

/// An advisor's proposal for the current cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// `Execute`, `Delegate` or `Terminate`.
    pub action: Action,
    /// The capability (execute, delegate) or a node hint (delegate).
    pub target: Option<String>,
    pub confidence: f32,
    pub rationale: String,
}

/// What the cycle made of a proposal.
#[allow(clippy::large_enum_variant)] // moved once, right away
pub(super) enum Verdict {
    /// Follow it: this decision carries the advice.
    Follow(Decision),
    /// Do what the plan says; its record holds the advice (followed when it agreed,
    /// overridden otherwise).
    Annotate(Advice),
}

impl Proposal {
    /// A proposal from its JSON form, the one every binding accepts:
    /// `{"action": "execute" | "delegate" | "terminate", "target": ..., "confidence": 0.0-1.0,
    /// "rationale": ...}` (only `action` is required; confidence defaults to 1).
    pub fn from_json(v: &Value) -> Result<Proposal> {
        let obj = v.as_object().ok_or_else(|| {
            Error::invalid_argument("a proposal must be a JSON object such as {\"action\": \"delegate\"}")
        })?;
        for k in obj.keys() {
            if !matches!(k.as_str(), "action" | "target" | "confidence" | "rationale") {
                return Err(Error::invalid_argument(format!(
                    "unknown proposal field `{k}` (allowed: action, target, confidence, rationale)"
                )));
            }
        }
        let action = match obj.get("action").and_then(Value::as_str) {
            Some("execute") => Action::Execute,
            Some("delegate") => Action::Delegate,
            Some("terminate") => Action::Terminate,
            _ => {
                return Err(Error::invalid_argument(
                    "a proposal's `action` must be \"execute\", \"delegate\" or \"terminate\"",
                ));
            }
        };
        let target = match obj.get("target") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(Error::invalid_argument("a proposal's `target` must be a string")),
        };
        let confidence = match obj.get("confidence") {
            None | Some(Value::Null) => 1.0,
            Some(c) => match c.as_f64() {
                Some(c) if (0.0..=1.0).contains(&c) => c as f32,
                _ => return Err(Error::invalid_argument("a proposal's `confidence` must be a number from 0 to 1")),
            },
        };
        let rationale = match obj.get("rationale") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(Error::invalid_argument("a proposal's `rationale` must be a string")),
        };
        Ok(Proposal { action, target, confidence, rationale })
    }

    /// The JSON form [`Proposal::from_json`] reads.
    pub fn to_json(&self) -> Value {
        crate::forms::value(&crate::forms::ProposalForm {
            action: self.action,
            target: self.target.clone(),
            confidence: Some(self.confidence),
            rationale: Some(self.rationale.clone()),
        })
    }

    fn advice(&self, followed: bool, override_reason: Option<String>) -> Advice {
        Advice {
            action: self.action,
            target: self.target.clone(),
            confidence: self.confidence,
            rationale: self.rationale.clone(),
            followed,
            override_reason,
        }
    }
}

impl Cx<'_> {
    pub(super) fn judge(&self, state: &State, p: &Proposal) -> Verdict {
        let overridden = |why: String| Verdict::Annotate(p.advice(false, Some(why)));
        let denied = |o: &PolicyOutcome| {
            if o.policies.is_empty() {
                "no policy permits it".to_owned()
            } else {
                format!("forbidden by {}", o.policies.join(", "))
            }
        };
        let resource = match &state.kind {
            StateKind::Task(t) => Some(t.resource.as_str()),
            _ => None,
        };
        match p.action {
            Action::Execute => {
                let Some(cap) = resource else {
                    return overridden(format!("state `{}` is a {}, not a Task", state.name, state.type_name()));
                };
                if p.target.as_deref().is_some_and(|t| t != cap) {
                    return overridden(format!(
                        "the state's capability is `{cap}`, not `{}`",
                        p.target.as_deref().unwrap_or("")
                    ));
                }
                if !self.node.has(cap) {
                    return overridden(format!("node `{}` has no capability `{cap}`", self.node.id));
                }
                match self.authorize_advice(PolicyAction::Execute, Some(cap)) {
                    Some(o) if o.decision == PolicyDecision::Deny => overridden(denied(&o)),
                    // Following it is what the plan does anyway: the evaluation records it.
                    _ => overridden_none(p),
                }
            }
            Action::Delegate => {
                let Some(cap) = resource else {
                    return overridden(format!(
                        "state `{}` is a {}: nothing to delegate",
                        state.name,
                        state.type_name()
                    ));
                };
                match self.authorize_advice(PolicyAction::Delegate, Some(cap)) {
                    Some(o) if o.decision == PolicyDecision::Deny => overridden(denied(&o)),
                    outcome => {
                        let capability = Some(cap.to_owned());
                        let mut t = self.leave(
                            Body::Delegate {
                                reason: DelegateReason::Advice,
                                capability: capability.clone(),
                                target: p.target.clone(),
                                children: Vec::new(),
                            },
                            &state.name,
                            state.name.clone(),
                            Status::Running,
                            None,
                            Disposition::Delegate {
                                reason: DelegateReason::Advice,
                                capability,
                                target: p.target.clone(),
                            },
                        );
                        t.record.policy = outcome;
                        t.record.advice = Some(p.advice(true, None));
                        Verdict::Follow(Decision::record(t))
                    }
                }
            }
            Action::Terminate => match self.authorize_advice(PolicyAction::Terminate, None) {
                Some(o) if o.decision == PolicyDecision::Allow => {
                    let error = TaskError { error: ADVISED_TERMINATION.into(), cause: Some(p.rationale.clone()) };
                    let disposition =
                        Disposition::Terminated { status: Status::Failed, output: None, error: Some(error.clone()) };
                    let mut t = self.leave(
                        Body::Terminate { status: Status::Failed, output: None, error: Some(error) },
                        &state.name,
                        String::new(),
                        Status::Failed,
                        None,
                        disposition,
                    );
                    t.record.policy = Some(o);
                    t.record.advice = Some(p.advice(true, None));
                    Verdict::Follow(Decision::record(t))
                }
                Some(o) => overridden(denied(&o)),
                None => {
                    overridden("ending an object needs a policy that permits `terminate`; this node has none".into())
                }
            },
            other => {
                overridden(format!("an advisor may propose execute, delegate or terminate, not {}", other.as_str()))
            }
        }
    }
}

/// The error of an object ended on an advisor's proposal.
pub const ADVISED_TERMINATION: &str = "peo.AdvisedTermination";

/// An execute proposal that agrees with the plan: followed, recorded with the execution.
fn overridden_none(p: &Proposal) -> Verdict {
    Verdict::Annotate(p.advice(true, None))
}
