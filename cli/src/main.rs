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
mod node_toml;
mod relay;
mod sfn;
mod svg;

use node_toml::*;
use svg::*;

use anstream::println;
use anstyle::{AnsiColor, Style};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use peo_core::{
    Context, CreateOptions, Event, Limits, NodePolicy, Object, PublicKey, Record, SigningKey, Trust, TrustedKey,
};
use peo_runtime::{Clock, HandlerError, Invocation, ManualClock, Node, SystemClock};
use serde_json::{Value, json};
use wait_timeout::ChildExt;

#[derive(Parser)]
#[command(name = "peo", about = "Persistent executable objects: create, inspect, verify and visit them")]
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
    /// Prove that pruned record SEQ belongs to an object's history, from the archive (the
    /// proof is printed as JSON); or, with `--check`, check such a proof against the object
    /// alone, offline (exit status 0 only when it holds).
    Prove {
        object: PathBuf,
        /// The pruned record's seq.
        #[arg(long, required_unless_present = "check")]
        seq: Option<u32>,
        /// Where the pruned records are kept, as for `verify --archive`.
        #[arg(long, required_unless_present = "check", conflicts_with = "check")]
        archive: Option<PathBuf>,
        /// A proof to check (a JSON file, as `peo prove` prints it).
        #[arg(long)]
        check: Option<PathBuf>,
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
        #[command(flatten)]
        nats: nats::Mesh,
        /// The node: a TOML file, as for `peo visit`.
        #[arg(long)]
        node: PathBuf,
        /// Seconds a delivery may take before JetStream gives it to another node (applies
        /// when this node creates the consumers; default 30).
        #[arg(long)]
        ack_wait: Option<f64>,
        /// Deliveries of one message of work, never settled (its takers died or declined
        /// it), before it is dead-lettered to `peo.dead.<id>` (default 50; 0: no limit).
        #[arg(long)]
        max_deliver: Option<i64>,
        /// Stop after this many seconds without work (default: run until killed).
        #[arg(long)]
        idle_exit: Option<f64>,
        /// Deliveries in flight at once: visits run concurrently, each committed and sent
        /// on by itself (default: 8 per CPU core, at most 64; 1: one at a time).
        #[arg(long)]
        window: Option<usize>,
        /// Do not print what the node does.
        #[arg(long)]
        quiet: bool,
    },
    /// Report objects that carry a Step Functions task token back to the workflow waiting
    /// for them: SendTaskHeartbeat while they move, SendTaskSuccess or SendTaskFailure
    /// when they finish (docs/step-functions.md). AWS settings come from the AWS SDK's
    /// chain (AWS_REGION, credentials, AWS_ENDPOINT_URL).
    Relay {
        #[command(flatten)]
        nats: nats::Mesh,
        /// The relay's name: relays of one name share the work and resume where it stopped.
        #[arg(long, default_value = "peo-sfn-relay")]
        name: String,
        /// At most one heartbeat per task this often, in seconds.
        #[arg(long, default_value_t = 1.0)]
        heartbeat_every: f64,
        /// Stop after this many seconds without an update (default: run until killed).
        #[arg(long)]
        idle_exit: Option<f64>,
        /// Report only finishes that verify under this trust: public keys (hex, or `.pub`
        /// files from `peo keygen`, comma-separated) or one trust file (`.toml` holding
        /// `trust = [...]`, or `.json`). Without it a finish signed by any key is reported.
        #[arg(long, value_delimiter = ',')]
        trust: Vec<String>,
        /// Do not print what the relay sends.
        #[arg(long)]
        quiet: bool,
    },
    /// Put objects (files from `peo new`) into a JetStream mesh.
    Submit {
        #[command(flatten)]
        nats: nats::Mesh,
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
        #[command(flatten)]
        nats: nats::Mesh,
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
        #[command(flatten)]
        nats: nats::Mesh,
        object_id: String,
        name: String,
        /// The payload, JSON.
        payload: Option<String>,
        /// Sign the event with this key (from `peo keygen`), for an `Await` state whose
        /// `Signers` name it.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Print the NATS permissions one participant of a JetStream mesh needs, as a block
    /// for nats-server's configuration (`permissions: ...`; see docs/security.md).
    Permissions {
        /// `node` (serves capabilities), `client` (submits objects, waits for them, reads
        /// them back) or `events` (sends events).
        role: String,
        /// For `node`: the node's TOML file, for its id and capabilities.
        #[arg(long)]
        node: Option<PathBuf>,
        /// For `node` without --node: its id.
        #[arg(long)]
        id: Option<String>,
        /// For `node` without --node: a capability it serves (repeat for each).
        #[arg(long = "capability")]
        capabilities: Vec<String>,
        /// For `events`: the object it may send events to (an id; default any object).
        #[arg(long, default_value = "*")]
        objects: String,
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

/// `peo --version`: the library's version and the wire format version it writes.
static VERSION: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{} (wire format {})", env!("CARGO_PKG_VERSION"), peo_core::FORMAT_VERSION));

fn main() -> ExitCode {
    let parsed = Cli::command().version(VERSION.as_str()).try_get_matches().and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
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
        Command::Prove { object, seq, archive, check } => prove(&object, seq, archive.as_deref(), check.as_deref()),
        Command::Visit { object, node, event, now, output, json } => {
            visit(&object, &node, event.as_deref(), now, &output, json)
        }
        Command::History { object, format } => history(&object, &format),
        Command::Trace { object, output } => trace(&object, &output),
        Command::Run { mesh, input, dir } => mesh::run(&mesh, input.as_deref(), dir.as_deref()),
        Command::Serve { nats, node, ack_wait, max_deliver, idle_exit, window, quiet } => {
            nats::serve(&nats, &node, ack_wait, max_deliver, idle_exit, window, quiet)
        }
        Command::Relay { nats, name, heartbeat_every, idle_exit, trust, quiet } => {
            relay::relay(&nats, &name, heartbeat_every, idle_exit, &trust, quiet)
        }
        Command::Submit { nats, objects, wait, out, json } => nats::submit(&nats, &objects, wait, out.as_deref(), json),
        Command::Wait { nats, ids, timeout, out, json } => nats::wait(&nats, &ids, timeout, out.as_deref(), json),
        Command::Send { nats, object_id, name, payload, key } => {
            let key = key.as_deref().map(read_key).transpose()?;
            nats::send(&nats, &object_id, &name, payload.as_deref(), key.as_ref())
        }
        Command::Permissions { role, node, id, capabilities, objects } => {
            nats::permissions(&role, node.as_deref(), id, capabilities, &objects)
        }
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
        Some(at) => object.audit(&load_archive(at, &object)?, &trust),
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

/// The archive of `object`'s pruned records kept at `at`: a mesh database or a JetStream
/// mesh (`nats://`, `tls://`).
fn load_archive(at: &Path, object: &Object) -> Res<Vec<peo_core::checkpoint::Segment>> {
    let id = object.id().to_hex();
    match at.to_str().filter(|a| a.starts_with("nats://") || a.starts_with("tls://")) {
        Some(url) => nats::archive(url, &id),
        None => mesh::archive(at, &id),
    }
}

fn prove(path: &Path, seq: Option<u32>, archive: Option<&Path>, check: Option<&Path>) -> Res<ExitCode> {
    let object = read_object(path)?;
    if let Some(proof) = check {
        let parsed = peo_core::checkpoint::PrunedProof::from_json(&read_json(proof)?)
            .map_err(|e| format!("{}: {e}", proof.display()))?;
        object.check_pruned(&parsed).map_err(|e| format!("{}: {e}", proof.display()))?;
        println!("{}: record {} is part of {}'s history", proof.display(), parsed.proof.index, path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(seq), Some(at)) = (seq, archive) else { return Err("give --seq and --archive, or --check".into()) };
    let proof = object.prove_pruned(&load_archive(at, &object)?, seq).map_err(|e| e.to_string())?;
    print_json(&proof.to_json())
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
