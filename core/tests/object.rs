//! The object container: round trip, the readable view, and malformed input.

mod common;

use common::*;
use flatbuffers::FlatBufferBuilder;
use peo_core::{Context, CreateOptions, ErrorKind, Limits, Object, ObjectId, Status, Trust, wire};
use serde_json::{Value, json};

#[test]
fn round_trip_is_byte_identical() {
    for signed in [false, true] {
        let obj = journey(signed);
        let bytes = obj.to_bytes();
        let decoded = Object::from_bytes(&bytes, &Limits::default()).unwrap();
        assert_eq!(decoded.to_bytes(), bytes, "re-encoding changed the bytes (signed: {signed})");
        assert_eq!(decoded.to_json(), obj.to_json());
        assert_eq!(decoded.head(), obj.head());
        assert_eq!(decoded.status(), Status::Succeeded);
        assert_eq!(decoded.memory().len(), 7);
        assert!(decoded.verify(&Trust::any()).is_valid());
    }
}

#[test]
fn a_fresh_object_round_trips_and_verifies() {
    let opts = CreateOptions { now_ms: T0, id: Some(ObjectId([9; 16])), ..Default::default() };
    let obj = Object::create(&intent(), Context::new(), &json!(null), &opts).unwrap();
    let bytes = obj.to_bytes();
    let back = Object::from_bytes(&bytes, &Limits::default()).unwrap();
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(back.id(), ObjectId([9; 16]));
    assert_eq!(back.state(), "Reserve");
    assert_eq!(back.status(), Status::Running);
    let report = back.verify(&Trust::any());
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.records_checked, 1);
    assert_eq!(report.unsigned_records, 1);
}

#[test]
fn ids_are_derived_deterministically_unless_given() {
    let opts = CreateOptions { now_ms: T0, ..Default::default() };
    let a = Object::create(&intent(), context(), &json!({"x": 1}), &opts).unwrap();
    let b = Object::create(&intent(), context(), &json!({"x": 1}), &opts).unwrap();
    let c = Object::create(&intent(), context(), &json!({"x": 2}), &opts).unwrap();
    assert_eq!(a.id(), b.id());
    assert_ne!(a.id(), c.id());
    assert_eq!(a.to_bytes(), b.to_bytes());
}

