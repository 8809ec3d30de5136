//! Nodes on a real NATS JetStream (`nats-server -js`, started on loopback per test):
//! delegation between nodes, dormancy by time and by event, fan-out and join, duplicates,
//! a node that dies after committing, and one that loses its commit to such a node.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use peo_core::{Body, ErrorKind, Event, Object, Status, Trust};
use peo_jetstream::{JetStream, LocalServer, Options, ServeOptions, serve};
use peo_runtime::{Invocation, Node};
use serde_json::{Value, json};

mod common;
use common::*;

fn counting(calls: &Arc<AtomicU64>) -> impl Fn(&Invocation) -> Result<Value, peo_runtime::HandlerError> + use<> {
    let c = calls.clone();
    move |i: &Invocation| {
        c.fetch_add(1, Ordering::Relaxed);
        Ok(json!({"n": i.input["n"].as_i64().unwrap_or(0) + 1}))
    }
}

#[test]
fn objects_travel_between_nodes_in_two_domains_and_finish() {
    let server = LocalServer::start().unwrap();
    let (ca, cb) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let a = start(
        server.url(),
        Node::new("node-a", "warehouse").with_trust(Trust::any()).handler("a.step", counting(&ca)),
        Options::default(),
    );
    let b = start(
        server.url(),
        Node::new("node-b", "payments").with_trust(Trust::any()).handler("b.step", counting(&cb)),
        Options::default(),
    );
    let plan = json!({"StartAt": "A1", "States": {
        "A1": {"Type": "Task", "Resource": "a.step", "Next": "B"},
        "B": {"Type": "Task", "Resource": "b.step", "Next": "A2"},
        "A2": {"Type": "Task", "Resource": "a.step", "End": true}}});
    let c = client(server.url());
    let ids: Vec<String> = (0..20).map(|i| c.submit(&create(&plan, json!({"n": i * 10}))).unwrap()).collect();
    let done = c.wait_done(&ids, Duration::from_secs(30)).unwrap();
    assert_eq!(done.len(), 20, "every object finished");
    for (i, id) in ids.iter().enumerate() {
        let o = Object::from_bytes(&done[id], &Default::default()).unwrap();
        assert_eq!(o.status(), Status::Succeeded);
        assert_eq!(o.data(), &json!({"n": i as i64 * 10 + 3}));
        o.verify(&Trust::any()).into_result().unwrap();
        let nodes = nodes_of(&o);
        assert!(nodes.contains(&"node-a".to_owned()) && nodes.contains(&"node-b".to_owned()), "{nodes:?}");
        // The bucket holds the same final version.
        assert_eq!(c.get(id).unwrap().as_deref(), Some(&done[id][..]));
    }
    assert_eq!((ca.load(Ordering::Relaxed), cb.load(Ordering::Relaxed)), (40, 20), "each task ran exactly once");
    let (a, b) = (a.finish(), b.finish());
    assert_eq!(a.stat("duplicates") + b.stat("duplicates"), 0, "{:?} {:?}", a.log, b.log);
    assert!(a.stat("finished") + b.stat("finished") == 20);
}

