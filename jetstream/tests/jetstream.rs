//! Nodes on a real NATS JetStream (`nats-server -js`, started on loopback per test):
//! delegation between nodes, dormancy by time and by event, fan-out and join, duplicates
//! and a node that dies after committing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use peo_core::{Body, Context, CreateOptions, ErrorKind, Event, Object, Status, Trust};
use peo_jetstream::{JetStream, LocalServer, Options, ServeOptions, serve};
use peo_runtime::{Invocation, Node};
use serde_json::{Value, json};

struct Running {
    js: Arc<JetStream>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn stat(&self, name: &str) -> u64 {
        self.js.stats().to_json()[name].as_u64().unwrap()
    }
    fn finish(mut self) -> Self {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(url: &str, node: Node, options: Options) -> Running {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let js =
        Arc::new(JetStream::connect(url, options).unwrap().with_log(move |s| l.lock().unwrap().push(s.to_owned())));
    let stop = Arc::new(AtomicBool::new(false));
    let (j, s) = (js.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        serve(&node, &*j, &ServeOptions { stop: Some(s), ..Default::default() }).unwrap();
    });
    Running { js, stop, thread: Some(thread), log }
}

fn client(url: &str) -> JetStream {
    JetStream::connect(url, Options::default()).unwrap()
}

/// Publishes raw bytes, as a misbehaving peer (or a redelivery) would.
fn publish(url: &str, subject: &'static str, bytes: Vec<u8>) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = raw(url).await;
        let js = async_nats::jetstream::new(client);
        js.publish(subject, bytes.into()).await.unwrap().await.unwrap();
    });
}

fn create(plan: &Value, input: Value) -> Vec<u8> {
    Object::create(plan, Context::new(), &input, &CreateOptions::default()).unwrap().to_bytes()
}

fn nodes_of(o: &Object) -> Vec<String> {
    o.records().unwrap().into_iter().map(|r| r.node.id).collect()
}

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

#[test]
fn a_node_that_dies_after_committing_is_reconciled_by_another() {
    let server = LocalServer::start().unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let plan = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "a.step", "Next": "B"},
        "B": {"Type": "Task", "Resource": "b.step", "End": true}}});
    let c = client(server.url());
    // The first node to listen creates the consumers: redeliver after one second.
    let fast = Options { ack_wait: Duration::from_secs(1), ..Default::default() };
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

/// A raw NATS client, as a misbehaving peer would open one (with the TLS and credentials
/// of the environment, like every peo connection).
async fn raw(url: &str) -> async_nats::Client {
    let co = peo_jetstream::Security::from_env().apply(async_nats::ConnectOptions::new()).await.unwrap();
    co.connect(url).await.unwrap()
}

/// `tests/nats`: the test certificates and the secure server configuration.
fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/nats")
}

/// TLS with this repository's test CA and client certificate, as `user`.
fn secure(user: Option<(&str, &str)>) -> Options {
    let f = fixtures();
    let security = peo_jetstream::Security {
        ca: Some(f.join("ca.pem")),
        cert: Some(f.join("client.pem")),
        key: Some(f.join("client-key.pem")),
        user: user.map(|u| u.0.into()),
        password: user.map(|u| u.1.into()),
        ..Default::default()
    };
    Options { security: Some(security), connect_timeout: Duration::from_secs(3), ..Default::default() }
}

