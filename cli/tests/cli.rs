//! The `peo` command end to end, as a user runs it: keys, a new object, visits at two
//! nodes whose handlers are shell commands, inspection, verification, histories; and bad
//! input to every command (one line on stderr, a non-zero exit, never a backtrace).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn peo(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_peo")).args(args).current_dir(dir).output().expect("run peo")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = peo(dir, args);
    assert!(out.status.success(), "peo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A failure as users see it: non-zero, one line on stderr naming the problem.
fn fails(dir: &Path, args: &[&str], says: &str) {
    let out = peo(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "peo {args:?} should fail");
    assert_eq!(stderr.trim().lines().count(), 1, "peo {args:?}: one line expected, got {stderr}");
    assert!(stderr.starts_with("peo: ") && stderr.contains(says), "peo {args:?}: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peo-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `peo run mesh.toml` in `dir`, reads its output line by line until `enough` says
/// so, then kills it for real (SIGKILL); returns the lines read.
fn run_and_kill(dir: &Path, mut enough: impl FnMut(&str) -> bool) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_peo"))
        .args(["run", "mesh.toml"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let stop = enough(&line);
        seen.push(line);
        if stop {
            break;
        }
    }
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success(), "the run was killed: {seen:#?}");
    seen
}

const PLAN: &str = r#"{"StartAt": "Reserve", "States": {
  "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Charge"},
  "Charge": {"Type": "Task", "Resource": "payment.charge", "ResultPath": "$.payment", "End": true,
             "Retry": [{"ErrorEquals": ["Bank.Busy"], "IntervalSeconds": 1, "MaxAttempts": 1}]}}}"#;

