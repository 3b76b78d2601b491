//! Condition operators over the symbolic context.
//!
//! Counterpart: `model/src/eval/condition.rs` — every rule there (absent keys, `IfExists`,
//! `ForAllValues:`/`ForAnyValue:`, negated operators, several values) is mirrored here, with
//! the request's values as variables. Where a comparison cannot be expressed exactly (an
//! operator of another family than the key's type), the condition becomes a free choice with its
//! reason recorded: proofs stay sound, and a counterexample that depends on it is reported as
//! unknown after replay.

use super::context::{Sym, SymContext, SymVal};
use crate::term::{and, constant, in_re, not, or, str_eq, Cmp, Re, Str, Term};
use keyproof_model::eval::condition::{
    absent, absent_unsettled, multivalued_unsettled, parse_date, parse_number, present, PolicyValue,
};
use keyproof_model::reference::KeyType;
use keyproof_model::tri::Tri;
use keyproof_parser::policy::{BaseOperator, Condition, OperatorFamily, SetOperator};

/// A Kleene value as a term: unknown becomes a free choice.
pub fn tri(t: Tri, sc: &mut SymContext<'_>, why: &str) -> Term {
    match t {
        Tri::True => constant(true),
        Tri::False => constant(false),
        Tri::Unknown => sc.unknown(why),
    }
}

/// Encodes one condition. Mirrors `eval_condition`.
pub fn encode_condition(c: &Condition, sc: &mut SymContext<'_>, variables: bool) -> Term {
    let op = c.operator.value;
    let family = op.base.family();
    let mut values: Vec<PolicyValue> = Vec::new();
    // Whole-value policy variables whose value the request chooses (a session tag): compared as
    // string variables.
    let mut sym_values: Vec<(Term, Str)> = Vec::new();
    for v in &c.values {
        if let Some(var_key) = whole_variable(&v.value).filter(|_| variables && family == OperatorFamily::String) {
            if let Sym::Single { present, value: SymVal::Str(s), .. } = sc.lookup(var_key) {
                if !matches!(op.base.positive(), BaseOperator::StringEquals) {
                    return sc.unknown(format!("the policy variable `{}` compared with `{}`", v.value, op.name()));
                }
                sym_values.push((present, s));
                continue;
            }
        }
        if variables && matches!(family, OperatorFamily::String | OperatorFamily::Arn) {
            match super::statement::substitute(&v.value, sc) {
                Ok(Some(t)) => values.push(PolicyValue::Known(t)),
                Ok(None) => {}
                Err(why) => {
                    sc.unknowns.push(why);
                    values.push(PolicyValue::Unknown);
                }
            }
        } else {
            values.push(PolicyValue::Known(v.value.clone()));
        }
    }
    let why_unknown_value =
        format!("a policy variable in the `{}` condition on `{}` has an unknown value", op.name(), c.key.value);
    if !sym_values.is_empty() {
        return with_symbolic_values(c, sc, &values, &sym_values);
    }
    let why_absent = absent_unsettled(c).unwrap_or_else(|| why_unknown_value.clone());
    let why_multi = multivalued_unsettled(c).unwrap_or_else(|| why_unknown_value.clone());
    let absent_t = |sc: &mut SymContext<'_>| tri(absent(op.base, op.set, op.if_exists, &values), sc, &why_absent);
    match sc.lookup(&c.key.value) {
        Sym::Absent => absent_t(sc),
        Sym::Values(vs) => {
            let why = if vs.len() > 1 { &why_multi } else { &why_unknown_value };
            tri(present(op.base, op.set, &vs, &values), sc, why)
        }
        Sym::Unknown(why) => sc.unknown(why),
        Sym::OneOf(options, sel) => {
            let results: Vec<Tri> = options
                .iter()
                .map(|o| match o {
                    None => absent(op.base, op.set, op.if_exists, &values),
                    Some(vs) if vs.is_empty() => absent(op.base, op.set, op.if_exists, &values),
                    Some(vs) => present(op.base, op.set, vs, &values),
                })
                .collect();
            // Two possibilities, chosen by the selector (the model builds no more).
            match results.as_slice() {
                [a, b] => {
                    let ta = tri(*a, sc, &why_unknown_value);
                    let tb = tri(*b, sc, &why_unknown_value);
                    or([and([not(Term::Var(sel)), ta]), and([Term::Var(sel), tb])])
                }
                _ => sc.unknown("a condition key with more than two possible values"),
            }
        }
        Sym::BoolTerm(t) => {
            if op.base == BaseOperator::Null {
                // The key is always present.
                return tri(present(op.base, op.set, &["true".into()], &values), sc, &why_unknown_value);
            }
            if family != OperatorFamily::Bool || op.set.is_some() {
                return sc.unknown(format!(
                    "`{}` is compared with `{}`, which keyproof encodes only for Bool",
                    c.key.value,
                    op.name()
                ));
            }
            or(values.iter().map(|v| match v {
                PolicyValue::Known(p) if p.eq_ignore_ascii_case("true") => t.clone(),
                PolicyValue::Known(p) if p.eq_ignore_ascii_case("false") => not(t.clone()),
                PolicyValue::Known(_) => constant(false),
                PolicyValue::Unknown => Term::Const(false),
            }))
        }
        Sym::Single { present: p, value, kind } => {
            let absent_term = absent_t(sc);
            let present_term =
                present_sym(op.base, op.set, &[(constant(true), value)], kind, &values, sc, &c.key.value);
            or([and([not(p.clone()), absent_term]), and([p, present_term])])
        }
        Sym::Multi { slots, kind } => {
            let any_present = or(slots.iter().map(|(p, _)| p.clone()));
            let absent_term = absent_t(sc);
            let present_term = if op.set.is_none() && slots.len() > 1 {
                // Several values under a single-valued operator: decided only where the
                // `ForAnyValue:` and `ForAllValues:` readings agree. Mirrors `present`.
                let key = &c.key.value;
                let any = present_sym(op.base, Some(SetOperator::ForAnyValue), &slots, kind, &values, sc, key);
                let all = present_sym(op.base, Some(SetOperator::ForAllValues), &slots, kind, &values, sc, key);
                unsettled(any, all, sc, why_multi)
            } else {
                present_sym(op.base, op.set, &slots, kind, &values, sc, &c.key.value)
            };
            or([and([not(any_present.clone()), absent_term]), and([any_present, present_term])])
        }
    }
}

