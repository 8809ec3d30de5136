//! Fan-out: `Parallel` and `Map` states as child objects.
//!
//! The parent's cycle creates one child object per branch or item (deterministic ids,
//! lineage: parent, root, generation, branch), appends one `delegate` record (reason
//! `fan_out`) naming every child by id and genesis hash, and goes dormant (reason
//! `join`). Each child's final object, presented to the parent ([`join`]), is checked
//! against the lineage and recorded (`reentry`, cause `children`); when all are in, the
//! parent continues with the outputs in order, or raises the failure.

use super::join::*;
use super::*;
use crate::results::Completion;
use crate::{ChildRef, CreateOptions, Intent, Lineage, ObjectId, Trust};

/// What the memory says about the current fan-out (cached on the object, updated
/// record by record).
#[derive(Debug, Default, Clone)]
pub(crate) struct FanOut {
    /// Every child created so far, in creation order.
    pub(super) children: Vec<ChildRef>,
    /// Completions recorded so far: branch -> what the child ended with.
    pub(super) done: std::collections::BTreeMap<u32, Done>,
    /// The tally over the results section (format version 2; see [`crate::results`]).
    pub(super) tally: Hash,
    /// How many children the state has in all (computed on first use).
    pub(super) total: std::sync::OnceLock<usize>,
}

/// A recorded completion.
#[derive(Debug, Clone)]
pub(super) struct Done {
    pub(super) head: Hash,
    pub(super) succeeded: bool,
    /// The output, or `{"Error", "Cause"}` (canonical JSON text, parsed at the join):
    /// held here for version 1, in the results section for version 2.
    pub(super) result: Option<String>,
}

impl Done {
    /// From a version-1 completion record's payload.
    fn of_payload(v: &Value) -> Option<(u32, Done)> {
        let branch = u32::try_from(v["branch"].as_u64()?).ok()?;
        let head = Hash::from_slice(&hex::decode(v["head"].as_str()?).ok()?)?;
        let succeeded = v["status"] == "succeeded";
        let result = cjson::canonical(if succeeded { &v["output"] } else { &v["error"] });
        Some((branch, Done { head, succeeded, result: Some(result) }))
    }
    fn of(c: &Completion) -> Done {
        Done { head: c.head, succeeded: c.status == Status::Succeeded, result: None }
    }
}

/// The error raised when too many Map items failed.
pub(super) const THRESHOLD: &str = errors::EXCEEDS_TOLERATED_FAILURE_THRESHOLD;

pub(super) fn fan_out_state(obj: &Object) -> Result<&FanOut> {
    if let Some(f) = obj.scratch.fanout.get() {
        return Ok(f);
    }
    let f = read_fan_out(obj)?;
    Ok(obj.scratch.fanout.get_or_init(|| f))
}

/// Whether `r` belongs to the fan-out of `state` (a launch or a completion).
pub(super) fn of_fan_out(r: &Record, state: &str) -> bool {
    r.state == state
        && matches!(
            r.body,
            Body::Delegate { reason: DelegateReason::FanOut, .. } | Body::Reentry { cause: ReentryCause::Children, .. }
        )
}

/// Updates the cached fan-out with a record about to be appended and the completions
/// it adds to the results section.
pub(crate) fn after(obj: &mut Object, r: &Record, completions: &[Completion]) {
    // A record outside the fan-out, or the join that leaves its state: the next fan-out
    // (perhaps of the very next state, in the same visit) starts from nothing.
    if !of_fan_out(r, &obj.state) || r.next_state != r.state {
        obj.scratch.fanout = std::sync::OnceLock::new();
        return;
    }
    if let Some(f) = obj.scratch.fanout.get_mut() {
        match &r.body {
            Body::Delegate { children, .. } => f.children.extend(children.iter().cloned()),
            Body::Reentry { payload: Some(p), .. } if completions.is_empty() => {
                if let Some((b, d)) = serde_json::from_str::<Value>(p).ok().as_ref().and_then(Done::of_payload) {
                    f.done.insert(b, d);
                }
            }
            _ => {}
        }
        f.tally = crate::results::tally(f.tally, completions);
        for c in completions {
            f.done.insert(c.branch, Done::of(c));
        }
    }
}

