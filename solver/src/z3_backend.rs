//! The one module that names the `z3` crate: it translates keyproof's terms into Z3 terms,
//! checks them with a timeout, and reads a model back as plain values.
//!
//! Z3's context is thread-local in the `z3` crate, so every query is built and solved on one
//! thread; queries on different keys can run on different threads.

use crate::strings::{member, solve, Solution};
use crate::term::{Cmp, Re, Sort, Str, Term, VarId, Vars};
use std::collections::HashMap;
use z3::ast::{Bool, Int, Real, BV};
use z3::{Params, SatResult, Solver};

/// The value of one variable in a model.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Str(String),
    /// A decimal number as text.
    Real(String),
    Int(i64),
    Ip4(u32),
    Ip6(u128),
}

/// The answer to a query.
#[derive(Debug, Clone)]
pub enum Answer {
    Sat(HashMap<VarId, Value>),
    Unsat,
    /// The solver gave up (timeout, resource limit); the reason says why.
    Unknown(String),
}

enum Z {
    B(Bool),
    R(Real),
    I(Int),
    V(BV),
}

struct Translator<'v> {
    vars: &'v Vars,
    made: HashMap<VarId, Z>,
    /// String memberships, each a Boolean for Z3, decided in Rust ([`crate::strings`]).
    atoms: Vec<(VarId, Re, Bool)>,
    /// Equalities between two string variables.
    eqs: Vec<(VarId, VarId, Bool)>,
}

impl Translator<'_> {
    fn var(&mut self, v: VarId) -> &Z {
        let vars = self.vars;
        self.made.entry(v).or_insert_with(|| {
            let name = format!("v{}", v.0);
            match vars.get(v).sort {
                Sort::Bool => Z::B(Bool::new_const(name)),
                Sort::Str => Z::B(Bool::new_const(format!("{name}_unused"))),
                Sort::Real => Z::R(Real::new_const(name)),
                Sort::Int => Z::I(Int::new_const(name)),
                Sort::Ip4 => Z::V(BV::new_const(name, 32)),
                Sort::Ip6 => Z::V(BV::new_const(name, 128)),
            }
        })
    }

    fn bool_var(&mut self, v: VarId) -> Bool {
        match self.var(v) {
            Z::B(b) => b.clone(),
            _ => Bool::from_bool(false),
        }
    }

    fn atom(&mut self, v: VarId, re: Re) -> Bool {
        if let Some((_, _, b)) = self.atoms.iter().find(|(x, r, _)| *x == v && *r == re) {
            return b.clone();
        }
        let b = Bool::new_const(format!("a{}", self.atoms.len()));
        self.atoms.push((v, re, b.clone()));
        b
    }

    fn term(&mut self, t: &Term) -> Bool {
        match t {
            Term::Const(b) => Bool::from_bool(*b),
            Term::Var(v) => self.bool_var(*v),
            Term::Not(inner) => self.term(inner).not(),
            Term::And(ts) => {
                let parts: Vec<Bool> = ts.iter().map(|t| self.term(t)).collect();
                Bool::and(&parts)
            }
            Term::Or(ts) => {
                let parts: Vec<Bool> = ts.iter().map(|t| self.term(t)).collect();
                Bool::or(&parts)
            }
            Term::StrEq(a, b) => match (a, b) {
                (Str::Var(v), Str::Lit(l)) | (Str::Lit(l), Str::Var(v)) => self.atom(*v, Re::Lit(l.clone())),
                (Str::Lit(x), Str::Lit(y)) => Bool::from_bool(x == y),
                (Str::Var(x), Str::Var(y)) => {
                    if x == y {
                        return Bool::from_bool(true);
                    }
                    let (a, b) = if x < y { (*x, *y) } else { (*y, *x) };
                    if let Some((_, _, e)) = self.eqs.iter().find(|(p, q, _)| *p == a && *q == b) {
                        return e.clone();
                    }
                    let e = Bool::new_const(format!("e{}", self.eqs.len()));
                    self.eqs.push((a, b, e.clone()));
                    e
                }
            },
            Term::InRe(s, re) => match s {
                Str::Var(v) => self.atom(*v, re.clone()),
                Str::Lit(l) => Bool::from_bool(member(re, l)),
            },
            Term::RealCmp(v, c, k) => {
                let Z::R(x) = self.var(*v) else { return Bool::from_bool(false) };
                let x = x.clone();
                let Some(k) = real_const(k) else { return Bool::from_bool(false) };
                match c {
                    Cmp::Eq => x.eq(&k),
                    Cmp::Lt => x.lt(&k),
                    Cmp::Le => x.le(&k),
                    Cmp::Gt => x.gt(&k),
                    Cmp::Ge => x.ge(&k),
                }
            }
            Term::IntCmp(v, c, k) => {
                let Z::I(x) = self.var(*v) else { return Bool::from_bool(false) };
                let x = x.clone();
                let k = Int::from_i64(*k);
                match c {
                    Cmp::Eq => x.eq(&k),
                    Cmp::Lt => x.lt(&k),
                    Cmp::Le => x.le(&k),
                    Cmp::Gt => x.gt(&k),
                    Cmp::Ge => x.ge(&k),
                }
            }
            Term::Ip4In(v, addr, prefix) => {
                let Z::V(x) = self.var(*v) else { return Bool::from_bool(false) };
                let mask: u64 = if *prefix == 0 {
                    0
                } else {
                    (u64::from(u32::MAX) << (32 - u32::from(*prefix))) & u64::from(u32::MAX)
                };
                let m = BV::from_u64(mask, 32);
                x.bvand(&m).eq(BV::from_u64(u64::from(*addr) & mask, 32))
            }
            Term::Ip6In(v, addr, prefix) => {
                let Z::V(x) = self.var(*v) else { return Bool::from_bool(false) };
                let mask: u128 = if *prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(*prefix)) };
                let (Some(m), Some(a)) =
                    (BV::from_str(128, &mask.to_string()), BV::from_str(128, &(addr & mask).to_string()))
                else {
                    return Bool::from_bool(false);
                };
                x.bvand(&m).eq(&a)
            }
        }
    }
}

