//! Visits: what a visit gave.

use std::ffi::c_char;

use peo_core::Disposition;
use peo_runtime::Visit;

use crate::{convert::*, error::*, object::*};

/// The result of a visit: the object after it, why it ended, the records appended and
/// any child objects. Free with `peo_visit_free`.
pub struct PeoVisit {
    pub(crate) visit: Visit,
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
