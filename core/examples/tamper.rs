//! Creates a signed object, records a two-node journey in its memory, then tampers
//! with its bytes in several ways and shows what verification says each time.
//!
//! Run: `cargo run --release -p peo-core --example tamper [-- OUT_DIR]`
//! (with OUT_DIR, the object is also written there as `journey.peo`).

use peo_core::{
    Body, Context, CreateOptions, DormantReason, Limits, NodeRef, Object, ObjectId, Originator, Record, SigningKey,
    Status, Trust,
};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shop = SigningKey::from_bytes(&[1; 32]);
    let warehouse = SigningKey::from_bytes(&[2; 32]);
    let intent = json!({
        "Objective": "fulfil order 42", "Class": "order",
        "StartAt": "Reserve",
        "States": {
            "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Settle"},
            "Settle": {"Type": "Wait", "Seconds": 60, "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }
    });
    let context = Context::new()
        .with_originator(Originator { subject: Some("shop".into()), domain: Some("eu".into()), key: None })
        .with_label("region:eu");
    let t0 = 1_700_000_000_000;
    let options = CreateOptions { id: Some(ObjectId([0x42; 16])), now_ms: t0, key: Some(&shop), ..Default::default() };
    let mut object = Object::create(&intent, context, &json!({"order": 42}), &options)?;

    // What the cycle records at a warehouse node (one visit, signed once at its end).
    let node = NodeRef { id: "warehouse-1".into(), domain: "eu".into(), key: None };
    let mut data = object.data().clone();
    data["reservation"] = json!({"id": "r-1"});
    object.set_data(data);
    let record = |body, state: &str, next: &str, status, last: bool, obj: &Object| Record {
        body,
        state: state.into(),
        next_state: next.into(),
        status,
        node: std::sync::Arc::new(NodeRef { key: last.then(|| warehouse.public_key()), ..node.clone() }),
        time_ms: t0 + 1_000,
        policy: None,
        advice: None,
        intent_hash: None,
        context_hash: None,
        data_hash: last.then(|| obj.data_hash()),
        variables_hash: None,
        assigned: None,
        signed: last,
        visit: 1,
        seq: 0,
    };
    let executed = Body::Execute {
        capability: "inventory.reserve".into(),
        attempt: 0,
        idempotency_key: Some(format!("{}/Reserve/1/0", object.id())),
        output: Some(r#"{"id":"r-1"}"#.into()),
        error: None,
    };
    let r = record(executed, "Reserve", "Settle", Status::Running, false, &object);
    object.append(r, None)?;
    let dormant =
        Body::Dormant { reason: DormantReason::Wait, wake_at_ms: Some(t0 + 61_000), event: None, timeout_at_ms: None };
    let r = record(dormant, "Settle", "Done", Status::Dormant, true, &object);
    object.append(r, Some(&warehouse))?;

    let bytes = object.to_bytes();
    let trust = Trust::keys([shop.public_key(), warehouse.public_key()]);
    println!(
        "object {} — {} bytes, {} records, status {}",
        object.id(),
        bytes.len(),
        object.memory().len(),
        object.status().as_str()
    );
    for r in object.records()? {
        println!(
            "  #{} visit {} {:<9} {:<8} -> {:<7} by {:<12} signed: {}",
            r.seq,
            r.visit,
            r.action().as_str(),
            r.state,
            r.next_state,
            if r.node.id.is_empty() { "(originator)" } else { &r.node.id },
            r.signed
        );
    }
    let report = Object::from_bytes(&bytes, &Limits::default())?.verify(&trust);
    println!(
        "verify (trusting shop + warehouse): valid={} records={} signatures={} head={}",
        report.is_valid(),
        report.records_checked,
        report.signatures_checked,
        report.head
    );

    let check = |what: &str, tampered: &[u8]| {
        let outcome = match Object::from_bytes(tampered, &Limits::default()) {
            Err(e) => format!("rejected at decode: {e}"),
            Ok(obj) => match obj.verify(&trust).into_result() {
                Err(e) => format!("rejected: {e}"),
                Ok(_) if obj.to_bytes() == bytes => "accepted: content unchanged (a padding byte)".into(),
                Ok(_) => "ACCEPTED WITH DIFFERENT CONTENT".into(),
            },
        };
        println!("tamper: {what:<44} {outcome}");
        outcome
    };
    let find = |needle: &[u8]| bytes.windows(needle.len()).position(|w| w == needle).expect("present");
    // Each tamper: copy the bytes, change one thing, check.
    let patched = |needle: &[u8], offset: usize, value: u8| {
        let mut b = bytes.clone();
        let at = find(needle) + offset;
        b[at] = value;
        b
    };
    let mut outcomes = vec![
        check("change the input in the genesis record", &patched(b"\"order\":42}", 8, b'3')),
        check("change the data (reservation r-1 -> r-9)", &patched(b"\"reservation\":{\"id\":\"r-1\"}", 23, b'9')),
        check("change the plan (wait 60 s -> 10 s)", &patched(b"\"Seconds\":60", 10, b'1')),
        check("rename the node inside a record", &patched(b"warehouse-1", 0, b'W')),
    ];
    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 0xff;
    outcomes.push(check("flip the last byte", &b));
    outcomes.push(check("truncate by one byte", &bytes[..bytes.len() - 1]));
    outcomes.push(check("random bytes", &[0x5a; 64]));
    let other = Trust::keys([shop.public_key()]);
    let untrusted = Object::from_bytes(&bytes, &Limits::default())?.verify(&other).into_result();
    println!(
        "verify trusting only the shop: {}",
        untrusted.as_ref().map_or_else(|e| format!("rejected: {e}"), |_| "accepted".into())
    );

    if let Some(dir) = std::env::args().nth(1) {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(format!("{dir}/journey.peo"), &bytes)?;
        println!("wrote {dir}/journey.peo");
    }
    if outcomes.iter().any(|o| o.starts_with("ACCEPTED")) || untrusted.is_ok() || !report.is_valid() {
        return Err("tamper evidence failed".into());
    }
    Ok(())
}
