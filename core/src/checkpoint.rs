//! Compaction: the checkpoint record, the summary it carries, the archive segments of
//! pruned records, and the full audit that rebuilds a compacted history.
//!
//! A checkpoint at seq `c` names `pruned = p <= c`: records `0 .. p` are folded into its
//! summary and Merkle frontier and removed from the memory, which then starts at seq `p`
//! and chains from `base`, the hash of record `p - 1`. The summary is a pure function of
//! the pruned records: [`Summary::add`] folds them one by one, so a node that holds
//! them (an archive) recomputes it byte for byte, and a later checkpoint's summary is
//! an earlier one's with the records between them added. docs/long-lived.md.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use flatbuffers::FlatBufferBuilder;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cycle::{self, History};
use crate::merkle::{Frontier, Proof};
use crate::object::StoredRecord;
use crate::record::RecordMeta;
use crate::verify::{CheckpointReport, SignatureRequirement};
use crate::{Body, DormantReason, Error, Hash, MutateKind, Object, PublicKey, Record, Result, Signature, wire};

/// What records `0 .. records` leave to the cycle and to verification. Its canonical
/// JSON is the checkpoint's `summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// How many records it folds (the checkpoint's `pruned`).
    pub records: u32,
    /// Checkpoint records among them (positions that users see skip checkpoints).
    pub checkpoints: u32,
    /// The visit of the last record folded.
    pub visit: u32,
    /// The object's id and lineage, from the genesis record.
    pub id: String,
    pub lineage: Value,
    /// The execution's input and start (`$$.Execution`), from the genesis record.
    pub input: Value,
    pub start_ms: i64,
    /// The genesis record's hash and the key that signed it.
    pub genesis: String,
    pub genesis_signer: Option<String>,
    /// Step Functions history events the records stand for.
    pub aws_events: u32,
    /// Whether the last record folded is a Wait state's `dormant`.
    pub after_wait: bool,
    /// `$$.History`: attempts and failures per state, writers' domains, fired rules.
    pub attempts: BTreeMap<String, u32>,
    pub failures: BTreeMap<String, u32>,
    pub domains: BTreeSet<String>,
    pub fired: BTreeSet<String>,
    /// The state entry in progress after the last record folded.
    pub entry: Entry,
    /// The intent (revision and hash) and context hash in force after the last record.
    pub intent_revision: u32,
    pub intent: String,
    pub context: String,
    /// The variables hash in force (lower-case hex; absent while there are none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variables: String,
    /// Signed records per key (lower-case hex).
    pub signers: BTreeMap<String, u32>,
}

/// The state entry in progress: what `Progress` reads from the records of the entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The state the object is in (the last record's `next_state`).
    pub state: String,
    /// Whether the last record continues the entry (a failed attempt, a back-off).
    pub continues: bool,
    /// The seq of the entry's first record, and the time the entry began.
    pub seq: u32,
    pub ms: i64,
    /// Checkpoint records before `seq` (the entry's position, as users see it, is
    /// `seq - checkpoints`).
    pub checkpoints: u32,
    /// Errors raised in the entry, by name (they count against the state's retriers).
    pub errors: BTreeMap<String, u32>,
}

