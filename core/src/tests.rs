//! Tampering at the model level: what an attacker who re-encodes the object can do,
//! checked through the wire (encode, decode, verify).

#[path = "../tests/common/mod.rs"]
mod common;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::object::StoredRecord;
use crate::record::RecordMeta;
use crate::*;

fn all_keys() -> Trust {
    Trust::keys([common::originator_key(), common::eu_key(), common::us_key()].map(|k| k.public_key()))
}

fn reverify(obj: &Object, trust: &Trust) -> VerifyReport {
    let decoded = Object::from_bytes(&obj.to_bytes(), &Limits::default()).expect("structurally valid");
    decoded.verify(trust)
}

fn broken(report: &VerifyReport) -> (u32, ErrorKind, String) {
    let b = report.broken.clone().unwrap_or_else(|| panic!("expected a broken record: {report:?}"));
    (b.record, b.kind, b.message)
}

/// Replaces record `i` with `record`, re-chained, signed by `key` when given.
fn rewrite(obj: &mut Object, i: usize, record: &Record, key: Option<&SigningKey>) {
    let bytes = record.encode();
    let prev = if i == 0 { Hash::ZERO } else { obj.memory[i - 1].hash() };
    let hash = Hash::record(&prev, &bytes);
    obj.memory[i] = StoredRecord {
        meta: RecordMeta::read(&bytes).unwrap(),
        signature: key.map(|k| Box::new(k.sign_record(&hash, obj.version))),
        hash,
        bytes: Bytes::from(bytes),
    };
}

#[test]
fn a_signed_object_verifies_with_its_signers_named() {
    let obj = common::journey(true);
    let report = reverify(&obj, &all_keys());
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.records_checked, 7);
    assert_eq!(report.signatures_checked, 3);
    assert_eq!(report.unsigned_records, 0);
    assert_eq!(report.untrusted_records, 0);
    let signed_by = |k: SigningKey| report.signers.iter().find(|s| s.key == k.public_key()).unwrap().records.clone();
    assert_eq!(signed_by(common::originator_key()), vec![0]);
    assert_eq!(signed_by(common::eu_key()), vec![2]);
    assert_eq!(signed_by(common::us_key()), vec![6]);
    assert!(report.signers.iter().all(|s| s.trusted));
    // Without trusted keys the signatures still verify, and nothing is trusted.
    let report = reverify(&obj, &Trust::any());
    assert!(report.is_valid());
    assert_eq!(report.untrusted_records, 7);
}

#[test]
fn an_untrusted_signer_or_an_unsigned_visit_is_named() {
    let obj = common::journey(true);
    let trust = Trust::keys([common::originator_key(), common::eu_key()].map(|k| k.public_key()));
    let (record, kind, msg) = broken(&reverify(&obj, &trust));
    assert_eq!((record, kind), (6, ErrorKind::Signature));
    assert!(msg.contains("not a trusted key"), "{msg}");

    let unsigned = common::journey(false);
    let trust = Trust { require: SignatureRequirement::EveryVisit, ..Trust::default() };
    let (record, kind, _) = broken(&reverify(&unsigned, &trust));
    assert_eq!((record, kind), (0, ErrorKind::Signature));
    let report = reverify(&unsigned, &Trust::any());
    assert!(report.is_valid());
    assert_eq!(report.unsigned_records, 7);
}

