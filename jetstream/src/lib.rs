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
//! drive it from its own thread; [`serve`] runs a [`Node`](peo_runtime::Node) as a service.
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
pub use peo_runtime::serve::{
    Hop, Outcome, Poll, ServeOptions, Serving, Transport, Work, finish, hop, serve, serve_with,
};

mod client;
mod deliver;
mod follow;
#[cfg(feature = "test-util")]
mod local;
mod permissions;
pub mod relay;
mod security;
mod settle;
pub use follow::{Update, UpdateKind};
#[cfg(feature = "test-util")]
pub use local::{LocalCluster, LocalServer};
pub use permissions::{Permissions, capability_consumer, node_consumer};
pub use security::{ENV as SECURITY_ENV, Security};

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
    /// Messages fetched ahead per consumer (at least twice the deliveries a serve loop
    /// keeps in flight).
    pub batch: usize,
    /// How long JetStream remembers published message ids (duplicates within it are
    /// dropped by the server; older ones are still recognised by the bucket).
    pub duplicate_window: Duration,
    /// Limits applied to every object received.
    pub limits: Limits,
    /// How long to wait for the server when connecting.
    pub connect_timeout: Duration,
    /// Deliveries of one message of work (`peo.cap`, `peo.node`, `peo.new`) before it
    /// is dead-lettered (`peo.dead.<id>`, error `PEO_LIMIT`): a message that makes
    /// every node that takes it die, or that every node declines, ends there instead of
    /// circling forever. Declines and redeliveries after `ack_wait` both count. 0: no
    /// limit. Dormant objects' wake-ups and events are not counted (they are presented
    /// again on purpose).
    pub max_deliver: i64,
    /// A name for the connection (shown by the server's monitoring).
    pub name: Option<String>,
    /// How many servers of a JetStream cluster keep each stream and the bucket when this
    /// connection creates them (1 on a single server; 3 on a cluster survives a
    /// server's loss). Streams that exist already keep theirs.
    pub replicas: usize,
    /// TLS and credentials. `None`: the `nats` tool's environment variables
    /// ([`Security::from_env`]); `Some`: exactly these, the environment ignored.
    pub security: Option<Security>,
    /// Fault injection for tests: behave as a node that dies right after committing a
    /// version (before publishing it or acknowledging its delivery).
    #[doc(hidden)]
    pub die_after_commit: bool,
    /// Fault injection for tests: hold deliveries without progress acknowledgements, as a
    /// node cut off from its server does (JetStream presents them to another node after
    /// `ack_wait` while this one still works on them).
    #[doc(hidden)]
    pub hold_silently: bool,
}

impl Options {
    /// The options as every face takes them, checked alike: the connection's name,
    /// `ack_wait`, the security settings' JSON form ([`Security::from_json`]; `None`: the
    /// `NATS_*` variables), `max_deliver` (0: no limit) and `replicas` (1 to 5); what is
    /// not given keeps its default.
    pub fn from_face(
        name: Option<String>,
        ack_wait: Option<Duration>,
        security_json: Option<&str>,
        max_deliver: Option<i64>,
        replicas: Option<i64>,
    ) -> Result<Options> {
        let mut options =
            Options { name, security: security_json.map(Security::from_json).transpose()?, ..Options::default() };
        if let Some(d) = ack_wait {
            options.ack_wait = d;
        }
        match max_deliver {
            Some(n) if n < 0 => {
                return Err(Error::invalid_argument(format!(
                    "max_deliver must be a number of deliveries, or 0 for no limit (got {n})"
                )));
            }
            Some(n) => options.max_deliver = n,
            None => {}
        }
        match replicas {
            Some(n @ 1..=5) => options.replicas = n as usize,
            Some(n) => {
                return Err(Error::invalid_argument(format!(
                    "replicas must be from 1 to 5 (the servers of a cluster that keep each stream), not {n}"
                ))
                .in_field("replicas"));
            }
            None => {}
        }
        Ok(options)
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ack_wait: Duration::from_secs(30),
            batch: 4,
            duplicate_window: Duration::from_secs(600),
            limits: Limits::default(),
            connect_timeout: Duration::from_secs(5),
            max_deliver: 50,
            name: None,
            replicas: 1,
            security: None,
            die_after_commit: false,
            hold_silently: false,
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
    /// Events that named a task token other than the one the object waits for (forged,
    /// or the late answer to an earlier attempt), or that its `Await` state's `Signers`
    /// did not sign: dropped.
    pub ignored: AtomicU64,
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
            "ignored": g(&self.ignored),
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
    /// The deliveries a serve loop keeps in flight (`Transport::keep_in_flight`): at
    /// least twice as many messages are fetched ahead per consumer.
    in_flight: std::sync::atomic::AtomicUsize,
}

struct Conn {
    js: jetstream::Context,
    work: stream::Stream,
    done: stream::Stream,
    archive: stream::Stream,
    kv: kv::Store,
    /// The node listening and its consumers (an async lock: held while a message is
    /// awaited, so that the threads of a serve loop's window take turns).
    listener: tokio::sync::Mutex<Option<(String, Messages)>>,
    follower: Mutex<Option<follow::Follower>>,
    /// The server's recent refusals of publishes (its permissions), to say why a
    /// publish or request went unanswered.
    denied: Arc<Denied>,
}

/// The server's recent refusals (their texts, which quote the refused subject), and a
/// signal when one arrives.
#[derive(Default)]
struct Denied {
    recent: Mutex<std::collections::VecDeque<String>>,
    arrived: tokio::sync::Notify,
}

impl Denied {
    /// Keeps a refusal (the newest few: a refusal nobody waits for must not stay).
    fn push(&self, why: String) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == 32 {
            recent.pop_front();
        }
        recent.push_back(why);
        drop(recent);
        self.arrived.notify_waiters();
    }

