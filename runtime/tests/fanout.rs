//! Fan-out: Parallel and Map as child objects, joined without a coordinator.

use std::sync::Arc;

use peo_core::{Body, Context, CreateOptions, DelegateReason, ErrorKind, Object, Status, Trust};
use peo_runtime::{Disposition, Invocation, ManualClock, Node, Visit};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

fn create(plan: Value, input: Value) -> Vec<u8> {
    Object::create(&plan, Context::new(), &input, &CreateOptions { now_ms: T0, ..Default::default() })
        .unwrap()
        .to_bytes()
}

fn node(id: &str) -> Node {
    Node::new(id, "eu")
        .with_trust(Trust::any())
        .with_clock(Arc::new(ManualClock::new(T0)))
        .handler("math.square", |c: &Invocation| Ok(json!(c.input.as_i64().unwrap_or(0).pow(2))))
}

fn map_plan() -> Value {
    json!({"StartAt": "Squares", "States": {
        "Squares": {"Type": "Map", "ItemsPath": "$.numbers", "MaxConcurrency": 2, "ResultPath": "$.squares", "End": true,
                    "ItemProcessor": {"StartAt": "Square", "States": {"Square": {"Type": "Task", "Resource": "math.square", "End": true}}}}
    }})
}

/// Runs each child to its end at `node`.
fn finish(node: &Node, children: &[Vec<u8>]) -> Vec<Vec<u8>> {
    children
        .iter()
        .map(|c| {
            let v = node.visit(c, None).unwrap();
            assert!(
                matches!(v.disposition, Disposition::Terminated { status: Status::Succeeded, .. }),
                "{:?}",
                v.disposition
            );
            v.bytes
        })
        .collect()
}

#[test]
fn children_finish_at_different_nodes_out_of_order_and_a_duplicate_is_recognised() {
    let parent = node("parent-node");
    let v = parent.visit(&create(map_plan(), json!({"numbers": [1, 2, 3, 4]})), None).unwrap();
    // MaxConcurrency 2: two children now.
    assert_eq!(v.children.len(), 2);
    let Disposition::Dormant(w) = &v.disposition else { panic!() };
    assert_eq!(w.reason, peo_core::DormantReason::Join);
    let r = &v.records().unwrap()[0];
    let Body::Delegate { reason: DelegateReason::FanOut, children, .. } = &r.body else { panic!("{r:?}") };
    assert_eq!(children.iter().map(|c| c.branch).collect::<Vec<_>>(), vec![0, 1]);

    let (a, b) = (node("worker-a"), node("worker-b"));
    let first = [b.visit(&v.children[1], None).unwrap().bytes, a.visit(&v.children[0], None).unwrap().bytes];
    // Out of order: branch 1 completes first.
    let v1 = parent.complete(&v.bytes, &first[0]).unwrap();
    assert_eq!(v1.children.len(), 1, "a slot freed: the third child is created");
    let dup = parent.complete(&v1.bytes, &first[0]).unwrap();
    assert_eq!(dup.appended, 0, "the same completion again is recognised");
    assert_eq!(dup.bytes, v1.bytes);
    let v2 = parent.complete(&v1.bytes, &first[1]).unwrap();
    let mut rest = v1.children.clone();
    rest.extend(v2.children.clone());
    assert_eq!(rest.len(), 2);
    let done: Vec<Vec<u8>> = rest.iter().map(|c| a.visit(c, None).unwrap().bytes).collect();
    let v3 = parent.complete(&v2.bytes, &done[1]).unwrap();
    let v4 = parent.complete(&v3.bytes, &done[0]).unwrap();
    let Disposition::Terminated { status: Status::Succeeded, output: Some(out), .. } = &v4.disposition else {
        panic!("{:?}", v4.disposition)
    };
    assert_eq!(out["squares"], json!([1, 4, 9, 16]), "outputs in item order whatever the completion order");

    let children: Vec<Object> =
        first.iter().chain(done.iter()).map(|b| Object::from_bytes(b, &Default::default()).unwrap()).collect();
    assert_eq!(v4.object.verify_children(&children, &Trust::any()).unwrap(), 4);
    v4.object.verify(&Trust::any()).into_result().unwrap();
    for c in &children {
        assert_eq!((c.lineage().parent, c.lineage().generation), (Some(v4.object.id()), 1));
    }
}

