//! # libpeo: the C ABI of peo
//!
//! `#include <peo.h>`, link `-lpeo`. The header (`include/peo.h`) is generated from this
//! file by cbindgen (`bindings/c/cbindgen.toml`); `bindings/c/README.md` shows how to
//! build a program against it.
//!
//! Conventions (every function follows them):
//! - Objects, nodes, visits and signing keys are opaque handles. Each is created by a
//!   `peo_<noun>_...` function that writes it through an out-parameter and is released
//!   by `peo_<noun>_free`, which accepts NULL.
//! - Fallible functions return a `peo_status`: `PEO_OK` (0) or the kind of error. The
//!   message of the last failure on the calling thread is `peo_last_error_message()`;
//!   a call that succeeds clears it. On failure, handle out-parameters are set to NULL.
//! - Strings passed in are NUL-terminated UTF-8; JSON is passed as text. Strings the
//!   library returns (`char **out`) are freed with `peo_string_free`, byte buffers
//!   (`uint8_t **out, size_t *out_len`) with `peo_bytes_free`. Pointers documented as
//!   *borrowed* stay valid as long as the handle they came from and must not be freed.
//! - NULL where a value is required, a wrong length, non-UTF-8 text or bad JSON is
//!   answered with a status and a message, never a crash. A panic inside the library,
//!   or in its code around a callback, never unwinds into C: it is `PEO_INTERNAL`.
//! - Callbacks (handlers, advisors, clocks) run on the thread that called
//!   `peo_node_visit` / `peo_node_complete`. C++ callbacks must not let exceptions
//!   escape them.

#![allow(clippy::missing_safety_doc)] // the safety contract is the header's documentation

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::Arc;

use peo_core::checkpoint::Segment;
use peo_core::{Disposition, Error, ErrorKind, Limits, Object, Proposal, PublicKey, SigningKey, Status, Trust};
use peo_runtime::host::{self, NewObject, Setting};
use peo_runtime::{Clock, HANDLER_INVALID_OUTPUT, Handler, HandlerError, Invocation, Node, Visit};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Status and errors

/// The result of a fallible call: `PEO_OK`, or the kind of error (the same kinds, with
/// the same names, as `ErrorKind::code()` in Rust, `PeoError.code` in Python and
/// `err.code` in Node). The message is `peo_last_error_message()`.
///
/// cbindgen:prefix-with-name=false
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum PeoStatus {
    /// Success.
    PeoOk = 0,
    /// The bytes are not a well-formed peo object (or record), or a JSON argument is not JSON.
    PeoDecode = 1,
    /// The content does not match its hash chain or committed hashes.
    PeoIntegrity = 2,
    /// A signature is missing, malformed, invalid, or by a key that is not trusted.
    PeoSignature = 3,
    /// Well-formed, but uses something this version does not support.
    PeoUnsupported = 4,
    /// A configured limit (size, count, depth, cycles) was exceeded.
    PeoLimit = 5,
    /// The intent (the ASL plan and its peo extensions) is invalid.
    PeoInvalidIntent = 6,
    /// An argument is invalid: NULL where a value is required, a wrong length, a wrong
    /// JSON shape, text that is not UTF-8.
    PeoInvalidArgument = 7,
    /// Policy refused the action.
    PeoPolicy = 8,
    /// The object has already terminated; nothing more can happen to it.
    PeoTerminated = 9,
    /// A bug in peo (including a panic caught at the boundary). Please report it.
    PeoInternal = 10,
    /// The NATS server cannot be reached, or a JetStream request failed. Nothing was
    /// lost: retry when the server is back.
    PeoTransport = 11,
}

/// Every status, in value order (for `peo_status_name`).
const STATUSES: [(PeoStatus, &CStr); 12] = [
    (PeoStatus::PeoOk, c"PEO_OK"),
    (PeoStatus::PeoDecode, c"PEO_DECODE"),
    (PeoStatus::PeoIntegrity, c"PEO_INTEGRITY"),
    (PeoStatus::PeoSignature, c"PEO_SIGNATURE"),
    (PeoStatus::PeoUnsupported, c"PEO_UNSUPPORTED"),
    (PeoStatus::PeoLimit, c"PEO_LIMIT"),
    (PeoStatus::PeoInvalidIntent, c"PEO_INVALID_INTENT"),
    (PeoStatus::PeoInvalidArgument, c"PEO_INVALID_ARGUMENT"),
    (PeoStatus::PeoPolicy, c"PEO_POLICY"),
    (PeoStatus::PeoTerminated, c"PEO_TERMINATED"),
    (PeoStatus::PeoInternal, c"PEO_INTERNAL"),
    (PeoStatus::PeoTransport, c"PEO_TRANSPORT"),
];

fn status_of(kind: ErrorKind) -> PeoStatus {
    match kind {
        ErrorKind::Decode => PeoStatus::PeoDecode,
        ErrorKind::Integrity => PeoStatus::PeoIntegrity,
        ErrorKind::Signature => PeoStatus::PeoSignature,
        ErrorKind::Unsupported => PeoStatus::PeoUnsupported,
        ErrorKind::Limit => PeoStatus::PeoLimit,
        ErrorKind::InvalidIntent => PeoStatus::PeoInvalidIntent,
        ErrorKind::InvalidArgument => PeoStatus::PeoInvalidArgument,
        ErrorKind::Policy => PeoStatus::PeoPolicy,
        ErrorKind::Terminated => PeoStatus::PeoTerminated,
        ErrorKind::Transport => PeoStatus::PeoTransport,
        // Internal, and any kind a newer core adds before this binding knows it.
        _ => PeoStatus::PeoInternal,
    }
}