fn setup(dir: &Path) {
    std::fs::write(dir.join("plan.json"), PLAN).unwrap();
    std::fs::write(dir.join("input.json"), r#"{"sku": "tea", "qty": 2}"#).unwrap();
    std::fs::write(
        dir.join("warehouse.toml"),
        r#"id = "warehouse-1"
domain = "eu"
key = "wh.key"
trust = "any"
facts = { site = "lyon" }
policy = "warehouse.cedar"
[handlers]
"inventory.reserve" = "sed 's/.*\"qty\":\\([0-9]*\\).*/{\"held\": \\1}/'"
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("warehouse.cedar"),
        "permit(principal, action, resource) when { context.node_domain == \"eu\" };",
    )
    .unwrap();
    std::fs::write(
        dir.join("bank.toml"),
        r#"id = "bank-1"
domain = "us"
key = "bank.key"
trust = ["shop.key.pub", "wh.key.pub", "bank.key.pub"]
[handlers]
"payment.charge" = "cat > /dev/null; if [ \"$PEO_ATTEMPT\" = 0 ]; then echo '{\"error\": \"Bank.Busy\", \"cause\": \"later\"}' >&2; exit 1; fi; echo '{\"charged\": 30}'"
"#,
    )
    .unwrap();
}

#[test]
fn an_object_travels_between_two_command_nodes_and_verifies() {
    let dir = workdir("journey");
    setup(&dir);
    for k in ["shop.key", "wh.key", "bank.key"] {
        let out: Value = serde_json::from_str(&ok(&dir, &["keygen", "-o", k, "--json"])).unwrap();
        assert_eq!(out["public_key"].as_str().unwrap().len(), 64);
    }
    let t0 = "1700000000000";
    let created: Value = serde_json::from_str(&ok(
        &dir,
        &["new", "plan.json", "--input", "input.json", "--key", "shop.key", "--now", t0, "-o", "o0.peo", "--json"],
    ))
    .unwrap();
    assert_eq!(created["id"].as_str().unwrap().len(), 32);

    let v1: Value = serde_json::from_str(&ok(
        &dir,
        &["visit", "o0.peo", "--node", "warehouse.toml", "--now", t0, "-o", "o1.peo", "--json"],
    ))
    .unwrap();
    assert_eq!(v1["disposition"]["kind"], "delegate");
    assert_eq!(v1["disposition"]["capability"], "payment.charge");
    // The first charge fails with a named error from the command's stderr: retried later.
    let v2: Value = serde_json::from_str(&ok(
        &dir,
        &["visit", "o1.peo", "--node", "bank.toml", "--now", "1700000001000", "-o", "o2.peo", "--json"],
    ))
    .unwrap();
    assert_eq!(v2["disposition"]["kind"], "dormant");
    assert_eq!(v2["disposition"]["reason"], "retry");
    let v3: Value = serde_json::from_str(&ok(
        &dir,
        &["visit", "o2.peo", "--node", "bank.toml", "--now", "1700000010000", "-o", "o3.peo", "--json"],
    ))
    .unwrap();
    assert_eq!(v3["disposition"]["kind"], "terminated");
    assert_eq!(v3["status"], "succeeded");
    assert_eq!(v3["disposition"]["output"]["payment"]["charged"], 30);
    assert_eq!(v3["disposition"]["output"]["reservation"]["held"], 2);

    let text = ok(&dir, &["inspect", "o3.peo"]);
    assert!(text.contains("status succeeded"), "{text}");
    for needle in [
        "genesis",
        "execute",
        "delegate",
        "dormant",
        "reentry",
        "terminate",
        "warehouse-1 (eu)",
        "bank-1 (us)",
        "Bank.Busy",
        "policy allow",
    ] {
        assert!(text.contains(needle), "inspect lacks {needle}: {text}");
    }
    let doc: Value = serde_json::from_str(&ok(&dir, &["inspect", "o3.peo", "--json"])).unwrap();
    assert_eq!(doc["status"], "succeeded");
    // `--now` is the node's clock (a manual one): every record carries the time it gave,
    // and the retry woke by it (above).
    let times: std::collections::BTreeSet<i64> =
        doc["memory"].as_array().unwrap().iter().map(|r| r["time_ms"].as_i64().unwrap()).collect();
    assert_eq!(times, [1_700_000_000_000, 1_700_000_001_000, 1_700_000_010_000].into(), "{doc}");

    let verified = ok(&dir, &["verify", "o3.peo", "--trust", "shop.key.pub,wh.key.pub,bank.key.pub"]);
    assert!(verified.contains("is valid"), "{verified}");
    let pub_shop = std::fs::read_to_string(dir.join("shop.key.pub")).unwrap();
    fails(&dir, &["verify", "o3.peo", "--trust", pub_shop.trim()], "NOT valid");

    let history: Value = serde_json::from_str(&ok(&dir, &["history", "o3.peo", "--format", "sfn"])).unwrap();
    let kinds: Vec<&str> = history["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"ExecutionStarted"));
    assert_eq!(kinds.last(), Some(&"ExecutionSucceeded"));
    for k in ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskFailed", "TaskStateExited"] {
        assert!(kinds.contains(&k), "history lacks {k}: {kinds:?}");
    }
    // peo's own facts are apart from Step Functions' events, each after the event it follows.
    let peo: Vec<&str> = history["peo"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    for k in ["Delegated", "Dormant"] {
        assert!(peo.contains(&k), "the peo section lacks {k}: {peo:?}");
    }
    assert!(kinds.iter().all(|k| !k.starts_with("peo:")), "{kinds:?}");
    let ids: Vec<u64> = history["events"].as_array().unwrap().iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_gets_one_line_and_a_non_zero_exit() {
    let dir = workdir("bad");
    setup(&dir);
    ok(&dir, &["keygen", "-o", "wh.key"]);
    ok(&dir, &["keygen", "-o", "bank.key"]);
    ok(&dir, &["keygen", "-o", "shop.key"]);
    ok(&dir, &["new", "plan.json", "-o", "o.peo"]);
    std::fs::write(dir.join("garbage.peo"), b"PEO1 definitely not an object").unwrap();
    std::fs::write(dir.join("bad.toml"), "id = \"x\"\ndomain = ").unwrap();
    std::fs::write(dir.join("unknown.toml"), "id = \"x\"\ndomain = \"d\"\ncolour = \"red\"\n").unwrap();
    std::fs::write(dir.join("noid.toml"), "domain = \"d\"\n").unwrap();
    std::fs::write(dir.join("bad.json"), "{not json").unwrap();
    std::fs::write(
        dir.join("badplan.json"),
        r#"{"StartAt": "X", "States": {"X": {"Type": "Task", "Resourse": "a", "End": true}}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("notakey"), "hello").unwrap();

    fails(&dir, &["inspect", "missing.peo"], "cannot read missing.peo");
    fails(&dir, &["inspect", "garbage.peo"], "garbage.peo: decode error");
    fails(&dir, &["verify", "garbage.peo"], "decode error");
    fails(&dir, &["history", "garbage.peo"], "decode error");
    fails(&dir, &["history", "o.peo", "--format", "xml"], "unknown history format");
    fails(&dir, &["new", "bad.json", "-o", "x.peo"], "bad.json is not valid JSON");
    fails(&dir, &["new", "badplan.json", "-o", "x.peo"], "Resourse");
    fails(&dir, &["new", "plan.json", "--key", "notakey", "-o", "x.peo"], "not a key file");
    fails(&dir, &["visit", "o.peo", "--node", "bad.toml", "-o", "x.peo"], "bad.toml is not valid TOML");
    fails(&dir, &["visit", "o.peo", "--node", "unknown.toml", "-o", "x.peo"], "unknown field `colour`");
    fails(&dir, &["visit", "o.peo", "--node", "noid.toml", "-o", "x.peo"], "needs an `id`");
    fails(&dir, &["visit", "o.peo", "--node", "missing.toml", "-o", "x.peo"], "cannot read missing.toml");
    fails(&dir, &["visit", "garbage.peo", "--node", "warehouse.toml", "-o", "x.peo"], "decode error");
    fails(&dir, &["visit", "o.peo", "--node", "warehouse.toml", "--event", "=1", "-o", "x.peo"], "needs a name");
    fails(&dir, &["visit", "o.peo", "--node", "warehouse.toml", "--event", "go={", "-o", "x.peo"], "not JSON");
    fails(&dir, &["verify", "o.peo", "--trust", "nothex"], "cannot read nothex");
    fails(&dir, &["trace", "garbage.peo", "-o", "x.svg"], "decode error");
    fails(&dir, &["trace", "o.peo", "-o", "no/such/dir/x.svg"], "cannot write no/such/dir/x.svg");
    fails(&dir, &["keygen", "-o", "no/such/dir/k"], "cannot write no/such/dir/k");
    // Usage errors come from clap, with exit status 2.
    let out = peo(&dir, &["visit", "o.peo"]);
    assert_eq!(out.status.code(), Some(2));
    // A handler command that fails without a named error: a recorded task error, the
    // object ends failed, and the command itself succeeds.
    std::fs::write(
        dir.join("broken.toml"),
        "id = \"w\"\ndomain = \"eu\"\ntrust = \"any\"\n[handlers]\n\"inventory.reserve\" = \"exit 7\"\n",
    )
    .unwrap();
    let v: Value =
        serde_json::from_str(&ok(&dir, &["visit", "o.peo", "--node", "broken.toml", "-o", "x.peo", "--json"])).unwrap();
    assert_eq!(v["status"], "failed");
    assert_eq!(v["disposition"]["error"]["error"], "peo.HandlerFailed");
    // A handler command that outlives its node's handler_timeout is stopped, with what it
    // started (the `sleep` would otherwise hold its pipes for 60 s), and the attempt
    // fails with States.Timeout.
    std::fs::write(
        dir.join("slow.toml"),
        "id = \"w\"\ndomain = \"eu\"\ntrust = \"any\"\nhandler_timeout = 0.5\n[handlers]\n\"inventory.reserve\" = \"sleep 60; echo 1\"\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let v: Value =
        serde_json::from_str(&ok(&dir, &["visit", "o.peo", "--node", "slow.toml", "-o", "x.peo", "--json"])).unwrap();
    assert_eq!(v["disposition"]["error"]["error"], "States.Timeout", "{v}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the command was not stopped");
    std::fs::write(dir.join("bad-timeout.toml"), "id = \"w\"\ndomain = \"eu\"\nhandler_timeout = -1\n").unwrap();
    fails(&dir, &["visit", "o.peo", "--node", "bad-timeout.toml", "-o", "x.peo"], "handler_timeout");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_mesh_resumes_its_parked_object_from_sqlite() {
    let dir = workdir("mesh");
    setup(&dir);
    for k in ["shop.key", "wh.key", "bank.key"] {
        ok(&dir, &["keygen", "-o", k]);
    }
    std::fs::write(
        dir.join("order.json"),
        r#"{"StartAt": "Reserve", "States": {
  "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Ship"},
  "Ship": {"Type": "Pass", "ResultPath": "$.shipment", "Next": "Charge"},
  "Charge": {"Type": "Task", "Resource": "payment.charge", "ResultPath": "$.payment", "End": true}},
 "Await": {"Ship": {"Event": "shipped", "TimeoutSeconds": 600}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("pay.toml"),
        "id = \"bank-1\"\ndomain = \"us\"\ntrust = \"any\"\n[handlers]\n\"payment.charge\" = \"cat >/dev/null; echo '{\\\"charged\\\": 30}'\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("mesh.toml"),
        "nodes = [\"warehouse.toml\", \"pay.toml\"]\nintent = \"order.json\"\ninput = \"input.json\"\nkey = \"shop.key\"\noutput = \"result.peo\"\n",
    )
    .unwrap();

    // The first run parks the object on its awaited event; kill it there, for real.
    let seen = run_and_kill(&dir, |line| line.contains("parked at") && line.contains("shipped"));
    let id = seen.iter().find_map(|l| l.strip_prefix("created ")).unwrap().split_whitespace().next().unwrap();
    assert_eq!(id.len(), 32);
    assert!(dir.join("mesh.db").exists());

    // An event for it, then a new run: it resumes from the database and finishes.
    let queued = ok(&dir, &["event", "mesh.toml", id, "shipped", r#"{"carrier": "post"}"#]);
    assert!(queued.contains("queued"), "{queued}");
    let out = ok(&dir, &["run", "mesh.toml"]);
    assert!(out.contains("resuming 1 object"), "{out}");
    assert!(out.contains("succeeded"), "{out}");
    let doc: Value = serde_json::from_str(&ok(&dir, &["inspect", "result.peo", "--json"])).unwrap();
    assert_eq!(doc["status"], "succeeded");
    assert_eq!(doc["data"]["shipment"]["carrier"], "post");
    assert_eq!(doc["data"]["payment"]["charged"], 30);
    ok(&dir, &["verify", "result.peo"]);
    // Events for unknown or finished objects are refused.
    fails(&dir, &["event", "mesh.toml", "00000000000000000000000000000000", "shipped"], "no object");
    fails(&dir, &["event", "mesh.toml", id, "shipped"], "already finished");
    fails(&dir, &["run", "missing-mesh.toml"], "cannot read missing-mesh.toml");
    std::fs::write(dir.join("empty.toml"), "intent = \"order.json\"\n").unwrap();
    fails(&dir, &["run", "empty.toml"], "needs `nodes");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_order_fulfilment_example_runs_to_succeeded_and_draws_its_journey() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mesh = root.join("examples/order-fulfilment/mesh.toml");
    let dir = workdir("order");
    let out = ok(&dir, &["run", mesh.to_str().unwrap(), "--dir", dir.to_str().unwrap()]);
    assert!(out.contains("succeeded after"), "{out}");
    for needle in
        ["advice terminate overridden", "policy deny by charge-only-in-eu", "Bank.Busy", "parked at", "event `shipped`"]
    {
        assert!(out.contains(needle), "the run lacks {needle}: {out}");
    }
    let keys = ["shop", "warehouse", "payments-eu", "payments-us", "review"]
        .map(|k| root.join(format!("examples/order-fulfilment/keys/{k}.key.pub")).to_string_lossy().into_owned())
        .join(",");
    ok(&dir, &["verify", "order.peo", "--trust", &keys]);
    let doc: Value = serde_json::from_str(&ok(&dir, &["inspect", "order.peo", "--json"])).unwrap();
    let records = doc["memory"].as_array().unwrap().len();
    // The journey SVG: well-formed enough to count, one group per record, a lane per node,
    // arrows for the delegations.
    let svg = std::fs::read_to_string(dir.join("order.svg")).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<g class=\"record\"").count(), records);
    assert_eq!(svg.matches("<g class=\"lane\"").count(), 5, "creator + four nodes");
    assert_eq!(svg.matches("class=\"delegation\"").count(), 3);
    assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
    ok(&dir, &["trace", "order.peo", "-o", "again.svg"]);
    assert_eq!(std::fs::read_to_string(dir.join("again.svg")).unwrap(), svg);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_mesh_whose_nodes_all_decline_the_object_stops_with_a_reason() {
    let dir = workdir("decline");
    setup(&dir);
    ok(&dir, &["keygen", "-o", "wh.key"]);
    // Two nodes offer the charge, but the object's own policy forbids charging anywhere.
    std::fs::write(
        dir.join("context.json"),
        r#"{"policies": [{"id": "never", "text": "forbid(principal, action == Peo::Action::\"execute\", resource == Peo::Capability::\"payment.charge\");"}]}"#,
    )
    .unwrap();
    for (file, id) in [("p1.toml", "pay-1"), ("p2.toml", "pay-2")] {
        std::fs::write(
            dir.join(file),
            format!("id = \"{id}\"\ndomain = \"eu\"\ntrust = \"any\"\n[handlers]\n\"payment.charge\" = \"cat >/dev/null; echo 1\"\n"),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("mesh.toml"),
        "nodes = [\"warehouse.toml\", \"p1.toml\", \"p2.toml\"]\nintent = \"plan.json\"\ncontext = \"context.json\"\ninput = \"input.json\"\n",
    )
    .unwrap();
    fails(&dir, &["run", "mesh.toml"], "no node of the mesh will take it for `payment.charge`");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_compacted_mesh_object_verifies_offline_and_audits_against_the_mesh_archive() {
    let dir = workdir("compact");
    setup(&dir);
    for k in ["shop.key", "wh.key", "bank.key"] {
        ok(&dir, &["keygen", "-o", k]);
    }
    // A loop of 30 Pass/Choice rounds after the reservation: the bank's visit starts
    // with a checkpoint that folds the warehouse's records.
    std::fs::write(
        dir.join("plan.json"),
        r#"{"StartAt": "Reserve", "Compaction": {"After": 16, "Keep": 2}, "States": {
  "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Count"},
  "Count": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($.c.v, 1)"}, "ResultPath": "$.c", "Next": "Loop"},
  "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.c.v", "NumericLessThan": 30, "Next": "Count"}], "Default": "Charge"},
  "Charge": {"Type": "Task", "Resource": "payment.charge", "ResultPath": "$.payment", "End": true,
             "Retry": [{"ErrorEquals": ["Bank.Busy"], "IntervalSeconds": 1, "MaxAttempts": 1}]}}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("input.json"), r#"{"sku": "tea", "qty": 2, "c": {"v": 0}}"#).unwrap();
    std::fs::write(
        dir.join("mesh.toml"),
        "nodes = [\"warehouse.toml\", \"bank.toml\"]\nintent = \"plan.json\"\ninput = \"input.json\"\nkey = \"shop.key\"\noutput = \"result.peo\"\n",
    )
    .unwrap();
    let out = ok(&dir, &["run", "mesh.toml"]);
    assert!(out.contains("succeeded"), "{out}");
    let keys = "shop.key.pub,wh.key.pub,bank.key.pub";
    let offline: Value = serde_json::from_str(&ok(&dir, &["verify", "result.peo", "--trust", keys, "--json"])).unwrap();
    assert!(offline["records_pruned"].as_u64().unwrap() > 50, "{offline}");
    assert_eq!(offline["checkpoint"]["node"], "bank-1");
    assert_eq!(offline["checkpoint"]["trusted"], true);
    let audit: Value =
        serde_json::from_str(&ok(&dir, &["verify", "result.peo", "--trust", keys, "--json", "--archive", "mesh.db"]))
            .unwrap();
    assert_eq!(audit["valid"], true, "{audit}");
    assert_eq!(audit["records_pruned"], 0);
    assert!(audit["checkpoints_audited"].as_u64().unwrap() >= 1, "{audit}");
    let text = ok(&dir, &["verify", "result.peo", "--trust", keys]);
    assert!(text.contains("attested by bank-1 (domain us)"), "{text}");
    // One pruned record proven from the archive, and the proof checked against the object
    // alone; a tampered proof and a record that was not pruned are refused.
    let proof: Value =
        serde_json::from_str(&ok(&dir, &["prove", "result.peo", "--seq", "1", "--archive", "mesh.db"])).unwrap();
    assert_eq!(proof["index"], 1, "{proof}");
    std::fs::write(dir.join("proof.json"), proof.to_string()).unwrap();
    let held = ok(&dir, &["prove", "result.peo", "--check", "proof.json"]);
    assert!(held.contains("record 1 is part of"), "{held}");
    let mut tampered = proof.clone();
    tampered["record_hash"] = json!("0".repeat(64));
    std::fs::write(dir.join("tampered.json"), tampered.to_string()).unwrap();
    fails(&dir, &["prove", "result.peo", "--check", "tampered.json"], "proof");
    fails(&dir, &["prove", "result.peo", "--seq", "100000", "--archive", "mesh.db"], "not a pruned record");
    // Without the mesh's archive, the audit says what it lacks.
    std::fs::copy(dir.join("mesh.db"), dir.join("other.db")).unwrap();
    let db = rusqlite::Connection::open(dir.join("other.db")).unwrap();
    assert!(db.execute("DELETE FROM archive", []).unwrap() >= 1);
    drop(db);
    fails(&dir, &["verify", "result.peo", "--archive", "other.db"], "no segment ending at");
    // A node's own default is checked like the plan's.
    std::fs::write(dir.join("bad.toml"), "id = \"x\"\ndomain = \"eu\"\ncompaction = { after = 2, keep = 2 }\n")
        .unwrap();
    fails(&dir, &["visit", "result.peo", "--node", "bad.toml", "--output", "x.peo"], "Keep < After");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_mesh_runs_a_parallel_and_a_map_across_its_nodes_killed_and_resumed_mid_fan_out() {
    let dir = workdir("fanout");
    std::fs::write(
        dir.join("plan.json"),
        r#"{"StartAt": "Both", "States": {
  "Both": {"Type": "Parallel", "ResultPath": "$.both", "Next": "Each", "Branches": [
    {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "a.work", "End": true}}},
    {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "b.work", "End": true}}}]},
  "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": "$.each", "End": true,
           "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": {"Type": "Task", "Resource": "b.work", "End": true}}}}}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("input.json"), r#"{"items": [1, 2, 3, 4, 5, 6]}"#).unwrap();
    std::fs::write(
        dir.join("a.toml"),
        "id = \"node-a\"\ndomain = \"eu\"\nkey = \"a.key\"\ntrust = [\"a.key.pub\", \"b.key.pub\"]\n[handlers]\n\"a.work\" = \"cat >/dev/null; echo '{\\\"a\\\": 1}'\"\n",
    )
    .unwrap();
    // b.work echoes its input, slowly enough to kill the run while children are out.
    std::fs::write(
        dir.join("b.toml"),
        "id = \"node-b\"\ndomain = \"us\"\nkey = \"b.key\"\ntrust = [\"a.key.pub\", \"b.key.pub\"]\n[handlers]\n\"b.work\" = \"sleep 0.2; cat\"\n",
    )
    .unwrap();
    for k in ["a.key", "b.key"] {
        ok(&dir, &["keygen", "-o", k]);
    }
    std::fs::write(
        dir.join("mesh.toml"),
        "nodes = [\"a.toml\", \"b.toml\"]\nintent = \"plan.json\"\ninput = \"input.json\"\nkey = \"a.key\"\noutput = \"result.peo\"\n",
    )
    .unwrap();

    // Kill the first run once the Map's children are out and two of them have ended.
    let (mut fanouts, mut echoed) = (0, 0);
    let seen = run_and_kill(&dir, |line| {
        fanouts += usize::from(line.contains("child object(s)"));
        echoed += usize::from(fanouts >= 2 && line.contains("b.work"));
        echoed == 2
    });
    assert_eq!(echoed, 2, "killed mid-Map: {seen:#?}");

    // A new run resumes the parent and its children from the database and joins them.
    let out = ok(&dir, &["run", "mesh.toml"]);
    assert!(out.contains("resuming"), "{out}");
    assert!(out.contains("succeeded"), "{out}");
    let doc: Value = serde_json::from_str(&ok(&dir, &["inspect", "result.peo", "--json"])).unwrap();
    assert_eq!(doc["status"], "succeeded", "{doc:#}");
    assert_eq!(doc["data"]["both"], serde_json::json!([{"a": 1}, {"items": [1, 2, 3, 4, 5, 6]}]));
    assert_eq!(doc["data"]["each"], serde_json::json!([1, 2, 3, 4, 5, 6]));
    // Children ran at the node offering their capability; the parent verifies offline.
    let verified = ok(&dir, &["verify", "result.peo", "--trust", "a.key.pub,b.key.pub"]);
    assert!(verified.contains("valid"), "{verified}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn permissions_are_printed_for_each_role_from_a_node_file_or_flags() {
    let dir = workdir("permissions");
    setup(&dir);
    // From flags and from the node file `peo serve` would run: the same block.
    let by_flags = ok(&dir, &["permissions", "node", "--id", "ship", "--capability", "shipping.ship"]);
    assert!(by_flags.starts_with("permissions: {"), "{by_flags}");
    assert!(by_flags.contains("\"$JS.API.CONSUMER.MSG.NEXT.PEO.cap_shipping~ship\""), "{by_flags}");
    assert!(by_flags.contains("\"$JS.ACK.PEO.node_ship.>\""), "{by_flags}");
    assert!(!by_flags.contains("peo.event"), "a node sends no events: {by_flags}");
    std::fs::write(dir.join("ship.toml"), "id = \"ship\"\ndomain = \"eu\"\n[handlers]\n\"shipping.ship\" = \"true\"\n")
        .unwrap();
    assert_eq!(ok(&dir, &["permissions", "node", "--node", "ship.toml"]), by_flags);
    let client = ok(&dir, &["permissions", "client"]);
    assert!(client.contains("\"$KV.peo_objects.>\"") && !client.contains("peo.done"), "{client}");
    let events = ok(&dir, &["permissions", "events", "--objects", "0a1b"]);
    assert!(events.contains("\"peo.event.0a1b.>\"") && !events.contains("$KV"), "{events}");

    fails(&dir, &["permissions", "admin"], "unknown role `admin`: node, client or events");
    fails(&dir, &["permissions", "node"], "need --node FILE, or --id and --capability");
    fails(&dir, &["permissions", "client", "--id", "x"], "are for `node`, not `client`");
    fails(&dir, &["permissions", "node", "--node", "missing.toml"], "missing.toml");
    // A mistake in `peo serve`'s options is found before it connects anywhere.
    fails(
        &dir,
        &["serve", "--nats", "nats://127.0.0.1:1", "--node", "ship.toml", "--max-deliver=-3"],
        "--max-deliver must be a number of deliveries, or 0 for no limit (got -3)",
    );
    fails(
        &dir,
        &["serve", "--nats", "nats://127.0.0.1:1", "--node", "ship.toml", "--window", "0"],
        "--window must be a whole number of deliveries in flight at once, from 1 to 1024, not 0",
    );
    fails(
        &dir,
        &["serve", "--nats", "nats://127.0.0.1:1", "--node", "ship.toml", "--window", "1025"],
        "--window must be a whole number of deliveries in flight at once, from 1 to 1024, not 1025",
    );
}
