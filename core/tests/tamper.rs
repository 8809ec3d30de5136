//! Tamper evidence, exhaustively on a small signed object: every flipped byte and
//! every truncation either fails with a typed error or decodes to exactly the original.

mod common;

use peo_core::{Limits, Object, Trust};

/// Decoding and verifying `bytes` either fails or yields content identical to `original`.
fn check(bytes: &[u8], original: &[u8], trust: &Trust, what: &str) -> bool {
    let Ok(obj) = Object::from_bytes(bytes, &Limits::default()) else { return false };
    let report = obj.verify(trust);
    if !report.is_valid() {
        return false;
    }
    assert_eq!(obj.to_bytes(), original, "{what}: accepted with different content");
    true
}

#[test]
fn every_flipped_byte_is_detected_or_harmless() {
    for signed in [true, false] {
        let obj = common::journey(signed);
        let original = obj.to_bytes();
        let trust = if signed {
            Trust::keys([common::originator_key(), common::eu_key(), common::us_key()].map(|k| k.public_key()))
        } else {
            Trust::any()
        };
        assert!(check(&original, &original, &trust, "original"));
        let mut accepted = 0;
        for i in 0..original.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut b = original.clone();
                b[i] ^= mask;
                if check(&b, &original, &trust, &format!("byte {i} ^ {mask:#x} (signed: {signed})")) {
                    accepted += 1;
                }
            }
        }
        // Only flips in padding and unused bytes can be harmless.
        assert!(accepted < original.len() / 4, "{accepted} of {} flips accepted", original.len() * 3);
        println!("signed={signed}: {} bytes, {} flips, {accepted} harmless", original.len(), original.len() * 3);
    }
}

#[test]
fn every_truncation_is_an_error() {
    let original = common::journey(true).to_bytes();
    for len in 0..original.len() {
        assert!(
            !check(&original[..len], &original, &Trust::any(), &format!("truncated to {len}")),
            "truncation to {len} accepted"
        );
    }
}
