//! Records on the wire: FlatBuffers decoding (untrusted bytes, bounded) and encoding.

use super::*;

pub(super) fn verifier_options(len: usize) -> VerifierOptions {
    VerifierOptions {
        max_depth: 32,
        // A table takes at least 4 bytes (its vtable offset), so this bounds nothing the
        // length does not already; a fan-out record names up to `max_children` children.
        max_tables: (len / 4).max(4096),
        max_apparent_size: len.saturating_mul(4).max(1 << 16),
        ..Default::default()
    }
}

pub(super) fn hash_field(v: Option<flatbuffers::Vector<'_, u8>>, field: &str) -> Result<Option<Hash>> {
    match v {
        None => Ok(None),
        Some(v) => Hash::from_slice(v.bytes())
            .map(Some)
            .ok_or_else(|| Error::decode(format!("record field `{field}` must be 32 bytes, got {}", v.len()))),
    }
}

pub(super) fn key_field(v: Option<flatbuffers::Vector<'_, u8>>, field: &str) -> Result<Option<PublicKey>> {
    match v {
        None => Ok(None),
        Some(v) => PublicKey::from_slice(v.bytes())
            .map(Some)
            .map_err(|_| Error::decode(format!("`{field}` must be a 32-byte public key, got {} bytes", v.len()))),
    }
}

pub(crate) fn id_field(v: flatbuffers::Vector<'_, u8>, field: &str) -> Result<ObjectId> {
    ObjectId::from_slice(v.bytes()).map_err(|_| Error::decode(format!("`{field}` must be 16 bytes, got {}", v.len())))
}

/// Checks a record buffer's structure and returns its root table.
pub(super) fn root(bytes: &[u8]) -> Result<wire::Record<'_>> {
    flatbuffers::root_with_opts::<wire::Record>(&verifier_options(bytes.len()), bytes)
        .map_err(|e| Error::decode(format!("malformed record: {}", one_line(&e))))
}

/// FlatBuffers verifier errors span several lines (the error, then its trace): fold
/// them into one.
pub(crate) fn one_line(e: &flatbuffers::InvalidFlatbuffer) -> String {
    e.to_string().split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

impl RecordMeta {
    /// The facts of a record peo has just built (no need to re-read its bytes).
    pub(crate) fn of(r: &Record) -> RecordMeta {
        RecordMeta {
            action: r.action(),
            seq: r.seq,
            visit: r.visit,
            signed: r.signed,
            key: r.node.key,
            status: r.status,
            intent_hash: r.intent_hash,
            context_hash: r.context_hash,
            data_hash: r.data_hash,
            variables_hash: r.variables_hash,
        }
    }

    /// Reads the facts verification needs from a record buffer, checking its structure.
    pub(crate) fn read(bytes: &[u8]) -> Result<RecordMeta> {
        Self::from_table(&root(bytes)?)
    }

    /// Reads the facts from a record table that has already been verified.
    fn from_table(r: &wire::Record<'_>) -> Result<RecordMeta> {
        let action = match r.body_type() {
            wire::Body::Genesis => Action::Genesis,
            wire::Body::Execute => Action::Execute,
            wire::Body::Mutate => Action::Mutate,
            wire::Body::Delegate => Action::Delegate,
            wire::Body::Dormant => Action::Dormant,
            wire::Body::Reentry => Action::Reentry,
            wire::Body::Terminate => Action::Terminate,
            wire::Body::Checkpoint => Action::Checkpoint,
            other => return Err(Error::decode(format!("unknown record body type {}", other.0))),
        };
        let key = key_field(r.node().and_then(|n| n.key()), "node.key")?;
        if r.signed() && key.is_none() {
            return Err(Error::decode("a signed record must name its signer in `node.key`"));
        }
        Ok(RecordMeta {
            action,
            seq: r.seq(),
            visit: r.visit(),
            signed: r.signed(),
            key,
            status: Status::from_wire(r.status())?,
            intent_hash: hash_field(r.intent_hash(), "intent_hash")?,
            context_hash: hash_field(r.context_hash(), "context_hash")?,
            data_hash: hash_field(r.data_hash(), "data_hash")?,
            variables_hash: hash_field(r.variables_hash(), "variables_hash")?,
        })
    }
}

pub(super) fn opt_str(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

pub(super) fn task_error(e: Option<wire::TaskError<'_>>) -> Option<TaskError> {
    e.map(|e| TaskError { error: e.error().to_owned(), cause: opt_str(e.cause()) })
}

pub(crate) fn lineage_from_wire(l: Option<wire::Lineage<'_>>, id: ObjectId) -> Result<Lineage> {
    let Some(l) = l else { return Ok(Lineage::root(id)) };
    Ok(Lineage {
        parent: l.parent().map(|p| id_field(p, "lineage.parent")).transpose()?,
        root: match l.root() {
            Some(r) => id_field(r, "lineage.root")?,
            None => id,
        },
        generation: l.generation(),
        branch: l.branch(),
        fanout_state: opt_str(l.fanout_state()),
    })
}

pub(crate) fn lineage_to_wire<'a>(fbb: &mut FlatBufferBuilder<'a>, l: &Lineage) -> WIPOffset<wire::Lineage<'a>> {
    let parent = l.parent.map(|p| fbb.create_vector(&p.0));
    let root = fbb.create_vector(&l.root.0);
    let fanout_state = l.fanout_state.as_deref().map(|s| fbb.create_string(s));
    wire::Lineage::create(
        fbb,
        &wire::LineageArgs { parent, root: Some(root), generation: l.generation, branch: l.branch, fanout_state },
    )
}

