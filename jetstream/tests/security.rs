//! Who may do what on a JetStream mesh (`nats-server -js` on loopback, with the test
//! certificates of `tests/nats`): TLS and credentials, creds files in operator mode, the
//! distributed example's per-participant permissions; and what a failing or hostile
//! participant cannot do: work that kills every node taking it is dead-lettered, only the
//! holder of a task token completes the task, events from signers an await does not
//! name are dropped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peo_core::{ErrorKind, Event, Object, Status, Trust};
use peo_jetstream::{JetStream, LocalServer, Options};
use peo_runtime::{Invocation, Node};
use serde_json::json;

mod common;
use common::*;

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
    let e = Options::from_face(None, None, None, Some(-1), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let options = Options::from_face(None, Some(Duration::from_millis(400)), None, Some(3), None).unwrap();
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
