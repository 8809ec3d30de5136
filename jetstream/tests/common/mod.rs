//! What the JetStream test files share: a node serving on a thread, clients, objects.
#![allow(dead_code)] // each test file uses some of these

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use peo_core::{Context, CreateOptions, Object};
use peo_jetstream::{JetStream, Options, ServeOptions, serve};
use peo_runtime::Node;
use serde_json::Value;

/// A node serving on a thread of its own, until `finish` or drop.
pub struct Running {
    pub js: Arc<JetStream>,
    pub stop: Arc<AtomicBool>,
    pub thread: Option<JoinHandle<()>>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Running {
    pub fn stat(&self, name: &str) -> u64 {
        self.js.stats().to_json()[name].as_u64().unwrap()
    }
    pub fn finish(mut self) -> Self {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn start(url: &str, node: Node, options: Options) -> Running {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let js =
        Arc::new(JetStream::connect(url, options).unwrap().with_log(move |s| l.lock().unwrap().push(s.to_owned())));
    let stop = Arc::new(AtomicBool::new(false));
    let (j, s) = (js.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        serve(&node, &*j, &ServeOptions { stop: Some(s), ..Default::default() }).unwrap();
    });
    Running { js, stop, thread: Some(thread), log }
}

pub fn client(url: &str) -> JetStream {
    JetStream::connect(url, Options::default()).unwrap()
}

/// Publishes raw bytes, as a misbehaving peer (or a redelivery) would.
pub fn publish(url: &str, subject: &'static str, bytes: Vec<u8>) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = raw(url).await;
        let js = async_nats::jetstream::new(client);
        js.publish(subject, bytes.into()).await.unwrap().await.unwrap();
    });
}

pub fn create(plan: &Value, input: Value) -> Vec<u8> {
    Object::create(plan, Context::new(), &input, &CreateOptions::default()).unwrap().to_bytes()
}

pub fn nodes_of(o: &Object) -> Vec<String> {
    o.records().unwrap().into_iter().map(|r| r.node.id.clone()).collect()
}

/// A raw NATS client, as a misbehaving peer would open one (with the TLS and credentials
/// of the environment, like every peo connection).
pub async fn raw(url: &str) -> async_nats::Client {
    let co = peo_jetstream::Security::from_env().apply(async_nats::ConnectOptions::new()).await.unwrap();
    co.connect(url).await.unwrap()
}