/// Every key of `v` (at any depth) as a dotted path.
fn key_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{prefix}.{k}");
                out.push(p.clone());
                key_paths(child, &p, out);
            }
        }
        Value::Array(a) => {
            for child in a {
                key_paths(child, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn to_json_shows_every_field() {
    let obj = journey(true);
    let v = obj.to_json();
    let mut paths = Vec::new();
    key_paths(&v, "", &mut paths);
    for want in [
        ".format_version",
        ".id",
        ".head",
        ".status",
        ".state",
        ".data",
        ".data_hash",
        ".lineage.parent",
        ".lineage.root",
        ".lineage.generation",
        ".lineage.branch",
        ".lineage.fanout_state",
        ".intent.revision",
        ".intent.objective",
        ".intent.class",
        ".intent.hash",
        ".intent.plan",
        ".intent.constraints.deadline_ms",
        ".intent.constraints.max_hops",
        ".intent.constraints.max_records",
        ".intent.constraints.allowed_domains",
        ".context.hash",
        ".context.originator.subject",
        ".context.originator.domain",
        ".context.originator.key",
        ".context.labels",
        ".context.attributes",
        ".context.policies",
        ".context.policy_refs",
        ".memory[].seq",
        ".memory[].visit",
        ".memory[].action",
        ".memory[].state",
        ".memory[].next_state",
        ".memory[].status",
        ".memory[].node.id",
        ".memory[].node.domain",
        ".memory[].node.key",
        ".memory[].time_ms",
        ".memory[].policy",
        ".memory[].advice",
        ".memory[].intent_hash",
        ".memory[].context_hash",
        ".memory[].data_hash",
        ".memory[].signed",
        ".memory[].hash",
        ".memory[].signature",
        ".memory[].body",
        ".memory[].body.input",
        ".memory[].body.capability",
        ".memory[].body.attempt",
        ".memory[].body.idempotency_key",
        ".memory[].body.output",
        ".memory[].body.error",
        ".memory[].body.wake_at_ms",
        ".memory[].body.cause",
    ] {
        assert!(paths.iter().any(|p| p == want), "to_json lacks {want}");
    }
    assert_eq!(v["memory"][0]["action"], "genesis");
    assert_eq!(v["memory"][0]["body"]["input"], json!({"order": 42, "items": ["a", "b"]}));
    assert_eq!(v["memory"][4]["body"]["error"]["error"], "Payment.Declined");
    assert_eq!(v["memory"][6]["status"], "succeeded");
    assert_eq!(v["context"]["labels"], json!(["pii", "region:eu"]));
    assert_eq!(v["intent"]["plan"]["States"]["Pause"]["Seconds"], 60);
    assert_eq!(v["data"], json!({"paid": true}));
}

fn kind(bytes: &[u8]) -> ErrorKind {
    match Object::from_bytes(bytes, &Limits::default()) {
        Ok(_) => panic!("decoded"),
        Err(e) => e.kind(),
    }
}

#[test]
fn random_bytes_are_decode_errors() {
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for len in [0usize, 1, 7, 8, 16, 100, 1000, 10_000] {
        for _ in 0..50 {
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            assert_eq!(kind(&b), ErrorKind::Decode);
            // With the right identifier the verifier must still reject it.
            if len >= 8 {
                b[4..8].copy_from_slice(b"PEO1");
                assert_eq!(kind(&b), ErrorKind::Decode);
            }
        }
    }
}

#[test]
fn wrong_file_identifier_is_named() {
    let mut b = journey(false).to_bytes();
    b[4..8].copy_from_slice(b"PEO2");
    let err = Object::from_bytes(&b, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.message().contains("file identifier is \"PEO2\""), "{err}");
}

/// A minimal object table with the given format version, built with the generated API.
fn object_with_version(version: u16) -> Vec<u8> {
    let good = chain(1, 1, None);
    let mut fbb = FlatBufferBuilder::new();
    let rec = fbb.create_vector(good.memory()[0].bytes());
    let entry = wire::RecordEntry::create(&mut fbb, &wire::RecordEntryArgs { bytes: Some(rec), signature: None });
    let memory = fbb.create_vector(&[entry]);
    let plan = fbb.create_string(good.intent().canonical_text());
    let intent = wire::Intent::create(&mut fbb, &wire::IntentArgs { plan: Some(plan), ..Default::default() });
    let context = wire::Context::create(&mut fbb, &wire::ContextArgs::default());
    let id = fbb.create_vector(&[0u8; 16]);
    let data = fbb.create_string("{}");
    let head = fbb.create_vector(&[0u8; 32]);
    let o = wire::Object::create(
        &mut fbb,
        &wire::ObjectArgs {
            format_version: version,
            id: Some(id),
            intent: Some(intent),
            context: Some(context),
            memory: Some(memory),
            data: Some(data),
            head: Some(head),
            ..Default::default()
        },
    );
    fbb.finish(o, Some("PEO1"));
    fbb.finished_data().to_vec()
}

#[test]
fn future_format_version_is_unsupported() {
    let err = Object::from_bytes(&object_with_version(3), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.message().contains("format version 3"), "{err}");
    assert_eq!(kind(&object_with_version(0)), ErrorKind::Decode);
    // Version 1 with a minimal table decodes (and fails verification, not decoding).
    let obj = Object::from_bytes(&object_with_version(1), &Limits::default()).unwrap();
    assert!(!obj.verify(&Trust::any()).is_valid());
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).expect("needle present")
}

#[test]
fn huge_declared_lengths_are_rejected_without_allocating() {
    let obj = journey(false);
    let bytes = obj.to_bytes();
    // The length prefix of the data string, of a record's bytes, and of the memory vector.
    let data_at = find(&bytes, obj.data_text().as_bytes()) - 4;
    let rec_at = find(&bytes, obj.memory()[2].bytes()) - 4;
    for at in [data_at, rec_at] {
        for len in [u32::MAX, u32::MAX / 2, bytes.len() as u32] {
            let mut b = bytes.clone();
            b[at..at + 4].copy_from_slice(&len.to_le_bytes());
            let err = Object::from_bytes(&b, &Limits::default()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "length {len} at {at}");
            assert!(!err.message().contains('\n'), "one-line messages: {err}");
        }
    }
}

#[test]
fn deep_json_is_a_limit_error() {
    // In the input handed to create.
    let mut deep = json!(1);
    for _ in 0..1000 {
        deep = json!([deep]);
    }
    let opts = CreateOptions { now_ms: T0, ..Default::default() };
    let err = Object::create(&intent(), Context::new(), &deep, &opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
    // In the data of an encoded object.
    let mut obj = journey(false);
    obj.set_data(deep);
    let err = Object::from_bytes(&obj.to_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert!(err.message().contains("the data nests JSON deeper than 64"), "{err}");
    // A configured lower limit applies too.
    let limits = Limits { max_json_depth: 1, ..Limits::default() };
    let err = Object::from_bytes(&journey(false).to_bytes(), &limits).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
}

#[test]
fn size_and_count_limits_apply() {
    let bytes = journey(false).to_bytes();
    let small = Limits { max_object_bytes: 100, ..Limits::default() };
    assert_eq!(Object::from_bytes(&bytes, &small).unwrap_err().kind(), ErrorKind::Limit);
    let few = Limits { max_records: 3, ..Limits::default() };
    let err = Object::from_bytes(&bytes, &few).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert!(err.message().contains("7 records; the limit is 3"), "{err}");
    let tiny_records = Limits { max_record_bytes: 64, ..Limits::default() };
    assert_eq!(Object::from_bytes(&bytes, &tiny_records).unwrap_err().kind(), ErrorKind::Limit);
    let big_input = json!({"s": "x".repeat(5 << 20)});
    let opts = CreateOptions { now_ms: T0, ..Default::default() };
    assert_eq!(Object::create(&intent(), Context::new(), &big_input, &opts).unwrap_err().kind(), ErrorKind::Limit);
}

#[test]
fn an_invalid_intent_is_refused_at_creation() {
    let opts = CreateOptions::default();
    let bad = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resourse": "x", "End": true}}});
    let err = Object::create(&bad, Context::new(), &json!({}), &opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidIntent);
    assert_eq!(err.state(), Some("A"));
    assert_eq!(err.field(), Some("Resourse"));
}

#[test]
fn a_signing_key_must_match_the_originator_key() {
    let other = us_key();
    let ctx =
        Context::new().with_originator(peo_core::Originator { key: Some(other.public_key()), ..Default::default() });
    let key = originator_key();
    let opts = CreateOptions { key: Some(&key), ..Default::default() };
    let err = Object::create(&intent(), ctx, &json!({}), &opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}
