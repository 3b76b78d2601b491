//! The string part of a query, decided in Rust: every string variable is constrained only by
//! membership in regular languages (a literal, a case-insensitive literal, an IAM glob), each
//! asserted or denied. Whether such a set of constraints has a solution — and a shortest witness —
//! is found by a breadth-first search over the product of the constraints' automata.
//!
//! Z3 sees each membership as a Boolean; [`crate::z3_backend`] checks Z3's models here and
//! blocks the conflicting memberships until a model is consistent or none is left (a lazy
//! theory loop). This keeps proofs exact without relying on the string solver of the system's
//! Z3 version.

use crate::term::Re;
use std::collections::{BTreeSet, HashMap, VecDeque};

/// A nondeterministic automaton; transitions on a character predicate.
#[derive(Debug, Clone)]
struct Nfa {
    /// (from, label, to); `None` label = epsilon.
    edges: Vec<(usize, Option<Label>, usize)>,
    start: usize,
    accept: usize,
    states: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    Char(char),
    /// Either case of a character.
    NoCase(char),
    Any,
    AnyBut(char),
    Class(Vec<(char, char)>),
}

impl Label {
    fn accepts(&self, c: char) -> bool {
        match self {
            Label::Char(x) => *x == c,
            Label::NoCase(x) => x.to_lowercase().eq(c.to_lowercase()),
            Label::Any => true,
            Label::AnyBut(x) => *x != c,
            Label::Class(ranges) => ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi),
        }
    }
}

impl Nfa {
    fn build(re: &Re) -> Nfa {
        let mut n = Nfa { edges: Vec::new(), start: 0, accept: 0, states: 0 };
        let (s, a) = n.add(re);
        n.start = s;
        n.accept = a;
        n
    }

    fn state(&mut self) -> usize {
        self.states += 1;
        self.states - 1
    }

    fn add(&mut self, re: &Re) -> (usize, usize) {
        match re {
            Re::Lit(s) | Re::LitNoCase(s) => {
                let start = self.state();
                let mut cur = start;
                for c in s.chars() {
                    let next = self.state();
                    let label = if matches!(re, Re::Lit(_)) { Label::Char(c) } else { Label::NoCase(c) };
                    self.edges.push((cur, Some(label), next));
                    cur = next;
                }
                (start, cur)
            }
            Re::Any | Re::AnyBut(_) | Re::Class(_) => {
                let (s, a) = (self.state(), self.state());
                let label = match re {
                    Re::AnyBut(c) => Label::AnyBut(*c),
                    Re::Class(r) => Label::Class(r.clone()),
                    _ => Label::Any,
                };
                self.edges.push((s, Some(label), a));
                (s, a)
            }
            Re::Star(inner) => {
                let (s, a) = (self.state(), self.state());
                let (is, ia) = self.add(inner);
                self.edges.push((s, None, is));
                self.edges.push((ia, None, is));
                self.edges.push((s, None, a));
                self.edges.push((ia, None, a));
                (s, a)
            }
            Re::Concat(parts) => {
                let start = self.state();
                let mut cur = start;
                for p in parts {
                    let (ps, pa) = self.add(p);
                    self.edges.push((cur, None, ps));
                    cur = pa;
                }
                (start, cur)
            }
        }
    }

    fn closure(&self, set: &mut BTreeSet<usize>) {
        let mut stack: Vec<usize> = set.iter().copied().collect();
        while let Some(s) = stack.pop() {
            for (from, label, to) in &self.edges {
                if *from == s && label.is_none() && set.insert(*to) {
                    stack.push(*to);
                }
            }
        }
    }

    fn step(&self, set: &BTreeSet<usize>, c: char) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        for (from, label, to) in &self.edges {
            if let Some(l) = label {
                if set.contains(from) && l.accepts(c) {
                    out.insert(*to);
                }
            }
        }
        self.closure(&mut out);
        out
    }

    fn chars(&self, out: &mut BTreeSet<char>) {
        for (_, label, _) in &self.edges {
            match label {
                Some(Label::Char(c)) | Some(Label::AnyBut(c)) => {
                    out.insert(*c);
                }
                Some(Label::NoCase(c)) => {
                    out.extend(c.to_lowercase());
                    out.extend(c.to_uppercase());
                    out.insert(*c);
                }
                _ => {}
            }
        }
    }
}

/// The result of deciding one variable's memberships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Solution {
    Witness(String),
    Empty,
    /// The search was too large.
    TooLarge,
}