impl Summary {
    /// Folds the next record (of hash `hash`, signed by `signer`).
    pub fn add(&mut self, r: &Record, hash: &Hash, signer: Option<&PublicKey>) {
        self.records += 1;
        self.visit = r.visit;
        if let Some(k) = signer {
            *self.signers.entry(k.to_hex()).or_default() += 1;
        }
        if let Body::Genesis { id, lineage, input } = &r.body {
            self.id = id.to_hex();
            self.lineage = crate::record::lineage_json(lineage);
            self.input = serde_json::from_str(input).unwrap_or(Value::Null);
            self.start_ms = r.time_ms;
            self.genesis = hash.to_hex();
            self.genesis_signer = signer.map(PublicKey::to_hex);
        }
        if let Body::Checkpoint { .. } = r.body {
            self.checkpoints += 1;
        } else {
            let mut h = History {
                domains: std::mem::take(&mut self.domains),
                failures: std::mem::take(&mut self.failures),
                attempts: std::mem::take(&mut self.attempts),
                fired: std::mem::take(&mut self.fired),
            };
            h.add(r);
            (self.domains, self.failures, self.attempts, self.fired) = (h.domains, h.failures, h.attempts, h.fired);
        }
        self.aws_events += cycle::aws_events(r, self.after_wait, None);
        self.after_wait = matches!(r.body, Body::Dormant { reason: DormantReason::Wait, .. });
        if let Some(h) = r.intent_hash {
            self.intent = h.to_hex();
            self.intent_revision = match &r.body {
                Body::Mutate { kind: MutateKind::Intent, revision, .. } => *revision,
                _ => 0,
            };
        }
        if let Some(h) = r.context_hash {
            self.context = h.to_hex();
        }
        if let Some(h) = r.variables_hash {
            self.variables = h.to_hex();
        }
        // The entry, as `Progress::from_memory` reads it backwards.
        let checkpoints = self.checkpoints;
        let e = &mut self.entry;
        if !cycle::continues_entry(r) {
            *e = Entry {
                state: r.next_state.clone(),
                continues: false,
                seq: r.seq + 1,
                ms: r.time_ms,
                checkpoints,
                ..Entry::default()
            };
            return;
        }
        if e.state != r.state {
            let before = checkpoints - u32::from(matches!(r.body, Body::Checkpoint { .. }));
            *e = Entry { seq: r.seq, ms: r.time_ms, checkpoints: before, ..Entry::default() };
        }
        e.state = r.next_state.clone();
        e.continues = true;
        if let Some(err) = cycle::failed(r) {
            *e.errors.entry(err.error).or_default() += 1;
        }
    }

    /// The canonical JSON a checkpoint stores.
    pub fn to_text(&self) -> String {
        crate::json::canonical(&serde_json::to_value(self).expect("a summary is JSON"))
    }

    /// Reads a checkpoint's summary (untrusted text).
    pub fn from_text(text: &str) -> Result<Summary> {
        serde_json::from_str(text).map_err(|e| Error::decode(format!("a checkpoint's summary does not read: {e}")))
    }

    /// The execution history the summary carries.
    pub(crate) fn history(&self) -> History {
        History {
            domains: self.domains.clone(),
            failures: self.failures.clone(),
            attempts: self.attempts.clone(),
            fired: self.fired.clone(),
        }
    }

    /// The first top-level field where two summaries differ.
    pub fn first_difference(&self, other: &Summary) -> Option<String> {
        let (a, b) = (serde_json::to_value(self).ok()?, serde_json::to_value(other).ok()?);
        let (a, b) = (a.as_object()?, b.as_object()?);
        a.iter().find(|(k, v)| b.get(*k) != Some(*v)).map(|(k, _)| k.clone())
    }
}

/// What the newest checkpoint of a compacted memory says about the pruned records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Base {
    /// Records pruned: the memory starts at this seq.
    pub pruned: u32,
    /// The hash of record `pruned - 1`: what the first record kept follows.
    pub hash: Hash,
    pub frontier: Frontier,
    pub summary: Summary,
    /// The plan in force after record `pruned - 1`, when the intent had changed.
    pub plan: Option<Arc<str>>,
    /// The memory index of the checkpoint record that says all this.
    pub at: usize,
}

impl Base {
    /// Reads the newest checkpoint of a memory, if it pruned anything.
    pub(crate) fn of(records: &[(RecordMeta, &[u8])]) -> Result<Option<Base>> {
        let Some(at) = records.iter().rposition(|(m, _)| m.action == crate::Action::Checkpoint) else {
            return Ok(None);
        };
        let r = Record::decode(records[at].1).map_err(|e| e.at_record(records[at].0.seq))?;
        let Body::Checkpoint { pruned, base, frontier, summary, plan } = r.body else {
            return Err(Error::internal("a checkpoint record without a checkpoint body"));
        };
        if pruned == 0 {
            return Ok(None);
        }
        let bad = |msg: String| Error::decode(msg).at_record(r.seq);
        let hash =
            base.ok_or_else(|| bad("a checkpoint that prunes records must name their last hash (`base`)".into()))?;
        let frontier = Frontier::from_parts(u64::from(pruned), frontier).map_err(|e| bad(e.message().to_owned()))?;
        let summary = Summary::from_text(&summary).map_err(|e| bad(e.message().to_owned()))?;
        if summary.records != pruned {
            return Err(bad(format!(
                "the checkpoint prunes {pruned} records, but its summary folds {}",
                summary.records
            )));
        }
        Ok(Some(Base { pruned, hash, frontier, summary, plan: plan.map(Arc::from), at }))
    }
}