/// A decimal constant as a Z3 real.
fn real_const(text: &str) -> Option<Real> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = format!("{}{}", if int.is_empty() { "0" } else { int }, frac);
    let num = format!(
        "{}{}",
        if neg { "-" } else { "" },
        digits
            .trim_start_matches('0')
            .chars()
            .next()
            .map_or("0".to_string(), |_| digits.trim_start_matches('0').to_string())
    );
    let den = format!("1{}", "0".repeat(frac.len()));
    Real::from_rational_str(&num, &den)
}

/// Checks whether `goal` (with `extra` side conditions) is satisfiable, within `timeout_ms`
/// per solver call. String memberships are decided in Rust: each model of Z3 is checked, and a
/// conflicting set of memberships is blocked before asking again.
pub fn check(vars: &Vars, goal: &Term, extra: &[Term], timeout_ms: u32) -> Answer {
    match goal.as_const() {
        Some(false) => return Answer::Unsat,
        Some(true) if extra.is_empty() => return Answer::Sat(HashMap::new()),
        _ => {}
    }
    // One solver per thread, kept between questions: building a Z3 solver (and its parameters)
    // costs more than most questions do.
    SOLVER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let solver = match slot.take() {
            Some((s, t)) if t == timeout_ms => s,
            _ => {
                let s = Solver::new();
                let mut params = Params::new();
                params.set_u32("timeout", timeout_ms);
                s.set_params(&params);
                s
            }
        };
        solver.reset();
        let answer = solve_scoped(&solver, vars, goal, extra);
        *slot = Some((solver, timeout_ms));
        answer
    })
}

