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
}

/// The bytes of a completion before its result: branch, status, head, result length.
const HEADER: usize = 4 + 1 + 32 + 4;

/// Decodes a packed results section (`Object.results`; see `schema/peo.fbs`).
pub(crate) fn unpack(mut bytes: &[u8], limits: &Limits) -> Result<Vec<Completion>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let i = out.len();
        if i >= limits.max_children {
            return Err(Error::limit(format!(
                "the results section holds more than {} completions (Limits::max_children)",
                limits.max_children
            )));
        }
        if bytes.len() < HEADER {
            return Err(Error::decode(format!("results[{i}]: {} bytes is too short for a completion", bytes.len())));
        }
        let branch = u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes"));
        let status = Status::from_wire(wire::Status(bytes[4]))?;
        if !status.is_terminal() {
            return Err(Error::decode(format!(
                "results[{i}]: a completion's status is terminal, not {}",
                status.as_str()
            )));
        }
        let head = Hash::from_slice(&bytes[5..37]).expect("32 bytes");
        let len = u32::from_be_bytes(bytes[37..41].try_into().expect("4 bytes")) as usize;
        if len > limits.max_json_bytes {
            return Err(Error::limit(format!("results[{i}] is larger than Limits::max_json_bytes")));
        }
        let rest = &bytes[HEADER..];
        if rest.len() < len {
            return Err(Error::decode(format!("results[{i}]: the result runs past the end of the section")));
        }
        // The text is kept as it is (re-encoding gives the same bytes) and parsed, under
        // the limits, when the join reads it; the tally binds it to the batch record.
        let result = std::str::from_utf8(&rest[..len])
            .map_err(|_| Error::decode(format!("results[{i}]: the result is not UTF-8")))?
            .to_owned();
        out.push(Completion { branch, head, status, result });
        bytes = &rest[len..];
    }
    Ok(out)
}

/// Encodes a results section (see [`unpack`]).
pub(crate) fn pack(completions: &[Completion]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(completions.iter().map(|c| HEADER + c.result.len()).sum());
    for c in completions {
        buf.extend_from_slice(&c.branch.to_be_bytes());
        buf.push(c.status.to_wire().0);
        buf.extend_from_slice(&c.head.0);
        buf.extend_from_slice(&(c.result.len() as u32).to_be_bytes());
        buf.extend_from_slice(c.result.as_bytes());
    }
    buf
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

#[cfg(test)]
mod tests {
    use super::*;

    fn c(branch: u32, result: &str) -> Completion {
        Completion { branch, head: Hash([branch as u8; 32]), status: Status::Succeeded, result: result.into() }
    }

    #[test]
    fn a_section_round_trips_and_bad_bytes_are_decode_errors() {
        let section = vec![c(3, "9"), c(0, r#"{"a":[1,2]}"#), Completion { status: Status::Failed, ..c(1, "{}") }];
        let packed = pack(&section);
        assert_eq!(unpack(&packed, &Limits::default()).unwrap(), section);
        for cut in [1, 40, packed.len() - 1] {
            assert_eq!(unpack(&packed[..cut], &Limits::default()).unwrap_err().kind(), crate::ErrorKind::Decode);
        }
        let mut running = packed.clone();
        running[4] = 0; // status Running: not terminal
        assert!(unpack(&running, &Limits::default()).unwrap_err().message().contains("terminal"));
        let few = Limits { max_children: 2, ..Limits::default() };
        assert_eq!(unpack(&packed, &few).unwrap_err().kind(), crate::ErrorKind::Limit);
        // The tally depends on every field and on the order; the root only on the set.
        let mut swapped = section.clone();
        swapped.swap(0, 1);
        assert_ne!(tally(Hash::ZERO, &section), tally(Hash::ZERO, &swapped));
        assert_eq!(root(&section), root(&swapped));
        assert_eq!(tally(tally(Hash::ZERO, &section[..1]), &section[1..]), tally(Hash::ZERO, &section));
    }
}