#[test]
fn a_server_with_tls_and_credentials_admits_only_who_it_should_for_what_it_should() {
    let server = LocalServer::start_with(Some(fixtures().join("secure.conf"))).unwrap();
    let url = server.url();
    let refused = |options: Options| JetStream::connect(url, options).err().expect("refused");

    // No credentials, wrong ones, no client certificate, no CA: each says what to fix.
    let e = refused(secure(None));
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert!(e.to_string().contains("requires credentials and this connection has none"), "{e}");
    let e = refused(secure(Some(("node", "wrong"))));
    assert!(e.to_string().contains("refused this connection's credentials"), "{e}");
    let mut no_cert = secure(Some(("node", "node-test-password")));
    let s = no_cert.security.as_mut().unwrap();
    (s.cert, s.key) = (None, None);
    let e = refused(no_cert);
    assert_eq!(e.kind(), ErrorKind::Transport);
    let mut no_ca = secure(Some(("node", "node-test-password")));
    no_ca.security.as_mut().unwrap().ca = None;
    let e = refused(no_ca);
    assert!(e.to_string().contains("TLS"), "{e}");
    let plain = Options { security: Some(Default::default()), ..secure(None) };
    assert_eq!(refused(plain).kind(), ErrorKind::Transport);
    // A certificate without its key is the caller's mistake, found before connecting.
    let mut half = secure(Some(("node", "node-test-password")));
    half.security.as_mut().unwrap().key = None;
    let e = refused(half);
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("security.cert is set without security.key"), "{e}");

    // An nkey signs in as well as a password does.
    let mut by_nkey = secure(None);
    by_nkey.security.as_mut().unwrap().nkey = Some(fixtures().join("node.nk"));
    JetStream::connect(url, by_nkey).unwrap();

    // A node, with every right: an object goes through it.
    let n = start(
        url,
        Node::new("n", "eu").with_trust(Trust::any()).handler("a.step", |_: &Invocation| Ok(json!({"ok": true}))),
        secure(Some(("node", "node-test-password"))),
    );
    let plan = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "a.step", "End": true}}});
    let submitter = JetStream::connect(url, secure(Some(("submitter", "submitter-test-password")))).unwrap();
    let id = submitter.submit(&create(&plan, json!({}))).unwrap();
    let done = submitter.wait_done(std::slice::from_ref(&id), Duration::from_secs(20)).unwrap();
    assert_eq!(done.len(), 1, "finished through a node on the secure server");
    drop(n.finish());

    // A submitter may not send events; a stranger may not even submit. Each is a
    // Transport error that says the server refused it and why.
    let e = submitter.send_event(&id, &Event::success("x", json!(1))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert!(e.to_string().contains("Permissions Violation for Publish to \"peo.event."), "{e}");
    let stranger = JetStream::connect(url, secure(Some(("stranger", "stranger-test-password")))).unwrap();
    let e = stranger.submit(&create(&plan, json!({"n": 2}))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert!(e.to_string().contains("Permissions Violation for Publish to \"$KV.peo_objects."), "{e}");
    // Nor can a submitter forge results or completions, publishing directly.
    let subjects = [format!("peo.done.{id}"), format!("peo.join.{id}"), format!("peo.dead.{id}")];
    let forged = stored_raw(url, secure(Some(("submitter", "submitter-test-password"))), &subjects);
    assert_eq!(forged, 0, "the submitter stored a result");
}

#[test]
fn a_creds_file_signs_in_to_an_operator_mode_server() {
    // Operator mode (JWTs, as nsc sets it up): tests/nats/make-jwt wrote the server's
    // configuration and a user's credentials file.
    let server = LocalServer::start_with(Some(fixtures().join("operator.conf"))).unwrap();
    let url = server.url();
    let with = |creds: Option<&str>| Options {
        security: Some(peo_jetstream::Security { creds: creds.map(|c| fixtures().join(c)), ..Default::default() }),
        connect_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let e = JetStream::connect(url, with(None)).err().expect("refused");
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert!(e.to_string().contains("requires credentials and this connection has none"), "{e}");
    let e = JetStream::connect(url, with(Some("node.nk"))).err().expect("not a creds file");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");

    let n = start(
        url,
        Node::new("n", "eu").with_trust(Trust::any()).handler("a.step", |_: &Invocation| Ok(json!({"ok": true}))),
        with(Some("node.creds")),
    );
    let plan = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "a.step", "End": true}}});
    let client = JetStream::connect(url, with(Some("node.creds"))).unwrap();
    let id = client.submit(&create(&plan, json!({}))).unwrap();
    let done = client.wait_done(std::slice::from_ref(&id), Duration::from_secs(20)).unwrap();
    assert_eq!(done.len(), 1, "finished through a node signed in with a creds file");
    drop(n.finish());
}

/// The distributed example's server: TLS, and a user per participant with only the
/// permissions `peo permissions` derives for it.
fn example_conf() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/distributed/nats.conf")
}

/// Connecting to the example's server as `user` (password `<user>-demo-password`).
fn example_user(user: &str) -> Options {
    secure(Some((user, &format!("{user}-demo-password"))))
}

