//! Joins: a fan-out's children presented to their parent, checked against what the
//! parent launched, recorded (one at a time or in batches), and the join when all are in.

use super::fanout::*;
use super::*;
use crate::Trust;
use crate::results::Completion;

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
    join_all(parent, node, now_ms, &[child], trust)
}

/// [`join`] for a batch of children: every one is checked before anything is recorded
/// (one bad child rejects the batch, the parent unchanged), and the new completions are
/// recorded together, by one record (format version 2: their results go to the results
/// section, see [`crate::results`]; version 1 records one completion at a time).
pub fn join_all(
    parent: &Object,
    node: &NodeSpec,
    now_ms: i64,
    children: &[&Object],
    trust: &Trust,
) -> Result<Decision> {
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
    if children.is_empty() {
        return Err(Error::invalid_argument("no child objects were given"));
    }
    let current = fan_out_state(parent)?;
    let mut refs = Vec::with_capacity(children.len());
    for child in children {
        refs.push(check_child(parent, current, child, trust)?);
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
            return Ok(Decision::record(t));
        }
    }
    let mut fresh: Vec<(Completion, &Object)> = Vec::new();
    for (child, branch) in children.iter().zip(refs) {
        if !child.status.is_terminal() {
            return Err(Error::invalid_argument(format!("child {} has not terminated yet", child.id)));
        }
        let head = child.head();
        let recorded = current
            .done
            .get(&branch)
            .map(|d| d.head)
            .or_else(|| fresh.iter().find(|(c, _)| c.branch == branch).map(|(c, _)| c.head));
        match recorded {
            Some(h) if h == head => continue,
            Some(_) => {
                return Err(Error::integrity(format!(
                    "child completion rejected: a different completion of child {} was already recorded",
                    child.id
                )));
            }
            None => {}
        }
        let c = completion_of(child, branch)?;
        fresh.push((c, child));
    }
    if fresh.is_empty() {
        return Ok(Decision::Sleep(wake.clone()));
    }
    let state = state_of(parent, &parent.state)?;
    let cx = Cx::new(parent, node, now_ms, p);
    let total = *current.total.get_or_init(|| {
        let env = cx.env(state);
        cx.count_children(state, &env).unwrap_or(current.children.len())
    });
    let failures = current.done.values().filter(|d| !d.succeeded).count()
        + fresh.iter().filter(|(c, _)| c.status != Status::Succeeded).count();
    let done_count = current.done.len() + fresh.len();
    let tolerated = tolerated(parent, &cx, state, failures, total);
    let v2 = parent.version >= 2;
    if !v2 && fresh.len() > 1 {
        return Err(Error::invalid_argument(
            "this object has format version 1, which records one completion at a time: present the children one by one",
        ));
    }
    // Version 1: one record per completion, holding it. Version 2: the results go to the
    // section; the record holds counts and the tally (a batch) or the root (a join).
    let mut payload = if v2 {
        json!({"added": fresh.len()})
    } else {
        let (c, child) = &fresh[0];
        let mut pl =
            json!({"branch": c.branch, "id": child.id.to_hex(), "head": c.head.to_hex(), "status": c.status.as_str()});
        pl[if c.status == Status::Succeeded { "output" } else { "error" }] = c.value();
        pl
    };
    let joined_summary = || {
        let all = parent.results.iter().chain(fresh.iter().map(|(c, _)| c));
        let all: Vec<&Completion> = all.collect();
        let count = all.len() as u32;
        let failed = all.iter().filter(|c| c.status != Status::Succeeded).count() as u32;
        crate::results::Summary { count, failed, hash: crate::results::root(all) }.to_json("root")
    };
    let record_body = |payload: &Value| Body::Reentry {
        cause: ReentryCause::Children,
        event: None,
        payload: Some(cjson::canonical(payload)),
    };
    if !tolerated {
        let raise = match &state.kind {
            StateKind::Map(m) if m.tolerated_failure_count.is_some() || m.tolerated_failure_percentage.is_some() => {
                json!({"Error": THRESHOLD, "Cause": "The specified tolerated failure threshold was exceeded"})
            }
            _ => fresh.iter().find(|(c, _)| c.status != Status::Succeeded).map(|(c, _)| c.value()).unwrap_or_default(),
        };
        payload["raise"] = raise;
        if v2 {
            payload["results"] = joined_summary();
        }
        return Ok(Decision::record(cx.stay(record_body(&payload), &state.name, state.name.clone(), None)));
    }
    if done_count == total {
        // The results section and this batch, by branch (one lookup per output).
        let sections: std::collections::HashMap<u32, &Completion> =
            parent.results.iter().map(|c| (c.branch, c)).collect();
        let this_batch: std::collections::HashMap<u32, &Completion> =
            fresh.iter().map(|(c, _)| (c.branch, c)).collect();
        let mut outputs = Vec::with_capacity(total);
        for b in 0..total as u32 {
            let text = match this_batch.get(&b) {
                Some(c) => c.result.as_str(),
                None => match current.done.get(&b) {
                    Some(Done { result: Some(r), .. }) => r.as_str(),
                    Some(_) => sections.get(&b).map_or("null", |c| c.result.as_str()),
                    None => "null",
                },
            };
            outputs.push(
                cjson::parse(text, &node.limits, "a completion's result")
                    .map_err(|e| Error::integrity(format!("the result of branch {b}: {}", e.message())))?,
            );
        }
        if v2 {
            payload["results"] = joined_summary();
        }
        return Ok(Decision::record(cx.joined(state, outputs, payload)));
    }
    let completions: Vec<Completion> = fresh.into_iter().map(|(c, _)| c).collect();
    if v2 {
        let count = (current.done.len() + completions.len()) as u32;
        let tally = crate::results::tally(current.tally, &completions);
        payload["results"] =
            crate::results::Summary { count, failed: failures as u32, hash: Some(tally) }.to_json("tally");
    }
    let mut t = if current.children.len() < total {
        // Room for another child under MaxConcurrency: the next cycle creates it.
        cx.stay(record_body(&payload), &state.name, state.name.clone(), None)
    } else {
        cx.leave(
            record_body(&payload),
            &state.name,
            state.name.clone(),
            Status::Dormant,
            None,
            Disposition::Dormant(wake.clone()),
        )
    };
    if v2 {
        t.completions = completions;
    }
    Ok(Decision::record(t))
}

