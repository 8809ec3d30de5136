//! The cycle's checks of authority and bounds: node and object policies (Cedar),
//! policy references, and `Constraints`.

use super::*;
use crate::PolicyDecision;
use crate::policy::{ObjectFacts, Prepared};

/// The error name of a refused or impossible delegation and of a domain breach.
pub const POLICY_ERROR: &str = "peo.Policy";
pub const DOMAIN_ERROR: &str = "peo.DomainNotAllowed";
pub const BOUND_ERROR: &str = "peo.BoundExceeded";

impl Cx<'_> {
    /// Whether any policy applies to this object at this node.
    fn governed(&self) -> bool {
        let c = &self.obj.context;
        self.node.policy.is_some() || !c.policies().is_empty() || !c.policy_refs().is_empty()
    }

    /// The object-side facts, computing only the fields the policies read.
    fn facts(&self, advised: bool, mutation: &str, mask: u32) -> ObjectFacts {
        let c = &self.obj.context;
        let need = |f: &str| crate::policy::needs(mask, f);
        // Who the object acts for and where it has been: as the verification that
        // admitted it vouched (a claim no trusted signature backs is not believed), else,
        // for an object no verification admitted, as it claims.
        let (principal, domains) = match &self.obj.scratch.vouched {
            Some((principal, vouched)) => {
                let principal = principal.clone().unwrap_or_else(|| "anonymous".into());
                let domains = match vouched {
                    Some(d) if need("domains") => {
                        let mut d = d.clone();
                        if self.obj.scratch.visit_open && !d.contains(&self.node.domain) {
                            d.push(self.node.domain.clone());
                            d.sort();
                        }
                        d
                    }
                    _ => self.claimed_domains(need("domains")),
                };
                (principal, domains)
            }
            None => (
                c.originator
                    .subject
                    .clone()
                    .or_else(|| c.originator.key.map(|k| k.to_hex()))
                    .unwrap_or_else(|| "anonymous".into()),
                self.claimed_domains(need("domains")),
            ),
        };
        let (unsigned_records, untrusted_records) = self.obj.scratch.trust_counts.unwrap_or((0, 0));
        let text = |v: Option<&str>, f: &str| if need(f) { v.unwrap_or_default().to_owned() } else { String::new() };
        ObjectFacts {
            principal,
            class: text(self.obj.intent.class(), "class"),
            objective: text(self.obj.intent.objective(), "objective"),
            state: text(Some(&self.obj.state), "state"),
            attempts: self.p.attempts,
            advised,
            mutation: mutation.to_owned(),
            labels: if need("labels") { c.labels().to_vec() } else { Vec::new() },
            attributes: if need("attributes") { pairs(c.attributes()) } else { Vec::new() },
            facts: if need("facts") { pairs(&self.node.facts) } else { Vec::new() },
            hops: self.hops(),
            age_ms: self.now.saturating_sub(self.p.start_ms),
            domains,
            unsigned_records,
            untrusted_records,
            node_id: self.node.id.clone(),
            node_domain: text(Some(&self.node.domain), "node_domain"),
        }
    }

    fn claimed_domains(&self, needed: bool) -> Vec<String> {
        match self.obj.history() {
            Ok(h) if needed => h.domains.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn prepare(&self, advised: bool, mutation: &str) -> Prepared {
        let c = &self.obj.context;
        let carried = || c.policies().iter().map(|p| (p.id.clone(), p.text.clone())).collect();
        let ready = match &self.node.policy {
            Some(np) => np.combined(self.obj.context_hash, c.policy_refs(), carried),
            None => crate::policy::object_only(self.obj.context_hash, carried),
        };
        let mask = ready.as_ref().as_ref().map_or(0, |r| r.mask);
        crate::policy::prepared(self.facts(advised, mutation, mask), ready, self.obj.context_hash)
    }

    /// The visit this cycle belongs to (1 for the first node after genesis).
    pub(super) fn hops(&self) -> u32 {
        self.visit_number()
    }

    /// Authorises `action`; `None` when no policy applies here (allowed, nothing to
    /// record).
    pub(super) fn authorize(&self, action: PolicyAction, capability: Option<&str>) -> Option<PolicyOutcome> {
        if !self.governed() {
            return None;
        }
        let prepared = self.prepared.get_or_init(|| self.prepare(false, ""));
        Some(self.evaluate_policy(prepared, action, capability))
    }

    /// Authorises an action an advisor proposed (`context.advised` is true).
    pub(super) fn authorize_advice(&self, action: PolicyAction, capability: Option<&str>) -> Option<PolicyOutcome> {
        if !self.governed() {
            return None;
        }
        Some(self.evaluate_policy(&self.prepare(true, ""), action, capability))
    }

    /// Authorises a `mutate`, telling policy what it changes (`context.mutation`: `adapt`,
    /// `refinement` or `narrowing`).
    pub(super) fn authorize_mutation(&self, mutation: &str) -> Option<PolicyOutcome> {
        if !self.governed() {
            return None;
        }
        Some(self.evaluate_policy(&self.prepare(false, mutation), PolicyAction::Mutate, None))
    }

    fn evaluate_policy(&self, prepared: &Prepared, action: PolicyAction, capability: Option<&str>) -> PolicyOutcome {
        prepared.authorize(action, capability)
    }

    /// The object leaves for a node with `capability`; if policy forbids this node to
    /// pass it on, it ends `rejected` instead.
    pub(super) fn delegate(
        &self,
        state: &State,
        reason: DelegateReason,
        capability: &str,
        why: Option<PolicyOutcome>,
    ) -> Box<Transition> {
        let allowed = self.authorize(PolicyAction::Delegate, Some(capability));
        if let Some(p) = allowed.as_ref().filter(|p| p.decision == PolicyDecision::Deny) {
            return self.rejected(
                &state.name,
                p.clone(),
                format!("policy forbids node `{}` to delegate the object", self.node.id),
            );
        }
        let capability = Some(capability.to_owned());
        let mut t = self.leave(
            Body::Delegate { reason, capability: capability.clone(), target: None, children: Vec::new() },
            &state.name,
            state.name.clone(),
            Status::Running,
            None,
            Disposition::Delegate { reason, capability, target: None },
        );
        t.record.policy = why.or(allowed);
        t
    }

    /// `terminate` with status `rejected`, naming the deciding policies.
    pub(super) fn rejected(&self, state: &str, policy: PolicyOutcome, cause: String) -> Box<Transition> {
        let cause = if policy.policies.is_empty() {
            cause
        } else {
            format!("{cause} (policies: {})", policy.policies.join(", "))
        };
        let error = TaskError { error: POLICY_ERROR.into(), cause: Some(cause) };
        let disposition =
            Disposition::Terminated { status: Status::Rejected, output: None, error: Some(error.clone()) };
        let mut t = self.leave(
            Body::Terminate { status: Status::Rejected, output: None, error: Some(error) },
            state,
            String::new(),
            Status::Rejected,
            None,
            disposition,
        );
        t.record.policy = Some(policy);
        t
    }

    fn ended(&self, status: Status, error: &str, cause: String) -> Box<Transition> {
        let error = TaskError { error: error.into(), cause: Some(cause) };
        let disposition = Disposition::Terminated { status, output: None, error: Some(error.clone()) };
        self.leave(
            Body::Terminate { status, output: None, error: Some(error) },
            &self.obj.state,
            String::new(),
            status,
            None,
            disposition,
        )
    }

    /// `Constraints` and the execution's deadline: a breach ends the object.
    pub(super) fn constraints(&self) -> Option<Box<Transition>> {
        let c = self.obj.intent.constraints();
        if let Some(d) = deadline(self.obj, self.p)
            && self.now >= d
        {
            let cause = format!(
                "the execution expired at {} (TimeoutSeconds / Constraints.Deadline)",
                asl::format_timestamp(d)
            );
            return Some(self.ended(Status::Expired, errors::TIMEOUT, cause));
        }
        if let Some(domains) = &c.allowed_domains
            && !domains.contains(&self.node.domain)
        {
            let cause = format!(
                "node `{}` is in domain `{}`, outside Constraints.AllowedDomains ({})",
                self.node.id,
                self.node.domain,
                domains.join(", ")
            );
            return Some(self.ended(Status::Rejected, DOMAIN_ERROR, cause));
        }
        if let Some(max) = c.max_hops
            && self.hops() > max
        {
            let cause = format!("visit {} exceeds Constraints.MaxHops ({max})", self.hops());
            return Some(self.ended(Status::Expired, BOUND_ERROR, cause));
        }
        let written = self.obj.ordinal(self.obj.next_seq());
        if let Some(max) = c.max_records
            && written >= max
        {
            let cause = format!("the object has written {written} records: Constraints.MaxRecords is {max}");
            return Some(self.ended(Status::Expired, BOUND_ERROR, cause));
        }
        None
    }

    /// The first cycle of a visit: may this node act on the object at all?
    pub(super) fn visit_check(&self) -> Result<Option<Box<Transition>>> {
        if !self.governed() || matches!(self.p.pending, Pending::Done) {
            return Ok(None);
        }
        let refs = self.obj.context.policy_refs();
        let unresolved: Vec<&String> = match &self.node.policy {
            Some(np) => refs.iter().filter(|r| !np.resolves(r)).collect(),
            None => refs.iter().collect(),
        };
        if !unresolved.is_empty() {
            // The node may not act: it passes the object on.
            let state = state_of(self.obj, &self.obj.state)?;
            let capability = match &state.kind {
                StateKind::Task(t) => t.resource.clone(),
                _ => String::new(),
            };
            let mut t = self.leave(
                Body::Delegate {
                    reason: DelegateReason::Unresolved,
                    capability: (!capability.is_empty()).then(|| capability.clone()),
                    target: None,
                    children: Vec::new(),
                },
                &state.name,
                state.name.clone(),
                self.obj.status,
                None,
                Disposition::Delegate {
                    reason: DelegateReason::Unresolved,
                    capability: (!capability.is_empty()).then_some(capability),
                    target: None,
                },
            );
            t.record.policy = Some(PolicyOutcome {
                decision: PolicyDecision::Deny,
                policies: Vec::new(),
                errors: unresolved.iter().map(|r| format!("unresolved policy reference `{r}`")).collect(),
            });
            return Ok(Some(t));
        }
        if let Some(p) = self.authorize(PolicyAction::Visit, None)
            && p.decision == PolicyDecision::Deny
        {
            let by = if p.policies.is_empty() {
                "no policy permits it".to_owned()
            } else {
                format!("denied by {}", p.policies.join(", "))
            };
            return Err(Error::policy(format!("node `{}` may not act on this object: {by}", self.node.id))
                .in_state(self.obj.state.clone()));
        }
        Ok(None)
    }
}

/// `key=value` for every top-level string, number and boolean of a JSON object.
fn pairs(v: &Value) -> Vec<String> {
    let Some(m) = v.as_object() else { return Vec::new() };
    m.iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some(format!("{k}={s}")),
            Value::Number(n) => Some(format!("{k}={n}")),
            Value::Bool(b) => Some(format!("{k}={b}")),
            _ => None,
        })
        .collect()
}
