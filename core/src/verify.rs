//! Verification: the hash chain, the committed hashes and the signatures.

use std::collections::BTreeMap;

use crate::keys::verify_batch;
use crate::record::{Action, Body};
use crate::{Error, ErrorKind, Hash, Object, PublicKey, Result};

/// What signatures a verifier requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureRequirement {
    /// Signatures that are present must be valid; unsigned visits are allowed.
    #[default]
    ValidIfPresent,
    /// Every visit (and the genesis record) must end with a valid signature.
    EveryVisit,
    /// Every visit must end with a valid signature by a trusted key.
    EveryVisitTrusted,
}

/// Whom a verifier trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// Keys whose signatures count as trusted.
    pub trusted_keys: Vec<PublicKey>,
    pub require: SignatureRequirement,
}

impl Trust {
    /// Checks structure, chain and any signatures present; trusts no key.
    pub fn any() -> Trust {
        Trust::default()
    }
    /// Every visit must be signed by one of `keys`.
    pub fn keys(keys: impl IntoIterator<Item = PublicKey>) -> Trust {
        Trust { trusted_keys: keys.into_iter().collect(), require: SignatureRequirement::EveryVisitTrusted }
    }
}

/// A key that signed records of the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub key: PublicKey,
    /// Whether the key is one of the verifier's trusted keys.
    pub trusted: bool,
    /// The records it signed.
    pub records: Vec<u32>,
}

/// The first problem verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub record: u32,
    pub kind: ErrorKind,
    pub message: String,
}

/// The outcome of [`Object::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records whose place in the chain was checked (all of them, unless broken early).
    pub records_checked: u32,
    /// Signatures verified.
    pub signatures_checked: u32,
    pub signers: Vec<Signer>,
    /// Records in visits that end without a signature.
    pub unsigned_records: u32,
    /// Records in visits that end without a signature by a trusted key.
    pub untrusted_records: u32,
    /// The memory head (the last record's hash).
    pub head: Hash,
    /// The first broken record, if any: the object is valid only when this is `None`.
    pub broken: Option<Broken>,
}

impl VerifyReport {
    pub fn is_valid(&self) -> bool {
        self.broken.is_none()
    }

    /// The report as JSON, the same in every language: `{"valid", "records_checked",
    /// "signatures_checked", "signers": [{"key", "trusted", "records"}], "unsigned_records",
    /// "untrusted_records", "head", "broken": null or {"record", "kind", "code", "message"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "valid": self.is_valid(),
            "records_checked": self.records_checked,
            "signatures_checked": self.signatures_checked,
            "signers": self.signers.iter().map(|s| serde_json::json!({
                "key": s.key.to_hex(), "trusted": s.trusted, "records": s.records,
            })).collect::<Vec<_>>(),
            "unsigned_records": self.unsigned_records,
            "untrusted_records": self.untrusted_records,
            "head": self.head.to_hex(),
            "broken": self.broken.as_ref().map(|b| serde_json::json!({
                "record": b.record, "kind": b.kind.as_str(), "code": b.kind.code(), "message": b.message,
            })),
        })
    }
    /// `Ok(self)` when valid, else the error naming the broken record.
    pub fn into_result(self) -> Result<VerifyReport> {
        match &self.broken {
            None => Ok(self),
            Some(b) => Err(Error::new(b.kind, b.message.clone()).at_record(b.record)),
        }
    }
}

impl Object {
    /// Verifies the object: every record in its place, the hash chain up to the stored
    /// head, the hashes of intent, context and data committed by the last record, the
    /// genesis record's id and lineage, the status and state copies, and every
    /// signature, as `trust` requires. Never fails: problems are in `broken`.
    pub fn verify(&self, trust: &Trust) -> VerifyReport {
        let mut report = VerifyReport {
            records_checked: 0,
            signatures_checked: 0,
            signers: Vec::new(),
            unsigned_records: 0,
            untrusted_records: 0,
            head: self.head(),
            broken: None,
        };
        if let Err((record, err)) = self.check(trust, &mut report) {
            report.broken = Some(Broken { record, kind: err.kind(), message: err.message().to_owned() });
        }
        report
    }

