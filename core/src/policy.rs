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
    "capability": String,
    "labels": Set<String>,
    "hops": Long,
    "attempts": Long,
    "age_ms": Long,
    "records": Long,
    "domains": Set<String>,
    "unsigned_records": Long,
    "untrusted_records": Long,
    "node_id": String,
    "node_domain": String,
    "advised": Bool,
    "attributes": Set<String>,
    "facts": Set<String>,
  };
  action visit appliesTo { principal: Originator, resource: Node, context: Ctx };
  action execute appliesTo { principal: Originator, resource: Capability, context: Ctx };
  action delegate appliesTo { principal: Originator, resource: [Capability, Node], context: Ctx };
  action mutate appliesTo { principal: Originator, resource: Node, context: Ctx };
  action terminate appliesTo { principal: Originator, resource: Node, context: Ctx };
}
"#;

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
}

impl PolicyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyAction::Visit => "visit",
            PolicyAction::Execute => "execute",
            PolicyAction::Delegate => "delegate",
            PolicyAction::Mutate => "mutate",
            PolicyAction::Terminate => "terminate",
        }
    }
}

/// What a request is about, besides the object.
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    pub action: PolicyAction,
    /// `Peo::Capability::"<name>"` when set, else `Peo::Node::"<node id>"`.
    pub capability: Option<&'a str>,
    pub state: &'a str,
    pub attempts: u32,
    pub advised: bool,
}

/// The object-side facts of a request, computed once per cycle.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObjectFacts {
    pub principal: String,
    pub class: String,
    pub objective: String,
    pub labels: Vec<String>,
    /// `key=value` for the context attributes' top-level scalars.
    pub attributes: Vec<String>,
    /// `key=value` for the node facts' top-level scalars.
    pub facts: Vec<String>,
    pub hops: u32,
    pub age_ms: i64,
    pub records: usize,
    pub domains: Vec<String>,
    pub unsigned_records: u32,
    pub untrusted_records: u32,
    pub policies_hash: Hash,
    pub carried: Vec<(String, String)>,
}

