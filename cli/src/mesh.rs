//! `peo run`: an in-process mesh of nodes (described in TOML) that carries objects from
//! node to node, parks dormant ones in SQLite and wakes them by time or by event; and
//! `peo event`, which delivers an event to a parked object.
//!
//! The database (`<mesh>.db` beside the mesh file, WAL mode) holds every object the mesh
//! knows, with where it is and what it waits for, so `peo run` can be stopped at any
//! moment and run again: it resumes from the database.
//!
//! Each node serves the mesh through [`Sqlite`], the database's implementation of the
//! transport seam (`peo_runtime::Transport`), with the serve loop every face runs
//! (`peo_runtime::Serving`): the same settling rules as on JetStream, fan-outs included
//! (children are objects of the mesh like any other; a finished child is presented to its
//! waiting parent at the parent's node).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anstream::println;
use peo_core::Error;
use peo_core::{Context, CreateOptions, Disposition, Event, Limits, Object, Status};
use peo_runtime::serve::{Hop, Outcome, Poll, ServeOptions, Serving, Transport, Work, hop};
use peo_runtime::{Clock, Node, SystemClock};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use crate::{Res, load_node, read_json, read_key, record_line, write};

/// A mesh file: the nodes, the object to start, and scripted events.
struct Mesh {
    nodes: Vec<Node>,
    intent: Option<PathBuf>,
    context: Option<PathBuf>,
    input: Option<PathBuf>,
    key: Option<PathBuf>,
    output: PathBuf,
    db: PathBuf,
    /// `(after_ms, event)`: delivered that long after the object is created.
    events: Vec<(i64, Event)>,
}

fn load_mesh(path: &Path) -> Res<Mesh> {
    let (table, dir) = crate::read_toml(path)?;
    for k in table.keys() {
        if !matches!(k.as_str(), "nodes" | "intent" | "context" | "input" | "key" | "output" | "db" | "events") {
            return Err(format!(
                "{}: unknown field `{k}` (allowed: nodes, intent, context, input, key, output, db, events)",
                path.display()
            ));
        }
    }
    let file = |name: &str| -> Res<Option<PathBuf>> {
        match table.get(name) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(dir.join(s))),
            Some(_) => Err(format!("{}: `{name}` must be a path", path.display())),
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let list = table
        .get("nodes")
        .and_then(toml::Value::as_array)
        .ok_or_else(|| format!("{}: a mesh needs `nodes = [\"node.toml\", ...]`", path.display()))?;
    let mut nodes = Vec::new();
    for n in list {
        let f = n.as_str().ok_or_else(|| format!("{}: `nodes` holds node file paths", path.display()))?;
        nodes.push(load_node(&dir.join(f), clock.clone())?);
    }
    if nodes.is_empty() {
        return Err(format!("{}: the mesh has no nodes", path.display()));
    }
    let mut events = Vec::new();
    if let Some(list) = table.get("events") {
        let list = list.as_array().ok_or_else(|| format!("{}: `events` must be a list of tables", path.display()))?;
        for e in list {
            let name = e.get("name").and_then(toml::Value::as_str).ok_or_else(|| {
                format!("{}: each event needs a `name` (and optionally `payload` and `after_ms`)", path.display())
            })?;
            let payload = match e.get("payload") {
                None => Value::Null,
                Some(p) => serde_json::to_value(p).map_err(|e| e.to_string())?,
            };
            let after = e.get("after_ms").and_then(toml::Value::as_integer).unwrap_or(0);
            events.push((after, Event::success(name, payload)));
        }
    }
    let db = file("db")?.unwrap_or_else(|| path.with_extension("db"));
    Ok(Mesh {
        output: file("output")?.unwrap_or_else(|| dir.join("object.peo")),
        intent: file("intent")?,
        context: file("context")?,
        input: file("input")?,
        key: file("key")?,
        db,
        nodes,
        events,
    })
}

