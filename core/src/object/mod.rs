//! The object: header, intent, context, memory and data, and its wire decoding
//! (`encode.rs` encodes it).

mod encode;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use flatbuffers::{FlatBufferBuilder, VerifierOptions};
use serde_json::{Value, json};

use crate::cycle::{FanOut, History, Progress};
use crate::record::{RecordMeta, id_field, lineage_from_wire, lineage_json, one_line};
use crate::wire;
use crate::{
    Body, CarriedPolicy, Context, Error, Hash, Intent, Limits, Lineage, NodeRef, ObjectId, Originator, PublicKey,
    Record, Result, Signature, SigningKey, Status, json as cjson,
};

/// The wire format version this library writes and the newest it reads. Objects of
/// version 1 still decode, verify and run: they keep their version for life.
pub const FORMAT_VERSION: u16 = 2;

thread_local! {
    /// One reusable builder per thread for record encoding: appends allocate only the
    /// record's own bytes.
    static RECORD_BUILDER: RefCell<FlatBufferBuilder<'static>> = RefCell::new(FlatBufferBuilder::with_capacity(1024));
}

/// One memory record as stored: its exact bytes, its hash in the chain and its
/// signature.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub(crate) bytes: Bytes,
    pub(crate) hash: Hash,
    pub(crate) signature: Option<Box<Signature>>,
    pub(crate) meta: RecordMeta,
}

impl StoredRecord {
    /// The record's exact bytes (a FlatBuffers `Record`).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// `SHA-256("peo/record/v1" || previous record hash || bytes)`.
    pub fn hash(&self) -> Hash {
        self.hash
    }
    pub fn signature(&self) -> Option<&Signature> {
        self.signature.as_deref()
    }
    /// Decodes the record.
    pub fn decode(&self) -> Result<Record> {
        Record::decode(&self.bytes).map_err(|e| e.at_record(self.meta.seq))
    }
}

/// Options for [`Object::create`].
#[derive(Debug, Clone, Default)]
pub struct CreateOptions<'a> {
    /// The object's id. When `None` it is derived from the content and `now_ms`
    /// (`SHA-256("peo/id/v1" || intent hash || context hash || data hash || now_ms)`,
    /// first 16 bytes): pass an id (for example `ObjectId::random()`) when two objects
    /// may be created with the same content in the same millisecond.
    pub id: Option<ObjectId>,
    /// The creator's clock, ms since the Unix epoch (core reads no clock).
    pub now_ms: i64,
    /// The originator's key: signs the genesis record and becomes the context's
    /// originator key.
    pub key: Option<&'a SigningKey>,
    pub limits: Limits,
}

/// A persistent executable object.
#[derive(Debug, Clone)]
pub struct Object {
    /// The wire format version of this object (kept across visits).
    pub(crate) version: u16,
    pub(crate) id: ObjectId,
    pub(crate) lineage: Lineage,
    /// Shared: objects decoded from the same plan text share one parsed intent.
    pub(crate) intent: Arc<Intent>,
    /// The plan at revision 0 (canonical text), kept once the intent has changed so that
    /// a verifier can replay every change (version 2).
    pub(crate) origin: Option<Arc<str>>,
    pub(crate) context: Context,
    pub(crate) context_hash: Hash,
    pub(crate) memory: Vec<StoredRecord>,
    /// What the newest checkpoint says about the records pruned before the memory
    /// (`None`: the memory starts with the genesis record).
    pub(crate) base: Option<Arc<crate::checkpoint::Base>>,
    /// Shared with the Task calls that take the whole data as their input.
    pub(crate) data: Arc<Value>,
    /// The canonical text of `data`, computed when first needed after a change.
    pub(crate) data_text: OnceLock<String>,
    pub(crate) status: Status,
    pub(crate) state: String,
    /// The `head` field as decoded; equal to the last record's hash unless tampered.
    pub(crate) stored_head: Hash,
    /// The results section: the completions of the fan-out the object waits on, in the
    /// order recorded (version 2; see [`crate::results`]).
    pub(crate) results: Vec<crate::results::Completion>,
    /// The workflow variables in force (`Assign`; version 2): name -> value. A fan-out's
    /// child starts with its parent's.
    pub(crate) variables: Arc<serde_json::Map<String, Value>>,
    /// The canonical text of `variables` (as stored, once decoded), computed when first
    /// needed after a change.
    pub(crate) variables_text: OnceLock<String>,
    /// What is derived from the memory or lives only during a visit: never encoded.
    pub(crate) scratch: Scratch,
}