/// Checks that `child` is one of the children `parent` is waiting on (its lineage, the
/// genesis recorded for its branch, its signatures under `trust`, the parent's
/// context): its branch, or an `Integrity` error.
pub(super) fn check_child(parent: &Object, current: &FanOut, child: &Object, trust: &Trust) -> Result<u32> {
    let reject = |why: String| Err(Error::integrity(format!("child completion rejected: {why}")));
    if child.lineage.parent != Some(parent.id) {
        return reject(format!("object {} is not a child of {}", child.id, parent.id));
    }
    // Children are launched in branch order, so the child's own branch finds it at once;
    // the scan is for launches in any other order.
    let at_branch = current.children.get(child.lineage.branch as usize).filter(|c| c.id == child.id);
    let Some(cref) = at_branch.or_else(|| current.children.iter().find(|c| c.id == child.id)) else {
        return reject(format!("object {} is not among the children of state `{}`", child.id, parent.state));
    };
    let genesis = match &child.base {
        Some(b) => hex::decode(&b.summary.genesis).ok().and_then(|h| Hash::from_slice(&h)),
        None => child.memory.first().map(|r| r.hash),
    };
    if cref.genesis_hash != genesis || cref.branch != child.lineage.branch {
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
    Ok(cref.branch)
}

/// The completion a terminated child makes as branch `branch`.
pub(super) fn completion_of(child: &Object, branch: u32) -> Result<Completion> {
    let last = child.memory.last().map(|r| r.decode()).transpose()?;
    let Some(Body::Terminate { output, error, .. }) = last.map(|r| r.body) else {
        return Err(Error::integrity(format!(
            "child completion rejected: object {} has no terminate record",
            child.id
        )));
    };
    // A record's output is canonical JSON already (the wire format's rule): kept as it is.
    let result = if child.status == Status::Succeeded {
        output.unwrap_or_else(|| "null".to_owned())
    } else {
        let e = error.unwrap_or(TaskError { error: String::new(), cause: None });
        cjson::canonical(&json!({"Error": e.error, "Cause": e.cause}))
    };
    Ok(Completion { branch, head: child.head(), status: child.status, result })
}

/// Whether `failures` of `total` children are within what `state` tolerates.
pub(super) fn tolerated(parent: &Object, cx: &Cx<'_>, state: &State, failures: usize, total: usize) -> bool {
    match &state.kind {
        StateKind::Map(m) => {
            let env = cx.env(state);
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
    }
}
