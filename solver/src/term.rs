//! keyproof's own term layer between the encoding and Z3 (after Cedar's `term.rs`/`factory.rs`):
//! smart constructors fold constants and flatten, so that whatever the snapshot already decides
//! never reaches the solver; terms can be printed and compared.

use std::fmt;
use std::sync::Arc;

/// A variable's index in [`Vars`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u32);

/// The sort of a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sort {
    Bool,
    Str,
    /// Numbers of the Numeric operators (reals).
    Real,
    /// Instants of the Date operators, in milliseconds since the epoch.
    Int,
    /// An IPv4 address.
    Ip4,
    /// An IPv6 address.
    Ip6,
}

/// What a variable stands for: needed to read a counterexample back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VarRole {
    /// Whether the request carries this context key (slot `n` for multivalued keys).
    Present {
        key: String,
        slot: usize,
    },
    /// The value of a context key (slot `n`).
    Value {
        key: String,
        slot: usize,
    },
    /// For an IP key: whether the address is IPv6.
    IsIp6 {
        key: String,
        slot: usize,
    },
    /// Something the snapshot does not hold, chosen freely; the reason says what.
    Unknown(String),
    /// Whether there is an encryption context key beyond the ones the policies name (slot `n`),
    /// and its name.
    OtherContextKey {
        slot: usize,
    },
    OtherContextKeyName {
        slot: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Var {
    pub sort: Sort,
    pub role: VarRole,
}

/// The variables of one query.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub vars: Vec<Var>,
}

impl Vars {
    pub fn fresh(&mut self, sort: Sort, role: VarRole) -> VarId {
        self.vars.push(Var { sort, role });
        VarId(u32::try_from(self.vars.len() - 1).unwrap_or(u32::MAX))
    }
    pub fn get(&self, id: VarId) -> &Var {
        &self.vars[id.0 as usize]
    }
}

/// A regular expression over strings, for `StringLike`, `ArnLike` and case-insensitive equality.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Re {
    Lit(String),
    /// A literal matched case-insensitively.
    LitNoCase(String),
    /// Any one character.
    Any,
    /// Any one character but this one.
    AnyBut(char),
    /// One character in one of these inclusive ranges.
    Class(Vec<(char, char)>),
    Star(Box<Re>),
    Concat(Vec<Re>),
}

impl Re {
    /// The regex of an IAM glob: `*` any run, `?` one character. Inside an ARN component the
    /// wildcards do not cross `stop`.
    pub fn glob(pattern: &str, stop: Option<char>) -> Re {
        let mut parts = Vec::new();
        let mut lit = String::new();
        for c in pattern.chars() {
            match c {
                '*' | '?' => {
                    if !lit.is_empty() {
                        parts.push(Re::Lit(std::mem::take(&mut lit)));
                    }
                    let one = match stop {
                        Some(s) => Re::AnyBut(s),
                        None => Re::Any,
                    };
                    parts.push(if c == '*' { Re::Star(Box::new(one)) } else { one });
                }
                other => lit.push(other),
            }
        }
        if !lit.is_empty() {
            parts.push(Re::Lit(lit));
        }
        Re::Concat(parts)
    }
}

/// A string expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Str {
    Var(VarId),
    Lit(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A boolean term.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    Const(bool),
    Var(VarId),
    Not(Arc<Term>),
    And(Arc<[Term]>),
    Or(Arc<[Term]>),
    StrEq(Str, Str),
    InRe(Str, Re),
    /// A real variable compared with a decimal constant (kept as text for exactness).
    RealCmp(VarId, Cmp, String),
    IntCmp(VarId, Cmp, i64),
    /// An IPv4 variable in a network (address, prefix length).
    Ip4In(VarId, u32, u8),
    /// An IPv6 variable in a network (address, prefix length).
    Ip6In(VarId, u128, u8),
}

