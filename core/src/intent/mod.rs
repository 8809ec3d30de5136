//! The intent: what an object is for and how it means to get there.
//!
//! The plan is an Amazon States Language document; peo adds `Objective`, `Class`,
//! `Constraints`, `Adapt` and `Await` at its top level. It is stored as canonical JSON
//! text and kept parsed while the object is in memory.

mod model;
mod parse;

use serde_json::Value;

pub use model::*;
pub use parse::find_state;
pub(crate) use parse::parse_compaction;

use crate::{Error, Hash, Limits, Result, json};

/// A validated intent at a given revision.
#[derive(Debug, Clone)]
pub struct Intent {
    revision: u32,
    document: Value,
    text: String,
    plan: Plan,
    hash: Hash,
}

impl PartialEq for Intent {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision && self.text == other.text
    }
}

impl Intent {
    /// Parses and validates an intent document at revision 0.
    pub fn new(document: &Value, limits: &Limits) -> Result<Intent> {
        Self::at_revision(document.clone(), 0, limits)
    }

    /// Parses untrusted JSON text (bounded by `limits`) as an intent at revision 0.
    pub fn from_json_text(text: &str, limits: &Limits) -> Result<Intent> {
        let doc = json::parse(text, &limits.for_plan(), "the intent")?;
        Self::at_revision(doc, 0, limits)
    }

    pub(crate) fn at_revision(document: Value, revision: u32, limits: &Limits) -> Result<Intent> {
        json::check_value(&document, limits, "the intent")?;
        let text = json::canonical(&document);
        Self::from_parts(document, text, revision, limits)
    }

    /// From an already-canonical text and its parsed value (the decoder's path).
    pub(crate) fn from_parts(document: Value, text: String, revision: u32, limits: &Limits) -> Result<Intent> {
        if text.len() > limits.max_plan_bytes {
            return Err(Error::limit(format!(
                "the intent is {} bytes; the limit is {} (Limits::max_plan_bytes)",
                text.len(),
                limits.max_plan_bytes
            )));
        }
        let plan = parse::parse_plan(&document, limits)?;
        let hash = Hash::intent(revision, &text);
        Ok(Intent { revision, document, text, plan, hash })
    }

    /// 0 at creation, +1 for every change.
    pub fn revision(&self) -> u32 {
        self.revision
    }
    /// The whole document as JSON.
    pub fn document(&self) -> &Value {
        &self.document
    }
    /// The canonical JSON text of the document (what the wire format stores).
    pub fn canonical_text(&self) -> &str {
        &self.text
    }
    /// The parsed, validated plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
    /// `SHA-256("peo/intent/v1" || revision || canonical text)`.
    pub fn hash(&self) -> Hash {
        self.hash
    }
    pub fn objective(&self) -> Option<&str> {
        self.plan.objective.as_deref()
    }
    pub fn class(&self) -> Option<&str> {
        self.plan.class.as_deref()
    }
    pub fn constraints(&self) -> &Constraints {
        &self.plan.constraints
    }
}

#[cfg(test)]
mod tests;
