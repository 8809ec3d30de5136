//! The context: who an object acts for and under what trust.

use serde_json::{Map, Value, json};

use crate::{Error, Hash, Limits, PublicKey, Result, json as cjson};

/// Who the object acts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Originator {
    pub subject: Option<String>,
    pub domain: Option<String>,
    pub key: Option<PublicKey>,
}

/// A Cedar policy set the object carries. It can only forbid, never grant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CarriedPolicy {
    pub id: String,
    pub text: String,
}

/// Who the object acts for and under what trust. Labels, policies and policy
/// references are sets: kept sorted and unique, so equal contexts hash equally.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub originator: Originator,
    labels: Vec<String>,
    attributes: Value,
    policies: Vec<CarriedPolicy>,
    policy_refs: Vec<String>,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            originator: Originator::default(),
            labels: Vec::new(),
            attributes: Value::Object(Map::new()),
            policies: Vec::new(),
            policy_refs: Vec::new(),
        }
    }
}

impl Context {
    /// An empty context: no originator, labels, attributes or policies.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_originator(mut self, originator: Originator) -> Self {
        self.originator = originator;
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        insert_sorted(&mut self.labels, label.into());
        self
    }

    /// Sets the attributes, which must be a JSON object.
    pub fn with_attributes(mut self, attributes: Value) -> Result<Self> {
        if !attributes.is_object() {
            return Err(Error::invalid_argument("context attributes must be a JSON object"));
        }
        self.attributes = attributes;
        Ok(self)
    }

    /// Adds a carried Cedar policy: one `forbid` policy (an object's policies can
    /// restrict what nodes do with it, never grant); ids must be unique.
    pub fn with_policy(mut self, id: impl Into<String>, text: impl Into<String>) -> Result<Self> {
        let p = CarriedPolicy { id: id.into(), text: text.into() };
        crate::policy::check_carried(&p.id, &p.text).map_err(Error::invalid_argument)?;
        match self.policies.binary_search_by(|x| x.id.cmp(&p.id)) {
            Ok(_) => {
                return Err(Error::invalid_argument(format!(
                    "the context already carries a policy with id `{}`",
                    p.id
                )));
            }
            Err(i) => self.policies.insert(i, p),
        }
        Ok(self)
    }

    /// Inserts a carried policy in its sorted place without checking it ([`crate::forge`]).
    pub(crate) fn insert_policy_unchecked(&mut self, p: CarriedPolicy) {
        if let Err(i) = self.policies.binary_search_by(|x| x.id.cmp(&p.id)) {
            self.policies.insert(i, p);
        }
    }

    pub fn with_policy_ref(mut self, name: impl Into<String>) -> Self {
        insert_sorted(&mut self.policy_refs, name.into());
        self
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }
    pub fn attributes(&self) -> &Value {
        &self.attributes
    }
    pub fn policies(&self) -> &[CarriedPolicy] {
        &self.policies
    }
    pub fn policy_refs(&self) -> &[String] {
        &self.policy_refs
    }

    /// The context as JSON: the form hashed (canonicalised) and shown by `to_json`.
    pub fn to_json(&self) -> Value {
        // Keys in sorted order: the canonical text (`hash`, once an object is decoded)
        // then takes its fast path, serde_json's own output, unless the attributes are
        // out of order (the slow one was 4 us a visit).
        json!({
            "attributes": self.attributes,
            "labels": self.labels,
            "originator": {
                "domain": self.originator.domain,
                "key": self.originator.key.map(|k| k.to_hex()),
                "subject": self.originator.subject,
            },
            "policies": self.policies.iter().map(|p| json!({"id": p.id, "text": p.text})).collect::<Vec<_>>(),
            "policy_refs": self.policy_refs,
        })
    }

    /// `SHA-256("peo/context/v1" || canonical JSON of to_json())`.
    pub fn hash(&self) -> Hash {
        Hash::context(&cjson::canonical(&self.to_json()))
    }

    /// Parses the JSON form (`to_json`'s shape; every field optional) from a host.
    pub fn from_json(v: &Value, limits: &Limits) -> Result<Context> {
        let obj = v.as_object().ok_or_else(|| Error::invalid_argument("the context must be a JSON object"))?;
        let mut ctx = Context::new();
        for (k, val) in obj {
            match k.as_str() {
                "originator" => ctx.originator = parse_originator(val)?,
                "labels" => {
                    for l in strings(val, "context.labels")? {
                        ctx = ctx.with_label(l);
                    }
                }
                "attributes" => {
                    cjson::check_value(val, limits, "context.attributes")?;
                    ctx = ctx.with_attributes(val.clone())?;
                }
                "policies" => {
                    let arr = val
                        .as_array()
                        .ok_or_else(|| Error::invalid_argument("context.policies must be an array of {id, text}"))?;
                    for p in arr {
                        let id = p.get("id").and_then(Value::as_str);
                        let text = p.get("text").and_then(Value::as_str);
                        match (id, text) {
                            (Some(id), Some(text)) => ctx = ctx.with_policy(id, text)?,
                            _ => {
                                return Err(Error::invalid_argument(
                                    "each context policy needs a string `id` and `text`",
                                ));
                            }
                        }
                    }
                }
                "policy_refs" => {
                    for r in strings(val, "context.policy_refs")? {
                        ctx = ctx.with_policy_ref(r);
                    }
                }
                other => {
                    return Err(Error::invalid_argument(format!(
                        "unknown context field `{other}`; the fields are originator, labels, attributes, policies, policy_refs"
                    )));
                }
            }
        }
        Ok(ctx)
    }

    /// The context before a narrowing whose recorded change (`{"labels", "policies",
    /// "policy_refs"}`: what it added) led to `self`: every added item must be here, and
    /// is taken away. A verifier replays narrowings backwards with it, from the object's
    /// context to the one its genesis committed to.
    pub(crate) fn before_narrowing(&self, change: &Value) -> std::result::Result<Context, String> {
        let list = |field: &str| -> std::result::Result<Vec<String>, String> {
            match change.get(field) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(v) => strings(v, field).map_err(|e| e.message().to_owned()),
            }
        };
        let mut before = self.clone();
        for l in list("labels")? {
            let i = before.labels.binary_search(&l).map_err(|_| format!("it adds label `{l}`, which is not there"))?;
            before.labels.remove(i);
        }
        for id in list("policies")? {
            let i = before
                .policies
                .iter()
                .position(|p| p.id == id)
                .ok_or_else(|| format!("it adds policy `{id}`, which is not there"))?;
            before.policies.remove(i);
        }
        for r in list("policy_refs")? {
            let i = before
                .policy_refs
                .binary_search(&r)
                .map_err(|_| format!("it adds policy reference `{r}`, which is not there"))?;
            before.policy_refs.remove(i);
        }
        if let Some(k) = change
            .as_object()
            .and_then(|m| m.keys().find(|k| !matches!(k.as_str(), "labels" | "policies" | "policy_refs")))
        {
            return Err(format!("a context change records only what it adds, not `{k}`"));
        }
        Ok(before)
    }

    /// Rebuilds a decoded context, rejecting sets that are not sorted and unique.
    pub(crate) fn from_wire(
        originator: Originator,
        labels: Vec<String>,
        attributes: Value,
        policies: Vec<CarriedPolicy>,
        policy_refs: Vec<String>,
    ) -> Result<Context> {
        if !strictly_sorted(&labels) {
            return Err(Error::decode("context.labels must be sorted and unique"));
        }
        if !strictly_sorted(&policy_refs) {
            return Err(Error::decode("context.policy_refs must be sorted and unique"));
        }
        if !policies.windows(2).all(|w| w[0].id < w[1].id) {
            return Err(Error::decode("context.policies must be sorted by id, with unique ids"));
        }
        if !attributes.is_object() {
            return Err(Error::decode("context.attributes must be a JSON object"));
        }
        Ok(Context { originator, labels, attributes, policies, policy_refs })
    }
}

fn parse_originator(v: &Value) -> Result<Originator> {
    let obj = v.as_object().ok_or_else(|| Error::invalid_argument("context.originator must be an object"))?;
    let mut o = Originator::default();
    for (k, val) in obj {
        let s = || -> Result<Option<String>> {
            match val {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(Error::invalid_argument(format!("context.originator.{k} must be a string"))),
            }
        };
        match k.as_str() {
            "subject" => o.subject = s()?,
            "domain" => o.domain = s()?,
            "key" => o.key = s()?.map(|h| PublicKey::from_hex(&h)).transpose()?,
            other => {
                return Err(Error::invalid_argument(format!(
                    "unknown originator field `{other}`; the fields are subject, domain, key"
                )));
            }
        }
    }
    Ok(o)
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>> {
    v.as_array()
        .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
        .ok_or_else(|| Error::invalid_argument(format!("{what} must be an array of strings")))
}

fn insert_sorted(v: &mut Vec<String>, s: String) {
    if let Err(i) = v.binary_search(&s) {
        v.insert(i, s);
    }
}

fn strictly_sorted(v: &[String]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}
