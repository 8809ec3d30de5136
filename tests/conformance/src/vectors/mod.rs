//! Cross-language test vectors: objects, node specs, scripted handler outcomes and the
//! expected results of every visit. `tests/vectors/README.md` describes the format.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use peo_core::{Body, Context, CreateOptions, Event, Hash, MutateKind, Object, Originator, SigningKey, Trust, forge};
use peo_runtime::{HandlerError, Invocation, ManualClock, Node};
use serde_json::{Value, json};
use sha2::Digest;

mod specs;
use specs::*;

const T0: i64 = 1_700_000_000_000;

/// The manifest's format version.
const FORMAT: u32 = 1;

/// Appends a record a dishonest node signs with key `seed`, claiming `id` in `domain`.
fn append_signed(o: &mut Object, body: Body, (id, domain, seed): (&str, &str, u8), hashes: [Option<Hash>; 2]) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    forge::append_as(o, body, (id, domain, &key), hashes[0], hashes[1]).expect("append");
}

/// A child as it was created, completed by anyone: an unsigned `succeeded` appended.
fn forge_completion(child: &[u8]) -> Result<Vec<u8>, String> {
    let mut o = Object::from_bytes(child, &Default::default()).map_err(|e| e.to_string())?;
    forge::succeed_unsigned(&mut o, ("worker-1", "eu")).map_err(|e| e.to_string())?;
    Ok(o.to_bytes())
}

/// The hostile edits of the attack vectors, made to the object as created.
fn craft(how: &str, mut o: Object) -> Result<Vec<u8>, String> {
    match how {
        "widen-context" => {
            let widened =
                Context::new().with_originator(o.context().originator.clone()).with_label("orders").with_label("vip");
            forge::set_context(&mut o, widened.clone());
            let change = json!({"labels": ["vip"], "policies": [], "policy_refs": []}).to_string();
            let body = Body::Mutate { kind: MutateKind::Context, revision: 0, change: Some(change) };
            append_signed(&mut o, body, ("pay-us", "us", 3), [None, Some(widened.hash())]);
        }
        "replace-plan" => {
            let mut plan = o.intent().document().clone();
            plan["Constraints"] = json!({});
            plan["States"]["Charge"] = json!({"Type": "Task", "Resource": "data.export", "End": true});
            let then = json!({"Constraints": {}, "States": {"Charge": plan["States"]["Charge"].clone()}});
            forge::set_intent(&mut o, &plan, 1).map_err(|e| e.to_string())?;
            let body =
                Body::Mutate { kind: MutateKind::Intent, revision: 1, change: Some(json!({"then": then}).to_string()) };
            let hash = o.intent().hash();
            append_signed(&mut o, body, ("pay-us", "us", 3), [Some(hash), None]);
        }
        // Hostile bytes: half an object.
        "truncate" => {
            let b = o.to_bytes();
            return Ok(b[..b.len() / 2].to_vec());
        }
        // The context replaced with no record of the change: the chain no longer holds.
        "tamper-context" => {
            let widened = Context::new().with_label("orders").with_label("vip");
            forge::set_context(&mut o, widened);
        }
        "impostor" => {
            let body = Body::Mutate { kind: MutateKind::Data, revision: 0, change: None };
            append_signed(&mut o, body, ("worker-1", "eu", 3), [None, None]);
        }
        "deep-intrinsic" => {
            let depth = 20_000;
            let expr = format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
            let plan =
                json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "Parameters": {"x.$": expr}}}});
            return Ok(forge::with_plan_text(&o, &peo_core::json::canonical(&plan)));
        }
        other => return Err(format!("unknown craft `{other}`")),
    }
    Ok(o.to_bytes())
}

