//! The Rust reference for the per-transition benchmarks of the faces
//! (`python/bench/bench_chain.py`, `node/bench/bench_chain.js`): one visit of a chain of
//! 1,000 Tasks whose handler returns `{"i": i + 1}`, from bytes (decode + verify, 1,000
//! handler calls, 1,001 records, encode), unsigned, a fixed clock. 5 warm-up visits, then
//! 25 measured; prints the median visit divided by 1,000.
//!
//! `target/release/examples/bench_chain`

use std::sync::Arc;
use std::time::Instant;

use peo_core::{Context, CreateOptions, Object, Trust};
use peo_runtime::{HandlerError, Invocation, ManualClock, Node};
use serde_json::{Value, json};

/// The plan every face builds: `S0000` .. `S0999`, each a Task of capability `step`.
fn plan(n: usize) -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = json!({"Type": "Task", "Resource": "step"});
        if i + 1 == n {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{:04}", i + 1));
        }
        states.insert(format!("S{i:04}"), s);
    }
    json!({"StartAt": "S0000", "States": states})
}

fn main() {
    const N: usize = 1_000;
    let t0 = 1_700_000_000_000;
    let options = CreateOptions { now_ms: t0, ..Default::default() };
    let object = Object::create(&plan(N), Context::new(), &json!({"i": 0}), &options).expect("create");
    let bytes = object.to_bytes();
    let node = Node::new("bench", "local")
        .with_trust(Trust::any())
        .with_clock(Arc::new(ManualClock::new(t0)))
        .handler("step", |c: &Invocation| -> Result<Value, HandlerError> {
            Ok(json!({"i": c.input["i"].as_i64().unwrap_or(0) + 1}))
        });
    let mut runs = Vec::new();
    for r in 0..30 {
        let start = Instant::now();
        let visit = std::hint::black_box(node.visit(&bytes, None).expect("visit"));
        assert_eq!(visit.object.data()["i"], json!(N));
        if r >= 5 {
            runs.push(start.elapsed().as_secs_f64() * 1e6 / N as f64);
        }
    }
    runs.sort_by(f64::total_cmp);
    println!(
        "rust: 1,000-Task chain {:.2} us per transition (median of {}; min {:.2})",
        runs[runs.len() / 2],
        runs.len(),
        runs[0]
    );
}
