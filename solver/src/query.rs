//! One question: can this principal perform this action on this key, under some request context
//! (narrowed by a `where` condition)? The answer is found by the solver and, when it is yes,
//! read back as a concrete request and replayed through the concrete evaluator before anything
//! is reported.

use crate::domain::{mentioned_accounts, Kind, Member};
use crate::encode::context::{Bounds, Sym, SymContext, SymVal};
use crate::encode::{allowed, Target};
use crate::term::{and, constant, eval, in_re, not, or, str_eq, Re, Sort, Str, Term, VarRole};
use crate::z3_backend::{check, Answer, Value};
use keyproof_model::context::{build_context, is_outside_reason, resolve_principal, Request};
use keyproof_model::eval::{decide, Decision, Verdict};
use keyproof_model::reference::{KmsAction, Reference};
use keyproof_model::snapshot::{Key, Snapshot};
use keyproof_model::wildcard::glob;
use keyproof_parser::property::ContextCond;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A request the solver found and the evaluator confirmed.
#[derive(Debug, Clone)]
pub struct Witness {
    pub member: Member,
    pub request: Request,
    /// The evaluator's decision on the request: `allow`, or `unknown` only for what the world
    /// outside the snapshot could allow (see `assumptions`).
    pub decision: Decision,
    /// What must hold outside the snapshot for the request to be allowed ("the IAM policies of
    /// account A allow it").
    pub assumptions: Vec<String>,
}

/// The answer to one `can` question.
#[derive(Debug, Clone)]
pub enum Can {
    Yes(Box<Witness>),
    No,
    /// Not decided: the reason says why (a solver timeout, an unknown condition key, …).
    Unknown(String),
    /// The solver's request did not replay through the evaluator: a bug in one of them.
    Internal(String),
}

/// Everything the prover needs about a snapshot, computed once.
pub struct Prover<'s> {
    pub snapshot: &'s Snapshot,
    pub bounds: Bounds,
    pub timeout_ms: u32,
    mentioned: BTreeSet<String>,
    /// ARNs named for each account outside the snapshot (a representative is none of them).
    named_outside: HashMap<String, Vec<String>>,
}

/// Role and user names (IAM reference_iam-quotas: `[\w+=,.@-]+`).
fn name_chars() -> Re {
    Re::Class(vec![
        ('a', 'z'),
        ('A', 'Z'),
        ('0', '9'),
        ('+', '+'),
        ('=', '='),
        (',', ','),
        ('.', '.'),
        ('@', '@'),
        ('_', '_'),
        ('-', '-'),
    ])
}

