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
use keyproof_model::context::resolve_principal;
use keyproof_model::snapshot::Key;
use keyproof_model::tri::Tri;
use keyproof_model::wildcard::glob;
use keyproof_parser::property::{Formula, KeyTerm, PrincipalTerm, Property, SetExpr, Var};
use keyproof_parser::{ParseError, SourceMap, Span};
use rayon::prelude::*;
use serde::Serialize;

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
    /// For each `can` that is false at the counterexample, the evaluator's decision on the
    /// request without context: why it is denied (no request context allows it).
    pub denials: Vec<keyproof_model::eval::Decision>,
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
            Formula::Can { principal: PrincipalTerm::Literal(p), .. } => out.push(p.value.clone()),
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
                self.error(text.span, format!("no account named `{}` in the snapshot", text.value), "unknown account")
            })
    }

    fn ou(&self, text: &keyproof_parser::Spanned<String>) -> Result<petgraph::graph::NodeIndex, SolverError> {
        let org = self
            .prover
            .snapshot
            .org
            .as_ref()
            .ok_or_else(|| self.error(text.span, "the snapshot has no organization".into(), "no OUs"))?;
        org.find_ou(&text.value)
            .ok_or_else(|| self.error(text.span, format!("no OU `{}` in the organization", text.value), "unknown OU"))
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
struct Instance<'a> {
    member: &'a Member,
    key: Option<&'a Key>,
    witnesses: Vec<Witness>,
    /// The `can` questions answered no: (principal, action, key ARN).
    denied: Vec<(String, String, String)>,
    unknown: Vec<String>,
    internal: Option<String>,
}

impl<'a> Instance<'a> {
    fn new(member: &'a Member, key: Option<&'a Key>) -> Instance<'a> {
        Instance { member, key, witnesses: Vec::new(), denied: Vec::new(), unknown: Vec::new(), internal: None }
    }
}

