//! `keyproof diff`: every access that one state of an organization allows and another does not.
//!
//! For a principal, a key and an action, the question "is there a request that AFTER allows and
//! BEFORE does not" is one formula over ONE symbolic request context:
//! `allowed_after(ctx) ∧ ¬allowed_before(ctx)`. The after-state is encoded first; the
//! before-state is then encoded with the same [`SymContext`] (its request-key variables, the name
//! of a representative principal, the facts about the world outside the snapshot), only the part
//! of the context that the snapshot fixes (`base`) is swapped. A model of the formula is read
//! back as a request and replayed through the concrete evaluator on both snapshots before it is
//! reported. Removed access is the same question with the states swapped.
//!
//! Everything that depends only on the two snapshots is decided in Rust first
//! ([`same_inputs`]): a (principal, key) pair whose policies, grants, SCP and RCP paths and
//! fixed context are identical on both sides cannot differ and is never encoded.

use crate::domain::{Kind, Member};
use crate::encode::context::{Bounds, SymContext};
use crate::encode::{allowed, Target};
use crate::query::{read_request, represent_canon, Prover};
use crate::term::{and, not};
use crate::z3_backend::Answer;
use keyproof_model::context::{
    build_context, is_outside_reason, resolve_principal, Request, ResolvedPrincipal, OUTSIDE,
};
use keyproof_model::eval::{decide, Decision, Outcome, Verdict};
use keyproof_model::reference::{KmsAction, Reference};
use keyproof_model::snapshot::{Grant, Key, Snapshot, Tags};
use keyproof_parser::policy::Policy;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The direction of a change of access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// AFTER allows it, BEFORE did not.
    Added,
    /// BEFORE allowed it, AFTER does not.
    Removed,
}

/// One (principal, action, key) whose access changed, with an example request the evaluator
/// confirmed on both sides.
#[derive(Debug, Clone)]
pub struct Delta {
    pub change: Change,
    pub member: Member,
    pub action: &'static KmsAction,
    pub key: String,
    pub request: Request,
    /// The decision on the side that allows (after for an addition, before for a removal).
    pub allowed: Decision,
    /// The decision on the other side, or why the request does not exist there (a principal or
    /// key that is not in that snapshot).
    pub other: Result<Decision, String>,
    /// What must hold outside the snapshots for the example to show the change.
    pub assumptions: Vec<String>,
}

/// A question the diff could not decide.
#[derive(Debug, Clone, Serialize)]
pub struct Undecided {
    pub change: Change,
    pub principal: String,
    pub action: String,
    pub key: String,
    pub reason: String,
}

/// The answer of one directional question.
enum Newly {
    Yes(Box<Delta>),
    No,
    Unknown(String),
}

/// The whole diff, before grouping.
#[derive(Debug, Clone, Default)]
pub struct Diff {
    pub deltas: Vec<Delta>,
    pub undecided: Vec<Undecided>,
    /// (principal, key) pairs considered, and how many of them Rust showed identical.
    pub pairs: usize,
    pub pairs_identical: usize,
    /// Every key and principal considered, for the grouping ("every principal of account A").
    pub domain: Vec<Member>,
}

/// The two states and what both encodings share.
struct States<'a> {
    before: &'a Snapshot,
    after: &'a Snapshot,
    bounds: Bounds,
    named_outside: HashMap<String, Vec<String>>,
}

