//! Nodes beyond one machine: objects travel between nodes, in any language, through
//! NATS JetStream. JetStream only carries and keeps bytes; every decision is made by the
//! node holding the object. The protocol is described in `docs/distributed.md`.
//!
//! In short:
//! - Stream `PEO` (work-queue retention) carries objects to where they go next:
//!   `peo.cap.<capability>` (shared by the nodes offering it), `peo.node.<id>`, `peo.new`
//!   (objects and fan-out children any node may start), `peo.dormant.<object id>` (a
//!   dormant object, redelivered with a delay until it is due), `peo.join.<parent id>`
//!   (a child's final object, for its parent) and `peo.event.<object id>.<event name>`.
//! - Stream `PEO_DONE` (limits retention) keeps finished objects (`peo.done.<root id>`) and
//!   objects no node could take (`peo.dead.<object id>`).
//! - Key-value bucket `peo_objects` holds the newest version of every object. A node
//!   commits the version it produced with a compare-and-set on the revision it started
//!   from, *then* publishes it onward, *then* acknowledges the message it received. Only
//!   one successor of any version can be committed: a redelivered or duplicated message
//!   is recognised by its id and head, and dropped (or, when its successor was committed
//!   but never published, republished).
//!
//! [`JetStream`] is blocking (it owns a small tokio runtime) so that every binding can
//! drive it from its own thread; [`serve`] runs a [`Node`] as a service.
//!
//! This crate is the JetStream transport alone: `peo-runtime` (nodes, visits,
//! handlers) has no network code, so in-process users do not compile tokio or
//! async-nats. The feature `test-util` adds [`LocalServer`], a `nats-server -js` for
//! tests, examples and benchmarks.

#![warn(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, AckKind, consumer::pull, kv, stream};
use futures::StreamExt;
use futures::stream::SelectAll;
use peo_core::checkpoint::Segment;
use peo_core::{Body, DelegateReason, Error, ErrorKind, Event, Limits, Object, ObjectId, Result};
use serde_json::{Value, json};

use peo_runtime::Visit;
pub use peo_runtime::serve::{Hop, Outcome, Poll, ServeOptions, Serving, Transport, Work, finish, hop, serve};

#[cfg(feature = "test-util")]
mod local;
#[cfg(feature = "test-util")]
pub use local::LocalServer;

/// The work-queue stream.
pub const WORK_STREAM: &str = "PEO";
/// The stream of finished (and dead-lettered) objects.
pub const DONE_STREAM: &str = "PEO_DONE";
/// The stream that keeps the records compactions pruned (`peo.archive.<id>.<end hash>`),
/// for audits.
pub const ARCHIVE_STREAM: &str = "PEO_ARCHIVE";
/// The largest archive segment kept in one message (NATS' default payload limit is 1 MiB).
const MAX_SEGMENT: usize = 900 * 1024;
/// The key-value bucket of object versions.
pub const BUCKET: &str = "peo_objects";
/// The longest a dormant object's wake-up message is parked at once (ms): a due time
/// further away is checked again (by whichever node receives it) after this long.
const MAX_PARK_MS: i64 = 300_000;

/// Settings of a connection; the defaults suit most meshes.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a node may hold a message before JetStream redelivers it to another.
    pub ack_wait: Duration,
    /// Messages fetched ahead per consumer.
    pub batch: usize,
    /// How long JetStream remembers published message ids (duplicates within it are
    /// dropped by the server; older ones are still recognised by the bucket).
    pub duplicate_window: Duration,
    /// Limits applied to every object received.
    pub limits: Limits,
    /// How long to wait for the server when connecting.
    pub connect_timeout: Duration,
    /// A name for the connection (shown by the server's monitoring).
    pub name: Option<String>,
    /// Fault injection for tests: behave as a node that dies right after committing a
    /// version (before publishing it or acknowledging its delivery).
    #[doc(hidden)]
    pub die_after_commit: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ack_wait: Duration::from_secs(30),
            batch: 4,
            duplicate_window: Duration::from_secs(600),
            limits: Limits::default(),
            connect_timeout: Duration::from_secs(5),
            name: None,
            die_after_commit: false,
        }
    }
}

/// A message that needs a visit. Hand it back to [`JetStream::settle`] (with the visit's
/// result), [`JetStream::decline`], [`JetStream::reject`] or [`JetStream::abandon`]. While
/// it is held, JetStream is told the node is still working on it; a delivery dropped
/// without any of those is redelivered after `ack_wait`.
pub struct Delivery {
    /// What the node must do.
    pub work: Work,
    msg: jetstream::Message,
    id: String,
    /// The bucket revision of the version being extended; `None`: not in the bucket yet.
    revision: Option<u64>,
    head: peo_core::Hash,
    /// The number of records of the version delivered.
    count: usize,
    /// The event message to remove once used (its stream sequence), when it is not `msg`.
    event_seq: Option<u64>,
    /// The object was dormant: its dormant message (if other than `msg`) is removed.
    was_dormant: bool,
    published_ns: i128,
    delivered: i64,
    /// Tells JetStream the node is still working on the message (every third of
    /// `ack_wait`), so a long visit is not redelivered to another node meanwhile.
    progress: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(p) = self.progress.take() {
            p.abort();
        }
    }
}

impl Delivery {
    /// The object's id (for a completion, the parent's).
    pub fn object_id(&self) -> &str {
        &self.id
    }
    /// The subject the message came on.
    pub fn subject(&self) -> &str {
        self.msg.subject.as_str()
    }
    /// How many times JetStream has delivered this message (1 the first time).
    pub fn delivered(&self) -> i64 {
        self.delivered
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").field("subject", &self.subject()).field("id", &self.id).finish_non_exhaustive()
    }
}

/// What [`JetStream::settle`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The new version was committed and published to `subject`.
    Forwarded {
        /// Where it went.
        subject: String,
    },
    /// Nothing was appended (not due yet, or a completion already recorded).
    Unchanged,
    /// Another node extended the same version first: this result was dropped.
    Duplicate,
    /// A completion lost a race with another completion: it will be presented again.
    Retry,
}