/// An object's derived and visit-only state (caches and transient values), rebuilt
/// from the memory when needed and never part of the wire format.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    /// The current state entry as the memory describes it (computed on first use).
    pub(crate) progress: OnceLock<Progress>,
    /// Whether this in-memory object is in the middle of a visit (records appended
    /// since it was decoded, and the visit has not ended).
    pub(crate) visit_open: bool,
    /// The execution's history (computed on first use, then kept up to date).
    pub(crate) history: OnceLock<History>,
    /// Unsigned and untrusted record counts from the verification that admitted the
    /// object to this node (offered to policy).
    pub(crate) trust_counts: Option<(u32, u32)>,
    /// The principal and the domains that verification vouched for (see
    /// [`crate::VerifyReport`]); policy sees these, not the object's claims.
    pub(crate) vouched: Option<(Option<String>, Option<Vec<String>>)>,
    /// A handler's refinement of the intent (and the state that returned it), applied
    /// by the next cycle of the same visit.
    pub(crate) refinement: Option<(String, serde_json::Value)>,
    /// Child objects created by fan-out during this visit, not yet taken.
    pub(crate) spawned: Vec<Vec<u8>>,
    /// The current fan-out as the memory describes it (computed on first use).
    pub(crate) fanout: OnceLock<FanOut>,
    /// Records compactions pruned during this visit, not yet taken.
    pub(crate) archive: Vec<crate::checkpoint::Segment>,
    /// The seqs of the checkpoint records in the memory (see `Object::kept_checkpoints`).
    pub(crate) checkpoints: OnceLock<Vec<u32>>,
}

impl Object {
    /// Creates an object from an intent document, a context and an input, and writes
    /// its genesis record.
    pub fn create(intent: &Value, context: Context, input: &Value, options: &CreateOptions<'_>) -> Result<Object> {
        let intent = Intent::new(intent, &options.limits)?;
        Self::create_with(intent, context, input, options, None, None)
    }

    /// Creates a child object for fan-out: `lineage` links it to its parent, and its
    /// genesis record is written (and signed, with `options.key`) by `node`, the node
    /// that fanned out. It starts with the parent's `variables` (its genesis commits
    /// them), which its own scope may read but not assign.
    pub(crate) fn create_child(
        intent: Intent,
        context: Context,
        input: &Value,
        options: &CreateOptions<'_>,
        lineage: Lineage,
        node: Arc<NodeRef>,
        variables: Arc<serde_json::Map<String, Value>>,
    ) -> Result<Object> {
        Self::create_with(intent, context, input, options, Some((lineage, node)), Some(variables))
    }

