//! Objects: create, decode, encode, verify, read.

use std::ffi::{CStr, c_char};
use std::ptr;

use peo_core::{Error, Limits, Object, PublicKey, Status, Trust};
use peo_runtime::host::{self, NewObject};

use crate::{convert::*, error::*, key::*};

// A persistent executable object. Declared opaque in the header by cbindgen.toml
// (`after_includes`): transparent, so an advisor can be shown a borrowed `&Object`.
/// cbindgen:ignore
#[repr(transparent)]
pub struct PeoObject(pub(crate) Object);

/// An object's status.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeoObjectStatus {
    Running = 0,
    Dormant = 1,
    Succeeded = 2,
    Failed = 3,
    Expired = 4,
    Rejected = 5,
}

/// How to create an object (`peo_object_create`). Zero-initialise it (`= {0}`) for the
/// defaults.
#[repr(C)]
pub struct PeoCreateOptions {
    /// The object's id as 32 hex digits, or NULL to derive it from the content and the
    /// creation time.
    pub id_hex: *const c_char,
    /// The creation time, ms since the Unix epoch; 0 means now (the system clock).
    pub now_ms: i64,
    /// The originator's key (signs the genesis record), or NULL for an unsigned genesis.
    /// Borrowed for the call only.
    pub key: *const PeoSigningKey,
}

/// Creates an object from its intent (an ASL plan with peo's extensions, JSON), its
/// context (JSON `{"labels", "attributes", "policies", ...}` or NULL for none) and its
/// input (JSON, or NULL for `{}`). `options` may be NULL.
/// Free `*out` with `peo_object_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_create(
    intent_json: *const c_char,
    context_json: *const c_char,
    input_json: *const c_char,
    options: *const PeoCreateOptions,
    out: *mut *mut PeoObject,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        // SAFETY: NULL or a readable options struct (the header's contract).
        let options = unsafe { options.as_ref() };
        let id_hex = match options.map(|o| o.id_hex) {
            Some(p) if !p.is_null() => Some(unsafe { str_arg(p, "options.id_hex") }?),
            _ => None,
        };
        let key = match options.map(|o| o.key) {
            Some(k) if !k.is_null() => Some(&unsafe { handle(k, "options.key") }?.0),
            _ => None,
        };
        let new = NewObject {
            intent_json: unsafe { str_arg(intent_json, "intent_json") }?,
            context_json: unsafe { opt_str_arg(context_json, "context_json") }?,
            input_json: unsafe { opt_str_arg(input_json, "input_json") }?,
            id_hex,
            now_ms: options.map(|o| o.now_ms).filter(|t| *t != 0),
            key,
        };
        *out = Box::into_raw(Box::new(PeoObject(new.create()?)));
        Ok(())
    })
}

/// Decodes an object from its bytes (untrusted input: any bytes give an object or a
/// status). Decoding does not verify signatures: see `peo_object_verify`.
/// Free `*out` with `peo_object_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_from_bytes(bytes: *const u8, len: usize, out: *mut *mut PeoObject) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let bytes = unsafe { bytes_arg(bytes, len, "bytes") }?;
        *out = Box::into_raw(Box::new(PeoObject(Object::from_bytes(bytes, &Limits::default())?)));
        Ok(())
    })
}

/// Encodes the object. Free `*out` with `peo_bytes_free(*out, *out_len)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_to_bytes(
    object: *const PeoObject,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> PeoStatus {
    guard(|| {
        let object = unsafe { handle(object, "object") }?;
        let out = unsafe { handle_out(out, "out") }?;
        let out_len = unsafe { out_arg(out_len, "out_len") }?;
        give_bytes(out, out_len, object.0.to_bytes());
        Ok(())
    })
}

/// Verifies the object: its hash chain, committed hashes and signatures. With
/// `key_count` > 0, `trusted_keys` holds `key_count` 32-byte public keys one after the
/// other and every visit must be signed by one of them; with 0, any valid signature is
/// accepted (and unsigned visits too). Returns `PEO_OK` when the object is valid, else
/// the kind of the first problem (`PEO_INTEGRITY`, `PEO_SIGNATURE`, ...) with its
/// message. When `report_json` is not NULL it receives the full report as JSON, valid
/// or not (free it with `peo_string_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_verify(
    object: *const PeoObject,
    trusted_keys: *const u8,
    key_count: usize,
    report_json: *mut *mut c_char,
) -> PeoStatus {
    unsafe { reporting(object, trusted_keys, key_count, report_json, |object, trust| Ok(object.verify(trust))) }
}