/// [`check`], with the model of a satisfiable question taken from a fresh context
/// ([`fresh`]): for the questions whose example is reported.
pub fn check_model(vars: &Vars, goal: &Term, extra: &[Term], timeout_ms: u32) -> Answer {
    check(vars, goal, extra, timeout_ms).and_then_model(|| fresh(vars, goal, extra, timeout_ms))
}

/// The question solved again in a Z3 context of its own. A reset solver decides a question as a
/// new one would, but its model can still depend on the terms the thread's context built
/// before (Z3's internal term order), so a satisfiable question's model — the example that is
/// reported — is taken from a fresh context: it depends on the question alone, not on the
/// questions asked before, on the thread, or on which member of an equivalence class asked.
fn fresh(vars: &Vars, goal: &Term, extra: &[Term], timeout_ms: u32) -> Answer {
    let mut cfg = z3::Config::new();
    cfg.set_timeout_msec(u64::from(timeout_ms));
    z3::with_z3_config(&cfg, || {
        let solver = Solver::new();
        let mut params = Params::new();
        params.set_u32("timeout", timeout_ms);
        solver.set_params(&params);
        solve_scoped(&solver, vars, goal, extra)
    })
}

impl Answer {
    /// For a satisfiable answer, the answer of `again` (the deterministic model), unless that
    /// one gives up; any other answer as it is.
    fn and_then_model(self, again: impl FnOnce() -> Answer) -> Answer {
        match self {
            Answer::Sat(first) => match again() {
                Answer::Sat(model) => Answer::Sat(model),
                _ => Answer::Sat(first),
            },
            other => other,
        }
    }
}

thread_local! {
    static SOLVER: std::cell::RefCell<Option<(Solver, u32)>> = const { std::cell::RefCell::new(None) };
}

/// The question, in the solver's current scope.
fn solve_scoped(solver: &Solver, vars: &Vars, goal: &Term, extra: &[Term]) -> Answer {
    let mut tr = Translator { vars, made: HashMap::new(), atoms: Vec::new(), eqs: Vec::new() };
    solver.assert(tr.term(goal));
    for t in extra {
        solver.assert(tr.term(t));
    }
    for _round in 0..1000 {
        match solver.check() {
            SatResult::Unsat => return Answer::Unsat,
            SatResult::Unknown => {
                return Answer::Unknown(solver.get_reason_unknown().unwrap_or_else(|| "the solver gave up".into()))
            }
            SatResult::Sat => {}
        }
        let Some(model) = solver.get_model() else { return Answer::Unknown("the solver returned no model".into()) };
        match strings_of_model(&tr, &model) {
            StringModel::Values(strings) => {
                return Answer::Sat(finish_model(vars, &tr, &model, strings));
            }
            StringModel::Conflict(blocked) => solver.assert(Bool::and(&blocked).not()),
            StringModel::GiveUp(why) => return Answer::Unknown(why),
        }
    }
    Answer::Unknown("too many refinements of string constraints".into())
}

enum StringModel {
    Values(HashMap<VarId, String>),
    /// These literals cannot hold together: block them.
    Conflict(Vec<Bool>),
    GiveUp(String),
}

fn find(parent: &mut HashMap<VarId, VarId>, v: VarId) -> VarId {
    let p = *parent.get(&v).unwrap_or(&v);
    if p == v {
        return v;
    }
    let r = find(parent, p);
    parent.insert(v, r);
    r
}

