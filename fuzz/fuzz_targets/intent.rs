//! Untrusted plans: any text through intent parsing and validation (JSON, ASL,
//! intrinsic expressions, paths, JSONata expressions, variables, `Adapt` rules), then
//! the cycle over the object it makes: never a panic, a stack overflow or unbounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peo_core::{Context, CreateOptions, Intent, Limits, NodeSpec, Object, Step, TaskOutcome};
use serde_json::{Value, json};

/// Every Task `Resource` of the plan becomes a capability of the node.
fn resources(v: &Value, node: &mut NodeSpec) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("Resource") {
                node.capabilities.insert(r.clone());
            }
            m.values().for_each(|x| resources(x, node));
        }
        Value::Array(a) => a.iter().for_each(|x| resources(x, node)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(intent) = Intent::from_json_text(text, &Limits::default()) else { return };
    let input = json!({"a": [1, 2, 3], "s": "text", "n": 4, "o": {"k": true}});
    let Ok(mut obj) = Object::create(intent.document(), Context::new(), &input, &CreateOptions::default()) else {
        return;
    };
    let mut node = NodeSpec::new("fuzz", "fuzz");
    resources(intent.document(), &mut node);
    for i in 0..32i64 {
        let now = 1_700_000_000_000 + i * 1_000_000;
        match obj.step(&node, now, None) {
            Ok(Step::Execute(call)) => {
                let out = TaskOutcome::Output((*call.input).clone());
                if obj.record_outcome(&node, call, out, now).is_err() {
                    break;
                }
            }
            Ok(Step::Appended(_)) | Ok(Step::Sleep(_)) => {}
            Err(_) => break,
        }
    }
    let _ = obj.to_bytes();
});
