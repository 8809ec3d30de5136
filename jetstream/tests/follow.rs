//! Following the mesh from outside it (the Step Functions relay's view): progress while
//! an object moves, its final version once, at least once across a restart, dead
//! letters with their reason, and forged finishes ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use peo_core::{Context, CreateOptions, Object, SigningKey, Trust};
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

/// The relay's AWS calls, recorded; the first `fail_first` completions fail with `code`.
struct Recorder {
    calls: std::sync::Mutex<Vec<String>>,
    fail_first: std::sync::atomic::AtomicU32,
    code: Option<&'static str>,
}

impl Recorder {
    fn answer(&self, call: String) -> Result<(), peo_jetstream::relay::ReportError> {
        self.calls.lock().unwrap().push(call);
        if self.fail_first.load(Ordering::Relaxed) > 0 {
            self.fail_first.fetch_sub(1, Ordering::Relaxed);
            let code = self.code.map(str::to_owned);
            return Err(peo_jetstream::relay::ReportError { code, message: "refused".into() });
        }
        Ok(())
    }
}

impl peo_jetstream::relay::TaskReporter for Recorder {
    fn heartbeat(&self, token: &str) -> Result<(), peo_jetstream::relay::ReportError> {
        self.calls.lock().unwrap().push(format!("heartbeat {token}"));
        Ok(())
    }
    fn success(&self, token: &str, output: &str) -> Result<(), peo_jetstream::relay::ReportError> {
        let v: serde_json::Value = serde_json::from_str(output).unwrap();
        self.answer(format!("success {token} {}", v["output"]))
    }
    fn failure(&self, token: &str, error: &str, cause: &str) -> Result<(), peo_jetstream::relay::ReportError> {
        self.answer(format!("failure {token} {error} {cause}"))
    }
    fn upload(&self, _: &str, _: &str, _: &[u8]) -> Result<(), peo_jetstream::relay::ReportError> {
        unreachable!("no bucket given")
    }
}

fn relay_once(url: &str, recorder: &Recorder, name: &str) -> peo_jetstream::relay::RelayCounts {
    relay_trusting(url, recorder, name, None)
}

fn relay_trusting(
    url: &str,
    recorder: &Recorder,
    name: &str,
    trust: Option<Trust>,
) -> peo_jetstream::relay::RelayCounts {
    let js = JetStream::connect(url, Options { ack_wait: Duration::from_secs(1), ..Options::default() }).unwrap();
    let options = peo_jetstream::relay::RelayOptions {
        name: name.into(),
        heartbeat_every: Duration::from_secs(60),
        idle_timeout: Some(Duration::from_millis(2500)),
        bucket: None,
        trust,
    };
    peo_jetstream::relay::relay(&js, recorder, &options, &mut || Ok(false), &|_| {}).unwrap()
}

