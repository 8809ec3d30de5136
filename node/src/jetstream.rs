//! JetStream (feature `jetstream`, on by default): the connection's blocking calls run
//! on libuv's thread pool (AsyncTask); each resolves to a `NativeReply` that carries
//! either a result or a peo error (code and message), which peo.js turns into the
//! matching PeoError. An addon built without it has no `NativeJetStream`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use peo_core::Error as PeoErr;
use peo_jetstream::{Delivery, JetStream, Options as JsOptions, Outcome, Poll, ServeOptions, Serving, Work};
use peo_runtime::host;

use crate::{Code, js_error, peo};

/// The result of a JetStream call: `code` / `message` on failure, else the fields the
/// call fills.
#[napi(object)]
pub struct NativeReply {
    pub code: Option<String>,
    pub message: Option<String>,
    pub text: Option<String>,
    pub handle: Option<u32>,
    pub kind: Option<String>,
    pub buffers: Option<Vec<Buffer>>,
    pub names: Option<Vec<String>>,
}

impl NativeReply {
    fn empty() -> NativeReply {
        NativeReply { code: None, message: None, text: None, handle: None, kind: None, buffers: None, names: None }
    }
    fn error(e: &PeoErr) -> NativeReply {
        NativeReply { code: Some(e.kind().code().into()), message: Some(js_error(e).reason), ..NativeReply::empty() }
    }
}

/// What a JetStream task computes (off the JS thread).
pub enum Reply {
    Nothing,
    Stop,
    Text(String),
    Delivery(u32, String, Vec<Vec<u8>>, Option<String>),
    Done(Vec<(String, Vec<u8>)>),
    Bytes(Option<Vec<u8>>),
}

pub struct Shared {
    js: JetStream,
    deliveries: Mutex<(u32, HashMap<u32, Delivery>)>,
    /// The serve loop (`serveStart`), driven by `servePoll` and `settle` / `fail`.
    serving: Mutex<Option<Arc<Serving>>>,
    /// Set by `serveStop` (an aborted signal).
    stop: Arc<AtomicBool>,
}

impl Shared {
    /// Calls `f` with the serve loop, not under the lock: a poll waiting for work does
    /// not hold up the settling of the deliveries in flight.
    fn serving<T>(&self, f: impl FnOnce(&Serving) -> peo_core::Result<T>) -> peo_core::Result<T> {
        let serving = self.serving.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let serving = serving.ok_or_else(|| PeoErr::invalid_argument("call serveStart first"))?;
        f(&serving)
    }
}

type Op = Box<dyn FnMut(&Shared) -> peo_core::Result<Reply> + Send>;

/// One blocking JetStream call, run by libuv's thread pool.
pub struct JsTask {
    shared: Arc<Shared>,
    op: Op,
}

impl Task for JsTask {
    type Output = peo_core::Result<Reply>;
    type JsValue = NativeReply;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        let shared = self.shared.clone();
        let op = &mut self.op;
        Ok(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(&shared)))
            .unwrap_or_else(|p| Err(PeoErr::internal(peo_runtime::panic_message(&*p)))))
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<NativeReply> {
        Ok(match output {
            Err(e) => NativeReply::error(&e),
            Ok(Reply::Nothing) => NativeReply::empty(),
            Ok(Reply::Stop) => NativeReply { kind: Some("stop".into()), ..NativeReply::empty() },
            Ok(Reply::Text(t)) => NativeReply { text: Some(t), ..NativeReply::empty() },
            Ok(Reply::Bytes(b)) => NativeReply { buffers: b.map(|b| vec![b.into()]), ..NativeReply::empty() },
            Ok(Reply::Delivery(handle, kind, buffers, event)) => NativeReply {
                handle: Some(handle),
                kind: Some(kind),
                text: event,
                buffers: Some(buffers.into_iter().map(Buffer::from).collect()),
                ..NativeReply::empty()
            },
            Ok(Reply::Done(done)) => {
                let (names, buffers): (Vec<String>, Vec<Vec<u8>>) = done.into_iter().unzip();
                NativeReply {
                    names: Some(names),
                    buffers: Some(buffers.into_iter().map(Buffer::from).collect()),
                    ..NativeReply::empty()
                }
            }
        })
    }
}

/// A connection to a NATS JetStream mesh (docs/distributed.md).
#[napi]
pub struct NativeJetStream {
    shared: Arc<Shared>,
}

fn millis(ms: f64, what: &str) -> Result<std::time::Duration, Code> {
    peo(host::millis(ms, what))
}