/// A node's policies: parsed and validated once.
pub struct NodePolicy {
    set: PolicySet,
    library: BTreeMap<String, PolicySet>,
    authorizer: Authorizer,
    /// Object policy sets by hash, parsed once.
    cache: Mutex<HashMap<Hash, Arc<std::result::Result<PolicySet, String>>>>,
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
        Ok(NodePolicy {
            set,
            library: BTreeMap::new(),
            authorizer: Authorizer::new(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Adds a named policy set to the node's library: objects whose context refers to
    /// `name` (a policy reference) are evaluated with it too (it may only forbid, like
    /// the object's own policies). An object that refers to a name the node does not
    /// have is delegated on.
    pub fn with_library(mut self, name: impl Into<String>, text: &str) -> Result<NodePolicy> {
        let name = name.into();
        let set = parse_set(text, &format!("{name}#"), &format!("library policies `{name}`"))?;
        validate(&set, &format!("library policies `{name}`"))?;
        self.library.insert(name, set);
        Ok(self)
    }

    /// Whether the node can resolve a policy reference.
    pub fn resolves(&self, name: &str) -> bool {
        self.library.contains_key(name)
    }

    /// The object's carried policies plus a baseline permit, parsed once per distinct
    /// set.
    fn object_set(&self, facts: &ObjectFacts) -> Arc<std::result::Result<PolicySet, String>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = cache.get(&facts.policies_hash) {
            return s.clone();
        }
        let built = build_object_set(&facts.carried);
        let built = Arc::new(built);
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(facts.policies_hash, built.clone());
        built
    }

    /// Authorises one action: the node's set (default deny), then the object's
    /// policies and the referenced library sets (forbid only).
    pub(crate) fn authorize(
        &self,
        obj: &ObjectFacts,
        refs: &[String],
        node_id: &str,
        node_domain: &str,
        req: &RequestFacts<'_>,
    ) -> PolicyOutcome {
        let request = match request(obj, node_id, node_domain, req) {
            Ok(r) => r,
            Err(e) => return deny(vec![], vec![e]),
        };
        let entities = Entities::empty();
        let response = self.authorizer.is_authorized(&request, &self.set, &entities);
        let mut errors: Vec<String> = response.diagnostics().errors().map(|e| e.to_string()).collect();
        let reasons: Vec<String> = response.diagnostics().reason().map(|p| p.to_string()).collect();
        if response.decision() == CedarDecision::Deny {
            return deny(reasons, errors);
        }
        // The object's own policies and the referenced library sets can only forbid.
        let object = self.object_set(obj);
        let sets: Vec<&PolicySet> = match object.as_ref() {
            Ok(s) => std::iter::once(s).chain(refs.iter().filter_map(|r| self.library.get(r))).collect(),
            Err(e) => return deny(vec![], vec![e.clone()]),
        };
        for (i, set) in sets.iter().enumerate() {
            if i > 0 {
                // Library sets get the baseline too.
                let mut with_base = (*set).clone();
                let _ = with_base.add(baseline());
                let r = self.authorizer.is_authorized(&request, &with_base, &entities);
                if r.decision() == CedarDecision::Deny {
                    return deny(r.diagnostics().reason().map(|p| p.to_string()).collect(), errors);
                }
                errors.extend(r.diagnostics().errors().map(|e| e.to_string()));
                continue;
            }
            let r = self.authorizer.is_authorized(&request, set, &entities);
            if r.decision() == CedarDecision::Deny {
                return deny(r.diagnostics().reason().map(|p| p.to_string()).collect(), errors);
            }
            errors.extend(r.diagnostics().errors().map(|e| e.to_string()));
        }
        PolicyOutcome { decision: PolicyDecision::Allow, policies: reasons, errors }
    }
}

/// Authorises with the object's policies only (a node without a policy set of its own).
pub(crate) fn object_only(
    obj: &ObjectFacts,
    node_id: &str,
    node_domain: &str,
    req: &RequestFacts<'_>,
) -> PolicyOutcome {
    let request = match request(obj, node_id, node_domain, req) {
        Ok(r) => r,
        Err(e) => return deny(vec![], vec![e]),
    };
    let set = match build_object_set(&obj.carried) {
        Ok(s) => s,
        Err(e) => return deny(vec![], vec![e]),
    };
    let r = Authorizer::new().is_authorized(&request, &set, &Entities::empty());
    let reasons: Vec<String> = r.diagnostics().reason().map(|p| p.to_string()).collect();
    let errors: Vec<String> = r.diagnostics().errors().map(|e| e.to_string()).collect();
    match r.decision() {
        CedarDecision::Deny => deny(reasons, errors),
        CedarDecision::Allow => PolicyOutcome {
            decision: PolicyDecision::Allow,
            policies: reasons.into_iter().filter(|p| p != BASELINE).collect(),
            errors,
        },
    }
}

fn baseline() -> Policy {
    Policy::parse(Some(PolicyId::new(BASELINE)), "permit(principal, action, resource);").expect("the baseline parses")
}

/// Checks one carried policy: a single Cedar `forbid` policy.
pub(crate) fn check_carried(id: &str, text: &str) -> std::result::Result<(), String> {
    build_object_set(&[(id.to_owned(), text.to_owned())]).map(|_| ())
}

fn build_object_set(carried: &[(String, String)]) -> std::result::Result<PolicySet, String> {
    let mut set = PolicySet::new();
    for (id, text) in carried {
        let p = Policy::parse(Some(PolicyId::new(id.clone())), text)
            .map_err(|e| format!("object policy `{id}` does not parse as one Cedar policy: {e}"))?;
        if p.effect() != cedar_policy::Effect::Forbid {
            return Err(format!("object policy `{id}` is a permit: an object's policies can only forbid"));
        }
        set.add(p).map_err(|e| format!("object policy `{id}`: {e}"))?;
    }
    set.add(baseline()).map_err(|e| e.to_string())?;
    Ok(set)
}

fn deny(policies: Vec<String>, errors: Vec<String>) -> PolicyOutcome {
    PolicyOutcome { decision: PolicyDecision::Deny, policies, errors }
}

fn uid(ty: &str, id: &str) -> EntityUid {
    let name: EntityTypeName = ty.parse().expect("peo's entity type names parse");
    EntityUid::from_type_name_and_id(name, EntityId::new(id))
}

fn strings(v: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(v.iter().map(|s| RestrictedExpression::new_string(s.clone())))
}

fn request(
    obj: &ObjectFacts,
    node_id: &str,
    node_domain: &str,
    req: &RequestFacts<'_>,
) -> std::result::Result<Request, String> {
    let long = |n: i64| RestrictedExpression::new_long(n);
    let pairs = [
        ("class".to_owned(), RestrictedExpression::new_string(obj.class.clone())),
        ("objective".to_owned(), RestrictedExpression::new_string(obj.objective.clone())),
        ("state".to_owned(), RestrictedExpression::new_string(req.state.to_owned())),
        ("capability".to_owned(), RestrictedExpression::new_string(req.capability.unwrap_or_default().to_owned())),
        ("labels".to_owned(), strings(&obj.labels)),
        ("hops".to_owned(), long(i64::from(obj.hops))),
        ("attempts".to_owned(), long(i64::from(req.attempts))),
        ("age_ms".to_owned(), long(obj.age_ms)),
        ("records".to_owned(), long(obj.records as i64)),
        ("domains".to_owned(), strings(&obj.domains)),
        ("unsigned_records".to_owned(), long(i64::from(obj.unsigned_records))),
        ("untrusted_records".to_owned(), long(i64::from(obj.untrusted_records))),
        ("node_id".to_owned(), RestrictedExpression::new_string(node_id.to_owned())),
        ("node_domain".to_owned(), RestrictedExpression::new_string(node_domain.to_owned())),
        ("advised".to_owned(), RestrictedExpression::new_bool(req.advised)),
        ("attributes".to_owned(), strings(&obj.attributes)),
        ("facts".to_owned(), strings(&obj.facts)),
    ];
    let context = CedarContext::from_pairs(pairs).map_err(|e| format!("building the request context: {e}"))?;
    let resource = match req.capability {
        Some(c) => uid("Peo::Capability", c),
        None => uid("Peo::Node", node_id),
    };
    Request::new(
        uid("Peo::Originator", &obj.principal),
        uid("Peo::Action", req.action.as_str()),
        resource,
        context,
        None,
    )
    .map_err(|e| format!("building the request: {e}"))
}
