//! The query languages side by side: a chain of 100 `Pass` states, each computing its
//! output with a small expression and assigning one variable, written in JSONata
//! (`Output: {"n": "{% $states.input.n + 1 %}"}`, `Assign: {"last": "{% $states.input.n %}"}`)
//! and in JSONPath (`Parameters: {"n.$": "States.MathAdd($.n, 1)"}`, `Assign:
//! {"last.$": "$.n"}`), plus both chains without `Assign`. Run:
//! `cargo bench -p peo-runtime --bench query`.
//!
//! Criterion reports the time of one visit over the whole chain and, through
//! `Throughput::Elements`, transitions per second; the time per transition is the visit's
//! time divided by 100.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use peo_core::{Context, CreateOptions, Disposition, Object, Status, Trust};
use peo_runtime::Node;
use serde_json::json;
use std::hint::black_box;

const STATES: usize = 100;

fn chain(language: &str, assign: bool) -> Object {
    let mut states = serde_json::Map::new();
    for i in 0..STATES {
        let mut s = match language {
            "JSONata" => json!({"Type": "Pass", "Output": {"n": "{% $states.input.n + 1 %}"}}),
            _ => json!({"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}}),
        };
        if assign {
            s["Assign"] = match language {
                "JSONata" => json!({"last": "{% $states.input.n %}"}),
                _ => json!({"last.$": "$.n"}),
            };
        }
        if i + 1 == STATES {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{:03}", i + 1));
        }
        states.insert(format!("S{i:03}"), s);
    }
    let plan = json!({"QueryLanguage": language, "StartAt": "S000", "States": states});
    Object::create(&plan, Context::new(), &json!({"n": 0}), &CreateOptions { now_ms: 1, ..Default::default() }).unwrap()
}

fn languages(c: &mut Criterion) {
    let node = Node::new("bench", "local").with_trust(Trust::any());
    let mut group = c.benchmark_group(format!("visit: chain of {STATES} Pass states"));
    group.throughput(Throughput::Elements(STATES as u64));
    for assign in [true, false] {
        for language in ["JSONata", "JSONPath"] {
            let object = chain(language, assign);
            let label = if assign { format!("{language} + Assign") } else { language.to_owned() };
            group.bench_with_input(BenchmarkId::new(label, STATES), &object, |b, object| {
                b.iter_batched(
                    || object.clone(),
                    |o| {
                        let v = node.visit_object(black_box(o), None).unwrap();
                        assert!(matches!(
                            &v.disposition,
                            Disposition::Terminated { status: Status::Succeeded, output: Some(out), .. } if out["n"] == STATES
                        ));
                        v
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, languages);
criterion_main!(benches);