/// Finds a string in every `(re, true)` language and in none of the `(re, false)` ones.
pub fn solve(constraints: &[(Re, bool)]) -> Solution {
    let nfas: Vec<Nfa> = constraints.iter().map(|(re, _)| Nfa::build(re)).collect();
    let mut named = BTreeSet::new();
    for n in &nfas {
        n.chars(&mut named);
    }
    // Characters every label treats alike are interchangeable: keep every named character and
    // one printable ASCII character of each other kind (SOUNDNESS.md: the alphabet is ASCII).
    let labels: Vec<&Label> = nfas.iter().flat_map(|n| n.edges.iter().filter_map(|(_, l, _)| l.as_ref())).collect();
    let mut kinds: BTreeSet<Vec<bool>> = BTreeSet::new();
    let mut alphabet: Vec<char> = named.iter().copied().collect();
    for c in ('a'..='z').chain('0'..='9').chain('A'..='Z').chain(' '..='~') {
        if named.contains(&c) {
            continue;
        }
        let kind: Vec<bool> = labels.iter().map(|l| l.accepts(c)).collect();
        if kinds.insert(kind) {
            alphabet.push(c);
        }
    }
    let start: Vec<BTreeSet<usize>> = nfas
        .iter()
        .map(|n| {
            let mut s = BTreeSet::from([n.start]);
            n.closure(&mut s);
            s
        })
        .collect();
    let accepting = |sets: &[BTreeSet<usize>]| {
        sets.iter().zip(&nfas).zip(constraints).all(|((set, n), (_, positive))| set.contains(&n.accept) == *positive)
    };
    let mut seen: HashMap<Vec<BTreeSet<usize>>, (usize, Option<char>)> = HashMap::new();
    let mut order: Vec<Vec<BTreeSet<usize>>> = Vec::new();
    let mut queue = VecDeque::new();
    seen.insert(start.clone(), (usize::MAX, None));
    order.push(start.clone());
    queue.push_back(0usize);
    while let Some(i) = queue.pop_front() {
        let cur = order[i].clone();
        if accepting(&cur) {
            let mut word = Vec::new();
            let mut at = i;
            while let Some((parent, Some(c))) = seen.get(&order[at]).copied() {
                word.push(c);
                at = parent;
            }
            word.reverse();
            return Solution::Witness(word.into_iter().collect());
        }
        if order.len() > 50_000 {
            return Solution::TooLarge;
        }
        for &c in &alphabet {
            let next: Vec<BTreeSet<usize>> = cur.iter().zip(&nfas).map(|(s, n)| n.step(s, c)).collect();
            if !seen.contains_key(&next) {
                seen.insert(next.clone(), (i, Some(c)));
                order.push(next);
                queue.push_back(order.len() - 1);
            }
        }
    }
    Solution::Empty
}

/// Whether a concrete string is in a language.
pub fn member(re: &Re, s: &str) -> bool {
    let n = Nfa::build(re);
    let mut set = BTreeSet::from([n.start]);
    n.closure(&mut set);
    for c in s.chars() {
        set = n.step(&set, c);
        if set.is_empty() {
            return false;
        }
    }
    set.contains(&n.accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str) -> Re {
        Re::glob(p, None)
    }

    #[test]
    fn intersections_and_complements() {
        let lit = |s: &str| Re::Lit(s.into());
        assert_eq!(
            solve(&[(glob("a*"), true), (glob("*b"), true), (lit("ab"), false)]),
            Solution::Witness("aab".into())
        );
        let arn = Re::Concat(vec![Re::Lit("a:".into()), Re::Star(Box::new(Re::AnyBut(':')))]);
        assert_eq!(solve(&[(arn, true), (glob("a:*:*"), true)]), Solution::Empty);
        assert_eq!(
            solve(&[(glob("s3.*.amazonaws.com"), true), (lit("s3.us-east-1.amazonaws.com"), false)]),
            Solution::Witness("s3..amazonaws.com".into())
        );
        assert_eq!(solve(&[(glob("*"), false)]), Solution::Empty);
        assert_ne!(
            solve(&[(Re::LitNoCase("Prod".into()), true), (lit("prod"), false), (lit("PROD"), false)]),
            Solution::Empty
        );
        assert_eq!(solve(&[(lit("x"), true), (glob("?"), true)]), Solution::Witness("x".into()));
    }

    #[test]
    fn membership_matches_the_wildcard_matcher() {
        for (p, s) in [("a*b?c", "axxbyc"), ("a*b?c", "abc"), ("*", ""), ("?", ""), ("kms:*", "kms:Decrypt")] {
            assert_eq!(member(&glob(p), s), keyproof_model::wildcard::glob(p, s, false), "{p} {s}");
        }
    }
}
