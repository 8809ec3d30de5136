//! SHA-256 with domain separation: every hash peo computes starts with a tag naming
//! what is hashed, so a hash of one kind can never stand for another.

use std::fmt;

use sha2::{Digest, Sha256};

/// A 32-byte SHA-256 hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

/// Domain tags. Part of the wire format: see docs/wire-format.md.
pub(crate) const TAG_RECORD: &[u8] = b"peo/record/v1";
pub(crate) const TAG_INTENT: &[u8] = b"peo/intent/v1";
pub(crate) const TAG_CONTEXT: &[u8] = b"peo/context/v1";
pub(crate) const TAG_DATA: &[u8] = b"peo/data/v1";
pub(crate) const TAG_VARIABLES: &[u8] = b"peo/variables/v2";
pub(crate) const TAG_ID: &[u8] = b"peo/id/v1";
/// A library policy set's text, for pinned policy references.
pub(crate) const TAG_POLICY: &[u8] = b"peo/policy/v1";

impl Hash {
    /// The all-zero hash: the `prev_hash` of the genesis record.
    pub const ZERO: Hash = Hash([0; 32]);

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        let mut buf = [0u8; 64];
        hex::encode_to_slice(self.0, &mut buf).expect("64 hex digits for 32 bytes");
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// From a byte slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        bytes.try_into().ok().map(Hash)
    }

    /// `SHA-256("peo/record/v1" || prev || record_bytes)`.
    pub fn record(prev: &Hash, record_bytes: &[u8]) -> Hash {
        let mut h = Sha256::new();
        h.update(TAG_RECORD);
        h.update(prev.0);
        h.update(record_bytes);
        Hash(h.finalize().into())
    }

    /// `SHA-256("peo/intent/v1" || revision as u32 big-endian || canonical plan text)`.
    pub fn intent(revision: u32, plan: &str) -> Hash {
        let mut h = Sha256::new();
        h.update(TAG_INTENT);
        h.update(revision.to_be_bytes());
        h.update(plan.as_bytes());
        Hash(h.finalize().into())
    }

    /// `SHA-256("peo/context/v1" || canonical JSON of the context)`.
    pub fn context(canonical_context: &str) -> Hash {
        Self::tagged(TAG_CONTEXT, canonical_context.as_bytes())
    }

    /// `SHA-256("peo/data/v1" || canonical data text)`.
    pub fn data(canonical_data: &str) -> Hash {
        Self::tagged(TAG_DATA, canonical_data.as_bytes())
    }

    /// `SHA-256("peo/variables/v2" || canonical variables)`: the workflow variables in
    /// force (a canonical JSON object).
    pub fn variables(canonical_variables: &str) -> Hash {
        Self::tagged(TAG_VARIABLES, canonical_variables.as_bytes())
    }

    pub(crate) fn tagged(tag: &[u8], bytes: &[u8]) -> Hash {
        let mut h = Sha256::new();
        h.update(tag);
        h.update(bytes);
        Hash(h.finalize().into())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
