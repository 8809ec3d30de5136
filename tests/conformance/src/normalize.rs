//! The corpus recorder's normalisation rules (N1-N4 and per-case extras), applied to
//! peo's actual values before comparing.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[1-9]\d{3}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[1-9]\d(?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26])00)-02-29)T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-][01]\d:?([0-5]\d)?)").expect("regex")
});
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$").expect("regex")
});
static CAUSE_JSON: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s).*'(\{.*\})'").expect("regex"));

/// One normaliser per case: N3 numbering is shared by everything it sees.
#[derive(Default)]
pub struct Normalizer {
    uuids: HashMap<String, usize>,
    extra: Vec<(String, Value)>,
}

impl Normalizer {
    pub fn new(extra: Option<&Value>) -> Normalizer {
        let extra = extra
            .and_then(Value::as_array)
            .map(|a| {
                a.iter().filter_map(|e| Some((e.get("key")?.as_str()?.to_owned(), e.get("value")?.clone()))).collect()
            })
            .unwrap_or_default();
        Normalizer { uuids: HashMap::new(), extra }
    }

    pub fn value(&mut self, v: &Value) -> Value {
        let mut v = v.clone();
        self.collect_uuids(&v);
        self.walk(&mut v);
        v
    }

    fn collect_uuids(&mut self, v: &Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if let Value::String(s) = x
                        && k.to_ascii_lowercase().ends_with("id")
                        && UUID.is_match(s)
                        && !self.uuids.contains_key(s)
                    {
                        let n = self.uuids.len() + 1;
                        self.uuids.insert(s.clone(), n);
                    }
                    self.collect_uuids(x);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.collect_uuids(x)),
            _ => {}
        }
    }

    fn string(&self, s: &str) -> String {
        let mut out = ISO.replace_all(s, "date").into_owned();
        for (u, n) in &self.uuids {
            out = out.replace(u.as_str(), &format!("<uuid:{n}>"));
        }
        out
    }

    fn walk(&self, v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if let Some((_, val)) = self.extra.iter().find(|(key, _)| key == k) {
                        *x = val.clone();
                        continue;
                    }
                    if k.to_ascii_lowercase().contains("timestamp") {
                        let keep = matches!(x, Value::String(s) if ISO.find(s).is_some_and(|m| m.start() == 0));
                        if !keep {
                            *x = Value::String("timestamp".into());
                            continue;
                        }
                    }
                    self.walk(x);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.walk(x)),
            Value::String(s) => *s = self.string(s),
            _ => {}
        }
    }

    /// An error cause: N4 (`'<json input>'` -> `'<json-input:1>'`) then the string rules.
    pub fn cause(&mut self, c: &str) -> String {
        let mut c = c.to_owned();
        if let Some(g) = CAUSE_JSON.captures(&c).and_then(|m| m.get(1))
            && serde_json::from_str::<Value>(g.as_str()).is_ok()
        {
            let json = g.as_str().to_owned();
            c = c.replace(&json, "<json-input:1>");
        }
        self.string(&c)
    }
}
