//! `peo._peo.JetStream`: the NATS JetStream transport (feature `jetstream`, on by
//! default; a module built without it has no `JetStream` class).

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use peo_core::{Error, Event};

use crate::{OrRaise, PyNode, parse, take_pending, to_py};

/// A connection to a NATS JetStream mesh (docs/distributed.md).
#[pyclass(frozen, module = "peo._peo", name = "JetStream")]
pub(crate) struct PyJetStream(peo_jetstream::JetStream);

fn seconds(s: f64, what: &str) -> PyResult<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(s)
        .map_err(|_| to_py(&Error::invalid_argument(format!("{what} must be a non-negative number of seconds"))))
}

#[pymethods]
impl PyJetStream {
    #[new]
    #[pyo3(signature = (url, ack_wait, name))]
    fn new(py: Python<'_>, url: &str, ack_wait: Option<f64>, name: Option<String>) -> PyResult<PyJetStream> {
        let mut options = peo_jetstream::Options { name, ..Default::default() };
        if let Some(s) = ack_wait {
            options.ack_wait = seconds(s, "ack_wait")?;
        }
        py.detach(|| peo_jetstream::JetStream::connect(url, options)).map(PyJetStream).or_raise()
    }
    fn listen(&self, py: Python<'_>, node: &PyNode) -> PyResult<()> {
        let caps: Vec<String> = node.node.spec().capabilities.iter().cloned().collect();
        let id = node.node.id().to_owned();
        py.detach(|| self.0.listen(&id, &caps)).or_raise()
    }
    /// Handles at most one delivery with `node`, waiting up to `timeout` seconds;
    /// returns whether one came. An exception raised by a handler that is not an
    /// `Exception` gives the delivery back and is re-raised.
    fn serve_one(&self, py: Python<'_>, node: &PyNode, timeout: f64) -> PyResult<bool> {
        let timeout = seconds(timeout, "timeout")?;
        take_pending();
        let js = &self.0;
        let n = &node.node;
        let got = py.detach(|| -> peo_core::Result<_> {
            let Some(d) = js.next(timeout)? else { return Ok(None) };
            let result = match &d.work {
                peo_jetstream::Work::Visit { object, event } => n.visit(object, event.as_ref()),
                peo_jetstream::Work::Complete { parent, child } => n.complete(parent, child),
            };
            Ok(Some((d, result)))
        });
        let Some((d, result)) = got.or_raise()? else { return Ok(false) };
        if let Some(err) = take_pending() {
            py.detach(|| js.abandon(d));
            return Err(err);
        }
        match py.detach(|| js.finish_visit(d, result)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == peo_core::ErrorKind::Transport => Ok(true),
            Err(e) => Err(to_py(&e)),
        }
    }
    fn submit(&self, py: Python<'_>, data: &[u8]) -> PyResult<String> {
        py.detach(|| self.0.submit(data)).or_raise()
    }
    fn send_event(&self, py: Python<'_>, object_id: &str, event_json: &str) -> PyResult<()> {
        let event = Event::from_json(&parse(event_json, "the event")?).or_raise()?;
        py.detach(|| self.0.send_event(object_id, &event)).or_raise()
    }
    fn get<'py>(&self, py: Python<'py>, object_id: &str) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let got = py.detach(|| self.0.get(object_id)).or_raise()?;
        Ok(got.map(|b| PyBytes::new(py, &b)))
    }
    /// `{id: final bytes}` for the objects of `ids` that finished within `timeout` seconds.
    fn wait_done<'py>(
        &self,
        py: Python<'py>,
        ids: Vec<String>,
        timeout: f64,
    ) -> PyResult<std::collections::BTreeMap<String, Bound<'py, PyBytes>>> {
        let timeout = seconds(timeout, "timeout")?;
        let done = py.detach(|| self.0.wait_done(&ids, timeout)).or_raise()?;
        Ok(done.into_iter().map(|(k, v)| (k, PyBytes::new(py, &v))).collect())
    }
    fn stats_json(&self) -> String {
        self.0.stats().to_json().to_string()
    }
}
