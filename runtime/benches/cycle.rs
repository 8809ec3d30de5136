//! Per-transition cost of visits over chains of 1, 10, 100 and 1,000 `Pass` and `Task`
//! states (handler = increment), unsigned and signed, plus one Ed25519 signature for
//! scale. Run: `cargo bench -p peo-runtime --bench cycle`.
//!
//! Criterion reports the time of one whole visit (every cycle of the chain, the final
//! encode, and for the signed node the one signature of the visit) and, through
//! `Throughput::Elements`, transitions per second. The visit starts from a decoded object
//! (`Node::visit_object`): decoding and verifying are measured by `peo-core`'s
//! `object` benchmark.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use peo_core::{Context, CreateOptions, Disposition, Object, SigningKey, Status, Trust};
use peo_runtime::{Invocation, Node};
use serde_json::{Value, json};
use std::hint::black_box;

fn chain(kind: &str, n: usize) -> Object {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = match kind {
            "Pass" => json!({"Type": "Pass"}),
            _ => json!({"Type": "Task", "Resource": "counter.increment"}),
        };
        if i + 1 == n {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{:04}", i + 1));
        }
        states.insert(format!("S{i:04}"), s);
    }
    let plan = json!({"StartAt": "S0000", "States": states});
    Object::create(&plan, Context::new(), &json!({"n": 0}), &CreateOptions { now_ms: 1, ..Default::default() }).unwrap()
}

fn increment(c: &Invocation) -> Result<Value, peo_runtime::HandlerError> {
    Ok(json!({"n": c.input["n"].as_i64().unwrap_or(0) + 1}))
}

fn visits(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let unsigned = Node::new("bench", "local").with_trust(Trust::any()).handler("counter.increment", increment);
    let signed = unsigned.clone().with_key(key.clone());
    for kind in ["Pass", "Task"] {
        let mut group = c.benchmark_group(format!("visit: chain of {kind} states"));
        for n in [1usize, 10, 100, 1000] {
            let object = chain(kind, n);
            group.throughput(Throughput::Elements(n as u64));
            for (label, node) in [("unsigned", &unsigned), ("signed", &signed)] {
                group.bench_with_input(BenchmarkId::new(label, n), &object, |b, object| {
                    b.iter_batched(
                        || object.clone(),
                        |o| {
                            let v = node.visit_object(black_box(o), None).unwrap();
                            assert!(matches!(v.disposition, Disposition::Terminated { status: Status::Succeeded, .. }));
                            v
                        },
                        BatchSize::LargeInput,
                    )
                });
            }
        }
        group.finish();
    }
    let h = peo_core::Hash::data("{}");
    c.bench_function("ed25519 sign (one signature)", |b| b.iter(|| key.sign(black_box(&h))));
}

criterion_group!(benches, visits);
criterion_main!(benches);