/// Two readings of a condition: their value where they agree, a free choice where they do not.
fn unsettled(a: Term, b: Term, sc: &mut SymContext<'_>, why: String) -> Term {
    if a == b {
        return a;
    }
    let free = sc.unknown(why);
    or([and([a.clone(), b.clone()]), and([or([a, b]), free])])
}

/// The condition when the key is present with the values of the present slots. Mirrors
/// `present`.
fn present_sym(
    base: BaseOperator,
    set: Option<SetOperator>,
    slots: &[(Term, SymVal)],
    kind: KeyType,
    values: &[PolicyValue],
    sc: &mut SymContext<'_>,
    key: &str,
) -> Term {
    if base == BaseOperator::Null {
        return tri(present(base, set, &["x".into()], values), sc, "a Null condition with an unknown value");
    }
    let positive = base.positive();
    let negated = base.is_negated();
    let mut per_slot = Vec::new();
    for (p, v) in slots {
        let mut any = Vec::new();
        for pv in values {
            any.push(match pv {
                PolicyValue::Known(text) => matches_sym(positive, v, kind, text, sc, key),
                PolicyValue::Unknown => sc.unknown("a policy variable with an unknown value"),
            });
        }
        let m = or(any);
        per_slot.push((p.clone(), m));
    }
    combine(set, negated, per_slot)
}