#[test]
fn forged_completions_are_integrity_errors_and_change_nothing() {
    let parent = node("p");
    let v = parent.visit(&create(map_plan(), json!({"numbers": [1, 2]})), None).unwrap();
    // A child of another parent.
    let other = parent.visit(&create(map_plan(), json!({"numbers": [5, 6]})), None).unwrap();
    let stranger = finish(&parent, &other.children[..1]);
    let e = parent.complete(&v.bytes, &stranger[0]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity);
    // A root object posing as a child.
    let root = finish(&parent, &[create(json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}), json!({}))]);
    assert_eq!(parent.complete(&v.bytes, &root[0]).unwrap_err().kind(), ErrorKind::Integrity);
    // A real child whose memory was altered after it finished (the head no longer matches its records).
    let mine = finish(&parent, &v.children[..1]);
    let mut bytes = mine[0].clone();
    let n = bytes.len();
    bytes[n / 2] ^= 0x01;
    assert!(parent.complete(&v.bytes, &bytes).is_err());
    // The parent is unchanged by all of this and still accepts its real child.
    let ok = parent.complete(&v.bytes, &mine[0]).unwrap();
    assert_eq!(ok.appended, 1);
}

#[test]
fn a_map_inside_a_parallel_branch_shows_generations() {
    let plan = json!({"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Squares", "States": {"Squares": {"Type": "Map", "End": true,
                "ItemProcessor": {"StartAt": "Sq", "States": {"Sq": {"Type": "Task", "Resource": "math.square", "End": true}}}}}},
            {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": true}}}
        ]}
    }});
    let n = node("n");
    let top = n.visit(&create(plan, json!([3, 4])), None).unwrap();
    assert_eq!(top.children.len(), 2);
    // Branch 0 fans out again; branch 1 ends at once.
    let b0 = n.visit(&top.children[0], None).unwrap();
    let b1 = n.visit(&top.children[1], None).unwrap();
    assert_eq!(b0.children.len(), 2);
    assert_eq!(b0.object.lineage().generation, 1);
    let grandchildren = finish(&n, &b0.children);
    let g = Object::from_bytes(&grandchildren[0], &Default::default()).unwrap();
    assert_eq!(
        (g.lineage().generation, g.lineage().parent, g.lineage().root),
        (2, Some(b0.object.id()), top.object.id())
    );
    let b0 = n.complete(&b0.bytes, &grandchildren[0]).unwrap();
    let b0: Visit = n.complete(&b0.bytes, &grandchildren[1]).unwrap();
    assert!(matches!(b0.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
    let t = n.complete(&top.bytes, &b1.bytes).unwrap();
    let t = n.complete(&t.bytes, &b0.bytes).unwrap();
    let Disposition::Terminated { output: Some(out), .. } = t.disposition else { panic!() };
    assert_eq!(out, json!([[9, 16], [3, 4]]));
}

#[test]
fn a_failed_branch_fails_the_parallel_state_and_catch_routes_it() {
    let plan = json!({"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "Next": "Ok", "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Caught"}],
                 "Branches": [
                    {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "branch 0"}}},
                    {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
                 ]},
        "Ok": {"Type": "Succeed"},
        "Caught": {"Type": "Pass", "End": true}
    }});
    let n = node("n");
    let top = n.visit(&create(plan, json!({"x": 1})), None).unwrap();
    let c0 = n.visit(&top.children[0], None).unwrap();
    let v = n.complete(&top.bytes, &c0.bytes).unwrap();
    let Disposition::Terminated { status: Status::Succeeded, output: Some(out), .. } = v.disposition else {
        panic!("{:?}", v.disposition)
    };
    assert_eq!(out, json!({"x": 1, "error": {"Error": "Boom", "Cause": "branch 0"}}));
}