#[test]
fn dormant_objects_wake_by_time_and_by_events_sent_before_or_after_they_sleep() {
    let server = LocalServer::start().unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let n = start(
        server.url(),
        Node::new("n", "eu").with_trust(Trust::any()).handler("ship", counting(&calls)),
        Options::default(),
    );
    let wait = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "S"},
        "S": {"Type": "Task", "Resource": "ship", "End": true}}});
    let approval = json!({"StartAt": "Approve", "States": {
        "Approve": {"Type": "Task", "Resource": "approvals.request", "ResultPath": "$.approval", "Next": "S"},
        "S": {"Type": "Task", "Resource": "ship", "End": true}},
        "Await": {"Approve": {"EventPath": "$.token", "TimeoutSeconds": 60}}});
    let c = client(server.url());
    let t0 = Instant::now();
    let w = c.submit(&create(&wait, json!({"n": 1}))).unwrap();
    // An event sent before the object exists in the mesh, one sent right away, one later.
    let early = create(&approval, json!({"n": 1, "token": "early"}));
    let early_id = Object::from_bytes(&early, &Default::default()).unwrap().id().to_hex();
    c.send_event(&early_id, &Event::success("early", json!({"by": "ann"}))).unwrap();
    let early_id = c.submit(&early).unwrap();
    let late = c.submit(&create(&approval, json!({"n": 1, "token": "late"}))).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        Object::from_bytes(&c.get(&late).unwrap().unwrap(), &Default::default()).unwrap().status(),
        Status::Dormant,
        "waiting for its event"
    );
    c.send_event(&late, &Event::success("wrong-name", json!({}))).unwrap();
    c.send_event(&late, &Event::success("late", json!({"by": "bob"}))).unwrap();
    let ids = vec![w.clone(), early_id.clone(), late.clone()];
    let done = c.wait_done(&ids, Duration::from_secs(30)).unwrap();
    assert_eq!(done.len(), 3);
    assert!(t0.elapsed() >= Duration::from_secs(1));
    for id in &ids {
        let o = Object::from_bytes(&done[id], &Default::default()).unwrap();
        assert_eq!(o.status(), Status::Succeeded, "{id}");
        o.verify(&Trust::any()).into_result().unwrap();
    }
    let approved = |id: &str| Object::from_bytes(&done[id], &Default::default()).unwrap();
    let records = approved(&late).records().unwrap();
    assert!(records.iter().any(|r| matches!(&r.body, Body::Reentry { event: Some(e), .. } if e == "late")));
    let records = approved(&early_id).records().unwrap();
    assert!(records.iter().any(|r| matches!(&r.body, Body::Reentry { event: Some(e), .. } if e == "early")));
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    drop(n);
}

#[test]
fn fan_out_children_run_at_other_nodes_and_join_their_parent() {
    let server = LocalServer::start().unwrap();
    let squares = Arc::new(AtomicU64::new(0));
    let sq = squares.clone();
    let parent_node = start(
        server.url(),
        Node::new("planner", "hq").with_trust(Trust::any()).handler("report", counting(&squares)),
        Options::default(),
    );
    let workers: Vec<Running> = (0..2)
        .map(|i| {
            let s = sq.clone();
            let node = Node::new(format!("worker-{i}"), "edge").with_trust(Trust::any()).handler(
                "math.square",
                move |c: &Invocation| {
                    s.fetch_add(1, Ordering::Relaxed);
                    Ok(json!(c.input.as_i64().unwrap_or(0).pow(2)))
                },
            );
            start(server.url(), node, Options::default())
        })
        .collect();
    let plan = json!({"StartAt": "Squares", "States": {
        "Squares": {"Type": "Map", "ItemsPath": "$.numbers", "MaxConcurrency": 2, "ResultPath": "$.squares", "End": true,
                    "ItemProcessor": {"StartAt": "Square", "States": {"Square": {"Type": "Task", "Resource": "math.square", "End": true}}}}}});
    let c = client(server.url());
    let ids: Vec<String> =
        (0..5).map(|i| c.submit(&create(&plan, json!({"numbers": [1, 2, 3, 4, i]}))).unwrap()).collect();
    let done = c.wait_done(&ids, Duration::from_secs(30)).unwrap();
    assert_eq!(done.len(), 5);
    for (i, id) in ids.iter().enumerate() {
        let o = Object::from_bytes(&done[id], &Default::default()).unwrap();
        assert_eq!(o.status(), Status::Succeeded);
        assert_eq!(o.data()["squares"], json!([1, 4, 9, 16, i * i]));
        o.verify(&Trust::any()).into_result().unwrap();
    }
    assert_eq!(squares.load(Ordering::Relaxed), 25, "every child ran once");
    drop(workers);
    drop(parent_node);
}

#[test]
fn a_stale_copy_is_recognised_as_a_duplicate_and_runs_nothing() {
    let f = finished_once();
    let (c, id) = (&f.client, &f.id);
    // Submitting the same version again is a no-op.
    assert!(c.submit(&f.original).is_ok());
    let done = c.get(id).unwrap().unwrap();
    // The original version, delivered again (as a redelivery would): recognised, dropped.
    f.replay(&[]);
    assert_eq!(f.node.stat("duplicates"), 1, "{:?}", f.node.log.lock().unwrap());
    assert_eq!(c.get(id).unwrap().unwrap(), done, "the object is unchanged");
    let log = f.node.log.lock().unwrap().join("\n");
    assert!(log.contains(&format!("duplicate: {id}")), "{log}");
}

