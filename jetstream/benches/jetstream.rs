//! Load through NATS JetStream: objects per second and per-hop latency (p50, p99) for 1,
//! 2 and 4 nodes per capability, and the cost of a hop compared with the in-process
//! mesh. Starts its own `nats-server -js` on loopback (Debian: `apt-get install
//! nats-server`).
//!
//! Run: `cargo bench -p peo-jetstream --bench jetstream` (about a minute). Figures are
//! printed; nothing is asserted. With `-- --mesh` (what `scripts/bench-mesh` runs) it
//! prints only the summary lines: the mesh loaded (two nodes per capability), the mesh
//! idle, and the in-process mesh.
//!
//! The plan is four Tasks whose capabilities alternate (`bench.a`, `bench.b`, `bench.a`,
//! `bench.b`); each node serves one of the two, so every Task is a hop: the object is
//! committed, published to the next capability's subject and picked up by another node.
//! Nodes are threads of this process, each with its own connection, signing key and
//! consumers, exactly as separate processes would have.
//! - "loaded": 400 objects (2,000 for `--mesh`) submitted at once by eight threads; objects/s from the first submission to the
//!   last finished object; the hop latency (previous node's publication to this node's
//!   publication of the next hop) then includes waiting in the queue.
//! - "one at a time": 100 objects, each submitted after the previous finished: the hop
//!   latency of an idle mesh.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use peo_core::{Context, CreateOptions, Disposition, Object, SigningKey, Trust};
use peo_jetstream::{JetStream, LocalServer, Options, ServeOptions, serve};
use peo_runtime::{Invocation, Node};
use serde_json::{Value, json};

fn plan() -> Value {
    json!({"StartAt": "T1", "States": {
        "T1": {"Type": "Task", "Resource": "bench.a", "Next": "T2"},
        "T2": {"Type": "Task", "Resource": "bench.b", "Next": "T3"},
        "T3": {"Type": "Task", "Resource": "bench.a", "Next": "T4"},
        "T4": {"Type": "Task", "Resource": "bench.b", "End": true}}})
}

const HOPS_PER_OBJECT: usize = 4;

/// The mesh's keys: the originator's (0) and one per node (1..=8). Every node trusts
/// them all, as a mesh's nodes are configured (docs/security.md): a node then checks
/// the newest signature of a trusted key (and the hash chain), not every signature.
fn key(k: usize) -> &'static SigningKey {
    static KEYS: std::sync::OnceLock<Vec<SigningKey>> = std::sync::OnceLock::new();
    &KEYS.get_or_init(|| (0..9).map(|_| SigningKey::generate().unwrap()).collect())[k]
}

fn trust() -> Trust {
    Trust::keys((0..9).map(|k| key(k).public_key()))
}

fn object(i: usize) -> Vec<u8> {
    let options = CreateOptions { key: Some(key(0)), ..CreateOptions::default() };
    Object::create(&plan(), Context::new(), &json!({"n": i, "payload": "x".repeat(200)}), &options).unwrap().to_bytes()
}