    fn create_with(
        intent: Intent,
        context: Context,
        input: &Value,
        options: &CreateOptions<'_>,
        child: Option<(Lineage, Arc<NodeRef>)>,
        inherited: Option<Arc<serde_json::Map<String, Value>>>,
    ) -> Result<Object> {
        let limits = &options.limits;
        cjson::check_value(input, limits, "the input")?;
        let data_text = cjson::canonical(input);
        if data_text.len() > limits.max_json_bytes {
            return Err(Error::limit(format!(
                "the input is {} bytes of JSON; the limit is {} (Limits::max_json_bytes)",
                data_text.len(),
                limits.max_json_bytes
            )));
        }
        let mut context = context;
        if let Some(key) = options.key.filter(|_| child.is_none()) {
            match context.originator.key {
                None => context.originator.key = Some(key.public_key()),
                Some(k) if k == key.public_key() => {}
                Some(k) => {
                    return Err(Error::invalid_argument(format!(
                        "the signing key ({}) is not the context's originator key ({k})",
                        key.public_key()
                    )));
                }
            }
        }
        let context_hash = context.hash();
        let data_hash = Hash::data(&data_text);
        let id = options.id.unwrap_or_else(|| {
            let mut buf = Vec::with_capacity(104);
            buf.extend_from_slice(intent.hash().as_bytes());
            buf.extend_from_slice(context_hash.as_bytes());
            buf.extend_from_slice(data_hash.as_bytes());
            buf.extend_from_slice(&options.now_ms.to_be_bytes());
            let h = Hash::tagged(crate::hash::TAG_ID, &buf);
            ObjectId(h.0[..16].try_into().expect("16 of 32 bytes"))
        });
        let (lineage, node) = match child {
            Some((l, n)) => (l, n),
            None => (
                Lineage::root(id),
                Arc::new(NodeRef {
                    id: context.originator.subject.clone().unwrap_or_default(),
                    domain: context.originator.domain.clone().unwrap_or_default(),
                    key: options.key.map(SigningKey::public_key),
                }),
            ),
        };
        let mut genesis = Record {
            body: Body::Genesis { id, lineage: lineage.clone(), input: data_text.clone() },
            state: String::new(),
            next_state: intent.plan().machine.start_at.clone(),
            status: Status::Running,
            node,
            time_ms: options.now_ms,
            policy: None,
            advice: None,
            intent_hash: Some(intent.hash()),
            context_hash: Some(context_hash),
            data_hash: Some(data_hash),
            variables_hash: None,
            assigned: None,
            signed: options.key.is_some(),
            visit: 0,
            seq: 0,
        };
        let mut obj = Object {
            version: FORMAT_VERSION,
            id,
            lineage,
            intent: Arc::new(intent),
            origin: None,
            context,
            context_hash,
            memory: Vec::new(),
            base: None,
            data: Arc::new(input.clone()),
            data_text: OnceLock::from(data_text),
            status: Status::Running,
            state: String::new(),
            stored_head: Hash::ZERO,
            results: Vec::new(),
            variables: Arc::new(serde_json::Map::new()),
            variables_text: OnceLock::new(),
            scratch: Scratch::default(),
        };
        if let Some(vars) = inherited.filter(|v| !v.is_empty()) {
            let text = cjson::canonical_map(&vars);
            obj.set_variables(vars, text);
            genesis.variables_hash = Some(obj.variables_hash());
        }
        obj.append(genesis, options.key)?;
        Ok(obj)
    }

    /// Appends a record to the memory: sets its `seq`, encodes it, chains its hash and
    /// signs it when `signer` is given (the record's `signed` and `node.key` must agree
    /// with `signer`).
    ///
    /// This is the primitive the cycle uses. The caller is responsible for the
    /// record's content: its committed hashes must describe the object after it, and
    /// the last record of a visit must commit the data hash, or `verify` will say so.
    pub fn append(&mut self, mut record: Record, signer: Option<&SigningKey>) -> Result<Hash> {
        record.seq = u32::try_from(self.memory.len())
            .ok()
            .and_then(|n| n.checked_add(self.pruned()))
            .ok_or_else(|| Error::limit("the memory is full"))?;
        match (signer, record.signed) {
            (Some(k), true) if record.node.key == Some(k.public_key()) => {}
            (None, false) => {}
            _ => {
                return Err(Error::invalid_argument(
                    "a record is signed exactly when a signer is given, and its node.key is the signer's public key",
                ));
            }
        }
        if self.memory.is_empty() && (record.intent_hash.is_none() || record.context_hash.is_none()) {
            return Err(Error::invalid_argument("the genesis record must carry the intent and context hashes"));
        }
        let bytes = RECORD_BUILDER.with(|b| record.encode_for(&mut b.borrow_mut(), self.version));
        let meta = RecordMeta::of(&record);
        let prev = match (self.memory.last(), &self.base) {
            (Some(r), _) => r.hash,
            (None, Some(b)) => b.hash,
            (None, None) => Hash::ZERO,
        };
        let hash = Hash::record(&prev, &bytes);
        let signature = signer.map(|k| Box::new(k.sign_record(&hash, self.version)));
        if meta.action == crate::Action::Checkpoint
            && let Some(seqs) = self.scratch.checkpoints.get_mut()
        {
            seqs.push(meta.seq);
        }
        self.memory.push(StoredRecord { bytes: Bytes::from(bytes), hash, signature, meta });
        self.status = record.status;
        self.state = record.next_state;
        self.stored_head = hash;
        Ok(hash)
    }

