//! RFC 6962 Merkle trees over record hashes: the frontier a checkpoint carries, and
//! inclusion proofs that show a pruned record was part of the history.
//!
//! The leaves are the record hashes, in memory order: leaf `i` is
//! `SHA-256(0x00 || hash of record i)`, an interior node `SHA-256(0x01 || left || right)`,
//! as RFC 6962 section 2.1 defines them. The frontier of `n` leaves is the list of the
//! roots of the perfect subtrees `n` decomposes into, largest first: enough to extend
//! the tree and to compute its root, in log n hashes. Proofs are made and checked by
//! the `ct-merkle` crate.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{InclusionProof, RootHash};
use sha2_11::{Digest, Sha256};

use crate::{Error, Hash, Result};

fn leaf(record_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(record_hash.0);
    Hash(h.finalize().into())
}

fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The right edge of a Merkle tree over record hashes: its size and the roots of its
/// perfect subtrees, largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    roots: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// A frontier as a checkpoint stores it; the number of roots must be the number of
    /// perfect subtrees `size` decomposes into.
    pub fn from_parts(size: u64, roots: Vec<Hash>) -> Result<Frontier> {
        if roots.len() != size.count_ones() as usize {
            return Err(Error::decode(format!(
                "a Merkle frontier over {size} records has {} subtree roots, not {}",
                size.count_ones(),
                roots.len()
            )));
        }
        Ok(Frontier { size, roots })
    }

    /// Appends the next record's hash.
    pub fn push(&mut self, record_hash: &Hash) {
        let mut top = leaf(record_hash);
        let mut n = self.size;
        while n & 1 == 1 {
            let left = self.roots.pop().expect("one root per set bit of the size");
            top = node(&left, &top);
            n >>= 1;
        }
        self.roots.push(top);
        self.size += 1;
    }

    /// How many record hashes the tree holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtrees' roots, largest first.
    pub fn roots(&self) -> &[Hash] {
        &self.roots
    }

    /// The RFC 6962 tree head (`None` for the empty tree).
    pub fn root(&self) -> Option<Hash> {
        let mut it = self.roots.iter().rev();
        let mut r = *it.next()?;
        for left in it {
            r = node(left, &r);
        }
        Some(r)
    }

    /// Whether `proof` shows that `record_hash` is leaf `proof.index` of this tree.
    pub fn proves(&self, record_hash: &Hash, proof: &Proof) -> bool {
        let Some(root) = self.root() else { return false };
        if proof.index >= self.size {
            return false;
        }
        let head = RootHash::<Sha256>::new(root.0.into(), self.size);
        let bytes: Vec<u8> = proof.path.iter().flat_map(|h| h.0).collect();
        let Ok(p) = InclusionProof::<Sha256>::try_from_bytes(bytes) else { return false };
        head.verify_inclusion(&record_hash.0, proof.index, &p).is_ok()
    }
}

/// An RFC 6962 inclusion proof (audit path) of one record hash in a tree of record
/// hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The record's position (its `seq`).
    pub index: u64,
    /// The sibling hashes from the leaf up.
    pub path: Vec<Hash>,
}

impl Proof {
    /// The proof that `hashes[index]` is in the tree over `hashes`.
    pub fn make(hashes: &[Hash], index: u64) -> Result<Proof> {
        if index >= hashes.len() as u64 {
            return Err(Error::invalid_argument(format!(
                "record {index} is not among the {} records of the tree",
                hashes.len()
            )));
        }
        let mut tree = MemoryBackedTree::<Sha256, [u8; 32]>::new();
        for h in hashes {
            tree.push(h.0);
        }
        let p = tree.prove_inclusion(index as usize);
        let path = p.as_bytes().chunks(32).map(|c| Hash::from_slice(c).expect("32-byte digests")).collect();
        Ok(Proof { index, path })
    }

    /// `{"index", "path": [hex, ...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"index": self.index, "path": self.path.iter().map(Hash::to_hex).collect::<Vec<_>>()})
    }

    /// The form [`Proof::to_json`] writes.
    pub fn from_json(v: &serde_json::Value) -> Result<Proof> {
        let bad = || Error::invalid_argument("a proof is {\"index\": <record>, \"path\": [<64 hex digits>, ...]}");
        let index = v.get("index").and_then(serde_json::Value::as_u64).ok_or_else(bad)?;
        let path = v
            .get("path")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(bad)?
            .iter()
            .map(|h| h.as_str().and_then(|s| hex::decode(s).ok()).and_then(|b| Hash::from_slice(&b)).ok_or_else(bad))
            .collect::<Result<Vec<_>>>()?;
        Ok(Proof { index, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(n: usize) -> Vec<Hash> {
        (0..n).map(|i| Hash::tagged(b"test", &(i as u64).to_be_bytes())).collect()
    }

    #[test]
    fn frontier_root_is_the_rfc_6962_tree_head() {
        for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 31, 64, 100] {
            let hs = hashes(n);
            let mut f = Frontier::new();
            let mut tree = MemoryBackedTree::<Sha256, [u8; 32]>::new();
            for h in &hs {
                f.push(h);
                tree.push(h.0);
            }
            assert_eq!(f.roots().len(), n.count_ones() as usize);
            let want: [u8; 32] = (*tree.root().as_bytes()).into();
            assert_eq!(f.root(), Some(Hash(want)), "{n} leaves");
        }
        assert_eq!(Frontier::new().root(), None);
    }

    #[test]
    fn proofs_verify_against_the_frontier_and_fail_when_changed() {
        let hs = hashes(37);
        let mut f = Frontier::new();
        hs.iter().for_each(|h| f.push(h));
        for i in [0u64, 1, 17, 36] {
            let p = Proof::make(&hs, i).unwrap();
            assert!(f.proves(&hs[i as usize], &p));
            assert!(!f.proves(&hs[(i as usize + 1) % 37], &p), "another record");
            let mut bad = p.clone();
            bad.path[0].0[0] ^= 1;
            assert!(!f.proves(&hs[i as usize], &bad), "a changed path");
            let back = Proof::from_json(&p.to_json()).unwrap();
            assert_eq!(back, p);
        }
        assert!(Frontier::from_parts(5, vec![Hash::ZERO]).is_err());
    }
}