/// Computes every access added and removed between two snapshots.
pub fn diff(before: &Snapshot, after: &Snapshot, timeout_ms: u32) -> Diff {
    let mut bounds = Bounds::of(after);
    bounds.merge(&Bounds::of(before));
    let mut named_outside: HashMap<String, Vec<String>> = HashMap::new();
    // Each state's domain and named principals, computed once.
    let provers = [Prover::new(before, timeout_ms, &[]), Prover::new(after, timeout_ms, &[])];
    for prover in &provers {
        for (account, names) in prover.named_outside() {
            let list = named_outside.entry(account.clone()).or_default();
            for n in names {
                if !list.contains(n) {
                    list.push(n.clone());
                }
            }
        }
    }
    let states = States { before, after, bounds, named_outside };

    // The principal domain of both states: a principal named only on one side is still a
    // principal the other side must be asked about.
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    for prover in &provers {
        for m in prover.members() {
            members.entry(m.principal.clone()).or_insert_with(|| m.clone());
        }
    }
    let domain: Vec<Member> = members.into_values().collect();
    let mut keys: Vec<&str> = after.keys().iter().map(|k| k.arn.as_str()).collect();
    for k in before.keys() {
        if !keys.contains(&k.arn.as_str()) {
            keys.push(&k.arn);
        }
    }
    let actions: Vec<&'static KmsAction> = Reference::get().actions().filter(|a| a.on_key).collect();

    // What the change can affect, first: the keys and the principals whose own inputs differ.
    // A pair of an unaffected key and an unaffected principal is identical on both sides and is
    // never looked at again; only the others go through `same_inputs`, pair by pair.
    let key_changed: Vec<bool> = keys.par_iter().map(|k| !key_unchanged(&states, k, &actions)).collect();
    let reference_key = keys.iter().zip(&key_changed).find(|(_, changed)| !**changed).map(|(k, _)| *k);
    let member_changed: Vec<bool> =
        domain.par_iter().map(|m| !member_unchanged(&states, m, reference_key, &actions)).collect();
    let pair_count = keys.len() * domain.len();
    let candidates: Vec<(&Member, &str)> = keys
        .iter()
        .zip(&key_changed)
        .flat_map(|(k, kc)| {
            domain.iter().zip(&member_changed).filter(move |(_, mc)| *kc || **mc).map(move |(m, _)| (m, *k))
        })
        .collect();
    let differing: Vec<(&Member, &str)> =
        candidates.par_iter().filter(|(m, k)| !same_inputs(&states, m, k, &actions)).copied().collect();
    // Each differing pair is resolved once on each side (principal, key), then asked for every
    // action in both directions; the Rust pre-filter of the side that would allow settles most
    // questions before anything is encoded.
    let answers: Vec<(&Member, &str, &'static KmsAction, Change, Newly)> = differing
        .par_iter()
        .flat_map_iter(|&(m, k)| {
            let sides = [Side::of(&provers[0], m, k), Side::of(&provers[1], m, k)];
            let mut out = Vec::new();
            for &a in &actions {
                for c in [Change::Added, Change::Removed] {
                    let (new, old) = match c {
                        Change::Added => (&sides[1], &sides[0]),
                        Change::Removed => (&sides[0], &sides[1]),
                    };
                    out.push((m, k, a, c, newly(&states, m, a, c, new, old)));
                }
            }
            out
        })
        .collect();
    let mut out = Diff {
        pairs: pair_count,
        pairs_identical: pair_count - differing.len(),
        domain: domain.clone(),
        ..Diff::default()
    };
    for (m, k, a, c, answer) in answers {
        match answer {
            Newly::Yes(d) => out.deltas.push(*d),
            Newly::No => {}
            Newly::Unknown(reason) => out.undecided.push(Undecided {
                change: c,
                principal: m.describe(),
                action: format!("kms:{}", a.name),
                key: k.to_string(),
                reason,
            }),
        }
    }
    out
}

fn key_by_arn<'s>(snapshot: &'s Snapshot, arn: &str) -> Option<&'s Key> {
    snapshot.keys().iter().find(|k| k.arn == arn)
}

/// One state's view of a (principal, key) pair: the key and the principal as that snapshot has
/// them (either may be missing), and the state's prover for its Rust pre-filter.
struct Side<'p, 's> {
    prover: &'p Prover<'s>,
    key: Option<&'s Key>,
    principal: Option<ResolvedPrincipal<'s>>,
}

impl<'p, 's> Side<'p, 's> {
    fn of(prover: &'p Prover<'s>, member: &Member, key_arn: &str) -> Side<'p, 's> {
        let snapshot = prover.snapshot;
        Side {
            prover,
            key: key_by_arn(snapshot, key_arn),
            principal: resolve_principal(snapshot, &member.principal).ok(),
        }
    }
}

