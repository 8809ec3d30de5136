//! Decode + verify of objects with 10, 100 and 1,000 records, unsigned and signed,
//! the append of one ~200-byte record, and the per-visit JSON work of a face: the
//! context's hash (once an object is decoded) and a disposition in camelCase (Node's
//! forms). Run: `cargo bench -p peo-core`.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use peo_core::{Body, Limits, NodeRef, Object, Record, SigningKey, Status, Trust};
use std::hint::black_box;

fn decode_verify(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[5; 32]);
    let mut group = c.benchmark_group("decode+verify");
    for n in [10usize, 100, 1000] {
        // Unsigned in visits of 10 records; and signed with every record its own signed
        // visit (the worst case: a signature per record rather than per hop).
        // (label, signer, large records, records per visit)
        for (label, signer, large, per_visit) in [
            ("unsigned ~230 B records", None, false, 10),
            ("unsigned ~330 B records", None, true, 10),
            ("signed ~370 B records, one visit each", Some(&key), true, 1),
        ] {
            let bytes = common::chain_sized(n, per_visit, signer, large).to_bytes();
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(label, n), &bytes, |b, bytes| {
                b.iter(|| {
                    let obj = Object::from_bytes(black_box(bytes), &Limits::default()).unwrap();
                    assert!(obj.verify(&Trust::any()).is_valid());
                })
            });
        }
    }
    group.finish();

    // The floor for signed verification: one strict Ed25519 verification.
    let h = peo_core::Hash::data("{}");
    let sig = key.sign(&h);
    let pk = key.public_key();
    c.bench_function("ed25519 verify_strict (one signature)", |b| b.iter(|| assert!(pk.verify(black_box(&h), &sig))));
}

fn append(c: &mut Criterion) {
    let obj = common::chain(10, 10, None);
    let record = || Record {
        body: Body::Execute {
            capability: "counter.increment".into(),
            attempt: 0,
            idempotency_key: Some("0123456789abcdef/Step/0".into()),
            output: Some(r#"{"n":1}"#.into()),
            error: None,
        },
        state: "Step".into(),
        next_state: "Step".into(),
        status: Status::Running,
        node: std::sync::Arc::new(NodeRef { id: "node-1".into(), domain: "d".into(), key: None }),
        time_ms: common::T0,
        policy: None,
        advice: None,
        intent_hash: None,
        context_hash: None,
        data_hash: None,
        variables_hash: None,
        assigned: None,
        signed: false,
        visit: 1,
        seq: 0,
    };
    println!("append: record of {} bytes", record().encode().len());
    // A visit appends records one after another: time 100 appends, per record.
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(100));
    group.bench_function("100 records of ~200 bytes (encode + hash, unsigned)", |b| {
        b.iter_batched(
            || {
                let o = Object::from_bytes(&obj.to_bytes(), &Limits::default()).unwrap();
                (o, (0..100).map(|_| record()).collect::<Vec<_>>())
            },
            |(mut o, records)| {
                for r in records {
                    o.append(r, None).unwrap();
                }
                o
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn forms(c: &mut Criterion) {
    let context = peo_core::Context::new().with_label("eu").with_label("orders");
    c.bench_function("context hash (every decode)", |b| b.iter(|| black_box(&context).hash()));
    let disposition = serde_json::json!({"kind": "terminated", "status": "succeeded",
        "output": {"order": 7, "items": ["a", "b"], "last": {"ok": true}}, "error": null});
    c.bench_function("a terminated disposition in camelCase (recase, clone included)", |b| {
        b.iter(|| {
            peo_core::forms::recase("Disposition", black_box(&disposition).clone(), peo_core::forms::Casing::Camel)
                .unwrap()
        })
    });
}

criterion_group!(benches, decode_verify, append, forms);
criterion_main!(benches);
