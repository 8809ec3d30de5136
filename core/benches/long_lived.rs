//! Long-lived objects: what compaction costs per transition, and what admitting an
//! object costs after 10 and after 1,000 signed hops, with and without compaction.
//! Run: `cargo bench -p peo-core --bench long_lived`.
//!
//! The object is a polling loop (a Task, a Choice, a Wait every minute); one hop is one
//! visit (reentry, execute, route, dormant), signed by the node. "Admission" is what a
//! node does with the bytes it receives before it can act: decode, verify under its
//! trust store, then the visit itself.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use peo_core::{
    Context, CreateOptions, Disposition, Limits, NodeSpec, Object, ObjectId, SigningKey, Step, TaskOutcome, Trust,
};
use serde_json::{Value, json};
use std::hint::black_box;

const T0: i64 = 1_700_000_000_000;

fn plan(compaction: bool) -> Value {
    let mut p = json!({
        "StartAt": "Poll",
        "States": {
            "Poll": {"Type": "Task", "Resource": "poll", "ResultPath": "$.poll", "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.poll.n", "NumericLessThan": 0, "Next": "Done"}], "Default": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 60, "Next": "Poll"},
            "Done": {"Type": "Succeed"}
        }
    });
    if compaction {
        p["Compaction"] = json!({"After": 64, "Keep": 8});
    }
    p
}

fn node() -> NodeSpec {
    NodeSpec::new("poller", "eu").with_key(SigningKey::from_bytes(&[7; 32])).with_capability("poll")
}

/// Runs one visit; returns the time the object wakes.
fn visit(obj: &mut Object, node: &NodeSpec, now: i64) -> i64 {
    loop {
        let d = match obj.step(node, now, None).unwrap() {
            Step::Appended(d) => d,
            Step::Execute(call) => obj.record_outcome(node, call, TaskOutcome::Output(json!({"n": 1})), now).unwrap(),
            Step::Sleep(w) => return w.at_ms.unwrap(),
        };
        if let Some(Disposition::Dormant(w)) = d {
            return w.at_ms.unwrap();
        }
    }
}

fn after_hops(compaction: bool, hops: usize) -> (Vec<u8>, i64) {
    let k = SigningKey::from_bytes(&[7; 32]);
    let options = CreateOptions { now_ms: T0, key: Some(&k), id: Some(ObjectId([1; 16])), ..Default::default() };
    let mut obj = Object::create(&plan(compaction), Context::new(), &json!({}), &options).unwrap();
    let node = node();
    let mut now = T0;
    for _ in 0..hops {
        now = visit(&mut obj, &node, now);
        obj = Object::from_bytes(&obj.to_bytes(), &Limits::default()).unwrap();
    }
    (obj.to_bytes(), now)
}

fn admission(c: &mut Criterion) {
    let trust = Trust::keys([SigningKey::from_bytes(&[7; 32]).public_key()]);
    let node = node();
    let mut group = c.benchmark_group("admission: decode, verify and one visit");
    for compaction in [false, true] {
        for hops in [10usize, 1000] {
            let (bytes, now) = after_hops(compaction, hops);
            let label = if compaction { "compacted (After 64, Keep 8)" } else { "not compacted" };
            group.bench_with_input(
                BenchmarkId::new(label, format!("{hops} hops, {} bytes", bytes.len())),
                &bytes,
                |b, bytes| {
                    b.iter(|| {
                        let mut obj = Object::from_bytes(black_box(bytes), &Limits::default()).unwrap();
                        assert!(obj.verify(&trust).is_valid());
                        visit(&mut obj, &node, now)
                    })
                },
            );
        }
    }
    group.finish();
}

/// 2,000 hops in memory (8,000 transitions), the object kept decoded: the cost of a
/// transition with and without compaction, in the same run.
fn transitions(c: &mut Criterion) {
    let node = node();
    let mut group = c.benchmark_group("polling loop: 2,000 hops in memory");
    group.throughput(Throughput::Elements(8_000));
    for compaction in [false, true] {
        let (bytes, now) = after_hops(compaction, 0);
        let label = if compaction { "compacted (After 64, Keep 8)" } else { "not compacted" };
        group.bench_function(label, |b| {
            b.iter_batched(
                || Object::from_bytes(&bytes, &Limits::default()).unwrap(),
                |mut obj| {
                    let mut t = now;
                    for _ in 0..2_000 {
                        t = visit(&mut obj, &node, t);
                    }
                    obj
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = admission, transitions
}
criterion_main!(benches);