/// A server, a call counter, a plan of two Tasks (`a.step`, then `b.step`), a client,
/// and options that redeliver after one second (the first node to listen creates the
/// consumers with them).
fn two_steps() -> (LocalServer, Arc<AtomicU64>, Value, JetStream, Options) {
    let server = LocalServer::start().unwrap();
    let plan = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "a.step", "Next": "B"},
        "B": {"Type": "Task", "Resource": "b.step", "End": true}}});
    let c = client(server.url());
    let fast = Options { ack_wait: Duration::from_secs(1), ..Default::default() };
    (server, Arc::new(AtomicU64::new(0)), plan, c, fast)
}

#[test]
fn a_node_that_dies_after_committing_is_reconciled_by_another() {
    let (server, calls, plan, c, fast) = two_steps();
    let dying = start(
        server.url(),
        Node::new("dying", "eu").with_trust(Trust::any()).handler("a.step", counting(&calls)),
        Options { die_after_commit: true, ..fast.clone() },
    );
    let id = c.submit(&create(&plan, json!({"n": 0}))).unwrap();
    let t0 = Instant::now();
    while calls.load(Ordering::Relaxed) == 0 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let dying = dying.finish();
    assert!(dying.log.lock().unwrap().iter().any(|l| l.contains("fault injection")));
    let committed = Object::from_bytes(&c.get(&id).unwrap().unwrap(), &Default::default()).unwrap();
    assert_eq!(committed.state(), "B", "the successor is committed but was never published");

    let survivor = start(
        server.url(),
        Node::new("survivor", "eu").with_trust(Trust::any()).handler("a.step", counting(&calls)),
        fast.clone(),
    );
    let b =
        start(server.url(), Node::new("b", "eu").with_trust(Trust::any()).handler("b.step", counting(&calls)), fast);
    let done = c.wait_done(std::slice::from_ref(&id), Duration::from_secs(20)).unwrap();
    let o = Object::from_bytes(&done[&id], &Default::default()).unwrap();
    assert_eq!(o.status(), Status::Succeeded);
    assert!(!nodes_of(&o).contains(&"survivor".to_owned()), "the survivor republished, it did not run A again");
    assert_eq!(calls.load(Ordering::Relaxed), 2, "A once (at the dying node), B once");
    // The committed successor is republished once, by whichever node the redelivery
    // reaches: the survivor, or the dying node itself when the redelivery (after one
    // second) comes before it stops (its serve loop goes on after the failed publish, as
    // after any transport error).
    assert_eq!(
        survivor.stat("reconciled") + dying.stat("reconciled") + b.stat("reconciled"),
        1,
        "survivor: {:?}\ndying: {:?}",
        survivor.log.lock().unwrap(),
        dying.log.lock().unwrap()
    );
    drop(b);
}