/// Counters of one connection (cumulative).
#[derive(Debug, Default)]
pub struct Stats {
    /// Deliveries taken.
    pub received: AtomicU64,
    /// Visits and completions run.
    pub visits: AtomicU64,
    /// New versions committed and sent on.
    pub forwarded: AtomicU64,
    /// Objects that ended here.
    pub finished: AtomicU64,
    /// Fan-out children published.
    pub children: AtomicU64,
    /// Deliveries recognised as duplicates (stale versions, lost races, repeated completions).
    pub duplicates: AtomicU64,
    /// Versions committed by a node that died before publishing them, published again.
    pub reconciled: AtomicU64,
    /// Deliveries this node declined (its policy refused the visit): presented again
    /// later, to this or another node.
    pub declined: AtomicU64,
    /// Deliveries that could not be visited (malformed, tampered, over a limit):
    /// dead-lettered to `peo.dead.<id>`.
    pub rejected: AtomicU64,
    /// Dormant objects not due yet (redelivered later).
    pub deferred: AtomicU64,
    /// Wake-up messages of dormant objects that moved on meanwhile (an event or a child
    /// woke them first), dropped.
    pub superseded: AtomicU64,
    /// Microseconds from the previous hop's publication to this node's publication.
    hop_us: Mutex<Vec<u64>>,
}

impl Stats {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    /// The per-hop latencies recorded so far (µs), and clears them.
    pub fn take_hop_latencies(&self) -> Vec<u64> {
        std::mem::take(&mut *self.hop_us.lock().unwrap_or_else(|e| e.into_inner()))
    }
    /// The counters as a JSON object (the form every face and `peo serve` print).
    pub fn to_json(&self) -> Value {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "received": g(&self.received), "visits": g(&self.visits), "forwarded": g(&self.forwarded),
            "finished": g(&self.finished), "children": g(&self.children), "duplicates": g(&self.duplicates),
            "reconciled": g(&self.reconciled), "declined": g(&self.declined), "rejected": g(&self.rejected),
            "deferred": g(&self.deferred), "superseded": g(&self.superseded),
        })
    }
}

type Log = Arc<dyn Fn(&str) + Send + Sync>;
type Messages = SelectAll<pull::Stream>;

/// A connection to a JetStream mesh: submit objects, send events, wait for results, and
/// (after [`JetStream::listen`]) receive the objects a node must visit.
pub struct JetStream {
    /// `None` only while dropping (the client must be dropped inside the runtime).
    conn: Option<Conn>,
    rt: tokio::runtime::Runtime,
    options: Options,
    stats: Stats,
    log: Option<Log>,
}

struct Conn {
    js: jetstream::Context,
    work: stream::Stream,
    done: stream::Stream,
    archive: stream::Stream,
    kv: kv::Store,
    listener: Mutex<Option<(String, Messages)>>,
}

impl Drop for JetStream {
    fn drop(&mut self) {
        let _inside = self.rt.enter();
        self.conn = None;
    }
}

impl JetStream {
    fn c(&self) -> &Conn {
        self.conn.as_ref().expect("the connection lives until the JetStream is dropped")
    }
}

fn transport<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> Error + '_ {
    move |e| Error::transport(format!("{what}: {e}"))
}

/// Runs a get-or-create again when it fails: two processes creating the same stream or
/// consumer at once make one of them fail, and the retry then finds what the other made.
async fn racing<T, E, F, Fut>(mut attempt: F) -> std::result::Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if tries >= 4 => return Err(e),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50 * tries)).await;
            }
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

/// A name as one or more subject tokens: kept when it is plain (letters, digits, `_-:`
/// and non-empty dot-separated parts), else `~` and its hex.
pub fn subject_token(name: &str) -> String {
    let plain = !name.is_empty()
        && name.split('.').all(|t| {
            !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'='))
        });
    if plain { name.to_owned() } else { format!("~{}", name.bytes().map(|b| format!("{b:02x}")).collect::<String>()) }
}

/// A durable consumer name for a name (letters, digits, `_`, `-` only).
fn durable(prefix: &str, name: &str) -> String {
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        format!("{prefix}_{name}")
    } else {
        format!("{prefix}_x{}", name.bytes().map(|b| format!("{b:02x}")).collect::<String>())
    }
}

/// The subject an object goes to next ([`peo_runtime::serve::hop`]).
pub fn route(object: &Object) -> String {
    match hop(object) {
        Hop::Finished { parent: Some(p) } => format!("peo.join.{}", p.to_hex()),
        Hop::Finished { parent: None } => format!("peo.done.{}", object.lineage().root.to_hex()),
        Hop::Dormant { .. } => format!("peo.dormant.{}", object.id().to_hex()),
        Hop::Capability { capability, .. } => format!("peo.cap.{}", subject_token(&capability)),
        Hop::Node(t) => format!("peo.node.{}", subject_token(&t)),
        Hop::Any => "peo.new".to_owned(),
    }
}

/// What a dormant object waits for.
struct Waiting {
    due_at: Option<i64>,
    event: Option<String>,
}

fn waiting(object: &Object) -> Option<Waiting> {
    match hop(object) {
        Hop::Dormant { due_at, event } => Some(Waiting { due_at, event }),
        _ => None,
    }
}

/// How a received version relates to the newest committed one.
enum Check {
    /// It is the newest (or the bucket has none): extend it from this revision.
    Current(Option<u64>),
    /// The bucket holds its direct successor (committed, perhaps never published), at
    /// this revision.
    Successor(bytes::Bytes),
    /// Already extended further: drop it.
    Stale(String),
}