struct LastError {
    status: PeoStatus,
    message: CString,
}

thread_local! {
    /// The buffer a handler call's strings are written to (see `Callback::call_refined`).
    static CALL_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError { status: PeoStatus::PeoOk, message: CString::default() });
}

fn set_last_error(status: PeoStatus, message: &str) {
    let message = c_string(message);
    LAST_ERROR.with(|e| *e.borrow_mut() = LastError { status, message });
}

fn clear_last_error() {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        if e.status != PeoStatus::PeoOk {
            *e = LastError { status: PeoStatus::PeoOk, message: CString::default() };
        }
    });
}

/// Runs an entry point's body: never lets a panic out, records the error of a failure
/// (or clears the last one on success) and returns the status.
fn guard(f: impl FnOnce() -> Result<(), Error>) -> PeoStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            clear_last_error();
            PeoStatus::PeoOk
        }
        Ok(Err(e)) => {
            let status = status_of(e.kind());
            set_last_error(status, &e.to_string());
            status
        }
        Err(panic) => {
            let what = peo_runtime::panic_message(&*panic);
            set_last_error(
                PeoStatus::PeoInternal,
                &format!("internal error: peo panicked ({what}); the call had no effect. Please report it."),
            );
            PeoStatus::PeoInternal
        }
    }
}

/// The status of the last failed call on this thread, or `PEO_OK` when the last
/// status-returning call succeeded.
#[unsafe(no_mangle)]
pub extern "C" fn peo_last_error() -> PeoStatus {
    LAST_ERROR.with(|e| e.borrow().status)
}

/// The message of the last failed call on this thread (`""` when the last
/// status-returning call succeeded). Borrowed: valid until the next call into peo on
/// this thread; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn peo_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().message.as_ptr())
}

/// The name of a status (`"PEO_OK"`, `"PEO_DECODE"`, ...), or NULL for a value that is
/// not a status. Static: never freed.
#[unsafe(no_mangle)]
pub extern "C" fn peo_status_name(status: i32) -> *const c_char {
    STATUSES.iter().find(|(s, _)| *s as i32 == status).map_or(ptr::null(), |(_, name)| name.as_ptr())
}

/// The library's version (`"0.1.0"`). Static: never freed.
#[unsafe(no_mangle)]
pub extern "C" fn peo_version() -> *const c_char {
    const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"",
    };
    VERSION.as_ptr()
}

// ---------------------------------------------------------------------------------------
// Arguments and results

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_argument(message)
}

/// A required string argument.
unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(invalid(format!("`{what}` is NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string (the header's contract).
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|e| invalid(format!("`{what}` is not UTF-8: {e}")))
}

/// An optional string argument (NULL = absent).
unsafe fn opt_str_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() { Ok(None) } else { unsafe { str_arg(p, what) }.map(Some) }
}

/// A JSON text argument (serde_json checks the UTF-8 as it parses).
unsafe fn json_arg(p: *const c_char, what: &str) -> Result<Value, Error> {
    if p.is_null() {
        return Err(invalid(format!("`{what}` is NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string (the header's contract).
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    serde_json::from_slice(bytes).map_err(|e| {
        if std::str::from_utf8(bytes).is_err() {
            invalid(format!("`{what}` is not UTF-8"))
        } else {
            Error::decode(format!("`{what}` is not valid JSON: {e}"))
        }
    })
}

/// A byte-buffer argument (NULL is allowed only with length 0).
unsafe fn bytes_arg<'a>(p: *const u8, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if p.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(invalid(format!("`{what}` is NULL but its length is {len}"))) };
    }
    // SAFETY: the caller passes `len` readable bytes (the header's contract).
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A required out-parameter.
unsafe fn out_arg<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: non-NULL out-parameters point to writable storage (the header's contract).
    unsafe { p.as_mut() }.ok_or_else(|| invalid(format!("the out-parameter `{what}` is NULL")))
}

/// A required handle argument.
unsafe fn handle<'a, T>(p: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: non-NULL handles come from this library and are live (the header's contract).
    unsafe { p.as_ref() }.ok_or_else(|| invalid(format!("`{what}` is NULL")))
}

unsafe fn handle_mut<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: as for `handle`, and not used by another call at the same time.
    unsafe { p.as_mut() }.ok_or_else(|| invalid(format!("`{what}` is NULL")))
}

/// A C string of `s`; an interior NUL (possible only in names that came from JSON
/// `\u0000`) becomes U+FFFD so the text is never silently cut.
fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| CString::new(s.replace('\0', "\u{fffd}")).unwrap_or_default())
}

/// Hands a string to C (freed with `peo_string_free`).
fn give_string(out: &mut *mut c_char, s: &str) {
    *out = c_string(s).into_raw();
}

fn give_json(out: &mut *mut c_char, v: &Value) {
    give_string(out, &v.to_string());
}

/// Hands a byte buffer to C (freed with `peo_bytes_free(ptr, len)`).
fn give_bytes(out: &mut *mut u8, out_len: &mut usize, bytes: Vec<u8>) {
    let boxed = bytes.into_boxed_slice();
    *out_len = boxed.len();
    *out = Box::into_raw(boxed).cast::<u8>();
}

