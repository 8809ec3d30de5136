//! Local authority: Cedar policies.
//!
//! A node's [`NodePolicy`] authorises (default deny, `forbid` wins); an object's own
//! policies, carried in its context, can only forbid. For every action it authorises the
//! cycle builds one request: principal = the originator, action = the action kind,
//! resource = the capability or the node, context = [`SCHEMA`]'s `Ctx`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use cedar_policy::{
    Authorizer, Context as CedarContext, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid,
    Policy, PolicyId, PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};

use crate::{Error, Hash, PolicyDecision, PolicyOutcome, Result};

/// The Cedar schema of peo's authorization requests. Node policies are validated
/// against it (strict mode) when the node is built.
pub const SCHEMA: &str = r#"namespace Peo {
  entity Originator;
  entity Capability;
  entity Node;
  type Ctx = {
    "class": String,
    "objective": String,
    "state": String,
    "labels": Set<String>,
    "hops": Long,
    "attempts": Long,
    "age_ms": Long,
    "domains": Set<String>,
    "unsigned_records": Long,
    "untrusted_records": Long,
    "node_id": String,
    "node_domain": String,
    "advised": Bool,
    "attributes": Set<String>,
    "facts": Set<String>,
    "mutation": String,
  };
  action visit appliesTo { principal: Originator, resource: Node, context: Ctx };
  action execute appliesTo { principal: Originator, resource: Capability, context: Ctx };
  action delegate appliesTo { principal: Originator, resource: [Capability, Node], context: Ctx };
  action mutate appliesTo { principal: Originator, resource: Node, context: Ctx };
  action terminate appliesTo { principal: Originator, resource: Node, context: Ctx };
  action compact appliesTo { principal: Originator, resource: Node, context: Ctx };
}
"#;

/// What separates a policy reference's name from its pin.
const PIN: &str = "@sha256:";

/// A policy reference pinned to the exact text of a library set: `name@sha256:<hex>`,
/// the hash being `SHA-256("peo/policy/v1" || text)`. A node resolves it only when its
/// library holds that name with that very text, so an object can insist on the policies
/// its originator reviewed rather than whatever a node files under the name.
pub fn pin(name: &str, text: &str) -> String {
    format!("{name}{PIN}{}", Hash::tagged(crate::hash::TAG_POLICY, text.as_bytes()).to_hex())
}

/// The id of the baseline `permit` peo adds to an object's policies (which can only
/// forbid).
const BASELINE: &str = "peo.object-baseline";

/// The actions peo asks policy about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyAction {
    Visit,
    Execute,
    Delegate,
    Mutate,
    Terminate,
    /// Fold older records into a checkpoint (docs/long-lived.md).
    Compact,
}

impl PolicyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyAction::Visit => "visit",
            PolicyAction::Execute => "execute",
            PolicyAction::Delegate => "delegate",
            PolicyAction::Mutate => "mutate",
            PolicyAction::Terminate => "terminate",
            PolicyAction::Compact => "compact",
        }
    }
}

/// The context fields of a request, as [`SCHEMA`] declares them; bit `i` of a field
/// mask stands for `FIELDS[i]`.
pub(crate) const FIELDS: [&str; 16] = [
    "class",
    "objective",
    "state",
    "labels",
    "hops",
    "attempts",
    "age_ms",
    "domains",
    "unsigned_records",
    "untrusted_records",
    "node_id",
    "node_domain",
    "advised",
    "attributes",
    "facts",
    "mutation",
];

/// Which context fields a policy set can read: every field named by a string anywhere
/// in the policies' parsed form (Cedar's JSON syntax, where `context["hop\u{73}"]` and
/// `context.hops` both appear as the attribute `"hops"`). Cedar has no computed
/// attribute names, so this over-approximates soundly; a policy that cannot be shown in
/// that form reads every field. Only these are built into a request: building a Cedar
/// context costs about 0.35 µs a field.
fn mask_of(set: &PolicySet) -> u32 {
    fn strings(v: &serde_json::Value, mask: &mut u32) {
        match v {
            serde_json::Value::String(s) => {
                if let Some(i) = FIELDS.iter().position(|f| f == s) {
                    *mask |= 1 << i;
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, mask)),
            serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| {
                strings(&serde_json::Value::String(k.clone()), mask);
                strings(x, mask);
            }),
            _ => {}
        }
    }
    let mut mask = 0;
    for p in set.policies() {
        match p.to_json() {
            Ok(json) => strings(&json, &mut mask),
            Err(_) => return (1 << FIELDS.len()) - 1,
        }
    }
    mask
}