pub(super) fn read_fan_out(obj: &Object) -> Result<FanOut> {
    let mut f = FanOut::default();
    let mut records = Vec::new();
    for r in obj.memory.iter().rev() {
        let rec = r.decode()?;
        if !of_fan_out(&rec, &obj.state) {
            break;
        }
        records.push(rec);
    }
    let mut newest_tally = None;
    for rec in records.into_iter().rev() {
        match rec.body {
            Body::Delegate { children, .. } => f.children.extend(children),
            Body::Reentry { payload: Some(p), .. } => {
                let Ok(v) = serde_json::from_str::<Value>(&p) else { continue };
                if let Some((b, d)) = Done::of_payload(&v) {
                    f.done.insert(b, d);
                }
                if let Some(t) = v["results"]["tally"].as_str() {
                    newest_tally = hex::decode(t).ok().and_then(|h| Hash::from_slice(&h));
                }
            }
            _ => {}
        }
    }
    // The newest batch record's tally: verification checked it against the section.
    f.tally = newest_tally.unwrap_or(Hash::ZERO);
    for c in &obj.results {
        f.done.insert(c.branch, Done::of(c));
    }
    Ok(f)
}

/// Checks the results section against the memory (part of verification): it belongs
/// to the fan-out the object waits on, and the newest batch record's count and tally
/// are the section's. An error names what disagrees.
pub(crate) fn check_results(obj: &Object) -> std::result::Result<(), String> {
    let Some(last) = obj.memory.last() else { return Ok(()) };
    if obj.results.is_empty() && !matches!(last.meta.action, crate::Action::Reentry | crate::Action::Delegate) {
        return Ok(());
    }
    let mut newest: Option<Value> = None;
    for r in obj.memory.iter().rev() {
        if !matches!(r.meta.action, crate::Action::Reentry | crate::Action::Delegate) {
            break;
        }
        let rec = r.decode().map_err(|e| e.to_string())?;
        if !of_fan_out(&rec, &obj.state) {
            break;
        }
        if let Body::Reentry { payload: Some(p), .. } = &rec.body {
            let v: Value = serde_json::from_str(p).map_err(|e| e.to_string())?;
            newest = v.get("results").cloned();
            break;
        }
    }
    // The newest completion record: a batch (with a tally) keeps the section, a join
    // (with a root) has emptied it.
    let batch = newest.as_ref().filter(|s| s.get("tally").is_some());
    let Some(batch) = batch else {
        if obj.results.is_empty() {
            return Ok(());
        }
        return Err("the object has a results section, but its memory records no batch of completions for it".into());
    };
    let batch = crate::results::Summary::from_json(batch, "tally")
        .ok_or_else(|| "a batch record's `results` is malformed".to_owned())?;
    let expected = crate::results::Summary::of(&obj.results, Some(crate::results::tally(Hash::ZERO, &obj.results)));
    if expected != batch {
        return Err(format!(
            "the results section ({} completions, {} failed) does not match the count and tally of the batch record ({} completions, {} failed)",
            expected.count, expected.failed, batch.count, batch.failed
        ));
    }
    let launched = fan_out_state(obj).map_err(|e| e.to_string())?.children.len();
    let mut seen = vec![false; launched];
    for c in &obj.results {
        let Some(slot) = seen.get_mut(c.branch as usize).filter(|s| !**s) else {
            return Err(format!("the results section names branch {} twice or beyond the children launched", c.branch));
        };
        *slot = true;
    }
    Ok(())
}

pub(super) fn child_id(parent: ObjectId, state: &str, attempt: u32, branch: usize) -> ObjectId {
    let mut buf = Vec::with_capacity(16 + state.len() + 12);
    buf.extend_from_slice(&parent.0);
    buf.extend_from_slice(state.as_bytes());
    buf.extend_from_slice(&attempt.to_be_bytes());
    buf.extend_from_slice(&(branch as u64).to_be_bytes());
    ObjectId(Hash::tagged(b"peo/child/v1", &buf).0[..16].try_into().expect("16 of 32 bytes"))
}

/// A JSONata fan-out state's children are JSONata unless their plan says otherwise.
pub(super) fn inherit_query_language(state: &State, plan: &mut Value) {
    if state.query_language == QueryLanguage::Jsonata
        && let Some(o) = plan.as_object_mut()
    {
        o.entry("QueryLanguage").or_insert_with(|| json!("JSONata"));
    }
}

