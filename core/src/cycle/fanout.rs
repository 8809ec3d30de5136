//! Fan-out: `Parallel` and `Map` states as child objects.
//!
//! The parent's cycle creates one child object per branch or item (deterministic ids,
//! lineage: parent, root, generation, branch), appends one `delegate` record (reason
//! `fan_out`) naming every child by id and genesis hash, and goes dormant (reason
//! `join`). Each child's final object, presented to the parent ([`join`]), is checked
//! against the lineage and recorded (`reentry`, cause `children`); when all are in, the
//! parent continues with the outputs in order, or raises the failure.

use super::*;
use crate::{ChildRef, CreateOptions, Intent, Lineage, ObjectId, Trust};

/// What the memory says about the current fan-out (cached on the object, updated
/// record by record).
#[derive(Debug, Default, Clone)]
pub(crate) struct FanOut {
    /// Every child created so far, in creation order.
    children: Vec<ChildRef>,
    /// Completions recorded so far: branch -> payload.
    done: std::collections::BTreeMap<u32, Value>,
    /// How many children the state has in all (computed on first use).
    total: std::sync::OnceLock<usize>,
}

/// The error raised when too many Map items failed.
const THRESHOLD: &str = errors::EXCEEDS_TOLERATED_FAILURE_THRESHOLD;

fn fan_out_state(obj: &Object) -> Result<&FanOut> {
    if let Some(f) = obj.scratch.fanout.get() {
        return Ok(f);
    }
    let f = read_fan_out(obj)?;
    Ok(obj.scratch.fanout.get_or_init(|| f))
}

/// Updates the cached fan-out with a record about to be appended.
pub(crate) fn after(obj: &mut Object, r: &Record) {
    let ours = matches!(
        r.body,
        Body::Delegate { reason: DelegateReason::FanOut, .. } | Body::Reentry { cause: ReentryCause::Children, .. }
    ) && r.state == obj.state;
    if !ours {
        obj.scratch.fanout = std::sync::OnceLock::new();
        return;
    }
    if let Some(f) = obj.scratch.fanout.get_mut() {
        match &r.body {
            Body::Delegate { children, .. } => f.children.extend(children.iter().cloned()),
            Body::Reentry { payload: Some(p), .. } => {
                if let Ok(v) = serde_json::from_str::<Value>(p)
                    && let Some(b) = v["branch"].as_u64()
                {
                    f.done.insert(b as u32, v);
                }
            }
            _ => {}
        }
    }
}

fn read_fan_out(obj: &Object) -> Result<FanOut> {
    let mut f = FanOut::default();
    let mut records = Vec::new();
    for r in obj.memory.iter().rev() {
        let rec = r.decode()?;
        let ours = rec.state == obj.state
            && matches!(
                rec.body,
                Body::Delegate { reason: DelegateReason::FanOut, .. }
                    | Body::Reentry { cause: ReentryCause::Children, .. }
            );
        if !ours {
            break;
        }
        records.push(rec);
    }
    for rec in records.into_iter().rev() {
        match rec.body {
            Body::Delegate { children, .. } => f.children.extend(children),
            Body::Reentry { payload: Some(p), .. } => {
                if let Ok(v) = serde_json::from_str::<Value>(&p)
                    && let Some(b) = v["branch"].as_u64()
                {
                    f.done.insert(b as u32, v);
                }
            }
            _ => {}
        }
    }
    Ok(f)
}

fn child_id(parent: ObjectId, state: &str, attempt: u32, branch: usize) -> ObjectId {
    let mut buf = Vec::with_capacity(16 + state.len() + 12);
    buf.extend_from_slice(&parent.0);
    buf.extend_from_slice(state.as_bytes());
    buf.extend_from_slice(&attempt.to_be_bytes());
    buf.extend_from_slice(&(branch as u64).to_be_bytes());
    ObjectId(Hash::tagged(b"peo/child/v1", &buf).0[..16].try_into().expect("16 of 32 bytes"))
}

/// A number field of a Map (`MaxConcurrency`, `ToleratedFailureCount`, ...).
fn number(
    spec: &Option<NumberSpec>,
    input: &Value,
    env: &Env<'_>,
    field: &str,
) -> std::result::Result<Option<f64>, Failure> {
    Ok(match spec {
        None => None,
        Some(NumberSpec::Value(v)) => Some(*v),
        Some(NumberSpec::Path(p)) => {
            let v = env.query(p, input).map_err(|e| Failure::invalid_path(p, &e))?;
            match v.as_f64() {
                Some(n) if n < 0.0 && v.is_number() && n.fract() == 0.0 => {
                    return Err(Failure::runtime(format!("{field} cannot be negative.")));
                }
                Some(n) if n >= 0.0 && (field.contains("Percentage") || n.fract() == 0.0) => Some(n),
                _ => {
                    let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    return Err(Failure::runtime(format!(
                        "The {field}Path field refers to value \"{shown}\" which is not a valid {}: {p}",
                        if field.contains("Percentage") { "number" } else { "integer" }
                    )));
                }
            }
        }
    })
}

