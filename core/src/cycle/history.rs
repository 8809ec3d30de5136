//! What the memory says about the whole execution: visited domains, failures and
//! attempts per state, fired `Adapt` rules. Read from the memory once, then updated
//! record by record; computed only when policy or `Adapt` needs it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::{Body, MutateKind, Object, Record, Result};

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct History {
    /// Domains of the nodes that wrote records (the genesis writer included).
    pub domains: BTreeSet<String>,
    /// Failed attempts per state.
    pub failures: BTreeMap<String, u32>,
    /// Attempts (executions) per state.
    pub attempts: BTreeMap<String, u32>,
    /// `Adapt` rules that have fired (by name, or `#<index>`).
    pub fired: BTreeSet<String>,
}

impl History {
    pub(crate) fn from_memory(obj: &Object) -> Result<History> {
        let mut h = obj.base.as_ref().map(|b| b.summary.history()).unwrap_or_default();
        for r in &obj.memory {
            h.add(&r.decode()?);
        }
        Ok(h)
    }

    pub(crate) fn add(&mut self, r: &Record) {
        // A checkpoint is bookkeeping: the history reads the same with or without one.
        if matches!(r.body, Body::Checkpoint { .. }) {
            return;
        }
        if !r.node.domain.is_empty() && !self.domains.contains(&r.node.domain) {
            self.domains.insert(r.node.domain.clone());
        }
        match &r.body {
            Body::Execute { error, .. } => {
                bump(&mut self.attempts, &r.state);
                if error.is_some() {
                    bump(&mut self.failures, &r.state);
                }
            }
            Body::Reentry { cause: crate::ReentryCause::Timeout | crate::ReentryCause::Failure, .. } => {
                bump(&mut self.failures, &r.state);
            }
            Body::Mutate { kind: MutateKind::Intent, change: Some(c), .. } => {
                if let Ok(v) = serde_json::from_str::<Value>(c)
                    && let Some(rule) = v.get("adapt").and_then(Value::as_str)
                {
                    self.fired.insert(rule.to_owned());
                }
            }
            _ => {}
        }
    }

    /// `$$.History` as `Adapt` rules read it.
    pub(crate) fn to_json(&self, hops: u32, elapsed_ms: i64, records: usize, revision: u32) -> Value {
        json!({
            "Failures": self.failures,
            "Attempts": self.attempts,
            "Domains": self.domains,
            "Hops": hops,
            "ElapsedMs": elapsed_ms,
            "Records": records,
            "Revision": revision,
        })
    }
}

fn bump(counts: &mut BTreeMap<String, u32>, state: &str) {
    let c = counts.entry(state.to_owned()).or_default();
    *c = c.saturating_add(1);
}