impl JetStream {
    /// Connects to a NATS server with JetStream enabled, creating the streams and the
    /// bucket if they do not exist.
    pub fn connect(url: &str, options: Options) -> Result<JetStream> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("peo-nats")
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("cannot start the NATS runtime: {e}")))?;
        let (js, work, done, archive, kv) = rt.block_on(async {
            let mut co = async_nats::ConnectOptions::new().connection_timeout(options.connect_timeout);
            if let Some(n) = &options.name {
                co = co.name(n);
            }
            let client = co.connect(url).await.map_err(|e| {
                Error::transport(format!("cannot reach NATS at {url}: {e} (is `nats-server -js` running?)"))
            })?;
            let js = jetstream::new(client);
            let stream = |name: &'static str, subjects: &[&str], retention| {
                let config = stream::Config {
                    name: name.into(),
                    subjects: subjects.iter().map(|s| s.to_string()).collect(),
                    retention,
                    storage: stream::StorageType::File,
                    duplicate_window: options.duplicate_window,
                    allow_direct: true,
                    ..Default::default()
                };
                let js = js.clone();
                async move {
                    racing(|| js.get_or_create_stream(config.clone())).await.map_err(|e| {
                        Error::transport(format!("cannot create the JetStream stream {name} at {url}: {e}"))
                    })
                }
            };
            let work = stream(
                WORK_STREAM,
                &["peo.cap.>", "peo.node.>", "peo.new", "peo.dormant.>", "peo.join.>", "peo.event.>"],
                stream::RetentionPolicy::WorkQueue,
            )
            .await?;
            let done = stream(DONE_STREAM, &["peo.done.>", "peo.dead.>"], stream::RetentionPolicy::Limits).await?;
            let archive = stream(ARCHIVE_STREAM, &["peo.archive.>"], stream::RetentionPolicy::Limits).await?;
            // The bucket's stream, created as `create_key_value` would (that call first
            // queries the account, whose answer from a 2.9 server this client cannot parse).
            let bucket = stream::Config {
                name: format!("KV_{BUCKET}"),
                description: Some("peo: the newest version of every object".into()),
                subjects: vec![format!("$KV.{BUCKET}.>")],
                max_messages_per_subject: 1,
                storage: stream::StorageType::File,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                num_replicas: 1,
                discard: stream::DiscardPolicy::New,
                ..Default::default()
            };
            racing(|| js.get_or_create_stream(bucket.clone()))
                .await
                .map_err(|e| Error::transport(format!("cannot create the bucket {BUCKET} at {url}: {e}")))?;
            let kv = js
                .get_key_value(BUCKET)
                .await
                .map_err(|e| Error::transport(format!("cannot open the bucket {BUCKET} at {url}: {e}")))?;
            Ok::<_, Error>((js, work, done, archive, kv))
        })?;
        let conn = Conn { js, work, done, archive, kv, listener: Mutex::new(None) };
        // PEO_LOG=1: the log lines go to stderr, prefixed with the connection's name
        // (for nodes in any language; `with_log` replaces it).
        let log: Option<Log> = match std::env::var("PEO_LOG").as_deref() {
            Ok("1") | Ok("true") => {
                let name = options.name.clone().unwrap_or_else(|| "peo".into());
                Some(Arc::new(move |line: &str| eprintln!("{name}: {line}")))
            }
            _ => None,
        };
        Ok(JetStream { conn: Some(conn), rt, options, stats: Stats::default(), log })
    }

    /// Calls `f` with a line for everything worth an operator's attention (duplicates,
    /// reconciliations, declines, rejections).
    pub fn with_log(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> JetStream {
        self.log = Some(Arc::new(f));
        self
    }

    fn say(&self, line: impl FnOnce() -> String) {
        if let Some(l) = &self.log {
            l(&line())
        }
    }

    /// This connection's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The options it was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Starts receiving, as node `node_id`, the objects for `capabilities`, for the node
    /// itself, new objects and children, dormant objects, events and completions.
    pub fn listen<S: AsRef<str>>(&self, node_id: &str, capabilities: &[S]) -> Result<()> {
        if node_id.is_empty() {
            return Err(Error::invalid_argument("a node needs an id to listen"));
        }
        let mut wanted: Vec<(String, String)> = capabilities
            .iter()
            .map(|c| (durable("cap", c.as_ref()), format!("peo.cap.{}", subject_token(c.as_ref()))))
            .collect();
        wanted.push((durable("node", node_id), format!("peo.node.{}", subject_token(node_id))));
        for (name, filter) in
            [("new", "peo.new"), ("dormant", "peo.dormant.>"), ("join", "peo.join.>"), ("events", "peo.event.>")]
        {
            wanted.push((name.to_owned(), filter.to_owned()));
        }
        let streams = self.rt.block_on(async {
            let mut all = futures::stream::SelectAll::new();
            for (name, filter) in wanted {
                let config = pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: filter.clone(),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: self.options.ack_wait,
                    max_deliver: -1,
                    max_ack_pending: 10_000,
                    ..Default::default()
                };
                let consumer = racing(|| self.c().work.get_or_create_consumer(&name, config.clone()))
                    .await
                    .map_err(|e| Error::transport(format!("cannot create the consumer {name} ({filter}): {e}")))?;
                let messages = consumer
                    .stream()
                    .max_messages_per_batch(self.options.batch.max(1))
                    .messages()
                    .await
                    .map_err(|e| Error::transport(format!("cannot pull from {name} ({filter}): {e}")))?;
                all.push(messages);
            }
            Ok::<_, Error>(all)
        })?;
        *self.c().listener.lock().unwrap_or_else(|e| e.into_inner()) = Some((node_id.to_owned(), streams));
        Ok(())
    }

    /// Waits up to `timeout` for an object this node must visit. Messages that need no
    /// visit (duplicates, dormant objects not due, events for objects not waiting for
    /// them yet) are handled here and not returned.
    pub fn next(&self, timeout: Duration) -> Result<Option<Delivery>> {
        let mut guard = self.c().listener.lock().unwrap_or_else(|e| e.into_inner());
        let (node, messages) =
            guard.as_mut().ok_or_else(|| Error::invalid_argument("call listen(node, capabilities) before next()"))?;
        let node = node.clone();
        self.rt.block_on(async {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let msg = match tokio::time::timeout_at(deadline, messages.next()).await {
                    // Nothing came: say whether the server is away (the client reconnects
                    // by itself; a serve loop retries and may give up after a while).
                    Err(_) => {
                        return match self.c().js.client().connection_state() {
                            async_nats::connection::State::Connected => Ok(None),
                            _ => Err(Error::transport("the NATS server is unreachable (reconnecting)")),
                        };
                    }
                    Ok(None) => return Err(Error::transport("the JetStream consumers closed")),
                    Ok(Some(Err(e))) => {
                        self.say(|| format!("pull error (retrying): {e}"));
                        continue;
                    }
                    Ok(Some(Ok(m))) => m,
                };
                Stats::bump(&self.stats.received);
                match self.classify(&node, msg).await {
                    Ok(Some(mut d)) => {
                        let (m, every) = (d.msg.clone(), self.options.ack_wait / 3);
                        d.progress = Some(tokio::spawn(async move {
                            loop {
                                tokio::time::sleep(every).await;
                                if m.ack_with(AckKind::Progress).await.is_err() {
                                    return;
                                }
                            }
                        }));
                        return Ok(Some(d));
                    }
                    Ok(None) => {}
                    Err(e) if e.kind() == ErrorKind::Transport => return Err(e),
                    // A damaged bucket entry and the like: the message is redelivered later.
                    Err(e) => self.say(|| format!("cannot use a message ({}): {e}", e.kind().code())),
                }
            }
        })
    }

    async fn ack(&self, msg: &jetstream::Message, kind: AckKind) {
        if let Err(e) = msg.ack_with(kind).await {
            self.say(|| format!("cannot acknowledge {}: {e}", msg.subject));
        }
    }

    async fn defer(&self, msg: &jetstream::Message, delay: Duration) {
        self.ack(msg, AckKind::Nak(Some(delay))).await
    }

    /// Dead-letters a message that no node can use: kept on `peo.dead.<id>` in
    /// `PEO_DONE` with the reason, and removed from the work queue.
    async fn dead(&self, msg: &jetstream::Message, id: Option<&str>, error: &Error) {
        Stats::bump(&self.stats.rejected);
        self.say(|| format!("rejected {} ({}): {error}", msg.subject, error.kind().code()));
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Peo-Error", error.kind().code());
        headers.insert("Peo-Message", error.message().replace(['\r', '\n'], " ").as_str());
        headers.insert("Peo-Subject", msg.subject.as_str());
        let subject = format!("peo.dead.{}", id.unwrap_or("unknown"));
        match self.c().js.publish_with_headers(subject, headers, msg.payload.clone()).await {
            Ok(f) => {
                if let Err(e) = f.await {
                    self.say(|| format!("cannot dead-letter {}: {e}", msg.subject));
                    return self.defer(msg, Duration::from_secs(5)).await;
                }
            }
            Err(e) => {
                self.say(|| format!("cannot dead-letter {}: {e}", msg.subject));
                return self.defer(msg, Duration::from_secs(5)).await;
            }
        }
        self.ack(msg, AckKind::Term).await
    }

    async fn entry(&self, id: &str) -> Result<Option<kv::Entry>> {
        let e = self.c().kv.entry(id).await.map_err(|e| Error::transport(format!("cannot read {BUCKET}/{id}: {e}")))?;
        Ok(e.filter(|e| e.operation == kv::Operation::Put))
    }

    /// Where `object` stands against the bucket.
    async fn check(&self, object: &Object) -> Result<Check> {
        let id = object.id().to_hex();
        let e =
            self.c().kv.entry(&id).await.map_err(|e| Error::transport(format!("cannot read {BUCKET}/{id}: {e}")))?;
        let Some(e) = e else { return Ok(Check::Current(None)) };
        if e.operation != kv::Operation::Put {
            // Deleted from the bucket: a copy of it is not new work (it ran, or was
            // withdrawn), whoever publishes it.
            return Ok(Check::Stale("its bucket entry was deleted: refusing to start it again".into()));
        }
        let newest = match Object::from_bytes(&e.value, &self.options.limits) {
            Ok(o) => o,
            // A damaged bucket entry proves nothing about the received version.
            Err(err) => return Ok(Check::Stale(format!("its bucket entry does not decode ({err})"))),
        };
        // Positions are seqs: a compaction prunes records, never renumbers them.
        let (n, k) = (object.written(), newest.written());
        if newest.head() == object.head() {
            return Ok(Check::Current(Some(e.revision)));
        }
        if k > n && newest.hash_at(n - 1) == Some(object.head()) {
            // Records n.. of the newest are one visit: it is this version's successor.
            let visits: Vec<u32> =
                newest.records_from(n).iter().filter_map(|r| r.decode().ok().map(|r| r.visit)).collect();
            if visits.len() as u32 == k - n && visits.iter().all(|v| *v == visits[0]) {
                return Ok(Check::Successor(e.value));
            }
            return Ok(Check::Stale(format!("already extended to record {k}")));
        }
        if k < n && object.hash_at(k - 1) == Some(newest.head()) {
            return Ok(Check::Current(Some(e.revision)));
        }
        Ok(Check::Stale(format!("conflicts with the committed version (record {k}, head {})", newest.head())))
    }

    /// Publishes a committed version to where it goes next (idempotent: the message id
    /// is the object id and head). Returns the subject and whether JetStream had it.
    /// The receiver reads the bucket before it extends the version: nothing in a message
    /// (which any client may publish) is taken as proof that it is the newest.
    async fn forward(&self, object: &Object, bytes: bytes::Bytes) -> Result<(String, bool)> {
        let subject = route(object);
        let id = format!("{}@{}", object.id().to_hex(), object.head());
        self.publish(&subject, &id, bytes).await.map(|dup| (subject, dup))
    }

    async fn publish(&self, subject: &str, msg_id: &str, bytes: bytes::Bytes) -> Result<bool> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let ack = self
            .c()
            .js
            .publish_with_headers(subject.to_owned(), headers, bytes)
            .await
            .map_err(transport("cannot publish"))?
            .await
            .map_err(|e| Error::transport(format!("JetStream did not store {subject}: {e}")))?;
        Ok(ack.duplicate)
    }

    async fn last_on(&self, subject: &str) -> Result<Option<jetstream::message::StreamMessage>> {
        match self.c().work.get_last_raw_message_by_subject(subject).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if matches!(e.kind(), stream::LastRawMessageErrorKind::NoMessageFound) => Ok(None),
            Err(e) => Err(Error::transport(format!("cannot read {subject}: {e}"))),
        }
    }

    async fn classify(&self, node: &str, msg: jetstream::Message) -> Result<Option<Delivery>> {
        let (delivered, published_ns) = match msg.info() {
            Ok(i) => (i.delivered, i.published.unix_timestamp_nanos()),
            Err(_) => (1, now_ns()),
        };
        let subject = msg.subject.as_str().to_owned();
        let limits = &self.options.limits;
        let base = |msg, id: String, revision, (head, count), work| Delivery {
            work,
            msg,
            id,
            revision,
            head,
            count,
            event_seq: None,
            was_dormant: false,
            published_ns,
            delivered,
            progress: None,
        };
        if let Some(rest) = subject.strip_prefix("peo.event.") {
            let id = rest.split('.').next().unwrap_or_default().to_owned();
            let event = serde_json::from_slice::<Value>(&msg.payload)
                .map_err(|e| Error::decode(format!("the event is not JSON: {e}")))
                .and_then(|v| Event::from_json(&v));
            let event = match event {
                Ok(e) => e,
                Err(e) => {
                    self.dead(&msg, Some(&id), &e).await;
                    return Ok(None);
                }
            };
            let retry = Duration::from_millis((250 * delivered.max(1) as u64).min(10_000));
            let Some(entry) = self.entry(&id).await? else {
                if delivered >= 40 {
                    let e = Error::invalid_argument(format!("no object {id} is known to the mesh"));
                    self.dead(&msg, Some(&id), &e).await;
                } else {
                    self.defer(&msg, retry).await;
                }
                return Ok(None);
            };
            let object = Object::from_bytes(&entry.value, limits)?;
            if object.status().is_terminal() {
                self.say(|| {
                    format!("event `{}` for {id} dropped: the object has {}", event.name, object.status().as_str())
                });
                self.ack(&msg, AckKind::Ack).await;
                return Ok(None);
            }
            match waiting(&object) {
                Some(w) if w.event.as_deref() == Some(event.name.as_str()) => {
                    let mut d = base(
                        msg,
                        id,
                        Some(entry.revision),
                        (object.head(), object.written() as usize),
                        Work::Visit { object: entry.value.to_vec(), event: Some(event) },
                    );
                    d.was_dormant = true;
                    Ok(Some(d))
                }
                _ => {
                    // Not waiting for it (yet): kept, and presented again later.
                    self.defer(&msg, retry).await;
                    Ok(None)
                }
            }
        } else if let Some(parent_id) = subject.strip_prefix("peo.join.") {
            let parent_id = parent_id.to_owned();
            let retry = Duration::from_millis((250 * delivered.max(1) as u64).min(10_000));
            let Some(entry) = self.entry(&parent_id).await? else {
                self.defer(&msg, retry).await;
                return Ok(None);
            };
            let parent = Object::from_bytes(&entry.value, limits)?;
            if parent.status().is_terminal() {
                Stats::bump(&self.stats.duplicates);
                self.say(|| format!("duplicate: a completion for {parent_id}, which has {}", parent.status().as_str()));
                self.ack(&msg, AckKind::Ack).await;
                return Ok(None);
            }
            if parent.status() != peo_core::Status::Dormant {
                self.defer(&msg, retry).await;
                return Ok(None);
            }
            let child = msg.payload.to_vec();
            let mut d = base(
                msg,
                parent_id,
                Some(entry.revision),
                (parent.head(), parent.written() as usize),
                Work::Complete { parent: entry.value.to_vec(), child },
            );
            d.was_dormant = true;
            Ok(Some(d))
        } else {
            let object = match Object::from_bytes(&msg.payload, limits) {
                Ok(o) => o,
                Err(e) => {
                    let id = subject.strip_prefix("peo.dormant.").map(str::to_owned);
                    self.dead(&msg, id.as_deref(), &e).await;
                    return Ok(None);
                }
            };
            let id = object.id().to_hex();
            // Always against the bucket: a redelivery, a stale copy, a replay by another
            // client (whatever its headers say) or a wake-up is recognised there.
            let check = self.check(&object).await?;
            let revision = match check {
                Check::Current(r) => r,
                Check::Stale(why) if subject.starts_with("peo.dormant.") => {
                    Stats::bump(&self.stats.superseded);
                    self.say(|| format!("superseded: the wake-up of {id} at record {}: {why}", object.written()));
                    self.ack(&msg, AckKind::Ack).await;
                    return Ok(None);
                }
                Check::Stale(why) => {
                    Stats::bump(&self.stats.duplicates);
                    self.say(|| format!("duplicate: {id} at record {} on {subject}: {why}", object.written()));
                    self.ack(&msg, AckKind::Ack).await;
                    return Ok(None);
                }
                Check::Successor(bytes) => {
                    let next = Object::from_bytes(&bytes, limits)?;
                    let (to, dup) = self.forward(&next, bytes).await?;
                    let n = object.written();
                    if subject.starts_with("peo.dormant.") {
                        // An event or a child woke it first (and published it, or is about
                        // to: the message id makes publishing it twice harmless).
                        Stats::bump(&self.stats.superseded);
                        self.say(|| format!("superseded: the wake-up of {id} at record {n}"));
                    } else if dup {
                        Stats::bump(&self.stats.duplicates);
                        self.say(|| format!("duplicate: {id} at record {n} on {subject} was already extended"));
                    } else {
                        Stats::bump(&self.stats.reconciled);
                        let m = next.written();
                        self.say(|| format!("reconciled: {id} record {m} (committed, never published) sent to {to}"));
                    }
                    self.ack(&msg, AckKind::Ack).await;
                    return Ok(None);
                }
            };
            let head = (object.head(), object.written() as usize);
            if object.status().is_terminal() {
                // Committed and finished, but its final publication may be missing.
                self.forward(&object, msg.payload.clone()).await?;
                self.ack(&msg, AckKind::Ack).await;
                return Ok(None);
            }
            if object.status() == peo_core::Status::Dormant {
                let w = waiting(&object);
                let now = now_ms();
                let due = w.as_ref().and_then(|w| w.due_at).is_some_and(|t| t <= now);
                let mut event = None;
                if !due && let Some(name) = w.as_ref().and_then(|w| w.event.clone()) {
                    let s = format!("peo.event.{id}.{}", subject_token(&name));
                    if let Some(m) = self.last_on(&s).await?
                        && let Ok(v) = serde_json::from_slice::<Value>(&m.payload)
                        && let Ok(e) = Event::from_json(&v)
                    {
                        event = Some((e, m.sequence));
                    }
                }
                if !due && event.is_none() {
                    Stats::bump(&self.stats.deferred);
                    match w.and_then(|w| w.due_at) {
                        Some(t) => {
                            let wait = Duration::from_millis((t - now).clamp(1, MAX_PARK_MS) as u64);
                            self.defer(&msg, wait).await
                        }
                        // Woken by an event or by its children: those messages drive it.
                        None => self.ack(&msg, AckKind::Ack).await,
                    }
                    return Ok(None);
                }
                let (event, seq) = event.map(|(e, s)| (Some(e), Some(s))).unwrap_or((None, None));
                let payload = msg.payload.to_vec();
                let mut d = base(msg, id, revision, head, Work::Visit { object: payload, event });
                d.event_seq = seq;
                d.was_dormant = true;
                return Ok(Some(d));
            }
            // Delegated away by this very node (its policy forbade the task here): let
            // another node offering the capability take it first.
            if delivered < 4
                && let Some(Ok(r)) = object.memory().last().map(|r| r.decode())
                && r.node.id == node
                && matches!(r.body, Body::Delegate { reason: DelegateReason::Policy, .. })
            {
                self.defer(&msg, Duration::from_millis(100 * delivered.max(1) as u64)).await;
                return Ok(None);
            }
            let payload = msg.payload.to_vec();
            Ok(Some(base(msg, id, revision, head, Work::Visit { object: payload, event: None })))
        }
    }

    /// Records a visit's result: commits the new version, publishes it (and any child
    /// objects) onward, then acknowledges the delivery.
    pub fn settle(&self, delivery: Delivery, after: &[u8], children: &[Vec<u8>]) -> Result<Settled> {
        let object = Object::from_bytes(after, &self.options.limits)?;
        self.rt.block_on(self.settle_async(delivery, &object, after, children))
    }

    /// [`JetStream::settle`] with a visit of this process (its object is already decoded).
    pub fn settle_visit(&self, delivery: Delivery, visit: &Visit) -> Result<Settled> {
        self.rt.block_on(self.settle_async(delivery, &visit.object, &visit.bytes, &visit.children))
    }

    async fn settle_async(&self, d: Delivery, object: &Object, after: &[u8], children: &[Vec<u8>]) -> Result<Settled> {
        let limits = &self.options.limits;
        if object.id().to_hex() != d.id {
            return Err(Error::invalid_argument(format!(
                "settle got object {} for a delivery of {}",
                object.id().to_hex(),
                d.id
            )));
        }
        let n = d.count;
        if (object.written() as usize) < n || n == 0 || object.hash_at(n as u32 - 1) != Some(d.head) {
            return Err(Error::invalid_argument(format!(
                "settle got a version of {} that does not extend the one delivered (head {})",
                d.id, d.head
            )));
        }
        if object.head() == d.head {
            match d.work {
                Work::Complete { .. } => {
                    Stats::bump(&self.stats.duplicates);
                    self.say(|| format!("duplicate: a completion {} already recorded", d.id));
                    self.ack(&d.msg, AckKind::Ack).await;
                }
                Work::Visit { .. } => {
                    Stats::bump(&self.stats.deferred);
                    let wait = waiting(object)
                        .and_then(|w| w.due_at)
                        .map(|t| (t - now_ms()).clamp(1, MAX_PARK_MS) as u64)
                        .unwrap_or(1_000);
                    self.defer(&d.msg, Duration::from_millis(wait)).await;
                }
            }
            return Ok(Settled::Unchanged);
        }
        let bytes = bytes::Bytes::copy_from_slice(after);
        let committed = match d.revision {
            Some(r) => self.c().kv.update(&d.id, bytes.clone(), r).await.map_err(|e| e.to_string()),
            None => self.c().kv.create(&d.id, bytes.clone()).await.map_err(|e| e.to_string()),
        };
        if let Err(why) = committed {
            // Lost the race (another node committed a successor of the same version), or
            // the server failed: tell them apart by reading the bucket again.
            let now = self.entry(&d.id).await?;
            let raced = match (d.revision, &now) {
                (Some(r), Some(e)) => e.revision != r,
                (None, Some(_)) => true,
                _ => false,
            };
            if !raced {
                return Err(Error::transport(format!("cannot commit {} to {BUCKET}: {why}", d.id)));
            }
            return Ok(match d.work {
                Work::Complete { .. } => {
                    self.ack(&d.msg, AckKind::Nak(None)).await;
                    Settled::Retry
                }
                Work::Visit { .. } => {
                    Stats::bump(&self.stats.duplicates);
                    self.say(|| {
                        format!("duplicate: {} was extended by another node first; this result is dropped", d.id)
                    });
                    self.ack(&d.msg, AckKind::Ack).await;
                    Settled::Duplicate
                }
            });
        }
        Stats::bump(&self.stats.visits);
        if self.options.die_after_commit {
            return Err(Error::transport(format!("{} committed; dying before publishing it (fault injection)", d.id)));
        }
        // Woken by an event or a child: the wake-up message of the version it woke from
        // is stale; remove it. Only that one: the last message on the subject may already
        // be a newer version's (another node's completion committed and published in
        // between), and deleting it would lose the object (its id stays in the
        // duplicate window, so nobody could publish it again).
        let woken_from = format!("{}@{}", d.id, d.head);
        if d.was_dormant
            && (d.event_seq.is_some() || !d.msg.subject.starts_with("peo.dormant."))
            && let Ok(Some(m)) = self.last_on(&format!("peo.dormant.{}", d.id)).await
            && m.headers.get("Nats-Msg-Id").map(|v| v.as_str()) == Some(woken_from.as_str())
        {
            let _ = self.c().work.delete_message(m.sequence).await;
        }
        // Children first (they are new objects), then the object itself.
        for c in children {
            let child = Object::from_bytes(c, limits)?;
            let id = format!("{}@{}", child.id().to_hex(), child.head());
            self.publish(&route(&child), &id, bytes::Bytes::copy_from_slice(c)).await?;
            Stats::bump(&self.stats.children);
        }
        let (subject, _) = self.forward(object, bytes).await?;
        self.say(|| format!("{} {} at record {} -> {subject}", d.id, object.status().as_str(), object.written()));
        if let Some(seq) = d.event_seq {
            let _ = self.c().work.delete_message(seq).await;
        }
        self.ack(&d.msg, AckKind::Ack).await;
        let hop = (now_ns() - d.published_ns).max(0) / 1_000;
        self.stats.hop_us.lock().unwrap_or_else(|e| e.into_inner()).push(hop as u64);
        if subject.starts_with("peo.done.") {
            Stats::bump(&self.stats.finished);
        } else {
            Stats::bump(&self.stats.forwarded);
        }
        Ok(Settled::Forwarded { subject })
    }

    /// The node's policy refused the object: it is presented again later (to this or
    /// another node).
    pub fn decline(&self, delivery: Delivery, reason: &Error) -> Result<()> {
        Stats::bump(&self.stats.declined);
        self.say(|| format!("declined {} ({}): {reason}", delivery.id, delivery.subject()));
        let delay = Duration::from_millis((250 * delivery.delivered.max(1) as u64).min(5_000));
        self.rt.block_on(self.defer(&delivery.msg, delay));
        Ok(())
    }

    /// The object cannot be visited (it is malformed, tampered, or over a limit): it is
    /// dead-lettered to `peo.dead.<id>` with the error and removed from the queue.
    pub fn reject(&self, delivery: Delivery, error: &Error) -> Result<()> {
        self.rt.block_on(self.dead(&delivery.msg, Some(&delivery.id), error));
        Ok(())
    }

    /// Puts a new object into the mesh (idempotent for the same version).
    pub fn submit(&self, bytes: &[u8]) -> Result<String> {
        let object = Object::from_bytes(bytes, &self.options.limits)?;
        let id = object.id().to_hex();
        self.rt.block_on(async {
            let b = bytes::Bytes::copy_from_slice(bytes);
            match self.c().kv.create(&id, b.clone()).await {
                Ok(_) => {}
                Err(e) => match self.entry(&id).await? {
                    Some(existing) if existing.value == b => {}
                    // Submitted before and already on its way (or finished): nothing to do.
                    Some(existing)
                        if Object::from_bytes(&existing.value, &self.options.limits).is_ok_and(|o| {
                            o.written() > object.written() && o.hash_at(object.written() - 1) == Some(object.head())
                        }) =>
                    {
                        return Ok(id);
                    }
                    Some(_) => {
                        return Err(Error::invalid_argument(format!(
                            "object {id} is already in the mesh at another version"
                        )));
                    }
                    None => return Err(Error::transport(format!("cannot commit {id} to {BUCKET}: {e}"))),
                },
            };
            self.forward(&object, b).await.map(|_| id)
        })
    }

    /// Sends an event to an object (kept until the object waits for it).
    pub fn send_event(&self, object_id: &str, event: &Event) -> Result<()> {
        ObjectId::from_hex(object_id)?;
        let subject = format!("peo.event.{object_id}.{}", subject_token(&event.name));
        let body = bytes::Bytes::from(event.to_json().to_string());
        self.rt.block_on(async {
            self.c()
                .js
                .publish(subject.clone(), body)
                .await
                .map_err(transport("cannot publish"))?
                .await
                .map_err(|e| Error::transport(format!("JetStream did not store {subject}: {e}")))?;
            Ok(())
        })
    }

    /// The newest committed version of an object, if the mesh knows it.
    pub fn get(&self, object_id: &str) -> Result<Option<Vec<u8>>> {
        self.rt.block_on(async { Ok(self.entry(object_id).await?.map(|e| e.value.to_vec())) })
    }

    /// Waits until every object in `ids` has finished (a message on `peo.done.<id>`) or
    /// `timeout` passes; returns the finished ones' final bytes by id.
    pub fn wait_done(&self, ids: &[String], timeout: Duration) -> Result<std::collections::BTreeMap<String, Vec<u8>>> {
        let wanted: std::collections::BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        self.rt.block_on(async {
            let mut found = std::collections::BTreeMap::new();
            // Listen for new finishes first, then look up the ones already finished (so
            // none slips between the two), without reading the whole stream.
            let consumer = self
                .c()
                .done
                .create_consumer(pull::OrderedConfig {
                    filter_subject: "peo.done.>".into(),
                    deliver_policy: jetstream::consumer::DeliverPolicy::New,
                    ..Default::default()
                })
                .await
                .map_err(transport("cannot read PEO_DONE"))?;
            let mut messages = consumer.messages().await.map_err(transport("cannot read PEO_DONE"))?;
            for id in &wanted {
                match self.c().done.get_last_raw_message_by_subject(&format!("peo.done.{id}")).await {
                    Ok(m) => {
                        found.insert((*id).to_owned(), self.finished(id, &m.payload)?);
                    }
                    Err(e) if matches!(e.kind(), stream::LastRawMessageErrorKind::NoMessageFound) => {}
                    Err(e) => return Err(Error::transport(format!("cannot read PEO_DONE: {e}"))),
                }
            }
            let deadline = tokio::time::Instant::now() + timeout;
            while found.len() < wanted.len() {
                match tokio::time::timeout_at(deadline, messages.next()).await {
                    Err(_) | Ok(None) => break,
                    Ok(Some(Err(e))) => return Err(Error::transport(format!("reading PEO_DONE: {e}"))),
                    Ok(Some(Ok(m))) => {
                        if let Some(id) = m.subject.as_str().strip_prefix("peo.done.")
                            && wanted.contains(id)
                        {
                            found.insert(id.to_owned(), self.finished(id, &m.payload)?);
                        }
                    }
                }
            }
            Ok(found)
        })
    }

    /// What `peo.done.<id>` holds, checked: any client may publish there, so it must be
    /// object `id`, ended, with an intact chain and valid signatures where present
    /// (verify it under your trust store for who signed it).
    fn finished(&self, id: &str, payload: &[u8]) -> Result<Vec<u8>> {
        let refuse = |why: String| Error::integrity(format!("peo.done.{id} holds no final version of {id}: {why}"));
        let object = Object::from_bytes(payload, &self.options.limits).map_err(|e| refuse(e.to_string()))?;
        if object.id().to_hex() != id {
            return Err(refuse(format!("it holds object {}", object.id().to_hex())));
        }
        if !object.status().is_terminal() {
            return Err(refuse(format!("the object there is {}", object.status().as_str())));
        }
        object.verify(&peo_core::Trust::any()).into_result().map_err(|e| refuse(e.to_string()))?;
        Ok(payload.to_vec())
    }

    /// How many messages are waiting in the work queue and how many objects finished.
    pub fn backlog(&self) -> Result<(u64, u64)> {
        self.rt.block_on(async {
            let w = self.c().work.get_info().await.map_err(transport("cannot read PEO"))?;
            let d = self.c().done.get_info().await.map_err(transport("cannot read PEO_DONE"))?;
            Ok((w.state.messages, d.state.messages))
        })
    }
}

