//! Ed25519 keys and signatures (RFC 8032, deterministic), over record hashes.

use std::fmt;

use ed25519_dalek::Signer;

use crate::{Error, Hash, Result};

/// An Ed25519 public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

/// An Ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

/// A node's or originator's signing key. Its secret is the 32-byte Ed25519 seed.
#[derive(Clone)]
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A new key from the operating system's random source.
    ///
    /// This is a host-side convenience: the cycle never generates keys or draws
    /// randomness.
    pub fn generate() -> Result<SigningKey> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed)
            .map_err(|e| Error::internal(format!("the operating system's random source failed: {e}")))?;
        Ok(Self::from_bytes(&seed))
    }

    /// The key whose 32-byte secret seed is `seed`.
    pub fn from_bytes(seed: &[u8; 32]) -> SigningKey {
        SigningKey { inner: ed25519_dalek::SigningKey::from_bytes(seed) }
    }

    /// The key from a byte slice, which must be exactly 32 bytes.
    pub fn from_slice(seed: &[u8]) -> Result<SigningKey> {
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| Error::invalid_argument(format!("a signing key is 32 bytes, got {}", seed.len())))?;
        Ok(Self::from_bytes(seed))
    }

    /// The 32-byte secret seed. Keep it secret.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.inner.to_bytes()
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.inner.verifying_key().to_bytes())
    }

    /// Signs a record hash.
    pub fn sign(&self, hash: &Hash) -> Signature {
        Signature(self.inner.sign(hash.as_bytes()).to_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {})", self.public_key())
    }
}

impl PublicKey {
    /// From a byte slice, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<PublicKey> {
        bytes
            .try_into()
            .map(PublicKey)
            .map_err(|_| Error::invalid_argument(format!("a public key is 32 bytes, got {}", bytes.len())))
    }

    /// From 64 hex digits.
    pub fn from_hex(text: &str) -> Result<PublicKey> {
        let bytes = hex::decode(text.trim())
            .map_err(|e| Error::invalid_argument(format!("a public key is 64 hex digits: {e}")))?;
        Self::from_slice(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub(crate) fn verifying_key(&self) -> Option<ed25519_dalek::VerifyingKey> {
        ed25519_dalek::VerifyingKey::from_bytes(&self.0).ok()
    }

    /// Checks `signature` over a record hash with strict RFC 8032 verification
    /// (rejecting small-order keys and non-canonical signatures).
    pub fn verify(&self, hash: &Hash, signature: &Signature) -> bool {
        let Some(key) = self.verifying_key() else { return false };
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(hash.as_bytes(), &sig).is_ok()
    }
}

/// Verifies many signatures at once; `true` only when every one is valid. Batch
/// verification is several times faster per signature than one by one; on `false`
/// the caller checks them singly to find the culprit.
pub(crate) fn verify_batch(items: &[(PublicKey, Hash, Signature)]) -> bool {
    let mut messages = Vec::with_capacity(items.len());
    let mut sigs = Vec::with_capacity(items.len());
    let mut keys = Vec::with_capacity(items.len());
    for (key, hash, sig) in items {
        let Some(vk) = key.verifying_key() else { return false };
        // Batch verification is not strict: keep the strict checks it skips.
        if vk.is_weak() {
            return false;
        }
        messages.push(hash.as_bytes().as_slice());
        sigs.push(ed25519_dalek::Signature::from_bytes(&sig.0));
        keys.push(vk);
    }
    ed25519_dalek::verify_batch(&messages, &sigs, &keys).is_ok()
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Signature {
    pub fn from_slice(bytes: &[u8]) -> Option<Signature> {
        bytes.try_into().ok().map(Signature)
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let h = Hash::data("{}");
        let sig = key.sign(&h);
        assert!(key.public_key().verify(&h, &sig));
        assert!(!key.public_key().verify(&Hash::data("[]"), &sig));
        // RFC 8032 signatures are deterministic.
        assert_eq!(sig, key.sign(&h));
        let restored = SigningKey::from_slice(&key.to_bytes()).unwrap();
        assert_eq!(restored.public_key(), key.public_key());
        assert!(SigningKey::from_slice(&[1; 31]).is_err());
    }

    #[test]
    fn batch_matches_single_verification() {
        let keys: Vec<_> = (0..5u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let mut items: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let h = Hash::data(&i.to_string());
                (k.public_key(), h, k.sign(&h))
            })
            .collect();
        assert!(verify_batch(&items));
        items[3].2.0[0] ^= 1;
        assert!(!verify_batch(&items));
    }
}