/// Frees a string returned by peo. Accepts NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from `CString::into_raw` in `give_string`.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Frees a byte buffer returned by peo, with the length returned alongside it. Accepts
/// NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_bytes_free(bytes: *mut u8, len: usize) {
    if !bytes.is_null() {
        // SAFETY: `bytes`/`len` came from `give_bytes` (a boxed slice of exactly `len`).
        drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(bytes, len)) });
    }
}

/// Frees a handle allocated by `Box::into_raw`.
unsafe fn free_box<T>(p: *mut T) {
    if !p.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `p` came from `Box::into_raw` of this type and is freed once.
            drop(unsafe { Box::from_raw(p) })
        }));
    }
}

/// Clears a handle out-parameter first (so it is NULL on failure) and returns it.
unsafe fn handle_out<'a, T>(out: *mut *mut T, what: &str) -> Result<&'a mut *mut T, Error> {
    let out = unsafe { out_arg(out, what) }?;
    *out = ptr::null_mut();
    Ok(out)
}

unsafe fn string_out<'a>(out: *mut *mut c_char, what: &str) -> Result<&'a mut *mut c_char, Error> {
    unsafe { handle_out(out, what) }
}

// ---------------------------------------------------------------------------------------
// Signing keys

/// An Ed25519 signing key. Free with `peo_signing_key_free`.
pub struct PeoSigningKey(SigningKey);

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

/// Frees a signing key. Accepts NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_signing_key_free(key: *mut PeoSigningKey) {
    unsafe { free_box(key) }
}

// ---------------------------------------------------------------------------------------
// Objects

// A persistent executable object. Declared opaque in the header by cbindgen.toml
// (`after_includes`): transparent, so an advisor can be shown a borrowed `&Object`.
/// cbindgen:ignore
#[repr(transparent)]
pub struct PeoObject(Object);

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
unsafe fn reporting(
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
            let archive = parts.iter().map(|b| Segment::from_bytes(b)).collect::<Result<Vec<_>, Error>>()?;
            Ok(object.audit(&archive, trust))
        })
    }
}

/// `count` byte arrays passed as pointers and lengths.
unsafe fn byte_arrays<'a>(
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
unsafe fn key_bytes<'a>(keys: *const u8, count: usize) -> Result<&'a [u8], Error> {
    let len = count.checked_mul(32).ok_or_else(|| invalid("`key_count` is too large"))?;
    unsafe { bytes_arg(keys, len, "trusted_keys") }
}

unsafe fn keys_arg(keys: *const u8, count: usize) -> Result<Vec<PublicKey>, Error> {
    let bytes = unsafe { key_bytes(keys, count) }?;
    host::public_keys(&bytes.chunks(32).collect::<Vec<_>>())
}

/// The whole object as JSON (id, lineage, status, state, head, intent, context, every
/// record of the memory, data). Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_object_to_json(object: *const PeoObject, out: *mut *mut c_char) -> PeoStatus {
    object_string(object, out, |o| o.to_json().to_string())
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

fn object_string(object: *const PeoObject, out: *mut *mut c_char, f: impl FnOnce(&Object) -> String) -> PeoStatus {
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

// ---------------------------------------------------------------------------------------
// Nodes, handlers, advisors, clocks

/// What a handler is given. Every pointer is borrowed for the duration of the call.
#[repr(C)]
pub struct PeoCall {
    /// The capability (the Task state's `Resource`).
    pub capability: *const c_char,
    /// The state being executed.
    pub state: *const c_char,
    /// The state's effective input (after `InputPath` and `Parameters`), JSON.
    pub input_json: *const c_char,
    /// `<object id>/<state>/<entry>/<attempt>`: the same wherever this attempt runs, so a
    /// handler can recognise a repeated delivery.
    pub idempotency_key: *const c_char,
    /// 0 for the first attempt.
    pub attempt: u32,
    /// Whether the state has a deadline (`TimeoutSeconds`).
    pub has_deadline: bool,
    /// The deadline, ms since the Unix epoch by the node's clock (when `has_deadline`).
    pub deadline_ms: i64,
}

/// Where a handler puts its result: exactly one of `peo_task_result_set_output` or
/// `peo_task_result_set_error` (the last call wins), optionally
/// `peo_task_result_set_refinement`. Valid only during the handler call.
pub struct PeoTaskResult {
    outcome: Option<Result<Value, HandlerError>>,
    refinement: Option<Value>,
}

/// A handler: runs the work behind a capability. It must record its result in `result`
/// before returning; a handler that records nothing, or output that is not JSON, fails
/// the attempt with the error `peo.HandlerInvalidOutput` (which `Retry`/`Catch` can
/// match), and the visit goes on.
pub type PeoHandler =
    Option<unsafe extern "C" fn(user_data: *mut c_void, call: *const PeoCall, result: *mut PeoTaskResult)>;

/// Where an advisor puts its proposal (`peo_advice_propose`). Valid only during the
/// advisor call.
pub struct PeoAdvice {
    proposal: Option<Proposal>,
}

/// An advisor: before each cycle of a visit, may propose an action with
/// `peo_advice_propose`. `object` is borrowed for the call (read it with the
/// `peo_object_*` accessors; do not free it).
pub type PeoAdvisor =
    Option<unsafe extern "C" fn(user_data: *mut c_void, object: *const PeoObject, advice: *mut PeoAdvice)>;

/// A clock: ms since the Unix epoch.
pub type PeoClock = Option<unsafe extern "C" fn(user_data: *mut c_void) -> i64>;

/// Records the handler's output (JSON). Output that is not JSON fails the attempt
/// with `peo.HandlerInvalidOutput` and returns `PEO_DECODE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_task_result_set_output(
    result: *mut PeoTaskResult,
    output_json: *const c_char,
) -> PeoStatus {
    guard(|| {
        let result = unsafe { handle_mut(result, "result") }?;
        match unsafe { json_arg(output_json, "output_json") } {
            Ok(v) => {
                result.outcome = Some(Ok(v));
                Ok(())
            }
            Err(e) => {
                result.outcome = Some(Err(HandlerError::new(HANDLER_INVALID_OUTPUT, e.message())));
                Err(e)
            }
        }
    })
}