#[test]
fn a_node_that_loses_the_commit_to_one_that_died_sends_the_winner_on() {
    // The cluster test's lost object: node A holds a delivery without telling JetStream
    // (cut off from its server), so the same message goes to node B after `ack_wait`. B
    // commits its result and dies before publishing it. A then loses the compare-and-set
    // to B and acknowledges the message, the only one that carried the object: A must
    // send B's version on.
    let (server, calls, plan, c, fast) = two_steps();
    let a = JetStream::connect(server.url(), Options { hold_silently: true, ..fast.clone() }).unwrap();
    a.listen("a", &["a.step"]).unwrap();
    let b = JetStream::connect(server.url(), Options { die_after_commit: true, ..fast.clone() }).unwrap();
    b.listen("b", &["a.step"]).unwrap();
    let node = |id: &str| Node::new(id, "eu").with_trust(Trust::any()).handler("a.step", counting(&calls));
    let (node_a, node_b) = (node("a"), node("b"));
    let id = c.submit(&create(&plan, json!({"n": 0}))).unwrap();

    let held = a.next(Duration::from_secs(10)).unwrap().expect("A takes the object");
    let taken = b.next(Duration::from_secs(10)).unwrap().expect("B is given the same message after ack_wait");
    let bytes = |d: &peo_jetstream::Delivery| match &d.work {
        peo_jetstream::Work::Visit { object, .. } => object.clone(),
        other => panic!("not a visit: {other:?}"),
    };
    assert_eq!(bytes(&held), bytes(&taken), "the same version");
    let by_b = node_b.visit(&bytes(&taken), None).unwrap();
    let died = b.settle_visit(taken, &by_b).unwrap_err();
    assert!(died.message().contains("fault injection"), "{died}");
    drop(b);
    let committed = Object::from_bytes(&c.get(&id).unwrap().unwrap(), &Default::default()).unwrap();
    assert_eq!(committed.state(), "B", "B's successor is committed, never published");

    let by_a = node_a.visit(&bytes(&held), None).unwrap();
    assert!(matches!(a.settle_visit(held, &by_a).unwrap(), peo_jetstream::Settled::Duplicate));
    assert_eq!(a.stats().to_json()["reconciled"], 1, "A sent B's version on");

    let finisher =
        start(server.url(), Node::new("c", "eu").with_trust(Trust::any()).handler("b.step", counting(&calls)), fast);
    let done = c.wait_done(std::slice::from_ref(&id), Duration::from_secs(20)).unwrap();
    let o =
        Object::from_bytes(done.get(&id).expect("the object finishes: nothing is lost"), &Default::default()).unwrap();
    assert_eq!(o.status(), Status::Succeeded);
    let nodes = nodes_of(&o);
    assert!(nodes.contains(&"b".to_owned()) && !nodes.contains(&"a".to_owned()), "B's result is kept: {nodes:?}");
    assert_eq!(calls.load(Ordering::Relaxed), 3, "A at both nodes, B once");
    drop(finisher);
}

#[test]
fn bad_input_is_dead_lettered_and_an_unreachable_server_is_a_transport_error() {
    let e = JetStream::connect(
        "nats://127.0.0.1:1",
        Options { connect_timeout: Duration::from_millis(300), ..Default::default() },
    )
    .err()
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert!(e.to_string().contains("nats-server -js"), "{e}");

    let server = LocalServer::start().unwrap();
    let n = start(
        server.url(),
        Node::new("n", "eu").with_trust(Trust::any()).handler("a.step", |_: &Invocation| Ok(json!(1))),
        Options::default(),
    );
    let c = client(server.url());
    assert_eq!(c.submit(b"not an object").unwrap_err().kind(), ErrorKind::Decode);
    assert_eq!(c.send_event("zz", &Event::success("x", json!(1))).unwrap_err().kind(), ErrorKind::InvalidArgument);
    publish(server.url(), "peo.cap.a.step", b"garbage".to_vec());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t0 = Instant::now();
    while n.stat("rejected") < 1 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(n.stat("rejected"), 1);
    let dead = rt.block_on(async {
        let client = raw(server.url()).await;
        let js = async_nats::jetstream::new(client);
        let s = js.get_stream("PEO_DONE").await.unwrap();
        s.get_last_raw_message_by_subject("peo.dead.unknown").await.unwrap()
    });
    assert_eq!(&dead.payload[..], b"garbage");
    assert_eq!(dead.headers.get("Peo-Error").map(|v| v.as_str()), Some("PEO_DECODE"));

    // A host that settles a delivery with some other object gets an error, and the
    // delivery is still its to settle.
    let probe = client(server.url());
    probe.listen("probe", &["probe.cap"]).unwrap();
    let plan = json!({"StartAt": "P", "States": {"P": {"Type": "Task", "Resource": "probe.cap", "End": true}}});
    let id = c.submit(&create(&plan, json!({"n": 1}))).unwrap();
    let d = probe.next(Duration::from_secs(10)).unwrap().expect("a delivery");
    assert_eq!(d.object_id(), id);
    let unrelated = create(&plan, json!({"n": 2}));
    let e = probe.settle(d, &unrelated, &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(probe.next(Duration::from_millis(100)).is_ok());
}

#[test]
fn a_visit_longer_than_ack_wait_is_not_given_to_another_node() {
    let server = LocalServer::start().unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let slow = |calls: &Arc<AtomicU64>| {
        let c = calls.clone();
        move |_: &Invocation| {
            c.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(2500));
            Ok(json!({"done": true}))
        }
    };
    let fast = Options { ack_wait: Duration::from_secs(1), ..Default::default() };
    let a = start(
        server.url(),
        Node::new("a", "eu").with_trust(Trust::any()).handler("slow.step", slow(&calls)),
        fast.clone(),
    );
    let b = start(server.url(), Node::new("b", "eu").with_trust(Trust::any()).handler("slow.step", slow(&calls)), fast);
    let plan = json!({"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "slow.step", "End": true}}});
    let c = client(server.url());
    let id = c.submit(&create(&plan, json!({}))).unwrap();
    let done = c.wait_done(std::slice::from_ref(&id), Duration::from_secs(20)).unwrap();
    assert_eq!(Object::from_bytes(&done[&id], &Default::default()).unwrap().status(), Status::Succeeded);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(calls.load(Ordering::Relaxed), 1, "the node kept the message while it worked (progress acks)");
    let (a, b) = (a.finish(), b.finish());
    assert_eq!(a.stat("duplicates") + b.stat("duplicates"), 0);
}

/// Publishes raw bytes with headers, as any client that can connect may.
fn publish_with(url: &str, subject: String, bytes: Vec<u8>, headers: &[(&str, String)]) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = raw(url).await;
        let js = async_nats::jetstream::new(client);
        let mut h = async_nats::HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.as_str());
        }
        js.publish_with_headers(subject, h, bytes.into()).await.unwrap().await.unwrap();
    });
}

