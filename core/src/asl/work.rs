//! The work one cycle may do: a budget across everything a state evaluates.
//!
//! Each expression and payload template already has its own materialisation budget
//! ([`super::intrinsics::MAX_INTRINSIC_BYTES`]), but a plan can hold many of them: a
//! Choice with thousands of rules comparing a large string, a path with `..` run once
//! per rule, a Map whose `ItemSelector` is evaluated once per item. The cycle counts
//! all of that against one budget ([`crate::Limits::max_cycle_work`]) in *units*, about
//! one per byte of JSON read, copied or compared, and stops the state with
//! `States.Runtime` when it is spent. The count is a pure function of the object and
//! the plan, so every node with the same limit decides the same.

use std::cell::Cell;

use serde_json::Value;

use super::Failure;

/// A cycle's work budget (see the module documentation).
#[derive(Debug)]
pub(crate) struct Work {
    used: Cell<u64>,
    limit: u64,
}

impl Work {
    pub(crate) fn new(limit: u64) -> Work {
        Work { used: Cell::new(0), limit }
    }

    /// A budget that never runs out (for evaluations outside a cycle).
    pub(crate) fn unmetered() -> Work {
        Work::new(u64::MAX)
    }

    /// Counts `units` of work; an error once the budget is spent.
    pub(crate) fn spend(&self, units: usize) -> Result<(), Failure> {
        self.used.set(self.used.get().saturating_add(units as u64));
        if self.exhausted() { Err(self.failure()) } else { Ok(()) }
    }

    /// Counts reading or copying `v`: its size, measured no further than the budget
    /// left (so that charging a huge value costs no more than the budget it exceeds).
    pub(crate) fn spend_value(&self, v: &Value) -> Result<(), Failure> {
        self.spend(size(v, self.remaining()).saturating_add(1))
    }

    pub(crate) fn exhausted(&self) -> bool {
        self.used.get() > self.limit
    }

    fn remaining(&self) -> usize {
        usize::try_from(self.limit.saturating_sub(self.used.get())).unwrap_or(usize::MAX)
    }

    /// The error a state raises when its cycle's budget is spent.
    pub(crate) fn failure(&self) -> Failure {
        Failure::runtime(format!(
            "The state's evaluation needs more than {} units of work in one cycle (about one per byte of JSON \
             read, copied or compared; Limits::max_cycle_work)",
            self.limit
        ))
    }
}

/// The size of `v`'s JSON text, roughly (strings unescaped), counting no further than
/// `limit`.
pub(crate) fn size(v: &Value, limit: usize) -> usize {
    let mut total = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total = total.saturating_add(match v {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 8,
            Value::String(s) => s.len() + 2,
            Value::Array(a) => 2 + a.len(),
            Value::Object(m) => 2 + m.keys().map(|k| k.len() + 4).sum::<usize>(),
        });
        if total > limit {
            break;
        }
        match v {
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(m) => stack.extend(m.values()),
            _ => {}
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn spending_past_the_limit_fails_and_stays_failed() {
        let w = Work::new(100);
        assert!(w.spend(60).is_ok());
        assert!(w.spend_value(&json!("0123456789")).is_ok());
        let e = w.spend(40).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert!(e.cause.contains("more than 100 units"), "{}", e.cause);
        assert!(w.exhausted());
        assert!(w.spend(0).is_err());
    }

    #[test]
    fn a_huge_value_is_measured_only_up_to_the_budget() {
        let w = Work::new(10);
        let big = Value::Array(vec![json!("x"); 1_000_000]);
        assert!(w.spend_value(&big).is_err());
        // The array's own length is counted, its items are not visited.
        assert_eq!(size(&big, 10), 1_000_002);
        assert_eq!(size(&json!({"a": "bc"}), 1_000), 2 + 5 + 4);
    }
}