/// Records the handler's failure: an error name (matched by `Retry` / `Catch`, for
/// example `"Inventory.OutOfStock"`) and a cause (NULL for none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_task_result_set_error(
    result: *mut PeoTaskResult,
    error: *const c_char,
    cause: *const c_char,
) -> PeoStatus {
    guard(|| {
        let result = unsafe { handle_mut(result, "result") }?;
        let error = unsafe { str_arg(error, "error") };
        let cause = unsafe { opt_str_arg(cause, "cause") };
        let (error, cause) = match (error, cause) {
            (Ok(e), Ok(c)) if !e.is_empty() => (e, c),
            (Ok(_), Ok(_)) => {
                let e = invalid("`error` is empty: name the error, for example \"Inventory.OutOfStock\"");
                result.outcome = Some(Err(HandlerError::new(HANDLER_INVALID_OUTPUT, e.message())));
                return Err(e);
            }
            (Err(e), _) | (_, Err(e)) => {
                result.outcome = Some(Err(HandlerError::new(HANDLER_INVALID_OUTPUT, e.message())));
                return Err(e);
            }
        };
        result.outcome = Some(Err(HandlerError { error: error.to_owned(), cause: cause.map(str::to_owned) }));
        Ok(())
    })
}

/// Proposes a refinement of the object's intent along with the output
/// (`{"Objective"?, "Class"?, "Constraints"?, "States"?, "Goto"?}`, JSON), applied as a
/// `mutate` record if policy permits. Ignored when the handler records an error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_task_result_set_refinement(
    result: *mut PeoTaskResult,
    refinement_json: *const c_char,
) -> PeoStatus {
    guard(|| {
        let result = unsafe { handle_mut(result, "result") }?;
        result.refinement = Some(unsafe { json_arg(refinement_json, "refinement_json") }?);
        Ok(())
    })
}

/// Proposes an action (JSON `{"action": "execute" | "delegate" | "terminate",
/// "target"?, "confidence"?, "rationale"?}`). The node checks and authorises it like
/// any action: advice never overrides policy. An invalid proposal is not used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_advice_propose(advice: *mut PeoAdvice, proposal_json: *const c_char) -> PeoStatus {
    guard(|| {
        let advice = unsafe { handle_mut(advice, "advice") }?;
        advice.proposal = None;
        advice.proposal = Some(Proposal::from_json(&unsafe { json_arg(proposal_json, "proposal_json") }?)?);
        Ok(())
    })
}

/// A C function with its user data. The node may be used from several threads; the
/// header documents that callbacks run on the calling thread, and the user data is the
/// caller's to synchronise.
#[derive(Clone, Copy)]
struct Callback<F> {
    f: F,
    user_data: *mut c_void,
}

// SAFETY: the header makes the caller responsible for the user data being usable from
// the threads that call `peo_node_visit`; the function pointers themselves are plain code.
unsafe impl<F> Send for Callback<F> {}
unsafe impl<F> Sync for Callback<F> {}

type HandlerFn = unsafe extern "C" fn(*mut c_void, *const PeoCall, *mut PeoTaskResult);
type AdvisorFn = unsafe extern "C" fn(*mut c_void, *const PeoObject, *mut PeoAdvice);
type ClockFn = unsafe extern "C" fn(*mut c_void) -> i64;

impl Handler for Callback<HandlerFn> {
    fn call(&self, invocation: &Invocation) -> Result<Value, HandlerError> {
        self.call_refined(invocation).map(|(v, _)| v)
    }