fn open_db(path: &Path) -> Res<Connection> {
    let db = Connection::open(path).map_err(|e| format!("cannot open the mesh database {}: {e}", path.display()))?;
    db.pragma_update(None, "journal_mode", "WAL").map_err(|e| format!("{}: {e}", path.display()))?;
    db.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS objects (
            id TEXT PRIMARY KEY,
            bytes BLOB NOT NULL,
            status TEXT NOT NULL,          -- ready | parked | done
            node TEXT,                     -- where it goes next (ready) or where it sleeps (parked)
            capability TEXT,               -- the capability it was delegated for
            wake_at_ms INTEGER,
            event TEXT,
            timeout_at_ms INTEGER,
            created_ms INTEGER NOT NULL
         );
         -- Records compactions pruned, as FlatBuffers segments keyed by the hash of
         -- their last record (docs/long-lived.md): `peo verify --archive` audits with them.
         CREATE TABLE IF NOT EXISTS archive (
            end_hash TEXT PRIMARY KEY,
            object_id TEXT NOT NULL,
            first_seq INTEGER NOT NULL,
            bytes BLOB NOT NULL
         );
         -- Fan-out children: their parent, and whether their end was presented to it.
         CREATE TABLE IF NOT EXISTS lineage (
            id TEXT PRIMARY KEY,
            parent TEXT NOT NULL,
            completed INTEGER NOT NULL DEFAULT 0
         );
         -- Objects set aside: the error that stopped them (a visit's failure).
         CREATE TABLE IF NOT EXISTS dead (
            id TEXT PRIMARY KEY,
            node TEXT NOT NULL,
            error TEXT NOT NULL
         );
         CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            object_id TEXT NOT NULL,
            name TEXT NOT NULL,
            payload TEXT NOT NULL,
            due_ms INTEGER NOT NULL
         );",
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(db)
}

/// The archive segments a mesh database keeps for object `id`.
pub(crate) fn archive(path: &Path, id: &str) -> Res<Vec<peo_core::checkpoint::Segment>> {
    let db = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("cannot open the mesh database {}: {e}", path.display()))?;
    let mut q = sql(db.prepare("SELECT bytes FROM archive WHERE object_id = ?1"))?;
    let rows = sql(q.query_map(params![id], |r| r.get::<_, Vec<u8>>(0)))?;
    let mut segments = Vec::new();
    for bytes in rows {
        let bytes = sql(bytes)?;
        segments.push(
            peo_core::checkpoint::Segment::from_bytes(&bytes)
                .map_err(|e| format!("{}: an archive segment of {id}: {e}", path.display()))?,
        );
    }
    Ok(segments)
}

fn sql<T>(r: rusqlite::Result<T>) -> Res<T> {
    r.map_err(|e| format!("the mesh database: {e}"))
}

/// The node an object goes to next: the one with the capability it needs (preferring a
/// domain the delegation names), else the first node other than `from`.
fn route<'m>(mesh: &'m Mesh, capability: Option<&str>, target: Option<&str>, from: Option<&str>) -> Res<&'m Node> {
    if let Some(cap) = capability {
        // Nodes offering it, other than the one the object leaves (it may have declined,
        // for example because a policy forbids it there), in the mesh's order.
        let offering: Vec<&Node> = mesh.nodes.iter().filter(|n| n.spec().has(cap) && Some(n.id()) != from).collect();
        if offering.is_empty() {
            return Err(format!("no other node of the mesh offers `{cap}`"));
        }
        return Ok(offering.iter().find(|n| Some(n.domain()) == target).copied().unwrap_or(offering[0]));
    }
    if let Some(t) = target
        && let Some(n) = mesh.nodes.iter().find(|n| n.domain() == t || n.id() == t)
    {
        return Ok(n);
    }
    mesh.nodes
        .iter()
        .find(|n| Some(n.id()) != from)
        .ok_or_else(|| "the object must leave its node, and the mesh has no other".to_owned())
}

