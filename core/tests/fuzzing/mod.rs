//! What the `from_bytes` fuzz target checks of any bytes, shared with the test that
//! replays the inputs that once failed (`fuzz/regressions`) and the vectors' objects:
//! never a panic, and an object that decodes and verifies re-encodes to bytes that
//! decode to the same content.

use peo_core::{Limits, NodeSpec, Object, Step, TaskOutcome, Trust};

/// Decodes `data`, verifies it, and runs up to 32 steps of the cycle on whatever decoded.
/// Panics (the fuzzer's failure) when re-encoding is unstable or loses validity.
pub fn object_bytes(data: &[u8]) {
    let limits = Limits::default();
    let Ok(obj) = Object::from_bytes(data, &limits) else {
        return;
    };
    let report = obj.verify(&Trust::any());
    let _ = obj.to_json();
    let _ = obj.records();
    let bytes = obj.to_bytes();
    let again = Object::from_bytes(&bytes, &limits).expect("re-encoded bytes decode");
    assert_eq!(again.to_bytes(), bytes, "encoding is not stable");
    if report.is_valid() {
        assert!(again.verify(&Trust::any()).is_valid(), "a valid object re-encoded is no longer valid");
    }
    // Run the cycle on whatever decoded: errors are fine, panics are not.
    let node = NodeSpec::new("fuzz", "fuzz").with_capability("work");
    let mut obj = again;
    for i in 0..32i64 {
        match obj.step(&node, 1_700_000_000_000 + i * 1_000_000, None) {
            Ok(Step::Execute(call)) => {
                let out = if i % 2 == 0 {
                    TaskOutcome::Output((*call.input).clone())
                } else {
                    TaskOutcome::Error { error: "Fuzz".into(), cause: None }
                };
                if obj.record_outcome(&node, call, out, 1_700_000_000_000 + i * 1_000_000).is_err() {
                    break;
                }
            }
            Ok(Step::Appended(_)) | Ok(Step::Sleep(_)) => {}
            Err(_) => break,
        }
    }
    let _ = obj.to_bytes();
}