/// Builds the node a visit describes: fixed clock, scripted handlers.
fn build_node(v: &Value, calls: Arc<Mutex<Vec<Value>>>) -> Result<(Node, Arc<ManualClock>), String> {
    let n = &v["node"];
    let clock = Arc::new(ManualClock::new(v["now_ms"].as_i64().ok_or("now_ms")?));
    let mut node = Node::new(n["id"].as_str().ok_or("node.id")?, n["domain"].as_str().ok_or("node.domain")?)
        .with_clock(clock.clone());
    // The node's trust in its JSON form; none: the default, which accepts nothing.
    if !n["trust"].is_null() {
        node = node.with_trust(Trust::from_json(&n["trust"]).map_err(|e| e.to_string())?);
    }
    if let Some(text) = n.get("policy").and_then(Value::as_str) {
        node = node.with_policy(peo_core::NodePolicy::new(text).map_err(|e| e.to_string())?);
    }
    if let Some(k) = n["signing_key"].as_str() {
        let bytes = hex::decode(k).map_err(|e| e.to_string())?;
        node = node.with_key(SigningKey::from_slice(&bytes).map_err(|e| e.to_string())?);
    }
    let outcomes: Vec<Value> = v["handler_outcomes"].as_array().cloned().unwrap_or_default();
    let queue = Arc::new(Mutex::new(outcomes.into_iter()));
    for cap in n["capabilities"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let (queue, calls, clock) = (queue.clone(), calls.clone(), clock.clone());
        node = node.handler(cap, move |c: &Invocation| -> Result<Value, HandlerError> {
            calls.lock().expect("lock").push(json!({
                "capability": c.capability, "state": c.state, "input": c.input, "attempt": c.attempt,
                "idempotency_key": c.idempotency_key, "deadline_ms": c.deadline_ms,
            }));
            let o = queue.lock().expect("lock").next().unwrap_or_else(|| json!({"error": "Vector.NoOutcome"}));
            if let Some(ms) = o["took_ms"].as_i64() {
                clock.advance(ms);
            }
            match o.get("output") {
                Some(v) => Ok(v.clone()),
                None => Err(HandlerError {
                    error: o["error"].as_str().unwrap_or_default().to_owned(),
                    cause: o["cause"].as_str().map(str::to_owned),
                }),
            }
        });
    }
    Ok((node, clock))
}

/// Runs one visit of a vector: what every language must reproduce.
/// The objects of one vector: the object it starts with and the children its fan-outs
/// created (`child:0`, `child:1`, ... in creation order).
struct Objects {
    parent: Vec<u8>,
    children: Vec<Vec<u8>>,
    /// Objects the vector brings along (`extra_objects`: a forged child, say).
    extra: BTreeMap<String, Vec<u8>>,
    /// The archive segments the parent's compactions pruned, in order.
    archive: Vec<Vec<u8>>,
}

impl Objects {
    fn slot(&mut self, name: &str) -> Result<&mut Vec<u8>, String> {
        if let Some(b) = self.extra.get_mut(name) {
            return Ok(b);
        }
        match name.strip_prefix("child:") {
            None => Ok(&mut self.parent),
            Some(i) => {
                let i: usize = i.parse().map_err(|_| format!("bad object name `{name}`"))?;
                self.children.get_mut(i).ok_or_else(|| format!("no `{name}` yet"))
            }
        }
    }
}

/// One visit of a vector: of the object named by `target` (default the parent), or, with
/// `complete`, the presentation of that child's final object (or, given a list, of a
/// batch of children's) to its parent.
fn run_step(objs: &mut Objects, v: &Value) -> Result<Value, String> {
    let target = v["target"].as_str().unwrap_or("parent").to_owned();
    let complete: Option<Vec<&str>> = match &v["complete"] {
        Value::String(c) => Some(vec![c.as_str()]),
        Value::Array(a) => {
            Some(a.iter().map(|c| c.as_str().ok_or("`complete` names objects")).collect::<Result<_, _>>()?)
        }
        _ => None,
    };
    let batch = v["complete"].is_array();
    let children = match complete {
        Some(names) => Some(names.into_iter().map(|c| objs.slot(c).cloned()).collect::<Result<Vec<_>, _>>()?),
        None => None,
    };
    let bytes = objs.slot(&target)?.clone();
    let (expect, after, children, archive) = run_visit(&bytes, children.as_deref(), batch, v)?;
    *objs.slot(&target)? = after;
    objs.children.extend(children);
    if target == "parent" {
        objs.archive.extend(archive);
    }
    Ok(expect)
}

/// The expectation, the object's bytes after the visit, the children it created and the
/// archive segments its compactions pruned.
type VisitResult = (Value, Vec<u8>, Vec<Vec<u8>>, Vec<Vec<u8>>);