pub(crate) fn run(path: &Path, input: Option<&Path>, dir: Option<&Path>) -> Res<ExitCode> {
    let mut mesh = load_mesh(path)?;
    if let Some(d) = dir {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        let name = |p: &Path| d.join(p.file_name().unwrap_or_default());
        mesh.db = name(&mesh.db);
        mesh.output = name(&mesh.output);
    }
    let db = open_db(&mesh.db)?;
    let now = || SystemClock.now_ms();
    let pending: i64 = sql(db.query_row("SELECT count(*) FROM objects WHERE status != 'done'", [], |r| r.get(0)))?;
    // The object this run reports on: the one it creates, or the newest root it resumes.
    let result_id: String = if pending == 0 {
        let intent = mesh.intent.as_ref().ok_or_else(|| format!("{}: the mesh names no `intent`", path.display()))?;
        let limits = Limits::default();
        let context = match &mesh.context {
            None => Context::new(),
            Some(p) => Context::from_json(&read_json(p)?, &limits).map_err(|e| format!("{}: {e}", p.display()))?,
        };
        let input_doc = match input.map(Path::to_path_buf).or(mesh.input.clone()) {
            None => json!({}),
            Some(p) => read_json(&p)?,
        };
        let key = mesh.key.as_deref().map(read_key).transpose()?;
        let created = now();
        let options = CreateOptions { now_ms: created, key: key.as_ref(), ..Default::default() };
        let object = Object::create(&read_json(intent)?, context, &input_doc, &options)
            .map_err(|e| format!("{}: {e}", intent.display()))?;
        let id = object.id().to_hex();
        sql(db.execute(
            "INSERT INTO objects (id, bytes, status, node, created_ms) VALUES (?1, ?2, 'ready', ?3, ?4)",
            params![id, object.to_bytes(), mesh.nodes[0].id(), created],
        ))?;
        for (after, e) in &mesh.events {
            sql(db.execute(
                "INSERT INTO events (object_id, name, payload, due_ms) VALUES (?1, ?2, ?3, ?4)",
                params![id, e.name, e.payload.to_string(), created + after],
            ))?;
        }
        println!("created {id} from {} at {}", intent.display(), mesh.nodes[0].id());
        id
    } else {
        println!("resuming {pending} object(s) from {}", mesh.db.display());
        sql(db.query_row(
            "SELECT id FROM objects WHERE status != 'done' AND id NOT IN (SELECT id FROM lineage)
             ORDER BY created_ms DESC LIMIT 1",
            [],
            |r| r.get(0),
        ))?
    };

    // Every node serves the database with the one serve loop, in turn.
    let transports: Vec<Sqlite<'_>> = mesh.nodes.iter().map(|node| Sqlite { mesh: &mesh, db: &db, node }).collect();
    let mut servings = Vec::new();
    for t in &transports {
        let caps: Vec<String> = t.node.spec().capabilities.iter().cloned().collect();
        servings.push(Serving::start(t, t.node.id(), &caps, ServeOptions::default()).map_err(|e| e.to_string())?);
    }
    loop {
        let mut worked = false;
        for (t, serving) in transports.iter().zip(&servings) {
            let Poll::Work(d) = serving.poll(t).map_err(|e| e.to_string())? else { continue };
            worked = true;
            let visit = t.node.handle(&d.work);
            if let Ok(v) = &visit {
                for r in v.records().map_err(|e| e.to_string())? {
                    println!("  {}", record_line(&r));
                }
                if let Disposition::Dormant(w) = &v.disposition
                    && v.appended > 0
                {
                    let until = match (&w.at_ms, &w.event) {
                        (Some(t), _) => format!(" until {}", crate::time_text(*t)),
                        (_, Some(e)) => format!(" until event `{e}`"),
                        _ if !v.children.is_empty() => " until its children end".to_owned(),
                        _ => String::new(),
                    };
                    println!("  parked at {}{until}", t.node.id());
                }
            }
            serving
                .finish(t, d, visit.as_ref().map(Outcome::Visit).map_err(Clone::clone))
                .map_err(|e| e.message().to_owned())?;
            let dead: Option<(String, String, String)> = sql(db
                .query_row("SELECT id, node, error FROM dead LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional())?;
            if let Some((id, node, error)) = dead {
                return Err(format!("{id} at {node}: {error}"));
            }
        }
        if worked {
            continue;
        }
        // Nothing to do now: stop when nothing is left, else sleep until the next due time.
        let left: i64 = sql(db.query_row(
            "SELECT count(*) FROM objects WHERE status != 'done'
               OR id IN (SELECT id FROM lineage WHERE completed = 0)",
            [],
            |r| r.get(0),
        ))?;
        if left == 0 {
            break;
        }
        let waiting_event: i64 =
            sql(db.query_row("SELECT count(*) FROM objects WHERE status = 'parked' AND event IS NOT NULL", [], |r| {
                r.get(0)
            }))?;
        let next_due: Option<i64> = sql(db.query_row(
            "SELECT min(t) FROM (SELECT wake_at_ms AS t FROM objects WHERE status = 'parked'
                                 UNION ALL SELECT due_ms FROM events)",
            [],
            |r| r.get(0),
        ))?;
        if next_due.is_none() && waiting_event == 0 {
            let ready: i64 =
                sql(db.query_row("SELECT count(*) FROM objects WHERE status = 'ready'", [], |r| r.get(0)))?;
            if ready == 0 {
                return Err(format!(
                    "{left} object(s) wait for nothing the mesh can give (a fan-out's children lost?): {}",
                    mesh.db.display()
                ));
            }
        }
        let wait = next_due.map_or(200, |d| d - now()).clamp(10, 200);
        std::thread::sleep(Duration::from_millis(wait as u64));
    }
    // Everything is done.
    let id = result_id;
    let bytes: Vec<u8> = sql(db.query_row("SELECT bytes FROM objects WHERE id = ?1", params![id], |r| r.get(0)))?;
    write(&mesh.output, &bytes)?;
    let object = Object::from_bytes(&bytes, &Limits::default()).map_err(|e| e.to_string())?;
    let records = object.records().map_err(|e| e.to_string())?;
    let svg = mesh.output.with_extension("svg");
    write(&svg, crate::journey_svg(&object, &records).as_bytes())?;
    println!(
        "{id}: {} after {} records -> {} (journey: {})",
        object.status().as_str(),
        object.written(),
        mesh.output.display(),
        svg.display()
    );
    Ok(if object.status() == Status::Succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One node's side of the mesh database: the SQLite implementation of the transport
/// seam.
struct Sqlite<'m> {
    mesh: &'m Mesh,
    db: &'m Connection,
    node: &'m Node,
}

/// Work taken from the database for one node.
struct Delivery {
    /// The object visited (the parent, for a completion).
    id: String,
    work: Work,
    /// The event used, removed once settled.
    event_seq: Option<i64>,
    /// The child presented, for a completion.
    child: Option<String>,
}

fn store<T>(r: rusqlite::Result<T>) -> peo_core::Result<T> {
    r.map_err(|e| Error::transport(format!("the mesh database: {e}")))
}

impl Sqlite<'_> {
    /// A row's bytes and id, when the query finds one.
    fn one(&self, query: &str, params: impl rusqlite::Params) -> peo_core::Result<Option<(String, Vec<u8>)>> {
        store(self.db.query_row(query, params, |r| Ok((r.get(0)?, r.get(1)?))).optional())
    }

    /// Where an object of the mesh goes to be visited next: `(status, node)`.
    fn place(&self, object: &Object, from: Option<&str>) -> peo_core::Result<(&'static str, String)> {
        let here = self.node.id().to_owned();
        let routed = |cap: Option<&str>, target: Option<&str>| {
            route(self.mesh, cap, target, from).map(|n| ("ready", n.id().to_owned())).map_err(Error::invalid_argument)
        };
        match hop(object) {
            Hop::Finished { .. } => Ok(("done", here)),
            Hop::Dormant { .. } => Ok(("parked", here)),
            Hop::Capability { capability, target } => routed(Some(&capability), target.as_deref()),
            Hop::Node(target) => routed(None, Some(&target)),
            Hop::Any => routed(None, None),
        }
    }
}

impl Transport for Sqlite<'_> {
    type Delivery = Delivery;

    fn listen(&self, _: &str, _: &[String]) -> peo_core::Result<()> {
        Ok(())
    }
    fn is_listening(&self) -> bool {
        true
    }

    /// Ready objects first, then finished children for parents parked here, then parked
    /// objects whose event has come or whose time has come.
    fn next(&self, _: Duration) -> peo_core::Result<Option<Delivery>> {
        let me = self.node.id();
        let visit = |id: String, object: Vec<u8>, event: Option<(i64, Event)>| Delivery {
            id,
            event_seq: event.as_ref().map(|e| e.0),
            work: Work::Visit { object, event: event.map(|e| e.1) },
            child: None,
        };
        if let Some((id, bytes)) =
            self.one("SELECT id, bytes FROM objects WHERE status = 'ready' AND node = ?1 LIMIT 1", params![me])?
        {
            return Ok(Some(visit(id, bytes, None)));
        }
        let completion: Option<(String, Vec<u8>, String, Vec<u8>)> = store(
            self.db
                .query_row(
                    "SELECT c.id, c.bytes, p.id, p.bytes FROM lineage l
                       JOIN objects c ON c.id = l.id JOIN objects p ON p.id = l.parent
                     WHERE l.completed = 0 AND c.status = 'done' AND p.status = 'parked' AND p.node = ?1
                     ORDER BY c.created_ms LIMIT 1",
                    params![me],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional(),
        )?;
        if let Some((child_id, child, id, parent)) = completion {
            return Ok(Some(Delivery {
                id,
                work: Work::Complete { parent, child },
                event_seq: None,
                child: Some(child_id),
            }));
        }
        let t = SystemClock.now_ms();
        // The events due for this node's parked objects, oldest first; the first one its
        // object waits for (by name, or for a task token by its commitment) is used.
        let mut due = store(self.db.prepare(
            "SELECT o.id, o.bytes, e.seq, e.name, e.payload, o.event FROM objects o
               JOIN events e ON e.object_id = o.id
             WHERE o.status = 'parked' AND o.node = ?1 AND o.event IS NOT NULL AND e.due_ms <= ?2 ORDER BY e.seq",
        ))?;
        type Row = ((String, Vec<u8>, i64, String, String), String);
        let rows = store(due.query_map(params![me, t], |r| -> rusqlite::Result<Row> {
            Ok(((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?), r.get(5)?))
        }))?;
        let mut event = None;
        for row in rows {
            let (e, awaited): Row = store(row)?;
            // This mesh's events are unsigned: an `Await` state naming `Signers` takes none.
            let unsigned = Event::success(e.3.clone(), Value::Null);
            if peo_core::accepts(&awaited, &e.3)
                && Object::from_bytes(&e.1, &Limits::default()).is_ok_and(|o| peo_core::vouched(&o, &unsigned))
            {
                event = Some(e);
                break;
            }
        }
        drop(due);
        if let Some((id, bytes, seq, name, payload)) = event {
            let payload: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
            println!("event `{name}` for {id}");
            return Ok(Some(visit(id, bytes, Some((seq, Event::success(name, payload))))));
        }
        let due = self.one(
            "SELECT id, bytes FROM objects WHERE status = 'parked' AND node = ?1 AND wake_at_ms <= ?2 LIMIT 1",
            params![me, t],
        )?;
        Ok(due.map(|(id, bytes)| visit(id, bytes, None)))
    }

    fn work<'d>(&self, delivery: &'d Delivery) -> &'d Work {
        &delivery.work
    }

    /// One transaction: the object's new version and where it goes, its children (new
    /// objects of the mesh), the pruned records it archived, the event or completion used.
    fn settle(
        &self,
        d: Delivery,
        bytes: &[u8],
        object: Option<&Object>,
        children: &[Vec<u8>],
        archive: &[peo_core::checkpoint::Segment],
    ) -> peo_core::Result<()> {
        let decoded;
        let object = match object {
            Some(o) => o,
            None => {
                decoded = Object::from_bytes(bytes, &Limits::default())?;
                &decoded
            }
        };
        let from = Some(self.node.id());
        let (status, node) = self.place(object, from)?;
        if status == "ready" {
            // Visits that did nothing but hand the object on: more of them in a row than
            // the mesh could need means every node that could take it declines it.
            let handed_on = object
                .memory()
                .iter()
                .rev()
                .take_while(|r| r.decode().is_ok_and(|r| r.action().as_str() == "delegate"))
                .count();
            if handed_on > 2 * self.mesh.nodes.len() {
                let cap = match hop(object) {
                    Hop::Capability { capability, .. } => format!(" for `{capability}`"),
                    _ => String::new(),
                };
                return Err(Error::invalid_argument(format!(
                    "{}: handed on {handed_on} times in a row without progress: no node of the mesh will take it{cap}",
                    d.id
                )));
            }
            let domain = self.mesh.nodes.iter().find(|n| n.id() == node).map_or("", |n| n.domain());
            println!("  -> {node} ({domain})");
        }
        let (due_at, event) = match hop(object) {
            Hop::Dormant { due_at, event } => (due_at, event),
            _ => (None, None),
        };
        let tx = store(self.db.unchecked_transaction())?;
        for segment in archive {
            store(tx.execute(
                "INSERT OR IGNORE INTO archive (end_hash, object_id, first_seq, bytes) VALUES (?1, ?2, ?3, ?4)",
                params![segment.end().to_hex(), d.id, segment.first_seq(), segment.to_bytes()],
            ))?;
        }
        let now = SystemClock.now_ms();
        for c in children {
            let child = Object::from_bytes(c, &Limits::default())?;
            let (status, node) = self.place(&child, None)?;
            let cid = child.id().to_hex();
            store(tx.execute(
                "INSERT OR IGNORE INTO objects (id, bytes, status, node, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![cid, c, status, node, now],
            ))?;
            store(tx.execute("INSERT OR IGNORE INTO lineage (id, parent) VALUES (?1, ?2)", params![cid, d.id]))?;
        }
        if !children.is_empty() {
            println!("  {} child object(s) of {} join the mesh", children.len(), d.id);
        }
        store(tx.execute(
            "UPDATE objects SET bytes = ?2, status = ?3, node = ?4, wake_at_ms = ?5, event = ?6, timeout_at_ms = NULL
             WHERE id = ?1",
            params![d.id, bytes, status, node, due_at, event],
        ))?;
        if let Some(child) = &d.child {
            store(tx.execute("UPDATE lineage SET completed = 1 WHERE id = ?1", params![child]))?;
        }
        if let Some(seq) = d.event_seq {
            store(tx.execute("DELETE FROM events WHERE seq = ?1", params![seq]))?;
        }
        store(tx.commit())
    }

    /// The node's policy refused the object: another node offering the same is tried.
    fn decline(&self, d: Delivery, reason: &Error) -> peo_core::Result<()> {
        println!("  declined by {}: {}", self.node.id(), reason.message());
        let object = Object::from_bytes(work_bytes(&d.work), &Limits::default())?;
        match self.place(&object, Some(self.node.id())) {
            Ok(("ready", node)) if d.child.is_none() => store(
                self.db.execute("UPDATE objects SET status = 'ready', node = ?2 WHERE id = ?1", params![d.id, node]),
            )
            .map(|_| ()),
            _ => self.reject(d, reason),
        }
    }

    fn reject(&self, d: Delivery, error: &Error) -> peo_core::Result<()> {
        store(self.db.execute(
            "INSERT OR REPLACE INTO dead (id, node, error) VALUES (?1, ?2, ?3)",
            params![d.id, self.node.id(), error.to_string()],
        ))
        .map(|_| ())
    }

    /// Nothing to give back: the row is unchanged until a settle commits.
    fn abandon(&self, _: Delivery) {}
}