impl<'s> Prover<'s> {
    pub fn new(snapshot: &'s Snapshot, timeout_ms: u32, extra_principals: &[String]) -> Prover<'s> {
        let domain = crate::domain::principals(snapshot, extra_principals);
        let mut named_outside: HashMap<String, Vec<String>> = HashMap::new();
        for m in &domain {
            if m.kind == Kind::NamedOutside {
                if let Some(a) = &m.account {
                    named_outside.entry(a.clone()).or_default().push(m.principal.clone());
                }
            }
        }
        Prover {
            snapshot,
            bounds: Bounds::of(snapshot),
            timeout_ms,
            mentioned: mentioned_accounts(snapshot, extra_principals),
            named_outside,
        }
    }

    /// The principal domain (see [`crate::domain`]).
    pub fn domain(&self, extra: &[String]) -> Vec<Member> {
        crate::domain::principals(self.snapshot, extra)
    }

    /// Can `member` perform `action` on `key` under some context satisfying `cond`?
    pub fn can(&self, member: &Member, action: &'static KmsAction, key: &Key, cond: Option<&ContextCond>) -> Can {
        let principal = match resolve_principal(self.snapshot, &member.principal) {
            Ok(p) => p,
            Err(e) => return Can::Unknown(format!("cannot resolve `{}`: {e}", member.principal)),
        };
        let base = match build_context(self.snapshot, &principal, key, action, &BTreeMap::new()) {
            Ok(b) => b,
            Err(e) => return Can::Unknown(e.to_string()),
        };
        let mut sc = SymContext::new(&base, &self.bounds);
        sc.session_tags = principal.role.is_some_and(|r| r.session_tags_allowed());
        // The name of a representative principal is a variable.
        let mut name_var = None;
        if let Kind::AnyOf(_) | Kind::AnyOtherAccount = &member.kind {
            let account = match &member.kind {
                Kind::AnyOf(a) => a.clone(),
                _ => crate::domain::OTHER_ACCOUNT.to_string(),
            };
            let v = sc.vars.fresh(Sort::Str, VarRole::Unknown("the name of the principal".into()));
            let mut dom = vec![or([
                in_re(
                    Str::Var(v),
                    Re::Concat(vec![
                        Re::Lit(format!("arn:aws:iam::{account}:role/")),
                        name_chars(),
                        Re::Star(Box::new(name_chars())),
                    ]),
                ),
                in_re(
                    Str::Var(v),
                    Re::Concat(vec![
                        Re::Lit(format!("arn:aws:iam::{account}:user/")),
                        name_chars(),
                        Re::Star(Box::new(name_chars())),
                    ]),
                ),
            ])];
            for named in self.named_outside.get(&account).into_iter().flatten() {
                dom.push(not(str_eq(Str::Var(v), Str::Lit(named.clone()))));
            }
            sc.side.push(and(dom));
            sc.overrides.insert(
                "aws:principalarn".into(),
                Sym::Single {
                    present: constant(true),
                    value: SymVal::Str(Str::Var(v)),
                    kind: keyproof_model::reference::KeyType::Arn,
                },
            );
            let why = format!("{}the name of {} is not fixed", keyproof_model::context::OUTSIDE, member.describe());
            sc.overrides.insert("aws:userid".into(), Sym::Unknown(why.clone()));
            sc.overrides.insert("aws:username".into(), Sym::Unknown(why));
            name_var = Some(v);
        }
        if member.kind == Kind::AnyOtherService {
            let why = format!("{}the name of {} is not fixed", keyproof_model::context::OUTSIDE, member.describe());
            sc.overrides.insert("aws:principalservicename".into(), Sym::Unknown(why));
        }
        let target = Target { snapshot: self.snapshot, principal: &principal, action, key, base: &base };
        let mut goal = allowed(&target, &mut sc);
        if let Some(c) = cond {
            goal = and([goal, where_term(c, &mut sc)]);
        }
        if goal.as_const() == Some(false) {
            return Can::No;
        }
        let values = match check(&sc.vars, &goal, &sc.side, self.timeout_ms) {
            Answer::Unsat => return Can::No,
            Answer::Unknown(why) => {
                return Can::Unknown(format!(
                    "the solver gave up ({why}) on kms:{} by {} on {}",
                    action.name,
                    member.describe(),
                    key.arn
                ))
            }
            Answer::Sat(v) => v,
        };
        let request = read_request(member, action, key, &sc, &values, name_var);
        let decision = match decide(self.snapshot, &request) {
            Ok(d) => d,
            Err(e) => return Can::Internal(format!("the solver's request does not load: {e}")),
        };
        let approximations: Vec<String> = sc.unknowns.iter().filter(|u| !is_outside_reason(u)).cloned().collect();
        match decision.decision {
            Verdict::Allow => {
                Can::Yes(Box::new(Witness { member: member.clone(), request, decision, assumptions: Vec::new() }))
            }
            Verdict::Unknown if decision.unknown.iter().all(|u| is_outside_reason(u)) => {
                let assumptions = decision
                    .unknown
                    .iter()
                    .map(|u| u.trim_start_matches(keyproof_model::context::OUTSIDE).to_string())
                    .collect();
                Can::Yes(Box::new(Witness { member: member.clone(), request, decision, assumptions }))
            }
            Verdict::Unknown => Can::Unknown(decision.unknown.join("; ")),
            _ if !approximations.is_empty() => Can::Unknown(approximations.join("; ")),
            other => Can::Internal(format!(
                "the solver found kms:{} by {} on {} allowed with context {:?}, but the evaluator says {}",
                action.name,
                request.principal,
                key.arn,
                request.context,
                other.as_str()
            )),
        }
    }

    /// Every account the snapshot names.
    pub fn mentioned(&self) -> &BTreeSet<String> {
        &self.mentioned
    }
}

/// Reads a concrete request back from a model.
fn read_request(
    member: &Member,
    action: &KmsAction,
    key: &Key,
    sc: &SymContext<'_>,
    values: &HashMap<crate::term::VarId, Value>,
    name_var: Option<crate::term::VarId>,
) -> Request {
    let principal = match name_var.and_then(|v| values.get(&v)) {
        Some(Value::Str(s)) => s.clone(),
        _ => member.principal.clone(),
    };
    let mut context: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for kv in sc.request_keys() {
        if kv.name == "keyproof:other-encryption-context-keys" {
            for (p, v) in &kv.slots {
                if eval(p, values) {
                    if let SymVal::Str(s) = v {
                        let name = text_of(&SymVal::Str(s.clone()), values);
                        context.insert(format!("kms:EncryptionContext:{name}"), vec!["example".into()]);
                    }
                }
            }
            continue;
        }
        let mut vals = Vec::new();
        for (p, v) in &kv.slots {
            if eval(p, values) {
                vals.push(text_of(v, values));
            }
        }
        if !vals.is_empty() {
            context.insert(kv.name.clone(), vals);
        }
    }
    Request { principal, action: format!("kms:{}", action.name), key: key.arn.clone(), context }
}

fn text_of(v: &SymVal, values: &HashMap<crate::term::VarId, Value>) -> String {
    match v {
        SymVal::Str(Str::Lit(l)) => l.clone(),
        SymVal::Str(Str::Var(x)) => match values.get(x) {
            Some(Value::Str(s)) => s.clone(),
            _ => "example".into(),
        },
        SymVal::Real(x) => match values.get(x) {
            Some(Value::Real(r)) => r.clone(),
            _ => "0".into(),
        },
        SymVal::Date(x) => match values.get(x) {
            Some(Value::Int(i)) => i.to_string(),
            _ => "0".into(),
        },
        SymVal::Ip { is6, v4, v6 } => {
            if matches!(values.get(is6), Some(Value::Bool(true))) {
                match values.get(v6) {
                    Some(Value::Ip6(a)) => std::net::Ipv6Addr::from(*a).to_string(),
                    _ => "::".into(),
                }
            } else {
                match values.get(v4) {
                    Some(Value::Ip4(a)) => std::net::Ipv4Addr::from(*a).to_string(),
                    _ => "0.0.0.0".into(),
                }
            }
        }
    }
}

/// The `where` condition of a property over the symbolic context.
pub fn where_term(c: &ContextCond, sc: &mut SymContext<'_>) -> Term {
    match c {
        ContextCond::Not(inner) => not(where_term(inner, sc)),
        ContextCond::And(a, b) => and([where_term(a, sc), where_term(b, sc)]),
        ContextCond::Or(a, b) => or([where_term(a, sc), where_term(b, sc)]),
        ContextCond::Exists(k) => match sc.lookup(&k.value) {
            Sym::Absent => constant(false),
            Sym::Values(_) | Sym::BoolTerm(_) => constant(true),
            Sym::Single { present, .. } => present,
            Sym::Multi { slots, .. } => or(slots.into_iter().map(|(p, _)| p)),
            Sym::Unknown(why) => sc.unknown(why),
            Sym::OneOf(..) => sc.unknown(format!("whether `{}` is present", k.value)),
        },
        ContextCond::Eq { key, value, negated } => {
            let t = value_test(&key.value, sc, |v| match v {
                Tested::Text(s) => constant(s == value.value),
                Tested::Str(s) => str_eq(s, Str::Lit(value.value.clone())),
            });
            if *negated {
                not(t)
            } else {
                t
            }
        }
        ContextCond::Like { key, pattern } => value_test(&key.value, sc, |v| match v {
            Tested::Text(s) => constant(glob(&pattern.value, &s, false)),
            Tested::Str(s) => in_re(s, Re::glob(&pattern.value, None)),
        }),
        ContextCond::In { key, values } => value_test(&key.value, sc, |v| {
            or(values.iter().map(|want| match &v {
                Tested::Text(s) => constant(*s == want.value),
                Tested::Str(s) => str_eq(s.clone(), Str::Lit(want.value.clone())),
            }))
        }),
        ContextCond::InCidr { key, cidr } => match sc.lookup(&key.value) {
            Sym::Single { present, value: SymVal::Ip { is6, v4, v6 }, .. } => {
                and([present, crate::encode::condition::ip_in(&cidr.value, is6, v4, v6)])
            }
            Sym::Values(vs) => constant(vs.iter().any(|v| keyproof_model::eval::condition::ip_in(v, &cidr.value))),
            Sym::Absent => constant(false),
            _ => sc.unknown(format!("`{}` in cidr is encoded only for IP address keys", key.value)),
        },
    }
}

enum Tested {
    Text(String),
    Str(Str),
}

/// "Some value of the key passes the test" (false when the key is absent).
fn value_test(key: &str, sc: &mut SymContext<'_>, test: impl Fn(Tested) -> Term) -> Term {
    match sc.lookup(key) {
        Sym::Absent => constant(false),
        Sym::Values(vs) => or(vs.into_iter().map(|v| test(Tested::Text(v)))),
        Sym::Single { present, value: SymVal::Str(s), .. } => and([present, test(Tested::Str(s))]),
        Sym::Multi { slots, .. } => or(slots.into_iter().map(|(p, v)| match v {
            SymVal::Str(s) => and([p, test(Tested::Str(s))]),
            _ => constant(false),
        })),
        Sym::BoolTerm(t) => {
            or([and([t.clone(), test(Tested::Text("true".into()))]), and([not(t), test(Tested::Text("false".into()))])])
        }
        Sym::Unknown(why) => sc.unknown(why),
        other => sc.unknown(format!("a property condition on `{key}` ({other:?}) is not encoded")),
    }
}

/// The KMS actions on keys an action pattern covers (`kms:*`, `kms:Generate*`).
pub fn actions_matching(pattern: &str) -> Vec<&'static KmsAction> {
    Reference::get().actions().filter(|a| a.on_key && glob(pattern, &format!("kms:{}", a.name), true)).collect()
}
