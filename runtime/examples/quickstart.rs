//! The README's quickstart, kept runnable: `cargo run -p peo-runtime --example quickstart`.

use peo_core::{Context, CreateOptions, Object, SigningKey, Trust};
use peo_runtime::{Disposition, HandlerError, Invocation, Node};
use serde_json::json;

fn main() -> Result<(), peo_core::Error> {
    let intent = json!({
        "Objective": "fulfil order 42",
        "StartAt": "Reserve",
        "States": {
            "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Ship"},
            "Ship": {"Type": "Task", "Resource": "warehouse.ship", "End": true,
                     "Retry": [{"ErrorEquals": ["Carrier.Busy"], "IntervalSeconds": 60}]}
        }
    });
    let shop = SigningKey::generate()?;
    let options = CreateOptions { now_ms: 1_700_000_000_000, key: Some(&shop), ..Default::default() };
    let object = Object::create(&intent, Context::new(), &json!({"sku": "A1"}), &options)?;

    let node = Node::new("warehouse-1", "eu")
        .with_key(SigningKey::generate()?)
        .trusting([shop.public_key()]) // a node accepts only work signed by keys it trusts
        .handler("inventory.reserve", |call: &Invocation| Ok(json!({"held": call.input["sku"]})))
        .handler("warehouse.ship", |_: &Invocation| Err(HandlerError::new("Carrier.Busy", "try later")));
    let visit = node.visit(&object.to_bytes(), None)?; // runs until the object must leave
    match &visit.disposition {
        Disposition::Dormant(wake) => println!("park until {:?}", wake.at_ms), // the retry back-off
        Disposition::Delegate { capability, .. } => println!("send to a node with {capability:?}"),
        Disposition::Terminated { status, .. } => println!("ended: {}", status.as_str()),
    }
    let report = visit.object.verify(&Trust::any()).into_result()?;
    println!("{} records, head {}", report.records_checked, report.head);
    Ok(())
}