/// The variables a term mentions.
pub fn vars_of(t: &Term, out: &mut std::collections::BTreeSet<VarId>) {
    let str_var = |s: &Str, out: &mut std::collections::BTreeSet<VarId>| {
        if let Str::Var(v) = s {
            out.insert(*v);
        }
    };
    match t {
        Term::Const(_) => {}
        Term::Var(v) | Term::RealCmp(v, ..) | Term::IntCmp(v, ..) | Term::Ip4In(v, ..) | Term::Ip6In(v, ..) => {
            out.insert(*v);
        }
        Term::Not(inner) => vars_of(inner, out),
        Term::And(ts) | Term::Or(ts) => ts.iter().for_each(|t| vars_of(t, out)),
        Term::StrEq(a, b) => {
            str_var(a, out);
            str_var(b, out)
        }
        Term::InRe(s, _) => str_var(s, out),
    }
}

pub const TRUE: Term = Term::Const(true);
pub const FALSE: Term = Term::Const(false);

pub fn constant(b: bool) -> Term {
    Term::Const(b)
}

pub fn var(v: VarId) -> Term {
    Term::Var(v)
}

#[allow(clippy::should_implement_trait)]
pub fn not(t: Term) -> Term {
    match t {
        Term::Const(b) => Term::Const(!b),
        Term::Not(inner) => (*inner).clone(),
        other => Term::Not(Arc::new(other)),
    }
}

/// Conjunction: false absorbs, true vanishes, nested conjunctions flatten.
pub fn and(items: impl IntoIterator<Item = Term>) -> Term {
    let mut out: Vec<Term> = Vec::new();
    for t in items {
        match t {
            Term::Const(true) => {}
            Term::Const(false) => return FALSE,
            Term::And(inner) => out.extend(inner.iter().cloned()),
            other => {
                if !out.contains(&other) {
                    out.push(other)
                }
            }
        }
    }
    match out.len() {
        0 => TRUE,
        1 => out.pop().unwrap_or(TRUE),
        _ => Term::And(out.into()),
    }
}

/// Disjunction: true absorbs, false vanishes, nested disjunctions flatten.
pub fn or(items: impl IntoIterator<Item = Term>) -> Term {
    let mut out: Vec<Term> = Vec::new();
    for t in items {
        match t {
            Term::Const(false) => {}
            Term::Const(true) => return TRUE,
            Term::Or(inner) => out.extend(inner.iter().cloned()),
            other => {
                if !out.contains(&other) {
                    out.push(other)
                }
            }
        }
    }
    match out.len() {
        0 => FALSE,
        1 => out.pop().unwrap_or(FALSE),
        _ => Term::Or(out.into()),
    }
}

pub fn and2(a: Term, b: Term) -> Term {
    and([a, b])
}

pub fn or2(a: Term, b: Term) -> Term {
    or([a, b])
}

pub fn implies(a: Term, b: Term) -> Term {
    or([not(a), b])
}

/// String equality, folded when both sides are literals.
pub fn str_eq(a: Str, b: Str) -> Term {
    match (&a, &b) {
        (Str::Lit(x), Str::Lit(y)) => constant(x == y),
        _ => Term::StrEq(a, b),
    }
}

pub fn in_re(s: Str, re: Re) -> Term {
    Term::InRe(s, re)
}

impl Term {
    pub fn as_const(&self) -> Option<bool> {
        match self {
            Term::Const(b) => Some(*b),
            _ => None,
        }
    }