/// Publishes `payload` to each subject directly (not through peo) as `options`' user and
/// counts the publishes JetStream stored.
fn stored_raw(url: &str, options: Options, subjects: &[String]) -> usize {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let security = options.security.unwrap();
        let client = security.apply(async_nats::ConnectOptions::new()).await.unwrap().connect(url).await.unwrap();
        let mut js = async_nats::jetstream::new(client);
        js.set_timeout(Duration::from_secs(1));
        let tries = subjects.iter().map(|subject| {
            let js = js.clone();
            async move {
                match js.publish(subject.clone(), b"forged".to_vec().into()).await {
                    Ok(ack) => ack.await.is_ok(),
                    Err(_) => false,
                }
            }
        });
        // All at once: a refused publish is never acknowledged, so each takes the timeout.
        futures::future::join_all(tries).await.into_iter().filter(|stored| *stored).count()
    })
}

#[test]
fn the_example_server_gives_each_node_its_own_work_and_nothing_more() {
    use peo_jetstream::{Permissions, capability_consumer, node_consumer};
    let nodes: [(&str, &[&str]); 5] = [
        ("py-reserve", &["inventory.reserve"]),
        ("js-charge", &["payment.charge"]),
        ("c-pack", &["warehouse.pack"]),
        ("cli-ship", &["billing.invoice", "shipping.ship"]),
        ("kt-notify", &["customer.notify", "customer.confirm"]),
    ];
    // The configuration holds exactly what the code derives: when the subjects change,
    // regenerate it with examples/distributed/make-nats-conf.sh.
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let conf = words(&std::fs::read_to_string(example_conf()).unwrap());
    for (id, caps) in nodes {
        assert!(
            conf.contains(&words(&Permissions::node(id, caps).to_conf())),
            "{id}'s block is stale: run examples/distributed/make-nats-conf.sh"
        );
    }
    assert!(
        conf.contains(&words(&Permissions::client().to_conf())),
        "the client's block is stale: run make-nats-conf.sh"
    );
    assert!(
        conf.contains(&words(&Permissions::event_sender("*").to_conf())),
        "the event sender's block is stale: run make-nats-conf.sh"
    );

    let server = LocalServer::start_with(Some(example_conf())).unwrap();
    let url = server.url();
    // The streams are the operator's to create: a node arriving first is told so.
    let e = JetStream::connect(url, example_user("py-reserve")).err().expect("refused");
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert!(e.to_string().contains("Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.PEO"), "{e}");
    assert!(e.to_string().contains("the stream does not exist yet"), "{e}");
    assert_eq!(e.to_string().matches("transport error").count(), 1, "{e}");
    JetStream::connect(url, example_user("operator")).unwrap();

    // Each node runs its own step of an object, with its own user, through a wait and
    // an event the answering service sends (every path a node takes: the work, dormant
    // and event consumers, the bucket, removing used messages).
    let plan = json!({"StartAt": "Reserve", "States": {
        "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Approve"},
        "Approve": {"Type": "Pass", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "payment.charge", "End": true}},
        "Await": {"Approve": {"Event": "approved"}}});
    let step = |_: &Invocation| Ok(json!({"ok": true}));
    let running: Vec<Running> = nodes[..2]
        .iter()
        .map(|(id, caps)| {
            let node = caps.iter().fold(Node::new(*id, "eu").with_trust(Trust::any()), |n, c| n.handler(*c, step));
            start(url, node, example_user(id))
        })
        .collect();
    let client = JetStream::connect(url, example_user("client")).unwrap();
    let answers = JetStream::connect(url, example_user("answers")).unwrap();
    let id = client.submit(&create(&plan, json!({}))).unwrap();
    answers.send_event(&id, &Event::success("approved", json!({"by": "ops"}))).unwrap();
    let started = Instant::now();
    let done = client.wait_done(std::slice::from_ref(&id), Duration::from_secs(20)).unwrap();
    let finished = Object::from_bytes(&done[&id], &Default::default()).unwrap();
    assert_eq!(finished.status(), Status::Succeeded);
    assert!(nodes_of(&finished).iter().any(|n| n == "js-charge"), "{:?}", nodes_of(&finished));
    // Nothing the nodes did was refused (a refused request would also have cost its
    // whole timeout).
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    for r in running {
        let r = r.finish();
        let log = r.log.lock().unwrap();
        assert!(!log.iter().any(|l| l.contains("refused") || l.contains("Permissions")), "{log:?}");
    }

    // A node may not take another capability's work, nor pose as another node: each is
    // refused at once, saying which consumer.
    let reserve = JetStream::connect(url, example_user("py-reserve")).unwrap();
    let started = Instant::now();
    let e = reserve.listen("py-reserve", &["payment.charge"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert!(e.to_string().contains(&capability_consumer("payment.charge")), "{e}");
    assert!(e.to_string().contains("Permissions Violation"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(4), "the refusal took {:?}", started.elapsed());
    let e = reserve.listen("js-charge", &[] as &[&str]).unwrap_err();
    assert!(e.to_string().contains(&node_consumer("js-charge")), "{e}");

    // Nodes send no events; the answering service does, and nothing else.
    let e = reserve.send_event(&id, &Event::success("x", json!(1))).unwrap_err();
    assert!(e.to_string().contains("Permissions Violation for Publish to \"peo.event."), "{e}");
    answers.send_event(&id, &Event::success("x", json!(1))).unwrap();
    let e = answers.submit(&create(&plan, json!({"n": 2}))).unwrap_err();
    assert!(e.to_string().contains("Permissions Violation for Publish to \"$KV.peo_objects."), "{e}");
    // Nor can the client or the answering service publish work or results directly.
    let forged: Vec<String> = ["peo.done", "peo.join", "peo.dead", "peo.dormant"]
        .iter()
        .map(|s| format!("{s}.{id}"))
        .chain(["peo.cap.inventory.reserve".to_owned()])
        .collect();
    assert_eq!(stored_raw(url, example_user("answers"), &[format!("peo.event.{id}.x")]), 1, "what it may do, it can");
    assert_eq!(stored_raw(url, example_user("answers"), &forged), 0, "the answering service stored work or a result");
    assert_eq!(stored_raw(url, example_user("client"), &forged[..4]), 0, "the client stored a result");
    // Nobody else gets in.
    let e = JetStream::connect(url, secure(Some(("stranger", "stranger-test-password")))).err().expect("refused");
    assert!(e.to_string().contains("refused this connection's credentials"), "{e}");
}

#[test]
fn work_that_kills_every_node_taking_it_is_dead_lettered_after_max_deliver() {
    let server = LocalServer::start().unwrap();
    // As every face passes them.
    let e = Options::from_face(None, None, None, Some(-1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let options = Options::from_face(None, Some(Duration::from_millis(400)), None, Some(3)).unwrap();
    // A node that dies on the message: it takes it and never settles it (its process
    // gone, JetStream gives the message to the next taker after ack_wait).
    let dying = JetStream::connect(server.url(), options).unwrap();
    dying.listen("dying", &["poison.step"]).unwrap();
    let plan = json!({"StartAt": "P", "States": {"P": {"Type": "Task", "Resource": "poison.step", "End": true}}});
    let id = client(server.url()).submit(&create(&plan, json!({}))).unwrap();
    let mut taken = 0;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(15) {
        match dying.next(Duration::from_millis(500)).unwrap() {
            Some(d) => {
                assert_eq!(d.object_id(), id);
                taken += 1;
                drop(d);
            }
            None if dying.stats().to_json()["rejected"] == 1 => break,
            None => {}
        }
    }
    assert_eq!(taken, 3, "taken {taken} times");
    assert_eq!(dying.stats().to_json()["rejected"], 1);
    let dead = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let js = async_nats::jetstream::new(raw(server.url()).await);
        let s = js.get_stream("PEO_DONE").await.unwrap();
        s.get_last_raw_message_by_subject(&format!("peo.dead.{id}")).await.unwrap()
    });
    assert_eq!(dead.headers.get("Peo-Error").map(|v| v.as_str()), Some("PEO_LIMIT"));
    let why = dead.headers.get("Peo-Message").unwrap().as_str().to_owned();
    assert!(why.contains("delivered 4 times and never settled (max_deliver 3)"), "{why}");
    // Nothing is left to deliver.
    assert!(dying.next(Duration::from_millis(1500)).unwrap().is_none());
}

#[test]
fn only_the_holder_of_a_task_token_completes_the_task() {
    let server = LocalServer::start().unwrap();
    let token = Arc::new(Mutex::new(String::new()));
    let t = token.clone();
    let node = Node::new("asker", "eu")
        .with_key(peo_core::SigningKey::from_bytes(&[9; 32]))
        .with_trust(Trust::any())
        .handler("approvals.ask.waitForTaskToken", move |i: &Invocation| {
            *t.lock().unwrap() = i.input["token"].as_str().unwrap().to_owned();
            Ok(json!({"queued": true}))
        });
    let n = start(server.url(), node, Options::default());
    let plan = json!({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "approvals.ask.waitForTaskToken", "TimeoutSeconds": 600,
                "Parameters": {"token.$": "$$.Task.Token"}, "ResultPath": "$.answer", "End": true}}});
    let c = client(server.url());
    let id = c.submit(&create(&plan, json!({}))).unwrap();
    let t0 = Instant::now();
    while token.lock().unwrap().is_empty()
        || c.get(&id).unwrap().map(|b| Object::from_bytes(&b, &Default::default()).unwrap().status())
            != Some(Status::Dormant)
    {
        assert!(t0.elapsed() < Duration::from_secs(15), "the task never waited");
        std::thread::sleep(Duration::from_millis(50));
    }
    let token = token.lock().unwrap().clone();
    // What a client without the token could try: the attempt key (what tokens used to
    // be), another token, the commitment the object shows.
    let shown = Object::from_bytes(&c.get(&id).unwrap().unwrap(), &Default::default()).unwrap();
    let peo_jetstream::Hop::Dormant { event: Some(commitment), .. } = peo_jetstream::hop(&shown) else { panic!() };
    assert_eq!(commitment, peo_core::event_key(&token));
    for forged in [format!("{id}/Ask/1/0"), "peo-tt-0123".into(), commitment.clone()] {
        c.send_event(&id, &Event::success(forged, json!({"approved": "forged"}))).unwrap();
    }
    let t0 = Instant::now();
    while n.stat("ignored") < 1 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(n.stat("ignored"), 1, "the other token's event is dropped and counted");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        c.wait_done(std::slice::from_ref(&id), Duration::from_millis(10)).unwrap().len(),
        0,
        "a forged event finished it"
    );
    c.send_event(&id, &Event::success(token.clone(), json!({"approved": true}))).unwrap();
    let done = c.wait_done(std::slice::from_ref(&id), Duration::from_secs(15)).unwrap();
    let o = Object::from_bytes(&done[&id], &Default::default()).unwrap();
    assert_eq!(o.status(), Status::Succeeded);
    assert_eq!(o.data()["answer"], json!({"approved": true}));
}

