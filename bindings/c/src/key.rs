//! Signing keys.

use std::ffi::c_char;

use peo_core::SigningKey;

use crate::{convert::*, error::*};

/// An Ed25519 signing key. Free with `peo_signing_key_free`.
pub struct PeoSigningKey(pub(crate) SigningKey);

/// Generates a signing key from the operating system's randomness.
/// Free `*out` with `peo_signing_key_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_signing_key_generate(out: *mut *mut PeoSigningKey) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        *out = Box::into_raw(Box::new(PeoSigningKey(SigningKey::generate()?)));
        Ok(())
    })
}

/// A signing key from its 32-byte seed (`len` must be 32).
/// Free `*out` with `peo_signing_key_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_signing_key_from_bytes(
    seed: *const u8,
    len: usize,
    out: *mut *mut PeoSigningKey,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let seed = unsafe { bytes_arg(seed, len, "seed") }?;
        *out = Box::into_raw(Box::new(PeoSigningKey(SigningKey::from_slice(seed)?)));
        Ok(())
    })
}

/// Writes the key's 32-byte seed (its secret) to `out`, which must hold 32 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_signing_key_to_bytes(key: *const PeoSigningKey, out: *mut u8) -> PeoStatus {
    guard(|| {
        let key = unsafe { handle(key, "key") }?;
        let out = unsafe { out_arg(out.cast::<[u8; 32]>(), "out") }?;
        *out = key.0.to_bytes();
        Ok(())
    })
}

/// Writes the key's 32-byte public key to `out`, which must hold 32 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_signing_key_public_key(key: *const PeoSigningKey, out: *mut u8) -> PeoStatus {
    guard(|| {
        let key = unsafe { handle(key, "key") }?;
        let out = unsafe { out_arg(out.cast::<[u8; 32]>(), "out") }?;
        *out = *key.0.public_key().as_bytes();
        Ok(())
    })
}

/// Signs an event (its JSON form, as `peo_jetstream_send_event` and `peo_node_visit`
/// take it) for object `object_id` (hex): `*event_json_out` is the same event with
/// `signer` and `signature`, which an `Await` state whose `Signers` name this key
/// accepts, for that object only. Free it with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_signing_key_sign_event(
    key: *const PeoSigningKey,
    object_id: *const c_char,
    event_json: *const c_char,
    event_json_out: *mut *mut c_char,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { string_out(event_json_out, "event_json_out") }?;
        let key = unsafe { handle(key, "key") }?;
        let id = unsafe { str_arg(object_id, "object_id") }?;
        let event = unsafe { str_arg(event_json, "event_json") }?;
        give_string(out, &peo_runtime::host::sign_event(&key.0, id, event)?);
        Ok(())
    })
}

/// Frees a signing key. Accepts NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_signing_key_free(key: *mut PeoSigningKey) {
    unsafe { free_box(key) }
}