    fn call_refined(&self, invocation: &Invocation) -> Result<(Value, Option<Value>), HandlerError> {
        // The four strings in one buffer, each NUL-terminated, reused across calls on
        // this thread (taken out while in use, so a nested visit gets its own).
        let mut buf = CALL_BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
        buf.clear();
        let push = |buf: &mut Vec<u8>, s: &str| {
            let start = buf.len();
            if s.contains('\0') {
                buf.extend_from_slice(s.replace('\0', "\u{fffd}").as_bytes());
            } else {
                buf.extend_from_slice(s.as_bytes());
            }
            buf.push(0);
            start
        };
        let capability = push(&mut buf, &invocation.capability);
        let state = push(&mut buf, &invocation.state);
        let key = push(&mut buf, &invocation.idempotency_key);
        let input = buf.len();
        // JSON text never holds a raw NUL (serde_json escapes it).
        serde_json::to_writer(&mut buf, &invocation.input)
            .map_err(|e| HandlerError::new(HANDLER_INVALID_OUTPUT, e.to_string()))?;
        buf.push(0);
        let at = |i: usize| buf[i..].as_ptr().cast::<c_char>();
        let call = PeoCall {
            capability: at(capability),
            state: at(state),
            input_json: at(input),
            idempotency_key: at(key),
            attempt: invocation.attempt,
            has_deadline: invocation.deadline_ms.is_some(),
            deadline_ms: invocation.deadline_ms.unwrap_or(0),
        };
        let mut result = PeoTaskResult { outcome: None, refinement: None };
        // SAFETY: a function pointer registered by the caller, with its own user data.
        unsafe { (self.f)(self.user_data, &call, &mut result) };
        CALL_BUFFER.with(|b| *b.borrow_mut() = buf);
        match result.outcome {
            Some(Ok(v)) => Ok((v, result.refinement)),
            Some(Err(e)) => Err(e),
            None => Err(HandlerError::new(
                HANDLER_INVALID_OUTPUT,
                "the handler returned without a result (call peo_task_result_set_output or peo_task_result_set_error)",
            )),
        }
    }
}

impl Callback<AdvisorFn> {
    fn advise(&self, object: &Object) -> Option<Proposal> {
        let mut advice = PeoAdvice { proposal: None };
        let object = ptr::from_ref(object).cast::<PeoObject>();
        // SAFETY: `PeoObject` is a transparent wrapper of `Object`; the pointer is
        // borrowed for the call, as the header says.
        unsafe { (self.f)(self.user_data, object, &mut advice) };
        advice.proposal
    }
}

impl Clock for Callback<ClockFn> {
    fn now_ms(&self) -> i64 {
        // SAFETY: a function pointer registered by the caller, with its own user data.
        unsafe { (self.f)(self.user_data) }
    }
}

/// A node: a place that evaluates objects. Free with `peo_node_free`.
///
/// Visits, completions and serve loops use it shared (several threads may visit with
/// one node at once); `peo_node_set_*` and `peo_node_add_handler` change it only while
/// nothing uses it, and otherwise fail with `PEO_INVALID_ARGUMENT` (a handler or advisor
/// reconfiguring the node that is calling it, a serve loop running on another thread):
/// configure a node before using it.
pub struct PeoNode {
    node: std::sync::RwLock<Node>,
}

impl PeoNode {
    fn set(&self, setting: Setting<'_>) -> Result<(), Error> {
        let mut guard = match self.node.try_write() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(invalid(
                    "the node is in use (a visit, completion or serve loop is running with it, perhaps the one \
                     calling this from a handler): configure a node before using it",
                ));
            }
        };
        host::apply(&mut guard, setting)
    }

    /// The node, shared, for the duration of a visit, a completion or a serve loop.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Node> {
        self.node.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// A node with an id and a domain, no key, no handlers, no policy, the system clock,
/// accepting nothing until it is given trust (`peo_node_set_trust`,
/// `peo_node_set_trusted_keys`). Configure it with the `peo_node_set_*` /
/// `peo_node_add_handler` functions before visits (while a visit, completion or serve
/// loop uses the node they fail with `PEO_INVALID_ARGUMENT`). Free `*out` with
/// `peo_node_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_new(id: *const c_char, domain: *const c_char, out: *mut *mut PeoNode) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let id = unsafe { str_arg(id, "id") }?;
        let domain = unsafe { str_arg(domain, "domain") }?;
        *out = Box::into_raw(Box::new(PeoNode { node: std::sync::RwLock::new(host::new_node(id, domain)?) }));
        Ok(())
    })
}

/// The node signs the last record of every visit with `key` (copied; free yours
/// whenever you like).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_key(node: *mut PeoNode, key: *const PeoSigningKey) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        let key = unsafe { handle(key, "key") }?.0.clone();
        node.set(Setting::Key(key))
    })
}

/// The node's Cedar policies (text), validated against peo's schema (docs/policy.md).
/// Without them every action is allowed unless the object's own policies forbid it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_policy(node: *mut PeoNode, cedar_policies: *const c_char) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::Policy(unsafe { str_arg(cedar_policies, "cedar_policies") }?))
    })
}

/// Replaces the node's facts (a JSON object; policies see them as
/// `context.node.facts`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_facts(node: *mut PeoNode, facts_json: *const c_char) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::FactsJson(unsafe { str_arg(facts_json, "facts_json") }?))
    })
}

/// The keys the node trusts: `trusted_keys` holds `key_count` 32-byte public keys one
/// after the other. With `key_count` > 0 the node accepts only objects whose every visit
/// is signed by one of them (each trusted to sign as anyone); with 0 it trusts no key and
/// accepts nothing (accepting anything is `peo_node_set_trust(node, "\"any\"")`, for
/// tests and demos). A node never given trust accepts nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_trusted_keys(
    node: *mut PeoNode,
    trusted_keys: *const u8,
    key_count: usize,
) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        // No keys trusts nothing: accepting anything is `peo_node_set_trust(node, "\"any\"")`.
        let bytes = unsafe { key_bytes(trusted_keys, key_count) }?;
        let keys: Vec<&[u8]> = bytes.chunks(32).collect();
        node.set(Setting::TrustedKeys(&keys))
    })
}