    /// Every variable the term mentions.
    pub fn vars(&self, out: &mut Vec<VarId>) {
        match self {
            Term::Const(_) => {}
            Term::Var(v)
            | Term::RealCmp(v, _, _)
            | Term::IntCmp(v, _, _)
            | Term::Ip4In(v, _, _)
            | Term::Ip6In(v, _, _) => out.push(*v),
            Term::Not(t) => t.vars(out),
            Term::And(ts) | Term::Or(ts) => ts.iter().for_each(|t| t.vars(out)),
            Term::StrEq(a, b) => {
                for s in [a, b] {
                    if let Str::Var(v) = s {
                        out.push(*v)
                    }
                }
            }
            Term::InRe(s, _) => {
                if let Str::Var(v) = s {
                    out.push(*v)
                }
            }
        }
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Str::Var(v) => write!(f, "s{}", v.0),
            Str::Lit(s) => write!(f, "{s:?}"),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Const(b) => write!(f, "{b}"),
            Term::Var(v) => write!(f, "b{}", v.0),
            Term::Not(t) => write!(f, "(not {t})"),
            Term::And(ts) | Term::Or(ts) => {
                write!(f, "({}", if matches!(self, Term::And(_)) { "and" } else { "or" })?;
                for t in ts.iter() {
                    write!(f, " {t}")?;
                }
                write!(f, ")")
            }
            Term::StrEq(a, b) => write!(f, "(= {a} {b})"),
            Term::InRe(s, re) => write!(f, "(in {s} {re:?})"),
            Term::RealCmp(v, c, k) => write!(f, "({c:?} r{} {k})", v.0),
            Term::IntCmp(v, c, k) => write!(f, "({c:?} i{} {k})", v.0),
            Term::Ip4In(v, a, p) => write!(f, "(in ip{} {}/{p})", v.0, std::net::Ipv4Addr::from(*a)),
            Term::Ip6In(v, a, p) => write!(f, "(in ip{} {}/{p})", v.0, std::net::Ipv6Addr::from(*a)),
        }
    }
}

/// Evaluates a term under a model (strings from the Rust string solver, the rest from Z3). A
/// variable without a value takes its sort's default.
pub fn eval(t: &Term, values: &std::collections::HashMap<VarId, crate::z3_backend::Value>) -> bool {
    use crate::z3_backend::Value;
    let s = |x: &Str| -> String {
        match x {
            Str::Lit(l) => l.clone(),
            Str::Var(v) => match values.get(v) {
                Some(Value::Str(s)) => s.clone(),
                _ => String::new(),
            },
        }
    };
    let cmp = |o: std::cmp::Ordering, c: Cmp| match c {
        Cmp::Eq => o.is_eq(),
        Cmp::Lt => o.is_lt(),
        Cmp::Le => o.is_le(),
        Cmp::Gt => o.is_gt(),
        Cmp::Ge => o.is_ge(),
    };
    match t {
        Term::Const(b) => *b,
        Term::Var(v) => matches!(values.get(v), Some(Value::Bool(true))),
        Term::Not(x) => !eval(x, values),
        Term::And(ts) => ts.iter().all(|x| eval(x, values)),
        Term::Or(ts) => ts.iter().any(|x| eval(x, values)),
        Term::StrEq(a, b) => s(a) == s(b),
        Term::InRe(a, re) => crate::strings::member(re, &s(a)),
        Term::RealCmp(v, c, k) => {
            let x = match values.get(v) {
                Some(Value::Real(r)) => r.parse::<f64>().unwrap_or(0.0),
                _ => 0.0,
            };
            let k: f64 = k.parse().unwrap_or(0.0);
            x.partial_cmp(&k).is_some_and(|o| cmp(o, *c))
        }
        Term::IntCmp(v, c, k) => {
            let x = match values.get(v) {
                Some(Value::Int(i)) => *i,
                _ => 0,
            };
            cmp(x.cmp(k), *c)
        }
        Term::Ip4In(v, a, p) => {
            let x = match values.get(v) {
                Some(Value::Ip4(i)) => *i,
                _ => 0,
            };
            let mask = if *p == 0 { 0 } else { u32::MAX << (32 - u32::from(*p)) };
            x & mask == a & mask
        }
        Term::Ip6In(v, a, p) => {
            let x = match values.get(v) {
                Some(Value::Ip6(i)) => *i,
                _ => 0,
            };
            let mask = if *p == 0 { 0 } else { u128::MAX << (128 - u32::from(*p)) };
            x & mask == a & mask
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_fold() {
        let x = var(VarId(0));
        assert_eq!(and([TRUE, x.clone()]), x);
        assert_eq!(and([FALSE, x.clone()]), FALSE);
        assert_eq!(or([TRUE, x.clone()]), TRUE);
        assert_eq!(or([FALSE, FALSE]), FALSE);
        assert_eq!(not(not(x.clone())), x);
        assert_eq!(str_eq(Str::Lit("a".into()), Str::Lit("a".into())), TRUE);
        assert_eq!(and([x.clone(), x.clone()]), x);
    }
}