/// How many children the current state's fan-out has launched so far (0 before it
/// starts).
pub(super) fn fan_out_launched(obj: &Object) -> usize {
    fan_out_state(obj).map_or(0, |f| f.children.len())
}

/// The children's plans and inputs for `state` (all of them, in branch order).
struct Plan {
    branches: Vec<(Value, Value)>,
    max_concurrency: usize,
}

impl Cx<'_> {
    fn plan_children(&self, state: &State, env: &Env<'_>) -> std::result::Result<Plan, Failure> {
        let raw = &self.obj.data;
        let doc = &self.obj.intent.document()["States"][state.name.as_str()];
        let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
        match &state.kind {
            StateKind::Parallel(p) => {
                let effective = match &p.parameters {
                    Some(t) => asl::template(t, &input, env)?,
                    None => input.into_owned(),
                };
                let branches = doc["Branches"].as_array().cloned().unwrap_or_default();
                for b in &branches {
                    self.work.spend_value(b)?;
                    self.work.spend_value(&effective)?;
                }
                Ok(Plan {
                    branches: branches.into_iter().map(|b| (b, effective.clone())).collect(),
                    max_concurrency: 0,
                })
            }
            StateKind::Map(m) => {
                let items = match &m.items_path {
                    crate::intent::PathSpec::Path(p) => {
                        env.query(p, &input).map_err(|e| Failure::invalid_path(p, &e))?
                    }
                    _ => input.clone().into_owned(),
                };
                let Value::Array(items) = items else {
                    return Err(Failure::runtime(format!(
                        "Item reader: the items of Map state '{}' must be a JSON array, got {items}",
                        state.name
                    )));
                };
                let mut processor =
                    doc.get("ItemProcessor").or_else(|| doc.get("Iterator")).cloned().unwrap_or(Value::Null);
                if let Some(o) = processor.as_object_mut() {
                    o.remove("ProcessorConfig");
                }
                let mut branches = Vec::with_capacity(items.len());
                let mut item_ctx: Option<Value> = None;
                for (i, item) in items.into_iter().enumerate() {
                    // Each child gets (and parses) its own copy of the item processor.
                    self.work.spend_value(&processor)?;
                    let child_input = match &m.item_selector {
                        Some(t) => {
                            let ctx = item_ctx.get_or_insert_with(|| env.context().clone());
                            ctx["Map"] = json!({"Item": {"Index": i, "Value": item}});
                            let item_env = Env::new(ctx, seed(self.obj, &state.name)).metered(&self.work);
                            asl::template(t, &input, &item_env)?
                        }
                        None => item,
                    };
                    branches.push((processor.clone(), child_input));
                }
                let max = number(&m.max_concurrency, &input, env, "MaxConcurrency")?.unwrap_or(0.0);
                // Checked now so that a bad tolerance fails the state before any child runs.
                number(&m.tolerated_failure_count, &input, env, "ToleratedFailureCount")?;
                number(&m.tolerated_failure_percentage, &input, env, "ToleratedFailurePercentage")?;
                Ok(Plan { branches, max_concurrency: max as usize })
            }
            _ => Err(Failure::runtime("not a fan-out state")),
        }
    }

    /// How many children `state` has in all (without building them).
    pub(super) fn count_children(&self, state: &State, env: &Env<'_>) -> std::result::Result<usize, Failure> {
        match &state.kind {
            StateKind::Parallel(p) => Ok(p.branches.len()),
            StateKind::Map(m) => {
                let input = asl::select(Cow::Borrowed(&self.obj.data), &state.input_path, env)?;
                let items = match &m.items_path {
                    crate::intent::PathSpec::Path(p) => {
                        env.query(p, &input).map_err(|e| Failure::invalid_path(p, &e))?
                    }
                    _ => input.into_owned(),
                };
                Ok(items.as_array().map_or(0, Vec::len))
            }
            _ => Ok(0),
        }
    }

    /// Creates the next children of `state` (all of them, or up to `MaxConcurrency`
    /// running at once) and goes dormant waiting for them.
    pub(super) fn fan_out(&self, state: &State, env: &Env<'_>) -> std::result::Result<Decision, Failure> {
        let plan = self.plan_children(state, env)?;
        let current = fan_out_state(self.obj).map_err(|e| Failure::runtime(e.message().to_owned()))?;
        let launched = current.children.len();
        let running = launched.saturating_sub(current.done.len());
        let room = if plan.max_concurrency == 0 { usize::MAX } else { plan.max_concurrency.saturating_sub(running) };
        let attempt = self.p.attempts;
        let mut created = Vec::new();
        let mut refs = Vec::new();
        for (i, (plan_doc, input)) in plan.branches.iter().enumerate().skip(launched).take(room) {
            let intent = Intent::new(plan_doc, &crate::Limits::default())
                .map_err(|e| Failure::runtime(format!("branch {i} of '{}': {}", state.name, e.message())))?;
            let id = child_id(self.obj.id, &state.name, attempt, i);
            let lineage = Lineage {
                parent: Some(self.obj.id),
                root: self.obj.lineage.root,
                generation: self.obj.lineage.generation.saturating_add(1),
                branch: i as u32,
                fanout_state: Some(state.name.clone()),
            };
            let options =
                CreateOptions { id: Some(id), now_ms: self.now, key: self.node.key.as_ref(), ..Default::default() };
            let child =
                Object::create_child(intent, self.obj.context.clone(), input, &options, lineage, self.node.node_ref())
                    .map_err(|e| Failure::runtime(format!("branch {i} of '{}': {}", state.name, e.message())))?;
            refs.push(ChildRef { id, genesis_hash: Some(child.memory[0].hash), branch: i as u32 });
            created.push(child.to_bytes());
        }
        if plan.branches.is_empty() {
            // Nothing to wait for: an empty Map (or Parallel) yields [].
            return Ok(Decision::Record(self.joined(state, Vec::new(), json!({"joined": true}))));
        }
        let wake =
            Wake { reason: DormantReason::Join, at_ms: None, event: None, timeout_at_ms: deadline(self.obj, self.p) };
        let mut t = self.leave(
            Body::Delegate { reason: DelegateReason::FanOut, capability: None, target: None, children: refs },
            &state.name,
            state.name.clone(),
            Status::Dormant,
            None,
            Disposition::Dormant(wake),
        );
        t.children = created;
        t.record.policy = self.authorize(PolicyAction::Delegate, None);
        Ok(Decision::Record(t))
    }

    /// Every child is in: the state's result is their outputs in branch order.
    fn joined(&self, state: &State, outputs: Vec<Value>, mut payload: Value) -> Transition {
        let (selector, result_path) = match &state.kind {
            StateKind::Parallel(p) => (p.result_selector.as_ref(), &p.result_path),
            StateKind::Map(m) => (m.result_selector.as_ref(), &m.result_path),
            _ => (None, &crate::intent::PathSpec::Default),
        };
        let build = || context_object(self.obj, state, self.p, self.now);
        let make_seed = || seed(self.obj, &state.name);
        let env = Env::lazy(&build, &make_seed).metered(&self.work);
        let result = Value::Array(outputs);
        let processed = (|| {
            let selected = match selector {
                Some(t) => Cow::Owned(asl::template(t, &result, &env)?),
                None => Cow::Borrowed(&result),
            };
            let placed = asl::place(&self.obj.data, result_path, selected)?;
            let out = asl::select(placed, &state.output_path, &env)?;
            payload_ok(&out, &state.name)?;
            Ok::<_, Failure>(out.into_owned())
        })();
        let body = |payload: Value| Body::Reentry {
            cause: ReentryCause::Children,
            event: None,
            payload: Some(cjson::canonical(&payload)),
        };
        match processed {
            Ok(out) => self.stay(body(payload), &state.name, Cx::next_of(state), Some(out)),
            Err(f) => {
                let e = self.located(state, f);
                payload["raise"] = json!({"Error": e.error, "Cause": e.cause});
                self.stay(body(payload), &state.name, state.name.clone(), None)
            }
        }
    }
}

