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
    /// storing in a new temporary folder, and waits until it accepts connections.
    pub fn start() -> Result<LocalServer> {
        let dir = std::env::temp_dir().join(format!("peo-nats-{}-{}", std::process::id(), now_ns()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::transport(format!("cannot create {}: {e}", dir.display())))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::transport(format!("no free port: {e}")))?
            .port();
        let mut s = LocalServer::start_at(port, &dir)?;
        s._dir = Some(dir);
        Ok(s)
    }

    /// Starts it on `port` storing in `dir` (a restart with the same `dir` keeps the
    /// streams).
    pub fn start_at(port: u16, dir: &std::path::Path) -> Result<LocalServer> {
        let exe = ["nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]
            .into_iter()
            .find(|p| std::process::Command::new(p).arg("--version").output().is_ok())
            .ok_or_else(|| Error::transport("nats-server is not installed (Debian: `apt-get install nats-server`)"))?;
        let child = std::process::Command::new(exe)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
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