/// The string part of a model: variables equal in the model form classes; each class must meet
/// the memberships of all its variables, and classes the model keeps apart get different values.
fn strings_of_model(tr: &Translator<'_>, model: &z3::Model) -> StringModel {
    let value = |b: &Bool| model.eval(b, true).and_then(|x| x.as_bool()).unwrap_or(false);
    let mut parent: HashMap<VarId, VarId> = HashMap::new();
    let mut eq_lits: Vec<Bool> = Vec::new();
    let mut apart: Vec<(VarId, VarId, Bool)> = Vec::new();
    for (a, b, e) in &tr.eqs {
        if value(e) {
            let (ra, rb) = (find(&mut parent, *a), find(&mut parent, *b));
            parent.insert(ra, rb);
            eq_lits.push(e.clone());
        } else {
            apart.push((*a, *b, e.clone()));
        }
    }
    let mut classes: HashMap<VarId, Vec<(Re, bool, Bool)>> = HashMap::new();
    let mut members: HashMap<VarId, Vec<VarId>> = HashMap::new();
    for (v, re, b) in &tr.atoms {
        let r = find(&mut parent, *v);
        let val = value(b);
        classes.entry(r).or_default().push((re.clone(), val, if val { b.clone() } else { b.not() }));
    }
    let all_vars: Vec<VarId> =
        tr.atoms.iter().map(|(v, _, _)| *v).chain(tr.eqs.iter().flat_map(|(a, b, _)| [*a, *b])).collect();
    for v in all_vars {
        let r = find(&mut parent, v);
        let m = members.entry(r).or_default();
        if !m.contains(&v) {
            m.push(v);
        }
    }
    // A class kept apart from itself is a conflict.
    for (a, b, e) in &apart {
        if find(&mut parent, *a) == find(&mut parent, *b) {
            let mut lits = eq_lits.clone();
            lits.push(e.not());
            return StringModel::Conflict(lits);
        }
    }
    let mut roots: Vec<VarId> = members.keys().copied().collect();
    roots.sort();
    let mut witness: HashMap<VarId, String> = HashMap::new();
    for r in roots {
        let lits = classes.get(&r).cloned().unwrap_or_default();
        let mut constraints: Vec<(Re, bool)> = lits.iter().map(|(re, val, _)| (re.clone(), *val)).collect();
        // Different from the classes already valued that the model keeps apart.
        let mut distinct = Vec::new();
        for (a, b, _) in &apart {
            let (ra, rb) = (find(&mut parent, *a), find(&mut parent, *b));
            let other = if ra == r {
                rb
            } else if rb == r {
                ra
            } else {
                continue;
            };
            if let Some(w) = witness.get(&other) {
                distinct.push((Re::Lit(w.clone()), false));
            }
        }
        let base = constraints.clone();
        constraints.extend(distinct);
        match solve(&constraints) {
            Solution::Witness(w) => {
                witness.insert(r, w);
            }
            Solution::TooLarge => return StringModel::GiveUp("string constraints too large to decide".into()),
            Solution::Empty => {
                if solve(&base) != Solution::Empty {
                    return StringModel::GiveUp("string variables that must differ have too few values".into());
                }
                // A small conflicting subset of the class's memberships (with the equalities
                // that formed the class).
                let mut core: Vec<usize> = (0..lits.len()).collect();
                let mut i = 0;
                while i < core.len() {
                    let trial: Vec<(Re, bool)> = core
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| *k != i)
                        .map(|(_, &j)| (lits[j].0.clone(), lits[j].1))
                        .collect();
                    if solve(&trial) == Solution::Empty {
                        core.remove(i);
                    } else {
                        i += 1;
                    }
                }
                let mut blocked: Vec<Bool> = core.iter().map(|&j| lits[j].2.clone()).collect();
                if members.get(&r).is_some_and(|m| m.len() > 1) {
                    blocked.extend(eq_lits.iter().cloned());
                }
                return StringModel::Conflict(blocked);
            }
        }
    }
    let mut out = HashMap::new();
    for (r, vs) in &members {
        if let Some(w) = witness.get(r) {
            for v in vs {
                out.insert(*v, w.clone());
            }
        }
    }
    StringModel::Values(out)
}