#[napi]
impl NativeJetStream {
    /// Use `connect()`: a connection is made off the JS thread.
    #[napi(constructor, catch_unwind)]
    pub fn new() -> Result<NativeJetStream, Code> {
        Err(js_error(&PeoErr::invalid_argument("use connect(url) to open a JetStream connection")))
    }

    fn task(&self, op: impl FnMut(&Shared) -> peo_core::Result<Reply> + Send + 'static) -> AsyncTask<JsTask> {
        AsyncTask::new(JsTask { shared: self.shared.clone(), op: Box::new(op) })
    }

    /// Starts serving node `node_id` (its `capabilities`) with the loop's stop conditions
    /// (ms; null: none) and `window` deliveries in flight. Drive it with `servePoll` and
    /// settle each delivery; polls and settles may overlap.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeReply>")]
    pub fn serve_start(
        &self,
        node_id: String,
        capabilities: Vec<String>,
        idle_timeout_ms: Option<f64>,
        max_deliveries: Option<f64>,
        give_up_after_ms: Option<f64>,
        window: f64,
    ) -> Result<AsyncTask<JsTask>, Code> {
        let window = peo(host::window(window))?;
        self.shared.stop.store(false, Ordering::Relaxed);
        let options = ServeOptions {
            window,
            idle_timeout: idle_timeout_ms.map(|t| millis(t, "idleTimeout")).transpose()?,
            max_deliveries: max_deliveries.map(|m| m.max(0.0) as u64),
            give_up_after: give_up_after_ms.map(|t| millis(t, "giveUpAfter")).transpose()?,
            stop: Some(self.shared.stop.clone()),
            ..Default::default()
        };
        let mut options = Some(options);
        Ok(self.task(move |s| {
            let options = options.take().unwrap_or_default();
            let serving = Serving::start(&s.js, &node_id, &capabilities, options)?;
            *s.serving.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(serving));
            Ok(Reply::Nothing)
        }))
    }

    /// Stops the serve loop: the next `servePoll` replies `{kind: "stop"}`.
    #[napi(catch_unwind)]
    pub fn serve_stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// One step of the serve loop (waits up to 200 ms): a delivery `{handle, kind: "visit" |
    /// "complete", buffers: [object] | [parent, child], text: event JSON or null}`,
    /// `{kind: "stop"}` when the loop is over, or an empty reply.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeReply>")]
    pub fn serve_poll(&self) -> AsyncTask<JsTask> {
        self.task(move |s| {
            let d = match s.serving(|serving| serving.poll(&s.js))? {
                Poll::Stop => return Ok(Reply::Stop),
                Poll::Idle => return Ok(Reply::Nothing),
                Poll::Work(d) => d,
            };
            let (kind, buffers, event) = match &d.work {
                Work::Visit { object, event } => {
                    ("visit", vec![object.clone()], event.as_ref().map(|e| peo_runtime::host::json_text(&e.to_json())))
                }
                Work::Complete { parent, child } => ("complete", vec![parent.clone(), child.clone()], None),
            };
            let mut g = s.deliveries.lock().unwrap_or_else(|e| e.into_inner());
            g.0 = g.0.wrapping_add(1);
            let handle = g.0;
            g.1.insert(handle, d);
            Ok(Reply::Delivery(handle, kind.into(), buffers, event))
        })
    }

    /// Settles delivery `handle` with a visit's bytes, children and archive (the pruned
    /// records' segments, kept in the mesh for audits).
    #[napi(catch_unwind, ts_return_type = "Promise<NativeReply>")]
    pub fn settle(
        &self,
        handle: u32,
        bytes: &[u8],
        children: Vec<Buffer>,
        archive: Vec<Buffer>,
    ) -> Result<AsyncTask<JsTask>, Code> {
        let bytes = bytes.to_vec();
        let children: Vec<Vec<u8>> = children.iter().map(|c| c.to_vec()).collect();
        let archive = peo(peo_runtime::host::segments(&archive))?;
        Ok(self.task(move |s| {
            let d = take(s, handle)?;
            let outcome = Outcome::Bytes(&bytes, &children, &archive);
            s.serving(|serving| serving.finish(&s.js, d, Ok(outcome))).map(|()| Reply::Nothing)
        }))
    }

    /// The pruned records the mesh keeps for object `object_id`: `{names: end hashes,
    /// buffers: segments}`.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeReply>")]
    pub fn archive(&self, object_id: String) -> AsyncTask<JsTask> {
        self.task(move |s| {
            let segments = s.js.archive(&object_id)?;
            Ok(Reply::Done(segments.iter().map(|g| (g.end().to_hex(), g.to_bytes())).collect()))
        })
    }

    /// Settles delivery `handle` with a visit's error (`code` a PEO_* code): a policy
    /// refusal declines it, anything else dead-letters it.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeReply>")]
    pub fn fail(&self, handle: u32, code: String, message: String) -> AsyncTask<JsTask> {
        let kind = peo_core::ErrorKind::from_code(&code).unwrap_or(peo_core::ErrorKind::Internal);
        let error = PeoErr::new(kind, message);
        self.task(move |s| {
            let d = take(s, handle)?;
            s.serving(|serving| serving.finish(&s.js, d, Err(error.clone()))).map(|()| Reply::Nothing)
        })
    }

    /// Gives delivery `handle` back to JetStream at once.
    #[napi(catch_unwind)]
    pub fn abandon(&self, handle: u32) {
        if let Ok(d) = take(&self.shared, handle) {
            self.shared.js.abandon(d);
        }
    }

    #[napi(catch_unwind, ts_return_type = "Promise<NativeReply>")]
    pub fn submit(&self, bytes: &[u8]) -> AsyncTask<JsTask> {
        let bytes = bytes.to_vec();
        self.task(move |s| s.js.submit(&bytes).map(Reply::Text))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<NativeReply>")]
    pub fn send_event(&self, object_id: String, event_json: String) -> Result<AsyncTask<JsTask>, Code> {
        let event = peo(host::event(&event_json))?;
        Ok(self.task(move |s| s.js.send_event(&object_id, &event).map(|()| Reply::Nothing)))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<NativeReply>")]
    pub fn get(&self, object_id: String) -> AsyncTask<JsTask> {
        self.task(move |s| s.js.get(&object_id).map(Reply::Bytes))
    }

    /// `{names: ids, buffers: final objects}` of the objects that finished in time.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeReply>")]
    pub fn wait_done(&self, ids: Vec<String>, timeout_ms: f64) -> Result<AsyncTask<JsTask>, Code> {
        let timeout = millis(timeout_ms, "timeout")?;
        Ok(self.task(move |s| s.js.wait_done(&ids, timeout).map(|d| Reply::Done(d.into_iter().collect()))))
    }

    #[napi(catch_unwind)]
    pub fn stats_json(&self) -> String {
        peo_runtime::host::json_text(&self.shared.js.stats().to_json())
    }
}

/// Connects to a NATS server with JetStream (off the JS thread).
pub struct ConnectTask {
    url: String,
    options: Option<JsOptions>,
}

impl Task for ConnectTask {
    type Output = peo_core::Result<JetStream>;
    type JsValue = Either<NativeJetStream, NativeReply>;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        let options = self.options.take().unwrap_or_default();
        let url = &self.url;
        Ok(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| JetStream::connect(url, options)))
            .unwrap_or_else(|p| Err(PeoErr::internal(peo_runtime::panic_message(&*p)))))
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(match output {
            Ok(js) => Either::A(NativeJetStream {
                shared: Arc::new(Shared {
                    js,
                    deliveries: Mutex::new((0, HashMap::new())),
                    serving: Mutex::new(None),
                    stop: Arc::default(),
                }),
            }),
            Err(e) => Either::B(NativeReply::error(&e)),
        })
    }
}

/// Connects to a NATS JetStream mesh: resolves to a `NativeJetStream`, or to a reply
/// carrying the error.
#[napi(catch_unwind, ts_return_type = "Promise<NativeJetStream | NativeReply>")]
pub fn connect(
    url: String,
    ack_wait_ms: Option<f64>,
    name: Option<String>,
    security_json: Option<String>,
    max_deliver: Option<i64>,
    replicas: Option<i64>,
) -> Result<AsyncTask<ConnectTask>, Code> {
    let ack_wait = ack_wait_ms.map(|ms| millis(ms, "ackWait")).transpose()?;
    let options = peo(JsOptions::from_face(name, ack_wait, security_json.as_deref(), max_deliver, replicas))?;
    Ok(AsyncTask::new(ConnectTask { url, options: Some(options) }))
}

fn take(s: &Shared, handle: u32) -> peo_core::Result<Delivery> {
    s.deliveries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .1
        .remove(&handle)
        .ok_or_else(|| PeoErr::invalid_argument(format!("no delivery {handle} is pending")))
}