/// Is there a request that `new` allows and `old` does not? (`Added`: new = after.)
fn newly(
    s: &States<'_>,
    member: &Member,
    action: &'static KmsAction,
    change: Change,
    new_side: &Side<'_, '_>,
    old_side: &Side<'_, '_>,
) -> Newly {
    let (new, old) = (new_side.prover.snapshot, old_side.prover.snapshot);
    let (Some(new_key), Some(new_p)) = (new_side.key, &new_side.principal) else { return Newly::No };
    // A necessary condition for the new side to allow anything (the pre-filter `check` and
    // who-can use, tested against the encoding).
    if !new_side.prover.may_be_allowed(new_p, action, new_key) {
        return Newly::No;
    }
    let new_base = match build_context(new, new_p, new_key, action, &BTreeMap::new()) {
        Ok(b) => b,
        Err(e) => return Newly::Unknown(e.to_string()),
    };
    let old_key = old_side.key;
    let old_p = old_side.principal.as_ref();
    let old_base = match (old_key, old_p) {
        (Some(k), Some(p)) => match build_context(old, p, k, action, &BTreeMap::new()) {
            Ok(b) => Some(b),
            Err(e) => return Newly::Unknown(e.to_string()),
        },
        _ => None,
    };

    let mut sc = SymContext::new(&new_base, &s.bounds);
    sc.session_tags = new_p.role.is_some_and(|r| r.session_tags_allowed());
    let (name_var, canon) = represent_canon(member, &mut sc, &s.named_outside);
    let target = Target { snapshot: new, principal: new_p, action, key: new_key, base: &new_base };
    let allowed_new = allowed(&target, &mut sc);
    if allowed_new.as_const() == Some(false) {
        return Newly::No;
    }
    // The old state over the same variables: only what the snapshot fixes is swapped.
    let allowed_old = match (old_key, old_p, &old_base) {
        (Some(k), Some(p), Some(base)) => {
            sc.base = base;
            sc.session_tags = p.role.is_some_and(|r| r.session_tags_allowed());
            let target = Target { snapshot: old, principal: p, action, key: k, base };
            allowed(&target, &mut sc)
        }
        _ => crate::term::constant(false),
    };
    if allowed_new == allowed_old {
        return Newly::No;
    }
    let goal = and([allowed_new, not(allowed_old)]);
    if goal.as_const() == Some(false) {
        return Newly::No;
    }
    // Asked through the prover's classes: a question whose text another pair already asked is
    // answered from it, and the model read back for this member (deterministic: `reported`).
    let values = match new_side.prover.solve(&sc, &goal, true, canon.as_ref()) {
        Answer::Unsat => return Newly::No,
        Answer::Unknown(why) => return Newly::Unknown(format!("the solver gave up ({why})")),
        Answer::Sat(v) => v,
    };
    let request = read_request(member, action, new_key, &sc, &values, name_var);
    replay(new, old, member, action, change, request, &sc.unknowns)
}

