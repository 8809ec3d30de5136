//! A `nats-server -js` on loopback for tests, examples and benchmarks (feature
//! `test-util`).

use std::time::Duration;

use peo_core::{Error, Result};

use crate::now_ns;

/// A `nats-server -js` on loopback with its own store, for tests, examples and
/// benchmarks; stopped (killed) when dropped.
pub struct LocalServer {
    child: std::process::Child,
    exe: &'static str,
    url: String,
    port: u16,
    _dir: Option<std::path::PathBuf>,
}

impl LocalServer {
    /// Starts `nats-server -js` (found on `PATH` or in `/usr/sbin`) on a free port,
    /// storing in a new temporary folder, and waits until it accepts connections. With
    /// `PEO_TEST_NATS_CONFIG` set, the server reads that configuration file (the test
    /// command runs the JetStream suites again against `tests/nats/secure.conf`).
    pub fn start() -> Result<LocalServer> {
        LocalServer::start_with(std::env::var_os("PEO_TEST_NATS_CONFIG").map(Into::into))
    }

    /// Starts it reading the configuration file `config` (run from the file's folder,
    /// so relative certificate paths in it work), or none.
    pub fn start_with(config: Option<std::path::PathBuf>) -> Result<LocalServer> {
        let dir = std::env::temp_dir().join(format!("peo-nats-{}-{}", std::process::id(), now_ns()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::transport(format!("cannot create {}: {e}", dir.display())))?;
        let port = free_port()?;
        let mut s = LocalServer::spawn(port, &dir, config)?;
        s._dir = Some(dir);
        Ok(s)
    }

    /// Starts it on `port` storing in `dir` (a restart with the same `dir` keeps the
    /// streams), reading `PEO_TEST_NATS_CONFIG` as [`LocalServer::start`] does.
    pub fn start_at(port: u16, dir: &std::path::Path) -> Result<LocalServer> {
        LocalServer::spawn(port, dir, std::env::var_os("PEO_TEST_NATS_CONFIG").map(Into::into))
    }

    fn spawn(port: u16, dir: &std::path::Path, config: Option<std::path::PathBuf>) -> Result<LocalServer> {
        LocalServer::spawn_with(port, dir, config, &[])
    }

    fn spawn_with(
        port: u16,
        dir: &std::path::Path,
        config: Option<std::path::PathBuf>,
        extra: &[String],
    ) -> Result<LocalServer> {
        let exe = ["nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]
            .into_iter()
            .find(|p| std::process::Command::new(p).arg("--version").output().is_ok())
            .ok_or_else(|| Error::transport("nats-server is not installed (Debian: `apt-get install nats-server`)"))?;
        let mut cmd = std::process::Command::new(exe);
        if let Some(c) = &config {
            let c = std::path::absolute(c).map_err(|e| Error::transport(format!("{}: {e}", c.display())))?;
            if let Some(folder) = c.parent() {
                cmd.current_dir(folder);
            }
            cmd.arg("-c").arg(&c);
        }
        let child = cmd
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(std::path::absolute(dir).map_err(|e| Error::transport(format!("{}: {e}", dir.display())))?)
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| Error::transport(format!("cannot start nats-server: {e}")))?;
        let mut s = LocalServer { child, exe, url: format!("nats://127.0.0.1:{port}"), port, _dir: None };
        let t0 = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t0.elapsed() > Duration::from_secs(10) || s.child.try_wait().ok().flatten().is_some() {
                return Err(Error::transport(format!("nats-server did not start on port {port}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(s)
    }

    /// Where to connect: `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's version (`2.9.10`), as `nats-server --version` prints it.
    pub fn version(&self) -> String {
        std::process::Command::new(self.exe)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().trim_start_matches("nats-server: v").to_owned())
            .unwrap_or_default()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self._dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| Error::transport(format!("no free port: {e}")))
        .map(|a| a.port())
}

/// A JetStream cluster of `nats-server`s on loopback (`--cluster` routes between them),
/// each with its own store; a server can be killed (SIGKILL) and restarted on the same
/// port and store. Stopped when dropped.
pub struct LocalCluster {
    servers: Vec<Option<LocalServer>>,
    ports: Vec<(u16, u16)>,
    dir: std::path::PathBuf,
}

impl LocalCluster {
    /// Starts `n` servers forming one cluster, each a JetStream server named `peo-<i>`.
    /// JetStream elects its leader a few seconds later: connect with retries (a stream
    /// with replicas cannot be created before).
    pub fn start(n: usize) -> Result<LocalCluster> {
        // A port found free can be taken by another process before its server binds it:
        // then the cluster starts again on other ports.
        let mut attempt = 1;
        loop {
            match LocalCluster::start_once(n) {
                Err(e) if attempt < 3 => {
                    eprintln!("{e}: starting the cluster again on other ports");
                    attempt += 1;
                }
                started => return started,
            }
        }
    }

    fn start_once(n: usize) -> Result<LocalCluster> {
        let dir = std::env::temp_dir().join(format!("peo-nats-cluster-{}-{}", std::process::id(), now_ns()));
        let ports = (0..n).map(|_| Ok((free_port()?, free_port()?))).collect::<Result<Vec<_>>>()?;
        let mut cluster = LocalCluster { servers: (0..n).map(|_| None).collect(), ports, dir };
        for i in 0..n {
            cluster.restart(i)?;
        }
        Ok(cluster)
    }

    /// Starts server `i` again (after [`LocalCluster::kill`]), with its port and store.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        let routes = self
            .ports
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, (_, c))| format!("nats://127.0.0.1:{c}"))
            .collect::<Vec<_>>()
            .join(",");
        let (port, cport) = self.ports[i];
        let store = self.dir.join(format!("s{i}"));
        std::fs::create_dir_all(&store).map_err(|e| Error::transport(format!("{}: {e}", store.display())))?;
        let extra = [
            "-n".to_owned(),
            format!("peo-{i}"),
            "--cluster_name".to_owned(),
            "peo".to_owned(),
            "--cluster".to_owned(),
            format!("nats://127.0.0.1:{cport}"),
            "--routes".to_owned(),
            routes,
        ];
        self.servers[i] = Some(LocalServer::spawn_with(port, &store, None, &extra)?);
        Ok(())
    }

    /// Kills server `i` with SIGKILL (no shutdown, as a crash).
    pub fn kill(&mut self, i: usize) {
        self.servers[i] = None;
    }

    /// Server `i`'s URL.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.ports[i].0)
    }

    /// Every server's URL, comma-separated, starting with server `first` (as a node
    /// near that server lists them).
    pub fn urls_from(&self, first: usize) -> String {
        let n = self.ports.len();
        (0..n).map(|k| self.url((first + k) % n)).collect::<Vec<_>>().join(",")
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.servers.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
