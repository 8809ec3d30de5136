//! Statuses and the last error of a thread.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use peo_core::{Error, ErrorKind};

use crate::convert::*;

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
pub(crate) const STATUSES: [(PeoStatus, &CStr); 12] = [
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

pub(crate) fn status_of(kind: ErrorKind) -> PeoStatus {
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

pub(crate) struct LastError {
    status: PeoStatus,
    message: CString,
    /// The error as JSON (`host::error_json`), `""` after a success.
    json: CString,
    error: Option<Error>,
}

impl LastError {
    fn none() -> LastError {
        LastError { status: PeoStatus::PeoOk, message: CString::default(), json: CString::default(), error: None }
    }
}

thread_local! {
    /// The buffer a handler call's strings are written to (see `Callback::call_refined`).
    pub(crate) static CALL_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    pub(crate) static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError::none());
}

pub(crate) fn set_last_error(error: &Error) {
    let last = LastError {
        status: status_of(error.kind()),
        message: c_string(&error.to_string()),
        json: c_string(&peo_runtime::host::error_json(error).to_string()),
        error: Some(error.clone()),
    };
    LAST_ERROR.with(|e| *e.borrow_mut() = last);
}

/// The last failed call's error on this thread.
pub(crate) fn last_error() -> Option<Error> {
    LAST_ERROR.with(|e| e.borrow().error.clone())
}

pub(crate) fn clear_last_error() {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        if e.status != PeoStatus::PeoOk {
            *e = LastError::none();
        }
    });
}

/// Runs an entry point's body: never lets a panic out, records the error of a failure
/// (or clears the last one on success) and returns the status.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Error>) -> PeoStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            clear_last_error();
            PeoStatus::PeoOk
        }
        Ok(Err(e)) => {
            set_last_error(&e);
            status_of(e.kind())
        }
        Err(panic) => {
            let what = peo_runtime::panic_message(&*panic);
            set_last_error(&Error::internal(format!(
                "peo panicked ({what}); the call had no effect. Please report it."
            )));
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

/// The last failed call's error on this thread as JSON, the same fields as every
/// language's errors: `{"code", "kind", "message", "text", "record", "state",
/// "field"}` (`record`, `state` and `field` are `null` when the error does not concern
/// one); `""` when the last status-returning call succeeded. Borrowed: valid until the
/// next call into peo on this thread; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn peo_last_error_json() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().json.as_ptr())
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

/// The wire format version this library writes (`2`); it reads every earlier one too.
#[unsafe(no_mangle)]
pub extern "C" fn peo_wire_format_version() -> u16 {
    peo_core::FORMAT_VERSION
}