/// Confirms a solver's example through the evaluator on both sides.
fn replay(
    new: &Snapshot,
    old: &Snapshot,
    member: &Member,
    action: &'static KmsAction,
    change: Change,
    request: Request,
    approximations: &[String],
) -> Newly {
    let allowed = match decide(new, &request) {
        Ok(d) => d,
        Err(e) => return Newly::Unknown(format!("the example request does not load: {e}")),
    };
    let other = decide(old, &request).map_err(|e| e.to_string());
    let strip = |u: &String| u.trim_start_matches(OUTSIDE).to_string();
    let new_ok = match allowed.decision {
        Verdict::Allow => true,
        Verdict::Unknown => allowed.unknown.iter().all(|u| is_outside_reason(u)),
        _ => false,
    };
    let (old_denies, old_assumptions) = match &other {
        Err(_) => (true, Vec::new()),
        Ok(d) => match d.decision {
            Verdict::ImplicitDeny | Verdict::ExplicitDeny => (true, Vec::new()),
            Verdict::Unknown if d.unknown.iter().all(|u| is_outside_reason(u)) => {
                (true, d.unknown.iter().map(|u| format!("{} does not already allow it", strip(u))).collect::<Vec<_>>())
            }
            _ => (false, Vec::new()),
        },
    };
    let side = |c: Change, new_side: bool| match (c, new_side) {
        (Change::Added, true) | (Change::Removed, false) => "after",
        _ => "before",
    };
    if new_ok && old_denies {
        let mut assumptions: Vec<String> = if allowed.decision == Verdict::Unknown {
            allowed.unknown.iter().map(|u| format!("what the snapshot does not hold allows it: {}", strip(u))).collect()
        } else {
            Vec::new()
        };
        assumptions.extend(old_assumptions);
        return Newly::Yes(Box::new(Delta {
            change,
            member: member.clone(),
            action,
            key: request.key.clone(),
            request,
            allowed,
            other,
            assumptions,
        }));
    }
    let mut reasons: Vec<String> = Vec::new();
    if !new_ok && allowed.decision == Verdict::Unknown {
        reasons.extend(allowed.unknown.iter().cloned());
    }
    if let Ok(d) = &other {
        if !old_denies && d.decision == Verdict::Unknown {
            reasons.extend(d.unknown.iter().cloned());
        }
    }
    let approximations: Vec<String> = approximations.iter().filter(|u| !is_outside_reason(u)).cloned().collect();
    if reasons.is_empty() {
        reasons = approximations;
    }
    if reasons.is_empty() {
        // Not an answer: the encoding and the evaluator disagree. Reported as undecided (exit 2),
        // never as a finding and never silently dropped.
        reasons.push(format!(
            "internal: the solver found kms:{} by {} with context {:?} allowed {} and not {}, but the evaluator says {} {} and {} {}",
            action.name,
            request.principal,
            request.context,
            side(change, true),
            side(change, false),
            allowed.decision.as_str(),
            side(change, true),
            other.as_ref().map(|d| d.decision.as_str()).unwrap_or("not-applicable"),
            side(change, false),
        ));
    }
    Newly::Unknown(reasons.join("; "))
}

/// Whether the key is the same in both states with everything about it that a decision reads:
/// its own fields, policy and grants, the RCPs on its account's path, and the part of a
/// request's context that follows from it (compared for one reference principal, the key
/// account's root, for every action). When this holds for a key and [`member_unchanged`] for a
/// principal, [`same_inputs`] holds for the pair: the decision reads nothing else.
fn key_unchanged(s: &States<'_>, key_arn: &str, actions: &[&'static KmsAction]) -> bool {
    let (Some(kb), Some(ka)) = (key_by_arn(s.before, key_arn), key_by_arn(s.after, key_arn)) else {
        return false;
    };
    if !same_key(s.before, kb, s.after, ka) || !same_org_path(s.before, s.after, &ka.account, false) {
        return false;
    }
    let root = format!("arn:aws:iam::{}:root", ka.account);
    let (Ok(pb), Ok(pa)) = (resolve_principal(s.before, &root), resolve_principal(s.after, &root)) else {
        return false;
    };
    same_contexts(s, (&pb, kb), (&pa, ka), actions)
}

/// Whether the principal is the same in both states with everything about it that a decision
/// reads: its kind, policies, boundary, tags, the SCPs on its account's path and its place in
/// the organization, and the part of a request's context that follows from it (compared on
/// `reference`, a key unchanged on both sides; without one, the principal counts as changed).
fn member_unchanged(s: &States<'_>, member: &Member, reference: Option<&str>, actions: &[&'static KmsAction]) -> bool {
    let (pb, pa) = match (resolve_principal(s.before, &member.principal), resolve_principal(s.after, &member.principal))
    {
        // A principal that exists in neither state can do nothing in either.
        (Err(_), Err(_)) => return true,
        (Ok(b), Ok(a)) => (b, a),
        _ => return false,
    };
    if !same_principal(s.before, &pb, s.after, &pa) {
        return false;
    }
    if let Some(account) = pa.account_id() {
        let path = |snap: &Snapshot| snap.org.as_ref().map(|o| o.org_path(account));
        if !same_org_path(s.before, s.after, account, true) || path(s.before) != path(s.after) {
            return false;
        }
    }
    let Some(arn) = reference else { return false };
    let (Some(kb), Some(ka)) = (key_by_arn(s.before, arn), key_by_arn(s.after, arn)) else { return false };
    same_contexts(s, (&pb, kb), (&pa, ka), actions)
}

