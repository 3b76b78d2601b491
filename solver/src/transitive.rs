//! `keyproof who-can ACTION KEY --transitive`: every principal that can perform the action on
//! the key directly or after a path of edges, each with its shortest path.
//!
//! Edges, each decided by the one semantics:
//! - `assume-role` (caller → role): `sts:AssumeRole` through `model::eval::edges` (the caller's
//!   identity side and SCPs, the role's trust policy, the role account's RCPs).
//! - `create-grant` (principal → key): the principal can `kms:CreateGrant` on the key with
//!   itself as `kms:GranteePrincipal` and the action in `kms:GrantOperations` (asked through the
//!   [`Prover`]), and then use the grant: who-can on the snapshot with that grant added.
//! - `put-key-policy` (principal → key): the principal can `kms:PutKeyPolicy`, and then passes
//!   a key policy that allows every KMS action to everyone (who-can on that snapshot: SCPs,
//!   RCPs, identity denies and cross-account rules still apply).
//! - `iam-write` (writer → target): an IAM write in the target's account that gives the target
//!   identity permissions (the target then is asked with an identity policy allowing everything,
//!   still bounded by its boundary, SCPs, RCPs and the key policy); the writer reaches through it
//!   when it is the target or can assume it. `iam:UpdateAssumeRolePolicy` on a role is an edge to
//!   the role as it is (the writer makes the trust policy name it).
//!
//! Request keys the caller sets (`sts:ExternalId`, session tags, `aws:SourceIp`…) are free: an
//! edge is tried without them, then with the values the trust policy's conditions name, and is
//! left `unknown` (never dropped) when its answer could still depend on them.

use crate::domain::{Kind, Member};
use crate::query::{Can, Prover, Witness};
use crate::who_can::{conditions, via, who_can, Allowed, Condition};
use keyproof_model::context::{resolve_principal, Request, ResolvedPrincipal};
use keyproof_model::eval::edges::{decide_assume_outside_role, decide_assume_role, decide_iam_write, OtherRequest};
use keyproof_model::eval::Cited;
use keyproof_model::eval::{Decision, Verdict};
use keyproof_model::principal::NamedPrincipal;
use keyproof_model::reference::{KeyClass, KeySource, KmsAction, Reference, GRANT_OPERATIONS};
use keyproof_model::snapshot::{Grant, Key, NamedPolicy, PolicyId, Role, Snapshot};
use keyproof_parser::json::{parse_json, Reader};
use keyproof_parser::policy::{parse_policy, Policy, PolicyKind};
use keyproof_parser::property::ContextCond;
use keyproof_parser::{Span, Spanned};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The kind of an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    AssumeRole,
    CreateGrant,
    PutKeyPolicy,
    IamWrite,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::AssumeRole => "assume-role",
            EdgeKind::CreateGrant => "create-grant",
            EdgeKind::PutKeyPolicy => "put-key-policy",
            EdgeKind::IamWrite => "iam-write",
        }
    }
}

/// One hop of a path, with the request that makes it (replayed through the evaluator).
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub from: String,
    pub to: String,
    pub edge: EdgeKind,
    /// The statements that allow the hop's request.
    pub via: Vec<Cited>,
    /// What the hop's request context must hold.
    pub conditions: Vec<Condition>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assumptions: Vec<String>,
    /// `sts:AssumeRole` on the role, `kms:CreateGrant` or `kms:PutKeyPolicy` on the key, or the
    /// IAM write on its target (`key` is then the target's ARN).
    pub request: Request,
}

