//! Following the mesh from outside it (the Step Functions relay's view): progress while
//! an object moves, its final version once, at least once across a restart, dead
//! letters with their reason, and forged finishes ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use peo_core::{Context, CreateOptions, Object, Trust};
use peo_jetstream::{JetStream, LocalServer, Options, ServeOptions, UpdateKind, serve};
use peo_runtime::{Invocation, Node};
use serde_json::json;

fn drain(js: &JetStream, until: UpdateKind) -> Vec<(UpdateKind, String, u64)> {
    let mut seen = Vec::new();
    while let Some(u) = js.next_update(Duration::from_secs(10)).unwrap() {
        seen.push((u.kind, u.id.clone(), u.ack));
        if u.kind == until {
            break;
        }
    }
    seen
}

#[test]
fn a_follower_sees_progress_then_the_finish_until_it_acknowledges() {
    let server = LocalServer::start().unwrap();
    let url = server.url().to_owned();
    let plan = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "a.step", "Next": "B"},
        "B": {"Type": "Task", "Resource": "a.step", "End": true}}});
    // The consumer's ack wait is set when it is created: one second, for the redelivery.
    let quick = || Options { ack_wait: Duration::from_secs(1), ..Options::default() };
    let follower = JetStream::connect(&url, quick()).unwrap();
    assert!(follower.next_update(Duration::ZERO).unwrap_err().to_string().contains("follow"));
    follower.follow("relay").unwrap();
    assert!(follower.follow("bad.name").is_err());

    let js = Arc::new(JetStream::connect(&url, Options::default()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let (j, s) = (js.clone(), stop.clone());
    let node = Node::new("n", "eu")
        .with_trust(Trust::any())
        .handler("a.step", |_: &Invocation| Ok::<_, peo_runtime::HandlerError>(json!({"ok": true})));
    let thread =
        std::thread::spawn(move || serve(&node, &*j, &ServeOptions { stop: Some(s), ..Default::default() }).unwrap());

    let obj = Object::create(&plan, Context::new(), &json!({}), &CreateOptions::default()).unwrap();
    let id = js.submit(&obj.to_bytes()).unwrap();
    let seen = drain(&follower, UpdateKind::Finished);
    assert!(seen.iter().any(|(k, i, _)| *k == UpdateKind::Progress && *i == id), "{seen:?}");
    let (kind, fid, ack) = seen.last().unwrap().clone();
    assert_eq!((kind, fid.as_str()), (UpdateKind::Finished, id.as_str()));

    // Not acknowledged: a follower of the same name gets it again.
    drop(follower);
    std::thread::sleep(Duration::from_millis(200));
    let again = JetStream::connect(&url, quick()).unwrap();
    again.follow("relay").unwrap();
    let seen = drain(&again, UpdateKind::Finished);
    let (kind, fid, ack2) = seen.last().unwrap().clone();
    assert_eq!((kind, fid.as_str()), (UpdateKind::Finished, id.as_str()));
    assert_eq!(ack2, ack, "the same message of PEO_DONE");
    again.ack_update(ack2).unwrap();
    assert!(again.ack_update(ack2).is_err());
    assert!(again.next_update(Duration::from_millis(1500)).unwrap().is_none());

    // A forged finish (not a final version) is not reported.
    let raw = Object::create(&plan, Context::new(), &json!({"x": 1}), &CreateOptions::default()).unwrap();
    let subject = format!("peo.done.{}", raw.id().to_hex());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        js.publish(subject, raw.to_bytes().into()).await.unwrap().await.unwrap();
    });
    assert!(again.next_update(Duration::from_millis(1500)).unwrap().is_none());

    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
}

#[test]
fn a_dead_letter_comes_with_its_reason() {
    let server = LocalServer::start().unwrap();
    let url = server.url().to_owned();
    let follower = JetStream::connect(&url, Options::default()).unwrap();
    follower.follow("relay").unwrap();
    let js = Arc::new(JetStream::connect(&url, Options::default()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let (j, s) = (js.clone(), stop.clone());
    let node = Node::new("n", "eu")
        .with_trust(Trust::any())
        .handler("a.step", |_: &Invocation| Ok::<_, peo_runtime::HandlerError>(json!(1)));
    let thread =
        std::thread::spawn(move || serve(&node, &*j, &ServeOptions { stop: Some(s), ..Default::default() }).unwrap());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        js.publish("peo.cap.a.step", b"garbage".to_vec().into()).await.unwrap().await.unwrap();
    });
    let dead = loop {
        let u = follower.next_update(Duration::from_secs(20)).unwrap().expect("a dead letter");
        if u.kind == UpdateKind::Dead {
            break u;
        }
    };
    assert_eq!((dead.id.as_str(), &dead.bytes[..]), ("unknown", &b"garbage"[..]));
    let (code, message) = dead.error.clone().unwrap();
    assert_eq!(code, "PEO_DECODE", "{message}");
    follower.ack_update(dead.ack).unwrap();
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
}