/// Whether the request contexts the snapshots fix for the principal and key are the same on
/// both sides, for every action. With no entry given by the caller, what `build_context` fills
/// follows from the principal and the key alone, whatever the action (the action only checks
/// the caller's entries): one action stands for all.
fn same_contexts(
    s: &States<'_>,
    (pb, kb): (&ResolvedPrincipal<'_>, &Key),
    (pa, ka): (&ResolvedPrincipal<'_>, &Key),
    actions: &[&'static KmsAction],
) -> bool {
    let Some(&action) = actions.first() else { return true };
    match (
        build_context(s.before, pb, kb, action, &BTreeMap::new()),
        build_context(s.after, pa, ka, action, &BTreeMap::new()),
    ) {
        (Ok(b), Ok(a)) => b.principal_tags_unknown() == a.principal_tags_unknown() && b.entries().eq(a.entries()),
        _ => false,
    }
}

/// Whether everything that decides requests of `member` on `key` is the same in both states:
/// then no request can be decided differently, and the pair needs no solver.
fn same_inputs(s: &States<'_>, member: &Member, key_arn: &str, actions: &[&'static KmsAction]) -> bool {
    let (Some(kb), Some(ka)) = (key_by_arn(s.before, key_arn), key_by_arn(s.after, key_arn)) else {
        return false;
    };
    if !same_key(s.before, kb, s.after, ka) {
        return false;
    }
    let (pb, pa) = match (resolve_principal(s.before, &member.principal), resolve_principal(s.after, &member.principal))
    {
        // A principal that exists in neither state can do nothing in either.
        (Err(_), Err(_)) => return true,
        (Ok(b), Ok(a)) => (b, a),
        _ => return false,
    };
    if !same_principal(s.before, &pb, s.after, &pa) {
        return false;
    }
    if let Some(account) = pa.account_id() {
        if !same_org_path(s.before, s.after, account, true) {
            return false;
        }
    }
    if !same_org_path(s.before, s.after, &ka.account, false) {
        return false;
    }
    same_contexts(s, (&pb, kb), (&pa, ka), actions)
}

fn docs<'s>(snapshot: &'s Snapshot, ids: &[usize]) -> Vec<&'s Policy> {
    ids.iter().map(|&i| &snapshot.policy(i).document).collect()
}

fn same_tags(a: &Tags, b: &Tags) -> bool {
    a.iter().eq(b.iter())
}

fn same_grant(a: &Grant, b: &Grant) -> bool {
    a.id == b.id
        && a.grantee.value == b.grantee.value
        && a.grantee_principal == b.grantee_principal
        && a.retiring == b.retiring
        && a.issuing_account == b.issuing_account
        && a.operations == b.operations
        && a.context_equals == b.context_equals
        && a.context_subset == b.context_subset
}

fn same_key(sb: &Snapshot, kb: &Key, sa: &Snapshot, ka: &Key) -> bool {
    kb.account == ka.account
        && kb.region == ka.region
        && kb.id == ka.id
        && kb.customer_managed == ka.customer_managed
        && kb.multi_region == ka.multi_region
        && kb.multi_region_type == ka.multi_region_type
        && kb.primary_arn == ka.primary_arn
        && kb.replica_arns == ka.replica_arns
        && kb.aliases == ka.aliases
        && kb.key_spec == ka.key_spec
        && kb.key_usage == ka.key_usage
        && same_tags(&kb.tags, &ka.tags)
        && sb.policy(kb.policy).document == sa.policy(ka.policy).document
        && kb.grants.len() == ka.grants.len()
        && kb.grants.iter().zip(&ka.grants).all(|(b, a)| same_grant(b, a))
}

