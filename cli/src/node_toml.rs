//! Nodes described in TOML: their key, trust, policy, facts, compaction, and handlers
//! and advisors that are shell commands.

use super::*;
use anstream::println;

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
pub(crate) const DEFAULT_HANDLER_TIMEOUT_SECS: u64 = 300;

/// A handler that runs a command (`sh -c`, in the node file's folder): the input JSON on
/// stdin, the output JSON on stdout; a non-zero exit with `{"error", "cause"}` on stderr
/// is that named task error (other stderr text becomes the cause of `peo.HandlerFailed`).
/// The call's details are in the environment: `PEO_CAPABILITY`, `PEO_STATE`,
/// `PEO_IDEMPOTENCY_KEY`, `PEO_ATTEMPT`, `PEO_DEADLINE_MS`. A command still running at
/// the state's deadline (`TimeoutSeconds`) or after the node's `handler_timeout` is
/// killed, with everything it started, and the attempt fails with `States.Timeout`.
pub(crate) struct CommandHandler {
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
            let _ = stdin.write_all(peo_runtime::host::json_text(&call.input).as_bytes());
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
pub(crate) fn advise(command: &str, dir: &Path, object: &Object) -> Option<peo_core::Proposal> {
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

pub(crate) fn parse_event(spec: &str) -> Res<Event> {
    let (name, payload) = match spec.split_once('=') {
        None => (spec, Value::Null),
        Some((n, p)) => (n, serde_json::from_str(p).map_err(|e| format!("the event's payload is not JSON: {e}"))?),
    };
    if name.is_empty() {
        return Err("an event needs a name: --event NAME or NAME=JSON".into());
    }
    Ok(Event::success(name, payload))
}

pub(crate) fn visit(
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
