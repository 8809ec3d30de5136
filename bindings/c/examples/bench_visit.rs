//! The Rust side of the C API benchmark (bindings/c/bench/run.sh): the same 10-state
//! visit as bindings/c/bench/visit.c, with a Rust handler, measured the same way (200
//! warm-up visits, then 15 rounds of 2,000; the median round's time per visit).
//!
//! `target/release/examples/bench_visit bindings/c/bench/plan.json`

use std::sync::Arc;
use std::time::Instant;

use peo_core::{Context, CreateOptions, Object, Trust};
use peo_runtime::{HandlerError, Invocation, ManualClock, Node};
use serde_json::{Value, json};

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "bindings/c/bench/plan.json".into());
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("the plan")).expect("JSON");
    let t0 = 1_700_000_000_000;
    let options = CreateOptions { now_ms: t0, ..Default::default() };
    let object =
        Object::create(&plan, Context::new(), &json!({"order": 7, "items": ["a", "b"]}), &options).expect("create");
    let bytes = object.to_bytes();
    let node = Node::new("bench", "local")
        .with_trust(Trust::any())
        .with_clock(Arc::new(ManualClock::new(t0)))
        .handler("bench.step", |_: &Invocation| -> Result<Value, HandlerError> { Ok(json!({"ok": true})) });

    const ROUNDS: usize = 15;
    const PER_ROUND: u32 = 2_000;
    let mut rounds = Vec::with_capacity(ROUNDS);
    for r in 0..=ROUNDS {
        let count = if r == 0 { 200 } else { PER_ROUND };
        let start = Instant::now();
        for _ in 0..count {
            std::hint::black_box(node.visit(&bytes, None).expect("visit"));
        }
        if r > 0 {
            rounds.push(start.elapsed().as_secs_f64() / f64::from(count));
        }
    }
    rounds.sort_by(f64::total_cmp);
    println!(
        "rust: 10-state visit {:.2} us (median of {ROUNDS} rounds of {PER_ROUND}; min {:.2}, max {:.2})",
        rounds[ROUNDS / 2] * 1e6,
        rounds[0] * 1e6,
        rounds[ROUNDS - 1] * 1e6
    );
}