/// A principal that can reach the action.
#[derive(Debug, Clone, Serialize)]
pub struct Reached {
    /// The principal, with the final request's `via`, conditions and context (for a path, the
    /// request of the last principal on it).
    #[serde(flatten)]
    pub allowed: Allowed,
    /// `direct` or `transitive`.
    pub reach: &'static str,
    pub path: Vec<Hop>,
    /// The principal whose request finally performs the action (the last one of the path).
    pub final_principal: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Transitive {
    pub key: String,
    pub action: String,
    pub principals: Vec<Reached>,
    pub accounts: Vec<String>,
    pub public: bool,
    pub unknown: Vec<String>,
    pub max_hops: usize,
    /// The search stopped at `max_hops` with edges left: the answer is `unknown`.
    pub truncated: bool,
    /// Every principal the search asked about (principal, description): one not listed in
    /// `principals` cannot reach the action unless `unknown` or `truncated` says otherwise.
    #[serde(skip)]
    pub members: Vec<(String, String)>,
}

/// The operation a grant gives, as a hypothetical snapshot: the key with one grant of `op` per
/// grantee.
pub fn with_grants(snapshot: &Snapshot, key_arn: &str, grantees: &[String], op: &str) -> Snapshot {
    let mut out = snapshot.clone();
    for (i, g) in grantees.iter().enumerate() {
        let text = format!("{{\"GranteePrincipal\": \"{g}\", \"Operations\": [\"{op}\"]}}");
        let len = text.len();
        let id = out.sources.add(format!("hypothetical grant created by {g}"), text, None);
        let span = Span::new(id, 0, len);
        let grant = Grant {
            id: format!("keyproof-hypothetical-{i}"),
            name: Some(format!("created by {g}")),
            grantee: Spanned::new(g.clone(), span),
            grantee_principal: NamedPrincipal::from_aws(g),
            retiring: None,
            issuing_account: None,
            operations: vec![Spanned::new(op.to_string(), span)],
            context_equals: None,
            context_subset: None,
            span,
        };
        if let Some(k) = out.keys.iter_mut().find(|k| k.arn == key_arn) {
            k.grants.push(grant);
        }
    }
    out
}

fn add_policy(snap: &mut Snapshot, label: &str, text: &str, kind: PolicyKind) -> Result<PolicyId, String> {
    let id = snap.sources.add(label.to_string(), text.to_string(), None);
    let json = parse_json(&snap.sources, id).map_err(|e| e.to_string())?;
    let mut r = Reader::new(&mut snap.sources);
    let policy: Option<Policy> = parse_policy(&mut r, &json, kind);
    r.finish(label).map_err(|e| e.to_string())?;
    let policy = policy.ok_or_else(|| format!("{label} did not parse"))?;
    snap.policies.push(NamedPolicy { label: label.to_string(), document: policy });
    Ok(snap.policies.len() - 1)
}

/// The snapshot after `kms:PutKeyPolicy` by an attacker: the key policy allows every KMS action
/// to everyone.
pub fn with_open_key_policy(snapshot: &Snapshot, key_arn: &str) -> Result<Snapshot, String> {
    let mut out = snapshot.clone();
    let text = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"Rewritten\", \"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Resource\": \"*\"}]}";
    let id = add_policy(
        &mut out,
        &format!("hypothetical key policy of {key_arn} as rewritten by PutKeyPolicy"),
        text,
        PolicyKind::KeyPolicy,
    )?;
    if let Some(k) = out.keys.iter_mut().find(|k| k.arn == key_arn) {
        k.policy = id;
    }
    Ok(out)
}

/// The snapshot after IAM writes: every role and user of a collected account has an identity
/// policy allowing everything (boundaries, SCPs, RCPs and key policies unchanged).
pub fn with_allow_all(snapshot: &Snapshot) -> Result<Snapshot, String> {
    let mut out = snapshot.clone();
    let text = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"Written\", \"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}]}";
    let id = add_policy(&mut out, "hypothetical identity policy written by an IAM write", text, PolicyKind::Identity)?;
    for acc in out.accounts.values_mut() {
        for r in &mut acc.roles {
            r.policies.push(id);
        }
        for u in &mut acc.users {
            u.policies.push(id);
        }
    }
    Ok(out)
}

/// The principals every trust policy names, for the prover's domain.
pub fn trust_principals(snapshot: &Snapshot) -> Vec<String> {
    let mut out = BTreeSet::new();
    for acc in snapshot.accounts.values() {
        for role in &acc.roles {
            let Some(doc) = &role.trust else { continue };
            for stmt in &doc.statements {
                let Some(pe) = &stmt.principal else { continue };
                for e in &pe.entries {
                    if e.kind == keyproof_parser::policy::PrincipalKind::Aws && e.value.value != "*" {
                        out.insert(e.value.value.clone());
                    }
                }
            }
        }
    }
    out.into_iter().collect()
}

/// The final request of a reach: its statements, conditions, context and assumptions.
#[derive(Debug, Clone)]
struct Use {
    principal: String,
    via: Vec<Cited>,
    conditions: Vec<Condition>,
    context: BTreeMap<String, Vec<String>>,
    assumptions: Vec<String>,
}

impl Use {
    fn of(prover: &Prover<'_>, w: &Witness, action: &'static KmsAction, key: &Key) -> Use {
        Use {
            principal: w.request.principal.clone(),
            via: via(w),
            conditions: conditions(prover, w, action, key),
            context: w.request.context.clone(),
            assumptions: w.assumptions.clone(),
        }
    }
}

/// An edge's answer.
enum EdgeAnswer {
    Yes(Box<Hop>),
    Maybe(String),
    No,
}

fn cite(d: &Decision) -> Vec<Cited> {
    let because = d.because();
    // An IAM write has no resource-based policy: its identity statements are the reason.
    let because = if because.is_empty() && d.decision == Verdict::Allow {
        d.trace
            .iter()
            .filter(|t| {
                matches!(t.layer, keyproof_model::eval::Layer::Identity | keyproof_model::eval::Layer::Boundary)
                    && t.outcome == keyproof_model::eval::Outcome::Allows
            })
            .collect()
    } else {
        because
    };
    because.into_iter().map(|t| t.cite()).collect()
}

fn outside_only(d: &Decision) -> bool {
    !d.unknown.is_empty() && d.unknown.iter().all(|r| keyproof_model::context::is_outside_reason(r))
}

/// The request keys a caller of `action` sets itself that some policy's condition reads.
fn free_keys(snapshot: &Snapshot, action: &'static KmsAction) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut visit = |p: &Policy| {
        for s in &p.statements {
            for c in &s.conditions {
                let k = c.key.value.to_ascii_lowercase();
                let free = match Reference::get().classify(&k, action) {
                    KeyClass::Known(info) => info.source == KeySource::Request,
                    _ => false,
                };
                if free && k != "aws:securetransport" {
                    out.insert(c.key.value.clone());
                }
            }
        }
    };
    for p in &snapshot.policies {
        visit(&p.document);
    }
    for acc in snapshot.accounts.values() {
        for r in &acc.roles {
            if let Some(t) = &r.trust {
                visit(t);
            }
        }
    }
    out.insert("aws:RequestedRegion".to_string());
    out.into_iter().collect()
}

/// Values the trust policy's conditions name for the free keys: the caller can send them.
fn trust_values(role: &Role, free: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Some(doc) = &role.trust else { return out };
    for s in &doc.statements {
        for c in &s.conditions {
            let Some(k) = free.iter().find(|f| f.eq_ignore_ascii_case(&c.key.value)) else { continue };
            if k.eq_ignore_ascii_case("aws:RequestedRegion") {
                continue;
            }
            if let Some(v) = c.values.first() {
                out.entry(k.clone()).or_insert_with(|| vec![v.value.clone()]);
            }
        }
    }
    out
}

/// A request context as given.
type Given = BTreeMap<String, Vec<String>>;

/// One edge: the decision without free keys, then with the trust's values, then with every
/// free key open.
fn edge(
    decide: &dyn Fn(&Given, &[String]) -> Option<Decision>,
    tries: &[Given],
    free: &[String],
    make: &dyn Fn(Decision, &Given) -> Hop,
) -> EdgeAnswer {
    for given in tries {
        let Some(d) = decide(given, &[]) else { continue };
        if d.decision == Verdict::Allow || (d.decision == Verdict::Unknown && outside_only(&d)) {
            return EdgeAnswer::Yes(Box::new(make(d, given)));
        }
    }
    match decide(&BTreeMap::new(), free) {
        Some(d) if matches!(d.decision, Verdict::Allow | Verdict::Unknown) => {
            EdgeAnswer::Maybe(if d.unknown.is_empty() {
                "a value the caller sets may allow it".into()
            } else {
                d.unknown.join("; ")
            })
        }
        Some(_) => EdgeAnswer::No,
        None => EdgeAnswer::Maybe("the request could not be decided".into()),
    }
}

fn hop_conditions(given: &BTreeMap<String, Vec<String>>) -> Vec<Condition> {
    given.iter().map(|(k, v)| Condition::equals(k, v)).collect()
}

