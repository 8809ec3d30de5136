//! Compaction: a polling loop decides the same with and without checkpoints, stays
//! small for as long as it runs, verifies offline, and audits against its archive.

use peo_core::checkpoint::{PrunedProof, Segment};
use peo_core::merkle::{Frontier, Proof};
use peo_core::{
    Action, Context, CreateOptions, Disposition, ErrorKind, Limits, NodeSpec, Object, ObjectId, SigningKey, Step,
    TaskOutcome, Trust, TrustedKey,
};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn trust() -> Trust {
    Trust::store([TrustedKey {
        key: key().public_key(),
        nodes: vec!["poller".into()],
        domain: "eu".into(),
        subjects: vec!["ops".into()],
    }])
}

/// A Task (that assigns a variable), a Pass that reads `$$`, a Choice (that reads the
/// variable) and a Wait, every minute, with retries of
/// a flaky poll and an `Adapt` rule that fires once on the history.
fn plan(compaction: Option<(u32, u32)>, polls: u64) -> Value {
    let mut p = json!({
        "StartAt": "Poll",
        "States": {
            "Poll": {
                "Type": "Task", "Resource": "poll", "ResultPath": "$.poll", "Next": "Note",
                "Assign": {"polled.$": "$.n"},
                "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 2, "IntervalSeconds": 1}]
            },
            "Note": {
                "Type": "Pass", "ResultPath": "$.note",
                "Parameters": {
                    "entered.$": "$$.State.EnteredTime", "start.$": "$$.Execution.StartTime",
                    "input.$": "$$.Execution.Input"
                },
                "Next": "Check"
            },
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$polled", "NumericGreaterThanEquals": polls, "Next": "Done"}],
                "Default": "Pause"
            },
            "Pause": {"Type": "Wait", "Seconds": 60, "Next": "Poll"},
            "Done": {"Type": "Succeed"}
        },
        "Adapt": [{
            "Name": "slow-down",
            "When": {"Variable": "$$.History.Attempts.Poll", "NumericGreaterThanEquals": 50},
            "Then": {"Objective": "poll, slowed down"}
        }]
    });
    if let Some((after, keep)) = compaction {
        p["Compaction"] = json!({"After": after, "Keep": keep});
    }
    p
}

struct Run {
    obj: Object,
    node: NodeSpec,
    now: i64,
    polls: u64,
    /// Every record but checkpoints, as JSON without its seq and intent hash.
    log: Vec<Value>,
    archive: Vec<Segment>,
    largest: usize,
    checkpoints: u64,
    hops: u64,
    /// Verify the object at every this many hops.
    verify_every: u64,
}

impl Run {
    fn new(compaction: Option<(u32, u32)>, polls: u64) -> Run {
        let context = Context::new().with_originator(peo_core::Originator {
            subject: Some("ops".into()),
            domain: Some("eu".into()),
            key: None,
        });
        let k = key();
        let options = CreateOptions { now_ms: T0, key: Some(&k), id: Some(ObjectId([9; 16])), ..Default::default() };
        let obj = Object::create(&plan(compaction, polls), context, &json!({"target": "svc"}), &options).unwrap();
        let node = NodeSpec::new("poller", "eu").with_key(key()).with_capability("poll");
        Run {
            obj,
            node,
            now: T0,
            polls: 0,
            log: Vec::new(),
            archive: Vec::new(),
            largest: 0,
            checkpoints: 0,
            hops: 0,
            verify_every: 1,
        }
    }

    fn log_new(&mut self, from: usize) {
        for r in &self.obj.memory()[from..] {
            let rec = r.decode().unwrap();
            if rec.action() == Action::Checkpoint {
                self.checkpoints += 1;
                continue;
            }
            let mut v = rec.to_json();
            // The seq counts checkpoints; the intent hash covers the plan's `Compaction`.
            v.as_object_mut().unwrap().remove("seq");
            v["intent_hash"] = json!(v["intent_hash"].is_string());
            self.log.push(v);
        }
    }

