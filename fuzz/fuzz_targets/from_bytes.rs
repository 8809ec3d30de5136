//! Untrusted bytes through `Object::from_bytes` and `verify`: never a panic, and an
//! object that decodes and verifies re-encodes to bytes that decode to the same content.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peo_core::{Limits, Object, Trust};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(obj) = Object::from_bytes(data, &limits) else { return };
    let report = obj.verify(&Trust::any());
    let _ = obj.to_json();
    let _ = obj.records();
    let bytes = obj.to_bytes();
    let again = Object::from_bytes(&bytes, &limits).expect("re-encoded bytes decode");
    assert_eq!(again.to_bytes(), bytes, "encoding is not stable");
    if report.is_valid() {
        assert!(again.verify(&Trust::any()).is_valid(), "a valid object re-encoded is no longer valid");
    }
});
