//! `peo._peo.JetStream`: the NATS JetStream transport (feature `jetstream`, on by
//! default; a module built without it has no `JetStream` class).

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use peo_jetstream::relay::{ReportError, TaskReporter};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use peo_jetstream::{Outcome, Poll, ServeOptions, Serving, Work, serve_with};
use peo_runtime::host;

use crate::{OrRaise, PyNode, shutdown, take_pending};

/// A Python object's AWS calls, for the relay: each method returns None or `(code,
/// message)`; an exception is a failure with no code.
struct PyReporter(Py<PyAny>);

impl PyReporter {
    fn call<A: for<'py> pyo3::call::PyCallArgs<'py>>(&self, method: &str, args: A) -> Result<(), ReportError> {
        shutdown::attach(|py| match self.0.call_method1(py, method, args) {
            Ok(r) if r.is_none(py) => Ok(()),
            Ok(r) => match r.extract::<(Option<String>, String)>(py) {
                Ok((code, message)) => Err(ReportError { code, message }),
                Err(e) => Err(ReportError {
                    code: None,
                    message: format!("{method} returned neither None nor (code, message): {e}"),
                }),
            },
            Err(e) => Err(ReportError { code: None, message: e.to_string() }),
        })
    }
}

impl TaskReporter for PyReporter {
    fn heartbeat(&self, token: &str) -> Result<(), ReportError> {
        self.call("heartbeat", (token,))
    }
    fn success(&self, token: &str, output: &str) -> Result<(), ReportError> {
        self.call("success", (token, output))
    }
    fn failure(&self, token: &str, error: &str, cause: &str) -> Result<(), ReportError> {
        self.call("failure", (token, error, cause))
    }
    fn upload(&self, bucket: &str, key: &str, bytes: &[u8]) -> Result<(), ReportError> {
        let data = shutdown::attach(|py| PyBytes::new(py, bytes).unbind());
        self.call("upload", (bucket, key, data))
    }
}

/// A connection to a NATS JetStream mesh (docs/distributed.md).
#[pyclass(frozen, module = "peo._peo", name = "JetStream")]
pub(crate) struct PyJetStream(peo_jetstream::JetStream);