#[test]
fn the_relay_reports_once_accepted_and_again_after_an_error() {
    let server = LocalServer::start().unwrap();
    let url = server.url().to_owned();
    let js = Arc::new(JetStream::connect(&url, Options::default()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let (j, s) = (js.clone(), stop.clone());
    let node = Node::new("n", "eu").with_trust(Trust::any()).handler("a.step", |i: &Invocation| {
        if i.input["fail"] == json!(true) {
            return Err(peo_runtime::HandlerError::new("Edge.Broken", "on purpose"));
        }
        Ok(json!({"ok": true}))
    });
    let thread =
        std::thread::spawn(move || serve(&node, &*j, &ServeOptions { stop: Some(s), ..Default::default() }).unwrap());
    let plan = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "a.step", "Next": "B"},
        "B": {"Type": "Task", "Resource": "a.step", "End": true}}});
    let with_token = |token: &str, input: serde_json::Value| {
        let context = peo_runtime::stepfunctions::with_token(None, token).unwrap();
        let context =
            Context::from_json(&serde_json::from_str(&context).unwrap(), &peo_core::Limits::default()).unwrap();
        Object::create(&plan, context, &input, &CreateOptions::default()).unwrap()
    };
    // Submitted before the relay follows: the progress watch starts with it, but every
    // finish is on PEO_DONE for it.
    let ok = js.submit(&with_token("tok-ok", json!({})).to_bytes()).unwrap();
    let bad = js.submit(&with_token("tok-bad", json!({"fail": true})).to_bytes()).unwrap();
    js.submit(&Object::create(&plan, Context::new(), &json!({}), &CreateOptions::default()).unwrap().to_bytes())
        .unwrap();
    assert_eq!(js.wait_done(&[ok, bad], Duration::from_secs(20)).unwrap().len(), 2);

    // The first completion fails with a transient error: not acknowledged, so it comes
    // again after the ack wait, and is then reported.
    let flaky = Recorder { calls: Default::default(), fail_first: 1.into(), code: Some("ThrottlingException") };
    let counts = relay_once(&url, &flaky, "relay");
    assert_eq!((counts.succeeded, counts.failed, counts.errors, counts.skipped), (1, 1, 1, 1), "{counts:?}");
    let calls = flaky.calls.lock().unwrap().clone();
    assert!(calls.contains(&r#"success tok-ok {"ok":true}"#.to_owned()), "{calls:?}");
    assert!(calls.contains(&"failure tok-bad Edge.Broken on purpose".to_owned()), "{calls:?}");
    assert_eq!(calls.len(), 3, "{calls:?}");

    // All acknowledged: the same relay name has nothing left.
    let quiet = Recorder { calls: Default::default(), fail_first: 0.into(), code: None };
    assert_eq!(relay_once(&url, &quiet, "relay"), Default::default());
    // Another name reads them all again; the workflow no longer waits: gone, not errors.
    let late = Recorder { calls: Default::default(), fail_first: 2.into(), code: Some("TaskTimedOut") };
    let counts = relay_once(&url, &late, "late");
    assert_eq!((counts.gone, counts.errors, counts.skipped), (2, 0, 1), "{counts:?}");

    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
}

#[test]
fn a_relay_with_a_trust_reports_only_what_its_trusted_nodes_finished() {
    let server = LocalServer::start().unwrap();
    let url = server.url().to_owned();
    let js = Arc::new(JetStream::connect(&url, Options::default()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let (ours, theirs) = (SigningKey::generate().unwrap(), SigningKey::generate().unwrap());
    // A node signing with a key the relay does not trust finishes the object: as a
    // participant forging a finish would look to the relay.
    let node = Node::new("n", "eu")
        .with_key(theirs.clone())
        .with_trust(Trust::any())
        .handler("a.step", |_: &Invocation| Ok(json!({"ok": true})));
    let (j, s) = (js.clone(), stop.clone());
    let thread =
        std::thread::spawn(move || serve(&node, &*j, &ServeOptions { stop: Some(s), ..Default::default() }).unwrap());
    let plan = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "a.step", "End": true}}});
    let context = peo_runtime::stepfunctions::with_token(None, "tok-1").unwrap();
    let context = Context::from_json(&serde_json::from_str(&context).unwrap(), &peo_core::Limits::default()).unwrap();
    // Created by the node's owner too: every visit, the genesis included, is theirs.
    let created = CreateOptions { key: Some(&theirs), ..CreateOptions::default() };
    let id = js.submit(&Object::create(&plan, context, &json!({}), &created).unwrap().to_bytes()).unwrap();
    assert_eq!(js.wait_done(&[id], Duration::from_secs(20)).unwrap().len(), 1);

    let strict = Recorder { calls: Default::default(), fail_first: 0.into(), code: None };
    let counts = relay_trusting(&url, &strict, "strict", Some(Trust::keys([ours.public_key()])));
    assert_eq!((counts.untrusted, counts.succeeded), (1, 0), "{counts:?}");
    assert!(strict.calls.lock().unwrap().is_empty(), "an untrusted finish was reported");
    // Acknowledged: the strict relay does not see it again.
    assert_eq!(relay_trusting(&url, &strict, "strict", Some(Trust::keys([ours.public_key()]))), Default::default());

    // A relay trusting the node's key reports it.
    let trusting = Recorder { calls: Default::default(), fail_first: 0.into(), code: None };
    let counts = relay_trusting(&url, &trusting, "trusting", Some(Trust::keys([theirs.public_key()])));
    assert_eq!((counts.untrusted, counts.succeeded), (0, 1), "{counts:?}");
    assert_eq!(trusting.calls.lock().unwrap().clone(), vec![r#"success tok-1 {"ok":true}"#.to_owned()]);

    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
}