/// Pruned records as an archive keeps them: consecutive records from `first_seq`,
/// chained from `prev`. Keyed by [`Segment::end`], the hash of its last record, which
/// is the `base` of the checkpoint that pruned them.
#[derive(Debug, Clone)]
pub struct Segment {
    pub(crate) first_seq: u32,
    pub(crate) prev: Hash,
    pub(crate) records: Vec<StoredRecord>,
}

impl Segment {
    /// The seq of the first record.
    pub fn first_seq(&self) -> u32 {
        self.first_seq
    }
    /// The hash the first record follows (zero before the genesis record).
    pub fn prev(&self) -> Hash {
        self.prev
    }
    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }
    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    /// The hash of the last record: the archive's key for the segment.
    pub fn end(&self) -> Hash {
        self.records.last().map_or(self.prev, StoredRecord::hash)
    }
    /// The records.
    pub fn records(&self) -> &[StoredRecord] {
        &self.records
    }

    /// The FlatBuffers `Segment` table (schema/peo.fbs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::with_capacity(self.records.iter().map(|r| r.bytes().len() + 96).sum());
        let entries: Vec<_> = self
            .records
            .iter()
            .map(|r| {
                let bytes = fbb.create_vector(r.bytes());
                let signature = r.signature().map(|s| fbb.create_vector(&s.0));
                wire::RecordEntry::create(&mut fbb, &wire::RecordEntryArgs { bytes: Some(bytes), signature })
            })
            .collect();
        let records = Some(fbb.create_vector(&entries));
        let prev = Some(fbb.create_vector(&self.prev.0));
        let root = wire::Segment::create(&mut fbb, &wire::SegmentArgs { first_seq: self.first_seq, prev, records });
        fbb.finish_minimal(root);
        fbb.finished_data().to_vec()
    }

    /// Reads a segment (untrusted bytes): the records' hashes are recomputed from `prev`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Segment> {
        let opts = flatbuffers::VerifierOptions {
            max_depth: 32,
            max_tables: (bytes.len() / 4).max(4096),
            max_apparent_size: bytes.len().saturating_mul(4).max(1 << 16),
            ..Default::default()
        };
        let s = flatbuffers::root_with_opts::<wire::Segment>(&opts, bytes)
            .map_err(|e| Error::decode(format!("malformed archive segment: {}", crate::record::one_line(&e))))?;
        let prev = s
            .prev()
            .and_then(|p| Hash::from_slice(p.bytes()))
            .ok_or_else(|| Error::decode("an archive segment names the 32-byte hash its first record follows"))?;
        let mut records = Vec::new();
        let mut at = prev;
        for (i, e) in s.records().iter().flatten().enumerate() {
            let rb = e.bytes().bytes();
            let seq = s.first_seq().saturating_add(i as u32);
            let meta = RecordMeta::read(rb).map_err(|err| err.at_record(seq))?;
            let signature = match e.signature() {
                None => None,
                Some(sig) => Some(Box::new(Signature::from_slice(sig.bytes()).ok_or_else(|| {
                    Error::decode(format!("a signature is 64 bytes, got {}", sig.len())).at_record(seq)
                })?)),
            };
            let bytes = bytes::Bytes::copy_from_slice(rb);
            let hash = Hash::record(&at, &bytes);
            at = hash;
            records.push(StoredRecord { bytes, hash, signature, meta });
        }
        Ok(Segment { first_seq: s.first_seq(), prev, records })
    }
}

