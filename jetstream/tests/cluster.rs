//! The cluster test: a three-server JetStream cluster on loopback with every stream and
//! the bucket replicated on all three (R3); 1,000 objects through four nodes of two
//! capabilities (16 deliveries in flight each), each node connected first to a different
//! server; one server killed with SIGKILL mid-load and restarted later. Every object must
//! finish, none be lost, each task appear once in every history; re-executions (a visit whose result lost its commit when
//! the server went) keep their idempotency key and are counted. Prints the counts.
//!
//! Run by the test command as
//! `cargo test --release -p peo-jetstream --test cluster -- --ignored --nocapture`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peo_core::{Context, CreateOptions, Object, Status, Trust};
use peo_jetstream::{JetStream, LocalCluster, Options, ServeOptions, UpdateKind, serve};
use peo_runtime::{Invocation, Node};
use serde_json::json;

const OBJECTS: usize = 1000;
/// Deliveries in flight per node.
const WINDOW: usize = 16;

/// Connects once the cluster has elected its JetStream leader (streams with replicas
/// cannot be created before).
fn connect(urls: &str, name: &str) -> JetStream {
    // `replicas` as every face passes it.
    let options = || Options {
        ack_wait: Duration::from_secs(3),
        batch: 2 * WINDOW,
        ..Options::from_face(Some(name.to_owned()), None, None, None, Some(3)).unwrap()
    };
    let t0 = Instant::now();
    loop {
        match JetStream::connect(urls, options()) {
            Ok(js) => return js,
            Err(e) if t0.elapsed() < Duration::from_secs(60) => {
                eprintln!("{name}: {e} (retrying)");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("{name}: the cluster never became ready: {e}"),
        }
    }
}

#[test]
fn replicas_are_from_one_to_five_and_reach_the_server() {
    for n in [0, 6, -1] {
        let e = Options::from_face(None, None, None, None, Some(n)).unwrap_err();
        assert_eq!((e.kind(), e.field()), (peo_core::ErrorKind::InvalidArgument, Some("replicas")), "{e}");
        assert!(
            e.message().contains(&format!("from 1 to 5 (the servers of a cluster that keep each stream), not {n}"))
        );
    }
    assert_eq!(Options::from_face(None, None, None, None, None).unwrap().replicas, 1);
    // A single server cannot keep three copies: the server's refusal comes back, named.
    let server = peo_jetstream::LocalServer::start().unwrap();
    let options = Options::from_face(None, None, None, None, Some(3)).unwrap();
    let e = JetStream::connect(server.url(), options).err().expect("three replicas on one server");
    assert_eq!(e.kind(), peo_core::ErrorKind::Transport, "{e}");
    assert!(e.message().contains("replicas"), "{e}");
    eprintln!("{e}");
}

#[test]
fn a_url_list_reaches_a_live_server_and_a_bad_url_is_named() {
    let server = peo_jetstream::LocalServer::start().unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // One server of the list is down: the connection goes to the other.
    let urls = format!("nats://127.0.0.1:{dead}, {}", server.url());
    let js = JetStream::connect(&urls, Options::default()).unwrap();
    let obj = Object::create(
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}),
        Context::new(),
        &json!({}),
        &CreateOptions::default(),
    )
    .unwrap();
    // Stored: JetStream acknowledged the publication.
    assert_eq!(js.submit(&obj.to_bytes()).unwrap(), obj.id().to_hex());
    for (bad, says) in
        [("nats://127.0.0.1:4222,nats://[::1", "is not a NATS server URL"), (" , ", "no NATS server URL")]
    {
        let e = JetStream::connect(bad, Options::default()).err().expect(bad);
        assert_eq!(e.kind(), peo_core::ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains(says), "{e}");
    }
}