impl Record {
    /// Decodes a record buffer (untrusted bytes).
    pub fn decode(bytes: &[u8]) -> Result<Record> {
        let r = root(bytes)?;
        let meta = RecordMeta::from_table(&r)?;
        let missing = |what: &str| Error::decode(format!("record body of type {} is missing", what));
        let body = match meta.action {
            Action::Genesis => {
                let g = r.body_as_genesis().ok_or_else(|| missing("Genesis"))?;
                let id = id_field(g.id(), "genesis.id")?;
                Body::Genesis { id, lineage: lineage_from_wire(g.lineage(), id)?, input: g.input().to_owned() }
            }
            Action::Execute => {
                let e = r.body_as_execute().ok_or_else(|| missing("Execute"))?;
                Body::Execute {
                    capability: e.capability().to_owned(),
                    attempt: e.attempt(),
                    idempotency_key: opt_str(e.idempotency_key()),
                    output: opt_str(e.output()),
                    error: task_error(e.error()),
                }
            }
            Action::Mutate => {
                let m = r.body_as_mutate().ok_or_else(|| missing("Mutate"))?;
                let kind = match m.kind() {
                    wire::MutateKind::Data => MutateKind::Data,
                    wire::MutateKind::Route => MutateKind::Route,
                    wire::MutateKind::Intent => MutateKind::Intent,
                    wire::MutateKind::Context => MutateKind::Context,
                    other => return Err(Error::decode(format!("unknown mutate kind {}", other.0))),
                };
                Body::Mutate { kind, revision: m.revision(), change: opt_str(m.change()) }
            }
            Action::Delegate => {
                let d = r.body_as_delegate().ok_or_else(|| missing("Delegate"))?;
                let reason = match d.reason() {
                    wire::DelegateReason::Capability => DelegateReason::Capability,
                    wire::DelegateReason::Policy => DelegateReason::Policy,
                    wire::DelegateReason::FanOut => DelegateReason::FanOut,
                    wire::DelegateReason::Unresolved => DelegateReason::Unresolved,
                    wire::DelegateReason::Advice => DelegateReason::Advice,
                    other => return Err(Error::decode(format!("unknown delegate reason {}", other.0))),
                };
                let mut children = Vec::new();
                for c in d.children().iter().flatten() {
                    children.push(ChildRef {
                        id: id_field(c.id(), "child.id")?,
                        genesis_hash: hash_field(c.genesis_hash(), "child.genesis_hash")?,
                        branch: c.branch(),
                    });
                }
                if let Some(l) = d.launched() {
                    if !children.is_empty() || l.len() % LAUNCHED_BYTES != 0 {
                        return Err(Error::decode(format!(
                            "delegate.launched holds {LAUNCHED_BYTES} bytes per child, alone; got {} bytes{}",
                            l.len(),
                            if children.is_empty() { "" } else { " beside `children`" }
                        )));
                    }
                    children = l.bytes().chunks_exact(LAUNCHED_BYTES).map(ChildRef::from_launched).collect();
                }
                Body::Delegate { reason, capability: opt_str(d.capability()), target: opt_str(d.target()), children }
            }
            Action::Dormant => {
                let d = r.body_as_dormant().ok_or_else(|| missing("Dormant"))?;
                let reason = match d.reason() {
                    wire::DormantReason::Wait => DormantReason::Wait,
                    wire::DormantReason::Await => DormantReason::Await,
                    wire::DormantReason::Retry => DormantReason::Retry,
                    wire::DormantReason::Join => DormantReason::Join,
                    other => return Err(Error::decode(format!("unknown dormant reason {}", other.0))),
                };
                Body::Dormant {
                    reason,
                    wake_at_ms: d.wake_at_ms(),
                    event: opt_str(d.event()),
                    timeout_at_ms: d.timeout_at_ms(),
                }
            }
            Action::Reentry => {
                let e = r.body_as_reentry().ok_or_else(|| missing("Reentry"))?;
                let cause = match e.cause() {
                    wire::ReentryCause::Time => ReentryCause::Time,
                    wire::ReentryCause::Event => ReentryCause::Event,
                    wire::ReentryCause::Children => ReentryCause::Children,
                    wire::ReentryCause::Timeout => ReentryCause::Timeout,
                    wire::ReentryCause::Failure => ReentryCause::Failure,
                    other => return Err(Error::decode(format!("unknown reentry cause {}", other.0))),
                };
                Body::Reentry { cause, event: opt_str(e.event()), payload: opt_str(e.payload()) }
            }
            Action::Terminate => {
                let t = r.body_as_terminate().ok_or_else(|| missing("Terminate"))?;
                Body::Terminate {
                    status: Status::from_wire(t.status())?,
                    output: opt_str(t.output()),
                    error: task_error(t.error()),
                }
            }
            Action::Checkpoint => {
                let c = r.body_as_checkpoint().ok_or_else(|| missing("Checkpoint"))?;
                let frontier = match c.frontier() {
                    None => Vec::new(),
                    Some(f) if f.len() % 32 == 0 => {
                        f.bytes().chunks(32).map(|h| Hash::from_slice(h).expect("32 bytes")).collect()
                    }
                    Some(f) => {
                        return Err(Error::decode(format!(
                            "checkpoint field `frontier` must hold 32-byte hashes, got {} bytes",
                            f.len()
                        )));
                    }
                };
                Body::Checkpoint {
                    pruned: c.pruned(),
                    base: hash_field(c.base(), "base")?,
                    frontier,
                    summary: c.summary().to_owned(),
                    plan: opt_str(c.plan()),
                }
            }
        };
        let node = r.node();
        let policy = match r.policy() {
            None => None,
            Some(p) => Some(PolicyOutcome {
                decision: match p.decision() {
                    wire::Decision::NotEvaluated => PolicyDecision::NotEvaluated,
                    wire::Decision::Allow => PolicyDecision::Allow,
                    wire::Decision::Deny => PolicyDecision::Deny,
                    other => return Err(Error::decode(format!("unknown policy decision {}", other.0))),
                },
                policies: p.policies().iter().flatten().map(str::to_owned).collect(),
                errors: p.errors().iter().flatten().map(str::to_owned).collect(),
            }),
        };
        let advice = match r.advice() {
            None => None,
            Some(a) => Some(Advice {
                action: Action::from_wire(a.action())?,
                target: opt_str(a.target()),
                confidence: a.confidence(),
                rationale: a.rationale().unwrap_or_default().to_owned(),
                followed: a.followed(),
                override_reason: opt_str(a.override_reason()),
            }),
        };
        Ok(Record {
            body,
            state: r.state().unwrap_or_default().to_owned(),
            next_state: r.next_state().unwrap_or_default().to_owned(),
            status: meta.status,
            node: std::sync::Arc::new(NodeRef {
                id: node.and_then(|n| n.id()).unwrap_or_default().to_owned(),
                domain: node.and_then(|n| n.domain()).unwrap_or_default().to_owned(),
                key: meta.key,
            }),
            time_ms: r.time_ms(),
            policy,
            advice,
            intent_hash: meta.intent_hash,
            context_hash: meta.context_hash,
            data_hash: meta.data_hash,
            variables_hash: meta.variables_hash,
            assigned: opt_str(r.assigned()),
            signed: meta.signed,
            visit: meta.visit,
            seq: meta.seq,
        })
    }

