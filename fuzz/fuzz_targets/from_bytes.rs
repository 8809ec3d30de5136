//! Untrusted bytes through `Object::from_bytes`, `verify` and the cycle: never a panic,
//! and an object that decodes and verifies re-encodes to bytes that decode to the same
//! content.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/fuzzing/mod.rs"]
mod fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::object_bytes(data));
