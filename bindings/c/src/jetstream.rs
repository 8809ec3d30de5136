//! NATS JetStream: serving a node on a mesh, and the client (submit objects, send
//! events, read and wait for objects).

use std::ffi::{c_char, c_void};
#[cfg(feature = "jetstream")]
use std::sync::Arc;

use peo_core::checkpoint::Segment;
use peo_core::{Error, Limits, Object};
use peo_runtime::host;

use crate::{convert::*, error::*, node::*, object::*};

/// Asked about every 200 ms while a node serves: return true to stop serving.
pub type PeoStopFn = Option<unsafe extern "C" fn(user_data: *mut c_void) -> bool>;

/// A C stop callback for the serving loop (which runs on the caller's thread).
#[cfg(feature = "jetstream")]
#[derive(Clone, Copy)]
pub(crate) struct StopCallback {
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
// SAFETY: only called by the serving loop, one call at a time: on the thread that called
// `peo_node_serve`, or with a window on its workers under the loop's lock (the header says
// so).
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
    /// Called about every 200 ms; serving stops when it returns true. NULL: never. One
    /// call at a time; with a `window` above 1, from the loop's worker threads.
    pub should_stop: PeoStopFn,
    pub user_data: *mut c_void,
    /// TLS and credentials as JSON, `{"ca", "cert", "key", "tls", "creds", "nkey",
    /// "user", "password", "token"}` (docs/security.md). NULL: the `nats` tool's
    /// variables (`NATS_CA`, `NATS_CERT`, `NATS_KEY`, `NATS_CREDS`, `NATS_NKEY`,
    /// `NATS_USER`, `NATS_PASSWORD`, `NATS_TOKEN`).
    pub security_json: *const c_char,
    /// Deliveries of one message of work, never settled (its takers died or declined
    /// it), before it is dead-lettered to `peo.dead.<id>`; 0: 50; -1: no limit.
    pub max_deliver: i64,
    /// Deliveries in flight at once; 0 or 1: one at a time, handlers called on the
    /// thread that called `peo_node_serve`. With more, that many worker threads each
    /// take a delivery, visit it and send it on: the node's handlers, advisor and clock
    /// are then called from several threads at once and must be thread-safe (their
    /// user data included). `peo_node_serve` returns once every worker has finished its
    /// delivery in hand.
    pub window: u32,
    /// On a JetStream cluster: how many servers keep each of peo's streams and its
    /// bucket when this connection creates them (1 to 5; 3 survives a server's loss);
    /// 0: 1. Streams that exist keep theirs.
    pub replicas: u32,
}

/// Runs the node as a service on a NATS JetStream mesh (`url`, e.g.
/// `nats://127.0.0.1:4222`, a server started with `nats-server -js`): it takes the
/// objects for its capabilities (and new objects, due dormant ones, events and fan-out
/// completions), visits them with its handlers (called on this thread, or on worker
/// threads with `options.window` above 1) and sends them on,
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
pub(crate) unsafe fn serve(
    _: *const PeoNode,
    _: *const c_char,
    _: *const PeoServeOptions,
    _: *mut *mut c_char,
) -> Result<(), Error> {
    Err(Error::unsupported("this libpeo was built without JetStream (the `jetstream` feature of peo-c)"))
}

#[cfg(feature = "jetstream")]
pub(crate) unsafe fn serve(
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
    let security = match options.map(|o| o.security_json) {
        Some(p) if !p.is_null() => Some(unsafe { str_arg(p, "options.security_json") }?),
        _ => None,
    };
    let connect = peo_jetstream::Options::from_face(
        Some(format!("peo C node {}", node.read().id())),
        seconds(options.map_or(0.0, |o| o.ack_wait_seconds), "ack_wait_seconds")?,
        security,
        max_deliver(options.map_or(0, |o| o.max_deliver)),
        replicas(options.map_or(0, |o| o.replicas)),
    )?;
    let mut serve = peo_jetstream::ServeOptions::default();
    if let Some(o) = options {
        serve.idle_timeout = seconds(o.idle_timeout_seconds, "idle_timeout_seconds")?;
        serve.give_up_after = seconds(o.give_up_after_seconds, "give_up_after_seconds")?;
        serve.max_deliveries = (o.max_deliveries > 0).then_some(o.max_deliveries);
        serve.window = o.window as usize;
        if let Some(f) = o.should_stop {
            let stop = StopCallback { f, user_data: o.user_data };
            serve.should_stop = Some(Arc::new(move || stop.call()));
        }
    }
    let js = peo_jetstream::JetStream::connect(url, connect)?;
    peo_jetstream::serve(&node.read(), &js, &serve)?;
    if !stats_json.is_null() {
        let out = unsafe { string_out(stats_json, "stats_json") }?;
        *out = c_string(&peo_runtime::host::json_text(&js.stats().to_json())).into_raw();
    }
    Ok(())
}

/// Frees a node. Accepts NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_node_free(node: *mut PeoNode) {
    unsafe { free_box(node) }
}