/// The error a `reentry` (cause `children`) raised for its state, if any.
pub(super) fn children_error(r: &Record) -> Option<TaskError> {
    let Body::Reentry { cause: ReentryCause::Children, payload: Some(p), .. } = &r.body else { return None };
    let v: Value = serde_json::from_str(p).ok()?;
    let raise = v.get("raise")?;
    Some(TaskError { error: raise["Error"].as_str()?.to_owned(), cause: raise["Cause"].as_str().map(str::to_owned) })
}

/// Presents a child's final object to its parent: checked against the lineage and the
/// parent's memory, then recorded. A completion already recorded (the same child, the
/// same head) is recognised and appends nothing; a forged or mismatched one is an
/// `Integrity` error and the parent is unchanged.
///
/// A completion is an act of the node on the parent, under the same authority as a
/// visit: the node's `visit` check (policy references resolved, `visit` permitted) and
/// the parent's `Constraints` apply before anything is recorded; a refusal is a
/// `Policy` error with the parent unchanged. The child must verify under `trust` (the
/// node's) and carry the parent's context.
pub fn join(parent: &Object, node: &NodeSpec, now_ms: i64, child: &Object, trust: &Trust) -> Result<Decision> {
    if parent.status != Status::Dormant {
        return Err(Error::invalid_argument("the object is not waiting for children"));
    }
    let p = parent.progress()?;
    let Pending::Dormant(wake) = &p.pending else {
        return Err(Error::invalid_argument("the object is not waiting for children"));
    };
    if wake.reason != DormantReason::Join {
        return Err(Error::invalid_argument("the object is dormant, but not waiting for children"));
    }
    let reject = |why: String| Err(Error::integrity(format!("child completion rejected: {why}")));
    if child.lineage.parent != Some(parent.id) {
        return reject(format!("object {} is not a child of {}", child.id, parent.id));
    }
    let current = fan_out_state(parent)?;
    let Some(cref) = current.children.iter().find(|c| c.id == child.id) else {
        return reject(format!("object {} is not among the children of state `{}`", child.id, parent.state));
    };
    if cref.genesis_hash != child.memory.first().map(|r| r.hash) || cref.branch != child.lineage.branch {
        return reject(format!("object {} does not match the genesis recorded for branch {}", child.id, cref.branch));
    }
    let report = child.verify(trust);
    if let Some(b) = &report.broken {
        return reject(format!("object {} does not verify under this node's trust: {}", child.id, b.message));
    }
    let child_context = child.memory.first().and_then(|r| r.meta.context_hash);
    if child_context != Some(parent.context_hash) {
        return reject(format!("object {} does not carry its parent's context", child.id));
    }
    {
        let cx = Cx::new(parent, node, now_ms, p);
        if !parent.scratch.visit_open && cx.visit_check()?.is_some() {
            return Err(Error::policy(format!(
                "node `{}` cannot resolve the parent's policy references, so it may not record a completion: present it to a node that can",
                node.id
            ))
            .in_state(parent.state.clone()));
        }
        if let Some(t) = cx.constraints() {
            return Ok(Decision::Record(t));
        }
    }
    if !child.status.is_terminal() {
        return Err(Error::invalid_argument(format!("child {} has not terminated yet", child.id)));
    }
    let head = child.head().to_hex();
    if let Some(done) = current.done.get(&cref.branch) {
        if done["head"] == json!(head) {
            return Ok(Decision::Sleep(wake.clone()));
        }
        return reject(format!("a different completion of child {} was already recorded", child.id));
    }
    let records = child.records()?;
    let Some(Body::Terminate { output, error, .. }) = records.last().map(|r| r.body.clone()) else {
        return reject(format!("object {} has no terminate record", child.id));
    };
    let output: Value = output.as_deref().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(Value::Null);
    let mut payload = json!({
        "branch": cref.branch,
        "id": child.id.to_hex(),
        "head": head,
        "status": child.status.as_str(),
    });
    if child.status == Status::Succeeded {
        payload["output"] = output;
    } else {
        let e = error.unwrap_or(TaskError { error: String::new(), cause: None });
        payload["error"] = json!({"Error": e.error, "Cause": e.cause});
    }
    let state = state_of(parent, &parent.state)?;
    let cx = Cx::new(parent, node, now_ms, p);
    let total = *current.total.get_or_init(|| {
        let build = || context_object(parent, state, p, now_ms);
        let make_seed = || seed(parent, &state.name);
        let env = Env::lazy(&build, &make_seed).metered(&cx.work);
        cx.count_children(state, &env).unwrap_or(current.children.len())
    });
    let this_failed = payload["status"] != "succeeded";
    let failures = current.done.values().filter(|v| v["status"] != "succeeded").count() + usize::from(this_failed);
    let done_count = current.done.len() + 1;
    let record_body = |payload: &Value| Body::Reentry {
        cause: ReentryCause::Children,
        event: None,
        payload: Some(cjson::canonical(payload)),
    };
    // A failure the state does not tolerate raises now.
    let tolerated = match &state.kind {
        StateKind::Map(m) => {
            let build = || context_object(parent, state, p, now_ms);
            let make_seed = || seed(parent, &state.name);
            let env = Env::lazy(&build, &make_seed).metered(&cx.work);
            let count = number(&m.tolerated_failure_count, &parent.data, &env, "ToleratedFailureCount").ok().flatten();
            let pct = number(&m.tolerated_failure_percentage, &parent.data, &env, "ToleratedFailurePercentage")
                .ok()
                .flatten();
            let by_count = count.map(|c| failures as f64 <= c);
            let by_pct = pct.map(|pc| total > 0 && (failures as f64 * 100.0 / total as f64) <= pc);
            match (by_count, by_pct) {
                (None, None) => failures == 0,
                (a, b) => a.unwrap_or(false) || b.unwrap_or(false),
            }
        }
        _ => failures == 0,
    };
    if !tolerated {
        let raise = match &state.kind {
            StateKind::Map(m) if m.tolerated_failure_count.is_some() || m.tolerated_failure_percentage.is_some() => {
                json!({"Error": THRESHOLD, "Cause": "The specified tolerated failure threshold was exceeded"})
            }
            _ => payload["error"].clone(),
        };
        let mut pl = payload.clone();
        pl["raise"] = raise;
        return Ok(Decision::Record(cx.stay(record_body(&pl), &state.name, state.name.clone(), None)));
    }
    if done_count == total {
        let outputs: Vec<Value> = (0..total as u32)
            .map(|b| {
                let v = if b == cref.branch { &payload } else { current.done.get(&b).unwrap_or(&Value::Null) };
                if v["status"] == "succeeded" { v["output"].clone() } else { v["error"].clone() }
            })
            .collect();
        return Ok(Decision::Record(cx.joined(state, outputs, payload)));
    }
    if current.children.len() < total {
        // Room for another child under MaxConcurrency: the next cycle creates it.
        return Ok(Decision::Record(cx.stay(record_body(&payload), &state.name, state.name.clone(), None)));
    }
    let wake = wake.clone();
    Ok(Decision::Record(cx.leave(
        record_body(&payload),
        &state.name,
        state.name.clone(),
        Status::Dormant,
        None,
        Disposition::Dormant(wake),
    )))
}

