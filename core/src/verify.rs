//! Verification: the hash chain, the committed hashes, the signatures, the identities
//! the signatures vouch for, and the legality of every change of context and intent.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::record::{Action, Body, MutateKind};
use crate::{Context, Error, ErrorKind, Hash, Intent, Limits, Object, PublicKey, Result};

pub use crate::trust::{ANY, SignatureRequirement, Trust, TrustedKey};

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

/// The checkpoint a compacted memory starts from, and who vouches for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointReport {
    /// The checkpoint record's seq, and the records it pruned (`0 .. pruned`).
    pub seq: u32,
    pub pruned: u32,
    /// The node that wrote it, its domain and the key that signed it (if any).
    pub node: String,
    pub domain: String,
    pub key: Option<PublicKey>,
    /// Whether that key is one the verifier trusts.
    pub trusted: bool,
}

impl CheckpointReport {
    /// "records 0-9743 attested by eu-1 (domain eu), signed by a trusted key".
    pub fn describe(&self) -> String {
        let by = match (&self.key, self.trusted) {
            (Some(_), true) => "signed by a trusted key",
            (Some(_), false) => "signed by a key the verifier does not trust",
            (None, _) => "unsigned",
        };
        format!("records 0-{} attested by {} (domain {}), {by}", self.pruned.saturating_sub(1), self.node, self.domain)
    }
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
    /// The originator subject the verification vouches for: under a trust that checks
    /// claims, one whose genesis was signed by a key the store lets originate it; else
    /// the object's claim. `None` when the object names no subject.
    pub principal: Option<String>,
    /// The domains of the nodes that wrote records, as far as the verification vouches
    /// for them: under a trust that checks claims, only those of visits signed by a key
    /// the store binds to that domain; `None` when claims are believed (the history's
    /// domains stand).
    pub domains: Option<Vec<String>>,
    /// Changes of context and intent replayed and found legal.
    pub changes_checked: u32,
    /// Records pruned by compaction (before the memory): attested by `checkpoint`.
    pub records_pruned: u32,
    /// The checkpoint that attests the pruned records, when the memory was compacted.
    pub checkpoint: Option<CheckpointReport>,
    /// Checkpoints whose summary, frontier and base were recomputed from the records
    /// they fold (all of them when the history was restored from its archive).
    pub checkpoints_audited: u32,
    /// The first broken record, if any: the object is valid only when this is `None`.
    pub broken: Option<Broken>,
}

impl VerifyReport {
    pub fn is_valid(&self) -> bool {
        self.broken.is_none()
    }