fn same_principal(sb: &Snapshot, pb: &ResolvedPrincipal<'_>, sa: &Snapshot, pa: &ResolvedPrincipal<'_>) -> bool {
    if pb.identity_known != pa.identity_known || pb.in_org != pa.in_org || pb.principal_arn != pa.principal_arn {
        return false;
    }
    match ((pb.role, pb.user), (pa.role, pa.user)) {
        ((Some(b), _), (Some(a), _)) => {
            b.path == a.path
                && b.unique_id == a.unique_id
                && b.session_tags_allowed() == a.session_tags_allowed()
                && same_tags(&b.tags, &a.tags)
                && docs(sb, &b.policies) == docs(sa, &a.policies)
                && docs(sb, b.boundary.as_slice()) == docs(sa, a.boundary.as_slice())
        }
        ((None, Some(b)), (None, Some(a))) => {
            b.path == a.path
                && b.unique_id == a.unique_id
                && same_tags(&b.tags, &a.tags)
                && docs(sb, &b.policies) == docs(sa, &a.policies)
                && docs(sb, b.boundary.as_slice()) == docs(sa, a.boundary.as_slice())
        }
        ((None, None), (None, None)) => true,
        _ => false,
    }
}

/// Whether the policy type is enabled, the SCPs (or RCPs) at every level of an account's path,
/// the management account and the organization id: everything the organization layers read.
fn same_org_path(sb: &Snapshot, sa: &Snapshot, account: &str, scp: bool) -> bool {
    type Levels<'s> = (keyproof_model::org::TypeState, String, String, Vec<Vec<&'s Policy>>);
    fn levels<'s>(snap: &'s Snapshot, account: &str, scp: bool) -> Option<Levels<'s>> {
        let org = snap.org.as_ref()?;
        let path = org.path_to_account(account).unwrap_or_default();
        let docs = path
            .iter()
            .map(|idx| {
                let node = &org.graph[*idx];
                let attached = if scp { &node.scps } else { &node.rcps };
                attached.iter().filter_map(|p| org.policies.get(&p.value)).map(|p| &p.document).collect()
            })
            .collect();
        Some((org.layer_state(scp), org.id.clone(), org.management_account.clone(), docs))
    }
    levels(sb, account, scp) == levels(sa, account, scp)
}

// ---------------------------------------------------------------------------------------------
// Grouping: one finding per class of access.

/// One class of changed access: some principals (one, or every principal of an account) can now
/// (or can no longer) perform some actions on one key.
#[derive(Debug, Clone)]
pub struct AccessClass {
    pub change: Change,
    /// The key's ARN and the name it is shown under (its first alias, or the ARN).
    pub key: String,
    pub key_name: String,
    /// Who, as shown to a person.
    pub who: String,
    pub principals: Vec<String>,
    /// `kms:Decrypt`, …, in the reference's order.
    pub actions: Vec<String>,
    /// The actions as shown to a person: `kms:*` when they are every KMS action on keys.
    pub actions_label: String,
    /// One confirmed example of the class.
    pub example: Delta,
}

impl AccessClass {
    /// "any principal of account 444455556666 … can now kms:Decrypt alias/s3-prod-key".
    pub fn sentence(&self) -> String {
        let verb = match self.change {
            Change::Added => "can now",
            Change::Removed => "can no longer",
        };
        format!("{} {verb} {} {}", self.who, self.actions_label, self.key_name)
    }

    /// The statements and grants that allow the example, on the side that allows it; those
    /// that did not allow it on the other side (what the change brought) first.
    pub fn because(&self) -> Vec<&keyproof_model::eval::TraceEntry> {
        // The cited statements are `Decision::because`'s, as in every other report; only their
        // order is the diff's own.
        let mut out: Vec<&keyproof_model::eval::TraceEntry> = self.example.allowed.because();
        let before: Vec<(&Option<String>, &Option<String>, &String)> = match &self.example.other {
            Ok(d) => d
                .trace
                .iter()
                .filter(|t| matches!(t.outcome, Outcome::Allows | Outcome::MayAllow))
                .map(|t| (&t.policy, &t.statement, &t.detail))
                .collect(),
            Err(_) => Vec::new(),
        };
        out.sort_by_key(|t| before.contains(&(&t.policy, &t.statement, &t.detail)));
        out
    }
}

