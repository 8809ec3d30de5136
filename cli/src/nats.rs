//! The JetStream commands: `peo serve` runs a node as a service on a NATS JetStream
//! mesh; `peo submit`, `peo send` and `peo wait` put objects in, send them events and
//! wait for them to finish. See docs/distributed.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anstream::println;
use peo_core::{Event, Limits, Object};
use peo_jetstream::{JetStream, Options, ServeOptions, serve as serve_node};
use peo_runtime::SystemClock;
use serde_json::{Value, json};

use crate::{Res, load_node, read, write};

/// Where the mesh is and how to connect to it: the `nats` tool's flags, each falling
/// back to its variable (`NATS_CA`, `NATS_CERT`, `NATS_KEY`, `NATS_CREDS`, `NATS_NKEY`,
/// `NATS_USER`, `NATS_PASSWORD`, `NATS_TOKEN`).
#[derive(clap::Args, Debug)]
pub(crate) struct Mesh {
    /// The NATS server, e.g. nats://127.0.0.1:4222 (JetStream enabled: `nats-server -js`);
    /// several servers of a cluster comma-separated.
    #[arg(long)]
    pub(crate) nats: String,
    /// PEM file of the CAs that signed the server's certificate (requires TLS) [NATS_CA].
    #[arg(long, value_name = "FILE")]
    tlsca: Option<PathBuf>,
    /// PEM file of this client's certificate (with --tlskey) [NATS_CERT].
    #[arg(long, value_name = "FILE")]
    tlscert: Option<PathBuf>,
    /// PEM file of the client certificate's key [NATS_KEY].
    #[arg(long, value_name = "FILE")]
    tlskey: Option<PathBuf>,
    /// Refuse a server without TLS.
    #[arg(long)]
    tls: bool,
    /// NATS credentials file (user JWT and nkey seed) [NATS_CREDS].
    #[arg(long, value_name = "FILE")]
    creds: Option<PathBuf>,
    /// File holding a user nkey seed [NATS_NKEY].
    #[arg(long, value_name = "FILE")]
    nkey: Option<PathBuf>,
    /// User name, or a token when no password is given [NATS_USER].
    #[arg(long)]
    user: Option<String>,
    /// Password [NATS_PASSWORD].
    #[arg(long)]
    password: Option<String>,
    /// On a JetStream cluster: how many servers keep each of peo's streams and its
    /// bucket, when this connection is the one that creates them (3 survives the loss of
    /// a server). Streams that exist keep theirs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    replicas: u8,
}

impl Mesh {
    fn security(&self) -> peo_jetstream::Security {
        let mut s = peo_jetstream::Security::from_env();
        let or = |flag: &Option<PathBuf>, env: &mut Option<PathBuf>| {
            if flag.is_some() {
                env.clone_from(flag);
            }
        };
        or(&self.tlsca, &mut s.ca);
        or(&self.tlscert, &mut s.cert);
        or(&self.tlskey, &mut s.key);
        or(&self.creds, &mut s.creds);
        or(&self.nkey, &mut s.nkey);
        if self.user.is_some() {
            s.user.clone_from(&self.user);
        }
        if self.password.is_some() {
            s.password.clone_from(&self.password);
        }
        s.tls |= self.tls;
        s
    }
}

pub(crate) fn connect(mesh: &Mesh, options: Options) -> Res<JetStream> {
    let options = Options { security: Some(mesh.security()), replicas: usize::from(mesh.replicas), ..options };
    JetStream::connect(&mesh.nats, options).map_err(|e| e.to_string())
}

