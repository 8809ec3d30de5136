//! Bounds on untrusted input. Every decoder and entry point enforces them.

/// Configurable limits. The defaults suit objects exchanged between services; raise
/// them for unusually large plans or histories, lower them on constrained nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded object accepted by `Object::from_bytes` (default 16 MiB).
    pub max_object_bytes: usize,
    /// Most memory records an object may hold (default 100,000).
    pub max_records: usize,
    /// Largest single record, in bytes (default 1 MiB).
    pub max_record_bytes: usize,
    /// Largest JSON payload (data, input, attributes, outputs), in bytes (default 4 MiB).
    pub max_json_bytes: usize,
    /// Deepest nesting of arrays and objects in a JSON payload (default 64, at most 127).
    pub max_json_depth: usize,
    /// Largest intent plan (the ASL document), in bytes (default 1 MiB).
    pub max_plan_bytes: usize,
    /// Most states in a plan, counting nested branches (default 10,000).
    pub max_states: usize,
    /// Most child objects one fan-out (`Map` items, `Parallel` branches) may create
    /// (default 10,000): each is recorded in the parent, so a bound on them is a bound
    /// on the parent's records.
    pub max_children: usize,
    /// The work one cycle's evaluations may do, in units of about one byte of JSON read,
    /// copied or compared (default 256 Mi): paths, templates, intrinsic functions, Choice
    /// and `Adapt` rules, a fan-out's per-item selectors and plans all count. A state
    /// that needs more raises `States.Runtime`, so a hostile plan cannot hold a node's
    /// CPU for long (a Choice with thousands of rules over a large string, say).
    pub max_cycle_work: u64,
}

impl Limits {
    /// These limits with the JSON size bound raised to `max_plan_bytes`, for parsing
    /// an intent document.
    pub(crate) fn for_plan(&self) -> Limits {
        Limits { max_json_bytes: self.max_plan_bytes, ..self.clone() }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_object_bytes: 16 << 20,
            max_records: 100_000,
            max_record_bytes: 1 << 20,
            max_json_bytes: 4 << 20,
            max_json_depth: 64,
            max_plan_bytes: 1 << 20,
            max_states: 10_000,
            max_children: 10_000,
            max_cycle_work: 256 << 20,
        }
    }
}