/// The deepest nesting of parentheses, brackets and braces peo accepts in Cedar text,
/// and the most unary operators in a row. Cedar's parser recurses once per level:
/// checking first keeps a hostile policy (1,000 nested parentheses) from exhausting the
/// stack. Real policies nest a handful of levels.
pub const MAX_POLICY_NESTING: usize = 32;

/// The most operators and attribute accesses (`.`, `+`, `==`, `&&`, ...) one Cedar
/// policy may have. They chain without brackets, one level of evaluation each.
pub const MAX_POLICY_OPERATORS: usize = 256;

/// The largest Cedar text peo parses: one node's policies, one library set or one
/// carried policy.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// Checks Cedar text's size and nesting in one pass over it, before any parser sees it.
pub(crate) fn check_text(text: &str) -> std::result::Result<(), String> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(format!("Cedar text of {} bytes is over the limit of {MAX_POLICY_BYTES}", text.len()));
    }
    let (mut depth, mut unary, mut deepest) = (0usize, 0usize, 0usize);
    // `if` expressions nest without brackets (`if a then if b then ...`): every `if` of a
    // policy counts as a level, until the `;` that ends the policy.
    let mut ifs = 0usize;
    // Binary operators and attribute accesses chain without brackets too (`a.x.x.x`,
    // `1 + 1 + 1`), each link one level of Cedar's evaluator: a policy may have at most
    // MAX_POLICY_OPERATORS of them.
    let mut ops = 0usize;
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        let last = std::mem::replace(&mut prev, c);
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if word == "if" {
            ifs += 1;
            deepest = deepest.max(depth + ifs);
        }
        if matches!(word.as_str(), "in" | "has" | "like" | "is") {
            ops += 1;
        }
        if !word.is_empty() {
            word.clear();
            unary = 0;
        }
        match c {
            ';' if depth == 0 => (ifs, ops) = (0, 0),
            '"' => {
                // A string literal: skip to its closing quote, honouring escapes.
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '!' | '-' => {
                ops += usize::from(c == '-' || last != '!');
                unary += 1;
                deepest = deepest.max(depth + unary);
            }
            c if c.is_whitespace() => {}
            '.' | '+' | '*' | '<' | '>' | '=' | '&' | '|' => {
                unary = 0;
                // `==`, `&&`, `<=` are one operator.
                if !matches!(last, '.' | '+' | '*' | '<' | '>' | '=' | '&' | '|' | '!') {
                    ops += 1;
                }
            }
            _ => unary = 0,
        }
        if ops > MAX_POLICY_OPERATORS {
            return Err(format!(
                "a Cedar policy has more than {MAX_POLICY_OPERATORS} operators and attribute accesses; split it"
            ));
        }
        if deepest > MAX_POLICY_NESTING {
            return Err(format!(
                "Cedar text nests parentheses, brackets, braces, `if` expressions or unary operators deeper than {MAX_POLICY_NESTING} levels"
            ));
        }
    }
    Ok(())
}

pub(crate) fn needs(mask: u32, field: &str) -> bool {
    FIELDS.iter().position(|f| *f == field).is_some_and(|i| mask & (1 << i) != 0)
}

/// The object-side facts of a request, computed once per cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct ObjectFacts {
    pub principal: String,
    pub class: String,
    pub objective: String,
    pub state: String,
    pub attempts: u32,
    pub advised: bool,
    /// What a `mutate` changes: `adapt`, `refinement` or `narrowing` (empty otherwise).
    pub mutation: String,
    pub labels: Vec<String>,
    /// `key=value` for the context attributes' top-level scalars.
    pub attributes: Vec<String>,
    /// `key=value` for the node facts' top-level scalars.
    pub facts: Vec<String>,
    pub hops: u32,
    pub age_ms: i64,
    pub domains: Vec<String>,
    pub unsigned_records: u32,
    pub untrusted_records: u32,
    pub node_id: String,
    pub node_domain: String,
}

/// A policy set ready to evaluate, and the context fields it reads.
pub(crate) struct Ready {
    set: PolicySet,
    pub mask: u32,
}

pub(crate) type Shared = Arc<std::result::Result<Ready, String>>;

/// A cycle's request parts (context, principal, node), which depend only on the facts
/// and the fields the policies read.
pub(crate) struct Parts {
    context: CedarContext,
    principal: EntityUid,
    node: EntityUid,
}

/// What every request of a cycle shares: its parts and the policy set to evaluate.
pub(crate) struct Prepared {
    parts: Arc<Parts>,
    ready: Shared,
}