    /// Decodes an object from untrusted bytes, checking its structure against
    /// `limits`. Integrity (hashes and signatures) is checked by [`Object::verify`].
    pub fn from_bytes(bytes: &[u8], limits: &Limits) -> Result<Object> {
        if bytes.len() > limits.max_object_bytes {
            return Err(Error::limit(format!(
                "the object is {} bytes; the limit is {} (Limits::max_object_bytes)",
                bytes.len(),
                limits.max_object_bytes
            )));
        }
        if bytes.len() < 8 {
            return Err(Error::decode(format!("{} bytes is too short to be a peo object", bytes.len())));
        }
        if &bytes[4..8] != wire::FILE_IDENTIFIER.as_bytes() {
            return Err(Error::decode(format!(
                "not a peo object: the file identifier is {:?}, expected \"{}\"",
                String::from_utf8_lossy(&bytes[4..8]),
                wire::FILE_IDENTIFIER
            )));
        }
        let opts = VerifierOptions {
            max_depth: 32,
            max_tables: limits.max_records.saturating_mul(2).saturating_add(1024),
            max_apparent_size: bytes.len().saturating_mul(2).max(1 << 16),
            ..Default::default()
        };
        let o = flatbuffers::root_with_opts::<wire::Object>(&opts, bytes)
            .map_err(|e| Error::decode(format!("malformed object: {}", one_line(&e))))?;
        let version = match o.format_version() {
            0 => return Err(Error::decode("the object has no format_version")),
            v if v > FORMAT_VERSION => {
                return Err(Error::unsupported(format!(
                    "the object has format version {v}; this version of peo reads up to {FORMAT_VERSION}: upgrade peo"
                )));
            }
            v => v,
        };
        let id = id_field(o.id(), "id")?;
        let lineage = lineage_from_wire(o.lineage(), id)?;

        // Memory.
        let entries = o.memory();
        if entries.is_empty() {
            return Err(Error::decode("the memory is empty: every object has a genesis record"));
        }
        if entries.len() > limits.max_records {
            return Err(Error::limit(format!(
                "the object has {} records; the limit is {} (Limits::max_records)",
                entries.len(),
                limits.max_records
            )));
        }
        let shared = Bytes::copy_from_slice(bytes);
        let base = bytes.as_ptr() as usize;
        // Room for the records a visit will append.
        let mut read = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let rb = e.bytes().bytes();
            if rb.len() > limits.max_record_bytes {
                return Err(Error::limit(format!(
                    "record {i} is {} bytes; the limit is {} (Limits::max_record_bytes)",
                    rb.len(),
                    limits.max_record_bytes
                )));
            }
            let meta = RecordMeta::read(rb).map_err(|err| err.at_record(i as u32))?;
            let signature = match e.signature() {
                None => None,
                Some(s) => Some(Box::new(Signature::from_slice(s.bytes()).ok_or_else(|| {
                    Error::decode(format!("a signature is 64 bytes, got {}", s.len())).at_record(i as u32)
                })?)),
            };
            read.push((meta, rb, signature));
        }
        // A compacted memory chains from the hash its newest checkpoint names.
        let metas: Vec<(RecordMeta, &[u8])> = read.iter().map(|(m, b, _)| (*m, *b)).collect();
        let pruned_base = crate::checkpoint::Base::of(&metas)?.map(Arc::new);
        let mut prev = pruned_base.as_ref().map_or(Hash::ZERO, |b| b.hash);
        let mut memory = Vec::with_capacity(read.len() + 16);
        for (meta, rb, signature) in read {
            let start = rb.as_ptr() as usize - base;
            let stored_bytes = shared.slice(start..start + rb.len());
            let hash = Hash::record(&prev, &stored_bytes);
            prev = hash;
            memory.push(StoredRecord { bytes: stored_bytes, hash, signature, meta });
        }

