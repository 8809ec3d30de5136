//! The fault test: 1,000 objects in flight through three `peo serve` nodes (16
//! deliveries in flight each) on a real `nats-server -js`; one node is killed with
//! SIGKILL in the middle of a visit (its handler is running) and restarted; stale copies of 100 objects are injected as a
//! misbehaving publisher (or a redelivery) would. Every object must still finish, none
//! may be lost or finish twice, every task must appear exactly once in every history,
//! and the duplicates must be recognised. Prints the counts.
//!
//! Run by the test command as
//! `cargo test --release -p peo-cli --test fault -- --ignored --nocapture`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use peo_core::{Body, Context, CreateOptions, Object, Status, Trust};
use peo_jetstream::{JetStream, LocalServer, Options};
use serde_json::json;

const OBJECTS: usize = 1000;
const INJECTED: usize = 100;

fn peo() -> &'static str {
    env!("CARGO_BIN_EXE_peo")
}

fn serve(url: &str, toml: &Path, log: &Path) -> Child {
    Command::new(peo())
        .args(["serve", "--nats", url, "--ack-wait", "2", "--window", "16", "--node"])
        .arg(toml)
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect()
}

fn count(logs: &[PathBuf], what: &str) -> usize {
    logs.iter().map(|l| lines(l).iter().filter(|x| x.contains(what)).count()).sum()
}

