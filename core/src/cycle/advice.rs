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
                        Verdict::Follow(Decision::Record(t))
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
                    Verdict::Follow(Decision::Record(t))
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