#[test]
fn a_record_re_signed_by_another_key_fails_at_that_record() {
    let intruder = SigningKey::from_bytes(&[66; 32]);
    // The signature swapped for the intruder's; the record still names the eu key.
    let mut obj = common::journey(true);
    obj.memory[2].signature = Some(Box::new(intruder.sign(&obj.memory[2].hash())));
    let (record, kind, msg) = broken(&reverify(&obj, &Trust::any()));
    assert_eq!((record, kind), (2, ErrorKind::Signature), "{msg}");

    // The record rewritten to name the intruder and signed by it: the chain after it
    // breaks, and a verifier that trusts only the real nodes names the record.
    let mut obj = common::journey(true);
    let mut rec = obj.memory[2].decode().unwrap();
    std::sync::Arc::make_mut(&mut rec.node).key = Some(intruder.public_key());
    rewrite(&mut obj, 2, &rec, Some(&intruder));
    let (record, kind, msg) = broken(&reverify(&obj, &all_keys()));
    assert_eq!((record, kind), (2, ErrorKind::Signature), "{msg}");
    let (record, kind, _) = broken(&reverify(&obj, &Trust::any()));
    assert_eq!((record, kind), (6, ErrorKind::Signature), "the us signature covers the old chain");
}

#[test]
fn reordered_and_removed_records_are_named() {
    let mut obj = common::journey(true);
    obj.memory.swap(3, 4);
    let (record, kind, msg) = broken(&reverify(&obj, &Trust::any()));
    assert_eq!((record, kind), (3, ErrorKind::Integrity));
    assert!(msg.contains("record 3 says it is record 4"), "{msg}");

    let mut obj = common::journey(true);
    obj.memory.remove(4);
    let (record, kind, msg) = broken(&reverify(&obj, &Trust::any()));
    assert_eq!((record, kind), (4, ErrorKind::Integrity));
    assert!(msg.contains("record 4 says it is record 5"), "{msg}");

    // Removing the last record leaves the stored head pointing at nothing.
    let mut obj = common::journey(false);
    obj.memory.pop();
    let (record, kind, msg) = broken(&reverify(&obj, &Trust::any()));
    assert_eq!((record, kind), (5, ErrorKind::Integrity), "{msg}");
}

#[test]
fn edited_data_intent_and_context_are_named() {
    let mut obj = common::journey(true);
    obj.set_data(json!({"paid": false}));
    let (record, kind, msg) = broken(&reverify(&obj, &all_keys()));
    assert_eq!((record, kind), (6, ErrorKind::Integrity));
    assert!(msg.contains("the data does not match"), "{msg}");

    let mut obj = common::journey(true);
    let mut doc = obj.intent().document().clone();
    doc["States"]["Pause"]["Seconds"] = json!(1);
    obj.intent = std::sync::Arc::new(Intent::new(&doc, &Limits::default()).unwrap());
    let (record, kind, msg) = broken(&reverify(&obj, &all_keys()));
    assert_eq!((record, kind), (6, ErrorKind::Integrity));
    assert!(msg.contains("the intent does not match"), "{msg}");

    let mut obj = common::journey(true);
    obj.context = obj.context.clone().with_label("trusted-by-everyone");
    let (record, kind, msg) = broken(&reverify(&obj, &all_keys()));
    assert_eq!((record, kind), (6, ErrorKind::Integrity));
    assert!(msg.contains("the context does not match"), "{msg}");

    let mut obj = common::journey(true);
    obj.status = Status::Failed;
    let (record, kind, _) = broken(&reverify(&obj, &all_keys()));
    assert_eq!((record, kind), (6, ErrorKind::Integrity));

    let mut obj = common::journey(true);
    obj.lineage.generation = 3;
    let (record, kind, _) = broken(&reverify(&obj, &all_keys()));
    assert_eq!((record, kind), (0, ErrorKind::Integrity));
}