#[pymethods]
impl PyJetStream {
    #[new]
    #[pyo3(signature = (url, ack_wait, name, security, max_deliver, replicas))]
    fn new(
        py: Python<'_>,
        url: &str,
        ack_wait: Option<f64>,
        name: Option<String>,
        security: Option<&str>,
        max_deliver: Option<i64>,
        replicas: Option<i64>,
    ) -> PyResult<PyJetStream> {
        let ack_wait = ack_wait.map(|s| host::seconds(s, "ack_wait")).transpose().or_raise()?;
        let options = peo_jetstream::Options::from_face(name, ack_wait, security, max_deliver, replicas).or_raise()?;
        shutdown::detach(py, || peo_jetstream::JetStream::connect(url, options)).map(PyJetStream).or_raise()
    }
    /// Serves `node` until `stop` (a `threading.Event`) is set, `idle_timeout` seconds
    /// pass without work, `max_deliveries` were handled or, with `give_up_after`, the
    /// server stays unreachable that long (`TransportError`). An exception raised by a
    /// handler that is not an `Exception` gives the delivery back and is re-raised.
    /// With a `window` above 1, that many deliveries are visited at once on worker
    /// threads, and this thread watches for signals and `stop`.
    #[pyo3(signature = (node, idle_timeout, max_deliveries, give_up_after, stop, window))]
    #[allow(clippy::too_many_arguments)]
    fn serve(
        &self,
        py: Python<'_>,
        node: &PyNode,
        idle_timeout: Option<f64>,
        max_deliveries: Option<u64>,
        give_up_after: Option<f64>,
        stop: Option<Py<PyAny>>,
        window: f64,
    ) -> PyResult<()> {
        let options = ServeOptions {
            idle_timeout: idle_timeout.map(|s| host::seconds(s, "idle_timeout")).transpose().or_raise()?,
            give_up_after: give_up_after.map(|s| host::seconds(s, "give_up_after")).transpose().or_raise()?,
            max_deliveries,
            window: host::window(window).or_raise()?,
            ..Default::default()
        };
        let stopped = |py: Python<'_>| -> PyResult<bool> {
            py.check_signals()?;
            match &stop {
                Some(stop) => stop.call_method0(py, "is_set")?.is_truthy(py),
                None => Ok(false),
            }
        };
        if options.window > 1 {
            return self.serve_window(py, node, options, stopped);
        }
        let (js, n) = (&self.0, &node.node);
        let capabilities: Vec<String> = n.spec().capabilities.iter().cloned().collect();
        let serving = shutdown::detach(py, || Serving::start(js, n.id(), &capabilities, options)).or_raise()?;
        loop {
            if stopped(py)? {
                return Ok(());
            }
            take_pending();
            let step = shutdown::detach(py, || {
                serving.poll(js).map(|p| match p {
                    Poll::Work(d) => {
                        let visit = n.handle(&d.work);
                        Poll::Work((d, visit))
                    }
                    Poll::Idle => Poll::Idle,
                    Poll::Stop => Poll::Stop,
                })
            });
            match step.or_raise()? {
                Poll::Stop => return Ok(()),
                Poll::Idle => {}
                Poll::Work((d, visit)) => {
                    if let Some(err) = take_pending() {
                        shutdown::detach(py, || serving.abandon(js, d));
                        return Err(err);
                    }
                    let outcome = visit.as_ref().map(Outcome::Visit).map_err(Clone::clone);
                    shutdown::detach(py, || serving.finish(js, d, outcome)).or_raise()?;
                }
            }
        }
    }
    fn submit(&self, py: Python<'_>, data: &[u8]) -> PyResult<String> {
        shutdown::detach(py, || self.0.submit(data)).or_raise()
    }
    fn send_event(&self, py: Python<'_>, object_id: &str, event_json: &str) -> PyResult<()> {
        let event = host::event(event_json).or_raise()?;
        shutdown::detach(py, || self.0.send_event(object_id, &event)).or_raise()
    }
    fn get<'py>(&self, py: Python<'py>, object_id: &str) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let got = shutdown::detach(py, || self.0.get(object_id)).or_raise()?;
        Ok(got.map(|b| PyBytes::new(py, &b)))
    }
    /// `{id: final bytes}` for the objects of `ids` that finished within `timeout` seconds.
    fn wait_done<'py>(
        &self,
        py: Python<'py>,
        ids: Vec<String>,
        timeout: f64,
    ) -> PyResult<std::collections::BTreeMap<String, Bound<'py, PyBytes>>> {
        let timeout = host::seconds(timeout, "timeout").or_raise()?;
        let done = shutdown::detach(py, || self.0.wait_done(&ids, timeout)).or_raise()?;
        Ok(done.into_iter().map(|(k, v)| (k, PyBytes::new(py, &v))).collect())
    }
    /// The records compactions pruned from object `object_id`, as the mesh keeps them
    /// (archive segments).
    fn archive<'py>(&self, py: Python<'py>, object_id: &str) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let segments = shutdown::detach(py, || self.0.archive(object_id)).or_raise()?;
        Ok(segments.iter().map(|s| PyBytes::new(py, &s.to_bytes())).collect())
    }
    fn stats_json(&self) -> String {
        peo_runtime::host::json_text(&self.0.stats().to_json())
    }
    /// Starts following the mesh as `durable` (finished and dead-lettered objects until
    /// acknowledged, and every new version).
    fn follow(&self, py: Python<'_>, durable: &str) -> PyResult<()> {
        shutdown::detach(py, || self.0.follow(durable)).or_raise()
    }
    /// The next update within `timeout` seconds: `(kind, id, data, error_code,
    /// error_message, ack)`, or None.
    #[allow(clippy::type_complexity)]
    fn next_update<'py>(
        &self,
        py: Python<'py>,
        timeout: f64,
    ) -> PyResult<Option<(&'static str, String, Bound<'py, PyBytes>, Option<String>, Option<String>, u64)>> {
        let timeout = host::seconds(timeout, "timeout").or_raise()?;
        let update = shutdown::detach(py, || self.0.next_update(timeout)).or_raise()?;
        Ok(update.map(|u| {
            let (code, message) = u.error.map_or((None, None), |(c, m)| (Some(c), Some(m)));
            (u.kind.as_str(), u.id, PyBytes::new(py, &u.bytes), code, message, u.ack)
        }))
    }
    /// Runs the Step Functions relay (peo_jetstream::relay) with `reporter`'s AWS calls:
    /// its `heartbeat(token)`, `success(token, output)`, `failure(token, error, cause)` and
    /// `upload(bucket, key, data)` return None when AWS accepted, or `(code, message)`.
    /// Returns the counts as JSON text.
    #[pyo3(signature = (reporter, name, heartbeat_every, idle_timeout, bucket, stop, log, trusted_keys=None, trust_json=None))]
    #[allow(clippy::too_many_arguments)]
    fn relay(
        &self,
        py: Python<'_>,
        reporter: Py<PyAny>,
        name: String,
        heartbeat_every: f64,
        idle_timeout: Option<f64>,
        bucket: Option<String>,
        stop: Option<Py<PyAny>>,
        log: Option<Py<PyAny>>,
        trusted_keys: Option<Vec<Vec<u8>>>,
        trust_json: Option<&str>,
    ) -> PyResult<String> {
        let trust = host::trust_given(trusted_keys.as_deref(), trust_json).or_raise()?;
        let options = peo_jetstream::relay::RelayOptions {
            name,
            heartbeat_every: host::seconds(heartbeat_every, "heartbeat_every").or_raise()?,
            idle_timeout: idle_timeout.map(|s| host::seconds(s, "idle_timeout")).transpose().or_raise()?,
            bucket,
            trust,
        };
        let reporter = PyReporter(reporter);
        let mut raised: Option<PyErr> = None;
        let mut should_stop = || -> peo_core::Result<bool> {
            shutdown::attach(|py| {
                let stopped = py.check_signals().and_then(|()| match &stop {
                    Some(s) => s.call_method0(py, "is_set")?.is_truthy(py),
                    None => Ok(false),
                });
                stopped.or_else(|e| {
                    raised = Some(e);
                    Ok(true)
                })
            })
        };
        let say = |line: &str| {
            if let Some(log) = &log {
                shutdown::attach(|py| {
                    let _ = log.call1(py, (line,));
                })
            }
        };
        let counts =
            shutdown::detach(py, || peo_jetstream::relay::relay(&self.0, &reporter, &options, &mut should_stop, &say));
        if let Some(e) = raised {
            return Err(e);
        }
        counts.map(|c| peo_runtime::host::json_text(&c.to_json())).or_raise()
    }
    /// Acknowledges a finished or dead-lettered object's update.
    fn ack_update(&self, py: Python<'_>, ack: u64) -> PyResult<()> {
        shutdown::detach(py, || self.0.ack_update(ack)).or_raise()
    }
}