/// A number field of a Map (`MaxConcurrency`, `ToleratedFailureCount`, ...).
pub(super) fn number(
    spec: &Option<NumberSpec>,
    input: &Value,
    env: &Env<'_>,
    field: &str,
) -> std::result::Result<Option<f64>, Failure> {
    Ok(match spec {
        None => None,
        Some(NumberSpec::Value(v)) => Some(*v),
        Some(NumberSpec::Expr(e)) => {
            let st = asl::jsonata::States { input, result: None, error_output: None };
            let v = asl::jsonata::evaluate(e, field, &st, env)?;
            match v.as_f64() {
                Some(n) if n >= 0.0 && (field.contains("Percentage") || n.fract() == 0.0) => Some(n),
                _ => {
                    let want = if field.contains("Percentage") { "number" } else { "integer" };
                    return Err(asl::jsonata::unexpected(e, field, want, &v));
                }
            }
        }
        Some(NumberSpec::Path(p)) => {
            let v = env.query(p, input).map_err(|e| Failure::invalid_path(p, &e))?;
            // Step Functions reads a numeric string too (`"1"`).
            let parsed = v.as_str().and_then(|t| t.trim().parse::<f64>().ok()).filter(|n| n.is_finite());
            match v.as_f64().or(parsed) {
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
pub(super) struct Plan {
    pub(super) branches: Vec<(Value, Value)>,
    pub(super) max_concurrency: usize,
}

impl Cx<'_> {
    fn plan_children(&self, state: &State, env: &Env<'_>) -> std::result::Result<Plan, Failure> {
        let raw = self.obj.data();
        let doc = &self.obj.intent.document()["States"][state.name.as_str()];
        let input = asl::select(Cow::Borrowed(raw), &state.input_path, env)?;
        match &state.kind {
            StateKind::Parallel(p) => {
                let effective = match (&p.parameters, &p.arguments) {
                    (Some(t), _) => asl::template(t, &input, env)?,
                    (None, Some(a)) => {
                        let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                        asl::jsonata::template(a, "Arguments", &st, env)?
                    }
                    (None, None) => input.into_owned(),
                };
                let mut branches = doc["Branches"].as_array().cloned().unwrap_or_default();
                for b in &mut branches {
                    inherit_query_language(state, b);
                }
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
                let items = self.items(state, m, &input, env)?;
                let mut processor =
                    doc.get("ItemProcessor").or_else(|| doc.get("Iterator")).cloned().unwrap_or(Value::Null);
                if let Some(o) = processor.as_object_mut() {
                    o.remove("ProcessorConfig");
                }
                inherit_query_language(state, &mut processor);
                let mut branches = Vec::with_capacity(items.len());
                let mut item_ctx: Option<Value> = None;
                for (i, item) in items.into_iter().enumerate() {
                    // Each child gets (and parses) its own copy of the item processor.
                    self.work.spend_value(&processor)?;
                    let child_input = match &m.item_selector {
                        Some(t) => {
                            let ctx = item_ctx.get_or_insert_with(|| env.context().clone());
                            ctx["Map"] = json!({"Item": {"Index": i, "Value": item}});
                            let item_env = Env::new(ctx, seed(self.obj, &state.name))
                                .metered(&self.work)
                                .with_variables(&self.obj.variables)
                                .with_now(self.now);
                            match state.query_language {
                                QueryLanguage::JsonPath => asl::template(t, &input, &item_env)?,
                                QueryLanguage::Jsonata => {
                                    let st = asl::jsonata::States { input: raw, result: None, error_output: None };
                                    asl::jsonata::template(t, "ItemSelector", &st, &item_env)?
                                }
                            }
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

    /// A Map state's items: `ItemsPath` (JSONPath) or `Items` (JSONata) applied to the
    /// state's input, which must give an array.
    fn items(
        &self,
        state: &State,
        m: &crate::intent::Map,
        input: &Value,
        env: &Env<'_>,
    ) -> std::result::Result<Vec<Value>, Failure> {
        let items = match (&m.items_path, &m.items) {
            (crate::intent::PathSpec::Path(p), _) => env.query(p, input).map_err(|e| Failure::invalid_path(p, &e))?,
            (_, Some(t)) => {
                let st = asl::jsonata::States { input, result: None, error_output: None };
                let v = asl::jsonata::template(t, "Items", &st, env)?;
                if let (Value::String(text), false) = (t, v.is_array()) {
                    let e = asl::jsonata::expression(text).unwrap_or(text);
                    return Err(asl::jsonata::unexpected(e, "Items", "array", &v));
                }
                v
            }
            _ => input.clone(),
        };
        match items {
            Value::Array(a) => Ok(a),
            other if state.query_language == QueryLanguage::Jsonata => Err(Failure {
                error: errors::QUERY_EVALUATION_ERROR.to_owned(),
                cause: format!("Map state input must be an array but was: {}", cjson::canonical(&other)),
                located: true,
            }),
            other => Err(Failure::runtime(format!(
                "Item reader: the items of Map state '{}' must be a JSON array, got {other}",
                state.name
            ))),
        }
    }

    /// How many children `state` has in all (without building them).
    pub(super) fn count_children(&self, state: &State, env: &Env<'_>) -> std::result::Result<usize, Failure> {
        match &state.kind {
            StateKind::Parallel(p) => Ok(p.branches.len()),
            StateKind::Map(m) => {
                let input = asl::select(Cow::Borrowed(&self.obj.data), &state.input_path, env)?;
                Ok(self.items(state, m, &input, env)?.len())
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
            let child = Object::create_child(
                intent,
                self.obj.context.clone(),
                input,
                &options,
                lineage,
                self.node.node_ref(),
                self.obj.variables.clone(),
            )
            .map_err(|e| Failure::runtime(format!("branch {i} of '{}': {}", state.name, e.message())))?;
            refs.push(ChildRef { id, genesis_hash: Some(child.memory[0].hash), branch: i as u32 });
            created.push(child.to_bytes());
        }
        if plan.branches.is_empty() {
            // Nothing to wait for: an empty Map (or Parallel) yields [].
            return Ok(Decision::record(self.joined(state, Vec::new(), json!({"joined": true}))));
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
        Ok(Decision::record(t))
    }

    /// Every child is in: the state's result is their outputs in branch order.
    pub(super) fn joined(&self, state: &State, outputs: Vec<Value>, mut payload: Value) -> Box<Transition> {
        let (selector, result_path) = match &state.kind {
            StateKind::Parallel(p) => (p.result_selector.as_ref(), &p.result_path),
            StateKind::Map(m) => (m.result_selector.as_ref(), &m.result_path),
            _ => (None, &crate::intent::PathSpec::Default),
        };
        let env = self.env(state);
        let result = Value::Array(outputs);
        let processed = (|| {
            let selected = match selector {
                Some(t) => Cow::Owned(asl::template(t, &result, &env)?),
                None => Cow::Borrowed(&result),
            };
            let st = asl::jsonata::States { input: &self.obj.data, result: Some(&result), error_output: None };
            let assigned = self.assign(state, state.assign.as_ref(), &selected, &st, &env)?;
            let out = match state.query_language {
                QueryLanguage::JsonPath => {
                    let placed = asl::place(&self.obj.data, result_path, selected)?;
                    asl::select(placed, &state.output_path, &env)?
                }
                QueryLanguage::Jsonata => Cow::Owned(self.output(state.output.as_ref(), &st, &env, result.clone())?),
            };
            payload_ok(&out, &state.name)?;
            Ok::<_, Failure>((assigned, out.into_owned()))
        })();
        let body = |payload: Value| Body::Reentry {
            cause: ReentryCause::Children,
            event: None,
            payload: Some(cjson::canonical(&payload)),
        };
        match processed {
            Ok((assigned, out)) => {
                super::assign::commit(assigned, self.stay(body(payload), &state.name, Cx::next_of(state), Some(out)))
            }
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

impl Object {
    /// Presents a child's final object ([`join`]) and records it.
    pub fn complete_child(&mut self, node: &NodeSpec, now_ms: i64, child: &Object, trust: &Trust) -> Result<Step> {
        match join(self, node, now_ms, child, trust)? {
            Decision::Record(t) => Ok(Step::Appended(self.apply(t, node)?)),
            Decision::Sleep(w) => Ok(Step::Sleep(w)),
            Decision::Execute(c) => Ok(Step::Execute(c)),
        }
    }

    /// Presents a batch of children's final objects ([`join_all`]) and records them.
    pub fn complete_children(
        &mut self,
        node: &NodeSpec,
        now_ms: i64,
        children: &[&Object],
        trust: &Trust,
    ) -> Result<Step> {
        match join_all(self, node, now_ms, children, trust)? {
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
    /// end at the head the completion recorded (format version 2: the children given
    /// for each join must reproduce the Merkle root it recorded, and those in the
    /// results section their entries). Children whose completion is not recorded
    /// (still running) are ignored. Each child is verified under `trust` and must carry
    /// this object's context. Returns how many completions were checked.
    pub fn verify_children(&self, children: &[Object], trust: &Trust) -> Result<usize> {
        let check = |child: &Object, what: &str| -> Result<()> {
            let id = child.id;
            if child.lineage.parent != Some(self.id) {
                return Err(Error::integrity(format!("{what}: {id} is not a child of {}", self.id)));
            }
            if let Some(b) = child.verify(trust).broken {
                return Err(Error::integrity(format!("child {id} does not verify: {}", b.message)));
            }
            if child.memory.first().and_then(|r| r.meta.context_hash) != Some(self.context_hash) {
                return Err(Error::integrity(format!("child {id} does not carry its parent's context")));
            }
            Ok(())
        };
        let mut checked = 0;
        // The children launched by the fan-out being read (version 2).
        let mut launched: Vec<ChildRef> = Vec::new();
        for r in &self.memory {
            let rec = r.decode()?;
            if let Body::Delegate { reason: DelegateReason::FanOut, children: refs, .. } = &rec.body {
                launched.extend(refs.iter().cloned());
                continue;
            }
            let Body::Reentry { cause: ReentryCause::Children, payload: Some(p), .. } = &rec.body else { continue };
            let v: Value = serde_json::from_str(p).map_err(|e| Error::integrity(e.to_string()))?;
            let what = format!("record {}", rec.seq);
            if let Some(id) = v["id"].as_str() {
                // Version 1: the record holds one completion.
                let child = children
                    .iter()
                    .find(|c| c.id.to_hex() == id)
                    .ok_or_else(|| Error::integrity(format!("{what}: child {id} was not given")))?;
                check(child, &what)?;
                if v["head"] != json!(child.head().to_hex()) {
                    return Err(Error::integrity(format!(
                        "{what}: child {id} ended at {}, not at the head the completion recorded",
                        child.head()
                    )));
                }
                checked += 1;
                continue;
            }
            let Some(joined) = v.get("results").and_then(|s| crate::results::Summary::from_json(s, "root")) else {
                continue;
            };
            if v["results"].get("tally").is_some() {
                continue;
            }
            // Version 2: the join's root over the completions in branch order.
            let mut made = Vec::new();
            for c in children {
                if let Some(cref) = launched.iter().find(|r| r.id == c.id) {
                    check(c, &what)?;
                    made.push(completion_of(c, cref.branch)?);
                }
            }
            let got = crate::results::Summary::of(&made, crate::results::root(&made));
            if got != joined {
                return Err(Error::integrity(format!(
                    "{what}: the {} children given for state `{}` do not reproduce the completions its join recorded ({} completions, {} failed, and their Merkle root): give exactly the children it recorded, as they ended",
                    made.len(),
                    rec.state,
                    joined.count,
                    joined.failed
                )));
            }
            checked += made.len();
            launched.clear();
        }
        for entry in &self.results {
            let Some(cref) = launched.iter().find(|r| r.branch == entry.branch) else {
                return Err(Error::integrity(format!(
                    "the results section names branch {}, which was not launched",
                    entry.branch
                )));
            };
            let id = cref.id;
            let child = children
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(|| Error::integrity(format!("results section: child {id} was not given")))?;
            check(child, "results section")?;
            if completion_of(child, entry.branch)? != *entry {
                return Err(Error::integrity(format!(
                    "results section: child {id} ended at {}, not as the completion recorded",
                    child.head()
                )));
            }
            checked += 1;
        }
        Ok(checked)
    }
}