/// A connection to a NATS JetStream mesh (`peo_jetstream_connect`). Free with
/// `peo_jetstream_free`. Its calls block the calling thread; one connection may be used
/// from several threads.
pub struct PeoJetStream(Client);

#[cfg(feature = "jetstream")]
type Client = peo_jetstream::JetStream;

/// Built without JetStream: no connection is ever made (`Client` has no values).
#[cfg(not(feature = "jetstream"))]
pub(crate) enum Client {}

#[cfg(not(feature = "jetstream"))]
impl Client {
    fn submit(&self, _: &[u8]) -> Result<String, Error> {
        match *self {}
    }
    fn send_event(&self, _: &str, _: &peo_core::Event) -> Result<(), Error> {
        match *self {}
    }
    fn get(&self, _: &str) -> Result<Option<Vec<u8>>, Error> {
        match *self {}
    }
    fn wait_done(
        &self,
        _: &[String],
        _: std::time::Duration,
    ) -> Result<std::collections::BTreeMap<String, Vec<u8>>, Error> {
        match *self {}
    }
    fn stats_json(&self) -> String {
        match *self {}
    }
    fn archive(&self, _: &str) -> Result<Vec<Segment>, Error> {
        match *self {}
    }
}

#[cfg(feature = "jetstream")]
trait StatsJson {
    fn stats_json(&self) -> String;
}

#[cfg(feature = "jetstream")]
impl StatsJson for Client {
    fn stats_json(&self) -> String {
        peo_runtime::host::json_text(&self.stats().to_json())
    }
}

/// How `peo_jetstream_connect` connects; zero-initialise it for the defaults.
#[repr(C)]
pub struct PeoConnectOptions {
    /// Seconds a delivery may take before JetStream gives it to another node (applies
    /// when this connection creates the consumers); 0: 30 s.
    pub ack_wait_seconds: f64,
    /// The connection's name as the server shows it, or NULL.
    pub name: *const c_char,
    /// TLS and credentials as JSON, as in `PeoServeOptions`; NULL: the `NATS_*`
    /// variables.
    pub security_json: *const c_char,
    /// As in `PeoServeOptions`: 0: 50; -1: no limit.
    pub max_deliver: i64,
    /// As in `PeoServeOptions`: 1 to 5 servers keep each stream; 0: 1.
    pub replicas: u32,
}

/// C's zero is the default: 0 is one server.
#[cfg(feature = "jetstream")]
fn replicas(n: u32) -> Option<i64> {
    (n != 0).then_some(i64::from(n))
}

/// C's zero is the default: 0 is 50 deliveries, -1 no limit.
#[cfg(feature = "jetstream")]
fn max_deliver(n: i64) -> Option<i64> {
    match n {
        0 => None,
        -1 => Some(0),
        n => Some(n),
    }
}

/// Connects to a NATS JetStream mesh (`url`, e.g. `nats://127.0.0.1:4222`, a server
/// started with `nats-server -js`). `options` may be NULL. `PEO_TRANSPORT` when the server
/// cannot be reached. Free `*out` with `peo_jetstream_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_jetstream_connect(
    url: *const c_char,
    options: *const PeoConnectOptions,
    out: *mut *mut PeoJetStream,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let url = unsafe { str_arg(url, "url") }?;
        // SAFETY: NULL or a readable options struct (the header's contract).
        let options = unsafe { options.as_ref() };
        let ack_wait = match options.map_or(0.0, |o| o.ack_wait_seconds) {
            0.0 => None,
            s => Some(host::seconds(s, "ack_wait_seconds")?),
        };
        let name = match options.map(|o| o.name) {
            Some(p) if !p.is_null() => Some(unsafe { str_arg(p, "options.name") }?.to_owned()),
            _ => None,
        };
        let security = match options.map(|o| o.security_json) {
            Some(p) if !p.is_null() => Some(unsafe { str_arg(p, "options.security_json") }?),
            _ => None,
        };
        let limits = (options.map_or(0, |o| o.max_deliver), options.map_or(0, |o| o.replicas));
        *out = Box::into_raw(Box::new(PeoJetStream(connect(url, ack_wait, name, security, limits)?)));
        Ok(())
    })
}

#[cfg(feature = "jetstream")]
fn connect(
    url: &str,
    ack_wait: Option<std::time::Duration>,
    name: Option<String>,
    security: Option<&str>,
    (max, copies): (i64, u32),
) -> Result<Client, Error> {
    let options = peo_jetstream::Options::from_face(name, ack_wait, security, max_deliver(max), replicas(copies))?;
    peo_jetstream::JetStream::connect(url, options)
}

#[cfg(not(feature = "jetstream"))]
fn connect(
    _: &str,
    _: Option<std::time::Duration>,
    _: Option<String>,
    _: Option<&str>,
    _: (i64, u32),
) -> Result<Client, Error> {
    Err(Error::unsupported("this libpeo was built without JetStream (the `jetstream` feature of peo-c)"))
}