/// Request parts by the facts they were built from and the fields read: consecutive
/// cycles of a visit usually present the same facts (only the fields the policies read
/// count). The cache holds no policy set, so a node's policies are freed with the node.
pub(crate) fn prepared(f: ObjectFacts, ready: Shared, hash: Hash) -> Prepared {
    use std::hash::{Hash as _, Hasher};
    type Entry = (ObjectFacts, Hash, u32, Arc<Parts>);
    static CACHE: std::sync::LazyLock<Mutex<HashMap<u64, Entry>>> = std::sync::LazyLock::new(Default::default);
    let mask = ready.as_ref().as_ref().map_or(0, |r| r.mask);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    f.hash(&mut h);
    hash.hash(&mut h);
    mask.hash(&mut h);
    let key = h.finish();
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((facts, hh, m, parts)) = cache.get(&key)
        && *facts == f
        && *hh == hash
        && *m == mask
    {
        return Prepared { parts: parts.clone(), ready };
    }
    let parts = Arc::new(Parts::new(&f, mask));
    if cache.len() > 1024 {
        cache.clear();
    }
    cache.insert(key, (f, hash, mask, parts.clone()));
    Prepared { parts, ready }
}

impl Parts {
    /// Builds the request parts for the fields in `mask`.
    fn new(f: &ObjectFacts, mask: u32) -> Parts {
        let long = RestrictedExpression::new_long;
        let string = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let mut pairs = Vec::with_capacity(mask.count_ones() as usize);
        for (i, name) in FIELDS.iter().enumerate() {
            if mask & (1 << i) == 0 {
                continue;
            }
            let v = match *name {
                "class" => string(&f.class),
                "objective" => string(&f.objective),
                "state" => string(&f.state),
                "labels" => strings(&f.labels),
                "hops" => long(i64::from(f.hops)),
                "attempts" => long(i64::from(f.attempts)),
                "age_ms" => long(f.age_ms),
                "domains" => strings(&f.domains),
                "unsigned_records" => long(i64::from(f.unsigned_records)),
                "untrusted_records" => long(i64::from(f.untrusted_records)),
                "node_id" => string(&f.node_id),
                "node_domain" => string(&f.node_domain),
                "advised" => RestrictedExpression::new_bool(f.advised),
                "attributes" => strings(&f.attributes),
                "mutation" => string(&f.mutation),
                _ => strings(&f.facts),
            };
            pairs.push(((*name).to_owned(), v));
        }
        let context = CedarContext::from_pairs(pairs).expect("distinct keys of supported types");
        Parts { context, principal: uid(ORIGINATOR, &f.principal), node: uid(NODE, &f.node_id) }
    }
}

impl Prepared {
    /// Evaluates one request: principal = the originator, action = `action`, resource =
    /// the capability (when given) or the node.
    pub(crate) fn authorize(&self, action: PolicyAction, capability: Option<&str>) -> PolicyOutcome {
        static AUTHORIZER: std::sync::LazyLock<Authorizer> = std::sync::LazyLock::new(Authorizer::new);
        let ready = match self.ready.as_ref() {
            Ok(r) => r,
            Err(e) => return deny(vec![], vec![e.clone()]),
        };
        let parts = &self.parts;
        let resource = match capability {
            Some(c) => uid(CAPABILITY, c),
            None => parts.node.clone(),
        };
        match Request::new(parts.principal.clone(), action_uid(action), resource, parts.context.clone(), None) {
            Ok(request) => outcome_of(&AUTHORIZER.is_authorized(&request, &ready.set, &Entities::empty())),
            Err(e) => deny(vec![], vec![format!("building the request: {e}")]),
        }
    }
}

const ORIGINATOR: usize = 0;
const CAPABILITY: usize = 1;
const NODE: usize = 2;
const ACTION: usize = 3;

fn type_name(i: usize) -> EntityTypeName {
    static NAMES: std::sync::OnceLock<[EntityTypeName; 4]> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        ["Peo::Originator", "Peo::Capability", "Peo::Node", "Peo::Action"]
            .map(|n| n.parse().expect("peo's type names parse"))
    })[i]
        .clone()
}

fn uid(ty: usize, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(ty), EntityId::new(id))
}

fn action_uid(a: PolicyAction) -> EntityUid {
    static UIDS: std::sync::OnceLock<[EntityUid; 6]> = std::sync::OnceLock::new();
    UIDS.get_or_init(|| {
        [
            PolicyAction::Visit,
            PolicyAction::Execute,
            PolicyAction::Delegate,
            PolicyAction::Mutate,
            PolicyAction::Terminate,
            PolicyAction::Compact,
        ]
        .map(|a| uid(ACTION, a.as_str()))
    })[a as usize]
        .clone()
}