fn run_visit(bytes: &[u8], children: Option<&[Vec<u8>]>, batch: bool, v: &Value) -> Result<VisitResult, String> {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (node, _clock) = build_node(v, calls.clone())?;
    // The event's JSON form is the one every binding passes (`Event::from_json`).
    let event = match &v["event"] {
        Value::Null => None,
        e => Some(Event::from_json(e).map_err(|e| e.to_string())?),
    };
    let calls_json = |c: &Arc<Mutex<Vec<Value>>>| Value::Array(c.lock().expect("lock").clone());
    let result = match children {
        Some(c) if batch => node.complete_all(bytes, &c.iter().map(Vec::as_slice).collect::<Vec<_>>()),
        Some(c) => node.complete(bytes, &c[0]),
        None => node.visit(bytes, event.as_ref()),
    };
    match result {
        Ok(visit) => {
            let records = visit.records_json().map_err(|e| e.to_string())?;
            let expect = json!({
                "calls": calls_json(&calls),
                "error": null,
                "disposition": visit.disposition.to_json(),
                "appended": visit.appended,
                "records": records,
                "status": visit.object.status().as_str(),
                "state": visit.object.state(),
                "data": visit.object.data(),
                "variables": visit.object.variables(),
                "head": visit.object.head().to_hex(),
                "object_sha256": hex::encode(sha2::Sha256::digest(&visit.bytes)),
                "children": visit.children.iter().map(|c| hex::encode(sha2::Sha256::digest(c))).collect::<Vec<_>>(),
            });
            let archive = visit.object.archive().iter().map(|s| s.to_bytes()).collect();
            Ok((expect, visit.bytes, visit.children, archive))
        }
        Err(e) => Ok((
            json!({
                "calls": calls_json(&calls),
                "error": {
                    "kind": e.kind().as_str(), "code": e.kind().code(),
                    "record": e.record(), "state": e.state(), "field": e.field()
                },
                "disposition": null,
                "appended": 0,
            }),
            bytes.to_vec(),
            Vec::new(),
            Vec::new(),
        )),
    }
}

/// Proofs of the first, a middle and the last pruned record of a compacted object, made
/// from its archive: `[{"seq", "proof"}]` (empty when nothing was pruned).
fn pruned_proofs(bytes: &[u8], archive: &[Vec<u8>]) -> Result<Vec<Value>, String> {
    if archive.is_empty() {
        return Ok(Vec::new());
    }
    let object = Object::from_bytes(bytes, &peo_core::Limits::default()).map_err(|e| e.to_string())?;
    let pruned = object.pruned();
    if pruned == 0 {
        return Ok(Vec::new());
    }
    let mut seqs = vec![0, pruned / 2, pruned - 1];
    seqs.dedup();
    seqs.into_iter()
        .map(|seq| {
            let proof =
                peo_runtime::host::prove_pruned(&object, archive, i64::from(seq), peo_runtime::host::Casing::Snake)
                    .map_err(|e| e.to_string())?;
            let proof: Value = serde_json::from_str(&proof).map_err(|e| e.to_string())?;
            Ok(json!({"seq": seq, "proof": proof}))
        })
        .collect()
}