/// A verification of `object` under the trusted keys given, its report handed to
/// `report_json` when not NULL (valid or not), its status returned.
pub(crate) unsafe fn reporting(
    object: *const PeoObject,
    trusted_keys: *const u8,
    key_count: usize,
    report_json: *mut *mut c_char,
    check: impl FnOnce(&Object, &Trust) -> Result<peo_core::VerifyReport, Error>,
) -> PeoStatus {
    guard(|| {
        let object = unsafe { handle(object, "object") }?;
        if !report_json.is_null() {
            // SAFETY: checked non-NULL; writable (the header's contract).
            unsafe { *report_json = ptr::null_mut() };
        }
        let trust = Trust::for_verify(unsafe { keys_arg(trusted_keys, key_count) }?);
        let report = check(&object.0, &trust)?;
        if !report_json.is_null() {
            // SAFETY: as above.
            give_json(unsafe { &mut *report_json }, &report.to_json());
        }
        report.into_result().map(|_| ())
    })
}

/// Audits the object against its archive: the whole history, the records its
/// compactions pruned put back from `count` segments (`segments[i]`, `segment_lens[i]`
/// bytes each, as `peo_visit_archive` gives them, in any order), verified as
/// `peo_object_verify` does, every checkpoint recomputed from the records it folded.
/// Returns `PEO_OK` or the kind of the first problem (a missing segment is
/// `PEO_INTEGRITY`, one that does not decode `PEO_DECODE`); `report_json` as for
/// `peo_object_verify`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_audit(
    object: *const PeoObject,
    segments: *const *const u8,
    segment_lens: *const usize,
    count: usize,
    trusted_keys: *const u8,
    key_count: usize,
    report_json: *mut *mut c_char,
) -> PeoStatus {
    unsafe {
        reporting(object, trusted_keys, key_count, report_json, |object, trust| {
            let parts = byte_arrays(segments, segment_lens, count, "segments")?;
            Ok(object.audit(&host::segments(&parts)?, trust))
        })
    }
}

/// The inclusion proof that pruned record `seq` is part of the object's history, made
/// from its archive (`count` segments as for `peo_object_audit`): `*proof_json` is
/// `{"index", "record_hash", "path"}`, the record's hash and its RFC 6962 audit path to
/// the Merkle frontier of the newest checkpoint. Free it with `peo_string_free`.
/// `PEO_INVALID_ARGUMENT` (field `seq`) when that record was not pruned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_prove_pruned(
    object: *const PeoObject,
    segments: *const *const u8,
    segment_lens: *const usize,
    count: usize,
    seq: u32,
    proof_json: *mut *mut c_char,
) -> PeoStatus {
    guard(|| {
        let object = unsafe { handle(object, "object") }?;
        let out = unsafe { string_out(proof_json, "proof_json") }?;
        let parts = unsafe { byte_arrays(segments, segment_lens, count, "segments") }?;
        give_string(out, &host::prove_pruned(&object.0, &parts, i64::from(seq), host::Casing::Snake)?);
        Ok(())
    })
}

/// Checks, offline, a pruned-record proof (`peo_object_prove_pruned`'s JSON) against the
/// object: `PEO_OK` when it shows its record as a pruned record of this object,
/// `PEO_INTEGRITY` (field `proof`) when it does not. Whether the checkpoint's signer is
/// trusted is what `peo_object_verify` says.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_check_pruned(object: *const PeoObject, proof_json: *const c_char) -> PeoStatus {
    guard(|| {
        let object = unsafe { handle(object, "object") }?;
        host::check_pruned(&object.0, unsafe { str_arg(proof_json, "proof_json") }?)
    })
}

/// `count` byte arrays passed as pointers and lengths.
pub(crate) unsafe fn byte_arrays<'a>(
    ptrs: *const *const u8,
    lens: *const usize,
    count: usize,
    what: &str,
) -> Result<Vec<&'a [u8]>, Error> {
    if count > 0 && (ptrs.is_null() || lens.is_null()) {
        return Err(invalid(format!("`{what}` and its lengths must point to `count` entries")));
    }
    (0..count)
        .map(|i| {
            // SAFETY: the caller passes `count` pointers and lengths (the header's contract).
            let (p, len) = unsafe { (*ptrs.add(i), *lens.add(i)) };
            unsafe { bytes_arg(p, len, what) }
        })
        .collect()
}

/// `count` 32-byte keys, one after the other.
pub(crate) unsafe fn key_bytes<'a>(keys: *const u8, count: usize) -> Result<&'a [u8], Error> {
    let len = count.checked_mul(32).ok_or_else(|| invalid("`key_count` is too large"))?;
    unsafe { bytes_arg(keys, len, "trusted_keys") }
}