fn eval_formula(c: &Ctx<'_, '_>, f: &Formula, inst: &mut Instance<'_>, domain: &[Member]) -> Result<Tri, SolverError> {
    Ok(match f {
        Formula::Bool(b) => Tri::from_bool(*b),
        Formula::Not(a) => eval_formula(c, a, inst, domain)?.not(),
        Formula::And(a, b) => {
            let (first, second) = cheap_first(a, b);
            let x = eval_formula(c, first, inst, domain)?;
            if x.is_false() {
                return Ok(Tri::False);
            }
            x.and(eval_formula(c, second, inst, domain)?)
        }
        Formula::Or(a, b) => {
            let (first, second) = cheap_first(a, b);
            let x = eval_formula(c, first, inst, domain)?;
            if x.is_true() {
                return Ok(Tri::True);
            }
            x.or(eval_formula(c, second, inst, domain)?)
        }
        Formula::Implies(a, b) => {
            // Consequent first when it is cheap: a true consequent makes the antecedent moot.
            if !has_can(b) {
                let y = eval_formula(c, b, inst, domain)?;
                if y.is_true() {
                    return Ok(Tri::True);
                }
                return Ok(eval_formula(c, a, inst, domain)?.not().or(y));
            }
            let x = eval_formula(c, a, inst, domain)?;
            if x.is_false() {
                return Ok(Tri::True);
            }
            x.not().or(eval_formula(c, b, inst, domain)?)
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
        Formula::Can { principal, action, key, context, span } => {
            let member = match principal {
                PrincipalTerm::Var(_) => inst.member.clone(),
                PrincipalTerm::Literal(p) => literal_member(c, p, domain)?,
            };
            let k: &Key = match key {
                KeyTerm::Var(s) => inst.key.ok_or_else(|| c.error(*s, "`key` is not bound here".into(), "unbound"))?,
                KeyTerm::Literal(text) => c.key_literal(text)?,
            };
            let actions = actions_matching(&action.value);
            if actions.is_empty() {
                return Err(c.error(
                    action.span,
                    format!("`{}` matches no KMS action on keys", action.value),
                    "no such action",
                ));
            }
            let _ = span;
            let mut result = Tri::False;
            let first_action = actions.first().map(|a| format!("kms:{}", a.name)).unwrap_or_default();
            for a in actions {
                match c.prover.can(&member, a, k, context.as_ref()) {
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
                inst.denied.push((member.principal.clone(), first_action, k.arn.clone()));
            }
            result
        }
    })
}

/// The first principal a `can` of the formula names literally.
fn first_literal_principal(f: &Formula) -> Option<&keyproof_parser::Spanned<String>> {
    match f {
        Formula::Can { principal: PrincipalTerm::Literal(p), .. } => Some(p),
        Formula::Not(a) => first_literal_principal(a),
        Formula::And(a, b) | Formula::Or(a, b) | Formula::Implies(a, b) => {
            first_literal_principal(a).or_else(|| first_literal_principal(b))
        }
        _ => None,
    }
}

fn has_can(f: &Formula) -> bool {
    match f {
        Formula::Can { .. } => true,
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

/// Checks one property.
pub fn check_property(
    prover: &Prover<'_>,
    sources: &SourceMap,
    prop: &Property,
    domain: &[Member],
) -> Result<PropertyResult, SolverError> {
    let c = Ctx { prover, sources };
    let snap = prover.snapshot;
    let mut fixed_member: Option<Member> = None;
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
        // No principal variable: the formula is about the principals it names. The instance is
        // the first principal a `can` names (so that a counterexample names it), or any member.
        None => match first_literal_principal(&prop.body) {
            Some(p) => {
                let m = literal_member(&c, p, domain)?;
                match domain.iter().find(|d| **d == m) {
                    Some(d) => vec![d],
                    None => {
                        fixed_member = Some(m);
                        vec![]
                    }
                }
            }
            None => vec![domain.first().ok_or_else(|| SolverError::Internal("empty principal domain".into()))?],
        },
    };
    let principals: Vec<&Member> = match &fixed_member {
        Some(m) if principals.is_empty() => vec![m],
        _ => principals,
    };
    let keys: Vec<Option<&Key>> = match prop.binder(Var::Key) {
        Some(b) => {
            let mut out = Vec::new();
            for k in snap.keys() {
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
        None => vec![None],
    };
    let base = PropertyResult {
        property: prop.name.value.clone(),
        span: prop.span,
        status: Status::Vacuous,
        counterexample: None,
        reason: None,
        instances: 0,
        violations: Vec::new(),
    };
    if principals.is_empty() || keys.is_empty() {
        let which = if principals.is_empty() { "no principal" } else { "no key" };
        return Ok(PropertyResult {
            reason: Some(format!("{which} of the snapshot is in the quantified set")),
            ..base
        });
    }
    let instances: Vec<(&Member, Option<&Key>)> =
        keys.iter().flat_map(|k| principals.iter().map(move |m| (*m, *k))).collect();
    // `A implies B` where no instance satisfies A says nothing, whatever B is: vacuous, like an
    // empty quantified set (`principal in ou "X"` for an OU with no principal).
    if let Formula::Implies(antecedent, _) = &prop.body {
        if !has_can(antecedent) {
            let mut satisfied = false;
            for (m, k) in &instances {
                let mut inst = Instance::new(m, *k);
                if !eval_formula(&c, antecedent, &mut inst, domain)?.is_false() {
                    satisfied = true;
                    break;
                }
            }
            if !satisfied {
                return Ok(PropertyResult {
                    reason: Some("no principal and key of the quantified sets satisfy the antecedent".into()),
                    instances: instances.len(),
                    ..base
                });
            }
        }
    }
    let results: Vec<Result<(Tri, Instance<'_>), SolverError>> = instances
        .par_iter()
        .map(|(m, k)| {
            let mut inst = Instance::new(m, *k);
            let t = eval_formula(&c, &prop.body, &mut inst, domain)?;
            Ok((t, inst))
        })
        .collect();
    let mut unknown: Vec<String> = Vec::new();
    let n = results.len();
    let mut counterexample: Option<Counterexample> = None;
    let mut violations = Vec::new();
    for r in results {
        let (t, inst) = r?;
        if let Some(why) = inst.internal {
            return Err(SolverError::Internal(why));
        }
        match t {
            Tri::False => {
                let key = inst
                    .key
                    .map(|k| k.arn.clone())
                    .or_else(|| inst.witnesses.first().map(|w| w.request.key.clone()))
                    .or_else(|| inst.denied.first().map(|d| d.2.clone()))
                    .unwrap_or_default();
                if violations.len() < MAX_VIOLATIONS {
                    violations.push((inst.member.clone(), key.clone()));
                }
                if counterexample.is_none() {
                    let denials = inst
                        .denied
                        .iter()
                        .filter_map(|(principal, action, key)| {
                            let request = keyproof_model::context::Request {
                                principal: principal.clone(),
                                action: action.clone(),
                                key: key.clone(),
                                context: Default::default(),
                            };
                            // Without the `where` context the request may replay otherwise: only a
                            // deny explains why the `can` is false.
                            keyproof_model::eval::decide(snap, &request).ok().filter(|d| {
                                matches!(
                                    d.decision,
                                    keyproof_model::eval::Verdict::ImplicitDeny
                                        | keyproof_model::eval::Verdict::ExplicitDeny
                                )
                            })
                        })
                        .collect();
                    counterexample =
                        Some(Counterexample { member: inst.member.clone(), key, witnesses: inst.witnesses, denials });
                }
            }
            Tri::Unknown => {
                for u in inst.unknown {
                    if !unknown.contains(&u) {
                        unknown.push(u);
                    }
                }
                if unknown.is_empty() {
                    unknown.push(format!("undecided for {}", inst.member.describe()));
                }
            }
            Tri::True => {}
        }
    }
    // A confirmed counterexample decides the property even if other instances are undecided.
    if counterexample.is_some() {
        return Ok(PropertyResult { status: Status::Violated, counterexample, violations, instances: n, ..base });
    }
    if unknown.is_empty() {
        Ok(PropertyResult { status: Status::Proved, instances: n, ..base })
    } else {
        unknown.truncate(5);
        Ok(PropertyResult { status: Status::Unknown, reason: Some(unknown.join("; ")), instances: n, ..base })
    }
}
