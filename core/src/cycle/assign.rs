//! Workflow variables: a state's `Assign`, evaluated when the state completes, and
//! recorded by the record that completes it (docs/intent.md#variables).
//!
//! Every value is computed from the variables as they were when the state was entered
//! (the environment reads the object's variables, which change only when the record is
//! applied), so `{"a.$": "$b", "b.$": "$a"}` swaps two variables.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Cx, Transition};
use crate::asl::{self, Env, Failure, errors};
use crate::intent::{QueryLanguage, State};
use crate::{Hash, json as cjson};

/// The most a variable's value, and an `Assign`'s values together, may take as JSON.
pub const MAX_VARIABLE_BYTES: usize = 256 * 1024;
/// The most all the variables of an object may take together as JSON.
pub const MAX_VARIABLES_BYTES: usize = 10 * 1024 * 1024;

/// What an `Assign` set: the values it assigned and the variables in force after it.
pub(super) struct Assigned {
    values: Map<String, Value>,
    variables: Arc<Map<String, Value>>,
    text: String,
}

impl Assigned {
    /// Makes `t` record the assignment: its record commits the variables' hash and
    /// shows what was assigned, and applying it sets the variables.
    pub(super) fn commit(self, t: &mut Transition) {
        t.record.variables_hash = Some(Hash::variables(&self.text));
        t.record.assigned = Some(cjson::canonical(&Value::Object(self.values)));
        t.variables = Some((self.variables, self.text));
    }
}

fn too_large(what: String) -> Failure {
    Failure::new(errors::DATA_LIMIT_EXCEEDED, what)
}

impl Cx<'_> {
    /// Evaluates `spec`, a state's (or a rule's, or a catcher's) `Assign`, in the state's
    /// query language: in JSONPath with `dollar` as `$`, in JSONata with `st` as
    /// `$states`. `None` when there is nothing to assign.
    pub(super) fn assign(
        &self,
        state: &State,
        spec: Option<&Value>,
        dollar: &Value,
        st: &asl::jsonata::States<'_>,
        env: &Env<'_>,
    ) -> std::result::Result<Option<Assigned>, Failure> {
        let Some(spec) = spec else { return Ok(None) };
        let values = match state.query_language {
            QueryLanguage::JsonPath => asl::template(spec, dollar, env)?,
            QueryLanguage::Jsonata => asl::jsonata::template(spec, "Assign", st, env)?,
        };
        let Value::Object(values) = values else {
            return Err(Failure::runtime("`Assign` must evaluate to an object"));
        };
        if values.is_empty() {
            return Ok(None);
        }
        self.assigned(values).map(Some)
    }

    /// The variables after `values` are assigned, within the limits.
    fn assigned(&self, values: Map<String, Value>) -> std::result::Result<Assigned, Failure> {
        for (name, v) in &values {
            if !asl::fits(v, MAX_VARIABLE_BYTES) {
                return Err(too_large(format!(
                    "The variable '{name}' would hold more than {MAX_VARIABLE_BYTES} bytes of JSON, the most a variable may hold."
                )));
            }
        }
        let whole = Value::Object(values);
        if !asl::fits(&whole, MAX_VARIABLE_BYTES) {
            return Err(too_large(format!(
                "The values assigned by this state take more than {MAX_VARIABLE_BYTES} bytes of JSON, the most one Assign may set."
            )));
        }
        let Value::Object(values) = whole else { unreachable!("built as an object above") };
        let mut variables = (*self.obj.variables).clone();
        for (k, v) in &values {
            variables.insert(k.clone(), v.clone());
        }
        let text = cjson::canonical_map(&variables);
        if text.len() > MAX_VARIABLES_BYTES {
            return Err(too_large(format!(
                "The variables would take {} bytes of JSON; an object's variables may take at most {MAX_VARIABLES_BYTES}.",
                text.len()
            )));
        }
        Ok(Assigned { values, variables: Arc::new(variables), text })
    }
}

/// Applies an optional assignment to a transition.
pub(super) fn commit(assigned: Option<Assigned>, mut t: Box<Transition>) -> Box<Transition> {
    if let Some(a) = assigned {
        a.commit(&mut t);
    }
    t
}
