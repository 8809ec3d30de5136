//! The JSON forms every binding uses for events, proposals and verification reports.

use peo_core::{Context, CreateOptions, ErrorKind, Event, Object, Proposal, SigningKey, Trust};
use serde_json::json;

#[test]
fn events_round_trip_and_bad_events_are_named() {
    for e in [
        Event::success("approval", json!({"by": "ops"})),
        Event::failure("approval", "Approval.Rejected", "no budget"),
        Event::heartbeat("approval"),
    ] {
        assert_eq!(Event::from_json(&e.to_json()).unwrap(), e);
    }
    assert_eq!(Event::from_json(&json!({"name": "x"})).unwrap(), Event::success("x", json!(null)));
    for (bad, says) in [
        (json!("x"), "JSON object"),
        (json!({}), "`name`"),
        (json!({"name": ""}), "`name`"),
        (json!({"name": "x", "colour": 1}), "unknown event field `colour`"),
        (json!({"name": "x", "error": 3}), "`error` must be a string"),
        (json!({"name": "x", "cause": "c"}), "no `error`"),
        (json!({"name": "x", "error": "E", "payload": 1}), "not several"),
        (json!({"name": "x", "heartbeat": "yes"}), "`heartbeat`"),
    ] {
        let e = Event::from_json(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        assert!(e.message().contains(says), "{bad}: {}", e.message());
    }
}

#[test]
fn proposals_round_trip_and_bad_proposals_are_named() {
    let p = Proposal::from_json(&json!({"action": "delegate", "target": "gpu", "confidence": 0.5, "rationale": "r"}))
        .unwrap();
    assert_eq!(Proposal::from_json(&p.to_json()).unwrap(), p);
    assert_eq!(p.target.as_deref(), Some("gpu"));
    assert_eq!(Proposal::from_json(&json!({"action": "terminate"})).unwrap().confidence, 1.0);
    for (bad, says) in [
        (json!([]), "JSON object"),
        (json!({"action": "genesis"}), "`action`"),
        (json!({"action": "execute", "confidence": 2}), "`confidence`"),
        (json!({"action": "execute", "target": 1}), "`target`"),
        (json!({"action": "execute", "why": "x"}), "unknown proposal field `why`"),
    ] {
        let e = Proposal::from_json(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains(says), "{bad}: {}", e.message());
    }
}

#[test]
fn verify_reports_as_json() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let plan = json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}});
    let options = CreateOptions { key: Some(&key), ..Default::default() };
    let object = Object::create(&plan, Context::new(), &json!({}), &options).unwrap();
    let report = object.verify(&Trust::keys([key.public_key()])).to_json();
    assert_eq!(report["valid"], json!(true));
    assert_eq!(report["signers"][0]["key"], json!(key.public_key().to_hex()));
    assert_eq!(report["signers"][0]["trusted"], json!(true));
    assert_eq!(report["head"], json!(object.head().to_hex()));
    let other = SigningKey::from_bytes(&[8; 32]);
    let report = object.verify(&Trust::keys([other.public_key()])).to_json();
    assert_eq!(report["valid"], json!(false));
    assert_eq!(report["broken"]["code"], json!("PEO_SIGNATURE"));
}
