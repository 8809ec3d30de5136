//! The visit lane: the loop of a visit driven by the JVM, through five plain C functions
//! that take and give only numbers and one direct buffer.
//!
//! Why not uniffi here: every uniffi call allocates JNA `Structure`s (its call status,
//! each `RustBuffer`), and on this machine that costs 10-40 µs a call, against 0.2 µs for
//! a JNA direct-mapped call whose arguments are numbers and a direct `ByteBuffer`. A
//! visit crosses once per handler call plus once to start, so this is the path that
//! decides how fast a visit is from Kotlin (`dev.peo.Lane` is its other half). Everything
//! else (objects, settings, JetStream) stays on uniffi.
//!
//! The protocol. The JVM writes the call's input into its buffer `io` (`cap` bytes) and
//! each function answers with one frame written into the same buffer, returning the
//! frame's length. A frame longer than `cap` is kept for this thread and the function
//! returns its length: the JVM grows its buffer and takes it with [`peo_kt_fetch`].
//! Integers are little-endian; a string or a blob is a `u32` length and its bytes, an
//! absent one the length `u32::MAX`. Frames:
//! - call (tag 0): session `u64`, attempt `u32`, deadline `i64` (`i64::MIN`: none),
//!   capability, state, idempotency key, input (JSON text);
//! - done (tag 1): disposition (JSON text), appended `u32`, first seq `u32`, the bytes,
//!   the children (`u32` count, then blobs), the archive segments (the same);
//! - error (tag 2): code, kind, detail, text, record `i64` (-1: none), state, field.
//!
//! `now` is the host's clock for the crossing (ms since the Unix epoch), read by every
//! cycle the crossing runs; `i64::MIN` leaves the node's own clock. A panic never
//! crosses: it becomes an internal error frame.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use peo_core::{Error, Result};
use peo_runtime::host;
use peo_runtime::{Clock, Next, Node, Session, Visit, panic_message};

use crate::error::PeoFfiError;
use crate::node::{FfiNode, HandlerReply};

const CALL: u8 = 0;
const DONE: u8 = 1;
const ERROR: u8 = 2;
const ABSENT: u32 = u32::MAX;
/// `now` when the host keeps no clock of its own.
const NODE_CLOCK: i64 = i64::MIN;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Live nodes by lane id (an `FfiNode` removes itself when dropped).
static NODES: LazyLock<Mutex<HashMap<u64, Weak<FfiNode>>>> = LazyLock::new(Default::default);
/// A visit the JVM drives.
type LaneSession = Box<Session<Arc<Node>>>;
/// Sessions waiting for a handler's answer, by id. A running session is out of the map.
static SESSIONS: LazyLock<Mutex<HashMap<u64, LaneSession>>> = LazyLock::new(Default::default);

