//! What every face of peo (the C library, the Python and Node packages, the `peo`
//! command) does the same way with what its user hands it: JSON text, raw keys, node
//! settings, durations. Each face converts its own language's values to these and calls
//! one function here, so the checks and their messages are the same in every language.

use std::sync::Arc;
use std::time::Duration;

use peo_core::checkpoint::{PrunedProof, Segment};
pub use peo_core::forms::Casing;
use peo_core::forms::recase;
use peo_core::intent::Compaction;
use peo_core::{
    Context, CreateOptions, Error, Event, Limits, NodePolicy, Object, ObjectId, Proposal, PublicKey, Result,
    SigningKey, Trust,
};
use serde_json::Value;

use crate::{Clock, Handler, ManualClock, Node, SystemClock};

/// Parses JSON text a user passed as `what` (`"the intent"`): a `Decode` error naming it
/// when it is not JSON.
pub fn parse_json(text: &str, what: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::decode(format!("{what} is not valid JSON: {e}")))
}

/// An error as every face reports it: `{"code", "kind", "message", "text", "record",
/// "state", "field"}` (`text` is the whole line, `message` without the kind and place;
/// the last three `null` when the error does not concern one).
pub fn error_json(e: &Error) -> Value {
    e.to_json()
}

/// Raw 32-byte Ed25519 public keys.
pub fn public_keys<K: AsRef<[u8]>>(keys: &[K]) -> Result<Vec<PublicKey>> {
    keys.iter().map(|k| PublicKey::from_slice(k.as_ref())).collect()
}

/// An event in its JSON text form (`{"name", "payload"}`, `{"name", "error", "cause"}`,
/// `{"name", "heartbeat": true}`).
pub fn event(text: &str) -> Result<Event> {
    Event::from_json(&parse_json(text, "the event")?)
}

/// An event's JSON form signed by `key` for object `object_id` ([`Event::signed`]), as
/// JSON: what every face's `sign_event` returns.
pub fn sign_event(key: &peo_core::SigningKey, object_id: &str, event_json: &str) -> Result<String> {
    Ok(event(event_json)?.signed(object_id, key)?.to_json().to_string())
}

/// Archive segments from the bytes an archive keeps (`Object::archive`, a mesh's archive).
pub fn segments<B: AsRef<[u8]>>(archive: &[B]) -> Result<Vec<Segment>> {
    archive.iter().map(|b| Segment::from_bytes(b.as_ref())).collect()
}

/// The inclusion proof of pruned record `seq` ([`Object::prove_pruned`]) from the
/// archive's segments, as JSON text: `{"index", "record_hash", "path"}`.
pub fn prove_pruned<B: AsRef<[u8]>>(obj: &Object, archive: &[B], seq: i64, casing: Casing) -> Result<String> {
    let seq = u32::try_from(seq)
        .map_err(|_| Error::invalid_argument(format!("seq must be a record number, not {seq}")).in_field("seq"))?;
    form_text("PrunedProof", obj.prove_pruned(&segments(archive)?, seq)?.to_json(), casing)
}

/// The JSON text of `value`, compact, as every face passes JSON across: serde_json's
/// writer, about twice as fast as `value.to_string()`, which goes through `Display`.
pub fn json_text(value: &Value) -> String {
    serde_json::to_string(value).expect("a JSON value writes to a String")
}

/// The JSON text of `value`, a form of the schema's `$defs` (`Record`, `Disposition`,
/// `VerifyReport`, ...) or an array of them as the engine writes it, with its keys in
/// `casing` (docs/json-forms.md).
pub fn form_text(form: &str, value: Value, casing: Casing) -> Result<String> {
    Ok(json_text(&match casing {
        Casing::Snake => value,
        Casing::Camel => recase(form, value, casing)?,
    }))
}

/// A form (or an array of them) a user gives as JSON text, keys in either casing, as
/// the engine reads it (snake_case). `what` names it in a parse error.
pub fn read_form(form: &str, text: &str, what: &str) -> Result<Value> {
    recase(form, parse_json(text, what)?, Casing::Snake)
}

