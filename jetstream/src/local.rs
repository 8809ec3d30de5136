//! A `nats-server -js` on loopback for tests, examples and benchmarks (feature
//! `test-util`).

use std::time::Duration;

use peo_core::{Error, Result};

use crate::now_ns;

/// A `nats-server -js` on loopback with its own store, for tests, examples and
/// benchmarks; stopped (killed) when dropped.
pub struct LocalServer {
    child: std::process::Child,
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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::transport(format!("no free port: {e}")))?
            .port();
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
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| Error::transport(format!("cannot start nats-server: {e}")))?;
        let mut s = LocalServer { child, url: format!("nats://127.0.0.1:{port}"), port, _dir: None };
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
