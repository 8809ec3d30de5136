//! Untrusted Cedar: any text as a node's policies and as an object's carried policy,
//! then a request evaluated under both: never a panic or a stack overflow, and a
//! carried policy never grants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peo_core::{Context, CreateOptions, NodePolicy, NodeSpec, Object, Step};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = NodePolicy::new(text);
    let Ok(context) = Context::new().with_policy("fuzzed", text) else { return };
    let plan = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "End": true}}});
    let Ok(obj) = Object::create(&plan, context, &json!({}), &CreateOptions::default()) else { return };
    // A node whose own policies permit nothing: the carried policy cannot make it act.
    let deny_all = NodePolicy::new(r#"forbid(principal, action, resource);"#).expect("parses");
    let node = NodeSpec::new("fuzz", "fuzz").with_capability("work").with_policy(deny_all);
    if let Ok(Step::Execute(_)) = obj.clone().step(&node, 1_700_000_000_000, None) {
        panic!("a carried policy granted what the node forbids");
    }
    let open = NodePolicy::new(r#"permit(principal, action, resource);"#).expect("parses");
    let node = NodeSpec::new("fuzz", "fuzz").with_capability("work").with_policy(open);
    let _ = obj.clone().step(&node, 1_700_000_000_000, None);
});