    /// One cycle; `hop` sends the object on (encodes, decodes and verifies it) at the
    /// end of every visit. Returns false once it terminated.
    fn step(&mut self, hop: bool, keep_log: bool) -> bool {
        let before = self.obj.memory().len();
        let head = self.obj.head();
        let step = self.obj.step(&self.node, self.now, None).unwrap();
        let disposition = match step {
            Step::Appended(d) => d,
            Step::Execute(call) => {
                self.polls += 1;
                let result = if self.polls % 5 == 2 {
                    TaskOutcome::Error { error: "Flaky".into(), cause: Some(format!("poll {}", self.polls)) }
                } else {
                    TaskOutcome::Output(json!({"n": self.polls, "key": call.idempotency_key}))
                };
                self.obj.record_outcome(&self.node, call, result, self.now).unwrap()
            }
            Step::Sleep(w) => {
                self.now = w.at_ms.unwrap();
                return true;
            }
        };
        if keep_log {
            // A compaction prunes records: what is new is what follows the old head.
            let from = self.obj.memory().iter().position(|r| r.hash() == head).map_or(0, |i| i + 1);
            let _ = before;
            self.log_new(from);
        }
        match disposition {
            Some(Disposition::Terminated { .. }) => false,
            Some(Disposition::Dormant(w)) => {
                if let Some(at) = w.at_ms {
                    self.now = self.now.max(at);
                }
                if hop {
                    self.archive.extend(self.obj.take_archive());
                    let bytes = self.obj.to_bytes();
                    self.largest = self.largest.max(bytes.len());
                    self.obj = Object::from_bytes(&bytes, &Limits::default()).unwrap();
                    self.hops += 1;
                    if self.hops.is_multiple_of(self.verify_every) {
                        let report = self.obj.verify(&trust());
                        assert!(report.is_valid(), "{:?}", report.broken);
                    }
                }
                true
            }
            _ => true,
        }
    }
}

#[test]
fn compaction_at_every_legal_point_decides_the_same() {
    // After 1, Keep 0: a checkpoint at every point where one is allowed. After 16,
    // Keep 5: records kept across checkpoints.
    for compaction in [(1, 0), (16, 5)] {
        let mut plain = Run::new(None, 1_000_000);
        let mut compacted = Run::new(Some(compaction), 1_000_000);
        while plain.log.len() < 10_000 {
            assert!(plain.step(false, true));
        }
        while compacted.log.len() < 10_000 {
            assert!(compacted.step(true, true));
        }
        assert!(compacted.checkpoints > 100, "{compaction:?}: {} checkpoints", compacted.checkpoints);
        for (i, (a, b)) in plain.log.iter().zip(&compacted.log).take(10_000).enumerate() {
            assert_eq!(a, b, "{compaction:?}: record {i} differs");
        }
        // The Adapt rule fired once, from the history, in both.
        assert_eq!(plain.obj.intent().revision(), 1);
        assert_eq!(compacted.obj.intent().revision(), 1);
        assert!(compacted.obj.memory().len() <= compaction.0 as usize + 8);
        assert!(compacted.obj.pruned() > 9_000);

        // The full audit: the archive restores the whole history, and every checkpoint
        // is recomputed from the records it folds.
        let report = compacted.obj.audit(&compacted.archive, &trust());
        assert!(report.is_valid(), "{:?}", report.broken);
        assert_eq!(report.records_pruned, 0);
        assert_eq!(u64::from(report.checkpoints_audited), compacted.checkpoints);
        let offline = compacted.obj.verify(&trust());
        assert!(offline.is_valid());
        let cp = offline.checkpoint.expect("a compacted object names its checkpoint");
        assert!(cp.trusted && cp.node == "poller", "{cp:?}");
        assert_eq!(offline.records_pruned, compacted.obj.pruned());
        assert!(cp.describe().starts_with("records 0-"), "{}", cp.describe());
    }
}

