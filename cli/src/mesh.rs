//! `peo run`: an in-process mesh of nodes (described in TOML) that carries objects from
//! node to node, parks dormant ones in SQLite and wakes them by time or by event; and
//! `peo event`, which delivers an event to a parked object.
//!
//! The database (`<mesh>.db` beside the mesh file, WAL mode) holds every object the mesh
//! knows, with where it is and what it waits for, so `peo run` can be stopped at any
//! moment and run again: it resumes from the database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anstream::println;
use peo_core::{Context, CreateOptions, Disposition, Event, Limits, Object, Status};
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

/// An object parked in the database: where it sleeps and what wakes it.
struct Parked {
    id: String,
    bytes: Vec<u8>,
    node: Option<String>,
    wake_at: Option<i64>,
    event: Option<String>,
    timeout_at: Option<i64>,
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
    // The object this run reports on: the one it creates, or the newest it resumes.
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
        sql(db.query_row("SELECT id FROM objects WHERE status != 'done' ORDER BY created_ms DESC LIMIT 1", [], |r| {
            r.get(0)
        }))?
    };

    loop {
        // Ready objects first.
        let ready: Option<(String, Vec<u8>, Option<String>)> = sql(db
            .query_row("SELECT id, bytes, node FROM objects WHERE status = 'ready' LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional())?;
        if let Some((id, bytes, node)) = ready {
            let node = mesh.nodes.iter().find(|n| Some(n.id()) == node.as_deref()).unwrap_or(&mesh.nodes[0]);
            step(&mesh, &db, &id, &bytes, node, None)?;
            continue;
        }
        // Parked objects whose time has come or whose event has arrived.
        let t = now();
        let parked: Vec<Parked> = {
            let mut stmt = sql(db.prepare(
                "SELECT id, bytes, node, wake_at_ms, event, timeout_at_ms FROM objects WHERE status = 'parked'",
            ))?;
            let rows = sql(stmt.query_map([], |r| {
                Ok(Parked {
                    id: r.get(0)?,
                    bytes: r.get(1)?,
                    node: r.get(2)?,
                    wake_at: r.get(3)?,
                    event: r.get(4)?,
                    timeout_at: r.get(5)?,
                })
            }))?;
            sql(rows.collect::<rusqlite::Result<Vec<_>>>())?
        };
        if parked.is_empty() {
            break;
        }
        let mut woke = false;
        let mut next_due = i64::MAX;
        for Parked { id, bytes, node, wake_at, event, timeout_at } in &parked {
            let node = mesh.nodes.iter().find(|n| Some(n.id()) == node.as_deref()).unwrap_or(&mesh.nodes[0]);
            let delivered: Option<(i64, String, String)> = match event {
                None => None,
                Some(name) => sql(db
                    .query_row(
                        "SELECT seq, name, payload FROM events WHERE object_id = ?1 AND name = ?2 AND due_ms <= ?3
                         ORDER BY seq LIMIT 1",
                        params![id, name, t],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional())?,
            };
            if let Some((seq, name, payload)) = delivered {
                let payload: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
                println!("event `{name}` for {id}");
                step(&mesh, &db, id, bytes, node, Some(&Event::success(name, payload)))?;
                sql(db.execute("DELETE FROM events WHERE seq = ?1", params![seq]))?;
                woke = true;
                continue;
            }
            let due = [*wake_at, *timeout_at].into_iter().flatten().min();
            match due {
                Some(d) if d <= t => {
                    step(&mesh, &db, id, bytes, node, None)?;
                    woke = true;
                }
                Some(d) => next_due = next_due.min(d),
                None => {}
            }
            if event.is_some() {
                // Poll for events (scripted ones have a due time; `peo event` adds others).
                let due_event: Option<i64> = sql(db
                    .query_row("SELECT min(due_ms) FROM events WHERE object_id = ?1", params![id], |r| r.get(0))
                    .optional())?
                .flatten();
                next_due = next_due.min(due_event.unwrap_or(t + 200));
            }
        }
        if !woke {
            let wait = (next_due - now()).clamp(10, 200);
            std::thread::sleep(Duration::from_millis(wait as u64));
        }
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

/// One visit of object `id` at `node`, and where the object goes after it.
fn step(mesh: &Mesh, db: &Connection, id: &str, bytes: &[u8], node: &Node, event: Option<&Event>) -> Res<()> {
    let mut visit = node.visit(bytes, event).map_err(|e| format!("{id} at {}: {e}", node.id()))?;
    for segment in visit.object.take_archive() {
        sql(db.execute(
            "INSERT OR IGNORE INTO archive (end_hash, object_id, first_seq, bytes) VALUES (?1, ?2, ?3, ?4)",
            params![segment.end().to_hex(), id, segment.first_seq(), segment.to_bytes()],
        ))?;
    }
    for r in visit.records().map_err(|e| e.to_string())? {
        println!("  {}", record_line(&r));
    }
    if !visit.children.is_empty() {
        return Err(format!("{id}: fan-out (Parallel, Map) is not supported by `peo run` yet"));
    }
    match &visit.disposition {
        Disposition::Delegate { capability, target, .. } => {
            // Visits that did nothing but hand the object on: more of them in a row than
            // the mesh could need means every node that could take it declines it.
            let memory = visit.object.memory();
            let handed_on =
                memory.iter().rev().take_while(|r| r.decode().is_ok_and(|r| r.action().as_str() == "delegate")).count();
            if handed_on > 2 * mesh.nodes.len() {
                return Err(format!(
                    "{id}: handed on {handed_on} times in a row without progress: no node of the mesh will take it{}",
                    capability.as_deref().map(|c| format!(" for `{c}`")).unwrap_or_default()
                ));
            }
            let next = route(mesh, capability.as_deref(), target.as_deref(), Some(node.id()))?;
            println!("  -> {} ({})", next.id(), next.domain());
            sql(db.execute(
                "UPDATE objects SET bytes = ?2, status = 'ready', node = ?3, capability = ?4 WHERE id = ?1",
                params![id, visit.bytes, next.id(), capability],
            ))?;
        }
        Disposition::Dormant(w) => {
            if visit.appended > 0 {
                let until = match (&w.at_ms, &w.event) {
                    (Some(t), _) => format!("until {}", crate::time_text(*t)),
                    (_, Some(e)) => format!("until event `{e}`"),
                    _ => String::new(),
                };
                println!("  parked at {} {until}", node.id());
            }
            sql(db.execute(
                "UPDATE objects SET bytes = ?2, status = 'parked', node = ?3, wake_at_ms = ?4, event = ?5, timeout_at_ms = ?6
                 WHERE id = ?1",
                params![id, visit.bytes, node.id(), w.at_ms, w.event, w.timeout_at_ms],
            ))?;
        }
        Disposition::Terminated { .. } => {
            sql(db.execute(
                "UPDATE objects SET bytes = ?2, status = 'done', node = ?3 WHERE id = ?1",
                params![id, visit.bytes, node.id()],
            ))?;
        }
    }
    Ok(())
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