    /// Takes the refusal of a subject starting with one of `subjects`, if one arrived.
    fn take(&self, subjects: &[&str]) -> Option<String> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let i = recent.iter().position(|why| subjects.iter().any(|s| why.contains(&format!("\"{s}"))))?;
        recent.remove(i)
    }

    /// Runs `attempt` (a publish waiting for its acknowledgement, a request waiting for
    /// its reply) unless the server refuses a publish to one of `subjects` (prefixes)
    /// first: a refused publish is never answered, so without this it would fail only
    /// when it times out.
    async fn unless_refused<T, E: std::fmt::Display>(
        &self,
        subjects: &[&str],
        what: &str,
        attempt: impl std::future::Future<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        let refused = async {
            loop {
                let arrived = self.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if let Some(why) = self.take(subjects) {
                    return why;
                }
                arrived.await;
            }
        };
        tokio::select! {
            r = attempt => r.map_err(|e| self.refused(subjects, what, e)),
            why = refused => Err(Denied::error(what, &why)),
        }
    }

    /// A `Transport` error for `what` failing with `e`, saying so when the server refused
    /// a publish to one of `subjects` for this connection's permissions.
    fn refused(&self, subjects: &[&str], what: &str, e: impl std::fmt::Display) -> Error {
        match self.take(subjects) {
            Some(why) => Denied::error(what, &why),
            None => Error::transport(format!("{what}: {e}")),
        }
    }

    fn error(what: &str, why: &str) -> Error {
        Error::transport(format!(
            "{what}: the server refused it: {why} (the permissions of this connection's user do not allow it; see docs/security.md)"
        ))
    }
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

    async fn unless_refused<T, E: std::fmt::Display>(
        &self,
        subject: &str,
        what: &str,
        attempt: impl std::future::Future<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        self.c().denied.unless_refused(&[subject], what, attempt).await
    }

    fn refused(&self, subject: &str, what: &str, e: impl std::fmt::Display) -> Error {
        self.c().denied.refused(&[subject], what, e)
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

/// A durable consumer name for a name: its subject token with `~` for each dot (a
/// consumer name holds no dot), e.g. `cap_inventory~reserve`. A name that is not plain
/// is `~` and its hex already, so no two names share a consumer.
fn durable(prefix: &str, name: &str) -> String {
    format!("{prefix}_{}", subject_token(name).replace('.', "~"))
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

/// The servers of a URL list (`nats://a:4222,nats://b:4222`, as the `nats` tool takes it).
fn servers(url: &str) -> Result<Vec<async_nats::ServerAddr>> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            u.parse::<async_nats::ServerAddr>()
                .map_err(|e| Error::invalid_argument(format!("`{u}` is not a NATS server URL: {e}")))
        })
        .collect::<Result<Vec<_>>>()
        .and_then(|v| match v.is_empty() {
            true => Err(Error::invalid_argument("no NATS server URL given (e.g. nats://127.0.0.1:4222)")),
            false => Ok(v),
        })
}

/// Looks up a stream, creating it when it is missing, unless the server refuses either
/// (a user without `$JS.API.STREAM.CREATE` where the operator has not created it yet).
async fn open_stream(
    js: &jetstream::Context,
    denied: &Denied,
    config: stream::Config,
    url: &str,
) -> Result<stream::Stream> {
    let name = config.name.clone();
    let (info, create) = (format!("$JS.API.STREAM.INFO.{name}\""), format!("$JS.API.STREAM.CREATE.{name}\""));
    let what = format!("cannot open the JetStream stream {name} at {url}");
    denied
        .unless_refused(&[&info, &create], &what, racing(|| js.get_or_create_stream(config.clone())))
        .await
        .map_err(|e| match e.message().contains("STREAM.CREATE") {
            true => Error::transport(format!(
                "{}; the stream does not exist yet: create it once with a user allowed to (an operator's first connection creates all of them)",
                e.message()
            )),
            false => e,
        })
}