/// The condition over the present values, from whether each slot's value matches some policy
/// value: no set operator, some value (a negated operator: none); `ForAnyValue:`, some present
/// value matches (negated: does not); `ForAllValues:`, every present value. Mirrors `present`.
fn combine(set: Option<SetOperator>, negated: bool, per_slot: Vec<(Term, Term)>) -> Term {
    let flip = |m: Term| if negated { not(m) } else { m };
    match set {
        None => flip(or(per_slot.into_iter().map(|(p, m)| and([p, m])))),
        Some(SetOperator::ForAnyValue) => or(per_slot.into_iter().map(|(p, m)| and([p, flip(m)]))),
        Some(SetOperator::ForAllValues) => and(per_slot.into_iter().map(|(p, m)| or([not(p), flip(m)]))),
    }
}

/// One symbolic value against one policy value under a positive operator. Mirrors `matches`.
fn matches_sym(op: BaseOperator, v: &SymVal, kind: KeyType, policy: &str, sc: &mut SymContext<'_>, key: &str) -> Term {
    use BaseOperator::*;
    let mismatch = |sc: &mut SymContext<'_>| {
        sc.unknown(format!(
            "`{key}` ({kind:?}) is compared with the {:?} operator `{}`, which keyproof does not encode exactly",
            op.family(),
            op.name()
        ))
    };
    match (op.family(), v) {
        (OperatorFamily::String, SymVal::Str(s)) => match op {
            StringEquals => str_eq(s.clone(), Str::Lit(policy.to_string())),
            StringEqualsIgnoreCase => in_re(s.clone(), Re::LitNoCase(policy.to_string())),
            StringLike => in_re(s.clone(), Re::glob(policy, None)),
            _ => constant(false),
        },
        (OperatorFamily::Binary, SymVal::Str(s)) => str_eq(s.clone(), Str::Lit(policy.to_string())),
        (OperatorFamily::Bool, SymVal::Str(s)) => in_re(s.clone(), Re::LitNoCase(policy.to_string())),
        (OperatorFamily::Arn, SymVal::Str(s)) => arn_like_re(policy).map_or(constant(false), |re| in_re(s.clone(), re)),
        (OperatorFamily::Numeric, SymVal::Real(r)) => match parse_number(policy) {
            Some(_) => Term::RealCmp(*r, cmp_of(op), policy.trim().trim_start_matches('+').to_string()),
            None => constant(false),
        },
        (OperatorFamily::Numeric, SymVal::Date(d)) => match parse_number(policy) {
            Some(n) if n.fract() == 0.0 && n.abs() < 1e15 => Term::IntCmp(*d, cmp_of(op), n as i64),
            Some(_) => mismatch(sc),
            None => constant(false),
        },
        (OperatorFamily::Date, SymVal::Date(d)) => match parse_date(policy) {
            Some(ms) => seconds_cmp(*d, cmp_of(op), ms),
            None => constant(false),
        },
        (OperatorFamily::Ip, SymVal::Ip { is6, v4, v6 }) => ip_in(policy, *is6, *v4, *v6),
        _ => mismatch(sc),
    }
}

fn cmp_of(op: BaseOperator) -> Cmp {
    use BaseOperator::*;
    match op {
        NumericLessThan | DateLessThan => Cmp::Lt,
        NumericLessThanEquals | DateLessThanEquals => Cmp::Le,
        NumericGreaterThan | DateGreaterThan => Cmp::Gt,
        NumericGreaterThanEquals | DateGreaterThanEquals => Cmp::Ge,
        _ => Cmp::Eq,
    }
}

/// `seconds * 1000 <op> ms`, exactly, on whole seconds.
fn seconds_cmp(v: crate::term::VarId, c: Cmp, ms: i64) -> Term {
    let floor = ms.div_euclid(1000);
    let exact = ms.rem_euclid(1000) == 0;
    let ceil = if exact { floor } else { floor + 1 };
    match c {
        Cmp::Eq if exact => Term::IntCmp(v, Cmp::Eq, floor),
        Cmp::Eq => constant(false),
        Cmp::Lt => Term::IntCmp(v, Cmp::Lt, ceil),
        Cmp::Le => Term::IntCmp(v, Cmp::Le, floor),
        Cmp::Gt => Term::IntCmp(v, Cmp::Gt, floor),
        Cmp::Ge => Term::IntCmp(v, Cmp::Ge, ceil),
    }
}

