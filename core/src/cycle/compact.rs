//! The cycle's side of compaction: when to write a checkpoint (crate::checkpoint says
//! what it holds).

use super::{Cx, Transition};
use crate::policy::PolicyAction;
use crate::{PolicyDecision, Result, Status};

impl Cx<'_> {
    /// A checkpoint, when the plan's `Compaction` (or the node's default) asks for one
    /// here. Legal only where the state is about to be evaluated (no retry, wait or join
    /// is pending, no fan-out under way) and no intent change is among the records kept; a node whose policy
    /// forbids `compact` goes on without one.
    pub(super) fn compaction(&self) -> Result<Option<Box<Transition>>> {
        let obj = self.obj;
        let Some(c) = obj.intent.plan().compaction.or(self.node.compaction) else { return Ok(None) };
        let n = obj.memory.len();
        if n <= c.after as usize || obj.status != Status::Running || obj.version < 2 {
            return Ok(None);
        }
        // Not in the middle of a fan-out: its launches and batches stay in the memory
        // until it joins.
        if !obj.results.is_empty() || super::fanout::fan_out_launched(obj) > 0 {
            return Ok(None);
        }
        let keep_from = n - c.keep as usize;
        if obj.memory[keep_from..].iter().any(|r| r.meta.intent_hash.is_some()) {
            return Ok(None);
        }
        // Nothing to fold (every record past `Keep` is this visit's): no policy request,
        // so a long visit does not pay one per cycle.
        let visit = self.visit_number();
        if crate::checkpoint::foldable(obj, c.keep, visit) == 0 {
            return Ok(None);
        }
        let policy = self.authorize(PolicyAction::Compact, None);
        if policy.as_ref().is_some_and(|p| p.decision == PolicyDecision::Deny) {
            return Ok(None);
        }
        let Some(body) = crate::checkpoint::checkpoint_body(obj, c.keep, visit)? else { return Ok(None) };
        let mut t = self.stay(body, &obj.state, obj.state.clone(), None);
        t.record.policy = policy;
        // The node that folds the records vouches for the summary with its own signature.
        t.record.signed = self.node.key.is_some();
        Ok(Some(t))
    }
}