impl Object {
    /// The number of records pruned from the memory (its first record's seq).
    pub fn pruned(&self) -> u32 {
        self.base.as_ref().map_or(0, |b| b.pruned)
    }

    /// The seq the next record gets.
    pub(crate) fn next_seq(&self) -> u32 {
        self.pruned().saturating_add(self.memory.len() as u32)
    }

    /// How many records the object has written, pruned ones included (the next
    /// record's seq). Two versions of an object compare by this, not by the length of
    /// their memories.
    pub fn written(&self) -> u32 {
        self.next_seq()
    }

    /// The hash of record `seq`, when the object still knows it: a record of the
    /// memory, or the last pruned one (the newest checkpoint's base).
    pub fn hash_at(&self, seq: u32) -> Option<Hash> {
        let first = self.pruned();
        if seq >= first {
            return self.memory.get((seq - first) as usize).map(StoredRecord::hash);
        }
        self.base.as_ref().filter(|b| seq + 1 == b.pruned).map(|b| b.hash)
    }

    /// The records of the memory from seq `from` on.
    pub fn records_from(&self, from: u32) -> &[StoredRecord] {
        let i = (from.saturating_sub(self.pruned()) as usize).min(self.memory.len());
        &self.memory[i..]
    }

    /// Records written before `seq`, checkpoints not counted: the position users see
    /// (`$$.History.Records`, `MaxRecords`, the entry in idempotency keys), the same
    /// whether or not, and however often, the memory was compacted.
    pub(crate) fn ordinal(&self, seq: u32) -> u32 {
        if let Some(b) = &self.base
            && seq < b.pruned
        {
            // Among the pruned records, the summary knows one position: where the state
            // entry in progress began.
            let s = &b.summary;
            return seq.saturating_sub(if seq == s.entry.seq { s.entry.checkpoints } else { s.checkpoints });
        }
        let pruned = self.base.as_ref().map_or(0, |b| b.summary.checkpoints);
        let kept = self.kept_checkpoints().partition_point(|s| *s < seq) as u32;
        seq.saturating_sub(pruned.saturating_add(kept))
    }

    /// The seqs of the checkpoint records in the memory (computed once, then kept up to
    /// date by `append` and `prune`).
    pub(crate) fn kept_checkpoints(&self) -> &[u32] {
        self.scratch.checkpoints.get_or_init(|| {
            self.memory.iter().filter(|r| r.meta.action == crate::Action::Checkpoint).map(|r| r.meta.seq).collect()
        })
    }

    /// The summary of the records before memory index `upto`, and the frontier over
    /// their hashes, from the newest checkpoint's (or from nothing).
    pub(crate) fn fold_to(&self, upto: usize) -> Result<(Summary, Frontier)> {
        let (mut summary, mut frontier) = match &self.base {
            Some(b) => (b.summary.clone(), b.frontier.clone()),
            None => (Summary::default(), Frontier::new()),
        };
        for r in &self.memory[..upto] {
            let rec = r.decode()?;
            summary.add(&rec, &r.hash, r.signature().and(rec.node.key.as_ref()));
            frontier.push(&r.hash);
        }
        Ok((summary, frontier))
    }

    /// Removes the records a just-appended checkpoint folded, keeping them as an
    /// archive segment ([`Object::take_archive`]).
    pub(crate) fn prune(&mut self) -> Result<()> {
        let metas: Vec<(RecordMeta, &[u8])> = self.memory.iter().map(|r| (r.meta, r.bytes())).collect();
        let Some(mut base) = Base::of(&metas)? else { return Ok(()) };
        let drop = base.pruned.saturating_sub(self.pruned()) as usize;
        if drop == 0 {
            return Ok(());
        }
        let prev = self.base.as_ref().map_or(Hash::ZERO, |b| b.hash);
        let first_seq = self.pruned();
        let records: Vec<StoredRecord> = self.memory.drain(..drop).collect();
        base.at -= drop;
        self.scratch.checkpoints = Default::default();
        self.scratch.archive.push(Segment { first_seq, prev, records });
        self.base = Some(Arc::new(base));
        Ok(())
    }