/// Node number `k` (1..=8), serving `cap`.
fn node(id: &str, cap: &str, k: usize) -> Node {
    Node::new(id, "bench")
        .with_trust(trust())
        .with_key(key(k).clone())
        .handler(cap, |c: &Invocation| Ok(json!({"n": c.input["n"], "payload": c.input["payload"]})))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Mesh {
    _server: LocalServer,
    url: String,
    stop: Arc<AtomicBool>,
    nodes: Vec<(Arc<JetStream>, std::thread::JoinHandle<()>)>,
}

impl Mesh {
    fn start(per_capability: usize, window: usize) -> Mesh {
        let server = LocalServer::start().expect("nats-server -js (apt-get install nats-server)");
        let url = server.url().to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let mut nodes = Vec::new();
        for (c, cap) in ["bench.a", "bench.b"].into_iter().enumerate() {
            for i in 0..per_capability {
                let options = Options { batch: window.max(4) * 2, ..Options::default() };
                let js = Arc::new(JetStream::connect(&url, options).unwrap());
                let n = node(&format!("{cap}-{i}"), cap, 1 + c * per_capability + i);
                let (j, s) = (js.clone(), stop.clone());
                let t = std::thread::spawn(move || {
                    serve(&n, &*j, &ServeOptions { stop: Some(s), window, ..Default::default() }).unwrap();
                });
                nodes.push((js, t));
            }
        }
        // Let every node create its consumers before the first object.
        std::thread::sleep(Duration::from_millis(300));
        Mesh { _server: server, url, stop, nodes }
    }

    fn hop_latencies(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self.nodes.iter().flat_map(|(js, _)| js.stats().take_hop_latencies()).collect();
        all.sort_unstable();
        all
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for (_, t) in self.nodes {
            t.join().unwrap();
        }
    }
}

fn loaded(per_capability: usize, window: usize, objects: usize) -> (f64, Vec<u64>) {
    let mesh = Mesh::start(per_capability, window);
    let client = JetStream::connect(&mesh.url, Options::default()).unwrap();
    let bytes: Vec<Vec<u8>> = (0..objects).map(object).collect();
    let t0 = Instant::now();
    // Submitted by eight threads at once (a submission is two round trips: one client
    // thread would be the bottleneck, not the mesh).
    let ids: Vec<String> = std::thread::scope(|scope| {
        let chunks: Vec<_> = bytes
            .chunks(objects.div_ceil(8))
            .map(|chunk| scope.spawn(|| chunk.iter().map(|b| client.submit(b).unwrap()).collect::<Vec<_>>()))
            .collect();
        chunks.into_iter().flat_map(|c| c.join().unwrap()).collect()
    });
    // Finished when PEO_DONE holds them all (counted, not read: reading and verifying
    // 2,000 final objects is the client's work, not the mesh's; it is done after).
    let deadline = Instant::now() + Duration::from_secs(300);
    while (client.backlog().unwrap().1 as usize) < objects {
        assert!(Instant::now() < deadline, "the mesh stalled");
        std::thread::sleep(Duration::from_millis(2));
    }
    let secs = t0.elapsed().as_secs_f64();
    let done = client.wait_done(&ids, Duration::from_secs(300)).unwrap();
    assert_eq!(done.len(), objects, "every object finished");
    let lat = mesh.hop_latencies();
    mesh.stop();
    (objects as f64 / secs, lat)
}

fn one_at_a_time(per_capability: usize, objects: usize) -> Vec<u64> {
    let mesh = Mesh::start(per_capability, 1);
    let client = JetStream::connect(&mesh.url, Options::default()).unwrap();
    for i in 0..objects {
        let id = client.submit(&object(10_000 + i)).unwrap();
        assert_eq!(client.wait_done(&[id], Duration::from_secs(30)).unwrap().len(), 1);
    }
    let lat = mesh.hop_latencies();
    mesh.stop();
    lat
}

/// The same plan in one process: two nodes, the object handed over as bytes; the
/// time of each hop (µs), sorted.
fn in_process_hops(objects: usize) -> Vec<u64> {
    let (a, b) = (node("a", "bench.a", 1), node("b", "bench.b", 2));
    let mut lat = Vec::new();
    for o in (0..objects).map(object) {
        let (mut cur, mut at_a) = (o, true);
        loop {
            let t = Instant::now();
            let v = if at_a { a.visit(&cur, None) } else { b.visit(&cur, None) }.unwrap();
            lat.push(t.elapsed().as_micros() as u64);
            cur = v.bytes;
            at_a = !at_a;
            if matches!(v.disposition, Disposition::Terminated { .. }) {
                break;
            }
        }
    }
    lat.sort_unstable();
    lat
}

/// `scripts/bench-mesh`: one line each for the mesh loaded, idle and in process.
fn summary() {
    let version = LocalServer::start().map(|s| s.version()).unwrap_or_default();
    let per = 2;
    let ms = |us: u64| us as f64 / 1000.0;
    // The window(s) to measure: `-- --mesh --window 1,16` (default 16).
    let args: Vec<String> = std::env::args().collect();
    let windows: Vec<usize> = args
        .iter()
        .position(|a| a == "--window")
        .and_then(|i| args.get(i + 1))
        .map(|w| w.split(',').map(|n| n.parse().expect("--window takes numbers")).collect())
        .unwrap_or_else(|| vec![16]);
    for window in windows {
        let (rate, lat) = loaded(per, window, 2000);
        println!(
            "mesh: {:.0} hops/s, p50 {:.2} ms, p99 {:.2} ms ({} nodes, {window} in flight each, nats-server {version})",
            rate * HOPS_PER_OBJECT as f64,
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            2 * per
        );
    }
    let idle = one_at_a_time(per, 100);
    println!(
        "mesh idle: one object at a time, hop p50 {:.2} ms, p99 {:.2} ms ({} nodes, nats-server {version})",
        ms(percentile(&idle, 0.5)),
        ms(percentile(&idle, 0.99)),
        2 * per
    );
    let t0 = Instant::now();
    let hops = in_process_hops(2000);
    println!(
        "in-process: {:.0} hops/s, p50 {:.2} ms, p99 {:.2} ms (2 nodes, 1 in flight, bytes handed over)",
        hops.len() as f64 / t0.elapsed().as_secs_f64(),
        ms(percentile(&hops, 0.5)),
        ms(percentile(&hops, 0.99))
    );
}

/// The same plan in one process: two nodes, the object handed over as bytes.
fn in_process(objects: usize) -> f64 {
    let (a, b) = (node("a", "bench.a", 1), node("b", "bench.b", 2));
    let bytes: Vec<Vec<u8>> = (0..objects).map(object).collect();
    let t0 = Instant::now();
    let mut hops = 0;
    for o in bytes {
        let mut cur = o;
        let mut at_a = true;
        loop {
            let v = if at_a { a.visit(&cur, None) } else { b.visit(&cur, None) }.unwrap();
            hops += 1;
            cur = v.bytes;
            at_a = !at_a;
            if matches!(v.disposition, Disposition::Terminated { .. }) {
                break;
            }
        }
    }
    assert_eq!(hops, objects * HOPS_PER_OBJECT);
    t0.elapsed().as_secs_f64() * 1e6 / hops as f64
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: only check it starts.
    let quick = !std::env::args().any(|a| a == "--bench");
    if !quick && std::env::args().any(|a| a == "--mesh") {
        return summary();
    }
    let (loaded_n, single_n) = if quick { (20, 5) } else { (400, 100) };
    println!(
        "JetStream load: plan of {HOPS_PER_OBJECT} Tasks, every Task a hop between nodes (nats-server -js on loopback, this machine)"
    );
    let local = in_process(if quick { 20 } else { 2000 });
    println!("in-process mesh (two Nodes, bytes handed over): {local:.0} µs per hop");
    for per in [1, 2, 4] {
        let (rate, lat) = loaded(per, 1, loaded_n);
        let single = one_at_a_time(per, single_n);
        let (p50, p99) = (percentile(&single, 0.5), percentile(&single, 0.99));
        println!(
            "{per} node(s) per capability ({} nodes): {rate:.0} objects/s ({:.0} hops/s) | loaded hop p50 {} µs p99 {} µs | one at a time hop p50 {p50} µs p99 {p99} µs = {:.1}x the in-process hop",
            2 * per,
            rate * HOPS_PER_OBJECT as f64,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            p50 as f64 / local
        );
    }
}
