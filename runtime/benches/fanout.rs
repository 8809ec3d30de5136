//! A Map over 10, 100 and 1,000 items, end to end in one process: the parent fans out,
//! every child runs its Task at a node, and each child's final object is presented to
//! the parent until it joins. Run: `cargo bench -p peo-runtime --bench fanout`.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use peo_core::{Context, CreateOptions, Disposition, Object, Status, Trust};
use peo_runtime::{Invocation, Node};
use serde_json::json;

fn object(n: usize) -> Vec<u8> {
    let plan = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.out", "End": true,
        "ItemProcessor": {"StartAt": "Inc", "States": {"Inc": {"Type": "Task", "Resource": "counter.increment", "End": true}}}}}});
    let items: Vec<usize> = (0..n).collect();
    Object::create(&plan, Context::new(), &json!({"items": items}), &CreateOptions { now_ms: 1, ..Default::default() })
        .unwrap()
        .to_bytes()
}

/// The host keeps the parent decoded between completions (one process); every child
/// travels as bytes, as it would between nodes.
fn run(node: &Node, bytes: &[u8]) -> usize {
    let v = node.visit(bytes, None).unwrap();
    let mut parent = v.object;
    let n = v.children.len();
    for child in &v.children {
        let done = node.visit(child, None).unwrap();
        let p = node.complete_object(parent, &done.bytes).unwrap();
        if let Disposition::Terminated { status, .. } = p.disposition {
            assert_eq!(status, Status::Succeeded);
        }
        parent = p.object;
    }
    n
}

fn bench(c: &mut Criterion) {
    let node = Node::new("bench", "local")
        .with_trust(Trust::any())
        .handler("counter.increment", |c: &Invocation| Ok(json!(c.input.as_u64().unwrap_or(0) + 1)));
    let mut g = c.benchmark_group("map end to end");
    g.sample_size(10);
    for n in [10usize, 100, 1000] {
        let bytes = object(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &bytes, |b, bytes| {
            b.iter_batched(|| bytes.clone(), |bytes| run(&node, &bytes), BatchSize::LargeInput)
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