/// `from` assumes `role`.
/// `from` assumes `role`; with `session`, a session of that name (the caller picks
/// `sts:RoleSessionName`), which is then the principal the edge leads to.
fn assume_edge(
    snapshot: &Snapshot,
    from: &Member,
    p: &ResolvedPrincipal<'_>,
    (role, session): (&Role, Option<&str>),
    region: &str,
    free: &[String],
) -> EdgeAnswer {
    let mut base = Given::new();
    if let Some(name) = session {
        base.insert("sts:RoleSessionName".into(), vec![name.to_string()]);
    }
    let mut with_trust = trust_values(role, free);
    with_trust.retain(|k, _| !(session.is_some() && k.eq_ignore_ascii_case("sts:RoleSessionName")));
    with_trust.extend(base.clone());
    let tries: Vec<Given> = if with_trust == base { vec![base.clone()] } else { vec![base.clone(), with_trust] };
    let to = match session {
        Some(name) => format!("arn:aws:sts::{}:assumed-role/{}/{name}", role.account, role.name),
        None => role.arn.clone(),
    };
    let free: Vec<String> = match session {
        Some(_) => free.iter().filter(|k| !k.eq_ignore_ascii_case("sts:RoleSessionName")).cloned().collect(),
        None => free.to_vec(),
    };
    let decide = |given: &BTreeMap<String, Vec<String>>, open: &[String]| {
        decide_assume_role(snapshot, p, role, region, given, open).ok()
    };
    let make = |d: Decision, given: &BTreeMap<String, Vec<String>>| Hop {
        from: from.principal.clone(),
        to: to.clone(),
        edge: EdgeKind::AssumeRole,
        via: cite(&d),
        conditions: hop_conditions(given),
        assumptions: if d.decision == Verdict::Unknown { d.unknown.clone() } else { Vec::new() },
        request: Request {
            principal: from.principal.clone(),
            action: "sts:AssumeRole".into(),
            key: role.arn.clone(),
            context: given.clone(),
        },
    };
    let open_decide = |given: &Given, open: &[String]| {
        let mut g = given.clone();
        g.extend(base.clone());
        decide(&g, open)
    };
    edge(&open_decide, &tries, &free, &make)
}

/// `from` assumes `role_arn`, a role of the account `account` that was not collected.
fn outside_edge(
    snapshot: &Snapshot,
    from: &Member,
    p: &ResolvedPrincipal<'_>,
    (role_arn, account): (&str, &str),
    region: &str,
    free: &[String],
) -> EdgeAnswer {
    let decide = |given: &Given, open: &[String]| {
        let req = OtherRequest {
            action: "sts:AssumeRole",
            resource: role_arn,
            resource_account: account,
            region,
            context: given,
            open,
        };
        decide_assume_outside_role(snapshot, p, &req).ok()
    };
    let make = |d: Decision, given: &Given| Hop {
        from: from.principal.clone(),
        to: role_arn.to_string(),
        edge: EdgeKind::AssumeRole,
        via: cite(&d),
        conditions: hop_conditions(given),
        assumptions: if d.decision == Verdict::Unknown { d.unknown.clone() } else { Vec::new() },
        request: Request {
            principal: from.principal.clone(),
            action: "sts:AssumeRole".into(),
            key: role_arn.to_string(),
            context: given.clone(),
        },
    };
    edge(&decide, &[Given::new()], free, &make)
}