thread_local! {
    /// The host's time for the crossing running on this thread.
    static HOST_NOW: Cell<i64> = const { Cell::new(0) };
    /// A frame that did not fit the caller's buffer.
    static PENDING: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The clock of a node whose host gives the time with each crossing.
#[derive(Debug)]
struct HostClock;

impl Clock for HostClock {
    fn now_ms(&self) -> i64 {
        HOST_NOW.with(Cell::get)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh id for a node or a session.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Registers a node for the lane under its id, until it is dropped.
pub(crate) fn register(node: &Arc<FfiNode>) {
    lock(&NODES).insert(node.lane_id(), Arc::downgrade(node));
}

pub(crate) fn unregister(id: u64) {
    lock(&NODES).remove(&id);
}

/// The node a crossing runs on: the node as it is now, on the host's clock when the
/// host gives the time (cached until a setting changes the node).
fn node_for(lane: u64, now: i64) -> Result<Arc<Node>> {
    let ffi = lock(&NODES).get(&lane).and_then(Weak::upgrade);
    let ffi = ffi.ok_or_else(|| Error::invalid_argument("this node is closed"))?;
    let current = ffi.current();
    if now == NODE_CLOCK {
        return Ok(current);
    }
    let mut cache = lock(&ffi.lane_cache);
    if let Some((from, node)) = cache.as_ref()
        && Arc::ptr_eq(from, &current)
    {
        return Ok(node.clone());
    }
    let node = Arc::new(current.as_ref().clone().with_clock(Arc::new(HostClock)));
    *cache = Some((current, node.clone()));
    Ok(node)
}

/// Reads the JVM's input.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.0.len() {
            return Err(Error::invalid_argument("the lane's input is cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn blob(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()?;
        self.take(n as usize)
    }
    fn text(&mut self) -> Result<Option<String>> {
        let n = self.u32()?;
        if n == ABSENT {
            return Ok(None);
        }
        let bytes = self.take(n as usize)?;
        let text = std::str::from_utf8(bytes).map_err(|_| Error::invalid_argument("the lane's text is not UTF-8"))?;
        Ok(Some(text.to_owned()))
    }
}

/// Writes a frame.
#[derive(Default)]
struct Frame(Vec<u8>);

impl Frame {
    fn u8(&mut self, v: u8) -> &mut Frame {
        self.0.push(v);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Frame {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Frame {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn i64(&mut self, v: i64) -> &mut Frame {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn blob(&mut self, b: &[u8]) -> &mut Frame {
        // Objects are bounded far below 4 GiB by the decoder's limits.
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
        self
    }
    fn text(&mut self, s: Option<&str>) -> &mut Frame {
        match s {
            Some(s) => self.blob(s.as_bytes()),
            None => self.u32(ABSENT),
        }
    }
    /// A JSON value as text, written in place.
    fn json(&mut self, v: &serde_json::Value) -> &mut Frame {
        let at = self.0.len();
        self.u32(0);
        // Writing a `Value` into a `Vec` cannot fail: its keys are strings.
        let _ = serde_json::to_writer(&mut self.0, v);
        let n = (self.0.len() - at - 4) as u32;
        self.0[at..at + 4].copy_from_slice(&n.to_le_bytes());
        self
    }
    fn blobs(&mut self, list: &[Vec<u8>]) -> &mut Frame {
        self.u32(list.len() as u32);
        for b in list {
            self.blob(b);
        }
        self
    }
}

fn done_frame(visit: &Visit) -> Frame {
    let mut f = Frame(Vec::with_capacity(visit.bytes.len() + 256));
    let archive: Vec<Vec<u8>> = visit.object.archive().iter().map(|s| s.to_bytes()).collect();
    f.u8(DONE)
        .text(Some(&peo_runtime::host::json_text(&visit.disposition.to_json())))
        .u32(visit.appended as u32)
        .u32(visit.object.written() - visit.appended as u32)
        .blob(&visit.bytes)
        .blobs(&visit.children)
        .blobs(&archive);
    f
}

fn error_frame(e: Error) -> Frame {
    let PeoFfiError::Failed { code, kind, detail, text, record, state, field } = e.into();
    let mut f = Frame::default();
    f.u8(ERROR)
        .text(Some(&code))
        .text(Some(&kind))
        .text(Some(&detail))
        .text(Some(&text))
        .i64(record.map_or(-1, i64::from))
        .text(state.as_deref())
        .text(field.as_deref());
    f
}

/// Runs `session` to its next handler call (kept for the answer) or its end.
fn step(id: u64, mut session: LaneSession) -> Result<Frame> {
    let mut f = Frame(Vec::with_capacity(256));
    match session.advance()? {
        Next::Call(c) => {
            f.u8(CALL)
                .u64(id)
                .u32(c.attempt)
                .i64(c.deadline_ms.unwrap_or(i64::MIN))
                .text(Some(&c.capability))
                .text(Some(&c.state))
                .text(Some(&c.idempotency_key))
                .json(&c.input);
        }
        Next::Done(visit) => return Ok(done_frame(&visit)),
    }
    lock(&SESSIONS).insert(id, session);
    Ok(f)
}

fn begin(lane: u64, input: &[u8], data_len: usize, now: i64) -> Result<Frame> {
    let node = node_for(lane, now)?;
    let (data, event) = input.split_at_checked(data_len).ok_or_else(|| Error::invalid_argument("data_len"))?;
    let event = if event.is_empty() {
        None
    } else {
        let text = std::str::from_utf8(event).map_err(|_| Error::invalid_argument("the event is not UTF-8"))?;
        Some(host::event(text)?)
    };
    let object = node.admit(data)?;
    step(next_id(), Box::new(Session::new(node, object, event)))
}

fn begin_completions(lane: u64, input: &[u8], now: i64) -> Result<Frame> {
    let node = node_for(lane, now)?;
    let mut r = Reader(input);
    let parent = r.blob()?;
    let n = r.u32()?;
    let children = (0..n).map(|_| r.blob()).collect::<Result<Vec<&[u8]>>>()?;
    let session = Session::completions(node.clone(), node.admit(parent)?, &children)?;
    step(next_id(), Box::new(session))
}

fn answer(id: u64, input: &[u8]) -> Result<Frame> {
    let mut r = Reader(input);
    let failed = r.u8()? != 0;
    let (a, b) = (r.text()?, r.text()?);
    let reply = if failed {
        HandlerReply { output_json: None, refinement_json: None, error: a, cause: b }
    } else {
        HandlerReply { output_json: a, refinement_json: b, error: None, cause: None }
    };
    let session = lock(&SESSIONS).remove(&id);
    let mut session = session.ok_or_else(|| Error::invalid_argument("the visit is over: start another one"))?;
    session.answer(reply.outcome())?;
    step(id, session)
}

/// Runs one crossing: the host's time set, panics caught, the frame delivered.
///
/// # Safety
/// `io` must point to `cap` writable bytes, of which the first `len` are the input.
unsafe fn cross(io: *mut u8, cap: u64, len: u64, now: i64, run: impl FnOnce(&[u8]) -> Result<Frame>) -> i64 {
    if now != NODE_CLOCK {
        HOST_NOW.with(|c| c.set(now));
    }
    let frame = match catch_unwind(AssertUnwindSafe(|| {
        if io.is_null() || len > cap {
            return Err(Error::invalid_argument("the lane's buffer"));
        }
        // SAFETY: the caller gives `len` readable bytes at `io`; the input is copied out
        // of the buffer before the frame is written into it.
        let input = unsafe { std::slice::from_raw_parts(io, len as usize) };
        run(input)
    })) {
        Ok(Ok(frame)) => frame,
        Ok(Err(e)) => error_frame(e),
        Err(panic) => error_frame(Error::internal(format!("peo panicked: {}", panic_message(panic.as_ref())))),
    };
    let n = frame.0.len();
    if n as u64 <= cap && !io.is_null() {
        // SAFETY: `io` has `cap` writable bytes and the frame fits.
        unsafe { std::ptr::copy_nonoverlapping(frame.0.as_ptr(), io, n) };
    } else {
        PENDING.with(|p| *p.borrow_mut() = frame.0);
    }
    n as i64
}

/// Starts a visit of the object in `io[..data_len]` (an event's JSON text after it, if
/// `len > data_len`) on node `lane`.
///
/// # Safety
/// `io` must point to `cap` writable bytes, of which the first `len` are the input.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_kt_begin(lane: u64, io: *mut u8, cap: u64, len: u64, data_len: u64, now: i64) -> i64 {
    // SAFETY: passed on from the caller.
    unsafe { cross(io, cap, len, now, |input| begin(lane, input, data_len as usize, now)) }
}

/// Starts the presentation of children to their waiting parent: `io` holds the parent
/// (a blob), the count of children and each child (blobs).
///
/// # Safety
/// As [`peo_kt_begin`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_kt_begin_completions(lane: u64, io: *mut u8, cap: u64, len: u64, now: i64) -> i64 {
    // SAFETY: passed on from the caller.
    unsafe { cross(io, cap, len, now, |input| begin_completions(lane, input, now)) }
}

/// Answers session `session`'s handler call and runs it on: `io` holds a flag (0 for an
/// output, 1 for a failure), then the output and the refinement, or the error and the
/// cause (texts).
///
/// # Safety
/// As [`peo_kt_begin`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_kt_answer(session: u64, io: *mut u8, cap: u64, len: u64, now: i64) -> i64 {
    // SAFETY: passed on from the caller.
    unsafe { cross(io, cap, len, now, |input| answer(session, input)) }
}

/// Copies the frame that did not fit into `io` (`cap` bytes); returns its length, or
/// -1 when there is none or it still does not fit.
///
/// # Safety
/// `io` must point to `cap` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_kt_fetch(io: *mut u8, cap: u64) -> i64 {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_empty() || p.len() as u64 > cap || io.is_null() {
            return -1;
        }
        // SAFETY: `io` has `cap` writable bytes and the frame fits.
        unsafe { std::ptr::copy_nonoverlapping(p.as_ptr(), io, p.len()) };
        let n = p.len() as i64;
        *p = Vec::new();
        n
    })
}

/// Abandons a session waiting for an answer (nothing is recorded).
#[unsafe(no_mangle)]
pub extern "C" fn peo_kt_drop(session: u64) {
    let dropped = lock(&SESSIONS).remove(&session);
    drop(dropped);
}
