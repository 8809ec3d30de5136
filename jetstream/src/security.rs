//! How a connection proves who it is to the NATS server, and checks the server: TLS (the
//! server's CA, a client certificate) and credentials (user and password, a token, an
//! nkey seed, a `.creds` file), configured the way NATS users configure them. Every face
//! reads the same JSON form ([`Security::from_json`]); a connection given none reads the
//! `nats` command-line tool's environment variables ([`Security::from_env`]).

use std::path::{Path, PathBuf};

use peo_core::{Error, Result};
use serde::Deserialize;

/// TLS and credentials of one connection. Nothing set: plain TCP, no credentials (what
/// `nats-server -js` with no configuration accepts).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// PEM file of the certificate authorities that signed the server's certificate
    /// (`NATS_CA`). Setting it requires TLS.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// PEM file of this client's certificate, for servers that verify clients
    /// (`NATS_CERT`; needs `key`). Setting it requires TLS.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM file of the private key of `cert` (`NATS_KEY`).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Refuse a server that does not offer TLS, even with no `ca` or `cert` (a server
    /// whose certificate the system's roots vouch for). A `tls://` URL does the same.
    #[serde(default)]
    pub tls: bool,
    /// A NATS credentials file (`.creds`: a user JWT and its nkey seed, as `nsc`
    /// writes it; `NATS_CREDS`).
    #[serde(default)]
    pub creds: Option<PathBuf>,
    /// A file holding a user nkey seed (`SU...`; `NATS_NKEY`).
    #[serde(default)]
    pub nkey: Option<PathBuf>,
    /// User name (`NATS_USER`); with no `password`, the `nats` tool sends it as a token,
    /// and so does peo.
    #[serde(default)]
    pub user: Option<String>,
    /// The user's password (`NATS_PASSWORD`).
    #[serde(default)]
    pub password: Option<String>,
    /// An authentication token (`NATS_TOKEN`).
    #[serde(default)]
    pub token: Option<String>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| "<hidden>");
        f.debug_struct("Security")
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("tls", &self.tls)
            .field("creds", &self.creds)
            .field("nkey", &self.nkey)
            .field("user", &self.user)
            .field("password", &hidden(&self.password))
            .field("token", &hidden(&self.token))
            .finish()
    }
}

/// The environment variables of the `nats` command-line tool that [`Security::from_env`]
/// reads, and the fields they set.
pub const ENV: [(&str, &str); 8] = [
    ("NATS_CA", "ca"),
    ("NATS_CERT", "cert"),
    ("NATS_KEY", "key"),
    ("NATS_CREDS", "creds"),
    ("NATS_NKEY", "nkey"),
    ("NATS_USER", "user"),
    ("NATS_PASSWORD", "password"),
    ("NATS_TOKEN", "token"),
];

impl Security {
    /// The JSON form every face passes: `{"ca", "cert", "key", "tls", "creds", "nkey",
    /// "user", "password", "token"}`, each optional (paths are file names). An unknown
    /// field is an `InvalidArgument` error naming it.
    pub fn from_json(text: &str) -> Result<Security> {
        serde_json::from_str(text).map_err(|e| {
            Error::invalid_argument(format!(
                "security: {e} (fields: ca, cert, key, tls, creds, nkey, user, password, token)"
            ))
        })
    }

    /// What the `nats` command-line tool's variables say (`NATS_CA`, `NATS_CERT`,
    /// `NATS_KEY`, `NATS_CREDS`, `NATS_NKEY`, `NATS_USER`, `NATS_PASSWORD`, plus
    /// `NATS_TOKEN`); empty ones are ignored. Nothing set: no TLS, no credentials.
    pub fn from_env() -> Security {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Security {
            ca: var("NATS_CA").map(PathBuf::from),
            cert: var("NATS_CERT").map(PathBuf::from),
            key: var("NATS_KEY").map(PathBuf::from),
            tls: false,
            creds: var("NATS_CREDS").map(PathBuf::from),
            nkey: var("NATS_NKEY").map(PathBuf::from),
            user: var("NATS_USER"),
            password: var("NATS_PASSWORD"),
            token: var("NATS_TOKEN"),
        }
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Security::default()
    }