/// The whole model: strings from Rust, the rest from Z3.
fn finish_model(
    vars: &Vars,
    tr: &Translator<'_>,
    model: &z3::Model,
    strings: HashMap<VarId, String>,
) -> HashMap<VarId, Value> {
    let mut values: HashMap<VarId, Value> = strings.into_iter().map(|(v, s)| (v, Value::Str(s))).collect();
    for (id, z) in &tr.made {
        if vars.get(*id).sort == Sort::Str {
            continue;
        }
        let v = match z {
            Z::B(b) => model.eval(b, true).and_then(|x| x.as_bool()).map(Value::Bool),
            Z::R(r) => model.eval(r, true).and_then(|x| x.as_rational()).map(|(n, d)| Value::Real(decimal(n, d))),
            Z::I(i) => model.eval(i, true).and_then(|x| x.as_i64()).map(Value::Int),
            Z::V(bv) => model.eval(bv, true).and_then(|x| {
                if bv.get_size() == 32 {
                    x.as_u64().and_then(|u| u32::try_from(u).ok()).map(Value::Ip4)
                } else {
                    parse_bv(&x.to_string()).map(Value::Ip6)
                }
            }),
        };
        if let Some(v) = v {
            values.insert(*id, v);
        }
    }
    values
}

/// A rational as a decimal string (numerators of IAM numbers have finite decimal expansions;
/// anything else is printed with six decimals).
fn decimal(n: i64, d: i64) -> String {
    if d == 1 {
        return n.to_string();
    }
    // Scale by powers of ten until the fraction is exact; IAM numbers are decimals, so models of
    // constraints over them have such expansions.
    let (mut num, den) = (i128::from(n), i128::from(d));
    let mut places = 0usize;
    while num % den != 0 && places < 30 {
        num = num.saturating_mul(10);
        places += 1;
    }
    if num % den != 0 {
        return format!("{:.6}", n as f64 / d as f64);
    }
    let q = num / den;
    let neg = q < 0;
    let digits = format!("{:0>width$}", q.unsigned_abs(), width = places + 1);
    let (i, f) = digits.split_at(digits.len() - places);
    format!("{}{i}.{f}", if neg { "-" } else { "" })
}

