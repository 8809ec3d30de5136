//! The NATS JetStream transport: the client and the serve loop (feature `jetstream`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use peo_jetstream::ServeOptions;
use peo_runtime::host;

use crate::error::Res;
use crate::node::FfiNode;

/// A connection to a NATS JetStream mesh (docs/distributed.md).
#[derive(uniffi::Object)]
pub struct FfiJetStream(peo_jetstream::JetStream);

/// A flag that stops `serve` from another thread.
#[derive(uniffi::Object, Default)]
pub struct StopFlag(Arc<AtomicBool>);

#[uniffi::export]
impl StopFlag {
    #[uniffi::constructor]
    pub fn new() -> Arc<StopFlag> {
        Arc::new(StopFlag::default())
    }
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[uniffi::export]
impl FfiJetStream {
    /// Connects (`ack_wait_seconds`: how long a delivery may stay unacknowledged;
    /// `security_json`: TLS and credentials, null for the `NATS_*` variables;
    /// `max_deliver`: deliveries of one message of work before it is dead-lettered;
    /// `replicas`: servers of a cluster that keep each stream, when this creates them).
    #[uniffi::constructor]
    pub fn connect(
        url: String,
        ack_wait_seconds: Option<f64>,
        name: Option<String>,
        security_json: Option<String>,
        max_deliver: Option<i64>,
        replicas: Option<i64>,
    ) -> Res<Arc<FfiJetStream>> {
        let ack_wait = ack_wait_seconds.map(|s| host::seconds(s, "ack_wait")).transpose()?;
        let options =
            peo_jetstream::Options::from_face(name, ack_wait, security_json.as_deref(), max_deliver, replicas)?;
        Ok(Arc::new(FfiJetStream(peo_jetstream::JetStream::connect(&url, options)?)))
    }
    /// Serves `node` until `stop`, `idle_timeout_seconds` without work,
    /// `max_deliveries`, or the server unreachable for `give_up_after_seconds`, `window`
    /// deliveries in flight (handlers called from that many threads at once).
    pub fn serve(
        &self,
        node: Arc<FfiNode>,
        idle_timeout_seconds: Option<f64>,
        max_deliveries: Option<u64>,
        give_up_after_seconds: Option<f64>,
        stop: Option<Arc<StopFlag>>,
        window: u32,
    ) -> Res<()> {
        let options = ServeOptions {
            window: host::window(window.into())?,
            idle_timeout: idle_timeout_seconds.map(|s| host::seconds(s, "idle_timeout")).transpose()?,
            give_up_after: give_up_after_seconds.map(|s| host::seconds(s, "give_up_after")).transpose()?,
            max_deliveries,
            stop: stop.map(|s| s.0.clone()),
            ..Default::default()
        };
        // The one serve loop (peo_runtime::serve), its handlers called back on the JVM.
        Ok(peo_jetstream::serve(&node.current(), &self.0, &options)?)
    }
    /// Submits a new object; returns its id.
    pub fn submit(&self, data: Vec<u8>) -> Res<String> {
        Ok(self.0.submit(&data)?)
    }
    pub fn send_event(&self, object_id: String, event_json: String) -> Res<()> {
        Ok(self.0.send_event(&object_id, &host::event(&event_json)?)?)
    }
    /// The object as the mesh last stored it, if any.
    pub fn get(&self, object_id: String) -> Res<Option<Vec<u8>>> {
        Ok(self.0.get(&object_id)?)
    }
    /// The final bytes of those of `ids` that finished within `timeout_seconds`.
    pub fn wait_done(&self, ids: Vec<String>, timeout_seconds: f64) -> Res<HashMap<String, Vec<u8>>> {
        let timeout = host::seconds(timeout_seconds, "timeout")?;
        Ok(self.0.wait_done(&ids, timeout)?.into_iter().collect())
    }
    /// The records compactions pruned from the object, as the mesh keeps them.
    pub fn archive(&self, object_id: String) -> Res<Vec<Vec<u8>>> {
        Ok(self.0.archive(&object_id)?.iter().map(|s| s.to_bytes()).collect())
    }
    pub fn stats_json(&self) -> String {
        peo_runtime::host::json_text(&self.0.stats().to_json())
    }
}