pub(crate) fn serve(
    mesh: &Mesh,
    node_file: &Path,
    ack_wait: Option<f64>,
    max_deliver: Option<i64>,
    idle_exit: Option<f64>,
    window: Option<usize>,
    quiet: bool,
) -> Res<ExitCode> {
    let node = load_node(node_file, Arc::new(SystemClock))?;
    if let Some(w) = window {
        peo_runtime::host::window(w as f64).map_err(|e| format!("--{}", e.message()))?;
    }
    let window = window.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (8 * cores).min(64)
    });
    if ack_wait.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
        return Err("--ack-wait must be a positive number of seconds".into());
    }
    let options = Options::from_face(
        Some(format!("peo serve {}", node.id())),
        ack_wait.map(Duration::from_secs_f64),
        None,
        max_deliver,
        None,
    )
    .map_err(|e| e.to_string().replace("max_deliver", "--max-deliver"))?;
    let id = node.id().to_owned();
    let caps: Vec<String> = node.spec().capabilities.iter().cloned().collect();
    let mut js = connect(mesh, options)?;
    let url = &mesh.nats;
    if !quiet {
        let who = id.clone();
        js = js.with_log(move |line| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{who}: {line}");
            let _ = out.flush();
        });
    }
    println!(
        "{id}: serving {} on {url}, {window} in flight",
        if caps.is_empty() { "no capability".into() } else { caps.join(", ") }
    );
    let started = Instant::now();
    // SIGTERM / SIGINT: finish the delivery in hand, then stop (and print the counters).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| format!("cannot handle signals: {e}"))?;
    }
    let options = ServeOptions {
        idle_timeout: idle_exit.map(Duration::from_secs_f64),
        stop: Some(stop),
        window,
        ..Default::default()
    };
    serve_node(&node, &js, &options).map_err(|e| e.to_string())?;
    println!("{id}: stopped after {:.1} s: {}", started.elapsed().as_secs_f64(), js.stats().to_json());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn submit(
    mesh: &Mesh,
    objects: &[PathBuf],
    wait: Option<f64>,
    out: Option<&Path>,
    json: bool,
) -> Res<ExitCode> {
    if objects.is_empty() {
        return Err("give at least one object file to submit".into());
    }
    let js = connect(mesh, Options::default())?;
    let mut ids = Vec::new();
    for p in objects {
        let id = js.submit(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?;
        if !json {
            println!("submitted {id} ({})", p.display());
        }
        ids.push(id);
    }
    match wait {
        None => {
            if json {
                println!("{}", json!({"submitted": ids}));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(secs) => finish(&js, &ids, secs, out, json),
    }
}

pub(crate) fn wait(mesh: &Mesh, ids: &[String], timeout: f64, out: Option<&Path>, json: bool) -> Res<ExitCode> {
    let js = connect(mesh, Options::default())?;
    finish(&js, ids, timeout, out, json)
}

/// Waits for `ids`, writes each final object to `out/<id>.peo`, prints a line (or JSON)
/// per object; exit status 0 only when all finished `succeeded`.
fn finish(js: &JetStream, ids: &[String], secs: f64, out: Option<&Path>, json: bool) -> Res<ExitCode> {
    if !(secs >= 0.0 && secs.is_finite()) {
        return Err("the wait must be a number of seconds".into());
    }
    let done = js.wait_done(ids, Duration::from_secs_f64(secs)).map_err(|e| e.to_string())?;
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut all_ok = true;
    let mut report = Vec::new();
    for id in ids {
        let entry = match done.get(id) {
            None => {
                all_ok = false;
                json!({"id": id, "status": "unfinished"})
            }
            Some(bytes) => {
                let o = Object::from_bytes(bytes, &Limits::default()).map_err(|e| format!("{id}: {e}"))?;
                if let Some(dir) = out {
                    write(&dir.join(format!("{id}.peo")), bytes)?;
                }
                let status = o.status().as_str();
                all_ok &= status == "succeeded";
                let nodes: std::collections::BTreeSet<String> =
                    o.records().map_err(|e| e.to_string())?.into_iter().map(|r| r.node.id.clone()).collect();
                json!({"id": id, "status": status, "records": o.written(), "nodes": nodes})
            }
        };
        report.push(entry);
    }
    if json {
        println!("{}", Value::Array(report));
    } else {
        for r in &report {
            println!("{} {} {}", r["id"].as_str().unwrap_or(""), r["status"].as_str().unwrap_or(""), r["nodes"]);
        }
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub(crate) fn send(
    mesh: &Mesh,
    id: &str,
    name: &str,
    payload: Option<&str>,
    key: Option<&peo_core::SigningKey>,
) -> Res<ExitCode> {
    let payload = match payload {
        None => Value::Null,
        Some(p) => serde_json::from_str(p).map_err(|e| format!("the payload is not valid JSON: {e}"))?,
    };
    let mut event = Event::success(name, payload);
    if let Some(k) = key {
        event = event.signed(id, k).map_err(|e| e.to_string())?;
    }
    let js = connect(mesh, Options::default())?;
    js.send_event(id, &event).map_err(|e| e.to_string())?;
    let signed = key.map(|k| format!(", signed by {}", k.public_key().to_hex())).unwrap_or_default();
    println!("sent `{name}` to {id}{signed}");
    Ok(ExitCode::SUCCESS)
}

/// The records compactions pruned from object `id`, as the mesh at `url` keeps them.
pub(crate) fn archive(url: &str, id: &str) -> Res<Vec<peo_core::checkpoint::Segment>> {
    let js = JetStream::connect(url, Options { name: Some("peo verify".into()), ..Default::default() })
        .map_err(|e| e.to_string())?;
    js.archive(id).map_err(|e| e.to_string())
}

/// `peo permissions`: what a participant needs, as a block for nats-server's
/// configuration.
pub(crate) fn permissions(
    role: &str,
    node_file: Option<&Path>,
    id: Option<String>,
    capabilities: Vec<String>,
    objects: &str,
) -> Res<ExitCode> {
    use peo_jetstream::Permissions;
    let node_only = node_file.is_some() || id.is_some() || !capabilities.is_empty();
    let p = match role {
        "node" => {
            let (id, caps) = match (node_file, id) {
                (Some(_), Some(_)) => return Err("give either --node or --id, not both".into()),
                (Some(f), None) if capabilities.is_empty() => {
                    let node = load_node(f, Arc::new(SystemClock))?;
                    (node.id().to_owned(), node.spec().capabilities.iter().cloned().collect())
                }
                (Some(_), None) => return Err("--capability goes with --id, not with --node".into()),
                (None, Some(id)) => (id, capabilities),
                (None, None) => return Err("a node's permissions need --node FILE, or --id and --capability".into()),
            };
            Permissions::node(&id, &caps)
        }
        "client" | "events" if node_only => {
            return Err(format!("--node, --id and --capability are for `node`, not `{role}`"));
        }
        "client" => Permissions::client(),
        "events" => Permissions::event_sender(objects),
        other => return Err(format!("unknown role `{other}`: node, client or events")),
    };
    println!("permissions: {}", p.to_conf());
    Ok(ExitCode::SUCCESS)
}