#[test]
fn a_second_different_completion_of_the_same_child_is_an_integrity_error() {
    let parent = node("p");
    let v = parent.visit(&create(map_plan(), json!({"numbers": [1, 2]})), None).unwrap();
    let once = node("a").visit(&v.children[0], None).unwrap().bytes;
    let twice = node("b").visit(&v.children[0], None).unwrap().bytes; // same child, another history
    assert_ne!(once, twice);
    let after = parent.complete(&v.bytes, &once).unwrap();
    let e = parent.complete(&after.bytes, &twice).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity);
    assert!(e.message().contains("different completion"), "{e}");
    // The parent is unchanged and still accepts its real second child.
    let last = parent.complete(&after.bytes, &finish(&parent, &v.children[1..])[0]).unwrap();
    assert!(matches!(last.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
}

#[test]
fn a_map_of_the_most_children_a_fan_out_may_create_runs_end_to_end() {
    // 10,000 items: Limits::max_children. The parent's fan-out record names them all.
    let n = 10_000;
    let plan = json!({"StartAt": "Squares", "States": {
        "Squares": {"Type": "Map", "ItemsPath": "$.numbers", "ResultPath": "$.squares", "End": true,
                    "ItemProcessor": {"StartAt": "Square", "States": {"Square": {"Type": "Task", "Resource": "math.square", "End": true}}}}
    }});
    let numbers: Vec<i64> = (0..n).collect();
    let parent = node("parent-node");
    let started = std::time::Instant::now();
    let v = parent.visit(&create(plan, json!({"numbers": numbers})), None).unwrap();
    assert_eq!(v.children.len(), n as usize);
    let fanned = started.elapsed();
    // The children's final objects are presented as they come back, a hundred at a time,
    // to the parent as bytes (one decode, one record and one encode per batch).
    let worker = node("worker");
    let mut bytes = v.bytes;
    let mut last = None;
    for batch in v.children.chunks(100) {
        let done: Vec<Vec<u8>> = batch.iter().map(|c| worker.visit(c, None).unwrap().bytes).collect();
        let refs: Vec<&[u8]> = done.iter().map(Vec::as_slice).collect();
        let visit = parent.complete_all(&bytes, &refs).unwrap();
        bytes = visit.bytes;
        last = Some(visit.disposition);
    }
    eprintln!("10,000-item Map: fan-out {fanned:?}, end to end {:?}", started.elapsed());
    assert!(matches!(last, Some(Disposition::Terminated { status: Status::Succeeded, .. })), "{last:?}");
}

/// A Map over `n` items whose children have all run at `worker`: the parent after its
/// fan-out, and the children's final objects.
fn fanned_out(parent: &Node, worker: &Node, n: i64) -> (Visit, Vec<Vec<u8>>) {
    let plan = json!({"StartAt": "Squares", "States": {
        "Squares": {"Type": "Map", "ItemsPath": "$.numbers", "ResultPath": "$.squares", "End": true,
                    "ItemProcessor": {"StartAt": "Square", "States": {"Square": {"Type": "Task", "Resource": "math.square", "End": true}}}}
    }});
    let numbers: Vec<i64> = (0..n).collect();
    let v = parent.visit(&create(plan, json!({"numbers": numbers})), None).unwrap();
    let done = finish(worker, &v.children);
    (v, done)
}

#[test]
fn completions_in_batches_are_one_record_each_and_the_join_empties_the_results_section() {
    let parent = node("parent-node");
    let (v, done) = fanned_out(&parent, &node("worker"), 1_000);
    let records_before = v.object.written();
    let mut bytes = v.bytes.clone();
    for (i, batch) in done.chunks(100).enumerate() {
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let visit = parent.complete_all(&bytes, &refs).unwrap();
        if i < 9 {
            // One record per batch; the results wait in the section, outside the memory.
            assert_eq!(visit.appended, 1);
            assert_eq!(visit.object.results().len(), 100 * (i + 1));
            let rec = &visit.records().unwrap()[0];
            let Body::Reentry { payload: Some(p), .. } = &rec.body else { panic!("{rec:?}") };
            let p: Value = serde_json::from_str(p).unwrap();
            assert_eq!(p["results"]["count"], json!(100 * (i + 1)));
            assert!(p["results"]["tally"].is_string(), "{p}");
            assert!(p.get("output").is_none(), "a batch record holds no outputs: {p}");
        } else {
            assert!(matches!(visit.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
            assert!(visit.object.results().is_empty());
            let squares: Vec<i64> = (0..1_000).map(|i| i * i).collect();
            assert_eq!(visit.object.data()["squares"], json!(squares));
        }
        bytes = visit.bytes;
    }
    let joined = Object::from_bytes(&bytes, &peo_core::Limits::default()).unwrap();
    // genesis + fan-out before; ten batches (the last one the join) and the end after.
    assert_eq!(joined.written(), records_before + 10 + 1);
    joined.verify(&Trust::any()).into_result().unwrap();
    // Beyond the genesis (holding the input), the fan-out record and the output (in the
    // data, and in the terminate record that ends the object), the parent holds a few
    // small records: not one per child.
    let genesis = joined.records_from(0)[0].bytes().len();
    let fan_out_record = joined.records_from(1)[0].bytes().len();
    let output = joined.data().to_string().len();
    let rest = bytes.len() - genesis - fan_out_record - 2 * output;
    assert!(rest < 5 * 1024, "{} bytes: {fan_out_record} fan-out, {output} output, {rest} else", bytes.len());

    // The join's Merkle root is recomputed from the children...
    let children: Vec<Object> =
        done.iter().map(|c| Object::from_bytes(c, &peo_core::Limits::default()).unwrap()).collect();
    assert_eq!(joined.verify_children(&children, &Trust::any()).unwrap(), 1_000);
    // ...and a missing one is named.
    let e = joined.verify_children(&children[1..], &Trust::any()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity);
    assert!(e.message().contains("999 children given"), "{e}");
}

#[test]
fn a_forged_dropped_or_duplicated_result_is_caught_by_verification() {
    let parent = node("parent-node");
    let (v, done) = fanned_out(&parent, &node("worker"), 4);
    let refs: Vec<&[u8]> = done[..3].iter().map(Vec::as_slice).collect();
    let visit = parent.complete_all(&v.bytes, &refs).unwrap();
    let honest = visit.object.results().to_vec();
    assert_eq!(honest.len(), 3);
    visit.object.verify(&Trust::any()).into_result().unwrap();
    let mut forged = honest.clone();
    forged[1].result = "1000000".into();
    let mut dropped = honest.clone();
    dropped.pop();
    let mut twice = honest.clone();
    twice[2] = twice[0].clone();
    for (what, results) in
        [("forged", forged), ("dropped", dropped), ("twice", twice.clone()), ("stripped", Vec::new())]
    {
        let mut obj = visit.object.clone();
        peo_core::forge::set_results(&mut obj, results);
        let decoded = Object::from_bytes(&obj.to_bytes(), &peo_core::Limits::default()).unwrap();
        let broken = decoded.verify(&Trust::any()).broken.unwrap_or_else(|| panic!("{what} verified"));
        assert_eq!(broken.kind, ErrorKind::Integrity, "{what}");
        assert!(broken.message.contains("results section"), "{what}: {}", broken.message);
        // A node refuses to record anything on it.
        let last: Vec<&[u8]> = vec![&done[3]];
        assert!(parent.complete_all(&obj.to_bytes(), &last).is_err(), "{what}");
    }
    // A dishonest node signs a batch record whose count and tally match a section that
    // names one branch twice: the section's own check names it.
    let mut obj = visit.object.clone();
    peo_core::forge::set_results(&mut obj, twice.clone());
    let tally = peo_core::results::tally(peo_core::Hash::ZERO, &twice);
    let payload = json!({"added": 0, "results": {"count": 3, "failed": 0, "tally": tally.to_hex()}});
    let body =
        Body::Reentry { cause: peo_core::ReentryCause::Children, event: None, payload: Some(payload.to_string()) };
    let mallory = peo_core::SigningKey::generate().unwrap();
    peo_core::forge::append_as(&mut obj, body, ("mallory", "eu", &mallory), None, None).unwrap();
    let decoded = Object::from_bytes(&obj.to_bytes(), &peo_core::Limits::default()).unwrap();
    let broken = decoded.verify(&Trust::any()).broken.expect("a section naming a branch twice verified");
    assert!(broken.message.contains("names branch 0 twice"), "{}", broken.message);
    // A result section on an object that is not in a fan-out.
    let mut fresh = Object::from_bytes(&create(map_plan(), json!({"numbers": []})), &Default::default()).unwrap();
    peo_core::forge::set_results(&mut fresh, honest);
    let decoded = Object::from_bytes(&fresh.to_bytes(), &peo_core::Limits::default()).unwrap();
    assert!(decoded.verify(&Trust::any()).broken.unwrap().message.contains("results section"));
}

#[test]
fn a_batch_with_one_bad_child_records_nothing_and_repeats_are_recognised() {
    let parent = node("parent-node");
    let (v, done) = fanned_out(&parent, &node("worker"), 3);
    let (_, strangers) = fanned_out(&parent, &node("worker"), 4);
    let e = parent.complete_all(&v.bytes, &[&done[0], &strangers[1]]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity);
    let first = parent.complete_all(&v.bytes, &[&done[0], &done[0], &done[2]]).unwrap();
    assert_eq!(first.object.results().len(), 2);
    let again = parent.complete_all(&first.bytes, &[&done[2], &done[0]]).unwrap();
    assert_eq!(again.appended, 0, "completions already recorded append nothing");
    let last = parent.complete(&again.bytes, &done[1]).unwrap();
    assert!(matches!(last.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
    assert_eq!(last.object.data()["squares"], json!([0, 1, 4]));
}

/// A join whose next state fans out again: the completion that joins the first fan-out
/// hands over every child of the second (none is lost between the two).
#[test]
fn a_join_that_fans_out_again_hands_over_all_the_new_children() {
    let plan = json!({"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "ResultPath": "$.both", "Next": "Squares", "Branches": [
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": true}}}]},
        "Squares": {"Type": "Map", "ItemsPath": "$.numbers", "MaxConcurrency": 2, "ResultPath": "$.squares", "End": true,
                    "ItemProcessor": {"StartAt": "Square", "States": {"Square": {"Type": "Task", "Resource": "math.square", "End": true}}}}
    }});
    let n = node("n");
    let first = n.visit(&create(plan, json!({"numbers": [1, 2, 3, 4]})), None).unwrap();
    assert_eq!(first.children.len(), 2);
    let done = finish(&n, &first.children);
    let mut parent = n.complete(&first.bytes, &done[0]).unwrap();
    assert!(parent.children.is_empty());
    parent = n.complete(&parent.bytes, &done[1]).unwrap();
    // The join ran on into the Map: its first two children come with this visit.
    assert_eq!(parent.children.len(), 2, "{:?}", parent.disposition);
    let mut squares = Vec::new();
    let mut out = parent.children.clone();
    let mut bytes = parent.bytes.clone();
    while !out.is_empty() {
        let done = finish(&n, &out);
        out.clear();
        for d in &done {
            let v = n.complete(&bytes, d).unwrap();
            bytes = v.bytes.clone();
            out.extend(v.children.iter().cloned());
            if let Disposition::Terminated { output, .. } = &v.disposition {
                squares = output.as_ref().unwrap()["squares"].as_array().unwrap().clone();
            }
        }
    }
    assert_eq!(squares, vec![json!(1), json!(4), json!(9), json!(16)]);
}
