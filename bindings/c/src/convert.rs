//! Arguments in, results out: C strings, JSON text, byte buffers, handles.

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use peo_core::Error;
use serde_json::Value;

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_argument(message)
}

/// A required string argument.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(invalid(format!("`{what}` is NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string (the header's contract).
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|e| invalid(format!("`{what}` is not UTF-8: {e}")))
}

/// An optional string argument (NULL = absent).
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() { Ok(None) } else { unsafe { str_arg(p, what) }.map(Some) }
}

/// A JSON text argument (serde_json checks the UTF-8 as it parses).
pub(crate) unsafe fn json_arg(p: *const c_char, what: &str) -> Result<Value, Error> {
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
pub(crate) unsafe fn bytes_arg<'a>(p: *const u8, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if p.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(invalid(format!("`{what}` is NULL but its length is {len}"))) };
    }
    // SAFETY: the caller passes `len` readable bytes (the header's contract).
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A required out-parameter.
pub(crate) unsafe fn out_arg<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: non-NULL out-parameters point to writable storage (the header's contract).
    unsafe { p.as_mut() }.ok_or_else(|| invalid(format!("the out-parameter `{what}` is NULL")))
}

/// A required handle argument.
pub(crate) unsafe fn handle<'a, T>(p: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: non-NULL handles come from this library and are live (the header's contract).
    unsafe { p.as_ref() }.ok_or_else(|| invalid(format!("`{what}` is NULL")))
}

pub(crate) unsafe fn handle_mut<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: as for `handle`, and not used by another call at the same time.
    unsafe { p.as_mut() }.ok_or_else(|| invalid(format!("`{what}` is NULL")))
}

/// A C string of `s`; an interior NUL (possible only in names that came from JSON
/// `\u0000`) becomes U+FFFD so the text is never silently cut.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| CString::new(s.replace('\0', "\u{fffd}")).unwrap_or_default())
}

/// Hands a string to C (freed with `peo_string_free`).
pub(crate) fn give_string(out: &mut *mut c_char, s: &str) {
    *out = c_string(s).into_raw();
}

pub(crate) fn give_json(out: &mut *mut c_char, v: &Value) {
    give_string(out, &v.to_string());
}

/// Hands a byte buffer to C (freed with `peo_bytes_free(ptr, len)`).
pub(crate) fn give_bytes(out: &mut *mut u8, out_len: &mut usize, bytes: Vec<u8>) {
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
pub(crate) unsafe fn free_box<T>(p: *mut T) {
    if !p.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `p` came from `Box::into_raw` of this type and is freed once.
            drop(unsafe { Box::from_raw(p) })
        }));
    }
}

/// Clears a handle out-parameter first (so it is NULL on failure) and returns it.
pub(crate) unsafe fn handle_out<'a, T>(out: *mut *mut T, what: &str) -> Result<&'a mut *mut T, Error> {
    let out = unsafe { out_arg(out, what) }?;
    *out = ptr::null_mut();
    Ok(out)
}

pub(crate) unsafe fn string_out<'a>(out: *mut *mut c_char, what: &str) -> Result<&'a mut *mut c_char, Error> {
    unsafe { handle_out(out, what) }
}