/// Checks a vector's pruned-record proofs as every language does: each made again from
/// the archive is the same JSON, holds against the final object, and fails, as an
/// integrity error naming `proof`, once one digit of its record hash is changed.
fn check_pruned_proofs(dir: &Path, v: &Value, final_bytes: &[u8]) -> Result<usize, String> {
    let name = v["name"].as_str().unwrap_or("?");
    if v["pruned_proofs"].as_array().is_none_or(Vec::is_empty) {
        return Ok(0);
    }
    let archive = v["archive"]
        .as_array()
        .ok_or("archive")?
        .iter()
        .map(|f| std::fs::read(dir.join(f.as_str().unwrap_or_default())).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let object = Object::from_bytes(final_bytes, &peo_core::Limits::default()).map_err(|e| e.to_string())?;
    let proofs = v["pruned_proofs"].as_array().ok_or("pruned_proofs")?;
    for p in proofs {
        let seq = p["seq"].as_i64().ok_or("seq")?;
        let made = peo_runtime::host::prove_pruned(&object, &archive, seq, peo_runtime::host::Casing::Snake)
            .map_err(|e| e.to_string())?;
        let made: Value = serde_json::from_str(&made).map_err(|e| e.to_string())?;
        if made != p["proof"] {
            return Err(format!("{name}: the proof of record {seq} differs: {made}"));
        }
        peo_runtime::host::check_pruned(&object, &made.to_string()).map_err(|e| format!("{name}: {e}"))?;
        let mut tampered = made.clone();
        let hash = tampered["record_hash"].as_str().unwrap_or_default();
        let flipped = format!("{}{}", &hash[..63], if hash.ends_with('0') { '1' } else { '0' });
        tampered["record_hash"] = Value::String(flipped);
        match peo_runtime::host::check_pruned(&object, &tampered.to_string()) {
            Err(e) if e.kind() == peo_core::ErrorKind::Integrity && e.field() == Some("proof") => {}
            other => return Err(format!("{name}: a tampered proof of record {seq} gave {other:?}")),
        }
    }
    Ok(proofs.len())
}

/// Every file of the vectors folder, by relative path.
fn build() -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    let mut entries = Vec::new();
    for spec in specs() {
        let name = spec["name"].as_str().ok_or("name")?.to_owned();
        let originator = spec["originator_key"].as_u64().map(|s| SigningKey::from_bytes(&[s as u8; 32]));
        let options = CreateOptions { now_ms: T0, key: originator.as_ref(), ..Default::default() };
        let mut context = Context::new();
        if let Some(o) = spec["context"].get("originator") {
            context = context.with_originator(Originator {
                subject: o["subject"].as_str().map(str::to_owned),
                domain: o["domain"].as_str().map(str::to_owned),
                key: None,
            });
        }
        if spec["craft"] == "deep-policy" {
            let nested = format!("{}true{}", "(".repeat(1_000), ")".repeat(1_000));
            let text = format!("forbid(principal, action, resource) when {{ {nested} }};");
            context = forge::with_carried_policy(context, "deep", &text);
        }
        for l in spec["context"]["labels"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            context = context.with_label(l);
        }
        for p in spec["context"]["policies"].as_array().into_iter().flatten() {
            context = context
                .with_policy(p[0].as_str().unwrap_or_default(), p[1].as_str().unwrap_or_default())
                .map_err(|e| format!("{name}: {e}"))?;
        }
        let object =
            Object::create(&spec["plan"], context, &spec["input"], &options).map_err(|e| format!("{name}: {e}"))?;
        let bytes = match spec["craft"].as_str() {
            Some(how) if how != "deep-policy" => craft(how, object).map_err(|e| format!("{name}: {e}"))?,
            _ => object.to_bytes(),
        };
        let object_file = format!("objects/{name}.peo");
        files.insert(object_file.clone(), bytes.clone());
        let mut visits = Vec::new();
        let mut objs = Objects { parent: bytes, children: Vec::new(), extra: BTreeMap::new(), archive: Vec::new() };
        let mut extra_files = serde_json::Map::new();
        for (i, v) in spec["visits"].as_array().ok_or("visits")?.iter().enumerate() {
            // A forged child ("forged:N"): child N as created, plus an unsigned `succeeded`.
            if let Some(forged) = v["complete"].as_str().filter(|c| c.starts_with("forged:"))
                && !objs.extra.contains_key(forged)
            {
                let n: usize = forged["forged:".len()..].parse().map_err(|_| format!("{name}: bad `{forged}`"))?;
                let child = objs.children.get(n).ok_or_else(|| format!("{name}: no child {n} to forge"))?;
                let bytes = forge_completion(child).map_err(|e| format!("{name}: {e}"))?;
                let file = format!("objects/{name}.forged-{n}.peo");
                files.insert(file.clone(), bytes.clone());
                extra_files.insert(forged.to_owned(), Value::String(file));
                objs.extra.insert(forged.to_owned(), bytes);
            }
            let expect = run_step(&mut objs, v).map_err(|e| format!("{name} visit {i}: {e}"))?;
            let mut entry = v.clone();
            entry["expect"] = expect;
            visits.push(entry);
        }
        // A compacted object: its archive, and proofs of pruned records made from it
        // (the first, one in the middle, the last), which every language makes again
        // from the archive, byte for byte, and checks against the final object.
        let mut archive_files = Vec::new();
        for (i, seg) in objs.archive.iter().enumerate() {
            let file = format!("objects/{name}.archive-{i}.seg");
            files.insert(file.clone(), seg.clone());
            archive_files.push(Value::String(file));
        }
        let pruned_proofs = pruned_proofs(&objs.parent, &objs.archive).map_err(|e| format!("{name}: {e}"))?;
        files.insert(format!("objects/{name}.final.peo"), objs.parent);
        entries.push(json!({
            "archive": archive_files,
            "pruned_proofs": pruned_proofs,
            "name": name,
            "description": spec["description"],
            "object": object_file,
            "final_object": format!("objects/{name}.final.peo"),
            "plan": spec["plan"],
            "input": spec["input"],
            "context": spec.get("context").cloned().unwrap_or(Value::Null),
            "originator_key": spec["originator_key"].as_u64().map(|s| key(s as u8)),
            "crafted": spec.get("craft").cloned().unwrap_or(Value::Null),
            "extra_objects": extra_files,
            "visits": visits,
        }));
    }
    let manifest = json!({
        "format": FORMAT,
        "generated_by": "cargo run -p peo-conformance -- vectors tests/vectors",
        "created_at_ms": T0,
        // Every error kind with its code: each language's error hierarchy is checked
        // against this list, not against one written by hand.
        "errors": peo_core::ErrorKind::ALL
            .iter()
            .map(|k| json!({"code": k.code(), "kind": k.as_str()}))
            .collect::<Vec<_>>(),
        "vectors": entries,
    });
    let mut text = serde_json::to_string_pretty(&peo_core::json::sorted(&manifest)).map_err(|e| e.to_string())?;
    text.push('\n');
    files.insert("manifest.json".into(), text.into_bytes());
    Ok(files)
}