#[test]
#[ignore = "run by scripts/test with --ignored --nocapture (it prints the counts)"]
fn a_cluster_loses_nothing_when_a_server_is_killed_mid_load() {
    let mut cluster = LocalCluster::start(3).unwrap();
    let client = connect(&cluster.urls_from(0), "client");

    // Every execution's idempotency key, counted.
    let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    // What the nodes said, printed for the objects that do not finish.
    let said: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut nodes = Vec::new();
    for (i, capability) in ["a.step", "b.step", "a.step", "b.step"].into_iter().enumerate() {
        let said = said.clone();
        let js = connect(&cluster.urls_from(i % 3), &format!("node-{i}"))
            .with_log(move |line| said.lock().unwrap().push(format!("node-{i}: {line}")));
        let calls = calls.clone();
        let node = Node::new(format!("node-{i}"), "eu").with_trust(Trust::any()).handler(
            capability,
            move |inv: &Invocation| {
                *calls.lock().unwrap().entry(inv.idempotency_key.clone()).or_default() += 1;
                Ok(json!({"i": inv.input["i"].as_i64().unwrap_or(0) + 1}))
            },
        );
        let stop = stop.clone();
        nodes.push(std::thread::spawn(move || {
            serve(&node, &js, &ServeOptions { stop: Some(stop), window: WINDOW, ..Default::default() }).unwrap();
            js.stats().to_json()
        }));
    }

    let plan = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "a.step", "Next": "B"},
        "B": {"Type": "Task", "Resource": "b.step", "Next": "C"},
        "C": {"Type": "Task", "Resource": "a.step", "Next": "D"},
        "D": {"Type": "Task", "Resource": "b.step", "End": true}}});
    let t0 = Instant::now();
    let objects: Vec<Vec<u8>> = (0..OBJECTS)
        .map(|n| {
            let options = CreateOptions { id: Some(peo_core::ObjectId::random().unwrap()), ..CreateOptions::default() };
            Object::create(&plan, Context::new(), &json!({"i": 0, "n": n}), &options).unwrap().to_bytes()
        })
        .collect();
    let (ids, at_kill) = std::thread::scope(|scope| {
        // Submitted while the nodes work (and while a server is down: a submission the
        // cluster cannot take yet is tried again).
        let submitter = scope.spawn(|| {
            let submit = |bytes: &[u8]| loop {
                match client.submit(bytes) {
                    Ok(id) => return id,
                    Err(e) if t0.elapsed() < Duration::from_secs(120) => {
                        eprintln!("submit: {e} (retrying)");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    Err(e) => panic!("submit: {e}"),
                }
            };
            objects.iter().map(|b| submit(b)).collect::<Vec<String>>()
        });
        // Mid-load: once a quarter of the tasks ran, server 2 dies (its nodes and its
        // replicas with it), and comes back four seconds later.
        while calls.lock().unwrap().len() < OBJECTS {
            std::thread::sleep(Duration::from_millis(10));
            assert!(t0.elapsed() < Duration::from_secs(120), "the load never got going");
        }
        let at_kill = calls.lock().unwrap().len();
        cluster.kill(2);
        std::thread::sleep(Duration::from_secs(4));
        cluster.restart(2).unwrap();
        (submitter.join().unwrap(), at_kill)
    });

    let done = client.wait_done(&ids, Duration::from_secs(90)).unwrap();
    let elapsed = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let stats: Vec<_> = nodes.into_iter().map(|t| t.join().unwrap()).collect();

    // Each history: succeeded, verifies, and applied each of its four tasks once.
    let mut once = 0;
    for (id, bytes) in &done {
        let obj = Object::from_bytes(bytes, &Default::default()).unwrap();
        assert_eq!(obj.status(), Status::Succeeded, "{id}");
        obj.verify(&Trust::any()).into_result().unwrap();
        assert_eq!(obj.data()["i"], json!(4), "{id}: a task applied twice or not at all");
        once += 1;
    }
    // Finishes on PEO_DONE, per object, and dead letters.
    client.follow("cluster-audit").unwrap();
    let mut dead = 0;
    let mut finishes: HashMap<String, usize> = HashMap::new();
    while let Some(u) = client.next_update(Duration::from_secs(2)).unwrap() {
        match u.kind {
            UpdateKind::Finished => *finishes.entry(u.id.clone()).or_default() += 1,
            UpdateKind::Dead => {
                dead += 1;
                println!("  dead letter: {} {:?}", u.id, u.error);
            }
            UpdateKind::Progress => continue,
        }
        client.ack_update(u.ack).unwrap();
    }
    // What became of any object that did not finish: its newest committed version.
    for id in ids.iter().filter(|id| !done.contains_key(*id)) {
        match client.get(id).unwrap() {
            Some(b) => {
                let obj = Object::from_bytes(&b, &Default::default()).unwrap();
                println!(
                    "  not finished: {id}: {:?} at {} after {} records",
                    obj.status(),
                    obj.state(),
                    obj.memory().len()
                );
            }
            None => println!("  not finished: {id}: never committed"),
        }
        for line in said.lock().unwrap().iter().filter(|l| l.contains(id.as_str())) {
            println!("    {line}");
        }
    }
    let calls = calls.lock().unwrap();
    let executions: usize = calls.values().sum();
    let re_executions = executions - calls.len();
    let sum = |k: &str| stats.iter().map(|s| s[k].as_u64().unwrap_or(0)).sum::<u64>();
    println!(
        "cluster test: 3 nats-servers, streams and bucket R3, 4 nodes ({WINDOW} in flight each) each first on its own server"
    );
    println!("  server 2 killed with SIGKILL after {at_kill} task executions, restarted 4 s later");
    println!(
        "  finished: {} of {OBJECTS}; lost: {}; in {:.1} s",
        done.len(),
        OBJECTS - done.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "  finishes on PEO_DONE: {} objects, {} more than once",
        finishes.len(),
        finishes.values().filter(|&&n| n > 1).count()
    );
    println!(
        "  task executions: {executions} for {} idempotency keys ({re_executions} re-executions, same key)",
        calls.len()
    );
    println!(
        "  deliveries recognised as duplicates: {}; versions republished: {}",
        sum("duplicates"),
        sum("reconciled")
    );
    println!("  histories: {once} verify, each task applied once");
    assert_eq!(done.len(), OBJECTS, "no object is lost");
    assert_eq!(calls.len(), 4 * OBJECTS, "one idempotency key per task of each history");
    assert_eq!(finishes.len(), OBJECTS);
    assert_eq!(dead, 0, "no dead letters");
}
