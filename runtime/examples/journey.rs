//! An order travels between nodes that share nothing but its bytes.
//!
//! `cargo run --release -p peo-runtime --example journey [OUT_FILE]`
//!
//! The shop creates the object; an EU warehouse node reserves stock and, lacking the
//! payment capability, delegates; a US payments node charges (the first attempt fails
//! and is retried after a back-off: the object goes dormant and wakes later, by that
//! node's own clock); the warehouse ships after a cooling-off wait. Each visit ends
//! with one signature; at the end anyone holding the bytes can verify who did what.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use peo_core::{Context, CreateOptions, Object, Originator, SigningKey, Trust};
use peo_runtime::{Disposition, HandlerError, Invocation, ManualClock, Node};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t0 = 1_700_000_000_000;
    let (shop, eu, us) =
        (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]), SigningKey::from_bytes(&[3; 32]));
    let trusted = [shop.public_key(), eu.public_key(), us.public_key()];

    let plan = json!({
        "Comment": "order fulfilment",
        "Objective": "fulfil order 42",
        "Class": "order",
        "StartAt": "Reserve",
        "States": {
            "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Charge"},
            "Charge": {
                "Type": "Task", "Resource": "payment.charge",
                "Parameters": {"order.$": "$.order", "amount.$": "States.MathAdd($.subtotal, $.shipping)"},
                "ResultPath": "$.payment", "Next": "CoolOff",
                "Retry": [{"ErrorEquals": ["Payment.Unavailable"], "IntervalSeconds": 30, "MaxAttempts": 3}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Refund"}]
            },
            "CoolOff": {"Type": "Wait", "Seconds": 3600, "Next": "Ship"},
            "Ship": {"Type": "Task", "Resource": "warehouse.ship", "ResultPath": "$.shipment", "End": true},
            "Refund": {"Type": "Fail", "Error": "Order.PaymentFailed", "CausePath": "$.failure.Cause"}
        }
    });
    let context = Context::new().with_originator(Originator {
        subject: Some("shop".into()),
        domain: Some("eu".into()),
        key: None,
    });
    let options = CreateOptions { now_ms: t0, key: Some(&shop), ..Default::default() };
    let object = Object::create(&plan, context, &json!({"order": 42, "subtotal": 90, "shipping": 10}), &options)?;
    println!("created {} ({} bytes)", object.id(), object.to_bytes().len());

    // Two nodes, two clocks that disagree by five minutes.
    let eu_clock = Arc::new(ManualClock::new(t0 + 1_000));
    let us_clock = Arc::new(ManualClock::new(t0 - 300_000));
    let warehouse = Node::new("warehouse-eu-1", "eu")
        .with_key(eu)
        .trusting(trusted)
        .with_clock(eu_clock.clone())
        .handler("inventory.reserve", |c: &Invocation| Ok(json!({"held": c.input["order"], "bin": "B-17"})))
        .handler("warehouse.ship", |c: &Invocation| Ok(json!({"tracking": format!("TRK-{}", c.input["order"])})));
    let attempts = AtomicU32::new(0);
    let payments = Node::new("payments-us-1", "us")
        .with_key(us)
        .trusting(trusted)
        .with_clock(us_clock.clone())
        .handler("payment.charge", move |c: &Invocation| {
            println!("    payment.charge {} amount={}", c.idempotency_key, c.input["amount"]);
            if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(HandlerError::new("Payment.Unavailable", "gateway timeout"));
            }
            Ok(json!({"charged": c.input["amount"], "currency": "EUR"}))
        });

    // The host: hand the bytes to whichever node the disposition names, and present
    // dormant objects again once their wake time has come.
    let mut bytes = object.to_bytes();
    let mut at = &warehouse;
    for hop in 1..=10 {
        let visit = at.visit(&bytes, None)?;
        println!("visit {hop} at {}: {} record(s), {}", at.id(), visit.appended, visit.disposition.to_json());
        bytes = visit.bytes;
        match visit.disposition {
            Disposition::Delegate { capability: Some(c), .. } => {
                at = if c.starts_with("payment.") { &payments } else { &warehouse };
            }
            Disposition::Dormant(w) => {
                // The holder's clock moves on to the wake time (as a parking store would).
                let wake = w.at_ms.unwrap_or_default();
                let clock = if std::ptr::eq(at, &payments) { &us_clock } else { &eu_clock };
                clock.set(wake);
            }
            Disposition::Terminated { .. } => break,
            Disposition::Delegate { .. } => return Err("delegated without a capability".into()),
        }
    }

    let object = Object::from_bytes(&bytes, &Default::default())?;
    let report = object.verify(&Trust::keys(trusted)).into_result()?;
    println!(
        "\n{} records, {} signatures by {} nodes, head {}",
        report.records_checked,
        report.signatures_checked,
        report.signers.len(),
        report.head
    );
    for r in object.records()? {
        println!(
            "  #{:<2} visit {} {:<9} {:<8} -> {:<8} by {}",
            r.seq,
            r.visit,
            r.action().as_str(),
            r.state,
            r.next_state,
            r.node.id
        );
    }
    println!("status {}, data {}", object.status().as_str(), object.data());
    if let Some(path) = std::env::args().nth(1) {
        std::fs::write(&path, &bytes)?;
        println!("wrote {path}");
    }
    Ok(())
}
