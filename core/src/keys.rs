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

    /// Signs `message` as it is (callers tag it so it can never be taken for a record).
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.inner.sign(message).to_bytes()
    }

    /// Signs a record hash as format version 1 did: the bare 32 bytes.
    pub fn sign(&self, hash: &Hash) -> Signature {
        Signature(self.inner.sign(hash.as_bytes()).to_bytes())
    }

    /// Signs a record hash of an object of wire format `version`: from version 2 on, the
    /// signed message is `"peo/signature/v2" || record hash`, so that a peo signature
    /// can never be taken for a signature of anything else the key signs.
    pub fn sign_record(&self, hash: &Hash, version: u16) -> Signature {
        Signature(self.inner.sign(&signed_message(hash, version)).to_bytes())
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

    /// Checks `signature` over a bare record hash (format version 1) with strict
    /// RFC 8032 verification (rejecting small-order keys and points and non-canonical
    /// signatures).
    pub fn verify(&self, hash: &Hash, signature: &Signature) -> bool {
        self.verify_record(hash, signature, 1)
    }

    /// Checks `signature` over a record hash of an object of wire format `version`
    /// ([`SigningKey::sign_record`]), strictly. Every signature is checked on its own:
    /// batch verification is faster, but its cofactorless random combination can
    /// disagree with strict verification on crafted points, and then two verifiers
    /// (or two runs) could disagree about one object.
    pub fn verify_record(&self, hash: &Hash, signature: &Signature, version: u16) -> bool {
        let Some(key) = self.verifying_key() else { return false };
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(&signed_message(hash, version), &sig).is_ok()
    }
}

impl PublicKey {
    /// Checks `signature` over `message` as it is (a tagged message, never a record
    /// hash), strictly.
    pub(crate) fn verify_bytes(&self, message: &[u8], signature: &Signature) -> bool {
        let Some(key) = self.verifying_key() else { return false };
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature.0)).is_ok()
    }
}

/// What a record signature signs in wire format `version`.
fn signed_message(hash: &Hash, version: u16) -> Vec<u8> {
    const CONTEXT: &[u8] = b"peo/signature/v2";
    if version < 2 {
        return hash.as_bytes().to_vec();
    }
    [CONTEXT, hash.as_bytes().as_slice()].concat()
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
    fn version_2_signatures_are_domain_separated() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let h = Hash::data("{}");
        let v2 = key.sign_record(&h, 2);
        assert!(key.public_key().verify_record(&h, &v2, 2));
        assert!(!key.public_key().verify_record(&h, &v2, 1), "a v2 signature is not a signature of the bare hash");
        assert!(!key.public_key().verify_record(&h, &key.sign(&h), 2));
        assert!(key.public_key().verify_record(&h, &key.sign(&h), 1));
    }

    #[test]
    fn small_order_keys_are_refused() {
        // The identity point (a small-order key) "verifies" the all-zero signature under
        // cofactorless, non-strict checks.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let h = Hash::data("{}");
        assert!(!PublicKey(identity).verify_record(&h, &Signature(sig), 2));
    }
}