/// A node's policies: parsed and validated once.
pub struct NodePolicy {
    set: PolicySet,
    /// Named library sets and the SHA-256 of the text each was built from (a pinned
    /// reference must match it).
    library: BTreeMap<String, (PolicySet, Hash)>,
    /// The node's set merged with an object's forbids (and its referenced library
    /// sets), by the object's context hash: one evaluation per request.
    combined: Mutex<HashMap<Hash, Shared>>,
}

impl std::fmt::Debug for NodePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodePolicy")
            .field("policies", &self.set.policies().map(|p| p.id().to_string()).collect::<Vec<_>>())
            .field("library", &self.library.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn schema() -> &'static Schema {
    static SCHEMA_PARSED: std::sync::OnceLock<Schema> = std::sync::OnceLock::new();
    SCHEMA_PARSED.get_or_init(|| Schema::from_cedarschema_str(SCHEMA).expect("the built-in schema parses").0)
}

/// Parses Cedar text; a policy's id is its `@id("...")` annotation when it has one,
/// else `<prefix><index>`.
fn parse_set(text: &str, prefix: &str, what: &str) -> Result<PolicySet> {
    check_text(text).map_err(|e| Error::invalid_argument(format!("{what}: {e}")))?;
    let parsed: PolicySet = text.parse().map_err(|e: cedar_policy::ParseErrors| {
        Error::invalid_argument(format!("{what} do not parse as Cedar: {e}"))
    })?;
    let mut out = PolicySet::new();
    for (i, p) in parsed.policies().enumerate() {
        let id = p.annotation("id").map_or_else(|| format!("{prefix}{i}"), str::to_owned);
        out.add(p.new_id(PolicyId::new(id.clone())))
            .map_err(|e| Error::invalid_argument(format!("{what}: policy `{id}`: {e}")))?;
    }
    if parsed.templates().next().is_some() {
        return Err(Error::invalid_argument(format!("{what}: templates are not supported; write static policies")));
    }
    Ok(out)
}

fn validate(set: &PolicySet, what: &str) -> Result<()> {
    let result = Validator::new(schema().clone()).validate(set, ValidationMode::Strict);
    if result.validation_passed() {
        return Ok(());
    }
    let errors: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
    Err(Error::invalid_argument(format!(
        "{what} do not validate against peo's Cedar schema (docs/policy.md): {}",
        errors.join("; ")
    )))
}

impl NodePolicy {
    /// Parses and validates a node's policy set (Cedar text). Policies are named by
    /// their `@id("...")` annotation, else `node<i>`.
    pub fn new(text: &str) -> Result<NodePolicy> {
        let set = parse_set(text, "node", "the node's policies")?;
        validate(&set, "the node's policies")?;
        Ok(NodePolicy { set, library: BTreeMap::new(), combined: Mutex::new(HashMap::new()) })
    }

    /// Adds a named policy set to the node's library: objects whose context refers to
    /// `name` (a policy reference) are evaluated with it too. Like an object's own
    /// policies it can only forbid. An object that refers to a name the node does not
    /// have is delegated on.
    pub fn with_library(mut self, name: impl Into<String>, text: &str) -> Result<NodePolicy> {
        let name = name.into();
        let set = parse_set(text, &format!("{name}#"), &format!("library policies `{name}`"))?;
        validate(&set, &format!("library policies `{name}`"))?;
        if set.policies().any(|p| p.effect() != cedar_policy::Effect::Forbid) {
            return Err(Error::invalid_argument(format!(
                "library policies `{name}`: a referenced policy set can only forbid (it restricts objects that refer to it)"
            )));
        }
        self.library.insert(name, (set, Hash::tagged(crate::hash::TAG_POLICY, text.as_bytes())));
        Ok(self)
    }

    /// Whether the node can resolve a policy reference: its library has a set of that
    /// name and, when the reference is pinned (`name@sha256:<hex>`, [`pin`]), of exactly
    /// the pinned text.
    pub fn resolves(&self, reference: &str) -> bool {
        self.lookup(reference).is_some()
    }

    fn lookup(&self, reference: &str) -> Option<&PolicySet> {
        let (name, pinned) = match reference.split_once(PIN) {
            Some((name, hex)) => (name, Some(hex)),
            None => (reference, None),
        };
        let (set, hash) = self.library.get(name)?;
        match pinned {
            Some(hex) if !hash.to_hex().eq_ignore_ascii_case(hex) => None,
            _ => Some(set),
        }
    }

