//! Trust: the keys a verifier accepts and what each may sign as (node ids, a domain,
//! originator subjects), and what signatures it requires.

use serde_json::{Value, json};

use crate::{Error, PublicKey, Result};

/// What signatures a verifier requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureRequirement {
    /// Signatures that are present must be valid; unsigned visits are allowed, and the
    /// object's claims (originator subject, node ids, domains) are believed. For tests
    /// and demos ([`Trust::any`]).
    ValidIfPresent,
    /// Every visit (and the genesis record) must end with a valid signature, by any key;
    /// claims are believed.
    EveryVisit,
    /// Every visit must end with a valid signature by a key of the trust store, and
    /// every claim a signature covers must be one the store allows its key. The default.
    #[default]
    EveryVisitTrusted,
}

/// A key of a trust store and what it may sign as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub key: PublicKey,
    /// The node ids whose records the key may sign (`"*"`: any).
    pub nodes: Vec<String>,
    /// The domain those records may claim (`"*"`: any).
    pub domain: String,
    /// The originator subjects it may create objects for, signing their genesis records
    /// (the originator role; `"*"`: any).
    pub subjects: Vec<String>,
}

/// The wildcard of [`TrustedKey`]'s lists.
pub const ANY: &str = "*";

impl TrustedKey {
    /// A node's key: it signs the records of node `id` in `domain`.
    pub fn node(key: PublicKey, id: impl Into<String>, domain: impl Into<String>) -> TrustedKey {
        TrustedKey { key, nodes: vec![id.into()], domain: domain.into(), subjects: Vec::new() }
    }
    /// An originator's key: it creates objects for `subject` in `domain`.
    pub fn originator(key: PublicKey, subject: impl Into<String>, domain: impl Into<String>) -> TrustedKey {
        TrustedKey { key, nodes: Vec::new(), domain: domain.into(), subjects: vec![subject.into()] }
    }
    /// A key trusted to sign as anyone: any node, any domain, any originator. What
    /// [`Trust::keys`] gives; claims under it are the signer's word.
    pub fn any_identity(key: PublicKey) -> TrustedKey {
        TrustedKey { key, nodes: vec![ANY.into()], domain: ANY.into(), subjects: vec![ANY.into()] }
    }
    /// Whether the key may sign records of node `id` in `domain`.
    pub fn may_sign_as(&self, id: &str, domain: &str) -> bool {
        self.nodes.iter().any(|n| n == ANY || n == id) && (self.domain == ANY || self.domain == domain)
    }
    /// Whether the key may create objects for `subject`, claiming `domain`.
    pub fn may_originate(&self, subject: &str, domain: Option<&str>) -> bool {
        self.subjects.iter().any(|s| s == ANY || s == subject)
            && (self.domain == ANY || domain.is_none_or(|d| d == self.domain))
    }
    pub(crate) fn describe(&self) -> String {
        let mut roles = Vec::new();
        if !self.nodes.is_empty() {
            roles.push(format!("node {} in domain {}", self.nodes.join(" or "), self.domain));
        }
        if !self.subjects.is_empty() {
            roles.push(format!("originator {}", self.subjects.join(" or ")));
        }
        if roles.is_empty() { "nothing".into() } else { roles.join(", ") }
    }
}

/// Whom a verifier trusts: a trust store of keys, each bound to what it may sign as,
/// and what it requires. The default trusts nothing: every visit must be signed by a
/// key of the store, so an empty store accepts no object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    pub keys: Vec<TrustedKey>,
    pub require: SignatureRequirement,
}

impl Trust {
    /// Trusts nothing (the default): add keys with [`Trust::with`].
    pub fn closed() -> Trust {
        Trust::default()
    }
    /// Accepts anything that is structurally sound and whose signatures, where present,
    /// verify; believes every claim. For tests and demos: it proves nothing about who
    /// wrote the object.
    pub fn any() -> Trust {
        Trust { keys: Vec::new(), require: SignatureRequirement::ValidIfPresent }
    }
    /// Every visit must be signed by one of `keys`, each trusted to sign as anyone
    /// ([`TrustedKey::any_identity`]).
    pub fn keys(keys: impl IntoIterator<Item = PublicKey>) -> Trust {
        Trust::store(keys.into_iter().map(TrustedKey::any_identity))
    }
    /// What `verify(trusted_keys)` means in every face: with keys, [`Trust::keys`];
    /// without, the structure and whatever signatures are present ([`Trust::any`]). For
    /// verifying an object, never for a node's admission (an empty list there trusts
    /// nothing: [`Trust::keys`]).
    pub fn for_verify(keys: Vec<PublicKey>) -> Trust {
        if keys.is_empty() { Trust::any() } else { Trust::keys(keys) }
    }

