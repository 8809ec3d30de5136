//! Keys and objects.

use std::sync::Arc;

use peo_core::{Limits, Object, SigningKey, Trust};
use peo_runtime::host::{self, NewObject};

use crate::error::Res;

/// An Ed25519 signing key.
#[derive(uniffi::Object)]
pub struct FfiSigningKey(pub(crate) SigningKey);

#[uniffi::export]
impl FfiSigningKey {
    /// A new random key.
    #[uniffi::constructor]
    pub fn generate() -> Res<Arc<FfiSigningKey>> {
        Ok(Arc::new(FfiSigningKey(SigningKey::generate()?)))
    }
    /// The key of a 32-byte seed.
    #[uniffi::constructor]
    pub fn from_bytes(seed: Vec<u8>) -> Res<Arc<FfiSigningKey>> {
        Ok(Arc::new(FfiSigningKey(SigningKey::from_slice(&seed)?)))
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes().to_vec()
    }
    /// The 32-byte public key.
    pub fn public_key(&self) -> Vec<u8> {
        self.0.public_key().as_bytes().to_vec()
    }
    /// An event's JSON form signed by this key for object `object_id`.
    pub fn sign_event(&self, object_id: String, event_json: String) -> Res<String> {
        Ok(host::sign_event(&self.0, &object_id, &event_json)?)
    }
}

/// An object (see `dev.peo.PeoObject` for the documented API).
#[derive(uniffi::Object)]
pub struct FfiObject(pub(crate) Object);

fn trust(keys: &[Vec<u8>]) -> Res<Trust> {
    Ok(Trust::for_verify(host::public_keys(keys)?))
}

#[uniffi::export]
impl FfiObject {
    /// A new object from its plan, context and input as JSON text.
    #[uniffi::constructor]
    pub fn create(
        intent_json: String,
        context_json: Option<String>,
        input_json: Option<String>,
        id_hex: Option<String>,
        now_ms: Option<i64>,
        key: Option<Arc<FfiSigningKey>>,
    ) -> Res<Arc<FfiObject>> {
        let new = NewObject {
            intent_json: &intent_json,
            context_json: context_json.as_deref(),
            input_json: input_json.as_deref(),
            id_hex: id_hex.as_deref(),
            now_ms,
            key: key.as_ref().map(|k| &k.0),
        };
        Ok(Arc::new(FfiObject(new.create()?)))
    }
    /// Decodes an object from untrusted bytes (its integrity is checked by `verify`).
    #[uniffi::constructor]
    pub fn from_bytes(data: Vec<u8>) -> Res<Arc<FfiObject>> {
        Ok(Arc::new(FfiObject(Object::from_bytes(&data, &Limits::default())?)))
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }
    /// The verification report as JSON; a broken object is the error naming its first
    /// broken record (`VerifyReport::into_result`).
    pub fn verify_json(&self, trusted_keys: Vec<Vec<u8>>) -> Res<String> {
        Ok(peo_runtime::host::json_text(&self.0.verify(&trust(&trusted_keys)?).into_result()?.to_json()))
    }
    /// The audit report against an archive (segments as bytes) as JSON; a broken history
    /// is the error naming its first broken record.
    pub fn audit_json(&self, archive: Vec<Vec<u8>>, trusted_keys: Vec<Vec<u8>>) -> Res<String> {
        let segments = host::segments(&archive)?;
        Ok(peo_runtime::host::json_text(&self.0.audit(&segments, &trust(&trusted_keys)?).into_result()?.to_json()))
    }
    /// The inclusion proof of pruned record `seq`, made from the archive, as JSON.
    pub fn prove_pruned_json(&self, archive: Vec<Vec<u8>>, seq: i64) -> Res<String> {
        Ok(host::prove_pruned(&self.0, &archive, seq, host::Casing::Snake)?)
    }
    /// Checks a pruned-record proof (JSON text) against the object, offline.
    pub fn check_pruned(&self, proof_json: String) -> Res<()> {
        Ok(host::check_pruned(&self.0, &proof_json)?)
    }
    pub fn status(&self) -> String {
        self.0.status().as_str().into()
    }
    pub fn state(&self) -> String {
        self.0.state().into()
    }
    pub fn id(&self) -> String {
        self.0.id().to_hex()
    }
    pub fn head(&self) -> String {
        self.0.head().to_hex()
    }
    pub fn data_json(&self) -> String {
        self.0.data_text().into()
    }
    pub fn variables_json(&self) -> String {
        self.0.variables_text().into()
    }
    pub fn record_count(&self) -> u32 {
        self.0.memory().len() as u32
    }
    pub fn records_json(&self) -> Res<String> {
        Ok(self.0.records_json(0)?.to_string())
    }
    pub fn to_json(&self) -> String {
        peo_runtime::host::json_text(&self.0.to_json())
    }
}