        // Intent.
        let wi = o.intent();
        let intent = cached_intent(wi.plan(), wi.revision(), limits)?;
        if wi.objective() != intent.objective() || wi.class() != intent.class() {
            return Err(Error::decode("intent.objective / intent.class disagree with the plan's Objective / Class"));
        }
        let wc = wi.constraints();
        let c = intent.constraints();
        let domains: Option<Vec<String>> =
            wc.and_then(|w| w.allowed_domains()).map(|v| v.iter().map(str::to_owned).collect());
        let same_constraints = wc.and_then(|w| w.deadline_ms()) == c.deadline_ms
            && wc.and_then(|w| w.max_hops()) == c.max_hops
            && wc.and_then(|w| w.max_records()) == c.max_records
            && domains == c.allowed_domains;
        if !same_constraints {
            return Err(Error::decode("intent.constraints disagree with the plan's Constraints"));
        }

        // Context.
        let wc = o.context();
        let originator = match wc.originator() {
            None => Originator::default(),
            Some(or) => Originator {
                subject: or.subject().map(str::to_owned),
                domain: or.domain().map(str::to_owned),
                key: match or.key() {
                    None => None,
                    Some(k) => Some(PublicKey::from_slice(k.bytes()).map_err(|_| {
                        Error::decode(format!("context.originator.key must be 32 bytes, got {}", k.len()))
                    })?),
                },
            },
        };
        let attributes = match wc.attributes() {
            None => json!({}),
            Some(t) => cjson::parse(t, limits, "context.attributes")?,
        };
        let policies = wc
            .policies()
            .iter()
            .flatten()
            .map(|p| CarriedPolicy { id: p.id().to_owned(), text: p.text().to_owned() })
            .collect();
        let strings = |v: Option<flatbuffers::Vector<'_, flatbuffers::ForwardsUOffset<&str>>>| -> Vec<String> {
            v.iter().flatten().map(str::to_owned).collect()
        };
        let context =
            Context::from_wire(originator, strings(wc.labels()), attributes, policies, strings(wc.policy_refs()))?;
        let context_hash = context.hash();

        // Data and header.
        let data_text = o.data().to_owned();
        let data = cjson::parse(&data_text, limits, "the data")?;
        let stored_head = Hash::from_slice(o.head().bytes())
            .ok_or_else(|| Error::decode(format!("`head` must be 32 bytes, got {}", o.head().len())))?;
        let results = match o.results() {
            None => Vec::new(),
            Some(_) if version < 2 => return Err(Error::decode("a results section appears only in format version 2")),
            Some(v) => crate::results::unpack(v.bytes(), limits)?,
        };
        let (variables, variables_text) = match o.variables() {
            None => (serde_json::Map::new(), OnceLock::new()),
            Some(_) if version < 2 => return Err(Error::decode("variables appear only in format version 2")),
            Some(t) => match cjson::parse(t, limits, "the variables")? {
                // Kept as stored: what the record hashes committed to is checked on it.
                Value::Object(m) => (m, OnceLock::from(t.to_owned())),
                _ => return Err(Error::decode("the variables must be a JSON object")),
            },
        };
        let origin = match wi.origin() {
            Some(_) if version < 2 => return Err(Error::decode("intent.origin appears only in format version 2")),
            Some(text) => {
                if text.len() > limits.max_plan_bytes {
                    return Err(Error::limit("intent.origin is larger than Limits::max_plan_bytes"));
                }
                Some(Arc::from(text))
            }
            None => None,
        };
        Ok(Object {
            version,
            id,
            lineage,
            intent,
            origin,
            context,
            context_hash,
            memory,
            base: pruned_base,
            data: Arc::new(data),
            data_text: OnceLock::from(data_text),
            status: Status::from_wire(o.status())?,
            state: o.state().unwrap_or_default().to_owned(),
            stored_head,
            results,
            variables: Arc::new(variables),
            variables_text,
            scratch: Scratch::default(),
        })
    }

    /// Encodes the object. Decoding and re-encoding gives the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_with_plan(None)
    }

    pub fn id(&self) -> ObjectId {
        self.id
    }
    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }
    pub fn intent(&self) -> &Intent {
        &self.intent
    }
    pub fn context(&self) -> &Context {
        &self.context
    }
    /// `SHA-256("peo/context/v1" || canonical context)`, cached.
    pub fn context_hash(&self) -> Hash {
        self.context_hash
    }
    /// The memory records, genesis first.
    pub fn memory(&self) -> &[StoredRecord] {
        &self.memory
    }
    /// Decodes every record.
    pub fn records(&self) -> Result<Vec<Record>> {
        self.memory.iter().map(StoredRecord::decode).collect()
    }
    /// The records of the memory from seq `from` on (0: the whole memory; records a
    /// compaction pruned are not there) as a JSON array of `Record::to_json`: what every
    /// binding hands its users.
    pub fn records_json(&self, from: u32) -> Result<Value> {
        let records = self.records_from(from).iter().map(|r| r.decode().map(|r| r.to_json()));
        records.collect::<Result<Vec<Value>>>().map(Value::Array)
    }
    /// The current working JSON document.
    pub fn data(&self) -> &Value {
        &self.data
    }
    /// The canonical text of the data (what the wire format stores).
    pub fn data_text(&self) -> &str {
        self.data_text.get_or_init(|| cjson::canonical(&self.data))
    }
    /// `SHA-256("peo/data/v1" || canonical data text)`.
    pub fn data_hash(&self) -> Hash {
        Hash::data(self.data_text())
    }
    /// The workflow variables in force (`Assign`): name -> value.
    pub fn variables(&self) -> &serde_json::Map<String, Value> {
        &self.variables
    }
    /// The canonical text of the variables (`{}` when there are none).
    pub fn variables_text(&self) -> &str {
        self.variables_text.get_or_init(|| cjson::canonical_map(&self.variables))
    }
    /// `SHA-256("peo/variables/v2" || canonical variables)`.
    pub fn variables_hash(&self) -> Hash {
        Hash::variables(self.variables_text())
    }
    /// Replaces the variables with `variables`, whose canonical text is `text`.
    pub(crate) fn set_variables(&mut self, variables: Arc<serde_json::Map<String, Value>>, text: String) {
        self.variables = variables;
        self.variables_text = OnceLock::from(text);
    }
    /// Replaces the data. The cycle does this; the next record that commits the data
    /// hash binds it.
    pub fn set_data(&mut self, data: Value) {
        self.data_text = OnceLock::new();
        self.data = Arc::new(data);
    }
    pub fn status(&self) -> Status {
        self.status
    }
    /// The state the object is in (empty once terminated).
    pub fn state(&self) -> &str {
        &self.state
    }
    /// The hash of the last record: the object's memory head.
    pub fn head(&self) -> Hash {
        self.memory.last().map_or(Hash::ZERO, |r| r.hash)
    }
    /// Remembers the unsigned and untrusted record counts of the verification that
    /// admitted the object (policy may read them). `peo-runtime` calls this.
    pub fn note_verification(&mut self, report: &crate::VerifyReport) {
        self.scratch.trust_counts = Some((report.unsigned_records, report.untrusted_records));
        self.scratch.vouched = Some((report.principal.clone(), report.domains.clone()));
    }

    pub(crate) fn history(&self) -> Result<&History> {
        if let Some(h) = self.scratch.history.get() {
            return Ok(h);
        }
        let h = History::from_memory(self)?;
        Ok(self.scratch.history.get_or_init(|| h))
    }

    /// The `head` field as stored in the decoded bytes.
    pub(crate) fn stored_head(&self) -> Hash {
        self.stored_head
    }

    /// A readable JSON view of everything, records decoded. Records that do not
    /// decode are shown with their error.
    pub fn to_json(&self) -> Value {
        let memory: Vec<Value> = self
            .memory
            .iter()
            .map(|r| {
                let mut v = match r.decode() {
                    Ok(rec) => rec.to_json(),
                    Err(e) => json!({"seq": r.meta.seq, "error": e.to_string()}),
                };
                v["hash"] = json!(r.hash.to_hex());
                v["signature"] = json!(r.signature.as_ref().map(|s| s.to_hex()));
                v
            })
            .collect();
        let c = self.intent.constraints();
        let mut context = self.context.to_json();
        context["hash"] = json!(self.context_hash.to_hex());
        json!({
            "format_version": FORMAT_VERSION,
            "id": self.id.to_hex(),
            "lineage": lineage_json(&self.lineage),
            "status": self.status.as_str(),
            "state": self.state,
            "head": self.stored_head.to_hex(),
            "intent": {
                "revision": self.intent.revision(),
                "objective": self.intent.objective(),
                "class": self.intent.class(),
                "constraints": {
                    "deadline_ms": c.deadline_ms,
                    "max_hops": c.max_hops,
                    "max_records": c.max_records,
                    "allowed_domains": c.allowed_domains,
                },
                "hash": self.intent.hash().to_hex(),
                "plan": self.intent.document(),
            },
            "context": context,
            "memory": memory,
            "data": self.data,
            "data_hash": self.data_hash().to_hex(),
            "results": self.results.iter().map(crate::results::Completion::to_json).collect::<Vec<_>>(),
            "variables": Value::Object((*self.variables).clone()),
        })
    }

    /// The results section: the completions recorded for the fan-out this object waits
    /// on, in the order recorded (empty unless it waits on one; see [`crate::results`]).
    pub fn results(&self) -> &[crate::results::Completion] {
        &self.results
    }
}