#[test]
#[ignore = "run by scripts/test with --ignored --nocapture (it prints the counts)"]
fn a_node_killed_mid_visit_loses_nothing_and_duplicates_are_recognised() {
    let server = LocalServer::start().unwrap();
    let url = server.url().to_owned();
    let dir = std::env::temp_dir().join(format!("peo-fault-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let calls = dir.join("calls.log");
    let busy = dir.join("b.busy");
    // Each handler records the idempotency key of every execution; step.b marks itself
    // busy while it runs (a file per call: 16 run at once) and takes a few ms, so the
    // kill lands inside visits.
    std::fs::write(
        dir.join("handler.sh"),
        format!(
            "#!/bin/sh\n\
             [ \"$PEO_CAPABILITY\" = step.b ] && touch {busy}.$$\n\
             echo \"$PEO_IDEMPOTENCY_KEY\" >> {calls}\n\
             [ \"$PEO_CAPABILITY\" = step.b ] && sleep 0.003\n\
             cat\n\
             [ \"$PEO_CAPABILITY\" = step.b ] && rm -f {busy}.$$\n\
             exit 0\n",
            busy = busy.display(),
            calls = calls.display()
        ),
    )
    .unwrap();
    for n in ["a", "b", "c"] {
        std::fs::write(
            dir.join(format!("{n}.toml")),
            format!(
                "id = \"node-{n}\"\ndomain = \"{}\"\ntrust = \"any\"\n[handlers]\n\"step.{n}\" = \"sh {}\"\n",
                if n == "b" { "payments" } else { "warehouse" },
                dir.join("handler.sh").display()
            ),
        )
        .unwrap();
    }
    let log = |name: &str| dir.join(format!("{name}.log"));
    let mut a = serve(&url, &dir.join("a.toml"), &log("a"));
    let mut b = serve(&url, &dir.join("b.toml"), &log("b"));
    let mut c = serve(&url, &dir.join("c.toml"), &log("c"));

    // After step.a, node-a spins a Pass/Choice loop 40 times, so that node-b's visit
    // starts with a checkpoint (Compaction After 64): duplicates, stale copies and the
    // reconciliation after the kill must all be recognised across it.
    let plan = json!({"StartAt": "A", "Compaction": {"After": 64, "Keep": 8}, "States": {
        "A": {"Type": "Task", "Resource": "step.a", "Next": "Count"},
        "Count": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($.c.v, 1)"}, "ResultPath": "$.c", "Next": "Loop"},
        "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.c.v", "NumericLessThan": 40, "Next": "Count"}], "Default": "B"},
        "B": {"Type": "Task", "Resource": "step.b", "Next": "C"},
        "C": {"Type": "Task", "Resource": "step.c", "End": true}}});
    let originals: Vec<Vec<u8>> = (0..OBJECTS)
        .map(|i| {
            let input = json!({"n": i, "c": {"v": 0}});
            Object::create(&plan, Context::new(), &input, &CreateOptions::default()).unwrap().to_bytes()
        })
        .collect();
    let client = std::sync::Arc::new(JetStream::connect(&url, Options::default()).unwrap());
    let t0 = Instant::now();
    // Submitted from a thread while the nodes work, so that the kill below can land a
    // third of the way through (16 in flight per node finish most of the work while one
    // thread submits the rest).
    let submitter = {
        let (client, originals) = (client.clone(), originals.clone());
        std::thread::spawn(move || originals.iter().map(|o| client.submit(o).unwrap()).collect::<Vec<String>>())
    };

    // Kill node-b with SIGKILL while its handler runs, a third of the way through.
    let b_calls = || lines(&calls).iter().filter(|l| l.contains("/B/") && l.ends_with("/0")).count();
    let busy_now =
        || std::fs::read_dir(&dir).unwrap().flatten().any(|f| f.file_name().to_string_lossy().starts_with("b.busy."));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(b_calls() >= OBJECTS / 3 && busy_now()) {
        assert!(Instant::now() < deadline, "node-b made no progress");
        std::thread::sleep(Duration::from_millis(1));
    }
    b.kill().unwrap();
    b.wait().unwrap();
    let at_kill = b_calls();
    let ids = submitter.join().unwrap();

    // Stale copies (each object as it was created) while the mesh is busy.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let nats = raw(&url).await;
        let js = async_nats::jetstream::new(nats);
        for o in originals.iter().take(INJECTED) {
            js.publish("peo.cap.step.a", o.clone().into()).await.unwrap().await.unwrap();
        }
    });
    let mut b2 = serve(&url, &dir.join("b.toml"), &log("b-restarted"));

    let done = client.wait_done(&ids, Duration::from_secs(300)).unwrap();
    let elapsed = t0.elapsed();
    // Let the injected copies still queued drain, then stop the nodes (SIGTERM: they
    // print their counters).
    let drained = Instant::now() + Duration::from_secs(30);
    while client.backlog().unwrap().0 > 0 && Instant::now() < drained {
        std::thread::sleep(Duration::from_millis(100));
    }
    for child in [&mut a, &mut b2, &mut c] {
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        child.wait().unwrap();
    }

    let (backlog, done_messages) = client.backlog().unwrap();
    let mut executed_once = 0;
    let mut compacted = 0;
    for id in &ids {
        let Some(bytes) = done.get(id) else { continue };
        let o = Object::from_bytes(bytes, &Default::default()).unwrap();
        assert_eq!(o.status(), Status::Succeeded, "{id}");
        let report = o.verify(&Trust::any()).into_result().unwrap();
        // Executions per state: the newest checkpoint's summary counts the pruned ones.
        let mut executes: std::collections::BTreeMap<String, u64> = Default::default();
        for r in o.records().unwrap() {
            match r.body {
                Body::Execute { .. } => *executes.entry(r.state).or_default() += 1,
                Body::Checkpoint { pruned, summary, .. } if pruned == report.records_pruned => {
                    let s: serde_json::Value = serde_json::from_str(&summary).unwrap();
                    for (state, n) in s["attempts"].as_object().unwrap() {
                        *executes.entry(state.clone()).or_default() += n.as_u64().unwrap();
                    }
                }
                _ => {}
            }
        }
        let once: std::collections::BTreeMap<String, u64> =
            [("A", 1), ("B", 1), ("C", 1)].map(|(s, n)| (s.into(), n)).into();
        assert_eq!(executes, once, "{id}: each task once in the history");
        compacted += (report.records_pruned > 0) as usize;
        executed_once += 1;
    }
    let all_logs: Vec<PathBuf> = ["a", "b", "b-restarted", "c"].iter().map(|n| log(n)).collect();
    let executions = lines(&calls).len();
    let unique: std::collections::BTreeSet<String> = lines(&calls).into_iter().collect();
    let duplicates = count(&all_logs, ": duplicate: ");
    // The visits the kill interrupted ran their task again (same idempotency key): the
    // proof that it landed inside visits (a handler's own marker file may outlive it).
    let mid_visit = executions > unique.len();
    let reconciled = count(&all_logs, ": reconciled: ");
    println!(
        "fault test: {OBJECTS} objects through 3 peo serve nodes (16 in flight each) on nats-server -js, {:.1} s",
        elapsed.as_secs_f64()
    );
    println!("  node-b killed with SIGKILL mid-visit: {mid_visit} (after {at_kill} step.b calls), then restarted");
    println!("  finished: {} of {OBJECTS}; lost: {}", done.len(), OBJECTS - done.len());
    println!("  finished objects in PEO_DONE: {done_messages} (one each); messages left in the work queue: {backlog}");
    println!(
        "  handler executions: {executions} for {} task attempts ({} re-run after the kill, same idempotency key)",
        unique.len(),
        executions - unique.len()
    );
    println!("  histories: {executed_once} verify, each with step.a, step.b, step.c executed exactly once");
    println!("  compacted (Compaction After 64, Keep 8): {compacted} of {OBJECTS}");
    println!(
        "  stale copies injected: {INJECTED}; duplicates recognised and dropped: {duplicates}; reconciled: {reconciled}"
    );
    assert!(mid_visit, "the kill must land inside node-b's visits (a task must run again)");
    assert_eq!(done.len(), OBJECTS, "no object is lost");
    assert_eq!(done_messages as usize, OBJECTS, "no object finishes twice");
    assert_eq!(executed_once, OBJECTS);
    assert_eq!(compacted, OBJECTS, "every object was compacted on its way");
    assert_eq!(unique.len(), 3 * OBJECTS, "every task attempt ran");
    assert!(duplicates >= INJECTED, "every stale copy is recognised ({duplicates} < {INJECTED})");
    assert_eq!(backlog, 0, "nothing is left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `peo serve` nodes compact a polling loop and keep what they prune in the mesh;
/// `peo verify --archive nats://...` audits the finished object against it.
#[test]
fn peo_verify_audits_against_the_archive_a_jetstream_mesh_keeps() {
    let server = LocalServer::start().unwrap();
    let url = server.url().to_owned();
    let dir = std::env::temp_dir().join(format!("peo-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("n.toml"),
        "id = \"counter\"\ndomain = \"eu\"\ntrust = \"any\"\ncompaction = { after = 6, keep = 2 }\n[handlers]\n\"count\" = \"python3 -c 'import json,sys; d=json.load(sys.stdin); d[\\\"n\\\"]+=1; print(json.dumps(d))'\"\n",
    )
    .unwrap();
    let plan = serde_json::json!({"StartAt": "Count", "States": {
        "Count": {"Type": "Task", "Resource": "count", "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 8, "Next": "Done"}],
                  "Default": "Count"},
        "Done": {"Type": "Succeed"}}});
    let object = Object::create(&plan, Default::default(), &serde_json::json!({"n": 0}), &Default::default()).unwrap();
    std::fs::write(dir.join("o.peo"), object.to_bytes()).unwrap();
    let mut node = serve(&url, &dir.join("n.toml"), &dir.join("n.log"));
    let run = |args: &[&str]| Command::new(peo()).args(args).current_dir(&dir).output().unwrap();
    let submitted = run(&["submit", "--nats", &url, "o.peo", "--wait", "30", "--out", "done"]);
    node.kill().unwrap();
    node.wait().unwrap();
    assert!(submitted.status.success(), "{}", String::from_utf8_lossy(&submitted.stderr));
    let final_file = dir.join("done").join(format!("{}.peo", object.id().to_hex()));
    let last = Object::from_bytes(&std::fs::read(&final_file).unwrap(), &Default::default()).unwrap();
    assert!(last.pruned() > 0, "compacted");
    let audited = run(&["verify", final_file.to_str().unwrap(), "--archive", &url, "--json"]);
    assert!(audited.status.success(), "{}", String::from_utf8_lossy(&audited.stderr));
    let report: serde_json::Value = serde_json::from_slice(&audited.stdout).unwrap();
    assert_eq!(report["valid"], true, "{report}");
    assert!(report["checkpoints_audited"].as_u64().unwrap() >= 1, "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `peo serve --replicas`: from 1 to 5, and what it asks reaches the server (a single
/// server refuses streams kept by three).
#[test]
fn peo_serve_replicas_are_checked_and_reach_the_server() {
    let server = LocalServer::start().unwrap();
    let url = server.url().to_owned();
    let dir = std::env::temp_dir().join(format!("peo-replicas-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("n.toml"), "id = \"n\"\ndomain = \"eu\"\ntrust = \"any\"\n").unwrap();
    let serve = |replicas: &str| {
        let out = Command::new(peo())
            .args(["serve", "--nats", &url, "--node", "n.toml", "--replicas", replicas, "--idle-exit", "1"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(!out.status.success(), "--replicas {replicas} was taken");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    for n in ["0", "6"] {
        let e = serve(n);
        assert!(e.contains(&format!("invalid value '{n}' for '--replicas <REPLICAS>': {n} is not in 1..=5")), "{e}");
    }
    let e = serve("3");
    assert!(e.contains("replicas > 1 not supported in non-clustered mode"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A raw NATS client, as a misbehaving peer would open one (with the TLS and credentials
/// of the environment, like every peo connection).
async fn raw(url: &str) -> async_nats::Client {
    let co = peo_jetstream::Security::from_env().apply(async_nats::ConnectOptions::new()).await.unwrap();
    co.connect(url).await.unwrap()
}

#[test]
#[ignore = "run by scripts/test with --ignored --nocapture"]
fn peo_send_key_signs_the_event_an_await_naming_signers_takes() {
    let server = LocalServer::start().unwrap();
    let url = server.url().to_owned();
    let dir = std::env::temp_dir().join(format!("peo-signed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| Command::new(peo()).args(args).current_dir(&dir).output().unwrap();
    assert!(run(&["keygen", "-o", "ops.key"]).status.success());
    assert!(run(&["keygen", "-o", "eve.key"]).status.success());
    let ops = std::fs::read_to_string(dir.join("ops.key.pub")).unwrap();
    std::fs::write(dir.join("n.toml"), "id = \"waiter\"\ndomain = \"eu\"\ntrust = \"any\"\n").unwrap();
    let plan = json!({"StartAt": "Approve", "States": {"Approve": {"Type": "Pass", "ResultPath": "$.approval", "End": true}},
                      "Await": {"Approve": {"Event": "approved", "Signers": [ops.trim()]}}});
    let object = Object::create(&plan, Default::default(), &json!({}), &Default::default()).unwrap();
    let id = object.id().to_hex();
    std::fs::write(dir.join("o.peo"), object.to_bytes()).unwrap();
    let mut node = serve(&url, &dir.join("n.toml"), &dir.join("n.log"));
    assert!(run(&["submit", "--nats", &url, "o.peo"]).status.success());
    // Unsigned, and signed by a key the plan does not name: sent, then dropped.
    assert!(run(&["send", "--nats", &url, &id, "approved", r#"{"by": "x"}"#]).status.success());
    assert!(run(&["send", "--nats", &url, &id, "approved", r#"{"by": "eve"}"#, "--key", "eve.key"]).status.success());
    let waited = run(&["wait", "--nats", &url, &id, "--timeout", "2", "--json"]);
    assert!(!waited.status.success(), "a forged approval finished it");
    let sent = run(&["send", "--nats", &url, &id, "approved", r#"{"by": "ops"}"#, "--key", "ops.key"]);
    assert!(String::from_utf8_lossy(&sent.stdout).contains(&format!("signed by {}", ops.trim())));
    let waited = run(&["wait", "--nats", &url, &id, "--timeout", "20", "--out", "done"]);
    node.kill().unwrap();
    node.wait().unwrap();
    assert!(waited.status.success(), "{}", String::from_utf8_lossy(&waited.stderr));
    let done =
        Object::from_bytes(&std::fs::read(dir.join("done").join(format!("{id}.peo"))).unwrap(), &Default::default())
            .unwrap();
    assert_eq!((done.status(), &done.data()["approval"]), (Status::Succeeded, &json!({"by": "ops"})));
    assert_eq!(count(&[dir.join("n.log")], "ignored: event `approved`"), 2, "{:?}", lines(&dir.join("n.log")));
    std::fs::remove_dir_all(&dir).unwrap();
}