/// The node's trust in its JSON form: `"any"` (tests and demos) or a trust store
/// `{"keys": [{"key": "<64 hex digits>", "nodes": [...], "domain": "eu", "subjects":
/// [...]}]}` binding each key to the node ids, domain and originator subjects it may
/// sign as. A node never given trust accepts nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_trust(node: *mut PeoNode, trust_json: *const c_char) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::TrustJson(unsafe { str_arg(trust_json, "trust_json") }?))
    })
}

/// Registers (or replaces) the handler of a capability (a Task state's `Resource`).
/// `user_data` is passed to every call and must stay valid while the node lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_add_handler(
    node: *mut PeoNode,
    capability: *const c_char,
    handler: PeoHandler,
    user_data: *mut c_void,
) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        let capability = unsafe { str_arg(capability, "capability") }?;
        let f = handler.ok_or_else(|| invalid("`handler` is NULL"))?;
        node.set(Setting::Handler(capability, Box::new(Callback::<HandlerFn> { f, user_data })))
    })
}

/// Sets the advisor consulted before every cycle of a visit (NULL removes it).
/// `user_data` must stay valid while the node lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_advisor(
    node: *mut PeoNode,
    advisor: PeoAdvisor,
    user_data: *mut c_void,
) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        let advisor = advisor.map(|f| {
            let callback = Callback::<AdvisorFn> { f, user_data };
            Box::new(move |object: &Object| callback.advise(object)) as host::Advisor
        });
        node.set(Setting::Advisor(advisor))
    })
}

/// Sets the node's clock (NULL: the system clock). Cycles read it for timers, waits,
/// deadlines and record times. `user_data` must stay valid while the node lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_clock(node: *mut PeoNode, clock: PeoClock, user_data: *mut c_void) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        let clock = clock.map(|f| Arc::new(Callback::<ClockFn> { f, user_data }) as Arc<dyn Clock>);
        node.set(Setting::Clock(clock))
    })
}

/// Compacts objects whose plan sets no `Compaction`: when the memory holds more than
/// `after` records, all but the newest `keep` are folded into a checkpoint
/// (`keep < after`, else `PEO_INVALID_INTENT`; docs/long-lived.md).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_compaction(node: *mut PeoNode, after: u32, keep: u32) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::Compaction(after, keep))
    })
}

/// The most cycles one visit may run (default 10,000). At the bound the visit ends
/// `PEO_DISPOSITION_KIND_DORMANT` with reason `budget` and a wake time of now, its work
/// recorded: present the object again and it goes on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_set_max_cycles(node: *mut PeoNode, max_cycles: usize) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::MaxCycles(max_cycles))
    })
}

/// Visits an object: decodes and verifies `bytes` under the node's trust, runs cycles
/// (calling handlers) until the object must leave, and returns the visit. `event_json`
/// is NULL or an event (`{"name", "payload"}`, `{"name", "error", "cause"}` or
/// `{"name", "heartbeat": true}`) for an object awaiting one. On failure nothing
/// changed: the bytes you passed are still the object. Free `*out` with
/// `peo_visit_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_visit(
    node: *const PeoNode,
    bytes: *const u8,
    len: usize,
    event_json: *const c_char,
    out: *mut *mut PeoVisit,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let node = unsafe { handle(node, "node") }?;
        let bytes = unsafe { bytes_arg(bytes, len, "bytes") }?;
        let event = unsafe { opt_str_arg(event_json, "event_json") }?.map(host::event).transpose()?;
        let visit = node.read().visit(bytes, event.as_ref())?;
        *out = Box::into_raw(Box::new(PeoVisit { visit }));
        Ok(())
    })
}

/// Presents a child's final object (`child`, from a fan-out: `Parallel` branch or
/// `Map` item) to its waiting parent (`parent`). The completion is checked and recorded;
/// when it was the last one the parent runs on. A completion already recorded appends
/// nothing. Free `*out` with `peo_visit_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_complete(
    node: *const PeoNode,
    parent: *const u8,
    parent_len: usize,
    child: *const u8,
    child_len: usize,
    out: *mut *mut PeoVisit,
) -> PeoStatus {
    // A batch of one.
    unsafe { peo_node_complete_all(node, parent, parent_len, &child, &child_len, 1, out) }
}

/// Presents a batch of `count` children's final objects (`children[i]`, `child_lens[i]`
/// bytes each) to their waiting parent: each is checked as `peo_node_complete` checks one
/// (one bad child rejects the batch, the parent unchanged), and the new completions are
/// recorded by one record. Free `*out` with `peo_visit_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_complete_all(
    node: *const PeoNode,
    parent: *const u8,
    parent_len: usize,
    children: *const *const u8,
    child_lens: *const usize,
    count: usize,
    out: *mut *mut PeoVisit,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let node = unsafe { handle(node, "node") }?;
        let parent = unsafe { bytes_arg(parent, parent_len, "parent") }?;
        let batch = unsafe { byte_arrays(children, child_lens, count, if count == 1 { "child" } else { "children" }) }?;
        let visit = node.read().complete_all(parent, &batch)?;
        *out = Box::into_raw(Box::new(PeoVisit { visit }));
        Ok(())
    })
}