/// The parsed intent of a plan text at a revision: parsed and validated once per process
/// (per limits) and shared by every object decoded with it, since nodes see the same
/// plans over and over. Looked up by a fast keyed hash of the text and then compared
/// whole: a plan seen before costs no SHA-256 (its intent keeps the hash computed when
/// it was parsed), a colliding text only a parse. Bounded (cleared when it holds 512
/// plans).
fn cached_intent(plan_text: &str, revision: u32, limits: &Limits) -> Result<Arc<Intent>> {
    use std::hash::BuildHasher as _;
    type Cache = (foldhash::quality::RandomState, Mutex<HashMap<u64, (Limits, Arc<Intent>)>>);
    static CACHE: std::sync::LazyLock<Cache> = std::sync::LazyLock::new(Default::default);
    let key = CACHE.0.hash_one((revision, plan_text));
    if let Some((l, intent)) = CACHE.1.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
        && l == limits
        && intent.revision() == revision
        && intent.canonical_text() == plan_text
    {
        return Ok(intent.clone());
    }
    let doc = cjson::parse(plan_text, &limits.for_plan(), "the intent plan")?;
    let intent = Arc::new(Intent::from_parts(doc, plan_text.to_owned(), revision, limits)?);
    let mut cache = CACHE.1.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= 512 {
        cache.clear();
    }
    cache.insert(key, (limits.clone(), intent.clone()));
    Ok(intent)
}