#[test]
fn an_await_naming_signers_drops_and_counts_events_they_did_not_sign() {
    let server = LocalServer::start().unwrap();
    let ops = peo_core::SigningKey::from_bytes(&[31; 32]);
    let n = start(server.url(), Node::new("waiter", "eu").with_trust(Trust::any()), Options::default());
    let plan = json!({"StartAt": "Approve", "States": {
        "Approve": {"Type": "Pass", "ResultPath": "$.approval", "End": true}},
        "Await": {"Approve": {"Event": "approved", "Signers": [ops.public_key().to_hex()]}}});
    let c = client(server.url());
    let id = c.submit(&create(&plan, json!({}))).unwrap();
    // The name the plan gives, unsigned and signed by another key: dropped, counted.
    let approval = Event::success("approved", json!({"by": "ops"}));
    c.send_event(&id, &approval).unwrap();
    c.send_event(&id, &approval.clone().signed(&id, &peo_core::SigningKey::from_bytes(&[32; 32])).unwrap()).unwrap();
    let t0 = Instant::now();
    while n.stat("ignored") < 2 && t0.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(n.stat("ignored"), 2, "forged approvals are dropped and counted");
    assert!(c.wait_done(std::slice::from_ref(&id), Duration::from_millis(300)).unwrap().is_empty());
    // Signed by the key the plan names, for this object: it resumes.
    c.send_event(&id, &approval.signed(&id, &ops).unwrap()).unwrap();
    let done = c.wait_done(std::slice::from_ref(&id), Duration::from_secs(15)).unwrap();
    let o = Object::from_bytes(&done[&id], &Default::default()).unwrap();
    assert_eq!((o.status(), &o.data()["approval"]), (Status::Succeeded, &json!({"by": "ops"})));
}
