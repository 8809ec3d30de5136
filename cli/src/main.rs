//! `peo`: keys, objects, inspection, verification, visits and histories from the shell.
//!
//! Every command has `--help`; commands whose output a program would read take `--json`.
//! Errors are one line (`peo: ...`) and a non-zero exit status, never a backtrace.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod mesh;
mod nats;
mod sfn;

use anstream::println;
use anstyle::{AnsiColor, Style};
use clap::{Parser, Subcommand};
use peo_core::{
    Context, CreateOptions, Event, Limits, NodePolicy, Object, PublicKey, Record, SigningKey, Trust, TrustedKey,
};
use peo_runtime::{Clock, HandlerError, Invocation, ManualClock, Node, SystemClock};
use serde_json::{Value, json};
use wait_timeout::ChildExt;

#[derive(Parser)]
#[command(name = "peo", version, about = "Persistent executable objects: create, inspect, verify and visit them")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an Ed25519 signing key: KEY holds the secret seed (hex), KEY.pub the public key.
    Keygen {
        /// Where to write the key (KEY and KEY.pub).
        #[arg(short, long)]
        output: PathBuf,
        /// Print the public key as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create an object from an intent (an ASL plan with peo's extensions).
    New {
        /// The intent, a JSON file.
        intent: PathBuf,
        /// The context (labels, attributes, policies), a JSON file.
        #[arg(long)]
        context: Option<PathBuf>,
        /// The input, a JSON file (default `{}`).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Sign the genesis record with this key (from `peo keygen`).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Creation time, ms since the Unix epoch (default now).
        #[arg(long)]
        now: Option<i64>,
        /// Where to write the object.
        #[arg(short, long)]
        output: PathBuf,
        /// Print the new object's id and head as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show an object: status, intent, and its journey record by record.
    Inspect {
        object: PathBuf,
        /// The whole object as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify an object's hash chain and signatures (exit status 0 only when valid).
    Verify {
        object: PathBuf,
        /// Trusted public keys: hex, or `.pub` files from `peo keygen`, comma-separated.
        /// With them every visit must be signed by one; without, any valid signature counts.
        #[arg(long, value_delimiter = ',')]
        trust: Vec<String>,
        /// The verification report as JSON.
        #[arg(long)]
        json: bool,
        /// Where the records compactions pruned are kept: a mesh database (`peo run`'s
        /// mesh.db) or a JetStream mesh (`nats://host:port`); the whole history is
        /// restored and every checkpoint recomputed (an audit).
        #[arg(long)]
        archive: Option<PathBuf>,
    },
    /// Visit an object at one node described in TOML; handlers are commands.
    Visit {
        object: PathBuf,
        /// The node: a TOML file (id, domain, key, policy, facts, trust, [handlers]).
        #[arg(long)]
        node: PathBuf,
        /// An event for an object awaiting one: NAME or NAME=JSON (the payload).
        #[arg(long)]
        event: Option<String>,
        /// The node's clock, ms since the Unix epoch (default the system clock).
        #[arg(long)]
        now: Option<i64>,
        /// Where to write the object after the visit (children, if any, beside it).
        #[arg(short, long)]
        output: PathBuf,
        /// The visit's result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a mesh of nodes (TOML) in this process: objects travel between nodes, dormant
    /// ones are parked in SQLite (`<mesh>.db`, WAL) and woken by time or by `peo event`.
    /// Stopped at any moment, it resumes from the database when run again.
    Run {
        /// The mesh: `nodes = [...]`, `intent`, `context`, `input`, `key`, `output`, `[[events]]`.
        mesh: PathBuf,
        /// The input, a JSON file (instead of the mesh's `input`).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Where the database and the result go (default: beside the mesh file).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Queue an event for an object parked by `peo run` (delivered by the running or next run).
    Event {
        mesh: PathBuf,
        object_id: String,
        name: String,
        /// The payload, JSON.
        payload: Option<String>,
        /// Where the mesh's database is (as given to `peo run --dir`).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run a node (TOML) as a service on a NATS JetStream mesh: it takes the objects for
    /// its capabilities and sends them on (see docs/distributed.md).
    Serve {
        /// The NATS server, e.g. nats://127.0.0.1:4222 (JetStream enabled: `nats-server -js`).
        #[arg(long)]
        nats: String,
        /// The node: a TOML file, as for `peo visit`.
        #[arg(long)]
        node: PathBuf,
        /// Seconds a delivery may take before JetStream gives it to another node (applies
        /// when this node creates the consumers; default 30).
        #[arg(long)]
        ack_wait: Option<f64>,
        /// Stop after this many seconds without work (default: run until killed).
        #[arg(long)]
        idle_exit: Option<f64>,
        /// Do not print what the node does.
        #[arg(long)]
        quiet: bool,
    },
    /// Put objects (files from `peo new`) into a JetStream mesh.
    Submit {
        #[arg(long)]
        nats: String,
        objects: Vec<PathBuf>,
        /// Wait up to this many seconds for them to finish (exit status 0 only if all succeeded).
        #[arg(long)]
        wait: Option<f64>,
        /// With --wait: write each final object to DIR/<id>.peo.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Wait for objects of a JetStream mesh to finish.
    Wait {
        #[arg(long)]
        nats: String,
        ids: Vec<String>,
        /// Seconds to wait at most.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
        /// Write each final object to DIR/<id>.peo.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Send an event to an object of a JetStream mesh (kept until the object awaits it).
    Send {
        #[arg(long)]
        nats: String,
        object_id: String,
        name: String,
        /// The payload, JSON.
        payload: Option<String>,
    },
    /// Draw an object's journey as SVG: a lane per node, the records in order, dormancy
    /// as gaps, delegations as arrows.
    Trace {
        object: PathBuf,
        /// Where to write the SVG.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print an object's memory as Step Functions-style history events.
    History {
        object: PathBuf,
        /// `sfn` (Step Functions history events, JSON) or `records` (peo's records, JSON).
        #[arg(long, default_value = "sfn")]
        format: String,
    },
}

type Res<T> = Result<T, String>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let run = std::panic::catch_unwind(|| match cli.command {
        Command::Keygen { output, json } => keygen(&output, json),
        Command::New { intent, context, input, key, now, output, json } => {
            new(&intent, context.as_deref(), input.as_deref(), key.as_deref(), now, &output, json)
        }
        Command::Inspect { object, json } => inspect(&object, json),
        Command::Verify { object, trust, json, archive } => verify(&object, &trust, json, archive.as_deref()),
        Command::Visit { object, node, event, now, output, json } => {
            visit(&object, &node, event.as_deref(), now, &output, json)
        }
        Command::History { object, format } => history(&object, &format),
        Command::Trace { object, output } => trace(&object, &output),
        Command::Run { mesh, input, dir } => mesh::run(&mesh, input.as_deref(), dir.as_deref()),
        Command::Serve { nats, node, ack_wait, idle_exit, quiet } => {
            nats::serve(&nats, &node, ack_wait, idle_exit, quiet)
        }
        Command::Submit { nats, objects, wait, out, json } => nats::submit(&nats, &objects, wait, out.as_deref(), json),
        Command::Wait { nats, ids, timeout, out, json } => nats::wait(&nats, &ids, timeout, out.as_deref(), json),
        Command::Send { nats, object_id, name, payload } => nats::send(&nats, &object_id, &name, payload.as_deref()),
        Command::Event { mesh, object_id, name, payload, dir } => {
            mesh::event(&mesh, &object_id, &name, payload.as_deref(), dir.as_deref())
        }
    });
    match run {
        Ok(Ok(code)) => code,
        Ok(Err(message)) => {
            eprintln!("peo: {message}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("peo: internal error (a bug in peo; please report it)");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------
// Files

fn read(path: &Path) -> Res<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn read_json(path: &Path) -> Res<Value> {
    let text = String::from_utf8(read(path)?).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Res<()> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read_object(path: &Path) -> Res<Object> {
    Object::from_bytes(&read(path)?, &Limits::default()).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_key(path: &Path) -> Res<SigningKey> {
    let text = String::from_utf8(read(path)?).map_err(|_| format!("{} is not a key file", path.display()))?;
    let seed = hex::decode(text.trim())
        .map_err(|_| format!("{} is not a key file (64 hex digits from `peo keygen`)", path.display()))?;
    SigningKey::from_slice(&seed).map_err(|e| format!("{}: {e}", path.display()))
}

/// A node's `trust`: `"any"` (accept anything: tests and demos), a list whose entries
/// are keys trusted to sign as anyone (64 hex digits or a `.pub` file) or tables
/// binding a key to what it may sign as (`{ key, nodes, domain, subjects }`, the trust
/// store), or a file: TOML holding `trust = [...]`, or JSON in the form every binding
/// reads (`Trust::from_json`). Without `trust` a node accepts
/// nothing. Paths are relative to `dir`.
fn read_trust(value: &toml::Value, dir: &Path) -> Res<Trust> {
    let key_at = |s: &str| -> Res<PublicKey> {
        if PublicKey::from_hex(s).is_ok() {
            read_public_key(s)
        } else {
            read_public_key(&dir.join(s).to_string_lossy())
        }
    };
    let list = match value {
        toml::Value::String(s) if s == "any" => return Ok(Trust::any()),
        toml::Value::String(file) if file.ends_with(".json") => {
            let path = dir.join(file);
            let text = String::from_utf8(read(&path)?).map_err(|_| format!("{file} is not UTF-8 text"))?;
            let json: Value = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
            return Trust::from_json(&json).map_err(|e| format!("{file}: {e}"));
        }
        toml::Value::String(file) => {
            let (table, sub) = read_toml(&dir.join(file))?;
            let inner = table.get("trust").ok_or_else(|| format!("{file} has no `trust` list"))?;
            return read_trust(inner, &sub);
        }
        toml::Value::Array(list) => list,
        _ => return Err("must be \"any\", a list of keys and key tables, or a file".into()),
    };
    let mut trust = Trust::closed();
    for entry in list {
        match entry {
            toml::Value::String(s) => trust = trust.with(TrustedKey::any_identity(key_at(s)?)),
            toml::Value::Table(t) => {
                let mut json = serde_json::to_value(t).map_err(|e| e.to_string())?;
                let key = t.get("key").and_then(toml::Value::as_str).ok_or("each key table needs a `key`")?;
                json["key"] = Value::String(key_at(key)?.to_hex());
                let one = Trust::from_json(&serde_json::json!({"keys": [json]})).map_err(|e| e.to_string())?;
                trust.keys.extend(one.keys);
            }
            _ => return Err("holds keys (strings) and key tables".into()),
        }
    }
    Ok(trust)
}

/// A trusted key: 64 hex digits, or a file holding them (`KEY.pub`).
fn read_public_key(spec: &str) -> Res<PublicKey> {
    let spec = spec.trim();
    if let Ok(k) = PublicKey::from_hex(spec) {
        return Ok(k);
    }
    let text = String::from_utf8(read(Path::new(spec))?).map_err(|_| format!("{spec} is not a public key file"))?;
    PublicKey::from_hex(text.trim()).map_err(|e| format!("{spec}: {e}"))
}

fn print_json(v: &Value) -> Res<ExitCode> {
    println!("{}", serde_json::to_string_pretty(v).map_err(|e| e.to_string())?);
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------
// Commands

fn keygen(output: &Path, json: bool) -> Res<ExitCode> {
    let key = SigningKey::generate().map_err(|e| e.to_string())?;
    let public = key.public_key().to_hex();
    write(output, format!("{}\n", hex::encode(key.to_bytes())).as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(output, std::fs::Permissions::from_mode(0o600));
    }
    let public_path = PathBuf::from(format!("{}.pub", output.display()));
    write(&public_path, format!("{public}\n").as_bytes())?;
    if json {
        return print_json(&json!({"key": output, "public_key": public, "public_key_file": public_path}));
    }
    println!("wrote {} (secret) and {}: public key {public}", output.display(), public_path.display());
    Ok(ExitCode::SUCCESS)
}

fn new(
    intent: &Path,
    context: Option<&Path>,
    input: Option<&Path>,
    key: Option<&Path>,
    now: Option<i64>,
    output: &Path,
    json: bool,
) -> Res<ExitCode> {
    let limits = Limits::default();
    let intent_doc = read_json(intent)?;
    let context = match context {
        None => Context::new(),
        Some(p) => Context::from_json(&read_json(p)?, &limits).map_err(|e| format!("{}: {e}", p.display()))?,
    };
    let input = match input {
        None => json!({}),
        Some(p) => read_json(p)?,
    };
    let key = key.map(read_key).transpose()?;
    let options =
        CreateOptions { now_ms: now.unwrap_or_else(|| SystemClock.now_ms()), key: key.as_ref(), ..Default::default() };
    let object =
        Object::create(&intent_doc, context, &input, &options).map_err(|e| format!("{}: {e}", intent.display()))?;
    let bytes = object.to_bytes();
    write(output, &bytes)?;
    if json {
        return print_json(&json!({"id": object.id().to_hex(), "head": object.head().to_hex(), "bytes": bytes.len()}));
    }
    println!("created {} ({} bytes) -> {}", object.id(), bytes.len(), output.display());
    Ok(ExitCode::SUCCESS)
}

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// One line per record: what a reader of the journey wants to see.
fn record_line(r: &Record) -> String {
    let j = r.to_json();
    let node = j["node"]["id"].as_str().filter(|s| !s.is_empty()).unwrap_or("(creator)");
    let domain = j["node"]["domain"].as_str().filter(|s| !s.is_empty()).unwrap_or("-");
    let action = j["action"].as_str().unwrap_or("?");
    let state = j["state"].as_str().filter(|s| !s.is_empty()).unwrap_or("-");
    let next = j["next_state"].as_str().filter(|s| !s.is_empty()).unwrap_or("-");
    let colour = match action {
        "execute" => AnsiColor::Green,
        "delegate" => AnsiColor::Cyan,
        "dormant" | "reentry" => AnsiColor::Yellow,
        "terminate" => AnsiColor::Magenta,
        _ => AnsiColor::White,
    };
    let mut line = format!(
        "#{:<3} visit {:<2} {} {:<13} -> {:<13} at {} ({})",
        j["seq"],
        j["visit"],
        paint(Style::new().fg_color(Some(colour.into())).bold(), &format!("{action:<9}")),
        state,
        next,
        node,
        domain
    );
    let body = &j["body"];
    let detail = match action {
        "execute" => match (&body["error"], &body["output"]) {
            (Value::Object(e), _) => {
                format!("failed {} ({})", e["error"].as_str().unwrap_or(""), e["cause"].as_str().unwrap_or(""))
            }
            (_, out) => format!("{} -> {}", body["capability"].as_str().unwrap_or(""), short(out)),
        },
        "delegate" => {
            format!("{} {}", body["reason"].as_str().unwrap_or(""), body["capability"].as_str().unwrap_or(""))
        }
        "dormant" => format!(
            "{} until {}",
            body["reason"].as_str().unwrap_or(""),
            match (&body["wake_at_ms"], &body["event"]) {
                (Value::Number(t), _) => time_text(t.as_i64().unwrap_or(0)),
                (_, Value::String(e)) => format!("event `{e}`"),
                _ => "-".into(),
            }
        ),
        "reentry" => body["cause"].as_str().unwrap_or("").to_owned(),
        "mutate" => body["kind"].as_str().unwrap_or("").to_owned(),
        "terminate" => match &body["error"] {
            Value::Object(e) => format!(
                "{} {} ({})",
                body["status"].as_str().unwrap_or(""),
                e["error"].as_str().unwrap_or(""),
                e["cause"].as_str().unwrap_or("")
            ),
            _ => format!("{} {}", body["status"].as_str().unwrap_or(""), short(&body["output"])),
        },
        _ => String::new(),
    };
    if !detail.trim().is_empty() {
        line.push_str(&format!("  {detail}"));
    }
    if let Some(p) = j["policy"].as_object() {
        line.push_str(&format!("  policy {}", p["decision"].as_str().unwrap_or("?")));
        if let Some(ids) = p["policies"].as_array().filter(|a| !a.is_empty()) {
            let ids: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
            line.push_str(&format!(" by {}", ids.join(", ")));
        }
    }
    if let Some(a) = j["advice"].as_object() {
        let followed = if a["followed"] == json!(true) { "followed" } else { "overridden" };
        line.push_str(&format!("  advice {} {followed}", a["action"].as_str().unwrap_or("?")));
    }
    if j["signed"] == json!(true) {
        line.push_str("  signed");
    }
    line
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 { format!("{}...", text.chars().take(57).collect::<String>()) } else { text }
}

fn time_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn inspect(path: &Path, json: bool) -> Res<ExitCode> {
    let object = read_object(path)?;
    if json {
        return print_json(&object.to_json());
    }
    let records = object.records().map_err(|e| format!("{}: {e}", path.display()))?;
    let doc = object.to_json();
    let bold = Style::new().bold();
    println!("{} {}", paint(bold, "object"), object.id());
    println!(
        "  status {}  state {}  records {}  head {}",
        paint(bold, object.status().as_str()),
        if object.state().is_empty() { "-" } else { object.state() },
        records.len(),
        object.head()
    );
    println!(
        "  intent revision {}{}",
        doc["intent"]["revision"],
        doc["intent"]["objective"].as_str().map(|o| format!(", objective: {o}")).unwrap_or_default()
    );
    println!("  data {}", short(object.data()));
    println!("{}", paint(bold, "journey"));
    for r in &records {
        println!("  {}", record_line(r));
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(path: &Path, trust: &[String], json: bool, archive: Option<&Path>) -> Res<ExitCode> {
    let object = read_object(path)?;
    let keys = trust.iter().filter(|s| !s.trim().is_empty()).map(|s| read_public_key(s)).collect::<Res<Vec<_>>>()?;
    let trust = if keys.is_empty() { Trust::any() } else { Trust::keys(keys) };
    let report = match archive {
        None => object.verify(&trust),
        Some(at) => {
            let id = object.id().to_hex();
            let archive = match at.to_str().filter(|a| a.starts_with("nats://") || a.starts_with("tls://")) {
                Some(url) => nats::archive(url, &id)?,
                None => mesh::archive(at, &id)?,
            };
            object.audit(&archive, &trust)
        }
    };
    if json {
        print_json(&report.to_json())?;
    } else if let Some(b) = &report.broken {
        eprintln!(
            "peo: {} is NOT valid: {} error at record {}: {}",
            path.display(),
            b.kind.as_str(),
            b.record,
            b.message
        );
    } else {
        println!(
            "{} is valid: {} records, {} signatures by {} keys{}{}{}",
            path.display(),
            report.records_checked,
            report.signatures_checked,
            report.signers.len(),
            if report.unsigned_records > 0 {
                format!(", {} unsigned records", report.unsigned_records)
            } else {
                String::new()
            },
            report.checkpoint.as_ref().map(|c| format!("; {}", c.describe())).unwrap_or_default(),
            if report.checkpoints_audited > 0 {
                format!("; {} checkpoints audited", report.checkpoints_audited)
            } else {
                String::new()
            }
        );
    }
    Ok(if report.is_valid() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

// ---------------------------------------------------------------------------------------
// Nodes described in TOML, handlers as commands

/// A TOML file and the folder its relative paths are relative to.
pub(crate) fn read_toml(path: &Path) -> Res<(toml::Table, PathBuf)> {
    let text = String::from_utf8(read(path)?).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| format!("{} is not valid TOML: {}", path.display(), e.message()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((table, dir))
}

/// A node file: `id`, `domain`, optional `key` (a key file), `policy` (a Cedar file),
/// `facts` (a table), `trust` (see [`read_trust`]; none: the node accepts nothing) and `[handlers]`
/// (`"capability" = "command line"`). Paths are relative to the file.
pub(crate) fn load_node(path: &Path, clock: Arc<dyn Clock>) -> Res<Node> {
    let (table, dir) = read_toml(path)?;
    let at = |p: &str| dir.join(p);
    let field = |name: &str| -> Res<Option<&str>> {
        match table.get(name) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{}: `{name}` must be a string", path.display())),
        }
    };
    for k in table.keys() {
        if !matches!(
            k.as_str(),
            "id" | "domain"
                | "key"
                | "policy"
                | "facts"
                | "trust"
                | "handlers"
                | "handler_timeout"
                | "advisor"
                | "compaction"
        ) {
            return Err(format!(
                "{}: unknown field `{k}` (allowed: id, domain, key, policy, facts, trust, advisor, handlers, handler_timeout, compaction)",
                path.display()
            ));
        }
    }
    let id = field("id")?.ok_or_else(|| format!("{}: a node needs an `id`", path.display()))?;
    let domain = field("domain")?.ok_or_else(|| format!("{}: a node needs a `domain`", path.display()))?;
    let mut node = Node::new(id, domain).with_clock(clock);
    if let Some(k) = field("key")? {
        node = node.with_key(read_key(&at(k))?);
    }
    if let Some(p) = field("policy")? {
        let file = at(p);
        let text = String::from_utf8(read(&file)?).map_err(|_| format!("{} is not UTF-8 text", file.display()))?;
        node = node.with_policy(NodePolicy::new(&text).map_err(|e| format!("{}: {e}", file.display()))?);
    }
    if let Some(facts) = table.get("facts") {
        let facts = serde_json::to_value(facts).map_err(|e| format!("{}: facts: {e}", path.display()))?;
        let Value::Object(facts) = facts else {
            return Err(format!("{}: `facts` must be a table", path.display()));
        };
        node = node.with_facts(facts);
    }
    if let Some(trust) = table.get("trust") {
        node = node.with_trust(read_trust(trust, &dir).map_err(|e| format!("{}: trust: {e}", path.display()))?);
    }
    if let Some(c) = table.get("compaction") {
        let bad = || format!("{}: `compaction` is a table {{ after = <records>, keep = <records> }}", path.display());
        let t = c.as_table().ok_or_else(bad)?;
        if t.keys().any(|k| k != "after" && k != "keep") {
            return Err(bad());
        }
        let count = |k: &str, default: Option<i64>| -> Res<u32> {
            let n = t.get(k).map(|v| v.as_integer().ok_or_else(bad)).transpose()?.or(default).ok_or_else(bad)?;
            u32::try_from(n).map_err(|_| bad())
        };
        let c = peo_core::intent::Compaction::new(count("after", None)?, count("keep", Some(0))?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        node = node.with_compaction(Some(c));
    }
    if let Some(command) = field("advisor")? {
        let (command, dir) = (command.to_owned(), dir.clone());
        node = node.with_advisor(move |object: &Object| advise(&command, &dir, object));
    }
    let handler_timeout = match table.get("handler_timeout") {
        None => Duration::from_secs(DEFAULT_HANDLER_TIMEOUT_SECS),
        Some(v) => match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
            Some(s) if s > 0.0 && s <= 86_400.0 => Duration::from_secs_f64(s),
            _ => {
                return Err(format!("{}: `handler_timeout` is seconds, more than 0 and at most 86400", path.display()));
            }
        },
    };
    if let Some(handlers) = table.get("handlers") {
        let handlers =
            handlers.as_table().ok_or_else(|| format!("{}: `[handlers]` must be a table", path.display()))?;
        for (capability, command) in handlers {
            let command = command
                .as_str()
                .ok_or_else(|| format!("{}: handler `{capability}` must be a command line", path.display()))?;
            node = node.handler(
                capability.clone(),
                CommandHandler { command: command.to_owned(), dir: dir.clone(), timeout: handler_timeout },
            );
        }
    }
    Ok(node)
}

/// How long a shell handler may run when its state sets no `TimeoutSeconds` and its node
/// file no `handler_timeout`.
const DEFAULT_HANDLER_TIMEOUT_SECS: u64 = 300;

/// A handler that runs a command (`sh -c`, in the node file's folder): the input JSON on
/// stdin, the output JSON on stdout; a non-zero exit with `{"error", "cause"}` on stderr
/// is that named task error (other stderr text becomes the cause of `peo.HandlerFailed`).
/// The call's details are in the environment: `PEO_CAPABILITY`, `PEO_STATE`,
/// `PEO_IDEMPOTENCY_KEY`, `PEO_ATTEMPT`, `PEO_DEADLINE_MS`. A command still running at
/// the state's deadline (`TimeoutSeconds`) or after the node's `handler_timeout` is
/// killed, with everything it started, and the attempt fails with `States.Timeout`.
struct CommandHandler {
    command: String,
    dir: PathBuf,
    timeout: Duration,
}

impl peo_runtime::Handler for CommandHandler {
    fn call(&self, call: &Invocation) -> Result<Value, HandlerError> {
        let failed = |cause: String| HandlerError::new("peo.HandlerFailed", cause);
        let mut child = Process::new("sh")
            .arg("-c")
            .arg(&self.command)
            .process_group(0)
            .current_dir(&self.dir)
            .env("PEO_CAPABILITY", &call.capability)
            .env("PEO_STATE", &call.state)
            .env("PEO_IDEMPOTENCY_KEY", &call.idempotency_key)
            .env("PEO_ATTEMPT", call.attempt.to_string())
            .env("PEO_DEADLINE_MS", call.deadline_ms.map(|d| d.to_string()).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(format!("cannot run `{}`: {e}", self.command)))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(call.input.to_string().as_bytes());
        }
        let read = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let stdout = read(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let stderr = read(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let by_deadline = call.deadline_ms.map(|d| Duration::from_millis(d.saturating_sub(now_ms).max(0) as u64));
        let limit = by_deadline.map_or(self.timeout, |d| d.min(self.timeout));
        let status = match child.wait_timeout(limit).map_err(|e| failed(format!("`{}`: {e}", self.command)))? {
            Some(status) => status,
            None => {
                // The command and everything it started: its process group.
                // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                return Err(HandlerError::new(
                    "States.Timeout",
                    format!("`{}` ran longer than {:.1} s and was stopped", self.command, limit.as_secs_f64()),
                ));
            }
        };
        let out = std::process::Output {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        };
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if let Ok(v) = serde_json::from_str::<Value>(stderr.trim())
                && let Some(error) = v["error"].as_str().filter(|e| !e.is_empty())
            {
                return Err(HandlerError { error: error.to_owned(), cause: v["cause"].as_str().map(str::to_owned) });
            }
            return Err(failed(format!("`{}` exited with {}: {}", self.command, out.status, stderr.trim())));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| {
            HandlerError::new(peo_runtime::HANDLER_INVALID_OUTPUT, format!("`{}` printed no JSON: {e}", self.command))
        })
    }
}

/// An advisor command: the object's summary (`id`, `state`, `status`, `data`) on stdin; a
/// proposal (`{"action", "target", "confidence", "rationale"}`) on stdout, or nothing.
/// A failing command or bad output gives no advice.
fn advise(command: &str, dir: &Path, object: &Object) -> Option<peo_core::Proposal> {
    let summary = json!({"id": object.id().to_hex(), "state": object.state(), "status": object.status().as_str(), "data": object.data()});
    let mut child = Process::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(summary.to_string().as_bytes());
    }
    let out = child.wait_with_output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.trim().is_empty() {
        return None;
    }
    serde_json::from_str(text.trim()).ok().and_then(|v| peo_core::Proposal::from_json(&v).ok())
}

fn parse_event(spec: &str) -> Res<Event> {
    let (name, payload) = match spec.split_once('=') {
        None => (spec, Value::Null),
        Some((n, p)) => (n, serde_json::from_str(p).map_err(|e| format!("the event's payload is not JSON: {e}"))?),
    };
    if name.is_empty() {
        return Err("an event needs a name: --event NAME or NAME=JSON".into());
    }
    Ok(Event::success(name, payload))
}

fn visit(
    path: &Path,
    node_file: &Path,
    event: Option<&str>,
    now: Option<i64>,
    output: &Path,
    json: bool,
) -> Res<ExitCode> {
    let bytes = read(path)?;
    let clock: Arc<dyn Clock> = match now {
        Some(t) => Arc::new(ManualClock::new(t)),
        None => Arc::new(SystemClock),
    };
    let node = load_node(node_file, clock)?;
    let event = event.map(parse_event).transpose()?;
    let visit = node.visit(&bytes, event.as_ref()).map_err(|e| format!("{}: {e}", path.display()))?;
    write(output, &visit.bytes)?;
    let mut children = Vec::new();
    for (i, child) in visit.children.iter().enumerate() {
        let p = PathBuf::from(format!("{}.child-{i}.peo", output.display()));
        write(&p, child)?;
        children.push(p);
    }
    if json {
        return print_json(&json!({
            "disposition": visit.disposition.to_json(),
            "appended": visit.appended,
            "status": visit.object.status().as_str(),
            "output": output,
            "children": children,
        }));
    }
    let records = visit.records().map_err(|e| e.to_string())?;
    for r in &records {
        println!("  {}", record_line(r));
    }
    println!(
        "{}: {} records appended, then {} -> {}",
        node.id(),
        visit.appended,
        visit.disposition.to_json(),
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------
// Step Functions-style history

fn history(path: &Path, format: &str) -> Res<ExitCode> {
    let object = read_object(path)?;
    let records = object.records().map_err(|e| format!("{}: {e}", path.display()))?;
    match format {
        "records" => print_json(&Value::Array(records.iter().map(Record::to_json).collect())),
        "sfn" => print_json(&sfn::history(&object, &records)),
        other => Err(format!("unknown history format `{other}` (use sfn or records)")),
    }
}

// ---------------------------------------------------------------------------------------
// The journey as SVG

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One lane per node (in order of first appearance), one box per record left to right;
/// a dormant record is followed by a gap, a delegation by an arrow to the next lane.
fn journey_svg(object: &Object, records: &[Record]) -> String {
    let rows: Vec<Value> = records.iter().map(Record::to_json).collect();
    let lane_name = |r: &Value| {
        let id = r["node"]["id"].as_str().filter(|s| !s.is_empty()).unwrap_or("creator");
        let domain = r["node"]["domain"].as_str().filter(|s| !s.is_empty()).unwrap_or("-");
        format!("{id} ({domain})")
    };
    let mut lanes: Vec<String> = Vec::new();
    for r in &rows {
        let l = lane_name(r);
        if !lanes.contains(&l) {
            lanes.push(l);
        }
    }
    let (left, top, lane_h, box_w, box_h, step, gap) = (170.0, 60.0, 70.0, 118.0, 46.0, 130.0, 40.0);
    let mut x = left;
    let mut boxes = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let lane = lanes.iter().position(|l| *l == lane_name(r)).unwrap_or(0) as f64;
        boxes.push((x, top + lane * lane_h + (lane_h - box_h) / 2.0));
        x += step;
        if r["action"] == "dormant" && i + 1 < rows.len() {
            x += gap;
        }
    }
    let width = x + 40.0;
    let height = top + lanes.len() as f64 * lane_h + 40.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n\
         <text x=\"12\" y=\"24\" font-size=\"15\" font-weight=\"bold\">object {} ({}, {} records)</text>\n",
        object.id(),
        object.status().as_str(),
        rows.len()
    );
    for (i, l) in lanes.iter().enumerate() {
        let y = top + i as f64 * lane_h;
        let fill = if i % 2 == 0 { "#f4f6f8" } else { "#ffffff" };
        svg.push_str(&format!(
            "<g class=\"lane\"><rect x=\"0\" y=\"{y}\" width=\"{width}\" height=\"{lane_h}\" fill=\"{fill}\"/>\
             <text x=\"12\" y=\"{}\" font-weight=\"bold\">{}</text></g>\n",
            y + lane_h / 2.0 + 4.0,
            xml(l)
        ));
    }
    for (i, r) in rows.iter().enumerate() {
        let (bx, by) = boxes[i];
        if i > 0 {
            let (px, py) = boxes[i - 1];
            let delegated = rows[i - 1]["action"] == "delegate";
            let dashed = if rows[i - 1]["action"] == "dormant" { " stroke-dasharray=\"4 3\"" } else { "" };
            svg.push_str(&format!(
                "<line class=\"{}\" x1=\"{}\" y1=\"{}\" x2=\"{bx}\" y2=\"{}\" stroke=\"#555\" stroke-width=\"{}\"{dashed} marker-end=\"url(#arrow)\"/>\n",
                if delegated { "delegation" } else { "next" },
                px + box_w,
                py + box_h / 2.0,
                by + box_h / 2.0,
                if delegated { 2.0 } else { 1.0 }
            ));
        }
        let action = r["action"].as_str().unwrap_or("?");
        let failed = r["body"]["error"].is_object();
        let colour = match action {
            _ if failed => "#ffc9c9",
            "genesis" => "#d0d7de",
            "execute" => "#b7e4c7",
            "delegate" => "#a5d8ff",
            "dormant" => "#ffe8a3",
            "reentry" => "#ffd8a8",
            "terminate" => "#e5b3fe",
            _ => "#e9ecef",
        };
        let state = r["state"].as_str().filter(|s| !s.is_empty()).or(r["next_state"].as_str()).unwrap_or("");
        let mut title = format!("#{} {action} {state}", r["seq"]);
        if let Some(e) = r["body"]["error"].as_object() {
            title.push_str(&format!(" failed {}", e["error"].as_str().unwrap_or("")));
        }
        if let Some(a) = r["advice"].as_object() {
            let verdict = if a["followed"] == json!(true) { "followed" } else { "overridden" };
            title.push_str(&format!(" (advice {} {verdict})", a["action"].as_str().unwrap_or("")));
        }
        if let Some(p) = r["policy"].as_object() {
            title.push_str(&format!(" [policy {}]", p["decision"].as_str().unwrap_or("")));
        }
        svg.push_str(&format!(
            "<g class=\"record\" data-seq=\"{}\" data-action=\"{action}\"><title>{}</title>\
             <rect x=\"{bx}\" y=\"{by}\" width=\"{box_w}\" height=\"{box_h}\" rx=\"6\" fill=\"{colour}\" stroke=\"#333\"/>\
             <text x=\"{}\" y=\"{}\" font-weight=\"bold\">#{} {action}</text>\
             <text x=\"{}\" y=\"{}\">{}</text></g>\n",
            r["seq"],
            xml(&title),
            bx + 6.0,
            by + 18.0,
            r["seq"],
            bx + 6.0,
            by + 35.0,
            xml(&state.chars().take(18).collect::<String>())
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

fn trace(path: &Path, output: &Path) -> Res<ExitCode> {
    let object = read_object(path)?;
    let records = object.records().map_err(|e| format!("{}: {e}", path.display()))?;
    write(output, journey_svg(&object, &records).as_bytes())?;
    println!("wrote {} ({} records)", output.display(), records.len());
    Ok(ExitCode::SUCCESS)
}