/// Asked about every 200 ms while a node serves: return true to stop serving.
pub type PeoStopFn = Option<unsafe extern "C" fn(user_data: *mut c_void) -> bool>;

/// A C stop callback for the serving loop (which runs on the caller's thread).
#[cfg(feature = "jetstream")]
#[derive(Clone, Copy)]
struct StopCallback {
    f: unsafe extern "C" fn(user_data: *mut c_void) -> bool,
    user_data: *mut c_void,
}
#[cfg(feature = "jetstream")]
impl StopCallback {
    fn call(&self) -> bool {
        // SAFETY: the caller's function with its own user data.
        unsafe { (self.f)(self.user_data) }
    }
}
// SAFETY: only called by the serving loop, on the thread that called `peo_node_serve`.
#[cfg(feature = "jetstream")]
unsafe impl Send for StopCallback {}
#[cfg(feature = "jetstream")]
unsafe impl Sync for StopCallback {}

/// How `peo_node_serve` runs; zero-initialise it for the defaults.
#[repr(C)]
pub struct PeoServeOptions {
    /// Seconds a delivery may take before JetStream gives it to another node (applies
    /// when this node creates the consumers); 0: 30 s.
    pub ack_wait_seconds: f64,
    /// Stop after this many seconds without work; 0: never.
    pub idle_timeout_seconds: f64,
    /// Stop after this many deliveries; 0: no limit.
    pub max_deliveries: u64,
    /// Return `PEO_TRANSPORT` when the server has been unreachable this many seconds
    /// while serving; 0: keep retrying (nothing is lost while the server is away).
    pub give_up_after_seconds: f64,
    /// Called about every 200 ms; serving stops when it returns true. NULL: never.
    pub should_stop: PeoStopFn,
    pub user_data: *mut c_void,
}

/// Runs the node as a service on a NATS JetStream mesh (`url`, e.g.
/// `nats://127.0.0.1:4222`, a server started with `nats-server -js`): it takes the
/// objects for its capabilities (and new objects, due dormant ones, events and fan-out
/// completions), visits them with its handlers (called on this thread) and sends them on,
/// until `options` say stop. `options` may be NULL (serve until the process ends).
/// `stats_json`, if not NULL, receives the connection's counters as JSON (free with
/// `peo_string_free`). `PEO_TRANSPORT` when the server cannot be reached.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_serve(
    node: *const PeoNode,
    url: *const c_char,
    options: *const PeoServeOptions,
    stats_json: *mut *mut c_char,
) -> PeoStatus {
    guard(|| unsafe { serve(node, url, options, stats_json) })
}

#[cfg(not(feature = "jetstream"))]
unsafe fn serve(
    _: *const PeoNode,
    _: *const c_char,
    _: *const PeoServeOptions,
    _: *mut *mut c_char,
) -> Result<(), Error> {
    Err(Error::unsupported("this libpeo was built without JetStream (the `jetstream` feature of peo-c)"))
}

#[cfg(feature = "jetstream")]
unsafe fn serve(
    node: *const PeoNode,
    url: *const c_char,
    options: *const PeoServeOptions,
    stats_json: *mut *mut c_char,
) -> Result<(), Error> {
    let node = unsafe { handle(node, "node") }?;
    let url = unsafe { str_arg(url, "url") }?;
    let options = if options.is_null() { None } else { Some(unsafe { &*options }) };
    // 0 is the default.
    let seconds = |s: f64, what: &str| (s != 0.0).then(|| host::seconds(s, what)).transpose();
    let mut connect =
        peo_jetstream::Options { name: Some(format!("peo C node {}", node.read().id())), ..Default::default() };
    if let Some(o) = options
        && let Some(d) = seconds(o.ack_wait_seconds, "ack_wait_seconds")?
    {
        connect.ack_wait = d;
    }
    let mut serve = peo_jetstream::ServeOptions::default();
    if let Some(o) = options {
        serve.idle_timeout = seconds(o.idle_timeout_seconds, "idle_timeout_seconds")?;
        serve.give_up_after = seconds(o.give_up_after_seconds, "give_up_after_seconds")?;
        serve.max_deliveries = (o.max_deliveries > 0).then_some(o.max_deliveries);
        if let Some(f) = o.should_stop {
            let stop = StopCallback { f, user_data: o.user_data };
            serve.should_stop = Some(Arc::new(move || stop.call()));
        }
    }
    let js = peo_jetstream::JetStream::connect(url, connect)?;
    peo_jetstream::serve(&node.read(), &js, &serve)?;
    if !stats_json.is_null() {
        let out = unsafe { string_out(stats_json, "stats_json") }?;
        *out = c_string(&js.stats().to_json().to_string()).into_raw();
    }
    Ok(())
}

/// Frees a node. Accepts NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_free(node: *mut PeoNode) {
    unsafe { free_box(node) }
}

// ---------------------------------------------------------------------------------------
// Visits

/// The result of a visit: the object after it, why it ended, the records appended and
/// any child objects. Free with `peo_visit_free`.
pub struct PeoVisit {
    visit: Visit,
}

/// Why a visit ended.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeoDispositionKind {
    /// The object must go to a node with a capability (or in a domain) this one lacks.
    Delegate = 1,
    /// The object waits (a `Wait` state, a retry back-off, an awaited event, a visit at its
    /// cycle bound).
    Dormant = 2,
    /// The object has ended (succeeded, failed, expired, rejected).
    Terminated = 3,
}

