//! `keyproof check`: every property over every principal and key it quantifies, decided by the
//! solver; every counterexample replayed through the evaluator before it is reported.
//!
//! A property holds at an instance (one principal, one key) when its formula is true there.
//! `can` atoms are independent existential questions (each has its own request context), so the
//! formula is evaluated with three values over their answers: a `can` that the solver answers
//! yes with a replayed witness is true, one it proves impossible is false, anything else is
//! unknown. Cheap atoms are evaluated first so that most `can` questions are never asked.

use crate::domain::{Kind, Member};
use crate::err::SolverError;
use crate::query::{actions_matching, Can, Prover, Witness};
use crate::transitive::{replay_path, transitive_with, Reached, Transitive};
use keyproof_model::context::{resolve_principal, Request, ResolvedPrincipal};
use keyproof_model::eval::{decide, Decision};
use keyproof_model::reference::KmsAction;
use keyproof_model::snapshot::Key;
use keyproof_model::tri::Tri;
use keyproof_model::wildcard::glob;
use keyproof_parser::property::{Formula, KeyTerm, PrincipalTerm, Property, SetExpr, Var};
use keyproof_parser::{ParseError, SourceMap, Span};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Proved,
    Violated,
    /// The quantified set is empty: the property says nothing.
    Vacuous,
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Counterexample {
    pub member: Member,
    pub key: String,
    /// One replayed request per `can` that is true at the counterexample.
    pub witnesses: Vec<Witness>,
    /// For each `can` that is false at the counterexample, the evaluator's decision on that
    /// request without context: why it is denied.
    pub denials: Vec<Decision>,
    /// One replayed path per `can_reach` that is true at the counterexample.
    pub paths: Vec<ReachPath>,
}

/// A `can_reach` that is true: the principal's shortest path to the action on the key, every
/// hop and the final request replayed through the evaluator.
#[derive(Debug, Clone, Serialize)]
pub struct ReachPath {
    pub action: String,
    pub key: String,
    #[serde(flatten)]
    pub reached: Reached,
}

/// Transitive searches by (action name, key ARN).
type ReachSets = HashMap<(String, String), Result<Arc<Transitive>, String>>;

/// The default longest path `can_reach` follows (as `who-can --transitive`).
pub const DEFAULT_MAX_HOPS: usize = 4;

/// The answers of `can_reach`: one transitive search per (action, key), shared by every
/// instance and every property that asks it; filled before a property's instances are decided.
pub struct ReachCache {
    pub max_hops: usize,
    /// Principals the properties name: they join the search's domain.
    extra: Vec<String>,
    map: Mutex<ReachSets>,
}

impl ReachCache {
    pub fn new(max_hops: usize, extra: Vec<String>) -> ReachCache {
        ReachCache { max_hops, extra, map: Mutex::new(HashMap::new()) }
    }