/// The object a delivery carries (the parent, for a completion).
fn work_bytes(work: &Work) -> &[u8] {
    match work {
        Work::Visit { object, .. } => object,
        Work::Complete { parent, .. } => parent,
    }
}

/// `peo event MESH OBJECT-ID NAME [JSON]`: queues an event for a parked object; the
/// running (or next) `peo run` delivers it.
pub(crate) fn event(
    path: &Path,
    object_id: &str,
    name: &str,
    payload: Option<&str>,
    dir: Option<&Path>,
) -> Res<ExitCode> {
    let mesh = load_mesh(path)?;
    let db_path = match dir {
        Some(d) => d.join(mesh.db.file_name().unwrap_or_default()),
        None => mesh.db.clone(),
    };
    if !db_path.exists() {
        return Err(format!("{} does not exist: run the mesh first (peo run)", db_path.display()));
    }
    let db = open_db(&db_path)?;
    let payload: Value = match payload {
        None => Value::Null,
        Some(p) => serde_json::from_str(p).map_err(|e| format!("the event's payload is not JSON: {e}"))?,
    };
    let known: Option<String> =
        sql(db.query_row("SELECT status FROM objects WHERE id = ?1", params![object_id], |r| r.get(0)).optional())?;
    match known.as_deref() {
        None => return Err(format!("the mesh has no object {object_id}")),
        Some("done") => return Err(format!("object {object_id} has already finished")),
        _ => {}
    }
    sql(db.execute(
        "INSERT INTO events (object_id, name, payload, due_ms) VALUES (?1, ?2, ?3, ?4)",
        params![object_id, name, payload.to_string(), SystemClock.now_ms()],
    ))?;
    println!("queued event `{name}` for {object_id}");
    Ok(ExitCode::SUCCESS)
}
