//! Host-driven sessions: a visit that the caller drives one handler call at a time, for
//! programs whose handlers cannot run inside the engine's call (an event loop, a
//! thread pool, a queue of their own).

use std::ffi::c_char;
use std::ptr;
use std::sync::Arc;

use peo_core::{Error, TaskOutcome};
use peo_runtime::host::{self, Setting};
use peo_runtime::{Next, Node, Session};

use crate::{convert::*, error::*, node::*, object::*, visit::*};

/// A visit driven by its host (`peo_node_begin`): `peo_session_advance` runs cycles until
/// a handler call is due or the visit is over; the host answers each call with
/// `peo_session_answer_output` or `peo_session_answer_error`. Free with
/// `peo_session_free` (a session freed before its end changes nothing: the object is
/// still what it was).
pub struct PeoSession {
    session: Option<Session<Arc<Node>>>,
    /// The pending call's strings (see `call_view`).
    buf: Vec<u8>,
    call: Option<PeoCall>,
}

fn begun(out: &mut *mut PeoSession, session: Session<Arc<Node>>) {
    *out = Box::into_raw(Box::new(PeoSession { session: Some(session), buf: Vec::new(), call: None }));
}

/// Declares a capability whose calls the host answers itself through sessions (a plain
/// `peo_node_visit` of such a call fails the attempt with `peo.NoHandler`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_add_capability(node: *mut PeoNode, capability: *const c_char) -> PeoStatus {
    guard(|| {
        let node = unsafe { handle(node, "node") }?;
        node.set(Setting::Capability(unsafe { str_arg(capability, "capability") }?))
    })
}

/// Starts a visit of `bytes` (decoded and verified under the node's trust, as
/// `peo_node_visit` does) that the caller drives. `event_json` is NULL or an event.
/// Free `*out` with `peo_session_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_begin(
    node: *const PeoNode,
    bytes: *const u8,
    len: usize,
    event_json: *const c_char,
    out: *mut *mut PeoSession,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let node = unsafe { handle(node, "node") }?.read().clone();
        let bytes = unsafe { bytes_arg(bytes, len, "bytes") }?;
        let event = unsafe { opt_str_arg(event_json, "event_json") }?.map(host::event).transpose()?;
        let object = node.admit(bytes)?;
        begun(out, Session::new(node, object, event));
        Ok(())
    })
}

/// Starts the presentation of `count` children's final objects to their waiting parent
/// (as `peo_node_complete_all`), driven by the caller. Free `*out` with
/// `peo_session_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_begin_completions(
    node: *const PeoNode,
    parent: *const u8,
    parent_len: usize,
    children: *const *const u8,
    child_lens: *const usize,
    count: usize,
    out: *mut *mut PeoSession,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let node = unsafe { handle(node, "node") }?.read().clone();
        let parent = unsafe { bytes_arg(parent, parent_len, "parent") }?;
        let batch = unsafe { byte_arrays(children, child_lens, count, "children") }?;
        let object = node.admit(parent)?;
        begun(out, Session::completions(node, object, &batch)?);
        Ok(())
    })
}

/// Runs cycles until a handler call is due or the visit is over. A call: `*call` is set
/// (borrowed from the session, valid until its next `peo_session_*` call) and `*visit`
/// NULL; answer it, then advance again. The end: `*visit` is the visit (free it with
/// `peo_visit_free`) and `*call` NULL; the session is spent. On an error the session is
/// spent too, and nothing changed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_session_advance(
    session: *mut PeoSession,
    call: *mut *const PeoCall,
    visit: *mut *mut PeoVisit,
) -> PeoStatus {
    guard(|| {
        let call_out = unsafe { out_arg(call, "call") }?;
        *call_out = ptr::null();
        let visit_out = unsafe { handle_out(visit, "visit") }?;
        let s = unsafe { handle_mut(session, "session") }?;
        let inner = s.session.as_mut().ok_or_else(|| Error::invalid_argument("the session is over"))?;
        s.call = None;
        match inner.advance() {
            Ok(Next::Call(c)) => {
                let view = call_view(c, &mut s.buf);
                *call_out = s.call.insert(view);
            }
            Ok(Next::Done(v)) => {
                s.session = None;
                *visit_out = Box::into_raw(Box::new(PeoVisit { visit: v }));
            }
            Err(e) => {
                s.session = None;
                return Err(e);
            }
        }
        Ok(())
    })
}

/// Records the pending call's result as `fill` sets it; a result the setter refused
/// (output that is not JSON) is recorded as the attempt's failure and its error returned.
fn answer(session: *mut PeoSession, fill: impl FnOnce(&mut PeoTaskResult) -> PeoStatus) -> Result<(), Error> {
    let s = unsafe { handle_mut(session, "session") }?;
    let inner = s.session.as_mut().ok_or_else(|| Error::invalid_argument("the session is over"))?;
    if s.call.take().is_none() {
        return Err(Error::invalid_argument("no call is pending: call peo_session_advance first"));
    }
    let mut result = PeoTaskResult::new();
    // What the host passed is checked as a handler's result is: bad output fails the
    // attempt (`peo.HandlerInvalidOutput`) and the visit goes on.
    let failed = (fill(&mut result) != PeoStatus::PeoOk).then(last_error).flatten();
    let outcome = match result.take() {
        Ok((output, None)) => TaskOutcome::Output(output),
        Ok((output, Some(refinement))) => TaskOutcome::Refined { output, refinement },
        Err(e) => TaskOutcome::Error { error: e.error, cause: e.cause },
    };
    inner.answer(outcome)?;
    failed.map_or(Ok(()), Err)
}

/// Answers the pending call with its output (JSON) and, optionally, a refinement of the
/// intent (JSON, or NULL), as `peo_task_result_set_output` / `_set_refinement` do.
/// Output that is not JSON fails the attempt with `peo.HandlerInvalidOutput`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_session_answer_output(
    session: *mut PeoSession,
    output_json: *const c_char,
    refinement_json: *const c_char,
) -> PeoStatus {
    guard(|| {
        answer(session, |r| unsafe {
            if !refinement_json.is_null() {
                peo_task_result_set_refinement(r, refinement_json);
            }
            peo_task_result_set_output(r, output_json)
        })
    })
}

/// Answers the pending call with a failure: an error name (matched by `Retry` /
/// `Catch`) and a cause (NULL for none), as `peo_task_result_set_error` does.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_session_answer_error(
    session: *mut PeoSession,
    error: *const c_char,
    cause: *const c_char,
) -> PeoStatus {
    guard(|| answer(session, |r| unsafe { peo_task_result_set_error(r, error, cause) }))
}

/// Frees a session. Accepts NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_session_free(session: *mut PeoSession) {
    unsafe { free_box(session) }
}