    /// The archive segments of the records compactions pruned since the object was
    /// decoded: store them keyed by [`Segment::end`] to audit later.
    pub fn archive(&self) -> &[Segment] {
        &self.scratch.archive
    }

    /// The segments compaction pruned from this object since it was decoded (taken
    /// once, for an archive; see [`Object::archive`] to read them in place).
    pub fn take_archive(&mut self) -> Vec<Segment> {
        std::mem::take(&mut self.scratch.archive)
    }

    /// The whole history again: this object with the pruned records put back from
    /// `archive` (segments in any order), as if it had never been compacted. Fails,
    /// naming the record, when a segment is missing or does not chain.
    pub fn restore(&self, archive: &[Segment]) -> Result<Object> {
        let by_end: BTreeMap<Hash, &Segment> = archive.iter().map(|s| (s.end(), s)).collect();
        let mut parts = Vec::new();
        let (mut need, mut at) = match &self.base {
            None => return Ok(self.clone()),
            Some(b) => (b.hash, b.pruned),
        };
        while at > 0 {
            let s = by_end.get(&need).ok_or_else(|| {
                Error::integrity(format!(
                    "the archive has no segment ending at {need} (records before {at} were pruned and are not given)"
                ))
                .at_record(at)
            })?;
            if s.first_seq.saturating_add(s.records.len() as u32) != at || s.records.is_empty() {
                return Err(Error::integrity(format!(
                    "the archive segment ending at {need} holds records {}..{}, not the ones before {at}",
                    s.first_seq,
                    s.first_seq as usize + s.records.len()
                ))
                .at_record(at));
            }
            parts.push(*s);
            need = s.prev;
            at = s.first_seq;
        }
        if need != Hash::ZERO {
            return Err(Error::integrity("the archive's first segment does not start the chain").at_record(0));
        }
        let mut full = self.clone();
        full.memory = parts.iter().rev().flat_map(|s| s.records.iter().cloned()).collect();
        full.memory.extend(self.memory.iter().cloned());
        full.base = None;
        full.scratch = Default::default();
        Ok(full)
    }
}

/// How many records of the memory a checkpoint written in `visit` would fold.
pub(crate) fn foldable(obj: &Object, keep: u32, visit: u32) -> usize {
    let earlier = obj.memory.iter().take_while(|r| r.meta.visit < visit).count();
    obj.memory.len().saturating_sub(keep as usize).min(earlier)
}

/// What a compaction decides: the checkpoint body, when there is something to prune.
///
/// It never folds records of the visit that writes it (`visit`): a version of the object
/// and its successor stay comparable by their records, and a visit's records stay under
/// the signature that ends it.
pub(crate) fn checkpoint_body(obj: &Object, keep: u32, visit: u32) -> Result<Option<Body>> {
    let drop = foldable(obj, keep, visit);
    if drop == 0 {
        return Ok(None);
    }
    let (summary, frontier) = obj.fold_to(drop)?;
    let last = &obj.memory[drop - 1];
    // The plan in force after the last pruned record: the current one, since a
    // compaction waits until no intent change is among the records it keeps.
    let plan = (summary.intent_revision > 0).then(|| obj.intent.canonical_text().to_owned());
    Ok(Some(Body::Checkpoint {
        pruned: obj.pruned() + drop as u32,
        base: Some(last.hash),
        frontier: frontier.roots().to_vec(),
        summary: summary.to_text(),
        plan,
    }))
}

type Broken = (u32, Error);