/// Every KMS action on keys: a class that covers them all is shown as `kms:*`.
fn all_key_actions() -> Vec<String> {
    Reference::get().actions().filter(|a| a.on_key).map(|a| format!("kms:{}", a.name)).collect()
}

/// The actions (ranked) a principal gained or lost on a key, and the first delta as the example.
type Collected<'d> = (BTreeSet<(usize, String)>, &'d Delta);

/// Groups the deltas: per (principal, key) the actions are collected; then the principals of one
/// account that gained (or lost) the same actions on the same key are one class, named "every
/// principal of account A" when they are all of that account's principals in the domain.
pub fn group(d: &Diff, key_names: &dyn Fn(&str) -> String) -> Vec<AccessClass> {
    let order = all_key_actions();
    let rank = |a: &str| order.iter().position(|x| x == a).unwrap_or(usize::MAX);
    // (change, key, principal) → actions, first example.
    let mut per_member: BTreeMap<(Change, String, Member), Collected<'_>> = BTreeMap::new();
    for delta in &d.deltas {
        let action = format!("kms:{}", delta.action.name);
        let e = per_member
            .entry((delta.change, delta.key.clone(), delta.member.clone()))
            .or_insert_with(|| (BTreeSet::new(), delta));
        e.0.insert((rank(&action), action));
    }
    // (change, key, actions, account) → members.
    type Group<'d> = BTreeMap<(Change, String, Vec<String>, Option<String>, bool), Vec<(Member, &'d Delta)>>;
    let mut groups: Group<'_> = BTreeMap::new();
    for ((change, key, member), (actions, example)) in per_member {
        let actions: Vec<String> = actions.into_iter().map(|(_, a)| a).collect();
        // Representatives ("any principal of account A") stay classes of their own, but for "any
        // federated user of a collected account A", which joins A's class.
        let groupable = match &member.kind {
            Kind::Snapshot => true,
            Kind::AnyFederatedUser(a) => {
                d.domain.iter().any(|m| m.kind == Kind::Snapshot && m.account.as_ref() == Some(a))
            }
            _ => false,
        };
        let account = if groupable { member.account.clone() } else { Some(member.principal.clone()) };
        groups.entry((change, key, actions, account, groupable)).or_default().push((member, example));
    }
    let mut out = Vec::new();
    for ((change, key, actions, account, groupable), members) in groups {
        let actions_label = if actions.len() == order.len() {
            "every KMS action on keys (kms:*)".to_string()
        } else {
            actions.join(", ")
        };
        let Some((first_member, first_example)) = members.first() else { continue };
        let in_snapshot = members.iter().filter(|(m, _)| m.kind == Kind::Snapshot).count();
        let federated = members.iter().any(|(m, _)| matches!(m.kind, Kind::AnyFederatedUser(_)));
        let whole_account = groupable
            && members.len() > 1
            && account.as_ref().is_some_and(|a| {
                let all = d
                    .domain
                    .iter()
                    .filter(|m| {
                        m.account.as_ref() == Some(a) && matches!(m.kind, Kind::Snapshot | Kind::AnyFederatedUser(_))
                    })
                    .count();
                all == members.len()
            });
        let who = if whole_account {
            format!(
                "every principal of account {} ({} in the snapshot{})",
                account.clone().unwrap_or_default(),
                in_snapshot,
                if federated { ", and its federated users" } else { "" }
            )
        } else if members.len() > 1 {
            format!(
                "{} principals of account {} ({})",
                members.len(),
                account.clone().unwrap_or_default(),
                members
                    .iter()
                    .map(|(m, _)| if m.is_representative() { "its federated users" } else { m.principal.as_str() })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            first_member.describe()
        };
        out.push(AccessClass {
            change,
            key_name: key_names(&key),
            key,
            who,
            principals: members.iter().map(|(m, _)| m.principal.clone()).collect(),
            actions,
            actions_label,
            example: (*first_example).clone(),
        });
    }
    out.sort_by(|a, b| (a.change, &a.key_name, &a.who).cmp(&(b.change, &b.key_name, &b.who)));
    out
}