/// Writes the vectors into `dir` (or, with `check`, reports whether `dir` holds exactly them).
pub fn write(dir: &Path, check: bool) -> Result<bool, String> {
    let files = build()?;
    if check {
        let mut same = true;
        for (rel, bytes) in &files {
            match std::fs::read(dir.join(rel)) {
                Ok(b) if &b == bytes => {}
                Ok(_) => {
                    println!("vectors: {rel} differs from what the generator writes");
                    same = false;
                }
                Err(_) => {
                    println!("vectors: {rel} is missing");
                    same = false;
                }
            }
        }
        let objects = dir.join("objects");
        if let Ok(rd) = std::fs::read_dir(&objects) {
            for e in rd.flatten() {
                let rel = format!("objects/{}", e.file_name().to_string_lossy());
                if !files.contains_key(&rel) {
                    println!("vectors: {rel} is not written by the generator (remove it)");
                    same = false;
                }
            }
        }
        println!("vectors: {} files {}", files.len(), if same { "up to date" } else { "out of date: regenerate" });
        return Ok(same);
    }
    std::fs::create_dir_all(dir.join("objects")).map_err(|e| e.to_string())?;
    for (rel, bytes) in &files {
        std::fs::write(dir.join(rel), bytes).map_err(|e| format!("{rel}: {e}"))?;
    }
    println!("vectors: wrote {} files to {}", files.len(), dir.display());
    Ok(true)
}

/// Replays every vector from the files in `dir`, as another language's suite does,
/// and returns how many visits matched; the first mismatch is an error.
pub fn replay(dir: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).map_err(|e| e.to_string())?;
    let manifest: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut n = 0;
    let mut proofs = 0;
    for v in manifest["vectors"].as_array().ok_or("vectors")? {
        let name = v["name"].as_str().unwrap_or("?");
        let bytes = std::fs::read(dir.join(v["object"].as_str().ok_or("object")?)).map_err(|e| e.to_string())?;
        let mut objs = Objects { parent: bytes, children: Vec::new(), extra: BTreeMap::new(), archive: Vec::new() };
        for (k, file) in v["extra_objects"].as_object().into_iter().flatten() {
            let file = file.as_str().ok_or("extra_objects")?;
            objs.extra.insert(k.clone(), std::fs::read(dir.join(file)).map_err(|e| e.to_string())?);
        }
        for (i, visit) in v["visits"].as_array().ok_or("visits")?.iter().enumerate() {
            let got = run_step(&mut objs, visit)?;
            if got != visit["expect"] {
                return Err(format!("{name} visit {i}: got {got}\nexpected {}", visit["expect"]));
            }
            n += 1;
        }
        let bytes = objs.parent;
        let fin =
            std::fs::read(dir.join(v["final_object"].as_str().ok_or("final_object")?)).map_err(|e| e.to_string())?;
        if fin != bytes {
            return Err(format!("{name}: the final object differs from {}", v["final_object"]));
        }
        proofs += check_pruned_proofs(dir, v, &fin)?;
    }
    if proofs == 0 {
        return Err("no vector carries a pruned-record proof: the compaction vectors lost theirs".into());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_vectors_replay() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
        let n = super::replay(&dir).unwrap();
        assert!(n >= 15, "{n} visits");
    }

    #[test]
    fn vectors_are_deterministic() {
        assert_eq!(super::build().unwrap(), super::build().unwrap());
    }
}