impl PyJetStream {
    /// `serve` with a window: the shared serve loop (`serve_with`) visits on its worker
    /// threads while this thread, the one Python delivers signals to, checks them and
    /// `stopped` every 50 ms; either stops the loop after the deliveries in hand. An
    /// exception a handler raised that is not an `Exception` gives its delivery back,
    /// stops the loop the same way, and is re-raised.
    fn serve_window(
        &self,
        py: Python<'_>,
        node: &PyNode,
        mut options: ServeOptions,
        stopped: impl Fn(Python<'_>) -> PyResult<bool>,
    ) -> PyResult<()> {
        let flag = Arc::new(AtomicBool::new(false));
        options.stop = Some(flag.clone());
        let interrupted: Mutex<Option<PyErr>> = Mutex::new(None);
        let (js, n) = (&self.0, &node.node);
        let capabilities: Vec<String> = n.spec().capabilities.iter().cloned().collect();
        let visit = |work: &Work| {
            take_pending();
            let visit = n.handle(work);
            match take_pending() {
                None => visit,
                Some(err) => {
                    let what = shutdown::attach(|py| err.get_type(py).name().map(|n| n.to_string()));
                    interrupted.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(err);
                    flag.store(true, Ordering::Relaxed);
                    let what = what.unwrap_or_else(|_| "an exception".into());
                    Err(peo_core::Error::transport(format!("a handler raised {what}: the delivery is given back")))
                }
            }
        };
        let mut raised: Option<PyErr> = None;
        let served = std::thread::scope(|scope| {
            let loop_ = scope.spawn(|| serve_with(js, n.id(), &capabilities, &options, visit));
            while !loop_.is_finished() {
                shutdown::detach(py, || std::thread::sleep(Duration::from_millis(50)));
                if raised.is_none() {
                    match stopped(py) {
                        Ok(false) => {}
                        Ok(true) => flag.store(true, Ordering::Relaxed),
                        Err(e) => {
                            raised = Some(e);
                            flag.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
            loop_.join().unwrap_or_else(|p| Err(peo_core::Error::internal(peo_runtime::panic_message(&*p))))
        });
        if let Some(err) = interrupted.into_inner().unwrap_or_else(|p| p.into_inner()).or(raised) {
            return Err(err);
        }
        served.or_raise()
    }
}