/// The bucket's newest revision of `id`, and deletes the entry when `delete`.
fn bucket(url: &str, id: &str, delete: bool) -> u64 {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = raw(url).await;
        let kv = async_nats::jetstream::new(client).get_key_value(peo_jetstream::BUCKET).await.unwrap();
        let revision = kv.entry(id).await.unwrap().unwrap().revision;
        if delete {
            kv.delete(id).await.unwrap();
        }
        revision
    })
}

fn wait_for(n: &Running, stat: &str, at_least: u64) {
    let t0 = Instant::now();
    while n.stat(stat) < at_least && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(n.stat(stat) >= at_least, "{stat}: {:?}", n.log.lock().unwrap());
}

/// A one-Task object run to its end by a node that counts its handler calls.
struct Finished {
    node: Running,
    calls: Arc<AtomicU64>,
    client: JetStream,
    original: Vec<u8>,
    id: String,
    // Dropped last: the node stops before its server does.
    server: LocalServer,
}

fn finished_once() -> Finished {
    let server = LocalServer::start().unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let node = start(
        server.url(),
        Node::new("n", "eu").with_trust(Trust::any()).handler("a.step", counting(&calls)),
        Options::default(),
    );
    let plan = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "a.step", "End": true}}});
    let client = client(server.url());
    let original = create(&plan, json!({"n": 1}));
    let id = client.submit(&original).unwrap();
    assert_eq!(client.wait_done(std::slice::from_ref(&id), Duration::from_secs(20)).unwrap().len(), 1);
    Finished { node, calls, client, original, id, server }
}

impl Finished {
    /// Publishes the original version again, where it first went.
    fn replay(&self, headers: &[(&str, String)]) {
        let subject = peo_jetstream::route(&Object::from_bytes(&self.original, &Default::default()).unwrap());
        publish_with(self.server.url(), subject, self.original.clone(), headers);
        wait_for(&self.node, "duplicates", 1);
        assert_eq!(self.calls.load(Ordering::Relaxed), 1, "the task ran once");
    }
}

#[test]
fn a_replayed_old_version_runs_nothing_whatever_its_headers_say() {
    let f = finished_once();
    let done = f.client.get(&f.id).unwrap().unwrap();
    // The old version again, with the header earlier versions trusted to skip the bucket
    // (naming the current revision): recognised as stale, the task does not run again.
    let revision = bucket(f.server.url(), &f.id, false);
    f.replay(&[("Peo-Revision", revision.to_string())]);
    assert_eq!(f.client.get(&f.id).unwrap().unwrap(), done, "the finished version stays");
}

#[test]
fn a_copy_of_an_object_deleted_from_the_bucket_is_not_new_work() {
    let f = finished_once();
    bucket(f.server.url(), &f.id, true);
    f.replay(&[]);
    let log = f.node.log.lock().unwrap().join("\n");
    assert!(log.contains("deleted"), "{log}");
}