    /// The report as JSON, the same in every language: `{"valid", "records_checked",
    /// "signatures_checked", "signers": [{"key", "trusted", "records"}], "unsigned_records",
    /// "untrusted_records", "head", "principal", "domains", "changes_checked", "records_pruned",
    /// "checkpoint": null or {"seq", "pruned", "node", "domain", "key", "trusted", "attests"}, "checkpoints_audited",
    /// "broken": null or {"record", "kind", "code", "message"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        use crate::forms::{BrokenForm, CheckpointForm, SignerForm, VerifyReportForm};
        crate::forms::value(&VerifyReportForm {
            valid: self.is_valid(),
            records_checked: self.records_checked,
            signatures_checked: self.signatures_checked,
            signers: self
                .signers
                .iter()
                .map(|s| SignerForm { key: s.key.to_hex(), trusted: s.trusted, records: s.records.clone() })
                .collect(),
            unsigned_records: self.unsigned_records,
            untrusted_records: self.untrusted_records,
            head: self.head.to_hex(),
            principal: self.principal.clone(),
            domains: self.domains.clone(),
            changes_checked: self.changes_checked,
            records_pruned: self.records_pruned,
            checkpoint: self.checkpoint.as_ref().map(|c| CheckpointForm {
                seq: c.seq,
                pruned: c.pruned,
                node: c.node.clone(),
                domain: c.domain.clone(),
                key: c.key.map(|k| k.to_hex()),
                trusted: c.trusted,
                attests: c.describe(),
            }),
            checkpoints_audited: self.checkpoints_audited,
            broken: self.broken.as_ref().map(|b| BrokenForm {
                record: b.record,
                kind: b.kind.as_str().into(),
                code: b.kind.code().into(),
                message: b.message.clone(),
            }),
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
        self.verify_with(trust, false)
    }

    /// [`Object::verify`] as a node admits an object it is about to visit: everything is
    /// checked as there, except the signatures of the records before the newest one
    /// signed by a key `trust` accepts. That signer verified them when it admitted the
    /// object, so the node relies on its trusted signers doing so (docs/long-lived.md,
    /// "Admission"); a visit then costs the same after a thousand signed hops as after
    /// ten. `signatures_checked` counts the signatures checked.
    pub fn verify_for_admission(&self, trust: &Trust) -> VerifyReport {
        self.verify_with(trust, true)
    }

    fn verify_with(&self, trust: &Trust, anchored: bool) -> VerifyReport {
        let mut report = VerifyReport {
            records_checked: 0,
            signatures_checked: 0,
            signers: Vec::new(),
            unsigned_records: 0,
            untrusted_records: 0,
            head: self.head(),
            principal: None,
            domains: None,
            changes_checked: 0,
            records_pruned: self.pruned(),
            checkpoint: None,
            checkpoints_audited: 0,
            broken: None,
        };
        if let Err((record, err)) = self.check(trust, anchored, &mut report) {
            report.broken = Some(Broken { record, kind: err.kind(), message: err.message().to_owned() });
        }
        report
    }

    fn check(&self, trust: &Trust, anchored: bool, report: &mut VerifyReport) -> Result<(), (u32, Error)> {
        let memory = self.memory();
        let last = self.pruned() + (memory.len() - 1) as u32;
        let fail = |i: u32, kind: ErrorKind, msg: String| Err((i, Error::new(kind, msg)));

        // Structure of the chain: places, visits, data commitments, signature presence.
        let mut to_verify = Vec::new();
        let mut visit_start = self.pruned();
        let mut signers: BTreeMap<PublicKey, Vec<u32>> = BTreeMap::new();
        // A compacted memory starts where its newest checkpoint says; what came before is
        // that checkpoint's summary.
        let first = self.pruned();
        let base = self.base.as_deref();
        let hex_hash = |h: &str| hex::decode(h).ok().and_then(|b| Hash::from_slice(&b));
        // The intent and context hashes in force: records carry them only when they change.
        let (mut intent_hash, mut context_hash) = match base {
            Some(b) => (hex_hash(&b.summary.intent), hex_hash(&b.summary.context)),
            None => (None, None),
        };
        // Likewise the variables hash; none in force means no variables.
        let mut variables_hash = base.and_then(|b| hex_hash(&b.summary.variables));
        for (i, r) in memory.iter().enumerate() {
            let i = i as u32;
            let m = &r.meta;
            if m.seq != first + i {
                return fail(
                    first + i,
                    ErrorKind::Integrity,
                    format!("record {} says it is record {}: records were moved or removed", first + i, m.seq),
                );
            }
            let i = first + i;
            intent_hash = m.intent_hash.or(intent_hash);
            context_hash = m.context_hash.or(context_hash);
            if m.variables_hash.is_some() && self.version < 2 {
                return fail(i, ErrorKind::Integrity, "variables appear only in format version 2".into());
            }
            variables_hash = m.variables_hash.or(variables_hash);
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
            let prev_visit = match (i - first, base) {
                (0, Some(b)) => Some((b.summary.visit, false)),
                (0, None) => None,
                (k, _) => Some((memory[k as usize - 1].meta.visit, memory[k as usize - 1].meta.status.is_terminal())),
            };
            if let Some((visit, terminal)) = prev_visit {
                if m.visit != visit && m.visit != visit + 1 {
                    return fail(i, ErrorKind::Integrity, format!("visit number {} does not follow {visit}", m.visit));
                }
                if terminal {
                    return fail(i, ErrorKind::Integrity, "a record after the object terminated".into());
                }
                if m.visit != visit {
                    visit_start = i;
                }
            } else if m.visit != 0 {
                return fail(0, ErrorKind::Integrity, "the genesis record must be visit 0".into());
            }
            let ends_visit = i == last || memory[(i - first) as usize + 1].meta.visit != m.visit;
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
                let trusted = m.signed && m.key.is_some_and(|k| trust.is_trusted(&k));
                if !m.signed {
                    report.unsigned_records += count;
                    if trust.require != SignatureRequirement::ValidIfPresent {
                        return fail(
                            i,
                            ErrorKind::Signature,
                            format!(
                                "this visit ends without a signature, and the verifier requires one{}",
                                trust.hint()
                            ),
                        );
                    }
                }
                if !trusted {
                    report.untrusted_records += count;
                    if trust.require == SignatureRequirement::EveryVisitTrusted && m.signed {
                        let key = m.key.map(|k| k.to_hex()).unwrap_or_default();
                        return fail(
                            i,
                            ErrorKind::Signature,
                            format!("signed by {key}, which is not a trusted key{}", trust.hint()),
                        );
                    }
                }
            }
            report.records_checked = i + 1 - first;
        }

        // Signatures, each checked strictly on its own (on admission, from the newest one
        // by a trusted key).
        let from =
            if anchored { to_verify.iter().rposition(|(_, key, _, _)| trust.is_trusted(key)).unwrap_or(0) } else { 0 };
        for (i, key, hash, sig) in &to_verify[from..] {
            if !key.verify_record(hash, sig, self.version) {
                return fail(
                    *i,
                    ErrorKind::Signature,
                    format!("the signature does not verify against the record's node key {key}"),
                );
            }
        }
        report.signatures_checked = (to_verify.len() - from) as u32;
        report.signers = signers
            .into_iter()
            .map(|(key, records)| Signer { key, trusted: trust.is_trusted(&key), records })
            .collect();

        // The head, and the content the last record commits to.
        if self.head() != self.stored_head() {
            return fail(
                last,
                ErrorKind::Integrity,
                "the object's head does not match the hash of its last record".into(),
            );
        }
        let tail = &memory[memory.len() - 1].meta;
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
        if variables_hash.unwrap_or_else(|| Hash::variables("{}")) != self.variables_hash() {
            return fail(
                last,
                ErrorKind::Integrity,
                "the variables do not match the hash in force after the last record".into(),
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
        let tail_record = memory[memory.len() - 1].decode().map_err(|e| (last, e))?;
        if tail_record.next_state != self.state() {
            return fail(last, ErrorKind::Integrity, "the object's state does not match its last record".into());
        }
        if let Err(why) = crate::cycle::check_results(self) {
            return fail(last, ErrorKind::Integrity, why);
        }
        let genesis = match base {
            None => {
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
                genesis.intent_hash
            }
            Some(b) => {
                if b.summary.id != self.id().to_hex()
                    || b.summary.lineage != crate::record::lineage_json(self.lineage())
                {
                    return fail(
                        first + b.at as u32,
                        ErrorKind::Integrity,
                        "the object's id or lineage does not match the checkpoint's summary of its genesis record"
                            .into(),
                    );
                }
                None
            }
        };

        report.checkpoint = self.check_checkpoint(trust)?;
        report.checkpoints_audited = self.audit_checkpoints()?;
        self.check_identities(trust, report, &to_verify)?;
        report.changes_checked = self.check_context_changes()? + self.check_intent_changes(genesis)?;
        Ok(())
    }

    /// Every signed claim against the trust store; the originator; the principal and
    /// the domains the verification vouches for.
    fn check_identities(
        &self,
        trust: &Trust,
        report: &mut VerifyReport,
        signed: &[(u32, PublicKey, Hash, crate::Signature)],
    ) -> Result<(), (u32, Error)> {
        let sig_err = |i: u32, msg: String| Err((i, Error::new(ErrorKind::Signature, msg)));
        let origin = &self.context().originator;
        let root = self.lineage().parent.is_none();
        let genesis_key = match self.base.as_deref() {
            Some(b) => b.summary.genesis_signer.as_deref().and_then(|k| PublicKey::from_hex(k).ok()),
            None => signed.first().filter(|s| s.0 == 0).map(|s| s.1),
        };
        if root
            && let Some(k) = origin.key
            && genesis_key != Some(k)
        {
            return sig_err(0, format!("the genesis record is not signed by the originator's key {k}"));
        }
        let mut domains = BTreeSet::new();
        for (i, key, _, _) in signed {
            let Some(entry) = trust.entry(key) else { continue };
            if *i == 0 && root {
                let subject = origin.subject.as_deref().unwrap_or_default();
                if origin.subject.is_some() && !entry.may_originate(subject, origin.domain.as_deref()) {
                    return sig_err(
                        0,
                        format!(
                            "the object claims originator `{subject}`, but its genesis is signed by {key}, which the trust store binds to {}",
                            entry.describe()
                        ),
                    );
                }
                domains.extend(origin.domain.clone());
                continue;
            }
            let r = self.memory()[(*i - self.pruned()) as usize].decode().map_err(|e| (*i, e))?;
            if !entry.may_sign_as(&r.node.id, &r.node.domain) {
                return sig_err(
                    *i,
                    format!(
                        "record {i} claims node `{}` in domain `{}`, but is signed by {key}, which the trust store binds to {}",
                        r.node.id,
                        r.node.domain,
                        entry.describe()
                    ),
                );
            }
            if !r.node.domain.is_empty() {
                domains.insert(r.node.domain.clone());
            }
        }
        // The pruned records' writers, as the checkpoint (checked against the trust store
        // above) attests them.
        if let Some(b) = self.base.as_deref() {
            domains.extend(b.summary.domains.iter().cloned());
        }
        let principal = origin.subject.clone().or_else(|| origin.key.filter(|_| root).map(|k| k.to_hex()));
        if !trust.checks_claims() {
            report.principal = principal;
            return Ok(());
        }
        // Claims are checked: the subject must be vouched for by the genesis signature.
        if let Some(subject) = &origin.subject {
            // A child's genesis is written by the node that fanned out (checked above
            // against its binding): that node vouched for the parent's originator.
            let vouched = genesis_key
                .and_then(|k| trust.entry(&k))
                .is_some_and(|e| !root || e.may_originate(subject, origin.domain.as_deref()));
            if !vouched {
                return sig_err(
                    0,
                    format!(
                        "the object claims originator `{subject}`, but no trusted key the store binds to it signed its genesis"
                    ),
                );
            }
        }
        report.principal = principal;
        report.domains = Some(domains.into_iter().collect());
        Ok(())
    }

    /// Replays every change of context backwards from the object's context to the one
    /// the genesis committed to: each must be a `mutate` (context) record that only
    /// added labels, carried policies or policy references. Returns how many there were.
    fn check_context_changes(&self) -> Result<u32, (u32, Error)> {
        let memory = self.memory();
        let first = self.pruned();
        let mut in_force = Vec::new();
        let mut current =
            self.base.as_deref().and_then(|b| hex::decode(&b.summary.context).ok()).and_then(|b| Hash::from_slice(&b));
        for (i, r) in memory.iter().enumerate() {
            if let Some(h) = r.meta.context_hash {
                in_force.push((first + i as u32, current, h));
                current = Some(h);
            }
        }
        let integrity = |i: u32, msg: String| (i, Error::new(ErrorKind::Integrity, msg));
        let mut context: Context = self.context().clone();
        let mut checked = 0;
        for (i, before, after) in in_force.into_iter().rev() {
            let Some(before) = before else { break };
            if before == after {
                continue;
            }
            let r = memory[(i - first) as usize].decode().map_err(|e| (i, e))?;
            let Body::Mutate { kind: MutateKind::Context, change, .. } = &r.body else {
                return Err(integrity(i, format!("record {i} changes the context, but is not a context `mutate`")));
            };
            let change: Value = change
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| integrity(i, format!("record {i}: the context change is not JSON: {e}")))?
                .unwrap_or(Value::Null);
            context = context.before_narrowing(&change).map_err(|why| {
                integrity(i, format!("record {i}: the context change does not add what it says: {why}"))
            })?;
            if context.hash() != before {
                return Err(integrity(
                    i,
                    format!(
                        "record {i} changes the context in a way its record does not say: a context can only gain labels, policies and policy references"
                    ),
                ));
            }
            checked += 1;
        }
        Ok(checked)
    }

    /// Replays every change of intent forward from the plan the genesis committed to
    /// (format version 2 carries it as `intent.origin`): each must be the application of
    /// an `Adapt` rule of the intent in force that had not fired, a handler's refinement
    /// within what the plan allows, or signed by the originator's key.
    /// After compaction the replay starts from the intent the checkpoint attests (its
    /// `plan`, or the original plan at revision 0), with the `Adapt` rules its summary
    /// says have fired.
    fn check_intent_changes(&self, genesis_intent: Option<Hash>) -> Result<u32, (u32, Error)> {
        let memory = self.memory();
        let first = self.pruned();
        let integrity = |i: u32, msg: String| (i, Error::new(ErrorKind::Integrity, msg));
        let changes: Vec<u32> = memory
            .iter()
            .enumerate()
            .filter(|(_, r)| r.meta.intent_hash.is_some() && r.meta.action != Action::Genesis)
            .map(|(i, _)| first + i as u32)
            .collect();
        if changes.is_empty() || self.version < 2 {
            // Version 1 objects carry no original plan: their intent changes are not
            // replayed (docs/security.md).
            return Ok(0);
        }
        let Some(origin) = &self.origin else {
            return Err(integrity(
                changes[0],
                "the intent changed, but the object does not carry its original plan (intent.origin)".into(),
            ));
        };
        let limits = Limits::default();
        let original = Intent::from_json_text(origin, &limits).map_err(|e| (0, e))?;
        let (mut intent, mut fired) = match self.base.as_deref() {
            None => {
                if Some(original.hash()) != genesis_intent {
                    return Err(integrity(0, "intent.origin is not the plan the genesis record committed to".into()));
                }
                (original.clone(), BTreeSet::new())
            }
            Some(b) => {
                let at = first + b.at as u32;
                let intent = match (&b.plan, b.summary.intent_revision) {
                    (_, 0) => original.clone(),
                    (Some(plan), r) => {
                        let doc = crate::json::parse(plan, &limits.for_plan(), "the checkpoint's plan")
                            .map_err(|e| (at, e))?;
                        Intent::from_parts(doc, plan.to_string(), r, &limits).map_err(|e| (at, e))?
                    }
                    (None, _) => {
                        return Err(integrity(
                            at,
                            "the checkpoint says the intent had changed, but carries no plan".into(),
                        ));
                    }
                };
                if intent.hash().to_hex() != b.summary.intent {
                    return Err(integrity(
                        at,
                        "the checkpoint's plan is not the intent its summary says was in force".into(),
                    ));
                }
                (intent, b.summary.fired.clone())
            }
        };
        let first_intent = original;
        let mut checked = 0;
        for i in changes {
            let meta = &memory[(i - first) as usize].meta;
            let r = memory[(i - first) as usize].decode().map_err(|e| (i, e))?;
            let Body::Mutate { kind: MutateKind::Intent, change, .. } = &r.body else {
                return Err(integrity(i, format!("record {i} changes the intent, but is not an intent `mutate`")));
            };
            let change: Value = change
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .ok_or_else(|| integrity(i, format!("record {i}: the intent change is missing or not JSON")))?;
            let then = &change["then"];
            let (next, _) = crate::cycle::refine(&intent, then).map_err(|e| {
                integrity(i, format!("record {i}: its recorded change does not apply: {}", e.message()))
            })?;
            if meta.intent_hash != Some(next.hash()) {
                return Err(integrity(
                    i,
                    format!("record {i} commits an intent that is not its recorded change applied"),
                ));
            }
            if let Some(rule) = change.get("adapt").and_then(Value::as_str) {
                let position = intent
                    .plan()
                    .adapt
                    .iter()
                    .enumerate()
                    .position(|(n, a)| a.name.clone().unwrap_or_else(|| format!("#{n}")) == rule);
                let Some(n) = position else {
                    return Err(integrity(
                        i,
                        format!("record {i} applies Adapt rule `{rule}`, which the intent does not have"),
                    ));
                };
                if !fired.insert(rule.to_owned()) {
                    return Err(integrity(i, format!("record {i} applies Adapt rule `{rule}` a second time")));
                }
                if intent.document()["Adapt"][n]["Then"] != *then {
                    return Err(integrity(i, format!("record {i} applies a change that is not Adapt rule `{rule}`'s")));
                }
            } else if change.get("refinement").is_some() {
                crate::cycle::check_refinement(&first_intent, &intent, &next, then).map_err(|why| {
                    integrity(i, format!("record {i}: a refinement beyond what the plan allows: {why}"))
                })?;
            } else if !(r.signed && r.node.key.is_some() && r.node.key == self.context().originator.key) {
                return Err(integrity(
                    i,
                    format!(
                        "record {i} changes the intent without an Adapt rule, a refinement or the originator's signature"
                    ),
                ));
            }
            intent = next;
            checked += 1;
        }
        Ok(checked)
    }
}