#[test]
fn a_long_poll_stays_small_and_finishes() {
    // 1,000,000 records in release builds (the test command's); 20,000 in debug.
    let records: u64 = if cfg!(debug_assertions) { 20_000 } else { 1_000_000 };
    let mut run = Run::new(Some((64, 8)), records * 2 / 9);
    // Every hop is encoded, decoded and measured; one in 500 is verified (each costs
    // the same: the memory is bounded).
    run.verify_every = 500;
    let mut steps = 0u64;
    while run.step(true, false) {
        steps += 1;
    }
    let written = run.obj.pruned() as u64 + run.obj.memory().len() as u64;
    assert!(written >= records, "{written} records written in {steps} steps");
    assert!(run.largest < 80 * 1024, "the object reached {} bytes", run.largest);
    assert_eq!(run.obj.status(), peo_core::Status::Succeeded);
    assert!(run.obj.verify(&trust()).is_valid());
    println!("{written} records, {steps} steps, largest object {} bytes", run.largest);
}

fn compacted_object() -> (Object, Vec<Segment>) {
    let mut run = Run::new(Some((32, 4)), 1_000_000);
    while run.obj.pruned() < 200 {
        run.step(true, false);
    }
    while run.obj.status() != peo_core::Status::Dormant {
        run.step(true, false);
    }
    run.archive.extend(run.obj.take_archive());
    (run.obj, run.archive)
}

#[test]
fn a_dishonest_summary_passes_offline_under_its_signer_and_fails_the_audit() {
    let (mut obj, mut archive) = compacted_object();
    let k = key();
    archive.extend(
        peo_core::forge::compact(&mut obj, 0, ("poller", "eu", &k), |s, _| {
            *s.attempts.get_mut("Poll").unwrap() -= 3;
        })
        .unwrap(),
    );
    // Offline, the checkpoint is the word of a trusted node.
    let offline = obj.verify(&trust());
    assert!(offline.is_valid(), "{:?}", offline.broken);
    // With the archive, the audit recomputes the summary and names the field.
    let audit = obj.audit(&archive, &trust());
    let broken = audit.broken.expect("the audit finds the lie");
    assert_eq!(broken.kind, ErrorKind::Integrity);
    assert!(broken.message.contains("field `attempts`"), "{}", broken.message);

    // A frontier that is not the records' is named too.
    let (mut obj, mut archive) = compacted_object();
    archive.extend(peo_core::forge::compact(&mut obj, 0, ("poller", "eu", &k), |_, f| f[0].0[0] ^= 1).unwrap());
    let broken = obj.audit(&archive, &trust()).broken.unwrap();
    assert!(broken.message.contains("`frontier`"), "{}", broken.message);

    // A missing segment: the audit says which records it lacks.
    let (obj, archive) = compacted_object();
    let broken = obj.audit(&archive[1..], &trust()).broken.unwrap();
    assert!(broken.message.contains("no segment ending at"), "{}", broken.message);
}

#[test]
fn tampered_checkpoints_fail_offline() {
    let (obj, _) = compacted_object();
    let bytes = obj.to_bytes();
    // The checkpoint signed by a key the verifier does not trust.
    let stranger = Trust::store([TrustedKey::any_identity(SigningKey::from_bytes(&[8; 32]).public_key())]);
    let broken = obj.verify(&stranger).broken.unwrap();
    assert_eq!(broken.kind, ErrorKind::Signature);

    // Any byte of the summary changed: the chain from the checkpoint on breaks its
    // signature (or the summary no longer reads).
    let summary = obj.memory().iter().map(|r| r.decode().unwrap()).rfind(|r| r.action() == Action::Checkpoint).unwrap();
    let peo_core::Body::Checkpoint { summary, .. } = summary.body else { unreachable!() };
    let needle = summary.as_bytes();
    let at = bytes.windows(needle.len()).position(|w| w == needle).unwrap();
    let mut evil = bytes.clone();
    let digit = evil[at..at + needle.len()].iter().position(|b| b.is_ascii_digit()).unwrap();
    evil[at + digit] = if evil[at + digit] == b'9' { b'1' } else { evil[at + digit] + 1 };
    match Object::from_bytes(&evil, &Limits::default()) {
        Ok(o) => assert!(!o.verify(&trust()).is_valid()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::Decode),
    }
}