impl Object {
    /// The checkpoint a compacted memory starts from: signed as the trust requires.
    pub(crate) fn check_checkpoint(
        &self,
        trust: &crate::Trust,
    ) -> std::result::Result<Option<CheckpointReport>, Broken> {
        let Some(b) = self.base.as_deref() else { return Ok(None) };
        let seq = self.pruned() + b.at as u32;
        let r = self.memory[b.at].decode().map_err(|e| (seq, e))?;
        let key = r.node.key.filter(|_| r.signed);
        let trusted = key.is_some_and(|k| trust.is_trusted(&k));
        let report = CheckpointReport {
            seq,
            pruned: b.pruned,
            node: r.node.id.clone(),
            domain: r.node.domain.clone(),
            key,
            trusted,
        };
        let sig = |msg: String| Err((seq, Error::new(crate::ErrorKind::Signature, msg)));
        if key.is_none() && trust.require != SignatureRequirement::ValidIfPresent {
            return sig(format!(
                "the checkpoint that stands for records 0-{} is not signed, and the verifier requires signatures",
                b.pruned - 1
            ));
        }
        if !trusted && trust.require == SignatureRequirement::EveryVisitTrusted {
            return sig(format!(
                "the checkpoint that stands for records 0-{} is signed by {}, which is not a trusted key",
                b.pruned - 1,
                key.map(|k| k.to_hex()).unwrap_or_default()
            ));
        }
        Ok(Some(report))
    }

    /// Recomputes every checkpoint of the memory whose folded records are at hand (all
    /// of them in a restored history; otherwise those that fold records kept after the
    /// newest checkpoint's base): its base, frontier and summary must be exactly what
    /// the records give. Returns how many were recomputed.
    pub(crate) fn audit_checkpoints(&self) -> std::result::Result<u32, Broken> {
        let first = self.pruned();
        let mut wanted = Vec::new();
        for (j, r) in self.memory.iter().enumerate() {
            if r.meta.action != crate::Action::Checkpoint {
                continue;
            }
            let seq = first + j as u32;
            let rec = r.decode().map_err(|e| (seq, e))?;
            let Body::Checkpoint { pruned, base, frontier, summary, .. } = rec.body else { continue };
            let attested = self.base.is_some() && pruned == first;
            if pruned < first || attested {
                continue;
            }
            if pruned > seq {
                return Err((
                    seq,
                    Error::integrity(format!("record {seq}: a checkpoint cannot fold records after it")),
                ));
            }
            wanted.push((seq, pruned, base, frontier, summary));
        }
        if wanted.is_empty() {
            return Ok(0);
        }
        // In the order of the records they fold (a crafted memory may list them in any).
        wanted.sort_by_key(|w| w.1);
        let (mut summary, mut frontier) = match &self.base {
            Some(b) => (b.summary.clone(), b.frontier.clone()),
            None => (Summary::default(), Frontier::new()),
        };
        let mut prev = self.base.as_ref().map(|b| b.hash);
        let mut next = wanted.iter().peekable();
        for (j, r) in self.memory.iter().enumerate() {
            let at = first + j as u32;
            while let Some((seq, _, base, roots, text)) = next.next_if(|w| w.1 == at) {
                let integrity = |what: String| Err((*seq, Error::integrity(format!("record {seq}: {what}"))));
                if *base != prev {
                    return integrity(format!(
                        "the checkpoint's `base` is not the hash of record {}",
                        at.wrapping_sub(1)
                    ));
                }
                if roots.as_slice() != frontier.roots() {
                    return integrity(format!(
                        "the checkpoint's Merkle `frontier` is not the one over the hashes of records 0-{}",
                        at.wrapping_sub(1)
                    ));
                }
                let stored = Summary::from_text(text).map_err(|e| (*seq, e))?;
                if let Some(field) = stored.first_difference(&summary) {
                    return integrity(format!(
                        "the checkpoint's `summary` does not match the records it folds (field `{field}`)"
                    ));
                }
                if *text != summary.to_text() {
                    return integrity("the checkpoint's `summary` is not canonical JSON".into());
                }
            }
            let rec = r.decode().map_err(|e| (at, e))?;
            summary.add(&rec, &r.hash, r.signature().and(rec.node.key.as_ref()));
            frontier.push(&r.hash);
            prev = Some(r.hash);
        }
        if let Some((seq, pruned, ..)) = next.next() {
            return Err((
                *seq,
                Error::integrity(format!(
                    "record {seq}: a checkpoint cannot fold {pruned} records: the history before it is shorter"
                )),
            ));
        }
        Ok(wanted.len() as u32)
    }