    /// The searches for these (action, key) pairs, each run once.
    fn get(&self, prover: &Prover<'_>, pairs: &[(&'static KmsAction, String)]) -> ReachSets {
        let mut map = match self.map.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut out = HashMap::new();
        for (a, key) in pairs {
            let id = (a.name.clone(), key.clone());
            let answer = map
                .entry(id.clone())
                .or_insert_with(|| {
                    transitive_with(prover.snapshot, prover.timeout_ms, a, key, self.max_hops, &self.extra)
                        .map(Arc::new)
                })
                .clone();
            out.insert(id, answer);
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct PropertyResult {
    pub property: String,
    pub span: Span,
    pub status: Status,
    pub counterexample: Option<Counterexample>,
    /// Why the result is unknown or vacuous.
    pub reason: Option<String>,
    /// Instances (principal × key) decided.
    pub instances: usize,
    /// How many of them were evaluated: the others were decided as their class's
    /// representative was ([`Classes`]).
    pub evaluated: usize,
    /// Every violating instance (principal, key), the first being the counterexample; at most
    /// [`MAX_VIOLATIONS`].
    pub violations: Vec<(Member, String)>,
}

/// How many violating instances a result lists.
pub const MAX_VIOLATIONS: usize = 50;

/// Principals named in properties: they join the principal domain.
pub fn named_principals(props: &[Property]) -> Vec<String> {
    fn walk(f: &Formula, out: &mut Vec<String>) {
        match f {
            Formula::Can { principal: PrincipalTerm::Literal(p), .. }
            | Formula::CanReach { principal: PrincipalTerm::Literal(p), .. } => out.push(p.value.clone()),
            Formula::PrincipalEq(p, _, _) => out.push(p.value.clone()),
            Formula::PrincipalIn(SetExpr::Account(a), _) => out.push(a.value.clone()),
            Formula::Not(a) => walk(a, out),
            Formula::And(a, b) | Formula::Or(a, b) | Formula::Implies(a, b) => {
                walk(a, out);
                walk(b, out)
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for p in props {
        walk(&p.body, &mut out);
        for b in &p.binders {
            if let Some(SetExpr::Account(a)) = &b.domain {
                out.push(a.value.clone());
            }
        }
    }
    out
}

struct Ctx<'a, 's> {
    prover: &'a Prover<'s>,
    sources: &'a SourceMap,
    /// The KMS actions each action pattern of the property covers, computed once.
    actions: HashMap<String, Vec<&'static KmsAction>>,
    /// The transitive searches of the property's `can_reach` atoms, by (action name, key ARN).
    reach: ReachSets,
    /// Why a `can_reach` that the search does not list may still hold: the snapshot has an
    /// edge the search does not follow ([`uncovered_edges`]).
    uncovered: Option<String>,
}

impl Ctx<'_, '_> {
    fn error(&self, span: Span, msg: String, label: &str) -> SolverError {
        SolverError::Property(ParseError::at(self.sources, span, msg, label))
    }

    /// An account by id or name.
    fn account_id(&self, text: &keyproof_parser::Spanned<String>) -> Result<String, SolverError> {
        let snap = self.prover.snapshot;
        if keyproof_parser::snapshot::is_account_id(&text.value) {
            return Ok(text.value.clone());
        }
        snap.accounts
            .values()
            .find(|a| a.name.as_deref() == Some(text.value.as_str()))
            .map(|a| a.id.clone())
            .ok_or_else(|| {
                let names = snap.accounts.values().filter_map(|a| a.name.as_deref());
                let hint = keyproof_model::suggest::did_you_mean(&text.value, names);
                self.error(
                    text.span,
                    format!("no account named `{}` in the snapshot{hint}", text.value),
                    "unknown account",
                )
            })
    }

    fn ou(&self, text: &keyproof_parser::Spanned<String>) -> Result<petgraph::graph::NodeIndex, SolverError> {
        let org = self
            .prover
            .snapshot
            .org
            .as_ref()
            .ok_or_else(|| self.error(text.span, "the snapshot has no organization".into(), "no OUs"))?;
        org.find_ou(&text.value).ok_or_else(|| {
            let hint = keyproof_model::suggest::ou(&text.value, org);
            self.error(text.span, format!("no OU `{}` in the organization{hint}", text.value), "unknown OU")
        })
    }

    fn account_in_ou(&self, account: &str, ou: petgraph::graph::NodeIndex) -> bool {
        let Some(org) = &self.prover.snapshot.org else { return false };
        org.node(account).is_some_and(|n| org.is_under(n, ou))
    }

    fn principal_in(&self, m: &Member, set: &SetExpr) -> Result<bool, SolverError> {
        if matches!(m.kind, Kind::Service | Kind::AnyOtherService | Kind::AnyOtherAccount)
            || m.account.as_deref() == Some(crate::domain::OTHER_ACCOUNT)
        {
            // Service principals belong to no account; "any other account" is none the
            // property or the snapshot names, and is in no OU of this organization.
            return Ok(false);
        }
        let Some(account) = &m.account else { return Ok(false) };
        Ok(match set {
            SetExpr::Org => self.prover.snapshot.in_org(account),
            SetExpr::Account(a) => *account == self.account_id(a)?,
            SetExpr::Ou(o) => self.account_in_ou(account, self.ou(o)?),
            SetExpr::Region(_) => false,
        })
    }

    fn key_in(&self, k: &Key, set: &SetExpr) -> Result<bool, SolverError> {
        Ok(match set {
            SetExpr::Org => self.prover.snapshot.in_org(&k.account),
            SetExpr::Account(a) => k.account == self.account_id(a)?,
            SetExpr::Ou(o) => self.account_in_ou(&k.account, self.ou(o)?),
            SetExpr::Region(r) => k.region == r.value,
        })
    }

    fn key_literal<'k>(&self, text: &keyproof_parser::Spanned<String>) -> Result<&'k Key, SolverError>
    where
        Self: 'k,
    {
        self.prover
            .snapshot
            .key(&text.value)
            .map_err(|e| self.error(text.span, e.to_string(), "not one key of the snapshot"))
    }
}

/// The evaluation of a formula at one instance.
struct Instance<'a, 's> {
    member: &'a Member,
    /// The member as the evaluator sees it, resolved once per property.
    resolved: &'a Resolved<'s>,
    key: Option<&'a Key>,
    witnesses: Vec<Witness>,
    /// One replayed path per `can_reach` found true here.
    paths: Vec<ReachPath>,
    /// The `can` atoms found false here (principal, first action, key): shown with the
    /// evaluator's trace when the instance is the counterexample.
    /// Inline: every instance of a property over principal × key records its false `can`s.
    denied: smallvec::SmallVec<[(&'a Member, &'static KmsAction, &'a Key); 2]>,
    unknown: Vec<String>,
    internal: Option<String>,
}

type Resolved<'s> = Result<ResolvedPrincipal<'s>, String>;

/// The members the property's principal literals stand for, resolved once per property.
type Literals<'s> = HashMap<String, (Member, Resolved<'s>)>;

fn eval_formula<'a, 's>(
    c: &Ctx<'a, 's>,
    f: &Formula,
    inst: &mut Instance<'a, 's>,
    literals: &'a Literals<'s>,
) -> Result<Tri, SolverError> {
    Ok(match f {
        Formula::Bool(b) => Tri::from_bool(*b),
        Formula::Not(a) => eval_formula(c, a, inst, literals)?.not(),
        Formula::And(a, b) => {
            let (first, second) = cheap_first(a, b);
            let x = eval_formula(c, first, inst, literals)?;
            if x.is_false() {
                return Ok(Tri::False);
            }
            x.and(eval_formula(c, second, inst, literals)?)
        }
        Formula::Or(a, b) => {
            let (first, second) = cheap_first(a, b);
            let x = eval_formula(c, first, inst, literals)?;
            if x.is_true() {
                return Ok(Tri::True);
            }
            x.or(eval_formula(c, second, inst, literals)?)
        }
        Formula::Implies(a, b) => {
            // Consequent first when it is cheap: a true consequent makes the antecedent moot.
            if !has_can(b) {
                let y = eval_formula(c, b, inst, literals)?;
                if y.is_true() {
                    return Ok(Tri::True);
                }
                return Ok(eval_formula(c, a, inst, literals)?.not().or(y));
            }
            let x = eval_formula(c, a, inst, literals)?;
            if x.is_false() {
                return Ok(Tri::True);
            }
            x.not().or(eval_formula(c, b, inst, literals)?)
        }
        Formula::PrincipalIn(set, _) => Tri::from_bool(c.principal_in(inst.member, set)?),
        Formula::PrincipalEq(arn, negated, _) => {
            let eq = principal_is(c, inst.member, &arn.value);
            Tri::from_bool(eq != *negated)
        }
        Formula::PrincipalLike(p, _) => {
            if inst.member.kind == Kind::AnyOtherService && (p.value == "*" || p.value == "*.amazonaws.com") {
                // Every service principal name ends in .amazonaws.com.
                Tri::True
            } else if inst.member.is_representative() {
                inst.unknown.push(format!("`principal like` on {}, whose name is not fixed", inst.member.describe()));
                Tri::Unknown
            } else {
                Tri::from_bool(glob(&p.value, &inst.member.principal, false))
            }
        }
        Formula::KeyIn(set, span) => match inst.key {
            Some(k) => Tri::from_bool(c.key_in(k, set)?),
            None => return Err(c.error(*span, "`key` is not bound here".into(), "unbound")),
        },
        Formula::KeyEq(text, negated, span) => match inst.key {
            Some(k) => {
                let eq = c.prover.snapshot.find_keys(&text.value).iter().any(|x| x.arn == k.arn);
                Tri::from_bool(eq != *negated)
            }
            None => return Err(c.error(*span, "`key` is not bound here".into(), "unbound")),
        },
        Formula::Can { principal, action, key, context, span: _ } => {
            let (member, resolved, k, actions) = can_terms(c, principal, action, key, inst, literals)?;
            // (`can_terms` refuses a pattern that matches no action.)
            let Some(&first_action) = actions.first() else {
                return Err(SolverError::Internal(format!("`{}` matches no action", action.value)));
            };
            let mut result = Tri::False;
            for &a in actions {
                match c.prover.can_resolved(member, resolved, a, k, context.as_ref()) {
                    Can::Yes(w) => {
                        inst.witnesses.push(*w);
                        return Ok(Tri::True);
                    }
                    Can::No => {}
                    Can::Unknown(why) => {
                        inst.unknown.push(why);
                        result = Tri::Unknown;
                    }
                    Can::Internal(why) => {
                        inst.internal = Some(why);
                        result = Tri::Unknown;
                    }
                }
            }
            if result.is_false() {
                inst.denied.push((member, first_action, k));
            }
            result
        }
        Formula::CanReach { principal, action, key, span: _ } => {
            let (member, _, k, actions) = can_terms(c, principal, action, key, inst, literals)?;
            let mut result = Tri::False;
            for &a in actions {
                let answer = c.reach.get(&(a.name.clone(), k.arn.clone())).ok_or_else(|| {
                    SolverError::Internal(format!("no transitive search for kms:{} on {}", a.name, k.arn))
                })?;
                let t = match answer {
                    Ok(t) => t,
                    Err(e) => {
                        inst.unknown.push(format!("can_reach kms:{} on {}: {e}", a.name, k.arn));
                        result = Tri::Unknown;
                        continue;
                    }
                };
                match reach_of(c.prover, t, member, c.uncovered.as_deref()) {
                    Reach::Yes(r) => {
                        inst.paths.push(ReachPath { action: t.action.clone(), key: t.key.clone(), reached: *r });
                        return Ok(Tri::True);
                    }
                    Reach::No => {}
                    Reach::Unknown(why) => {
                        inst.unknown.push(why);
                        result = Tri::Unknown;
                    }
                }
            }
            if result.is_false() {
                if let Some(&first) = actions.first() {
                    inst.denied.push((member, first, k));
                }
            }
            result
        }
    })
}

enum Reach {
    Yes(Box<Reached>),
    No,
    Unknown(String),
}

/// Whether `member` is in the reach set: listed with a path that replays (yes), not listed and
/// asked about with nothing undecided (no), or anything else (unknown: a truncated search, an
/// undecided edge, a path that does not replay, a principal the search did not ask about).
fn reach_of(prover: &Prover<'_>, t: &Transitive, member: &Member, uncovered: Option<&str>) -> Reach {
    if let Some(r) = t.principals.iter().find(|r| r.allowed.principal == member.principal) {
        return match replay_path(prover.snapshot, t, r) {
            Ok(()) => Reach::Yes(Box::new(r.clone())),
            Err(e) => Reach::Unknown(format!("the path of {} to {} does not replay: {e}", member.describe(), t.action)),
        };
    }
    let Some((_, describe)) = t.members.iter().find(|(p, _)| *p == member.principal) else {
        return Reach::Unknown(format!("{} is not in the transitive search's domain", member.describe()));
    };
    // Each undecided line names its principal ("DESCRIPTION: why"); a line naming none (the
    // truncated search) applies to every principal not listed.
    let mine = format!("{describe}: ");
    let general = |line: &&String| !t.members.iter().any(|(_, d)| line.starts_with(&format!("{d}: ")));
    if let Some(line) = t.unknown.iter().find(|l| l.starts_with(&mine)).or_else(|| t.unknown.iter().find(general)) {
        return Reach::Unknown(format!("can_reach {} on {}: {line}", t.action, t.key));
    }
    if t.truncated {
        return Reach::Unknown(format!(
            "can_reach {} on {}: the search stopped at --max-hops {}",
            t.action, t.key, t.max_hops
        ));
    }
    if let Some(why) = uncovered {
        return Reach::Unknown(format!("can_reach {} on {}: {why}", t.action, t.key));
    }
    Reach::No
}

/// Whether a formula has a `can_reach` atom.
fn has_reach(f: &Formula) -> bool {
    match f {
        Formula::CanReach { .. } => true,
        Formula::Not(a) => has_reach(a),
        Formula::And(a, b) | Formula::Or(a, b) | Formula::Implies(a, b) => has_reach(a) || has_reach(b),
        _ => false,
    }
}

/// An edge kind the issue asks for that the transitive search does not follow yet, present in
/// the snapshot: a role whose trust policy allows a `Federated` principal
/// (`sts:AssumeRoleWithSAML` / `AssumeRoleWithWebIdentity`), or an IAM group with members
/// (`iam:AddUserToGroup` can put another user in it). Then "not reachable" is not proved: such a
/// `can_reach` is unknown, never false (SOUNDNESS.md).
fn uncovered_edges(snapshot: &keyproof_model::Snapshot) -> Option<String> {
    for account in snapshot.accounts.values() {
        for role in &account.roles {
            let Some(trust) = &role.trust else { continue };
            let federated = trust.statements.iter().any(|st| {
                st.effect.value == keyproof_parser::policy::Effect::Allow
                    && st.principal.as_ref().is_some_and(|pe| {
                        pe.negated
                            || pe.entries.iter().any(|e| e.kind == keyproof_parser::policy::PrincipalKind::Federated)
                    })
            });
            if federated {
                return Some(format!(
                    "the search does not follow sts:AssumeRoleWithSAML or AssumeRoleWithWebIdentity, and {} trusts a federated principal",
                    role.arn
                ));
            }
        }
        if let Some(user) = account.users.iter().find(|u| !u.groups.is_empty()) {
            return Some(format!(
                "the search does not follow iam:AddUserToGroup, and account {} has IAM groups ({} is in {})",
                account.id,
                user.arn,
                user.groups.join(", ")
            ));
        }
    }
    None
}

type Terms<'a, 'c, 's> = (&'a Member, &'a Resolved<'s>, &'a Key, &'c [&'static KmsAction]);

/// The principal, key and actions of a `can` or `can_reach` at an instance.
fn can_terms<'a, 'c, 's>(
    c: &'c Ctx<'a, 's>,
    principal: &PrincipalTerm,
    action: &keyproof_parser::Spanned<String>,
    key: &KeyTerm,
    inst: &Instance<'a, 's>,
    literals: &'a Literals<'s>,
) -> Result<Terms<'a, 'c, 's>, SolverError> {
    let (member, resolved): (&'a Member, &'a Resolved<'s>) = match principal {
        PrincipalTerm::Var(_) => (inst.member, inst.resolved),
        PrincipalTerm::Literal(p) => literals
            .get(&p.value)
            .map(|(m, r)| (m, r))
            .ok_or_else(|| SolverError::Internal(format!("principal `{}` was not resolved", p.value)))?,
    };
    let k: &'a Key = match key {
        KeyTerm::Var(s) => inst.key.ok_or_else(|| c.error(*s, "`key` is not bound here".into(), "unbound"))?,
        KeyTerm::Literal(text) => c.key_literal(text)?,
    };
    let actions: &'c [&'static KmsAction] = c.actions.get(&action.value).map_or(&[], Vec::as_slice);
    if actions.is_empty() {
        return Err(c.error(
            action.span,
            format!(
                "`{}` matches no KMS action on keys{}",
                action.value,
                keyproof_model::suggest::action(&action.value)
            ),
            "no such action",
        ));
    }
    Ok((member, resolved, k, actions))
}

fn has_can(f: &Formula) -> bool {
    match f {
        Formula::Can { .. } | Formula::CanReach { .. } => true,
        Formula::Not(a) => has_can(a),
        Formula::And(a, b) | Formula::Or(a, b) | Formula::Implies(a, b) => has_can(a) || has_can(b),
        _ => false,
    }
}

fn cheap_first<'f>(a: &'f Formula, b: &'f Formula) -> (&'f Formula, &'f Formula) {
    if has_can(a) && !has_can(b) {
        (b, a)
    } else {
        (a, b)
    }
}

/// The actions of every `can` atom's action pattern.
fn can_actions(f: &Formula, out: &mut HashMap<String, Vec<&'static KmsAction>>) {
    match f {
        Formula::Can { action, .. } | Formula::CanReach { action, .. } => {
            out.entry(action.value.clone()).or_insert_with(|| actions_matching(&action.value));
        }
        Formula::Not(a) => can_actions(a, out),
        Formula::And(a, b) | Formula::Or(a, b) | Formula::Implies(a, b) => {
            can_actions(a, out);
            can_actions(b, out)
        }
        _ => {}
    }
}

/// The action pattern and key term of every `can_reach` atom.
fn reach_atoms(f: &Formula) -> Vec<(String, &KeyTerm)> {
    match f {
        Formula::CanReach { action, key, .. } => vec![(action.value.clone(), key)],
        Formula::Not(a) => reach_atoms(a),
        Formula::And(a, b) | Formula::Or(a, b) | Formula::Implies(a, b) => {
            let mut out = reach_atoms(a);
            out.extend(reach_atoms(b));
            out
        }
        _ => Vec::new(),
    }
}

/// The principal literals of a formula's `can` atoms, in order of appearance.
fn can_literals(f: &Formula, out: &mut Vec<keyproof_parser::Spanned<String>>) {
    match f {
        Formula::Can { principal: PrincipalTerm::Literal(p), .. }
        | Formula::CanReach { principal: PrincipalTerm::Literal(p), .. }
            if !out.iter().any(|q| q.value == p.value) =>
        {
            out.push(p.clone());
        }
        Formula::Not(a) => can_literals(a, out),
        Formula::And(a, b) | Formula::Or(a, b) | Formula::Implies(a, b) => {
            can_literals(a, out);
            can_literals(b, out)
        }
        _ => {}
    }
}

/// `principal == ARN`: the principal itself, or a session of that role.
fn principal_is(c: &Ctx<'_, '_>, m: &Member, arn: &str) -> bool {
    if m.principal == arn {
        return true;
    }
    if m.is_representative() {
        return false;
    }
    resolve_principal(c.prover.snapshot, &m.principal).ok().and_then(|p| p.principal_arn).is_some_and(|a| a == arn)
}

fn literal_member(
    c: &Ctx<'_, '_>,
    p: &keyproof_parser::Spanned<String>,
    domain: &[Member],
) -> Result<Member, SolverError> {
    if let Some(m) = domain.iter().find(|m| m.principal == p.value) {
        return Ok(m.clone());
    }
    let r = resolve_principal(c.prover.snapshot, &p.value)
        .map_err(|e| c.error(p.span, e.to_string(), "not a principal"))?;
    let account = r.account_id().map(str::to_string);
    let kind = if r.identity_known && r.account.is_some() { Kind::Snapshot } else { Kind::NamedOutside };
    Ok(Member { kind, principal: p.value.clone(), account })
}

/// A stable part of the keys: `--shard I/N` decides the keys whose ARN hashes to `I` (1-based)
/// modulo `N`, so that N jobs on the same snapshot cover every key exactly once, and a key stays
/// in its shard when other keys are added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Parses `I/N` with 1 ≤ I ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text.split_once('/').ok_or_else(|| format!("`{text}` is not I/N (e.g. 1/4)"))?;
        let index: u32 = i.trim().parse().map_err(|_| format!("`{i}` is not a shard number"))?;
        let count: u32 = n.trim().parse().map_err(|_| format!("`{n}` is not a shard count"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("shard `{text}`: need 1 ≤ I ≤ N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether the key (by ARN) is in this shard.
    pub fn has_key(&self, arn: &str) -> bool {
        self.count <= 1 || fnv1a(arn) % u64::from(self.count) == u64::from(self.index - 1)
    }

    /// Whether a property without a key variable (decided wholly in one shard, the one its name
    /// hashes to) belongs to this shard.
    pub fn has_property(&self, name: &str) -> bool {
        self.has_key(name)
    }
}

/// FNV-1a: stable across runs, platforms and Rust versions (unlike `DefaultHasher`).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// What the instances of one property reduce to, in bounded memory: the count, the first
/// violations (with the first one's witnesses), the first distinct reasons for `unknown`, and
/// the first failure. Each part remembers the instance index it came from, so that the parallel
/// reduction gives the answer a sequential pass would.
#[derive(Default)]
struct Summary {
    instances: usize,
    evaluated: usize,
    counterexample: Option<(usize, Counterexample)>,
    violations: Vec<(usize, Member, String)>,
    unknown: Vec<String>,
    /// The first undecided instance, named when no reason was given.
    first_undecided: Option<(usize, String)>,
    failure: Option<(usize, SolverError)>,
}

/// How many distinct reasons an `unknown` result keeps.
const MAX_REASONS: usize = 5;

impl Summary {
    fn merge(mut self, other: Summary) -> Summary {
        self.instances += other.instances;
        self.evaluated += other.evaluated;
        self.counterexample = match (self.counterexample.take(), other.counterexample) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        self.violations.extend(other.violations);
        self.violations.sort_by_key(|v| v.0);
        self.violations.truncate(MAX_VIOLATIONS);
        for u in other.unknown {
            if self.unknown.len() < MAX_REASONS && !self.unknown.contains(&u) {
                self.unknown.push(u);
            }
        }
        self.first_undecided = match (self.first_undecided.take(), other.first_undecided) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        self.failure = match (self.failure.take(), other.failure) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        self
    }
}

/// Checks one property.
pub fn check_property(
    prover: &Prover<'_>,
    sources: &SourceMap,
    prop: &Property,
    domain: &[Member],
) -> Result<PropertyResult, SolverError> {
    check_property_in(prover, sources, prop, domain, Shard::WHOLE)
}

/// Checks one property on the keys of one shard (a property without a key variable is checked
/// whole, in the shard [`Shard::has_property`] gives it; elsewhere it has no instance).
pub fn check_property_in(
    prover: &Prover<'_>,
    sources: &SourceMap,
    prop: &Property,
    domain: &[Member],
    shard: Shard,
) -> Result<PropertyResult, SolverError> {
    let reach = ReachCache::new(DEFAULT_MAX_HOPS, named_principals(std::slice::from_ref(prop)));
    check_property_reach(prover, sources, prop, domain, shard, &reach)
}

/// [`check_property_in`] with the `can_reach` searches shared through `reach` (one per action
/// and key, whichever properties ask it).
pub fn check_property_reach(
    prover: &Prover<'_>,
    sources: &SourceMap,
    prop: &Property,
    domain: &[Member],
    shard: Shard,
    reach: &ReachCache,
) -> Result<PropertyResult, SolverError> {
    let mut actions = HashMap::new();
    can_actions(&prop.body, &mut actions);
    let mut c = Ctx { prover, sources, actions, reach: HashMap::new(), uncovered: None };
    if has_reach(&prop.body) {
        c.uncovered = uncovered_edges(prover.snapshot);
    }
    let snap = prover.snapshot;
    let mut literal_list = Vec::new();
    can_literals(&prop.body, &mut literal_list);
    let mut literals: Literals<'_> = HashMap::new();
    for p in &literal_list {
        let m = literal_member(&c, p, domain)?;
        let r = prover.resolve(&m);
        literals.insert(p.value.clone(), (m, r));
    }
    // Without a principal variable, the instance is the property's own principal: the one its
    // `can` names (issue 9: a fixed-principal property is violated by that principal).
    let fixed: Option<&Member> = literal_list.first().and_then(|p| literals.get(&p.value)).map(|(m, _)| m);
    let principals: Vec<&Member> = match prop.binder(Var::Principal) {
        Some(b) => {
            let mut out = Vec::new();
            for m in domain {
                let keep = match &b.domain {
                    Some(set) => c.principal_in(m, set)?,
                    None => true,
                };
                if keep {
                    out.push(m);
                }
            }
            out
        }
        None => vec![fixed
            .or_else(|| domain.first())
            .ok_or_else(|| SolverError::Internal("empty principal domain".into()))?],
    };
    let keys: Vec<Option<&Key>> = match prop.binder(Var::Key) {
        Some(b) => {
            let mut out = Vec::new();
            for k in snap.keys().iter().filter(|k| shard.has_key(&k.arn)) {
                let keep = match &b.domain {
                    Some(set) => c.key_in(k, set)?,
                    None => true,
                };
                if keep {
                    out.push(Some(k));
                }
            }
            out
        }
        None if shard.has_property(&prop.name.value) => vec![None],
        None => Vec::new(),
    };
    let base = PropertyResult {
        property: prop.name.value.clone(),
        span: prop.span,
        status: Status::Vacuous,
        counterexample: None,
        reason: None,
        instances: 0,
        evaluated: 0,
        violations: Vec::new(),
    };
    if principals.is_empty() || keys.is_empty() {
        let which = if principals.is_empty() {
            "no principal of the snapshot is in the quantified set".to_string()
        } else if shard != Shard::WHOLE && prop.binder(Var::Key).is_none() {
            format!("checked in another shard than {}/{}", shard.index, shard.count)
        } else if shard != Shard::WHOLE {
            format!("no key of shard {}/{} is in the quantified set", shard.index, shard.count)
        } else {
            "no key of the snapshot is in the quantified set".to_string()
        };
        return Ok(PropertyResult { reason: Some(which), ..base });
    }
    // The reach sets of the `can_reach` atoms, one search per (action, key), before the
    // instances are decided in parallel (a search is itself parallel).
    let mut pairs: Vec<(&'static KmsAction, String)> = Vec::new();
    for (pattern, key) in reach_atoms(&prop.body) {
        let on: Vec<String> = match key {
            KeyTerm::Literal(text) => vec![c.key_literal(text)?.arn.clone()],
            KeyTerm::Var(_) => keys.iter().flatten().map(|k| k.arn.clone()).collect(),
        };
        for a in c.actions.get(&pattern).map_or(&[][..], Vec::as_slice) {
            for k in &on {
                if !pairs.iter().any(|(b, l)| b.name == a.name && l == k) {
                    pairs.push((a, k.clone()));
                }
            }
        }
    }
    if !pairs.is_empty() {
        c.reach = reach.get(prover, &pairs);
    }
    let c = c;
    // Instance `i` is key `i / |principals|`, principal `i % |principals|`: nothing is
    // materialised, and each instance is reduced into the summary as soon as it is decided.
    let resolved: Vec<Resolved<'_>> = principals.iter().map(|m| prover.resolve(m)).collect();
    let per_key = principals.len();
    let total = keys.len() * per_key;
    let literals = &literals;
    let instance = |i: usize| Instance {
        member: principals[i % per_key],
        resolved: &resolved[i % per_key],
        key: keys[i / per_key],
        witnesses: Vec::new(),
        paths: Vec::new(),
        denied: smallvec::SmallVec::new(),
        unknown: Vec::new(),
        internal: None,
    };
    // `A implies B` where no instance satisfies A says nothing, whatever B is: vacuous, like an
    // empty quantified set (`principal in ou "X"` for an OU with no principal).
    if let Formula::Implies(antecedent, _) = &prop.body {
        if !has_can(antecedent) {
            let mut satisfied = false;
            for i in 0..total {
                if !eval_formula(&c, antecedent, &mut instance(i), literals)?.is_false() {
                    satisfied = true;
                    break;
                }
            }
            if !satisfied {
                return Ok(PropertyResult {
                    reason: Some("no principal and key of the quantified sets satisfy the antecedent".into()),
                    instances: total,
                    ..base
                });
            }
        }
    }
    // One instance `i` decided, standing for the instances `base + p` of the principals `class`
    // (indices into `principals`, the first being `i`'s): members of one class are decided
    // alike (`Classes`), so the representative's answer is theirs.
    let visit = |mut acc: Summary, i: usize, base: usize, class: &[usize]| -> Summary {
        acc.instances += class.len();
        acc.evaluated += 1;
        if acc.failure.is_some() {
            return acc;
        }
        let mut inst = instance(i);
        let t = match eval_formula(&c, &prop.body, &mut inst, literals) {
            Ok(t) => t,
            Err(e) => {
                acc.failure = Some((i, e));
                return acc;
            }
        };
        if let Some(why) = inst.internal {
            acc.failure = Some((i, SolverError::Internal(why)));
            return acc;
        }
        match t {
            Tri::False => {
                let key = inst
                    .key
                    .map(|k| k.arn.clone())
                    .or_else(|| inst.witnesses.first().map(|w| w.request.key.clone()))
                    .or_else(|| inst.paths.first().map(|p| p.key.clone()))
                    .or_else(|| inst.denied.first().map(|d| d.2.arn.clone()))
                    .unwrap_or_default();
                // Classes are not visited in the instances' order: the lowest indices are kept.
                for &p in class.iter().take(MAX_VIOLATIONS) {
                    acc.violations.push((base + p, principals[p].clone(), key.clone()));
                }
                if acc.violations.len() > MAX_VIOLATIONS {
                    acc.violations.sort_by_key(|v| v.0);
                    acc.violations.truncate(MAX_VIOLATIONS);
                }
                if acc.counterexample.as_ref().is_none_or(|(at, _)| i < *at) {
                    let denials = inst.denied.iter().filter_map(|(m, a, k)| denial(c.prover, m, a, k)).collect();
                    acc.counterexample = Some((
                        i,
                        Counterexample {
                            member: inst.member.clone(),
                            key,
                            witnesses: inst.witnesses,
                            denials,
                            paths: inst.paths,
                        },
                    ));
                }
            }
            Tri::Unknown => {
                for u in inst.unknown {
                    if acc.unknown.len() < MAX_REASONS && !acc.unknown.contains(&u) {
                        acc.unknown.push(u);
                    }
                }
                if acc.first_undecided.as_ref().is_none_or(|(at, _)| i < *at) {
                    acc.first_undecided = Some((i, inst.member.describe()));
                }
            }
            Tri::True => {}
        }
        acc
    };
    // `Prover::grouping` off (the differential test's ungrouped side): every instance on its own.
    let classes = if per_key > 1 && prover.grouping {
        Classes::of(&c, &prop.body, &principals, &resolved, literals)?
    } else {
        None
    };
    let summary = match &classes {
        // Every instance on its own.
        None => (0..total)
            .into_par_iter()
            .fold(Summary::default, |acc, i| visit(acc, i, (i / per_key) * per_key, &[i % per_key]))
            .reduce(Summary::default, Summary::merge),
        // Key by key: the principals the key's gates can admit on their own, the others one
        // representative per class.
        Some(cl) => keys
            .par_iter()
            .enumerate()
            .map(|(ki, key)| {
                let base = ki * per_key;
                let (alone, grouped) = cl.plan(c.prover, *key);
                let one = alone
                    .par_iter()
                    .fold(Summary::default, |acc, &p| visit(acc, base + p, base, &[p]))
                    .reduce(Summary::default, Summary::merge);
                let many = grouped
                    .par_iter()
                    .fold(Summary::default, |acc, class| visit(acc, base + class[0], base, class))
                    .reduce(Summary::default, Summary::merge);
                one.merge(many)
            })
            .reduce(Summary::default, Summary::merge),
    };
    if let Some((_, e)) = summary.failure {
        return Err(e);
    }
    let n = summary.instances;
    let base = PropertyResult { evaluated: summary.evaluated, ..base };
    let violations: Vec<(Member, String)> = summary.violations.into_iter().map(|(_, m, k)| (m, k)).collect();
    // A confirmed counterexample decides the property even if other instances are undecided.
    if let Some((_, ce)) = summary.counterexample {
        return Ok(PropertyResult {
            status: Status::Violated,
            counterexample: Some(ce),
            violations,
            instances: n,
            ..base
        });
    }
    let mut unknown = summary.unknown;
    if unknown.is_empty() {
        if let Some((_, who)) = summary.first_undecided {
            unknown.push(format!("undecided for {who}"));
        }
    }
    if unknown.is_empty() {
        Ok(PropertyResult { status: Status::Proved, instances: n, ..base })
    } else {
        Ok(PropertyResult { status: Status::Unknown, reason: Some(unknown.join("; ")), instances: n, ..base })
    }
}

/// Classes of principals that a property decides alike on a key the principals are not
/// admitted to.
///
/// What a formula reads of its instance's principal is: the principal-only atoms
/// (`principal in …`, `principal == …`, `principal like …`), and the `can` atoms whose principal
/// is the variable. For a key, a principal that none of those `can` atoms' key gates
/// ([`crate::query::KeyGate`]) admits, for any of their actions, gets `false` from each of them
/// (the pre-filter: no statement or grant of the key can name it), whatever else it is; so two
/// such principals whose principal-only atoms have the same values are decided the same way, and
/// one of them (the first, so that the reported counterexample is the one a pass in order would
/// report) stands for all. A principal that did not resolve, or for which an atom is undecided
/// (its reason names it), is decided on its own; so is every principal a gate admits. A formula
/// with anything else that reads the principal is not grouped.
struct Classes {
    /// Per principal: its class (the values of the principal-only atoms), or `None` to be
    /// decided on its own.
    class_of: Vec<Option<u32>>,
    classes: usize,
    /// The `can` atoms on the principal variable: their key (`None`: the instance's) and actions.
    gates: Vec<(Option<String>, Vec<&'static KmsAction>)>,
    /// The principals by account number, the service principals.
    by_account: HashMap<u64, Vec<usize>>,
    services: Vec<usize>,
}

impl Classes {
    fn of<'a, 's>(
        c: &Ctx<'a, 's>,
        body: &Formula,
        principals: &[&'a Member],
        resolved: &'a [Resolved<'s>],
        literals: &'a Literals<'s>,
    ) -> Result<Option<Classes>, SolverError> {
        let mut atoms: Vec<&Formula> = Vec::new();
        let mut gates = Vec::new();
        if !principal_reads(c, body, &mut atoms, &mut gates) {
            return Ok(None);
        }
        let mut ids: HashMap<Vec<bool>, u32> = HashMap::new();
        let mut class_of = Vec::with_capacity(principals.len());
        let (mut by_account, mut services): (HashMap<u64, Vec<usize>>, Vec<usize>) = (HashMap::new(), Vec::new());
        for (i, m) in principals.iter().enumerate() {
            let Ok(p) = &resolved[i] else {
                class_of.push(None);
                continue;
            };
            if matches!(p.r, keyproof_model::principal::PrincipalRef::Service(_)) {
                services.push(i);
            }
            if let Some(n) = p.account_id().and_then(crate::query::account_number) {
                by_account.entry(n).or_default().push(i);
            }
            let mut values = Vec::with_capacity(atoms.len());
            let mut alone = false;
            for a in &atoms {
                let mut inst = Instance {
                    member: m,
                    resolved: &resolved[i],
                    key: None,
                    witnesses: Vec::new(),
                    denied: smallvec::SmallVec::new(),
                    paths: Vec::new(),
                    unknown: Vec::new(),
                    internal: None,
                };
                match eval_formula(c, a, &mut inst, literals) {
                    Ok(Tri::True) if inst.unknown.is_empty() => values.push(true),
                    Ok(Tri::False) if inst.unknown.is_empty() => values.push(false),
                    _ => alone = true,
                }
            }
            class_of.push((!alone).then(|| {
                let next = ids.len() as u32;
                *ids.entry(values).or_insert(next)
            }));
        }
        Ok(Some(Classes { class_of, classes: ids.len(), gates, by_account, services }))
    }

    /// For one key: the principals decided on their own, and the classes of the others (each in
    /// the principals' order), every principal in exactly one of them.
    fn plan(&self, prover: &Prover<'_>, key: Option<&Key>) -> (Vec<usize>, Vec<Vec<usize>>) {
        let n = self.class_of.len();
        let mut admitted = vec![false; n];
        let mut everyone = false;
        for (literal, actions) in &self.gates {
            let k = match (literal, key) {
                (Some(text), _) => prover.snapshot.key(text).ok(),
                (None, k) => k,
            };
            // No key (a property without a key variable): every instance on its own.
            let Some(k) = k else {
                everyone = true;
                break;
            };
            for &a in actions {
                let gate = prover.gate(k, a);
                if gate.everyone() {
                    everyone = true;
                    break;
                }
                if gate.services() {
                    self.services.iter().for_each(|&i| admitted[i] = true);
                }
                for acc in gate.accounts() {
                    self.by_account.get(&acc).into_iter().flatten().for_each(|&i| admitted[i] = true);
                }
            }
            if everyone {
                break;
            }
        }
        if everyone {
            return ((0..n).collect(), Vec::new());
        }
        let mut alone = Vec::new();
        let mut grouped: Vec<Vec<usize>> = vec![Vec::new(); self.classes];
        for (i, class) in self.class_of.iter().enumerate() {
            match class {
                Some(c) if !admitted[i] => grouped[*c as usize].push(i),
                _ => alone.push(i),
            }
        }
        grouped.retain(|g| !g.is_empty());
        (alone, grouped)
    }
}

/// Collects what a formula reads of its instance's principal ([`Classes`]): the principal-only
/// atoms, and the key and actions of each `can` on the principal variable. False when it reads
/// the principal some other way (the formula is then not grouped).
fn principal_reads<'f>(
    c: &Ctx<'_, '_>,
    f: &'f Formula,
    atoms: &mut Vec<&'f Formula>,
    gates: &mut Vec<(Option<String>, Vec<&'static KmsAction>)>,
) -> bool {
    match f {
        Formula::PrincipalIn(..) | Formula::PrincipalEq(..) | Formula::PrincipalLike(..) => {
            atoms.push(f);
            true
        }
        Formula::Can { principal: PrincipalTerm::Var(_), action, key, .. } => {
            let key = match key {
                KeyTerm::Var(_) => None,
                KeyTerm::Literal(text) => Some(text.value.clone()),
            };
            gates.push((key, c.actions.get(&action.value).cloned().unwrap_or_default()));
            true
        }
        Formula::Can { principal: PrincipalTerm::Literal(_), .. }
        | Formula::KeyIn(..)
        | Formula::KeyEq(..)
        | Formula::Bool(_) => true,
        // A path can start from any principal: not grouped.
        Formula::CanReach { principal: PrincipalTerm::Var(_), .. } => false,
        Formula::CanReach { principal: PrincipalTerm::Literal(_), .. } => true,
        Formula::Not(a) => principal_reads(c, a, atoms, gates),
        Formula::And(a, b) | Formula::Or(a, b) | Formula::Implies(a, b) => {
            principal_reads(c, a, atoms, gates) && principal_reads(c, b, atoms, gates)
        }
    }
}

/// Why a `can` that is false at the counterexample is denied: the evaluator's decision on the
/// request with nothing in its context but what the snapshot fixes. The solver showed that no
/// context allows it; this trace shows the statements (or the missing ones) that deny it.
fn denial(prover: &Prover<'_>, member: &Member, action: &'static KmsAction, key: &Key) -> Option<Decision> {
    let request = Request {
        principal: member.principal.clone(),
        action: format!("kms:{}", action.name),
        key: key.arn.clone(),
        context: std::collections::BTreeMap::new(),
    };
    // Without the `where` context the request may replay otherwise: only a deny explains why
    // the `can` is false.
    decide(prover.snapshot, &request).ok().filter(|d| {
        matches!(d.decision, keyproof_model::eval::Verdict::ImplicitDeny | keyproof_model::eval::Verdict::ExplicitDeny)
    })
}