/// Checks a pruned-record proof in its JSON text form (keys in either casing) against
/// the object, offline ([`Object::check_pruned`]).
pub fn check_pruned(obj: &Object, proof_json: &str) -> Result<()> {
    let value = read_form("PrunedProof", proof_json, "the proof").map_err(|e| e.in_field("proof"))?;
    obj.check_pruned(&PrunedProof::from_json(&value)?)
}

/// An advisor's reply in its JSON text form: a proposal, or `None` when there is none.
/// A reply that is not a proposal is no advice (an advisor cannot make a visit fail).
pub fn proposal(text: Option<&str>) -> Option<Proposal> {
    let value: Value = serde_json::from_str(text?).ok()?;
    Proposal::from_json(&value).ok()
}

/// A non-negative number of seconds a user passed as `what`.
pub fn seconds(s: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| Error::invalid_argument(format!("{what} must be a non-negative number of seconds, not {s}")))
}

/// A non-negative number of milliseconds a user passed as `what`.
pub fn millis(ms: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(ms / 1000.0)
        .map_err(|_| Error::invalid_argument(format!("{what} must be a non-negative number of ms, not {ms}")))
}

/// The deliveries in flight a user asked a serve loop for (`window`): from 1 to
/// [`crate::serve::MAX_WINDOW`].
pub fn window(n: f64) -> Result<usize> {
    let max = crate::serve::MAX_WINDOW;
    if n.fract() == 0.0 && (1.0..=max as f64).contains(&n) {
        Ok(n as usize)
    } else {
        Err(crate::serve::window_error(n))
    }
}

/// How a face creates an object: everything as its user wrote it.
#[derive(Default)]
pub struct NewObject<'a> {
    /// The plan (ASL with peo's extensions), JSON text.
    pub intent_json: &'a str,
    /// The context (`{"labels", "attributes", "policies", ...}`), JSON text; `None`: none.
    pub context_json: Option<&'a str>,
    /// The input, JSON text; `None`: `{}`.
    pub input_json: Option<&'a str>,
    /// The id as 32 hex digits; `None`: derived from the content and the creation time.
    pub id_hex: Option<&'a str>,
    /// The creation time, ms since the Unix epoch; `None`: the system clock.
    pub now_ms: Option<i64>,
    /// The originator's key, which signs the genesis record; `None`: unsigned.
    pub key: Option<&'a SigningKey>,
}

impl NewObject<'_> {
    /// Creates the object.
    pub fn create(&self) -> Result<Object> {
        let intent = parse_json(self.intent_json, "the intent")?;
        let input = match self.input_json {
            None => Value::Object(Default::default()),
            Some(text) => parse_json(text, "the input")?,
        };
        let limits = Limits::default();
        let context = match self.context_json {
            None => Context::new(),
            Some(text) => Context::from_json(&parse_json(text, "the context")?, &limits)?,
        };
        let id = self.id_hex.map(ObjectId::from_hex).transpose()?;
        let now_ms = self.now_ms.unwrap_or_else(|| SystemClock.now_ms());
        Object::create(&intent, context, &input, &CreateOptions { id, now_ms, key: self.key, limits })
    }
}

/// A node's id and domain, checked: the id must not be empty.
pub fn new_node(id: &str, domain: &str) -> Result<Node> {
    if id.is_empty() {
        return Err(Error::invalid_argument("a node's id must not be empty"));
    }
    Ok(Node::new(id, domain))
}

/// An advisor replying with a proposal in its JSON text form, or nothing.
pub type AdvisorJson = Box<dyn Fn(&Object) -> Option<String> + Send + Sync>;

/// An advisor replying with a proposal, or nothing.
pub type Advisor = Box<dyn Fn(&Object) -> Option<Proposal> + Send + Sync>;