    /// The RFC 6962 inclusion proof that pruned record `seq` is part of this object's
    /// history, made from `archive` (the pruned records, segments in any order): the
    /// record's hash and its audit path to the frontier the newest checkpoint carries.
    /// Anyone holding the object, and not the archive, checks it with
    /// [`Object::check_pruned`] in log n hashes. Fails when `seq` was not pruned or the
    /// archive does not restore the history.
    pub fn prove_pruned(&self, archive: &[Segment], seq: u32) -> Result<PrunedProof> {
        let pruned = self.pruned();
        if seq >= pruned {
            let why = if pruned == 0 {
                "the object has pruned no records".to_owned()
            } else {
                format!("records 0 to {} were pruned", pruned - 1)
            };
            return Err(Error::invalid_argument(format!("record {seq} is not a pruned record: {why}")).in_field("seq"));
        }
        let full = self.restore(archive)?;
        let hashes: Vec<Hash> = full.memory[..pruned as usize].iter().map(StoredRecord::hash).collect();
        Ok(PrunedProof { record_hash: hashes[seq as usize], proof: Proof::make(&hashes, u64::from(seq))? })
    }

    /// Checks, offline, that `proof` shows its record hash as pruned record
    /// `proof.index` of this object, against the Merkle frontier of the newest
    /// checkpoint. That proves the record belongs to the history the checkpoint
    /// attests; whether the checkpoint's signer is trusted is what [`Object::verify`]
    /// says. An integrity error naming the field `proof` when it does not.
    pub fn check_pruned(&self, proof: &PrunedProof) -> Result<()> {
        let index = proof.proof.index;
        let Some(base) = &self.base else {
            return Err(Error::integrity("the object has pruned no records: no proof can hold").in_field("proof"));
        };
        if index >= u64::from(base.pruned) {
            return Err(Error::integrity(format!(
                "the proof names record {index}, but only records 0 to {} were pruned",
                base.pruned - 1
            ))
            .in_field("proof.index"));
        }
        if !base.frontier.proves(&proof.record_hash, &proof.proof) {
            return Err(Error::integrity(format!(
                "the proof does not lead from record hash {} to the frontier of the checkpoint that pruned it",
                proof.record_hash.to_hex()
            ))
            .at_record(index as u32)
            .in_field("proof"));
        }
        Ok(())
    }

    /// The full audit: the history restored from `archive` ([`Object::restore`]) and
    /// verified, every checkpoint recomputed from the records it folds.
    pub fn audit(&self, archive: &[Segment], trust: &crate::Trust) -> crate::VerifyReport {
        match self.restore(archive) {
            Ok(full) => full.verify(trust),
            Err(e) => {
                let mut report = self.verify(trust);
                if report.broken.is_none() {
                    report.broken = Some(crate::Broken {
                        record: e.record().unwrap_or(0),
                        kind: e.kind(),
                        message: e.message().to_owned(),
                    });
                }
                report
            }
        }
    }
}

/// A pruned record's inclusion proof ([`Object::prove_pruned`]), in JSON
/// `{"index": <seq>, "record_hash": <64 hex digits>, "path": [<64 hex digits>, ...]}`:
/// the record's hash and its RFC 6962 audit path, leaf first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedProof {
    pub record_hash: Hash,
    pub proof: Proof,
}

impl PrunedProof {
    /// The JSON form (`forms::PrunedProofForm`).
    pub fn to_json(&self) -> Value {
        let form = crate::forms::PrunedProofForm {
            index: self.proof.index,
            path: self.proof.path.iter().map(Hash::to_hex).collect(),
            record_hash: self.record_hash.to_hex(),
        };
        serde_json::to_value(form).unwrap_or(Value::Null)
    }

    /// Reads the JSON form; an invalid-argument error naming `proof` when it is not one.
    pub fn from_json(v: &Value) -> Result<PrunedProof> {
        let record_hash = v
            .get("record_hash")
            .and_then(Value::as_str)
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| Hash::from_slice(&b))
            .ok_or_else(|| {
                Error::invalid_argument("a pruned-record proof names its record_hash in 64 hex digits")
                    .in_field("proof")
            })?;
        let proof = Proof::from_json(v).map_err(|e| e.in_field("proof"))?;
        Ok(PrunedProof { record_hash, proof })
    }
}