    fn check(&self, trust: &Trust, report: &mut VerifyReport) -> Result<(), (u32, Error)> {
        let memory = self.memory();
        let last = (memory.len() - 1) as u32;
        let fail = |i: u32, kind: ErrorKind, msg: String| Err((i, Error::new(kind, msg)));

        // Structure of the chain: places, visits, data commitments, signature presence.
        let mut to_verify = Vec::new();
        let mut visit_start = 0u32;
        let mut signers: BTreeMap<PublicKey, Vec<u32>> = BTreeMap::new();
        // The intent and context hashes in force: records carry them only when they change.
        let (mut intent_hash, mut context_hash) = (None, None);
        for (i, r) in memory.iter().enumerate() {
            let i = i as u32;
            let m = &r.meta;
            if m.seq != i {
                return fail(
                    i,
                    ErrorKind::Integrity,
                    format!("record {i} says it is record {}: records were moved or removed", m.seq),
                );
            }
            intent_hash = m.intent_hash.or(intent_hash);
            context_hash = m.context_hash.or(context_hash);
            if i == 0 && (intent_hash.is_none() || context_hash.is_none()) {
                return fail(
                    0,
                    ErrorKind::Integrity,
                    "the genesis record must commit the intent and context hashes".into(),
                );
            }
            if (i == 0) != (m.action == Action::Genesis) {
                let msg = if i == 0 {
                    "the first record is not a genesis record"
                } else {
                    "a genesis record after the first"
                };
                return fail(i, ErrorKind::Integrity, msg.into());
            }
            if i > 0 {
                let prev = &memory[i as usize - 1].meta;
                if m.visit != prev.visit && m.visit != prev.visit + 1 {
                    return fail(
                        i,
                        ErrorKind::Integrity,
                        format!("visit number {} does not follow {}", m.visit, prev.visit),
                    );
                }
                if prev.status.is_terminal() {
                    return fail(i, ErrorKind::Integrity, "a record after the object terminated".into());
                }
                if m.visit != prev.visit {
                    visit_start = i;
                }
            } else if m.visit != 0 {
                return fail(0, ErrorKind::Integrity, "the genesis record must be visit 0".into());
            }
            let ends_visit = i == last || memory[i as usize + 1].meta.visit != m.visit;
            if ends_visit && m.data_hash.is_none() {
                return fail(i, ErrorKind::Integrity, "the last record of a visit must commit the data hash".into());
            }
            match (m.signed, r.signature(), m.key) {
                (true, Some(sig), Some(key)) => {
                    to_verify.push((i, key, r.hash(), *sig));
                    signers.entry(key).or_default().push(i);
                }
                (true, None, _) => {
                    return fail(
                        i,
                        ErrorKind::Signature,
                        "the record says it is signed but carries no signature".into(),
                    );
                }
                (false, Some(_), _) => {
                    return fail(
                        i,
                        ErrorKind::Signature,
                        "the record carries a signature but says it is unsigned".into(),
                    );
                }
                _ => {}
            }
            if ends_visit {
                let count = i - visit_start + 1;
                let trusted = m.signed && m.key.is_some_and(|k| trust.trusted_keys.contains(&k));
                if !m.signed {
                    report.unsigned_records += count;
                    if trust.require != SignatureRequirement::ValidIfPresent {
                        return fail(
                            i,
                            ErrorKind::Signature,
                            "this visit ends without a signature, and the verifier requires one".into(),
                        );
                    }
                }
                if !trusted {
                    report.untrusted_records += count;
                    if trust.require == SignatureRequirement::EveryVisitTrusted && m.signed {
                        let key = m.key.map(|k| k.to_hex()).unwrap_or_default();
                        return fail(i, ErrorKind::Signature, format!("signed by {key}, which is not a trusted key"));
                    }
                }
            }
            report.records_checked = i + 1;
        }

        // Signatures: in one batch when there are several, then one by one to name a culprit.
        let batch: Vec<_> = to_verify.iter().map(|(_, k, h, s)| (*k, *h, *s)).collect();
        let batch_ok = batch.len() > 1 && verify_batch(&batch);
        if !batch_ok {
            for (i, key, hash, sig) in &to_verify {
                if !key.verify(hash, sig) {
                    return fail(
                        *i,
                        ErrorKind::Signature,
                        format!("the signature does not verify against the record's node key {key}"),
                    );
                }
            }
        }
        report.signatures_checked = to_verify.len() as u32;
        report.signers = signers
            .into_iter()
            .map(|(key, records)| Signer { key, trusted: trust.trusted_keys.contains(&key), records })
            .collect();

        // The head, and the content the last record commits to.
        if self.head() != self.stored_head() {
            return fail(
                last,
                ErrorKind::Integrity,
                "the object's head does not match the hash of its last record".into(),
            );
        }
        let tail = &memory[last as usize].meta;
        if intent_hash != Some(self.intent().hash()) {
            return fail(
                last,
                ErrorKind::Integrity,
                "the intent does not match the hash in force after the last record".into(),
            );
        }
        if context_hash != Some(self.context_hash()) {
            return fail(
                last,
                ErrorKind::Integrity,
                "the context does not match the hash in force after the last record".into(),
            );
        }
        if tail.data_hash != Some(self.data_hash()) {
            return fail(
                last,
                ErrorKind::Integrity,
                "the data does not match the hash committed by the last record".into(),
            );
        }
        if tail.status != self.status() {
            return fail(last, ErrorKind::Integrity, "the object's status does not match its last record".into());
        }
        let tail_record = memory[last as usize].decode().map_err(|e| (last, e))?;
        if tail_record.next_state != self.state() {
            return fail(last, ErrorKind::Integrity, "the object's state does not match its last record".into());
        }
        let genesis = memory[0].decode().map_err(|e| (0, e))?;
        if let Body::Genesis { id, lineage, .. } = &genesis.body
            && (*id != self.id() || lineage != self.lineage())
        {
            return fail(
                0,
                ErrorKind::Integrity,
                "the object's id or lineage does not match its genesis record".into(),
            );
        }
        Ok(())
    }
}