pub(crate) unsafe fn keys_arg(keys: *const u8, count: usize) -> Result<Vec<PublicKey>, Error> {
    let bytes = unsafe { key_bytes(keys, count) }?;
    host::public_keys(&bytes.chunks(32).collect::<Vec<_>>())
}

/// The whole object as JSON (id, lineage, status, state, head, intent, context, every
/// record of the memory, data). Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_to_json(object: *const PeoObject, out: *mut *mut c_char) -> PeoStatus {
    object_string(object, out, |o| peo_runtime::host::json_text(&o.to_json()))
}

/// The object's memory (its records, oldest first) as a JSON array.
/// Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_memory_json(object: *const PeoObject, out: *mut *mut c_char) -> PeoStatus {
    guard(|| {
        let object = unsafe { handle(object, "object") }?;
        let out = unsafe { string_out(out, "out") }?;
        give_json(out, &object.0.records_json(0)?);
        Ok(())
    })
}

/// Record `index` of the object's memory (0 is the genesis record) as JSON: `seq`,
/// `visit`, `action`, `state`, `next_state`, `status`, `node`, `time_ms`, `policy`,
/// `advice`, the hashes, and the action's details. Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_record_json(
    object: *const PeoObject,
    index: usize,
    out: *mut *mut c_char,
) -> PeoStatus {
    guard(|| {
        let object = unsafe { handle(object, "object") }?;
        let out = unsafe { string_out(out, "out") }?;
        let memory = object.0.memory();
        let record = memory
            .get(index)
            .ok_or_else(|| invalid(format!("the object has {} records; there is no record {index}", memory.len())))?;
        give_json(out, &record.decode()?.to_json());
        Ok(())
    })
}

/// The object's data (its current JSON document). Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_data_json(object: *const PeoObject, out: *mut *mut c_char) -> PeoStatus {
    object_string(object, out, |o| o.data_text().to_owned())
}

/// The object's workflow variables in force (`Assign`): a JSON object of name to value
/// (`{}` when there are none). Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_variables_json(object: *const PeoObject, out: *mut *mut c_char) -> PeoStatus {
    object_string(object, out, |o| o.variables_text().to_owned())
}

/// The object's current state name. Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_state(object: *const PeoObject, out: *mut *mut c_char) -> PeoStatus {
    object_string(object, out, |o| o.state().to_owned())
}

/// The object's id, 32 hex digits. Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_id(object: *const PeoObject, out: *mut *mut c_char) -> PeoStatus {
    object_string(object, out, |o| o.id().to_hex())
}

/// The hash of the object's last record (its memory head), 64 hex digits.
/// Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_head(object: *const PeoObject, out: *mut *mut c_char) -> PeoStatus {
    object_string(object, out, |o| o.head().to_hex())
}

pub(crate) fn object_string(
    object: *const PeoObject,
    out: *mut *mut c_char,
    f: impl FnOnce(&Object) -> String,
) -> PeoStatus {
    guard(|| {
        let object = unsafe { handle(object, "object") }?;
        let out = unsafe { string_out(out, "out") }?;
        give_string(out, &f(&object.0));
        Ok(())
    })
}

/// The object's status.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_status(object: *const PeoObject, out: *mut PeoObjectStatus) -> PeoStatus {
    guard(|| {
        let object = unsafe { handle(object, "object") }?;
        let out = unsafe { out_arg(out, "out") }?;
        *out = match object.0.status() {
            Status::Running => PeoObjectStatus::Running,
            Status::Dormant => PeoObjectStatus::Dormant,
            Status::Succeeded => PeoObjectStatus::Succeeded,
            Status::Failed => PeoObjectStatus::Failed,
            Status::Expired => PeoObjectStatus::Expired,
            Status::Rejected => PeoObjectStatus::Rejected,
        };
        Ok(())
    })
}

/// The name of an object status (`"running"`, `"dormant"`, `"succeeded"`, `"failed"`,
/// `"expired"`, `"rejected"`: the names JSON uses), or NULL for a value that is not
/// one. Static: never freed.
#[unsafe(no_mangle)]
pub extern "C" fn peo_object_status_name(status: i32) -> *const c_char {
    const NAMES: [&CStr; 6] = [c"running", c"dormant", c"succeeded", c"failed", c"expired", c"rejected"];
    usize::try_from(status).ok().and_then(|i| NAMES.get(i)).map_or(ptr::null(), |n| n.as_ptr())
}

/// The number of records in the object's memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_record_count(object: *const PeoObject, out: *mut usize) -> PeoStatus {
    guard(|| {
        let object = unsafe { handle(object, "object") }?;
        *unsafe { out_arg(out, "out") }? = object.0.memory().len();
        Ok(())
    })
}

/// Frees an object. Accepts NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_free(object: *mut PeoObject) {
    unsafe { free_box(object) }
}