    /// Whether the connection must use TLS.
    pub fn requires_tls(&self) -> bool {
        self.tls || self.ca.is_some() || self.cert.is_some()
    }

    /// Checks the settings and applies them to `co` (for a raw `async-nats` client that
    /// connects as peo does): missing files, a certificate without its key, a password
    /// without a user are `InvalidArgument` errors naming what to fix.
    pub async fn apply(&self, mut co: async_nats::ConnectOptions) -> Result<async_nats::ConnectOptions> {
        let file = |p: &Path, what: &str| -> Result<PathBuf> {
            if p.is_file() {
                Ok(p.to_path_buf())
            } else {
                Err(Error::invalid_argument(format!("security.{what}: no such file {}", p.display())))
            }
        };
        if let Some(ca) = &self.ca {
            co = co.add_root_certificates(file(ca, "ca")?);
        }
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => co = co.add_client_certificate(file(c, "cert")?, file(k, "key")?),
            (None, None) => {}
            (Some(_), None) => {
                return Err(Error::invalid_argument("security.cert is set without security.key (NATS_KEY)"));
            }
            (None, Some(_)) => {
                return Err(Error::invalid_argument("security.key is set without security.cert (NATS_CERT)"));
            }
        }
        if self.requires_tls() {
            co = co.require_tls(true);
        }
        if let Some(c) = &self.creds {
            co = co
                .credentials_file(file(c, "creds")?)
                .await
                .map_err(|e| Error::invalid_argument(format!("security.creds: {}: {e}", c.display())))?;
        }
        if let Some(n) = &self.nkey {
            let text = std::fs::read_to_string(file(n, "nkey")?)
                .map_err(|e| Error::invalid_argument(format!("security.nkey: {}: {e}", n.display())))?;
            let seed = text.lines().map(str::trim).find(|l| l.starts_with("SU")).ok_or_else(|| {
                Error::invalid_argument(format!(
                    "security.nkey: {} holds no user seed (a line starting SU)",
                    n.display()
                ))
            })?;
            co = co.nkey(seed.to_string());
        }
        match (&self.user, &self.password) {
            (Some(u), Some(p)) => co = co.user_and_password(u.clone(), p.clone()),
            (Some(u), None) => co = co.token(u.clone()),
            (None, Some(_)) => {
                return Err(Error::invalid_argument("security.password is set without security.user (NATS_USER)"));
            }
            (None, None) => {}
        }
        if let Some(t) = &self.token {
            co = co.token(t.clone());
        }
        Ok(co)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_form_is_strict_and_secrets_stay_out_of_debug_output() {
        let s =
            Security::from_json(r#"{"ca": "ca.pem", "user": "node", "password": "hunter2", "token": "t0k"}"#).unwrap();
        assert_eq!(s.ca.as_deref(), Some(Path::new("ca.pem")));
        assert!(s.requires_tls() && !s.is_empty());
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("t0k") && shown.contains("node"), "{shown}");
        let e = Security::from_json(r#"{"certificate": "c.pem"}"#).unwrap_err();
        assert_eq!(e.kind(), peo_core::ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("unknown field `certificate`"), "{e}");
        assert!(Security::from_json("{}").unwrap().is_empty());
        assert!(!Security::from_json(r#"{"tls": false}"#).unwrap().requires_tls());
    }

    #[test]
    fn mistakes_are_found_before_connecting() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let check = |s: Security| rt.block_on(s.apply(async_nats::ConnectOptions::new())).err().map(|e| e.to_string());
        let missing = Security { ca: Some("/nonexistent/ca.pem".into()), ..Default::default() };
        assert!(check(missing).unwrap().contains("security.ca: no such file /nonexistent/ca.pem"));
        let lonely = Security { password: Some("p".into()), ..Default::default() };
        assert!(check(lonely).unwrap().contains("security.password is set without security.user"));
        let seedless = std::env::temp_dir().join(format!("peo-nkey-test-{}", std::process::id()));
        std::fs::write(&seedless, "not a seed\n").unwrap();
        let e = check(Security { nkey: Some(seedless.clone()), ..Default::default() });
        std::fs::remove_file(&seedless).unwrap();
        assert!(e.unwrap().contains("holds no user seed"));
        assert_eq!(check(Security { user: Some("token".into()), ..Default::default() }), None);
    }
}