/// Puts a new object into the mesh (idempotent for the same version); `*id_hex` receives
/// its id (free with `peo_string_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_jetstream_submit(
    js: *const PeoJetStream,
    bytes: *const u8,
    len: usize,
    id_hex: *mut *mut c_char,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { string_out(id_hex, "id_hex") }?;
        let js = unsafe { handle(js, "js") }?;
        let bytes = unsafe { bytes_arg(bytes, len, "bytes") }?;
        give_string(out, &js.0.submit(bytes)?);
        Ok(())
    })
}

/// Sends an event (`{"name", "payload"}`, `{"name", "error", "cause"}` or
/// `{"name", "heartbeat": true}`) to object `object_id`; it is kept until the object
/// awaits it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_jetstream_send_event(
    js: *const PeoJetStream,
    object_id: *const c_char,
    event_json: *const c_char,
) -> PeoStatus {
    guard(|| {
        let js = unsafe { handle(js, "js") }?;
        let id = unsafe { str_arg(object_id, "object_id") }?;
        let event = host::event(unsafe { str_arg(event_json, "event_json") }?)?;
        js.0.send_event(id, &event)
    })
}

fn object_out(out: &mut *mut PeoObject, bytes: Option<Vec<u8>>) -> Result<(), Error> {
    if let Some(b) = bytes {
        *out = Box::into_raw(Box::new(PeoObject(Object::from_bytes(&b, &Limits::default())?)));
    }
    Ok(())
}

/// The newest version of object `object_id` in the mesh, or `*out` NULL when the mesh
/// has none. Free `*out` with `peo_object_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_jetstream_get(
    js: *const PeoJetStream,
    object_id: *const c_char,
    out: *mut *mut PeoObject,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let js = unsafe { handle(js, "js") }?;
        let id = unsafe { str_arg(object_id, "object_id") }?;
        object_out(out, js.0.get(id)?)
    })
}

/// Waits up to `timeout_seconds` for object `object_id` to finish: `*out` is its final
/// version (checked: that object, ended, its chain intact), or NULL when it did not
/// finish in time. Free `*out` with `peo_object_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_jetstream_wait(
    js: *const PeoJetStream,
    object_id: *const c_char,
    timeout_seconds: f64,
    out: *mut *mut PeoObject,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let js = unsafe { handle(js, "js") }?;
        let id = unsafe { str_arg(object_id, "object_id") }?.to_owned();
        let timeout = host::seconds(timeout_seconds, "timeout_seconds")?;
        let mut done = js.0.wait_done(std::slice::from_ref(&id), timeout)?;
        object_out(out, done.remove(&id))
    })
}

/// The connection's counters as JSON (`received`, `visits`, `forwarded`, ...). Free
/// `*out` with `peo_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_jetstream_stats_json(js: *const PeoJetStream, out: *mut *mut c_char) -> PeoStatus {
    guard(|| {
        let out = unsafe { string_out(out, "out") }?;
        let js = unsafe { handle(js, "js") }?;
        give_string(out, &js.0.stats_json());
        Ok(())
    })
}

/// The records compactions pruned from an object, as a mesh keeps them
/// (`peo_jetstream_archive`): archive segments to pass to `peo_object_audit`. Free with
/// `peo_archive_free`.
pub struct PeoArchive {
    segments: Vec<Vec<u8>>,
    pointers: Vec<*const u8>,
    lens: Vec<usize>,
}

/// Reads the records compactions pruned from object `object_id` (every node keeps what
/// its compactions prune in the mesh). Free `*out` with `peo_archive_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_jetstream_archive(
    js: *const PeoJetStream,
    object_id: *const c_char,
    out: *mut *mut PeoArchive,
) -> PeoStatus {
    guard(|| {
        let out = unsafe { handle_out(out, "out") }?;
        let js = unsafe { handle(js, "js") }?;
        let id = unsafe { str_arg(object_id, "object_id") }?;
        let segments: Vec<Vec<u8>> = js.0.archive(id)?.iter().map(Segment::to_bytes).collect();
        let pointers = segments.iter().map(|s| s.as_ptr()).collect();
        let lens = segments.iter().map(Vec::len).collect();
        *out = Box::into_raw(Box::new(PeoArchive { segments, pointers, lens }));
        Ok(())
    })
}

/// The archive's segments as `peo_object_audit` takes them: `*count` segments,
/// `(*segments)[i]` of `(*lens)[i]` bytes. Borrowed: valid as long as the archive.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_archive_segments(
    archive: *const PeoArchive,
    segments: *mut *const *const u8,
    lens: *mut *const usize,
    count: *mut usize,
) -> PeoStatus {
    guard(|| {
        let a = unsafe { handle(archive, "archive") }?;
        *unsafe { out_arg(segments, "segments") }? = a.pointers.as_ptr();
        *unsafe { out_arg(lens, "lens") }? = a.lens.as_ptr();
        *unsafe { out_arg(count, "count") }? = a.segments.len();
        Ok(())
    })
}

/// Frees an archive. Accepts NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_archive_free(archive: *mut PeoArchive) {
    unsafe { free_box(archive) }
}

/// Closes a connection. Accepts NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peo_jetstream_free(js: *mut PeoJetStream) {
    unsafe { free_box(js) }
}