#[test]
fn variables_are_committed_by_the_records() {
    let plan = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1, "who.$": "$.name"}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"x.$": "States.MathAdd($x, 1)", "y.$": "$x"}, "End": true}
    }});
    let options = CreateOptions { now_ms: 1, ..Default::default() };
    let mut obj = Object::create(&plan, Context::new(), &json!({"name": "peo"}), &options).unwrap();
    let node = NodeSpec::new("n", "eu");
    while obj.status() == Status::Running {
        obj.step(&node, 2, None).unwrap();
    }
    // Every value is computed from the variables as the state found them.
    assert_eq!(Value::Object(obj.variables().clone()), json!({"x": 2, "y": 1, "who": "peo"}));
    let records = obj.records().unwrap();
    assert_eq!(records[1].assigned.as_deref(), Some(r#"{"who":"peo","x":1}"#));
    assert_eq!(records[2].variables_hash, Some(obj.variables_hash()));
    assert!(reverify(&obj, &Trust::any()).broken.is_none());
    let decoded = Object::from_bytes(&obj.to_bytes(), &Limits::default()).unwrap();
    assert_eq!(decoded.variables(), obj.variables());

    for edit in [json!({"x": 3, "y": 1, "who": "peo"}), json!({})] {
        let mut forged = obj.clone();
        let Value::Object(m) = edit else { unreachable!() };
        let text = crate::json::canonical_map(&m);
        forged.set_variables(std::sync::Arc::new(m), text);
        let (record, kind, msg) = broken(&reverify(&forged, &Trust::any()));
        assert_eq!((record, kind), (3, ErrorKind::Integrity));
        assert!(msg.contains("the variables do not match"), "{msg}");
    }
}

#[test]
fn a_stripped_signature_is_detected() {
    let mut obj = common::journey(true);
    obj.memory[6].signature = None;
    let (record, kind, _) = broken(&reverify(&obj, &Trust::any()));
    assert_eq!((record, kind), (6, ErrorKind::Signature));
}

#[test]
fn into_result_names_the_record() {
    let mut obj = common::journey(true);
    obj.memory.swap(1, 2);
    let err = reverify(&obj, &Trust::any()).into_result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert_eq!(err.record(), Some(1));
    assert!(err.to_string().starts_with("integrity error at record 1: "), "{err}");
}

#[test]
fn error_kinds_have_unique_codes() {
    let mut codes: Vec<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), ErrorKind::ALL.len());
}

#[test]
fn admission_checks_signatures_from_the_newest_trusted_one_and_full_verification_all() {
    let obj = common::journey(true);
    // Records 0 (originator), 2 (eu) and 6 (us) are signed. A signature on record 2
    // that does not verify: the record's content, which the later signatures cover
    // through the hash chain, is unchanged.
    let mut broken_old = obj.clone();
    let bogus = common::eu_key().sign_record(&Hash::ZERO, obj.version);
    broken_old.memory[2].signature = Some(Box::new(bogus));
    let decoded = Object::from_bytes(&broken_old.to_bytes(), &Limits::default()).unwrap();
    let (record, kind, _) = broken(&decoded.verify(&all_keys()));
    assert_eq!((record, kind), (2, ErrorKind::Signature));
    let admitted = decoded.verify_for_admission(&all_keys());
    assert!(admitted.is_valid(), "{admitted:?}");
    assert_eq!(admitted.signatures_checked, 1, "only the newest trusted signature");
    // Without trusted keys there is no anchor: every signature is checked.
    assert_eq!(broken(&decoded.verify_for_admission(&Trust::any())).0, 2);
    // The newest signature itself is always checked.
    let mut broken_new = obj.clone();
    broken_new.memory[6].signature = Some(Box::new(bogus));
    let decoded = Object::from_bytes(&broken_new.to_bytes(), &Limits::default()).unwrap();
    assert_eq!(broken(&decoded.verify_for_admission(&all_keys())).0, 6);
    // Trusted by a store that trusts only the originator: the anchor is the genesis.
    let only_originator = Trust::keys([common::originator_key().public_key()]);
    let r = reverify(&obj, &only_originator);
    let admitted =
        Object::from_bytes(&obj.to_bytes(), &Limits::default()).unwrap().verify_for_admission(&only_originator);
    assert_eq!(admitted.broken.is_some(), r.broken.is_some());
    if admitted.broken.is_none() {
        assert_eq!(admitted.signatures_checked, 3);
    }
}