/// The roles of accounts that were not collected a path may go through: each role such a
/// member names, and for "any principal of account A" the role ARNs of A that identity
/// policies' `Resource` elements name (without wildcards) and a stand-in for any other.
fn outside_roles(snapshot: &Snapshot, members: &[Member]) -> Vec<(usize, String, String)> {
    let mut named: BTreeSet<String> = BTreeSet::new();
    for p in &snapshot.policies {
        for s in &p.document.statements {
            let Some(r) = &s.resource else { continue };
            for v in &r.values {
                if v.value.starts_with("arn:aws:iam::") && v.value.contains(":role/") && !v.value.contains(['*', '?']) {
                    named.insert(v.value.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    for (i, m) in members.iter().enumerate() {
        match &m.kind {
            Kind::AnyOf(a) => {
                out.push((i, m.principal.clone(), a.clone()));
                for arn in named.iter().filter(|arn| arn.split(':').nth(4) == Some(a.as_str())) {
                    if !members.iter().any(|o| &o.principal == arn) {
                        out.push((i, arn.clone(), a.clone()));
                    }
                }
            }
            Kind::NamedOutside if m.principal.contains(":role/") => {
                if let Some(a) = &m.account {
                    out.push((i, m.principal.clone(), a.clone()));
                }
            }
            _ => {}
        }
    }
    out
}

/// `from` performs the IAM write `action` on `resource` of `account`, to `to`.
#[allow(clippy::too_many_arguments, reason = "one edge's whole question")]
fn iam_edge(
    snapshot: &Snapshot,
    from: &Member,
    p: &ResolvedPrincipal<'_>,
    action: &str,
    resource: &str,
    account: &str,
    to: &str,
    region: &str,
    free: &[String],
) -> EdgeAnswer {
    let decide = |given: &BTreeMap<String, Vec<String>>, open: &[String]| {
        let req = OtherRequest { action, resource, resource_account: account, region, context: given, open };
        decide_iam_write(snapshot, p, &req).ok()
    };
    let make = |d: Decision, given: &BTreeMap<String, Vec<String>>| Hop {
        from: from.principal.clone(),
        to: to.to_string(),
        edge: EdgeKind::IamWrite,
        via: cite(&d),
        conditions: hop_conditions(given),
        assumptions: if d.decision == Verdict::Unknown { d.unknown.clone() } else { Vec::new() },
        request: Request {
            principal: from.principal.clone(),
            action: action.to_string(),
            key: resource.to_string(),
            context: given.clone(),
        },
    };
    let free: Vec<String> = free.iter().filter(|k| k.to_ascii_lowercase().starts_with("aws:")).cloned().collect();
    edge(&decide, &[BTreeMap::new()], &free, &make)
}

/// Whether some allowing statement of the role's trust policy may name a principal of
/// `account`: `"*"`, a `NotPrincipal`, the account, an ARN in it, or a unique id. When none
/// does, no trust statement matches the caller and the edge is not asked (a shortcut that
/// changes no answer: the trust layer would find no statement naming it).
fn trust_may_name(role: &Role, account: Option<&str>) -> bool {
    let Some(doc) = &role.trust else { return false };
    doc.statements.iter().filter(|s| s.effect.value == keyproof_parser::policy::Effect::Allow).any(|s| {
        let Some(pe) = &s.principal else { return false };
        if pe.negated {
            return true;
        }
        pe.entries.iter().any(|e| match e.kind {
            keyproof_parser::policy::PrincipalKind::Everyone => true,
            keyproof_parser::policy::PrincipalKind::Aws => match NamedPrincipal::from_aws(&e.value.value) {
                NamedPrincipal::Everyone | NamedPrincipal::UniqueId(_) => true,
                NamedPrincipal::Account(a) => Some(a.as_str()) == account,
                NamedPrincipal::Arn(arn) => arn.split(':').nth(4) == account,
                NamedPrincipal::Service(_) | NamedPrincipal::Other(_) => false,
            },
            _ => false,
        })
    })
}

/// Whether some role's trust policy may let in a caller of an account `outside` accepts: an
/// allowing statement with `"*"`, a `NotPrincipal`, a unique id, or an account or ARN of such an
/// account. A path starts with an edge from its first principal; for a principal of an account
/// that was not collected that edge can only be an assume-role (it has no IAM in the snapshot
/// to write, and what it can do on the key itself is a direct answer), so without such a trust
/// statement no path starts there.
pub fn trust_may_admit(snapshot: &Snapshot, outside: impl Fn(&str) -> bool) -> bool {
    snapshot.accounts.values().flat_map(|a| a.roles.iter()).any(|role| {
        let Some(doc) = &role.trust else { return false };
        doc.statements.iter().filter(|s| s.effect.value == keyproof_parser::policy::Effect::Allow).any(|s| {
            let Some(pe) = &s.principal else { return false };
            pe.negated
                || pe.entries.iter().any(|e| match e.kind {
                    keyproof_parser::policy::PrincipalKind::Everyone => true,
                    keyproof_parser::policy::PrincipalKind::Aws => match NamedPrincipal::from_aws(&e.value.value) {
                        NamedPrincipal::Everyone | NamedPrincipal::UniqueId(_) => true,
                        NamedPrincipal::Account(a) => outside(&a),
                        NamedPrincipal::Arn(arn) => arn.split(':').nth(4).is_some_and(&outside),
                        NamedPrincipal::Service(_) | NamedPrincipal::Other(_) => false,
                    },
                    _ => false,
                })
        })
    })
}

fn grantee_of(m: &Member) -> Option<String> {
    match &m.kind {
        Kind::Service | Kind::AnyOtherService => None,
        Kind::AnyOf(a) => Some(format!("arn:aws:iam::{a}:root")),
        Kind::AnyOtherAccount => Some(format!("arn:aws:iam::{}:root", crate::domain::OTHER_ACCOUNT)),
        _ => Some(m.principal.clone()),
    }
}

fn cond(k: &str, v: &str) -> ContextCond {
    ContextCond::In {
        key: Spanned::new(k.to_string(), Span::default()),
        values: vec![Spanned::new(v.to_string(), Span::default())],
    }
}

/// What a node can do at the key: perform the action directly (no hop), or after creating a
/// grant or rewriting the key policy (one hop).
type Base = (Vec<Hop>, Use);

/// The base capabilities of `members` on `snapshot`: direct, create-grant, put-key-policy.
/// Unknown answers go to `unknown` by member index.
fn capabilities(
    prover: &Prover<'_>,
    extras: &[String],
    timeout: u32,
    members: &[(usize, Member)],
    action: &'static KmsAction,
    key_arn: &str,
    unknown: &mut HashMap<usize, String>,
) -> Result<HashMap<usize, Base>, String> {
    let mut out: HashMap<usize, Base> = HashMap::new();
    let snapshot = prover.snapshot;
    let key = snapshot.key(key_arn).map_err(|e| e.to_string())?;
    let answers: Vec<(usize, Can, Option<Use>)> = members
        .par_iter()
        .map(|(i, m)| {
            let a = prover.can(m, action, key, None);
            let u = match &a {
                Can::Yes(w) => Some(Use::of(prover, w, action, key)),
                _ => None,
            };
            (*i, a, u)
        })
        .collect();
    for (i, a, u) in answers {
        match (a, u) {
            (Can::Yes(_), Some(u)) => {
                out.insert(i, (Vec::new(), u));
            }
            (Can::Unknown(why), _) => {
                unknown.insert(i, why);
            }
            (Can::Internal(why), _) => return Err(why),
            _ => {}
        }
    }
    let reference = Reference::get();
    let rest: Vec<&(usize, Member)> = members.iter().filter(|(i, _)| !out.contains_key(i)).collect();
    // create-grant
    if GRANT_OPERATIONS.contains(&action.name.as_str()) {
        if let Some(cg) = reference.action("kms:CreateGrant") {
            let hops: Vec<(usize, Member, String, Can)> = rest
                .par_iter()
                .filter_map(|(i, m)| {
                    let g = grantee_of(m)?;
                    let c = ContextCond::And(
                        Box::new(cond("kms:GrantOperations", &action.name)),
                        Box::new(cond("kms:GranteePrincipal", &g)),
                    );
                    Some((*i, m.clone(), g, prover.can(m, cg, key, Some(&c))))
                })
                .collect();
            let granted: Vec<String> =
                hops.iter().filter(|h| matches!(h.3, Can::Yes(_))).map(|h| h.2.clone()).collect();
            if !granted.is_empty() {
                let g_snap = with_grants(snapshot, key_arn, &granted, &action.name);
                let g_prover = Prover::new(&g_snap, timeout, extras);
                let g_key = g_snap.key(key_arn).map_err(|e| e.to_string())?;
                for (i, m, _, a) in &hops {
                    let Can::Yes(w) = a else { continue };
                    match g_prover.can(m, action, g_key, None) {
                        Can::Yes(w2) => {
                            // The grant gives exactly the action: the request says so, replayed.
                            let mut request = w.request.clone();
                            request.context.retain(|k, _| !k.eq_ignore_ascii_case("kms:GrantOperations"));
                            request.context.insert("kms:GrantOperations".into(), vec![action.name.clone()]);
                            let (shown, cited) = match keyproof_model::decide(snapshot, &request) {
                                Ok(d) if d.decision == Verdict::Allow || outside_only(&d) => {
                                    let cited = cite(&d);
                                    (Witness { request, decision: d, ..(**w).clone() }, cited)
                                }
                                _ => ((**w).clone(), via(w)),
                            };
                            let hop = Hop {
                                from: m.principal.clone(),
                                to: key_arn.to_string(),
                                edge: EdgeKind::CreateGrant,
                                via: cited,
                                conditions: conditions(prover, &shown, cg, key),
                                assumptions: w.assumptions.clone(),
                                request: shown.request.clone(),
                            };
                            out.insert(*i, (vec![hop], Use::of(&g_prover, &w2, action, g_key)));
                        }
                        Can::Unknown(why) => {
                            unknown.insert(*i, format!("after creating a grant: {why}"));
                        }
                        Can::Internal(why) => return Err(why),
                        Can::No => {}
                    }
                }
            }
            for (i, _, _, a) in hops {
                if let Can::Unknown(why) = a {
                    unknown.entry(i).or_insert(format!("kms:CreateGrant: {why}"));
                }
            }
        }
    }
    // put-key-policy
    let rest: Vec<&(usize, Member)> = members.iter().filter(|(i, _)| !out.contains_key(i)).collect();
    if let Some(pkp) = reference.action("kms:PutKeyPolicy") {
        let hops: Vec<(usize, Member, Can)> =
            rest.par_iter().map(|(i, m)| (*i, m.clone(), prover.can(m, pkp, key, None))).collect();
        if hops.iter().any(|h| matches!(h.2, Can::Yes(_))) {
            let k_snap = with_open_key_policy(snapshot, key_arn)?;
            let k_prover = Prover::new(&k_snap, timeout, extras);
            let k_key = k_snap.key(key_arn).map_err(|e| e.to_string())?;
            for (i, m, a) in &hops {
                let Can::Yes(w) = a else { continue };
                match k_prover.can(m, action, k_key, None) {
                    Can::Yes(w2) => {
                        let hop = Hop {
                            from: m.principal.clone(),
                            to: key_arn.to_string(),
                            edge: EdgeKind::PutKeyPolicy,
                            via: via(w),
                            conditions: conditions(prover, w, pkp, key),
                            assumptions: w.assumptions.clone(),
                            request: w.request.clone(),
                        };
                        out.insert(*i, (vec![hop], Use::of(&k_prover, &w2, action, k_key)));
                        unknown.remove(i);
                    }
                    Can::Unknown(why) => {
                        unknown.insert(*i, format!("after rewriting the key policy: {why}"));
                    }
                    Can::Internal(why) => return Err(why),
                    Can::No => {}
                }
            }
        }
        for (i, _, a) in hops {
            if let Can::Unknown(why) = a {
                unknown.entry(i).or_insert(format!("kms:PutKeyPolicy: {why}"));
            }
        }
    }
    for i in out.keys() {
        unknown.remove(i);
    }
    Ok(out)
}

/// A graph edge: `from` reaches what `to` reaches, through `hops`.
struct Edge {
    from: usize,
    to: usize,
    hops: Vec<Hop>,
}

fn is_caller(m: &Member) -> bool {
    !matches!(m.kind, Kind::Service | Kind::AnyOtherService | Kind::AnyFederatedUser(_))
        && !m.principal.ends_with(":root")
}

/// Answers who can perform `action` on `key`, directly or through at most `max_hops` edges.
pub fn transitive(
    snapshot: &Snapshot,
    timeout: u32,
    action: &'static KmsAction,
    key_arn: &str,
    max_hops: usize,
) -> Result<Transitive, String> {
    transitive_with(snapshot, timeout, action, key_arn, max_hops, &[])
}

/// [`transitive`] with more principals in the domain (those a property names).
pub fn transitive_with(
    snapshot: &Snapshot,
    timeout: u32,
    action: &'static KmsAction,
    key_arn: &str,
    max_hops: usize,
    more: &[String],
) -> Result<Transitive, String> {
    let mut extras = trust_principals(snapshot);
    for p in more {
        if !extras.contains(p) {
            extras.push(p.clone());
        }
    }
    let prover = Prover::new(snapshot, timeout, &extras);
    let key = snapshot.key(key_arn).map_err(|e| e.to_string())?;
    let members: Vec<Member> = prover.members().to_vec();
    let direct = who_can(&prover, &members, action, key)?;
    let n = members.len();
    let index: HashMap<&str, usize> = members.iter().enumerate().map(|(i, m)| (m.principal.as_str(), i)).collect();
    let mut unknown_at: HashMap<usize, String> = HashMap::new();
    let indexed: Vec<(usize, Member)> = members.iter().cloned().enumerate().collect();
    let base = capabilities(&prover, &extras, timeout, &indexed, action, key_arn, &mut unknown_at)?;
    // The targets of IAM writes (roles and users of collected accounts), as boosted nodes n + t.
    let roles: Vec<&Role> = snapshot.accounts.values().flat_map(|a| a.roles.iter()).collect();
    let users: Vec<&keyproof_model::snapshot::User> = snapshot.accounts.values().flat_map(|a| a.users.iter()).collect();
    let targets: Vec<(usize, Member)> = members
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            m.kind == Kind::Snapshot
                && (roles.iter().any(|r| r.arn == m.principal) || users.iter().any(|u| u.arn == m.principal))
        })
        .map(|(i, m)| (i, m.clone()))
        .collect();
    let boosted = with_allow_all(snapshot)?;
    let boosted_members: Vec<(usize, Member)> =
        targets.iter().enumerate().map(|(t, (_, m))| (n + t, m.clone())).collect();
    let mut boosted_unknown = HashMap::new();
    let boosted_prover = Prover::new(&boosted, timeout, &extras);
    let boosted_base =
        capabilities(&boosted_prover, &extras, timeout, &boosted_members, action, key_arn, &mut boosted_unknown)?;
    unknown_at.extend(boosted_unknown);
    let mut base = base;
    base.extend(boosted_base);
    // Edges.
    let sts = Reference::get().other_action("sts:AssumeRole").ok_or("sts:AssumeRole is not in the reference")?;
    let free = free_keys(snapshot, sts);
    let region = key.region.clone();
    let role_nodes: Vec<(usize, &Role)> =
        roles.iter().filter_map(|r| index.get(r.arn.as_str()).map(|i| (*i, *r))).collect();
    let callers: Vec<(usize, &Member)> = members.iter().enumerate().filter(|(_, m)| is_caller(m)).collect();
    // Sessions the policies name (`arn:aws:sts::A:assumed-role/R/S`): whoever assumes R can pick
    // the session name S.
    let session_nodes: Vec<(usize, &Role, String)> = members
        .iter()
        .enumerate()
        .filter_map(|(i, m)| match keyproof_model::principal::PrincipalRef::parse(&m.principal) {
            Ok(keyproof_model::principal::PrincipalRef::Session { account, role, session }) => {
                let r = roles.iter().find(|r| r.account == account && r.name == role)?;
                Some((i, *r, session))
            }
            _ => None,
        })
        .collect();
    let outside = outside_roles(snapshot, &members);
    let mut edges: Vec<Edge> = Vec::new();
    let mut maybe: Vec<(usize, usize, String)> = Vec::new();
    let answers: Vec<(usize, usize, EdgeAnswer)> = callers
        .par_iter()
        .flat_map_iter(|(ci, c)| {
            let p = resolve_principal(snapshot, &c.principal);
            let mut out = Vec::new();
            if let Ok(p) = p {
                for (ri, r) in &role_nodes {
                    if ri == ci {
                        continue;
                    }
                    if trust_may_name(r, c.account.as_deref()) {
                        out.push((*ci, *ri, assume_edge(snapshot, c, &p, (r, None), &region, &free)));
                    }
                    for (si, sr, name) in &session_nodes {
                        if sr.arn == r.arn && si != ci && trust_may_name(r, c.account.as_deref()) {
                            out.push((*ci, *si, assume_edge(snapshot, c, &p, (r, Some(name)), &region, &free)));
                        }
                    }
                    if c.account.as_deref() == Some(r.account.as_str()) {
                        out.push((
                            *ci,
                            *ri,
                            iam_edge(
                                snapshot,
                                c,
                                &p,
                                "iam:UpdateAssumeRolePolicy",
                                &r.arn,
                                &r.account,
                                &r.arn,
                                &region,
                                &free,
                            ),
                        ));
                    }
                }
                // Only a caller whose own policies the snapshot holds: a path from one account
                // that was not collected into another would stack assumption on assumption.
                for (oi, arn, account) in outside.iter().filter(|_| p.identity_known) {
                    if oi != ci && c.account.as_deref() != Some(account.as_str()) {
                        out.push((*ci, *oi, outside_edge(snapshot, c, &p, (arn, account), &region, &free)));
                    }
                }
            }
            out
        })
        .collect();
    let mut assumes: BTreeMap<(usize, usize), Hop> = BTreeMap::new();
    for (from, to, a) in answers {
        match a {
            EdgeAnswer::Yes(h) => {
                if h.edge == EdgeKind::AssumeRole {
                    assumes.insert((from, to), (*h).clone());
                }
                edges.push(Edge { from, to, hops: vec![*h] });
            }
            EdgeAnswer::Maybe(why) => maybe.push((from, to, why)),
            EdgeAnswer::No => {}
        }
    }
    // IAM writes: writer → boosted target, when the writer is the target or can assume it.
    let write_answers: Vec<(usize, usize, EdgeAnswer, Option<Hop>)> = callers
        .par_iter()
        .flat_map_iter(|(ci, c)| {
            let mut out = Vec::new();
            let Ok(p) = resolve_principal(snapshot, &c.principal) else { return out };
            for (t, (ti, tm)) in targets.iter().enumerate() {
                if tm.account != c.account {
                    continue;
                }
                let then = if ti == ci {
                    None
                } else if let Some(h) = assumes.get(&(*ci, *ti)) {
                    Some(h.clone())
                } else {
                    continue;
                };
                let account = tm.account.clone().unwrap_or_default();
                let mut found = EdgeAnswer::No;
                for (act, res) in write_targets(snapshot, &tm.principal, &account) {
                    match iam_edge(snapshot, c, &p, act, &res, &account, &tm.principal, &region, &free) {
                        EdgeAnswer::Yes(h) => {
                            found = EdgeAnswer::Yes(h);
                            break;
                        }
                        EdgeAnswer::Maybe(w) => found = EdgeAnswer::Maybe(w),
                        EdgeAnswer::No => {}
                    }
                }
                out.push((*ci, n + t, found, then.clone()));
            }
            out
        })
        .collect();
    for (from, to, a, then) in write_answers {
        match a {
            EdgeAnswer::Yes(h) => {
                let mut hops = vec![*h];
                hops.extend(then);
                edges.push(Edge { from, to, hops });
            }
            EdgeAnswer::Maybe(why) => maybe.push((from, to, why)),
            EdgeAnswer::No => {}
        }
    }
    // Boosted targets assume roles too (with their written permissions).
    let boosted_answers: Vec<(usize, usize, EdgeAnswer)> = targets
        .par_iter()
        .enumerate()
        .flat_map_iter(|(t, (ti, tm))| {
            let mut out = Vec::new();
            let Ok(p) = resolve_principal(&boosted, &tm.principal) else { return out };
            for (ri, r) in &role_nodes {
                if ri == ti {
                    continue;
                }
                let Some(br) = boosted.account(&r.account).and_then(|a| a.role(&r.name)) else { continue };
                if trust_may_name(br, tm.account.as_deref()) {
                    out.push((n + t, *ri, assume_edge(&boosted, tm, &p, (br, None), &region, &free)));
                    for (si, sr, name) in &session_nodes {
                        if sr.arn == r.arn {
                            out.push((n + t, *si, assume_edge(&boosted, tm, &p, (br, Some(name)), &region, &free)));
                        }
                    }
                }
            }
            out
        })
        .collect();
    for (from, to, a) in boosted_answers {
        match a {
            EdgeAnswer::Yes(h) => edges.push(Edge { from, to, hops: vec![*h] }),
            EdgeAnswer::Maybe(why) => maybe.push((from, to, why)),
            EdgeAnswer::No => {}
        }
    }
    // Shortest paths: relax edges until nothing changes (paths of at most max_hops hops).
    let mut best: HashMap<usize, (Vec<Hop>, usize)> = HashMap::new(); // node → (path, base node)
    let mut truncated = false;
    for (i, (hops, _)) in &base {
        if hops.len() <= max_hops {
            best.insert(*i, (hops.clone(), *i));
        } else {
            truncated = true;
        }
    }
    loop {
        let mut changed = false;
        for e in &edges {
            let Some((path, end)) = best.get(&e.to) else { continue };
            let len = e.hops.len() + path.len();
            if best.get(&e.from).is_some_and(|(p, _)| p.len() <= len) {
                continue;
            }
            if len > max_hops {
                truncated = true;
                continue;
            }
            let mut p = e.hops.clone();
            p.extend(path.iter().cloned());
            let end = *end;
            best.insert(e.from, (p, end));
            changed = true;
        }
        if !changed {
            break;
        }
    }
    // A truncation only matters if it leaves someone out.
    // (An edge into a reached node whose caller is not reached was cut: relaxing it would
    // otherwise have reached the caller. A cut written-permissions node counts too, since its
    // writers may then be missing.)
    if truncated {
        truncated = edges.iter().any(|e| best.contains_key(&e.to) && !best.contains_key(&e.from))
            || base.iter().any(|(i, (h, _))| h.len() > max_hops && !best.contains_key(i));
    }
    // Who may reach: through uncertain edges or unknown capabilities.
    let mut may: BTreeMap<usize, String> = BTreeMap::new();
    for (i, why) in &unknown_at {
        if !best.contains_key(i) {
            may.insert(*i, why.clone());
        }
    }
    loop {
        let mut changed = false;
        for (from, to, why) in &maybe {
            if best.contains_key(from) || may.contains_key(from) {
                continue;
            }
            if best.contains_key(to) || may.contains_key(to) {
                let to_name = node_name(&members, &targets, n, *to);
                may.insert(*from, format!("the edge to {to_name} may exist: {why}"));
                changed = true;
            }
        }
        for e in &edges {
            if best.contains_key(&e.from) || may.contains_key(&e.from) {
                continue;
            }
            if let Some(w) = may.get(&e.to) {
                let w = format!("through {}: {w}", node_name(&members, &targets, n, e.to));
                may.insert(e.from, w);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // The answer.
    let mut out = Transitive {
        key: direct.key.clone(),
        action: direct.action.clone(),
        principals: Vec::new(),
        accounts: direct.accounts.clone(),
        public: direct.public,
        unknown: direct.unknown.clone(),
        max_hops,
        truncated,
        members: members.iter().map(|m| (m.principal.clone(), m.describe())).collect(),
    };
    let direct_by: HashMap<String, &Allowed> = direct.principals.iter().map(|a| (a.description.clone(), a)).collect();
    for (i, m) in members.iter().enumerate() {
        if let Some(a) = direct_by.get(&m.describe()) {
            out.principals.push(Reached {
                allowed: (*a).clone(),
                reach: "direct",
                path: Vec::new(),
                final_principal: a.principal.clone(),
            });
            continue;
        }
        let Some((path, end)) = best.get(&i) else {
            if let Some(why) = may.get(&i) {
                let line = format!("{}: {why}", m.describe());
                if !out.unknown.contains(&line) {
                    out.unknown.push(line);
                }
            }
            continue;
        };
        let Some((_, u)) = base.get(end) else { continue };
        let mut assumptions: Vec<String> = Vec::new();
        for h in path {
            for a in &h.assumptions {
                if !assumptions.contains(a) {
                    assumptions.push(a.clone());
                }
            }
        }
        for a in &u.assumptions {
            if !assumptions.contains(a) {
                assumptions.push(a.clone());
            }
        }
        match &m.kind {
            Kind::AnyOf(acct) if !out.accounts.contains(acct) => out.accounts.push(acct.clone()),
            Kind::AnyOtherAccount => out.public = true,
            _ => {}
        }
        out.principals.push(Reached {
            allowed: Allowed {
                principal: m.principal.clone(),
                account: m.account.clone().filter(|a| a != crate::domain::OTHER_ACCOUNT),
                kind: crate::who_can::kind_name(&m.kind),
                description: m.describe(),
                via: u.via.clone(),
                conditions: u.conditions.clone(),
                example_context: u.context.clone(),
                assumptions,
            },
            reach: if path.is_empty() { "direct" } else { "transitive" },
            path: path.clone(),
            // A path into "any principal of account A" through a role of A that was named: that
            // role makes the last request.
            final_principal: match (path.last(), members.get(*end).map(|e| &e.kind)) {
                (Some(h), Some(Kind::AnyOf(_))) if h.edge == EdgeKind::AssumeRole => h.to.clone(),
                _ => u.principal.clone(),
            },
        });
    }
    if out.truncated {
        out.unknown.push(format!(
            "the search stopped at --max-hops {max_hops} with edges left to follow: principals further away are not listed"
        ));
    }
    Ok(out)
}

fn node_name(members: &[Member], targets: &[(usize, Member)], n: usize, i: usize) -> String {
    if i < n {
        members.get(i).map(|m| m.describe()).unwrap_or_default()
    } else {
        targets.get(i - n).map(|(_, m)| format!("{} (with written IAM policies)", m.principal)).unwrap_or_default()
    }
}

/// The IAM writes that give `target` identity permissions, with the resource each acts on.
fn write_targets(snapshot: &Snapshot, target: &str, account: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let Some(acc) = snapshot.account(account) else { return out };
    let managed = |ids: &[PolicyId]| -> Vec<String> {
        ids.iter()
            .filter_map(|id| snapshot.policy(*id).label.strip_prefix("managed policy ").map(str::to_string))
            .filter(|arn| arn.starts_with(&format!("arn:aws:iam::{account}:policy/")))
            .collect()
    };
    if let Some(r) = acc.roles.iter().find(|r| r.arn == target) {
        out.push(("iam:PutRolePolicy", r.arn.clone()));
        out.push(("iam:AttachRolePolicy", r.arn.clone()));
        for arn in managed(&r.policies) {
            out.push(("iam:CreatePolicyVersion", arn.clone()));
            out.push(("iam:SetDefaultPolicyVersion", arn));
        }
    }
    if let Some(u) = acc.users.iter().find(|u| u.arn == target) {
        out.push(("iam:PutUserPolicy", u.arn.clone()));
        out.push(("iam:AttachUserPolicy", u.arn.clone()));
        for g in &u.groups {
            let arn = format!("arn:aws:iam::{account}:group/{g}");
            out.push(("iam:PutGroupPolicy", arn.clone()));
            out.push(("iam:AttachGroupPolicy", arn));
        }
        for arn in managed(&u.policies) {
            out.push(("iam:CreatePolicyVersion", arn.clone()));
            out.push(("iam:SetDefaultPolicyVersion", arn));
        }
    }
    out
}

/// A node of the reachability picture: a principal or the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node(pub String);

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An edge of the picture: its kind and the first statement that allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(pub String);

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The statement an edge is labelled with: the resource side's (key policy, trust policy,
/// grant) when there is one, else the first; without its location.
fn short(via: &[Cited]) -> String {
    let names: Vec<String> = via.iter().map(Cited::name).collect();
    let resource_side =
        |v: &&String| v.starts_with("key policy") || v.starts_with("trust policy") || v.starts_with("grant");
    names.iter().find(resource_side).or(names.first()).cloned().unwrap_or_default()
}

/// The answer as a graph: every principal on a path and the key as nodes; every hop, and each
/// last principal's own request on the key (`allowed`), as labelled edges. Deterministic: nodes
/// and edges in the order of the answer.
pub fn graph(t: &Transitive) -> petgraph::Graph<Node, Label> {
    let mut g = petgraph::Graph::new();
    let mut nodes: HashMap<String, petgraph::graph::NodeIndex> = HashMap::new();
    let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut node = |g: &mut petgraph::Graph<Node, Label>, name: &str| {
        *nodes.entry(name.to_string()).or_insert_with(|| g.add_node(Node(name.to_string())))
    };
    let key = node(&mut g, &format!("key {}", t.key));
    for p in &t.principals {
        // A representative ("any principal of account A") is drawn as what it stands for.
        let rep = matches!(p.allowed.kind, "account" | "any-account" | "federated-user");
        let start = if rep { p.allowed.description.clone() } else { p.allowed.principal.clone() };
        let name = |arn: &str| if arn == p.allowed.principal { start.clone() } else { arn.to_string() };
        node(&mut g, &start);
        for h in &p.path {
            let (from, to) = (name(&h.from), name(&h.to));
            let label = format!("{}: {}", h.edge.as_str(), short(&h.via));
            if !seen.insert((from.clone(), to.clone(), label.clone())) {
                continue;
            }
            let a = node(&mut g, &from);
            let b = if h.to == t.key { key } else { node(&mut g, &to) };
            g.add_edge(a, b, Label(label));
        }
        let last = if p.path.is_empty() { start.clone() } else { name(&p.final_principal) };
        let label = format!("{} allowed: {}", t.action, short(&p.allowed.via));
        if seen.insert((last.clone(), t.key.clone(), label.clone())) {
            let a = node(&mut g, &last);
            g.add_edge(a, key, Label(label));
        }
    }
    g
}

/// The picture in Graphviz DOT (petgraph's writer).
pub fn to_dot(t: &Transitive) -> String {
    let g = graph(t);
    format!("{}", petgraph::dot::Dot::new(&g))
}

/// The picture as a Mermaid flowchart (renders in GitHub comments and Markdown).
pub fn to_mermaid(t: &Transitive) -> String {
    let g = graph(t);
    let esc = |s: &str| s.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for i in g.node_indices() {
        out.push_str(&format!("  n{}[\"{}\"]\n", i.index(), esc(&g[i].0)));
    }
    for e in g.edge_indices() {
        if let Some((a, b)) = g.edge_endpoints(e) {
            out.push_str(&format!("  n{} -->|\"{}\"| n{}\n", a.index(), esc(&g[e].0), b.index()));
        }
    }
    out
}

/// Whether the evaluator allows a replayed request: an allow, or an `unknown` that depends only
/// on the world outside the snapshot (what the hop's assumptions say).
fn replays(d: &Decision) -> bool {
    d.decision == Verdict::Allow
        || (d.decision == Verdict::Unknown
            && !d.unknown.is_empty()
            && d.unknown.iter().all(|r| keyproof_model::context::is_outside_reason(r)))
}

/// Replays one hop through the evaluator; the principal that acts after it.
fn replay_hop(snapshot: &Snapshot, region: &str, h: &Hop) -> Result<String, String> {
    let p = resolve_principal(snapshot, &h.request.principal).map_err(|e| e.to_string())?;
    let refused =
        |d: &Decision| format!("{} {} → {}: the evaluator says {}", h.edge.as_str(), h.from, h.to, d.decision.as_str());
    let account = h.request.key.split(':').nth(4).unwrap_or_default().to_string();
    let other = OtherRequest {
        action: &h.request.action,
        resource: &h.request.key,
        resource_account: &account,
        region,
        context: &h.request.context,
        open: &[],
    };
    let (d, next) = match h.edge {
        EdgeKind::AssumeRole => {
            let name = h.request.key.rsplit('/').next().unwrap_or_default();
            let d = match snapshot.account(&account).filter(|a| a.collected) {
                Some(a) => {
                    let role = a.role(name).ok_or_else(|| format!("no role {}", h.request.key))?;
                    decide_assume_role(snapshot, &p, role, region, &h.request.context, &[])
                        .map_err(|e| e.to_string())?
                }
                None => decide_assume_outside_role(snapshot, &p, &other).map_err(|e| e.to_string())?,
            };
            (d, h.to.clone())
        }
        EdgeKind::IamWrite => {
            let d = decide_iam_write(snapshot, &p, &other).map_err(|e| e.to_string())?;
            let next = if h.request.action == "iam:UpdateAssumeRolePolicy" { h.to.clone() } else { h.from.clone() };
            (d, next)
        }
        EdgeKind::CreateGrant | EdgeKind::PutKeyPolicy => {
            (keyproof_model::eval::decide(snapshot, &h.request).map_err(|e| e.to_string())?, h.from.clone())
        }
    };
    if replays(&d) {
        Ok(next)
    } else {
        Err(refused(&d))
    }
}

/// Replays a reached principal's whole path through the evaluator: every hop on the snapshot,
/// each starting where the previous one left the caller, and the last principal's own request
/// on the snapshot the path leads to (with the grant it created, the key policy it wrote, or the
/// identity policies it wrote). `Err` names the first step that does not replay.
pub fn replay_path(snapshot: &Snapshot, t: &Transitive, p: &Reached) -> Result<(), String> {
    let key = snapshot.key(&t.key).map_err(|e| e.to_string())?;
    let mut after: Option<Snapshot> = None;
    for h in &p.path {
        replay_hop(snapshot, &key.region, h)?;
        let now = after.as_ref().unwrap_or(snapshot);
        after = match h.edge {
            EdgeKind::CreateGrant => {
                let grantee = h.request.context.get("kms:GranteePrincipal").and_then(|v| v.first());
                let op = h.request.context.get("kms:GrantOperations").and_then(|v| v.first());
                match (grantee, op) {
                    (Some(g), Some(op)) => Some(with_grants(now, &t.key, std::slice::from_ref(g), op)),
                    _ => return Err(format!("create-grant {} → {}: no grantee or operation", h.from, h.to)),
                }
            }
            EdgeKind::PutKeyPolicy => Some(with_open_key_policy(now, &t.key)?),
            EdgeKind::IamWrite if h.request.action != "iam:UpdateAssumeRolePolicy" => Some(with_allow_all(now)?),
            _ => after,
        };
    }
    let last = Request {
        principal: p.final_principal.clone(),
        action: t.action.clone(),
        key: t.key.clone(),
        context: p.allowed.example_context.clone(),
    };
    let d = keyproof_model::eval::decide(after.as_ref().unwrap_or(snapshot), &last).map_err(|e| e.to_string())?;
    if replays(&d) {
        Ok(())
    } else {
        Err(format!("the final request of {} says {}", p.final_principal, d.decision.as_str()))
    }
}