    /// Encodes the record into `fbb` (reset first) and returns its bytes, in the current
    /// format version.
    pub fn encode_with<'a>(&self, fbb: &mut FlatBufferBuilder<'a>) -> Vec<u8> {
        self.encode_for(fbb, crate::FORMAT_VERSION)
    }

    /// Encodes the record as an object of format `version` holds it (version 1: a
    /// fan-out's children as tables; version 2: packed in `launched`).
    pub fn encode_for<'a>(&self, fbb: &mut FlatBufferBuilder<'a>, version: u16) -> Vec<u8> {
        fbb.reset();
        let s = |fbb: &mut FlatBufferBuilder<'a>, v: &Option<String>| opt_string(fbb, v.as_deref());
        macro_rules! task_error {
            ($fbb:expr, $e:expr) => {
                $e.as_ref().map(|e| {
                    let error = Some($fbb.create_string(&e.error));
                    let cause = e.cause.as_deref().map(|c| $fbb.create_string(c));
                    wire::TaskError::create($fbb, &wire::TaskErrorArgs { error, cause })
                })
            };
        }
        let (body_type, body) = match &self.body {
            Body::Genesis { id, lineage, input } => {
                let idv = fbb.create_vector(&id.0);
                let lineage = lineage_to_wire(fbb, lineage);
                let input = fbb.create_string(input);
                let g = wire::Genesis::create(
                    fbb,
                    &wire::GenesisArgs { id: Some(idv), lineage: Some(lineage), input: Some(input) },
                );
                (wire::Body::Genesis, g.as_union_value())
            }
            Body::Execute { capability, attempt, idempotency_key, output, error } => {
                let capability = fbb.create_string(capability);
                let idempotency_key = s(fbb, idempotency_key);
                let output = s(fbb, output);
                let error = task_error!(fbb, error);
                let e = wire::Execute::create(
                    fbb,
                    &wire::ExecuteArgs {
                        capability: Some(capability),
                        attempt: *attempt,
                        idempotency_key,
                        output,
                        error,
                    },
                );
                (wire::Body::Execute, e.as_union_value())
            }
            Body::Mutate { kind, revision, change } => {
                let change = s(fbb, change);
                let kind = match kind {
                    MutateKind::Data => wire::MutateKind::Data,
                    MutateKind::Route => wire::MutateKind::Route,
                    MutateKind::Intent => wire::MutateKind::Intent,
                    MutateKind::Context => wire::MutateKind::Context,
                };
                let m = wire::Mutate::create(fbb, &wire::MutateArgs { kind, revision: *revision, change });
                (wire::Body::Mutate, m.as_union_value())
            }
            Body::Delegate { reason, capability, target, children } => {
                let compact = version >= 2 && children.iter().all(|c| c.genesis_hash.is_some());
                let capability = s(fbb, capability);
                let target = s(fbb, target);
                let launched = (compact && !children.is_empty()).then(|| {
                    let mut buf = Vec::with_capacity(children.len() * LAUNCHED_BYTES);
                    for c in children {
                        c.to_launched(&mut buf);
                    }
                    fbb.create_vector(&buf)
                });
                let children = if children.is_empty() || compact {
                    None
                } else {
                    let offs: Vec<_> = children
                        .iter()
                        .map(|c| {
                            let id = fbb.create_vector(&c.id.0);
                            let genesis_hash = c.genesis_hash.map(|h| fbb.create_vector(&h.0));
                            wire::ChildRef::create(
                                fbb,
                                &wire::ChildRefArgs { id: Some(id), genesis_hash, branch: c.branch },
                            )
                        })
                        .collect();
                    Some(fbb.create_vector(&offs))
                };
                let reason = match reason {
                    DelegateReason::Capability => wire::DelegateReason::Capability,
                    DelegateReason::Policy => wire::DelegateReason::Policy,
                    DelegateReason::FanOut => wire::DelegateReason::FanOut,
                    DelegateReason::Unresolved => wire::DelegateReason::Unresolved,
                    DelegateReason::Advice => wire::DelegateReason::Advice,
                };
                let d =
                    wire::Delegate::create(fbb, &wire::DelegateArgs { reason, capability, target, children, launched });
                (wire::Body::Delegate, d.as_union_value())
            }
            Body::Dormant { reason, wake_at_ms, event, timeout_at_ms } => {
                let event = s(fbb, event);
                let reason = match reason {
                    DormantReason::Wait => wire::DormantReason::Wait,
                    DormantReason::Await => wire::DormantReason::Await,
                    DormantReason::Retry => wire::DormantReason::Retry,
                    DormantReason::Join => wire::DormantReason::Join,
                    // Never recorded (see `DormantReason::Budget`): a cycle does not write it.
                    DormantReason::Budget => wire::DormantReason::Wait,
                };
                let d = wire::Dormant::create(
                    fbb,
                    &wire::DormantArgs { reason, wake_at_ms: *wake_at_ms, event, timeout_at_ms: *timeout_at_ms },
                );
                (wire::Body::Dormant, d.as_union_value())
            }
            Body::Reentry { cause, event, payload } => {
                let event = s(fbb, event);
                let payload = s(fbb, payload);
                let cause = match cause {
                    ReentryCause::Time => wire::ReentryCause::Time,
                    ReentryCause::Event => wire::ReentryCause::Event,
                    ReentryCause::Children => wire::ReentryCause::Children,
                    ReentryCause::Timeout => wire::ReentryCause::Timeout,
                    ReentryCause::Failure => wire::ReentryCause::Failure,
                };
                let r = wire::Reentry::create(fbb, &wire::ReentryArgs { cause, event, payload });
                (wire::Body::Reentry, r.as_union_value())
            }
            Body::Terminate { status, output, error } => {
                let output = s(fbb, output);
                let error = task_error!(fbb, error);
                let t = wire::Terminate::create(fbb, &wire::TerminateArgs { status: status.to_wire(), output, error });
                (wire::Body::Terminate, t.as_union_value())
            }
            Body::Checkpoint { pruned, base, frontier, summary, plan } => {
                let base = base.map(|h| fbb.create_vector(&h.0));
                let bytes: Vec<u8> = frontier.iter().flat_map(|h| h.0).collect();
                let frontier = (!bytes.is_empty()).then(|| fbb.create_vector(&bytes));
                let summary = Some(fbb.create_string(summary));
                let plan = s(fbb, plan);
                let c = wire::Checkpoint::create(
                    fbb,
                    &wire::CheckpointArgs { pruned: *pruned, base, frontier, summary, plan },
                );
                (wire::Body::Checkpoint, c.as_union_value())
            }
        };
        let state = (!self.state.is_empty()).then(|| fbb.create_string(&self.state));
        let next_state = (!self.next_state.is_empty()).then(|| fbb.create_string(&self.next_state));
        let node = {
            let id = (!self.node.id.is_empty()).then(|| fbb.create_string(&self.node.id));
            let domain = (!self.node.domain.is_empty()).then(|| fbb.create_string(&self.node.domain));
            let key = self.node.key.map(|k| fbb.create_vector(&k.0));
            wire::NodeRef::create(fbb, &wire::NodeRefArgs { id, domain, key })
        };
        let policy = self.policy.as_ref().map(|p| {
            let policies = string_vector(fbb, &p.policies);
            let errors = string_vector(fbb, &p.errors);
            let decision = match p.decision {
                PolicyDecision::NotEvaluated => wire::Decision::NotEvaluated,
                PolicyDecision::Allow => wire::Decision::Allow,
                PolicyDecision::Deny => wire::Decision::Deny,
            };
            wire::PolicyOutcome::create(fbb, &wire::PolicyOutcomeArgs { decision, policies, errors })
        });
        let advice = self.advice.as_ref().map(|a| {
            let target = s(fbb, &a.target);
            let rationale = Some(fbb.create_string(&a.rationale));
            let override_reason = s(fbb, &a.override_reason);
            wire::Advice::create(
                fbb,
                &wire::AdviceArgs {
                    action: a.action.to_wire(),
                    target,
                    confidence: a.confidence,
                    rationale,
                    followed: a.followed,
                    override_reason,
                },
            )
        });
        let intent_hash = self.intent_hash.map(|h| fbb.create_vector(&h.0));
        let context_hash = self.context_hash.map(|h| fbb.create_vector(&h.0));
        let data_hash = self.data_hash.map(|h| fbb.create_vector(&h.0));
        let variables_hash = self.variables_hash.map(|h| fbb.create_vector(&h.0));
        let assigned = self.assigned.as_deref().map(|a| fbb.create_string(a));
        let rec = wire::Record::create(
            fbb,
            &wire::RecordArgs {
                body_type,
                body: Some(body),
                state,
                next_state,
                status: self.status.to_wire(),
                node: Some(node),
                time_ms: self.time_ms,
                policy,
                advice,
                intent_hash,
                context_hash,
                data_hash,
                signed: self.signed,
                visit: self.visit,
                seq: self.seq,
                variables_hash,
                assigned,
            },
        );
        fbb.finish_minimal(rec);
        fbb.finished_data().to_vec()
    }

    /// Encodes the record with a fresh builder.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(&mut FlatBufferBuilder::with_capacity(256))
    }
}

pub(crate) fn opt_string<'a>(fbb: &mut FlatBufferBuilder<'a>, v: Option<&str>) -> Option<WIPOffset<&'a str>> {
    v.map(|x| fbb.create_string(x))
}

/// A vector of strings, absent when empty.
pub(crate) fn string_vector<'a>(
    fbb: &mut FlatBufferBuilder<'a>,
    v: &[String],
) -> Option<WIPOffset<flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<&'a str>>>> {
    if v.is_empty() {
        return None;
    }
    let offs: Vec<_> = v.iter().map(|x| fbb.create_string(x)).collect();
    Some(fbb.create_vector(&offs))
}
