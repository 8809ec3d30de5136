//! Records as JSON: the readable form tools and every face show (`forms::RecordForm`).

use super::*;
use crate::forms::{self, RecordForm};

impl Record {
    /// A readable JSON view of the record ([`RecordForm`]); JSON payloads are shown as
    /// JSON.
    pub fn to_json(&self) -> Value {
        forms::value(&RecordForm::from(self))
    }
}

pub(crate) fn lineage_json(l: &Lineage) -> Value {
    forms::value(&forms::lineage(l))
}
