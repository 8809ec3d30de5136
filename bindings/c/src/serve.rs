//! Serving a node on a NATS JetStream mesh.

use std::ffi::{c_char, c_void};
#[cfg(feature = "jetstream")]
use std::sync::Arc;

use peo_core::Error;
#[cfg(feature = "jetstream")]
use peo_runtime::host;

use crate::{convert::*, error::*, node::*};

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