/// One change a face makes to a node, from its user's values.
pub enum Setting<'a> {
    /// The key that signs the last record of every visit.
    Key(SigningKey),
    /// The node's Cedar policies, as text.
    Policy(&'a str),
    /// The node's facts: a JSON object, as text.
    FactsJson(&'a str),
    /// Raw 32-byte public keys, each trusted to sign as anyone; none trusts nothing.
    TrustedKeys(&'a [&'a [u8]]),
    /// The node's trust in its JSON form (`"any"` or a trust store), as text.
    TrustJson(&'a str),
    /// The handler of a capability (which must not be empty).
    Handler(&'a str, Box<dyn Handler>),
    /// A capability whose calls the host answers itself, through a session
    /// (`Node::begin`).
    Capability(&'a str),
    /// The advisor: called before every cycle, it replies with a proposal as JSON text
    /// or nothing. `None` removes it.
    AdvisorJson(Option<AdvisorJson>),
    /// The advisor, replying with a proposal or nothing. `None` removes it.
    Advisor(Option<Advisor>),
    /// The clock; `None`: the system clock.
    Clock(Option<Arc<dyn Clock>>),
    /// The most cycles one visit may run.
    MaxCycles(usize),
    /// Compaction for objects whose plan sets none: after this many records, keep this
    /// many.
    Compaction(u32, u32),
}

/// A trust from its JSON text (`"any"` or a trust store, [`Trust::from_json`]).
pub fn trust_json(text: &str) -> Result<Trust> {
    Trust::from_json(&parse_json(text, "the trust")?)
}

/// The trust a face is given as `trusted_keys` (keys trusted to sign as anyone) or as
/// `trust` (its JSON text), at most one of them; `None` when neither.
pub fn trust_given(trusted_keys: Option<&[Vec<u8>]>, trust: Option<&str>) -> Result<Option<Trust>> {
    match (trusted_keys, trust) {
        (Some(_), Some(_)) => Err(Error::invalid_argument("give trusted_keys or trust, not both")),
        (Some(keys), None) => Ok(Some(Trust::keys(public_keys(keys)?))),
        (None, Some(text)) => trust_json(text).map(Some),
        (None, None) => Ok(None),
    }
}

/// A manual clock at `now_ms` for `node` (the face keeps it, to move it), or the system
/// clock (`None`).
pub fn manual_clock(node: &mut Node, now_ms: Option<i64>) -> Result<Option<Arc<ManualClock>>> {
    let manual = now_ms.map(|t| Arc::new(ManualClock::new(t)));
    apply(node, Setting::Clock(manual.clone().map(|m| m as Arc<dyn Clock>)))?;
    Ok(manual)
}

/// Moves a face's manual clock on by `ms`; `option` names how that face sets one.
pub fn advance_clock(clock: Option<&ManualClock>, ms: i64, option: &str) -> Result<()> {
    let clock = clock.ok_or_else(|| Error::invalid_argument(format!("the node has no manual clock ({option})")))?;
    clock.advance(ms);
    Ok(())
}
/// Applies `setting` to `node`; on an error the node is unchanged.
pub fn apply(node: &mut Node, setting: Setting<'_>) -> Result<()> {
    let change: Box<dyn FnOnce(Node) -> Node> = match setting {
        Setting::Key(key) => Box::new(move |n| n.with_key(key)),
        Setting::Policy(cedar) => {
            let policy = NodePolicy::new(cedar)?;
            Box::new(move |n| n.with_policy(policy))
        }
        Setting::FactsJson(text) => {
            let Value::Object(facts) = parse_json(text, "the facts")? else {
                return Err(Error::invalid_argument(
                    "a node's facts must be a JSON object such as {\"region\": \"eu\"}",
                ));
            };
            Box::new(move |n| n.with_facts(facts))
        }
        // No keys trusts nothing: accepting anything is the trust `"any"`, said.
        Setting::TrustedKeys(keys) => {
            let trust = Trust::keys(public_keys(keys)?);
            Box::new(move |n| n.with_trust(trust))
        }
        Setting::TrustJson(text) => {
            let trust = trust_json(text)?;
            Box::new(move |n| n.with_trust(trust))
        }
        Setting::Handler(capability, handler) => {
            if capability.is_empty() {
                return Err(Error::invalid_argument("a capability must not be empty"));
            }
            let capability = capability.to_owned();
            Box::new(move |n| n.handler(capability, BoxedHandler(handler)))
        }
        Setting::Capability(capability) => {
            if capability.is_empty() {
                return Err(Error::invalid_argument("a capability must not be empty"));
            }
            let capability = capability.to_owned();
            Box::new(move |n| n.with_capability(capability))
        }
        Setting::Advisor(None) | Setting::AdvisorJson(None) => Box::new(Node::without_advisor),
        Setting::AdvisorJson(Some(f)) => Box::new(move |n| n.with_advisor(move |o: &Object| proposal(f(o).as_deref()))),
        Setting::Advisor(Some(f)) => Box::new(move |n| n.with_advisor(f)),
        Setting::Clock(clock) => {
            let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
            Box::new(move |n| n.with_clock(clock))
        }
        Setting::MaxCycles(n) => Box::new(move |node| node.with_max_cycles(n)),
        Setting::Compaction(after, keep) => {
            let c = Compaction::new(after, keep)?;
            Box::new(move |n| n.with_compaction(Some(c)))
        }
    };
    let taken = std::mem::replace(node, Node::new("", ""));
    *node = change(taken);
    Ok(())
}

struct BoxedHandler(Box<dyn Handler>);

impl Handler for BoxedHandler {
    fn call(&self, invocation: &crate::Invocation) -> std::result::Result<Value, crate::HandlerError> {
        self.0.call(invocation)
    }
    fn call_refined(
        &self,
        invocation: &crate::Invocation,
    ) -> std::result::Result<(Value, Option<Value>), crate::HandlerError> {
        self.0.call_refined(invocation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peo_core::ErrorKind;

    #[test]
    fn settings_check_what_users_pass() {
        let mut node = new_node("n", "d").unwrap();
        let e = apply(&mut node, Setting::FactsJson("[1]")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        let e = apply(&mut node, Setting::FactsJson("{")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(e.message().starts_with("the facts is not valid JSON"), "{e}");
        let e = apply(&mut node, Setting::TrustedKeys(&[&[0u8; 31][..]])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        let e = apply(&mut node, Setting::Compaction(2, 5)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidIntent);
        let e = apply(&mut node, Setting::Handler("", Box::new(|_: &crate::Invocation| Ok(Value::Null))));
        assert_eq!(e.unwrap_err().kind(), ErrorKind::InvalidArgument);
        // A failed setting leaves the node as it was.
        assert_eq!(node.id(), "n");
        apply(&mut node, Setting::FactsJson(r#"{"region": "eu"}"#)).unwrap();
        assert_eq!(node.spec().facts.get("region"), Some(&Value::from("eu")));
        assert_eq!(new_node("", "d").unwrap_err().kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn objects_and_events_from_text() {
        let plan = r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#;
        let o = NewObject { intent_json: plan, now_ms: Some(5), ..Default::default() }.create().unwrap();
        assert_eq!(o.data_text(), "{}");
        let e = NewObject { intent_json: plan, input_json: Some("{"), ..Default::default() }.create().unwrap_err();
        assert!(e.message().starts_with("the input is not valid JSON"), "{e}");
        assert_eq!(event(r#"{"name": "go", "payload": 1}"#).unwrap().name, "go");
        assert_eq!(event("nope").unwrap_err().kind(), ErrorKind::Decode);
        assert!(proposal(Some("not json")).is_none());
        assert_eq!(seconds(-1.0, "timeout").unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(millis(1500.0, "t").unwrap(), Duration::from_millis(1500));
        let e = Error::invalid_intent(Some("A"), "Output", "does not parse").at_record(3);
        let j = error_json(&e);
        assert_eq!((j["code"].as_str(), j["kind"].as_str()), (Some("PEO_INVALID_INTENT"), Some("invalid_intent")));
        assert_eq!(
            (j["record"].as_u64(), j["state"].as_str(), j["field"].as_str()),
            (Some(3), Some("A"), Some("Output"))
        );
        assert_eq!(j["text"].as_str(), Some(e.to_string().as_str()));
    }
}
