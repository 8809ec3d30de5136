//! Object ids and lineage.

use std::fmt;

use crate::{Error, Result};

/// A 16-byte object id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectId(pub [u8; 16]);

impl ObjectId {
    /// A random id from the operating system's random source. A host-side
    /// convenience: the cycle derives child ids, it never draws them.
    pub fn random() -> Result<ObjectId> {
        let mut b = [0u8; 16];
        getrandom::getrandom(&mut b)
            .map_err(|e| Error::internal(format!("the operating system's random source failed: {e}")))?;
        Ok(ObjectId(b))
    }

    pub fn from_slice(bytes: &[u8]) -> Result<ObjectId> {
        bytes
            .try_into()
            .map(ObjectId)
            .map_err(|_| Error::invalid_argument(format!("an object id is 16 bytes, got {}", bytes.len())))
    }

    /// From 32 hex digits.
    pub fn from_hex(text: &str) -> Result<ObjectId> {
        let bytes = hex::decode(text.trim())
            .map_err(|e| Error::invalid_argument(format!("an object id is 32 hex digits: {e}")))?;
        Self::from_slice(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        let mut buf = [0u8; 32];
        hex::encode_to_slice(self.0, &mut buf).expect("32 hex digits for 16 bytes");
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.to_hex())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Links between objects created by fan-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// The object that created this one; `None` for a root object.
    pub parent: Option<ObjectId>,
    /// The root of the fan-out tree (the object's own id for a root object).
    pub root: ObjectId,
    /// 0 for a root object, parent's generation + 1 for a child.
    pub generation: u32,
    /// Index among the parent's children.
    pub branch: u32,
    /// The parent's Parallel/Map state that created this object.
    pub fanout_state: Option<String>,
}

impl Lineage {
    /// The lineage of a root object.
    pub fn root(id: ObjectId) -> Lineage {
        Lineage { parent: None, root: id, generation: 0, branch: 0, fanout_state: None }
    }
}
