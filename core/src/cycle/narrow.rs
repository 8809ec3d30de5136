//! Narrowing the context while running: labels, carried policies and policy references
//! may be added, never removed or changed. Each narrowing is one `mutate` record (kind
//! `context`), authorised as `mutate`.

use super::*;
use crate::Context;

/// Checks that `new` only narrows `old`: the same originator and attributes, and every
/// label, policy and policy reference of `old` still there.
fn narrows(old: &Context, new: &Context) -> std::result::Result<Value, String> {
    if old.originator != new.originator {
        return Err("the originator cannot change".into());
    }
    if old.attributes() != new.attributes() {
        return Err("attributes cannot change while running".into());
    }
    let missing_label = old.labels().iter().find(|l| !new.labels().contains(l));
    if let Some(l) = missing_label {
        return Err(format!("label `{l}` would be removed"));
    }
    for p in old.policies() {
        if !new.policies().contains(p) {
            return Err(format!("policy `{}` would be removed or changed", p.id));
        }
    }
    if let Some(r) = old.policy_refs().iter().find(|r| !new.policy_refs().contains(r)) {
        return Err(format!("policy reference `{r}` would be removed"));
    }
    let labels: Vec<&String> = new.labels().iter().filter(|l| !old.labels().contains(l)).collect();
    let policies: Vec<&String> = new.policies().iter().filter(|p| !old.policies().contains(p)).map(|p| &p.id).collect();
    let refs: Vec<&String> = new.policy_refs().iter().filter(|r| !old.policy_refs().contains(r)).collect();
    Ok(json!({"labels": labels, "policies": policies, "policy_refs": refs}))
}

/// The `mutate` (kind `context`) that narrows `obj`'s context to `new` at `node`.
/// Widening is a `Policy` error; a node whose policy forbids `mutate` gets a `Policy`
/// error too. The object is unchanged in both cases.
pub fn narrow(obj: &Object, node: &NodeSpec, now_ms: i64, new: Context) -> Result<Box<Transition>> {
    if obj.status.is_terminal() {
        return Err(Error::terminated("the object has already terminated"));
    }
    let change = narrows(&obj.context, &new)
        .map_err(|why| Error::policy(format!("a context can only be narrowed while running: {why}")))?;
    for p in new.policies() {
        crate::policy::check_carried(&p.id, &p.text).map_err(Error::invalid_argument)?;
    }
    let p = obj.progress()?;
    let cx = Cx::new(obj, node, now_ms, p);
    // A narrowing that opens a visit is subject to the visit's own check first.
    if !obj.scratch.visit_open && cx.visit_check()?.is_some() {
        return Err(Error::policy(format!(
            "node `{}` cannot resolve the object's policy references, so it may not act on it",
            node.id
        )));
    }
    let policy = cx.authorize_mutation("narrowing");
    if let Some(o) = policy.as_ref().filter(|o| o.decision == crate::PolicyDecision::Deny) {
        return Err(Error::policy(format!(
            "node `{}` may not change the context: denied by {}",
            node.id,
            if o.policies.is_empty() { "default".to_owned() } else { o.policies.join(", ") }
        )));
    }
    let hash = new.hash();
    let mut t = cx.stay(
        Body::Mutate {
            kind: MutateKind::Context,
            revision: obj.intent.revision(),
            change: Some(cjson::canonical(&change)),
        },
        &obj.state,
        obj.state.clone(),
        None,
    );
    t.record.status = obj.status;
    t.record.context_hash = Some(hash);
    t.record.policy = policy;
    t.context = Some(Box::new(new));
    Ok(t)
}

impl Object {
    /// Narrows the context (adds labels, carried policies or policy references) with a
    /// `mutate` record written by `node`.
    pub fn narrow_context(&mut self, node: &NodeSpec, now_ms: i64, new: Context) -> Result<()> {
        let t = narrow(self, node, now_ms, new)?;
        self.apply(t, node).map(|_| ())
    }
}