    /// Every visit must be signed by one of these keys, within what each may sign as.
    pub fn store(keys: impl IntoIterator<Item = TrustedKey>) -> Trust {
        Trust { keys: keys.into_iter().collect(), require: SignatureRequirement::EveryVisitTrusted }
    }
    /// Adds a key to the store.
    pub fn with(mut self, key: TrustedKey) -> Trust {
        self.keys.push(key);
        self
    }
    /// The store's entry for `key`, if any.
    pub fn entry(&self, key: &PublicKey) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.key == *key)
    }
    pub fn is_trusted(&self, key: &PublicKey) -> bool {
        self.entry(key).is_some()
    }
    /// What to add to a refusal by a store that trusts no key at all.
    pub(crate) fn hint(&self) -> &'static str {
        if self.keys.is_empty() && self.require == SignatureRequirement::EveryVisitTrusted {
            " (this trust store holds no key, so it accepts nothing: give the node the keys whose work it accepts, \
             or trust \"any\" for tests and demos; docs/security.md)"
        } else {
            ""
        }
    }

    /// Whether identities come from verified keys (else the object's claims are believed).
    pub fn checks_claims(&self) -> bool {
        self.require == SignatureRequirement::EveryVisitTrusted
    }

    /// The JSON form every binding and the `peo` command accept: `"any"`, or
    /// `{"require": "every_visit_trusted" | "every_visit" | "valid_if_present",
    /// "keys": [{"key": "<64 hex digits>", "nodes": [...], "domain": "...",
    /// "subjects": [...]}]}` (every field optional; `require` defaults to
    /// `every_visit_trusted`, `domain` to `"*"`).
    pub fn from_json(v: &Value) -> Result<Trust> {
        if v.as_str() == Some("any") {
            return Ok(Trust::any());
        }
        let obj = v
            .as_object()
            .ok_or_else(|| Error::invalid_argument("trust is \"any\" or an object {\"require\", \"keys\": [...]}"))?;
        if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "require" | "keys")) {
            return Err(Error::invalid_argument(format!("unknown trust field `{k}` (allowed: require, keys)")));
        }
        let require = match obj.get("require").map(|r| r.as_str()) {
            None | Some(Some("every_visit_trusted")) => SignatureRequirement::EveryVisitTrusted,
            Some(Some("every_visit")) => SignatureRequirement::EveryVisit,
            Some(Some("valid_if_present")) => SignatureRequirement::ValidIfPresent,
            Some(_) => {
                return Err(Error::invalid_argument(
                    "trust.require is every_visit_trusted, every_visit or valid_if_present",
                ));
            }
        };
        let mut keys = Vec::new();
        for (i, k) in obj.get("keys").and_then(Value::as_array).map_or(&[][..], Vec::as_slice).iter().enumerate() {
            let field = |name: &str| format!("trust.keys[{i}].{name}");
            let m =
                k.as_object().ok_or_else(|| Error::invalid_argument(format!("trust.keys[{i}] must be an object")))?;
            if let Some(f) = m.keys().find(|f| !matches!(f.as_str(), "key" | "nodes" | "domain" | "subjects")) {
                return Err(Error::invalid_argument(format!(
                    "unknown field `{f}` in trust.keys[{i}] (allowed: key, nodes, domain, subjects)"
                )));
            }
            let key = m
                .get("key")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::invalid_argument(format!("{} must be 64 hex digits", field("key"))))
                .and_then(PublicKey::from_hex)?;
            let list = |name: &str| -> Result<Vec<String>> {
                match m.get(name) {
                    None => Ok(Vec::new()),
                    Some(v) => v
                        .as_array()
                        .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_owned)).collect())
                        .ok_or_else(|| Error::invalid_argument(format!("{} must be an array of strings", field(name)))),
                }
            };
            let domain = match m.get("domain") {
                None => ANY.to_owned(),
                Some(Value::String(d)) => d.clone(),
                Some(_) => return Err(Error::invalid_argument(format!("{} must be a string", field("domain")))),
            };
            keys.push(TrustedKey { key, nodes: list("nodes")?, domain, subjects: list("subjects")? });
        }
        Ok(Trust { keys, require })
    }

    /// The JSON form [`Trust::from_json`] reads.
    pub fn to_json(&self) -> Value {
        if *self == Trust::any() {
            return json!("any");
        }
        let require = match self.require {
            SignatureRequirement::EveryVisitTrusted => "every_visit_trusted",
            SignatureRequirement::EveryVisit => "every_visit",
            SignatureRequirement::ValidIfPresent => "valid_if_present",
        };
        json!({"require": require, "keys": self.keys.iter().map(|k| json!({
            "key": k.key.to_hex(), "nodes": k.nodes, "domain": k.domain, "subjects": k.subjects,
        })).collect::<Vec<_>>()})
    }
}