impl JetStream {
    /// Whether [`JetStream::listen`] was called.
    pub fn is_listening(&self) -> bool {
        self.c().listener.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Gives a delivery back at once (the host could not visit it: it is shutting down,
    /// a handler was interrupted); JetStream presents it again.
    pub fn abandon(&self, delivery: Delivery) {
        self.rt.block_on(self.ack(&delivery.msg, AckKind::Nak(None)))
    }
}

impl JetStream {
    /// Keeps one archive segment of object `id` (once, whatever the redeliveries).
    async fn keep(&self, id: &str, segment: &Segment) -> Result<()> {
        let bytes = segment.to_bytes();
        let end = segment.end().to_hex();
        if bytes.len() > MAX_SEGMENT {
            self.say(|| {
                format!("{id}: an archive segment of {} bytes is too large to keep; not archived", bytes.len())
            });
            return Ok(());
        }
        self.publish(&format!("peo.archive.{id}.{end}"), &format!("archive:{id}:{end}"), bytes.into()).await.map(|_| ())
    }

    /// The records compactions pruned from object `object_id`, as the nodes that
    /// compacted it kept them: audit the object with them (`Object::audit`).
    pub fn archive(&self, object_id: &str) -> Result<Vec<Segment>> {
        let subject = format!("peo.archive.{}.>", subject_token(object_id));
        self.rt.block_on(async {
            let mut consumer = self
                .c()
                .archive
                .create_consumer(pull::OrderedConfig {
                    filter_subject: subject,
                    deliver_policy: jetstream::consumer::DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .map_err(transport("cannot read PEO_ARCHIVE"))?;
            let pending = consumer.info().await.map_err(transport("cannot read PEO_ARCHIVE"))?.num_pending;
            let mut messages = consumer.messages().await.map_err(transport("cannot read PEO_ARCHIVE"))?;
            let mut segments = Vec::new();
            while (segments.len() as u64) < pending {
                let m = match tokio::time::timeout(Duration::from_secs(5), messages.next()).await {
                    Ok(Some(Ok(m))) => m,
                    Ok(Some(Err(e))) => return Err(Error::transport(format!("reading PEO_ARCHIVE: {e}"))),
                    _ => return Err(Error::transport("reading PEO_ARCHIVE: the server stopped answering")),
                };
                segments.push(Segment::from_bytes(&m.payload)?);
            }
            Ok(segments)
        })
    }
}

impl Transport for JetStream {
    type Delivery = Delivery;
    fn listen(&self, node_id: &str, capabilities: &[String]) -> Result<()> {
        JetStream::listen(self, node_id, capabilities)
    }
    fn is_listening(&self) -> bool {
        JetStream::is_listening(self)
    }
    fn next(&self, timeout: Duration) -> Result<Option<Delivery>> {
        JetStream::next(self, timeout)
    }
    fn work<'d>(&self, delivery: &'d Delivery) -> &'d Work {
        &delivery.work
    }
    /// The pruned records first (kept before the version that pruned them is committed,
    /// so a crash in between loses nothing; a redelivery stores them once), then the
    /// commit ([`JetStream::settle`]).
    fn settle(
        &self,
        delivery: Delivery,
        bytes: &[u8],
        object: Option<&Object>,
        children: &[Vec<u8>],
        archive: &[Segment],
    ) -> Result<()> {
        for segment in archive {
            self.rt.block_on(self.keep(&delivery.id, segment))?;
        }
        let decoded;
        let object = match object {
            Some(o) => o,
            None => {
                decoded = Object::from_bytes(bytes, &self.options.limits)?;
                &decoded
            }
        };
        self.rt.block_on(self.settle_async(delivery, object, bytes, children)).map(|_| ())
    }
    fn decline(&self, delivery: Delivery, reason: &Error) -> Result<()> {
        JetStream::decline(self, delivery, reason)
    }
    fn reject(&self, delivery: Delivery, error: &Error) -> Result<()> {
        JetStream::reject(self, delivery, error)
    }
    fn abandon(&self, delivery: Delivery) {
        JetStream::abandon(self, delivery)
    }
    fn say(&self, line: &str) {
        JetStream::say(self, || line.to_owned())
    }
}