    /// The node's set plus the object's forbids plus the forbids of the library sets
    /// the object refers to, built once per distinct object context. Evaluating them
    /// together gives the node's decision (default deny) with every forbid applied.
    pub(crate) fn combined(
        &self,
        hash: Hash,
        refs: &[String],
        carried: impl FnOnce() -> Vec<(String, String)>,
    ) -> Shared {
        let mut cache = self.combined.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = cache.get(&hash) {
            return s.clone();
        }
        let build = || -> std::result::Result<Ready, String> {
            let object = build_object_set(&carried())?;
            let mut set = self.set.clone();
            let taken: std::collections::HashSet<String> = set.policies().map(|p| p.id().to_string()).collect();
            let library = refs.iter().filter_map(|r| self.lookup(r)).flat_map(|l| l.policies());
            for p in object.policies().chain(library).filter(|p| p.effect() == cedar_policy::Effect::Forbid) {
                let id = p.id().to_string();
                let p = if taken.contains(&id) { p.new_id(PolicyId::new(format!("object/{id}"))) } else { p.clone() };
                set.add(p).map_err(|e| e.to_string())?;
            }
            Ok(Ready { mask: mask_of(&set), set })
        };
        let built = Arc::new(build());
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(hash, built.clone());
        built
    }
}

/// For a node without a policy set of its own: the object's carried policies with a
/// baseline permit (so only its forbids count), by context hash, parsed once per process.
pub(crate) fn object_only(hash: Hash, carried: impl FnOnce() -> Vec<(String, String)>) -> Shared {
    static CACHE: std::sync::LazyLock<Mutex<HashMap<Hash, Shared>>> = std::sync::LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = cache.get(&hash) {
        return s.clone();
    }
    let built = build_object_set(&carried()).and_then(|mut set| {
        set.add(baseline()).map_err(|e| e.to_string())?;
        Ok(Ready { mask: mask_of(&set), set })
    });
    let built = Arc::new(built);
    if cache.len() > 4096 {
        cache.clear();
    }
    cache.insert(hash, built.clone());
    built
}

/// Cedar's answer as peo records it. Evaluation fails closed: Cedar skips a policy whose
/// evaluation errors (so an erroring `forbid` would permit); peo denies instead, naming
/// the policies that erred.
fn outcome_of(r: &cedar_policy::Response) -> PolicyOutcome {
    let d = r.diagnostics();
    let errors: Vec<String> = d.errors().map(|e| e.to_string()).collect();
    if !errors.is_empty() {
        let erred = d
            .errors()
            .map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(e) => e.policy_id().to_string(),
            })
            .collect();
        return PolicyOutcome { decision: PolicyDecision::Deny, policies: erred, errors };
    }
    PolicyOutcome {
        decision: match r.decision() {
            CedarDecision::Allow => PolicyDecision::Allow,
            CedarDecision::Deny => PolicyDecision::Deny,
        },
        policies: d.reason().filter(|p| AsRef::<str>::as_ref(*p) != BASELINE).map(|p| p.to_string()).collect(),
        errors,
    }
}

fn baseline() -> Policy {
    Policy::parse(Some(PolicyId::new(BASELINE)), "permit(principal, action, resource);").expect("the baseline parses")
}

/// Checks one carried policy: a single Cedar `forbid` policy, valid against peo's schema.
pub(crate) fn check_carried(id: &str, text: &str) -> std::result::Result<(), String> {
    build_object_set(&[(id.to_owned(), text.to_owned())]).map(|_| ())
}

/// An object's carried policies (each one `forbid`), validated against peo's schema in
/// strict mode: a forbid that could err at evaluation (a mistyped field) would be one
/// that never forbids, so it refuses the object instead.
fn build_object_set(carried: &[(String, String)]) -> std::result::Result<PolicySet, String> {
    let mut set = PolicySet::new();
    for (id, text) in carried {
        check_text(text).map_err(|e| format!("object policy `{id}`: {e}"))?;
        let p = Policy::parse(Some(PolicyId::new(id.clone())), text)
            .map_err(|e| format!("object policy `{id}` does not parse as one Cedar policy: {e}"))?;
        if p.effect() != cedar_policy::Effect::Forbid {
            return Err(format!("object policy `{id}` is a permit: an object's policies can only forbid"));
        }
        set.add(p).map_err(|e| format!("object policy `{id}`: {e}"))?;
    }
    validate(&set, "the object's policies").map_err(|e| e.message().to_owned())?;
    Ok(set)
}

fn deny(policies: Vec<String>, errors: Vec<String>) -> PolicyOutcome {
    PolicyOutcome { decision: PolicyDecision::Deny, policies, errors }
}

fn strings(v: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(v.iter().map(|s| RestrictedExpression::new_string(s.clone())))
}