/// `ArnLike`/`ArnEquals` as a regex: six components, wildcards inside the first five do not
/// cross colons, the sixth keeps any further colons. Mirrors `wildcard::arn_like`.
pub fn arn_like_re(pattern: &str) -> Option<Re> {
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(Re::Lit(":".into()));
        }
        out.push(Re::glob(p, if i < 5 { Some(':') } else { None }));
    }
    Some(Re::Concat(out))
}

/// Whether an IP variable is in a CIDR block (or equals an address).
pub fn ip_in(policy: &str, is6: crate::term::VarId, v4: crate::term::VarId, v6: crate::term::VarId) -> Term {
    let p = policy.trim();
    let net: Option<ipnet::IpNet> =
        p.parse::<ipnet::IpNet>().ok().or_else(|| p.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from));
    match net {
        Some(ipnet::IpNet::V4(n)) => {
            and([not(Term::Var(is6)), Term::Ip4In(v4, u32::from(n.network()), n.prefix_len())])
        }
        Some(ipnet::IpNet::V6(n)) => and([Term::Var(is6), Term::Ip6In(v6, u128::from(n.network()), n.prefix_len())]),
        None => constant(false),
    }
}

/// `${key}` as a whole value (no default), or `None`.
fn whole_variable(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("${")?.strip_suffix('}')?;
    if inner.contains(['$', '{', '}', ',']) || inner == "*" || inner == "?" {
        return None;
    }
    Some(inner.trim())
}

/// A `StringEquals`/`StringNotEquals` condition some of whose values are request-chosen string
/// variables. A variable whose key is absent matches nothing (as a missing variable does).
fn with_symbolic_values(c: &Condition, sc: &mut SymContext<'_>, known: &[PolicyValue], sym: &[(Term, Str)]) -> Term {
    let op = c.operator.value;
    let slots: Vec<(Term, SymVal, KeyType)> = match sc.lookup(&c.key.value) {
        Sym::Absent => return tri(absent(op.base, op.set, op.if_exists, known), sc, "a policy variable"),
        Sym::Values(vs) => {
            vs.into_iter().map(|v| (constant(true), SymVal::Str(Str::Lit(v)), KeyType::String)).collect()
        }
        Sym::Single { present, value, kind } => vec![(present, value, kind)],
        Sym::Multi { slots, kind } => slots.into_iter().map(|(p, v)| (p, v, kind)).collect(),
        _ => return sc.unknown(format!("a policy variable compared with `{}`", c.key.value)),
    };
    let any_present = or(slots.iter().map(|(p, _, _)| p.clone()));
    let negated = op.base.is_negated();
    let mut per_slot = Vec::new();
    for (p, v, _) in &slots {
        let SymVal::Str(s) = v else { return sc.unknown(format!("a policy variable compared with `{}`", c.key.value)) };
        let mut any: Vec<Term> = known
            .iter()
            .map(|pv| match pv {
                PolicyValue::Known(text) => str_eq(s.clone(), Str::Lit(text.clone())),
                PolicyValue::Unknown => sc.unknown("a policy variable with an unknown value"),
            })
            .collect();
        for (vp, vs) in sym {
            any.push(and([vp.clone(), str_eq(s.clone(), vs.clone())]));
        }
        per_slot.push((p.clone(), or(any)));
    }
    let present_term = if op.set.is_none() && per_slot.len() > 1 {
        let any = combine(Some(SetOperator::ForAnyValue), negated, per_slot.clone());
        let all = combine(Some(SetOperator::ForAllValues), negated, per_slot);
        let why = multivalued_unsettled(c).unwrap_or_default();
        unsettled(any, all, sc, why)
    } else {
        combine(op.set, negated, per_slot)
    };
    let why_absent = absent_unsettled(c).unwrap_or_else(|| "a policy variable".to_string());
    let absent_term = tri(absent(op.base, op.set, op.if_exists, known), sc, &why_absent);
    or([and([not(any_present.clone()), absent_term]), and([any_present, present_term])])
}