#[test]
fn wait_refuses_a_forged_result() {
    let server = LocalServer::start().unwrap();
    let c = client(server.url());
    let plan = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "a.step", "End": true}}});
    let id = c.submit(&create(&plan, json!({"n": 1}))).unwrap();
    // Another object (finished), published where the result of `id` would be.
    let other = create(&json!({"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}), json!({}));
    let finished = Node::new("n", "eu").with_trust(Trust::any()).visit(&other, None).unwrap().bytes;
    publish_with(server.url(), format!("peo.done.{id}"), finished, &[]);
    let err = c.wait_done(std::slice::from_ref(&id), Duration::from_secs(5)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.message().contains("holds object"), "{err}");
    // The object itself, unfinished, is no result either.
    let unfinished = c.get(&id).unwrap().unwrap();
    publish_with(server.url(), format!("peo.done.{id}"), unfinished, &[]);
    let err = c.wait_done(std::slice::from_ref(&id), Duration::from_secs(5)).unwrap_err();
    assert!(err.message().contains("running"), "{err}");
}

/// The serve loop every face runs: a server lost while serving is retried (nothing is
/// lost while it is away) until it has been gone `give_up_after`, then `Transport`.
#[test]
fn a_server_lost_while_serving_is_retried_then_given_up() {
    let server = LocalServer::start().unwrap();
    let js = JetStream::connect(server.url(), Options::default()).unwrap();
    let node = Node::new("lonely", "eu").with_trust(Trust::any());
    let serving = std::thread::spawn(move || {
        let options = ServeOptions { give_up_after: Some(Duration::from_secs(1)), ..Default::default() };
        let r = serve(&node, &js, &options);
        (r, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(!serving.is_finished(), "serving");
    drop(server);
    let killed = Instant::now();
    let (r, when) = serving.join().unwrap();
    assert_eq!(r.unwrap_err().kind(), ErrorKind::Transport);
    assert!(when - killed >= Duration::from_secs(1), "gave up after {:?}", when - killed);
}

/// Compaction on the mesh: the nodes keep the records they prune in `PEO_ARCHIVE`, and
/// the finished object audits against them, every pruned record accounted for.
#[test]
fn pruned_records_are_kept_in_the_mesh_and_the_object_audits_against_them() {
    let server = LocalServer::start().unwrap();
    let (ca, cb) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let a = start(
        server.url(),
        Node::new("node-a", "eu").with_trust(Trust::any()).handler("a.step", counting(&ca)),
        Options::default(),
    );
    let b = start(
        server.url(),
        Node::new("node-b", "us").with_trust(Trust::any()).handler("b.step", counting(&cb)),
        Options::default(),
    );
    let plan = json!({"StartAt": "A", "Compaction": {"After": 6, "Keep": 2}, "States": {
        "A": {"Type": "Task", "Resource": "a.step", "Next": "B"},
        "B": {"Type": "Task", "Resource": "b.step", "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 12, "Next": "Done"}],
                  "Default": "A"},
        "Done": {"Type": "Succeed"}}});
    let c = client(server.url());
    let id = c.submit(&create(&plan, json!({"n": 0}))).unwrap();
    let done = c.wait_done(std::slice::from_ref(&id), Duration::from_secs(30)).unwrap();
    let last = Object::from_bytes(&done[&id], &Default::default()).unwrap();
    assert_eq!(last.status(), Status::Succeeded);
    let pruned = last.pruned();
    assert!(pruned > 0, "the loop was compacted");
    // Any client may publish on the archive's subjects: junk there is skipped.
    let junk: &'static str = Box::leak(format!("peo.archive.{id}.junk").into_boxed_str());
    publish(server.url(), junk, b"not a segment".to_vec());
    let archive = c.archive(&id).unwrap();
    assert!(!archive.is_empty());
    let report = last.audit(&archive, &Trust::any());
    assert!(report.is_valid(), "{:?}", report.broken);
    assert!(report.checkpoints_audited >= 1, "{}", report.to_json());
    // Without the archive the audit cannot account for the pruned records.
    assert!(!last.audit(&[], &Trust::any()).is_valid());
    assert!(c.archive("00000000000000000000000000000000").unwrap().is_empty());
    drop((a, b));
}