/// Why a connection failed, with what to check.
fn connect_error(url: &str, security: &Security, e: async_nats::ConnectError) -> Error {
    use async_nats::ConnectErrorKind as K;
    let hint = match e.kind() {
        K::AuthorizationViolation | K::Authentication => {
            if security.creds.is_none()
                && security.nkey.is_none()
                && security.user.is_none()
                && security.token.is_none()
            {
                "the server requires credentials and this connection has none (security: user and password, token, nkey or creds; or NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_NKEY, NATS_CREDS)"
            } else {
                "the server refused this connection's credentials"
            }
        }
        _ if e.kind() == K::Tls || {
            let m = e.to_string().to_ascii_lowercase();
            m.contains("tls") || m.contains("certificate") || m.contains("handshake")
        } =>
        {
            "TLS failed: check the server's CA (security.ca, NATS_CA) and, if the server verifies clients, the client certificate (security.cert and security.key, NATS_CERT and NATS_KEY)"
        }
        _ => "is `nats-server -js` running?",
    };
    Error::transport(format!("cannot reach NATS at {url}: {e} ({hint})"))
}

impl JetStream {
    /// Connects to a NATS server with JetStream enabled, creating the streams and the
    /// bucket if they do not exist. `url` may name several servers of a cluster,
    /// comma-separated (`nats://a:4222,nats://b:4222`): the client connects to one and
    /// moves to another when it is lost (it also learns the cluster's other servers from
    /// the one it reaches).
    pub fn connect(url: &str, options: Options) -> Result<JetStream> {
        // Ring, as async-nats uses, unless the program chose a provider already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("peo-nats")
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("cannot start the NATS runtime: {e}")))?;
        let denied = Arc::new(Denied::default());
        let (js, work, done, archive, kv) = rt.block_on(async {
            let mut co = async_nats::ConnectOptions::new().connection_timeout(options.connect_timeout);
            if let Some(n) = &options.name {
                co = co.name(n);
            }
            let slot = denied.clone();
            co = co.event_callback(move |event| {
                let slot = slot.clone();
                async move {
                    if let async_nats::Event::ServerError(async_nats::ServerError::Other(e)) = event
                        && e.to_ascii_lowercase().contains("permissions violation")
                    {
                        slot.push(e);
                    }
                }
            });
            let security = options.security.clone().unwrap_or_else(Security::from_env);
            let co = security.apply(co).await?;
            let client = co.connect(servers(url)?).await.map_err(|e| connect_error(url, &security, e))?;
            let js = jetstream::new(client);
            let stream = |name: &'static str, subjects: &[&str], retention| {
                let config = stream::Config {
                    name: name.into(),
                    subjects: subjects.iter().map(|s| s.to_string()).collect(),
                    retention,
                    storage: stream::StorageType::File,
                    duplicate_window: options.duplicate_window,
                    allow_direct: true,
                    num_replicas: options.replicas,
                    ..Default::default()
                };
                let (js, denied) = (js.clone(), denied.clone());
                async move { open_stream(&js, &denied, config, url).await }
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
                // Reads go to the leader when the bucket is replicated: a follower's
                // direct answer may lag behind, and a commit must start from the newest
                // revision (a stale one fails its compare-and-set, and the delivery
                // would be taken for a lost race and dropped).
                allow_direct: options.replicas <= 1,
                num_replicas: options.replicas,
                discard: stream::DiscardPolicy::New,
                ..Default::default()
            };
            open_stream(&js, &denied, bucket, url).await?;
            let kv = js
                .get_key_value(BUCKET)
                .await
                .map_err(|e| Error::transport(format!("cannot open the bucket {BUCKET} at {url}: {e}")))?;
            Ok::<_, Error>((js, work, done, archive, kv))
        })?;
        let conn = Conn {
            js,
            work,
            done,
            archive,
            kv,
            listener: tokio::sync::Mutex::new(None),
            follower: Mutex::new(None),
            denied,
        };
        // PEO_LOG=1: the log lines go to stderr, prefixed with the connection's name
        // (for nodes in any language; `with_log` replaces it).
        let log: Option<Log> = match std::env::var("PEO_LOG").as_deref() {
            Ok("1") | Ok("true") => {
                let name = options.name.clone().unwrap_or_else(|| "peo".into());
                Some(Arc::new(move |line: &str| eprintln!("{name}: {line}")))
            }
            _ => None,
        };
        Ok(JetStream { conn: Some(conn), rt, options, stats: Stats::default(), log, in_flight: 1.into() })
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
}