#[test]
fn pruned_records_are_provable_from_the_frontier() {
    let (obj, archive) = compacted_object();
    let full = obj.restore(&archive).unwrap();
    assert!(full.verify(&trust()).is_valid());
    let cp = obj.memory().iter().map(|r| r.decode().unwrap()).rfind(|r| r.action() == Action::Checkpoint).unwrap();
    let peo_core::Body::Checkpoint { pruned, frontier, .. } = cp.body else { unreachable!() };
    let frontier = Frontier::from_parts(u64::from(pruned), frontier).unwrap();
    let hashes: Vec<_> = full.memory()[..pruned as usize].iter().map(|r| r.hash()).collect();
    for i in [0, 1, pruned as u64 / 2, pruned as u64 - 1] {
        let proof = Proof::make(&hashes, i).unwrap();
        assert!(frontier.proves(&hashes[i as usize], &proof));
        assert!(!frontier.proves(&hashes[(i as usize + 1) % hashes.len()], &proof));
    }
}

#[test]
fn one_pruned_record_is_proven_to_whoever_holds_only_the_object() {
    let (obj, archive) = compacted_object();
    let pruned = obj.pruned();
    assert!(pruned > 2);
    let full = obj.restore(&archive).unwrap();
    for seq in [0, pruned / 2, pruned - 1] {
        let proof = obj.prove_pruned(&archive, seq).unwrap();
        assert_eq!(proof.record_hash, full.memory()[seq as usize].hash());
        assert_eq!(proof.proof.index, u64::from(seq));
        // Whoever holds the object alone checks it, from its JSON form.
        let read = PrunedProof::from_json(&proof.to_json()).unwrap();
        assert_eq!(read, proof);
        obj.check_pruned(&read).unwrap();
        // Another record's hash, a changed path, another position: an integrity error
        // naming the field.
        let mut other = proof.clone();
        other.record_hash = full.memory()[(seq as usize + 1) % pruned as usize].hash();
        let mut path = proof.clone();
        path.proof.path[0] = full.memory()[0].hash();
        let mut moved = proof.clone();
        moved.proof.index = u64::from((seq + 1) % pruned);
        for bad in [other, path, moved] {
            let e = obj.check_pruned(&bad).unwrap_err();
            assert_eq!((e.kind(), e.field()), (ErrorKind::Integrity, Some("proof")), "{e}");
        }
        let mut past = proof.clone();
        past.proof.index = u64::from(pruned);
        assert_eq!(obj.check_pruned(&past).unwrap_err().field(), Some("proof.index"));
    }
    // A record that was not pruned, or an archive that does not restore the history.
    let e = obj.prove_pruned(&archive, pruned).unwrap_err();
    assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidArgument, Some("seq")));
    assert_eq!(obj.prove_pruned(&[], 0).unwrap_err().kind(), ErrorKind::Integrity);
    // An object that pruned nothing holds no proof.
    let e = full.check_pruned(&obj.prove_pruned(&archive, 0).unwrap()).unwrap_err();
    assert_eq!((e.kind(), e.field()), (ErrorKind::Integrity, Some("proof")));
}

#[test]
fn compaction_settings_are_checked() {
    let bad = |c: Value| {
        let mut p = plan(None, 3);
        p["Compaction"] = c;
        peo_core::Intent::new(&p, &Limits::default()).unwrap_err()
    };
    assert!(bad(json!({"After": 4, "Keep": 4})).message().contains("Keep < After"));
    assert!(bad(json!({"Keep": 1})).message().contains("`After` is required"));
    assert!(bad(json!({"After": 8, "Every": 1})).message().contains("Every"));
    assert!(NodeSpec::new("n", "eu").with_compaction(0, 0).is_err());
}

#[test]
fn a_policy_can_forbid_compaction() {
    let policy = peo_core::NodePolicy::new(
        "permit(principal, action, resource); forbid(principal, action == Peo::Action::\"compact\", resource);",
    )
    .unwrap();
    let mut run = Run::new(Some((8, 0)), 40);
    run.node = run.node.clone().with_policy(policy);
    while run.step(false, false) {}
    assert_eq!(run.obj.pruned(), 0);
    assert!(run.obj.memory().iter().all(|r| r.decode().unwrap().action() != Action::Checkpoint));
}
