//! A fan-out's results section (format version 2).
//!
//! A `Map` or `Parallel` parent keeps its children's results apart from its memory: each
//! completion adds one [`Completion`] to the section, and the record that adds a batch of
//! them carries only counts and the *tally*, a running hash over the section
//! (`tally_k = SHA-256("peo/tally/v2" || tally_(k-1) || completion k's fields)`, starting
//! from 32 zero bytes; see [`tally`]). Adding a completion costs the same at the ten-thousandth child as at
//! the first, and the memory grows by one small record per batch, not by one record
//! holding the output per child.
//!
//! When the last child is in (or a failure the state does not tolerate raises), the
//! join record places the outputs in the data and commits to every completion by an
//! RFC 6962 Merkle root over their hashes in branch order; the section is then emptied.
//! A verifier holding the children recomputes that root ([`crate::Object::verify_children`]).

use crate::merkle::Frontier;
use crate::{Error, Hash, Limits, Result, Status, wire};
use serde_json::{Value, json};

/// One child's completion as the parent's results section keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The child's branch (its position among the state's children).
    pub branch: u32,
    /// The hash of the child's final record.
    pub head: Hash,
    /// The child's terminal status.
    pub status: Status,
    /// Canonical JSON: the output, or `{"Error", "Cause"}` when the child did not succeed.
    pub result: String,
}

impl Completion {
    /// `SHA-256("peo/completion/v2" || branch (4 bytes, big-endian) || head || status (1
    /// byte, the wire value) || result)`.
    pub fn hash(&self) -> Hash {
        let mut buf = Vec::with_capacity(4 + 32 + 1 + self.result.len());
        self.fields(&mut buf);
        Hash::tagged(b"peo/completion/v2", &buf)
    }

    fn fields(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.branch.to_be_bytes());
        buf.extend_from_slice(&self.head.0);
        buf.push(self.status.to_wire().0);
        buf.extend_from_slice(self.result.as_bytes());
    }

    /// The result as JSON (`null` if the text is not JSON, which no verified object holds).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.result).unwrap_or(Value::Null)
    }

    /// `{"branch", "head", "status", "result"}`.
    pub fn to_json(&self) -> Value {
        json!({"branch": self.branch, "head": self.head.to_hex(), "status": self.status.as_str(), "result": self.value()})
    }

    pub(crate) fn from_wire(c: wire::Completion<'_>, i: usize, limits: &Limits) -> Result<Completion> {
        let at = |m: String| Error::decode(format!("results[{i}]: {m}"));
        let head = Hash::from_slice(c.head().bytes())
            .ok_or_else(|| at(format!("`head` must be 32 bytes, got {}", c.head().len())))?;
        let status = Status::from_wire(c.status())?;
        if !status.is_terminal() {
            return Err(at(format!("a completion's status is terminal, not {}", status.as_str())));
        }
        if c.result().len() > limits.max_json_bytes {
            return Err(Error::limit(format!("results[{i}] is larger than Limits::max_json_bytes")));
        }
        // The text is kept as it is (re-encoding gives the same bytes) and parsed, under
        // the limits, when the join reads it; the tally binds it to the batch record.
        Ok(Completion { branch: c.branch(), head, status, result: c.result().to_owned() })
    }

    pub(crate) fn to_wire<'a>(
        &self,
        fbb: &mut flatbuffers::FlatBufferBuilder<'a>,
    ) -> flatbuffers::WIPOffset<wire::Completion<'a>> {
        let head = fbb.create_vector(&self.head.0);
        let result = fbb.create_string(&self.result);
        wire::Completion::create(
            fbb,
            &wire::CompletionArgs {
                branch: self.branch,
                head: Some(head),
                status: self.status.to_wire(),
                result: Some(result),
            },
        )
    }
}

/// The tally after `completions`, continuing from `from`: `SHA-256("peo/tally/v2" ||
/// previous tally || branch || head || status || result)` per completion (the fields
/// as in [`Completion::hash`]).
pub fn tally<'a>(from: Hash, completions: impl IntoIterator<Item = &'a Completion>) -> Hash {
    let mut buf = Vec::with_capacity(128);
    completions.into_iter().fold(from, |t, c| {
        buf.clear();
        buf.extend_from_slice(&t.0);
        c.fields(&mut buf);
        Hash::tagged(b"peo/tally/v2", &buf)
    })
}

/// The Merkle root (RFC 6962) over the completions' hashes in branch order: what a join
/// record commits to. `None` when there are none.
pub fn root<'a>(completions: impl IntoIterator<Item = &'a Completion>) -> Option<Hash> {
    let mut all: Vec<&Completion> = completions.into_iter().collect();
    all.sort_by_key(|c| c.branch);
    let mut f = Frontier::new();
    for c in all {
        f.push(&c.hash());
    }
    f.root()
}

/// What a batch or join record says about the section (the `results` member of its
/// payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Completions recorded in all.
    pub count: u32,
    /// How many of them did not succeed.
    pub failed: u32,
    /// The tally (batch records) or the Merkle root in branch order (join records).
    pub hash: Option<Hash>,
}

impl Summary {
    pub(crate) fn of(completions: &[Completion], hash: Option<Hash>) -> Summary {
        Summary {
            count: completions.len() as u32,
            failed: completions.iter().filter(|c| c.status != Status::Succeeded).count() as u32,
            hash,
        }
    }

    pub(crate) fn to_json(&self, key: &str) -> Value {
        let mut v = json!({"count": self.count, "failed": self.failed});
        if let Some(h) = self.hash {
            v[key] = json!(h.to_hex());
        }
        v
    }

    pub(crate) fn from_json(v: &Value, key: &str) -> Option<Summary> {
        Some(Summary {
            count: u32::try_from(v.get("count")?.as_u64()?).ok()?,
            failed: u32::try_from(v.get("failed")?.as_u64()?).ok()?,
            hash: match v.get(key) {
                None => None,
                Some(h) => Some(Hash::from_slice(&hex::decode(h.as_str()?).ok()?)?),
            },
        })
    }
}