fn parse_bv(text: &str) -> Option<u128> {
    if let Some(h) = text.strip_prefix("#x") {
        return u128::from_str_radix(h, 16).ok();
    }
    if let Some(b) = text.strip_prefix("#b") {
        return u128::from_str_radix(b, 2).ok();
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::{and, in_re, not, str_eq, var, VarRole};

    #[test]
    fn strings_regexes_and_models() {
        let mut vars = Vars::default();
        let s = vars.fresh(Sort::Str, VarRole::Unknown("s".into()));
        let goal = and([
            in_re(Str::Var(s), Re::glob("s3.*.amazonaws.com", None)),
            not(str_eq(Str::Var(s), Str::Lit("s3.us-east-1.amazonaws.com".into()))),
        ]);
        match check(&vars, &goal, &[], 5000) {
            Answer::Sat(m) => {
                let Some(Value::Str(v)) = m.get(&s) else { panic!("no value") };
                assert!(v.starts_with("s3.") && v.ends_with(".amazonaws.com") && v != "s3.us-east-1.amazonaws.com");
            }
            other => panic!("{other:?}"),
        }
        // A star matches a non-empty run too.
        let goal = and([
            in_re(Str::Var(s), Re::glob("arn:aws:s3:::app-*", None)),
            str_eq(Str::Var(s), Str::Lit("arn:aws:s3:::app-logs/2024/01".into())),
        ]);
        assert!(matches!(check(&vars, &goal, &[], 5000), Answer::Sat(_)));
        let goal = and([in_re(Str::Var(s), Re::glob("log?", None)), str_eq(Str::Var(s), Str::Lit("logs".into()))]);
        assert!(matches!(check(&vars, &goal, &[], 5000), Answer::Sat(_)));
        let b = vars.fresh(Sort::Bool, VarRole::Unknown("b".into()));
        assert!(matches!(check(&vars, &and([var(b), not(var(b))]), &[], 5000), Answer::Unsat));
    }

    #[test]
    fn arn_components_do_not_cross_colons() {
        let mut vars = Vars::default();
        let s = vars.fresh(Sort::Str, VarRole::Unknown("s".into()));
        let re = Re::Concat(vec![Re::glob("a", Some(':')), Re::Lit(":".into()), Re::glob("*", Some(':'))]);
        let goal = and([in_re(Str::Var(s), re), in_re(Str::Var(s), Re::glob("a:*:*", None))]);
        assert!(matches!(check(&vars, &goal, &[], 5000), Answer::Unsat));
    }

    #[test]
    fn numbers_dates_and_ips() {
        let mut vars = Vars::default();
        let r = vars.fresh(Sort::Real, VarRole::Unknown("r".into()));
        let goal = and([Term::RealCmp(r, Cmp::Gt, "2.5".into()), Term::RealCmp(r, Cmp::Lt, "2.75".into())]);
        let Answer::Sat(m) = check(&vars, &goal, &[], 5000) else { panic!() };
        let Some(Value::Real(v)) = m.get(&r) else { panic!() };
        let x: f64 = v.parse().unwrap();
        assert!(x > 2.5 && x < 2.75, "{v}");
        let ip = vars.fresh(Sort::Ip4, VarRole::Unknown("ip".into()));
        let net = u32::from(std::net::Ipv4Addr::new(10, 1, 0, 0));
        let goal = and([Term::Ip4In(ip, net, 16), not(Term::Ip4In(ip, net, 17))]);
        let Answer::Sat(m) = check(&vars, &goal, &[], 5000) else { panic!() };
        let Some(Value::Ip4(a)) = m.get(&ip) else { panic!() };
        let a = std::net::Ipv4Addr::from(*a);
        assert_eq!(a.octets()[..2], [10, 1]);
        assert!(a.octets()[2] >= 128);
        let i6 = vars.fresh(Sort::Ip6, VarRole::Unknown("ip6".into()));
        let net6: u128 = "2001:db8::".parse::<std::net::Ipv6Addr>().unwrap().into();
        let Answer::Sat(m) = check(&vars, &Term::Ip6In(i6, net6, 32), &[], 5000) else { panic!() };
        let Some(Value::Ip6(a)) = m.get(&i6) else { panic!() };
        assert_eq!(a >> 96, net6 >> 96);
    }

    /// The per-question time limit: a question the solver cannot finish in time is `Unknown`
    /// with the solver's reason, never a yes or a no (the pigeonhole formula for 14 pigeons is
    /// far beyond 100 ms for a CDCL solver).
    #[test]
    fn a_question_past_its_time_limit_is_unknown() {
        let mut vars = Vars::default();
        let (pigeons, holes) = (15usize, 14usize);
        let p: Vec<Vec<VarId>> = (0..pigeons)
            .map(|_| (0..holes).map(|_| vars.fresh(Sort::Bool, VarRole::Unknown("p".into()))).collect())
            .collect();
        let mut clauses: Vec<Term> = p.iter().map(|row| crate::term::or(row.iter().map(|v| var(*v)))).collect();
        for j in 0..holes {
            for (a, first) in p.iter().enumerate() {
                for second in &p[a + 1..] {
                    clauses.push(not(and([var(first[j]), var(second[j])])));
                }
            }
        }
        let start = std::time::Instant::now();
        let answer = check(&vars, &and(clauses), &[], 100);
        assert!(matches!(answer, Answer::Unknown(_)), "{answer:?}");
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "{:?}", start.elapsed());
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal(5, 2), "2.5");
        assert_eq!(decimal(-1, 4), "-0.25");
        assert_eq!(decimal(7, 1), "7");
        assert!(real_const("12.50").is_some());
    }
}
