//! Records as JSON: the readable form tools and every face show.

use super::*;

impl Record {
    /// A readable JSON view of the record; JSON payloads are shown as JSON.
    pub fn to_json(&self) -> Value {
        let payload = |s: &Option<String>| s.as_deref().map(parse_shown);
        let err = |e: &Option<TaskError>| e.as_ref().map(|e| json!({"error": e.error, "cause": e.cause}));
        let body = match &self.body {
            Body::Genesis { id, lineage, input } => json!({
                "id": id.to_hex(),
                "lineage": lineage_json(lineage),
                "input": parse_shown(input),
            }),
            Body::Execute { capability, attempt, idempotency_key, output, error } => json!({
                "capability": capability, "attempt": attempt, "idempotency_key": idempotency_key,
                "output": payload(output), "error": err(error),
            }),
            Body::Mutate { kind, revision, change } => json!({
                "kind": format!("{kind:?}").to_lowercase(), "revision": revision, "change": payload(change),
            }),
            Body::Delegate { reason, capability, target, children } => json!({
                "reason": format!("{reason:?}").to_lowercase(), "capability": capability, "target": target,
                "children": children.iter().map(|c| json!({
                    "id": c.id.to_hex(), "genesis_hash": c.genesis_hash.map(|h| h.to_hex()), "branch": c.branch,
                })).collect::<Vec<_>>(),
            }),
            Body::Dormant { reason, wake_at_ms, event, timeout_at_ms } => json!({
                "reason": format!("{reason:?}").to_lowercase(), "wake_at_ms": wake_at_ms, "event": event,
                "timeout_at_ms": timeout_at_ms,
            }),
            Body::Reentry { cause, event, payload: p } => json!({
                "cause": format!("{cause:?}").to_lowercase(), "event": event, "payload": payload(p),
            }),
            Body::Terminate { status, output, error } => json!({
                "status": status.as_str(), "output": payload(output), "error": err(error),
            }),
            Body::Checkpoint { pruned, base, frontier, summary, plan } => json!({
                "pruned": pruned, "base": base.map(|h| h.to_hex()),
                "frontier": frontier.iter().map(Hash::to_hex).collect::<Vec<_>>(),
                "summary": parse_shown(summary), "plan": payload(plan),
            }),
        };
        json!({
            "seq": self.seq,
            "visit": self.visit,
            "action": self.action().as_str(),
            "state": self.state,
            "next_state": self.next_state,
            "status": self.status.as_str(),
            "node": {"id": self.node.id, "domain": self.node.domain, "key": self.node.key.map(|k| k.to_hex())},
            "time_ms": self.time_ms,
            "policy": self.policy.as_ref().map(|p| json!({
                "decision": format!("{:?}", p.decision).to_lowercase(), "policies": p.policies, "errors": p.errors,
            })),
            "advice": self.advice.as_ref().map(|a| json!({
                "action": a.action.as_str(), "target": a.target, "confidence": a.confidence,
                "rationale": a.rationale, "followed": a.followed, "override_reason": a.override_reason,
            })),
            "intent_hash": self.intent_hash.map(|h| h.to_hex()),
            "context_hash": self.context_hash.map(|h| h.to_hex()),
            "data_hash": self.data_hash.map(|h| h.to_hex()),
            "variables_hash": self.variables_hash.map(|h| h.to_hex()),
            "assigned": self.assigned.as_deref().map(parse_shown),
            "signed": self.signed,
            "body": body,
        })
    }
}

pub(crate) fn lineage_json(l: &Lineage) -> Value {
    json!({
        "parent": l.parent.map(|p| p.to_hex()),
        "root": l.root.to_hex(),
        "generation": l.generation,
        "branch": l.branch,
        "fanout_state": l.fanout_state,
    })
}

/// Record payloads are canonical JSON; show them parsed (or as text if a writer
/// stored something else).
pub(super) fn parse_shown(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}