/// Why the visit ended.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_disposition(visit: *const PeoVisit, out: *mut PeoDispositionKind) -> PeoStatus {
    guard(|| {
        let visit = unsafe { handle(visit, "visit") }?;
        *unsafe { out_arg(out, "out") }? = match visit.visit.disposition {
            Disposition::Delegate { .. } => PeoDispositionKind::Delegate,
            Disposition::Dormant(_) => PeoDispositionKind::Dormant,
            Disposition::Terminated { .. } => PeoDispositionKind::Terminated,
        };
        Ok(())
    })
}

/// The disposition with its details as JSON: `{"kind": "delegate", "reason",
/// "capability", "target"}`, `{"kind": "dormant", "reason", "at_ms", "event",
/// "timeout_at_ms"}` or `{"kind": "terminated", "status", "output", "error"}`.
/// Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_disposition_json(visit: *const PeoVisit, out: *mut *mut c_char) -> PeoStatus {
    guard(|| {
        let visit = unsafe { handle(visit, "visit") }?;
        give_json(unsafe { string_out(out, "out") }?, &visit.visit.disposition.to_json());
        Ok(())
    })
}

/// How many records the visit appended (0 when a dormant object was presented before
/// its wake condition held).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_appended(visit: *const PeoVisit, out: *mut usize) -> PeoStatus {
    guard(|| {
        let visit = unsafe { handle(visit, "visit") }?;
        *unsafe { out_arg(out, "out") }? = visit.visit.appended;
        Ok(())
    })
}

/// The records the visit appended, as a JSON array. Free `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_records_json(visit: *const PeoVisit, out: *mut *mut c_char) -> PeoStatus {
    guard(|| {
        let visit = unsafe { handle(visit, "visit") }?;
        let out = unsafe { string_out(out, "out") }?;
        give_json(out, &visit.visit.records_json()?);
        Ok(())
    })
}

/// The object's bytes after the visit: what to pass on, park or store. Borrowed: valid
/// until `peo_visit_free(visit)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_bytes(
    visit: *const PeoVisit,
    out: *mut *const u8,
    out_len: *mut usize,
) -> PeoStatus {
    guard(|| {
        let visit = unsafe { handle(visit, "visit") }?;
        let out = unsafe { out_arg(out, "out") }?;
        let out_len = unsafe { out_arg(out_len, "out_len") }?;
        *out = visit.visit.bytes.as_ptr();
        *out_len = visit.visit.bytes.len();
        Ok(())
    })
}

/// The object after the visit, as a new handle. Free `*out` with `peo_object_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_object(visit: *const PeoVisit, out: *mut *mut PeoObject) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let visit = unsafe { handle(visit, "visit") }?;
        *out = Box::into_raw(Box::new(PeoObject(visit.visit.object.clone())));
        Ok(())
    })
}

/// How many child objects the visit's fan-outs (`Parallel`, `Map`) created.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_child_count(visit: *const PeoVisit, out: *mut usize) -> PeoStatus {
    guard(|| {
        let visit = unsafe { handle(visit, "visit") }?;
        *unsafe { out_arg(out, "out") }? = visit.visit.children.len();
        Ok(())
    })
}

/// The bytes of child `index` (0-based, in creation order): send it on like any
/// delegated object and present its final object to the parent with
/// `peo_node_complete`. Borrowed: valid until `peo_visit_free(visit)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_child_bytes(
    visit: *const PeoVisit,
    index: usize,
    out: *mut *const u8,
    out_len: *mut usize,
) -> PeoStatus {
    guard(|| {
        let visit = unsafe { handle(visit, "visit") }?;
        let out = unsafe { out_arg(out, "out") }?;
        let out_len = unsafe { out_arg(out_len, "out_len") }?;
        let children = &visit.visit.children;
        let child = children.get(index).ok_or_else(|| {
            invalid(format!("the visit created {} children; there is no child {index}", children.len()))
        })?;
        *out = child.as_ptr();
        *out_len = child.len();
        Ok(())
    })
}

/// How many archive segments the visit's compactions pruned (0 unless it compacted).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_archive_count(visit: *const PeoVisit, out: *mut usize) -> PeoStatus {
    guard(|| {
        let visit = unsafe { handle(visit, "visit") }?;
        *unsafe { out_arg(out, "out") }? = visit.visit.object.archive().len();
        Ok(())
    })
}

/// Archive segment `index` of the visit's compactions (its pruned records): keep it to
/// audit the object later with `peo_object_audit`. Free `*out` with `peo_bytes_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_archive(
    visit: *const PeoVisit,
    index: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> PeoStatus {
    guard(|| {
        let visit = unsafe { handle(visit, "visit") }?;
        let out = unsafe { handle_out(out, "out") }?;
        let out_len = unsafe { out_arg(out_len, "out_len") }?;
        let archive = visit.visit.object.archive();
        let segment = archive.get(index).ok_or_else(|| {
            invalid(format!("the visit pruned {} archive segments; there is no segment {index}", archive.len()))
        })?;
        give_bytes(out, out_len, segment.to_bytes());
        Ok(())
    })
}

/// Frees a visit (and the buffers borrowed from it). Accepts NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_visit_free(visit: *mut PeoVisit) {
    unsafe { free_box(visit) }
}

#[cfg(test)]
mod tests;