impl Object {
    /// Presents a child's final object ([`join`]) and records it.
    pub fn complete_child(&mut self, node: &NodeSpec, now_ms: i64, child: &Object, trust: &Trust) -> Result<Step> {
        match join(self, node, now_ms, child, trust)? {
            Decision::Record(t) => Ok(Step::Appended(self.apply(t, node)?)),
            Decision::Sleep(w) => Ok(Step::Sleep(w)),
            Decision::Execute(c) => Ok(Step::Execute(c)),
        }
    }

    /// The child objects (their bytes) the fan-outs of this visit created, to be sent
    /// on like any delegated object (taken once).
    pub fn take_children(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.scratch.spawned)
    }
}

impl Object {
    /// Checks the completions this object recorded against its children's final
    /// objects: each recorded child must be given, be this object's child, verify, and
    /// end at the head the completion recorded. Children whose completion is not
    /// recorded (still running) are ignored.
    /// Each child is verified under `trust` and must carry this object's context.
    pub fn verify_children(&self, children: &[Object], trust: &Trust) -> Result<usize> {
        let mut checked = 0;
        for r in &self.memory {
            let rec = r.decode()?;
            let Body::Reentry { cause: ReentryCause::Children, payload: Some(p), .. } = &rec.body else { continue };
            let v: Value = serde_json::from_str(p).map_err(|e| Error::integrity(e.to_string()))?;
            let Some(id) = v["id"].as_str() else { continue };
            let child = children
                .iter()
                .find(|c| c.id.to_hex() == id)
                .ok_or_else(|| Error::integrity(format!("record {}: child {id} was not given", rec.seq)))?;
            if child.lineage.parent != Some(self.id) {
                return Err(Error::integrity(format!("record {}: {id} is not a child of {}", rec.seq, self.id)));
            }
            if let Some(b) = child.verify(trust).broken {
                return Err(Error::integrity(format!("child {id} does not verify: {}", b.message)));
            }
            if child.memory.first().and_then(|r| r.meta.context_hash) != Some(self.context_hash) {
                return Err(Error::integrity(format!("child {id} does not carry its parent's context")));
            }
            if v["head"] != json!(child.head().to_hex()) {
                return Err(Error::integrity(format!(
                    "record {}: child {id} ended at {}, not at the head the completion recorded",
                    rec.seq,
                    child.head()
                )));
            }
            checked += 1;
        }
        Ok(checked)
    }
}
