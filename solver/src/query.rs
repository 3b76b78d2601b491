//! One question: can this principal perform this action on this key, under some request context
//! (narrowed by a `where` condition)? The answer is found by the solver and, when it is yes,
//! read back as a concrete request and replayed through the concrete evaluator before anything
//! is reported.

use crate::domain::{mentioned_accounts, Kind, Member};
use crate::encode::context::{Bounds, Sym, SymContext, SymVal};
use crate::encode::{allowed, Target};
use crate::term::{and, constant, eval, in_re, not, or, str_eq, Re, Sort, Str, Term, VarRole};
use crate::z3_backend::{check, check_model, Answer, Value};
use keyproof_model::context::{
    build_context, is_outside_reason, resolve_principal, Context, Request, ResolvedPrincipal,
};
use keyproof_model::eval::key_policy::works_cross_account;
use keyproof_model::eval::statement::{entry_matches, named_matches, MatchKind};
use keyproof_model::eval::Subject;
use keyproof_model::eval::{decide, Decision, Verdict};
use keyproof_model::principal::{NamedPrincipal, PrincipalRef};
use keyproof_model::reference::{KmsAction, Reference};
use keyproof_model::snapshot::{Key, Snapshot};
use keyproof_model::tri::Tri;
use keyproof_model::wildcard::glob;
use keyproof_model::wildcard::{action_matches, resource_matches};
use keyproof_parser::policy::{Effect, PrincipalKind};
use keyproof_parser::property::ContextCond;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::sync::{Arc, Mutex, RwLock};

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

/// Everything the prover needs about a snapshot, computed once: the principal domain, the
/// accounts it names, the principals named outside it, and the answers already found.
pub struct Prover<'s> {
    pub snapshot: &'s Snapshot,
    pub bounds: Bounds,
    pub timeout_ms: u32,
    mentioned: BTreeSet<String>,
    /// ARNs named for each account outside the snapshot (a representative is none of them).
    named_outside: HashMap<String, Vec<String>>,
    /// The principal domain with the extra principals given to [`Prover::new`].
    domain: Vec<Member>,
    extra: Vec<String>,
    /// The solver's answers by question ([`question_text`]): the equivalence classes of
    /// requests. Two members whose encoded questions are the same term — everything the
    /// snapshot fixes about them folded to the same constants — have the same answer, so the
    /// question is solved once per class; each member's witness is still read back from its own
    /// context and replayed through the evaluator. An input that some policy, grant or condition
    /// looks at (an ARN, an account id, a tag) makes the terms differ, so such members are never
    /// grouped.
    answers: Mutex<Answers>,
    /// Off only in the tests that compare grouped with ungrouped answers.
    pub grouping: bool,
    /// Per action, per key ARN.
    gates: RwLock<HashMap<&'static str, HashMap<String, Arc<KeyGate>>>>,
    /// Questions that reached the solver step, and those actually solved (not answered by
    /// their class).
    asked: AtomicUsize,
    solved: AtomicUsize,
    /// Answers rewritten from a question shared with other accounts' representatives ([`Canon`]).
    rewritten: AtomicUsize,
    /// Questions that passed the Rust pre-filter.
    encoded: AtomicUsize,
    /// This prover among all of the process's ([`PROVERS`]).
    id: u64,
}

/// A cached answer: the answer, whether its model is deterministic, and the account it was
/// solved for; set once by the first thread that asks the question.
type Cell = Arc<OnceLock<(Answer, bool, Option<String>)>>;

/// The gate a thread looked up last, by (prover, key, action).
type LastGate = ((u64, usize, usize), Arc<KeyGate>);

/// The answer cache, bounded in memory: cleared when its questions exceed [`MAX_CACHED_BYTES`].
#[derive(Default)]
struct Answers {
    /// The answer, whether its model is deterministic, and the account of the representative it
    /// was found for when the question was written with that account abstracted ([`Canon`]).
    by_question: HashMap<String, Cell>,
    bytes: usize,
}

impl Answers {
    /// The question's cell, set or being set by the first thread that asked it.
    fn cell(&mut self, text: String) -> Cell {
        if let Some(c) = self.by_question.get(&text) {
            return c.clone();
        }
        let cell = Arc::new(OnceLock::new());
        self.insert(text, cell.clone());
        cell
    }

    fn insert(&mut self, text: String, cell: Cell) {
        if self.bytes + text.len() > MAX_CACHED_BYTES {
            *self = Answers::default();
        }
        self.bytes += text.len();
        self.by_question.insert(text, cell);
    }
}

/// How many bytes of question text the answer cache holds before it starts afresh.
const MAX_CACHED_BYTES: usize = 256 << 20;

/// The text that identifies a question to the solver: its variables' sorts, the goal and the
/// side conditions, exactly (`Debug` prints every literal escaped). Two questions with the same
/// text are the same formula, so they have the same answer and, because the solver starts afresh
/// for every question, the same model. What a variable stands for (its role, the reason of a free
/// choice) is not part of the formula: each member's request is read back through its own
/// context. A representative's name shape ([`Canon`]) is written with its account abstracted.
fn question_text(vars: &crate::term::Vars, goal: &Term, side: &[Term], canon: Option<&Canon>) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for v in &vars.vars {
        let _ = write!(s, "{:?};", v.sort);
    }
    let _ = write!(s, "\u{0}{goal:?}\u{0}");
    for t in side {
        match canon {
            Some(c) if *t == c.shape => {
                let _ = write!(s, "{:?};", c.kind.shape(c.var, CANON_ACCOUNT));
            }
            _ => {
                let _ = write!(s, "{t:?};");
            }
        }
    }
    s
}

/// Stands for the account id in a canonical name shape (no account id contains it).
const CANON_ACCOUNT: &str = "\u{1}account\u{1}";

/// The account id a shared question is solved for; every member's model is rewritten from it.
const CANON_DIGITS: &str = "000000000000";

/// The name shapes of representatives: every name starts `arn:aws:SERVICE::ACCOUNT:`, the account
/// id at characters 13 to 25.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// "any principal of account A": an IAM role or user.
    RoleOrUser,
    /// "any federated user of account A".
    FederatedUser,
}

impl Shape {
    fn shape(self, v: crate::term::VarId, account: &str) -> Term {
        let name = |prefix: String, min: usize| {
            let mut parts = vec![Re::Lit(prefix)];
            parts.extend(std::iter::repeat_n(name_chars(), min));
            parts.push(Re::Star(Box::new(name_chars())));
            in_re(Str::Var(v), Re::Concat(parts))
        };
        match self {
            Shape::RoleOrUser => {
                or([name(format!("arn:aws:iam::{account}:role/"), 1), name(format!("arn:aws:iam::{account}:user/"), 1)])
            }
            // GetFederationToken's `Name`: 2 to 32 characters.
            Shape::FederatedUser => name(format!("arn:aws:sts::{account}:federated-user/"), 2),
        }
    }
}

/// A representative whose question may be shared with the representatives of other accounts:
/// its name variable is constrained by `shape` (the one side condition that holds its account
/// id) and by nothing that can tell one account id from another.
///
/// Why sharing is sound: let Q_A be the question for account A and Q_B the one for B, the same
/// text once the shape's account is abstracted. In every model of Q_A the name holds A's twelve
/// digits at characters 13 to 25 (the shape's literal prefix fixes them). Replace them by B's
/// digits: the shape for B holds; every other constraint on the name is a membership in a
/// regular expression or an equality with a literal in which no digit is written and every
/// character class holds all ten digits or none ([`digit_blind`]), so it cannot tell one digit
/// from another and holds as before; no constraint relates the name to another variable; the
/// other variables keep their values, and their constraints are the same in Q_B. So Q_B has a
/// model exactly when Q_A has one, and rewriting the account in a model of one gives a model of
/// the other — which is still replayed through the evaluator before it is reported.
#[derive(Debug, Clone)]
pub struct Canon {
    var: crate::term::VarId,
    kind: Shape,
    account: String,
    shape: Term,
}

impl Canon {
    /// Whether the goal and the side conditions other than the shape are blind to the digits of
    /// the name variable.
    fn applies(&self, goal: &Term, side: &[Term]) -> bool {
        self.account.len() == 12
            && self.account.bytes().all(|b| b.is_ascii_digit())
            && digit_blind(goal, self.var)
            && side.iter().all(|t| *t == self.shape || digit_blind(t, self.var))
    }

    /// A model of the question for another account's representative, rewritten for this one.
    fn rewrite(
        &self,
        mut values: HashMap<crate::term::VarId, Value>,
        from: &str,
    ) -> Option<HashMap<crate::term::VarId, Value>> {
        if let Some(Value::Str(name)) = values.get_mut(&self.var) {
            if name.get(13..25) != Some(from) || !name.is_char_boundary(25) {
                return None;
            }
            name.replace_range(13..25, &self.account);
        }
        Some(values)
    }
}

/// Whether every constraint on the string variable `v` in `t` is blind to digits: no digit
/// written in its literals, character classes with all ten digits or none, no equality with
/// another variable.
fn digit_blind(t: &Term, v: crate::term::VarId) -> bool {
    fn re_blind(re: &Re) -> bool {
        match re {
            Re::Lit(l) | Re::LitNoCase(l) => !l.bytes().any(|b| b.is_ascii_digit()),
            Re::Any => true,
            Re::AnyBut(c) => !c.is_ascii_digit(),
            Re::Class(ranges) => {
                let has = |d: char| ranges.iter().any(|(lo, hi)| *lo <= d && d <= *hi);
                let n = ('0'..='9').filter(|d| has(*d)).count();
                n == 0 || n == 10
            }
            Re::Star(inner) => re_blind(inner),
            Re::Concat(parts) => parts.iter().all(re_blind),
        }
    }
    match t {
        Term::Not(inner) => digit_blind(inner, v),
        Term::And(ts) | Term::Or(ts) => ts.iter().all(|t| digit_blind(t, v)),
        Term::StrEq(Str::Var(a), Str::Var(b)) => *a != v && *b != v,
        Term::StrEq(Str::Var(a), Str::Lit(l)) | Term::StrEq(Str::Lit(l), Str::Var(a)) => {
            *a != v || !l.bytes().any(|b| b.is_ascii_digit())
        }
        Term::InRe(Str::Var(a), re) => *a != v || re_blind(re),
        _ => true,
    }
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
            // A representative's name is none of these: the principals named outside the
            // snapshot, and every federated user named anywhere.
            let named_federated = m.kind == Kind::Snapshot && m.principal.contains(":federated-user/");
            if m.kind == Kind::NamedOutside || named_federated {
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
            domain,
            extra: extra_principals.to_vec(),
            answers: Mutex::new(Answers::default()),
            grouping: true,
            gates: RwLock::new(HashMap::new()),
            asked: AtomicUsize::new(0),
            solved: AtomicUsize::new(0),
            rewritten: AtomicUsize::new(0),
            encoded: AtomicUsize::new(0),
            id: PROVERS.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The principal domain (see [`crate::domain`]), computed once in [`Prover::new`].
    pub fn members(&self) -> &[Member] {
        &self.domain
    }

    /// The principal domain with `extra` principals: the one computed in [`Prover::new`] when
    /// `extra` are the principals given there.
    pub fn domain(&self, extra: &[String]) -> Vec<Member> {
        if extra == self.extra.as_slice() {
            return self.domain.clone();
        }
        crate::domain::principals(self.snapshot, extra)
    }

    /// (questions that needed the solver, questions it actually solved): the difference is what
    /// the equivalence classes saved.
    pub fn solver_questions(&self) -> (usize, usize) {
        (self.asked.load(Ordering::Relaxed), self.solved.load(Ordering::Relaxed))
    }

    /// What the pipeline did, for `KEYPROOF_STATS`: questions encoded (past the pre-filter),
    /// that reached the solver step, solved, and rewritten across accounts.
    pub fn stats(&self) -> String {
        let n = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        format!(
            "{} principals; {} questions past the pre-filter, {} reached the solver step, {} solved, {} shared across accounts",
            self.domain.len(),
            n(&self.encoded),
            n(&self.asked),
            n(&self.solved),
            n(&self.rewritten)
        )
    }

    /// How many answers were rewritten from another account's representative's ([`Canon`]).
    pub fn shared_across_accounts(&self) -> usize {
        self.rewritten.load(Ordering::Relaxed)
    }

    /// Solves a question, once per equivalence class (see `answers`). Side conditions that share
    /// no variable with the goal (the name of a representative principal when no policy looks
    /// at it) are a question of their own: the conjunction of two questions over disjoint
    /// variables is satisfiable exactly when both are, and its model is the union of theirs. So
    /// the representatives of different accounts share the goal's answer when only their names
    /// differ.
    pub(crate) fn solve(&self, sc: &SymContext<'_>, goal: &Term, reported: bool, canon: Option<&Canon>) -> Answer {
        let mut reach = BTreeSet::new();
        crate::term::vars_of(goal, &mut reach);
        let side_vars: Vec<BTreeSet<crate::term::VarId>> = sc
            .side
            .iter()
            .map(|t| {
                let mut v = BTreeSet::new();
                crate::term::vars_of(t, &mut v);
                v
            })
            .collect();
        let mut linked = vec![false; sc.side.len()];
        loop {
            let mut grew = false;
            for (i, vs) in side_vars.iter().enumerate() {
                if !linked[i] && !vs.is_disjoint(&reach) {
                    linked[i] = true;
                    reach.extend(vs.iter().copied());
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        if linked.iter().all(|l| *l) {
            return self.solve_part(sc, goal, &sc.side, reported, canon);
        }
        let near: Vec<Term> = sc.side.iter().zip(&linked).filter(|(_, l)| **l).map(|(t, _)| t.clone()).collect();
        let apart: Vec<Term> = sc.side.iter().zip(&linked).filter(|(_, l)| !**l).map(|(t, _)| t.clone()).collect();
        match (
            self.solve_part(sc, goal, &near, reported, canon),
            self.solve_part(sc, &crate::term::TRUE, &apart, reported, canon),
        ) {
            (Answer::Sat(mut a), Answer::Sat(b)) => {
                a.extend(b);
                Answer::Sat(a)
            }
            (Answer::Unsat, _) | (_, Answer::Unsat) => Answer::Unsat,
            (Answer::Unknown(why), _) | (_, Answer::Unknown(why)) => Answer::Unknown(why),
        }
    }

    /// One question, looked up by its text before it is solved.
    fn solve_part(
        &self,
        sc: &SymContext<'_>,
        goal: &Term,
        side: &[Term],
        reported: bool,
        canon: Option<&Canon>,
    ) -> Answer {
        if goal.as_const() == Some(false) {
            return Answer::Unsat;
        }
        self.asked.fetch_add(1, Ordering::Relaxed);
        let fresh = || {
            if reported {
                check_model(&sc.vars, goal, side, self.timeout_ms)
            } else {
                check(&sc.vars, goal, side, self.timeout_ms)
            }
        };
        if !self.grouping {
            self.solved.fetch_add(1, Ordering::Relaxed);
            return fresh();
        }
        let canon = canon.filter(|c| c.applies(goal, side));
        let text = question_text(&sc.vars, goal, side, canon);
        // A question being solved on another thread is waited for, not solved twice: the
        // members of a class are often asked at once (who-can's parallel loop).
        let Some(cell) = self.answers.lock().ok().map(|mut c| c.cell(text.clone())) else {
            self.solved.fetch_add(1, Ordering::Relaxed);
            return fresh();
        };
        let mut here = false;
        let (a, deterministic, from) = cell
            .get_or_init(|| {
                here = true;
                self.solved.fetch_add(1, Ordering::Relaxed);
                self.solve_class(sc, goal, side, reported, canon)
            })
            .clone();
        // A satisfiable answer found without a deterministic model serves only questions that
        // do not report it.
        if reported && !deterministic && matches!(a, Answer::Sat(_)) {
            self.solved.fetch_add(1, Ordering::Relaxed);
            let solved = self.solve_class(sc, goal, side, true, canon);
            let (a, from) = (solved.0.clone(), solved.2.clone());
            self.remember(text, solved);
            return self.instantiate(a, canon, from, &fresh, false);
        }
        self.instantiate(a, canon, from, &fresh, !here)
    }

    /// Solves a question for its class: a question written with its account abstracted
    /// ([`Canon`]) is solved for one fixed account id, so that the model every member's witness
    /// is rewritten from does not depend on which member asked first.
    fn solve_class(
        &self,
        sc: &SymContext<'_>,
        goal: &Term,
        side: &[Term],
        reported: bool,
        canon: Option<&Canon>,
    ) -> (Answer, bool, Option<String>) {
        let solve = |side: &[Term]| {
            if reported {
                check_model(&sc.vars, goal, side, self.timeout_ms)
            } else {
                check(&sc.vars, goal, side, self.timeout_ms)
            }
        };
        match canon {
            None => (solve(side), reported, None),
            Some(c) => {
                let side: Vec<Term> = side
                    .iter()
                    .map(|t| if *t == c.shape { c.kind.shape(c.var, CANON_DIGITS) } else { t.clone() })
                    .collect();
                (solve(&side), reported, Some(CANON_DIGITS.to_string()))
            }
        }
    }

    /// The class's answer for this member: a model found for another account is rewritten for
    /// this member's (and where it cannot be, the member's own question is solved).
    fn instantiate(
        &self,
        a: Answer,
        canon: Option<&Canon>,
        from: Option<String>,
        fresh: &dyn Fn() -> Answer,
        shared: bool,
    ) -> Answer {
        match (a, canon, from) {
            (Answer::Sat(values), Some(c), Some(from)) => match c.rewrite(values, &from) {
                Some(values) => {
                    if shared {
                        self.rewritten.fetch_add(1, Ordering::Relaxed);
                    }
                    Answer::Sat(values)
                }
                None => fresh(),
            },
            (a, _, _) => a,
        }
    }

    fn remember(&self, text: String, entry: (Answer, bool, Option<String>)) {
        if let Ok(mut c) = self.answers.lock() {
            let cell = Arc::new(OnceLock::new());
            let _ = cell.set(entry);
            c.insert(text, cell);
        }
    }

    /// Can `member` perform `action` on `key` under some context satisfying `cond`?
    pub fn can(&self, member: &Member, action: &'static KmsAction, key: &Key, cond: Option<&ContextCond>) -> Can {
        self.can_resolved(member, &self.resolve(member), action, key, cond)
    }

    /// [`Prover::can`] when only the yes or no matters (the witness is not reported): the
    /// model is not made deterministic, which saves a second solve.
    pub fn can_at_all(
        &self,
        member: &Member,
        action: &'static KmsAction,
        key: &Key,
        cond: Option<&ContextCond>,
    ) -> Can {
        self.ask(member, &self.resolve(member), action, key, cond, false)
    }

    /// The member as the evaluator sees it (resolved once by callers that ask many questions
    /// about one member).
    pub fn resolve(&self, member: &Member) -> Result<ResolvedPrincipal<'s>, String> {
        resolve_principal(self.snapshot, &member.principal)
            .map_err(|e| format!("cannot resolve `{}`: {e}", member.principal))
    }

    /// [`Prover::can`] with the member already resolved ([`Prover::resolve`]).
    pub fn can_resolved(
        &self,
        member: &Member,
        resolved: &Result<ResolvedPrincipal<'s>, String>,
        action: &'static KmsAction,
        key: &Key,
        cond: Option<&ContextCond>,
    ) -> Can {
        self.ask(member, resolved, action, key, cond, true)
    }

    /// The one question pipeline: the Rust pre-filter, the encoding, the solver (once per
    /// equivalence class), the request read back and replayed through the evaluator, and the
    /// verdict policy. `reported`: the witness is shown, so its model must not depend on the
    /// questions asked before.
    fn ask(
        &self,
        member: &Member,
        resolved: &Result<ResolvedPrincipal<'s>, String>,
        action: &'static KmsAction,
        key: &Key,
        cond: Option<&ContextCond>,
        reported: bool,
    ) -> Can {
        let principal = match resolved {
            Ok(p) => p,
            Err(e) => return Can::Unknown(e.clone()),
        };
        if !self.may_be_allowed(principal, action, key) {
            return Can::No;
        }
        self.encoded.fetch_add(1, Ordering::Relaxed);
        let base = match build_context(self.snapshot, principal, key, action, &BTreeMap::new()) {
            Ok(b) => b,
            Err(e) => return Can::Unknown(e.to_string()),
        };
        let mut sc = SymContext::new(&base, &self.bounds);
        sc.session_tags = principal.role.is_some_and(|r| r.session_tags_allowed());
        let (name_var, canon) = represent_canon(member, &mut sc, &self.named_outside);
        let target = Target { snapshot: self.snapshot, principal, action, key, base: &base };
        let mut goal = allowed(&target, &mut sc);
        if let Some(c) = cond {
            goal = and([goal, where_term(c, &mut sc)]);
        }
        if goal.as_const() == Some(false) {
            return Can::No;
        }
        let values = match self.solve(&sc, &goal, reported, canon.as_ref()) {
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

    /// A necessary condition for the request to be allowed, decided in Rust from the snapshot
    /// alone: some grant names the principal for the operation, or some key policy Allow
    /// statement covers the action and names the principal in a way that can allow it (directly,
    /// or through IAM policies of the principal that cover the action and the key). SCPs, RCPs,
    /// denies and conditions can only narrow this, so `false` means no request is allowed; the
    /// encoding decides everything else. Most principals of a large organization stop here.
    pub fn may_be_allowed(&self, p: &ResolvedPrincipal<'_>, action: &'static KmsAction, key: &Key) -> bool {
        if p.r == PrincipalRef::Anonymous {
            return false;
        }
        let gate = self.gate(key, action);
        if !gate.admits(p) {
            return false;
        }
        if gate.any_grant_retires {
            return true;
        }
        let ctx = Context::new(action);
        let s = Subject { snapshot: self.snapshot, principal: p, action, key, ctx: &ctx, knockout: None };
        if gate.grants.iter().any(|&g| !named_matches(&key.grants[g].grantee_principal, &s).0.is_false()) {
            return true;
        }
        let same = s.same_account();
        let root = matches!(p.r, PrincipalRef::Root { .. });
        let service = matches!(p.r, PrincipalRef::Service(_));
        let mut identity: Option<bool> = None;
        for stmt in &gate.statements {
            // An allowing `NotPrincipal` may name anyone (its entries are not looked at).
            let everyone = [(Tri::Unknown, MatchKind::Everyone)];
            let mut matched = Vec::new();
            let matches: &[(Tri, MatchKind)] = match &stmt.entries {
                None => &everyone,
                Some(entries) => {
                    for (kind, value, parsed) in entries {
                        let m = entry_matches(*kind, value, parsed.as_ref(), &s);
                        if !m.0.is_false() {
                            matched.push(m);
                        }
                    }
                    &matched
                }
            };
            for (_, kind) in matches {
                let direct = match kind {
                    MatchKind::Everyone | MatchKind::Service if service => true,
                    _ if service => false,
                    MatchKind::Everyone | MatchKind::Exact | MatchKind::Service | MatchKind::RoleArn => same,
                    MatchKind::Account => same && root,
                };
                if direct {
                    return true;
                }
                if !same && !works_cross_account(&action.name) {
                    continue;
                }
                if *identity.get_or_insert_with(|| identity_may_allow(self.snapshot, p, &gate.action_name, key)) {
                    return true;
                }
            }
        }
        false
    }

    /// Who the key's policy and grants can let in for the action at all, computed once per key
    /// and action ([`KeyGate`]).
    pub fn gate(&self, key: &Key, action: &'static KmsAction) -> Arc<KeyGate> {
        // Callers ask about one key for many principals in a row (check's instances are key
        // by key, with one or a few actions): this thread's last gates are looked up first, by
        // identity.
        let here = (self.id, key as *const Key as usize, action as *const KmsAction as usize);
        if let Some(g) = LAST_GATES.with(|l| l.borrow().iter().find(|(at, _)| *at == here).map(|(_, g)| g.clone())) {
            return g;
        }
        let g = self.gate_lookup(key, action);
        LAST_GATES.with(|l| {
            let mut l = l.borrow_mut();
            if l.len() == 4 {
                l.remove(0);
            }
            l.push((here, g.clone()));
        });
        g
    }

    fn gate_lookup(&self, key: &Key, action: &'static KmsAction) -> Arc<KeyGate> {
        let op = action.name.as_str();
        if let Some(g) =
            self.gates.read().ok().and_then(|m| m.get(op).and_then(|per_key| per_key.get(&key.arn)).cloned())
        {
            return g;
        }
        let g = Arc::new(KeyGate::of(self.snapshot, key, action));
        if let Ok(mut m) = self.gates.write() {
            m.entry(op).or_default().insert(key.arn.clone(), g.clone());
        }
        g
    }

    /// Every account the snapshot names.
    pub fn mentioned(&self) -> &BTreeSet<String> {
        &self.mentioned
    }

    /// The principals the snapshot names in each account outside it.
    pub fn named_outside(&self) -> &HashMap<String, Vec<String>> {
        &self.named_outside
    }
}

thread_local! {
    /// The gates last looked up on this thread: (prover, key, action) and the gate.
    static LAST_GATES: std::cell::RefCell<Vec<LastGate>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Tells provers apart (a prover's address may be reused by the next one).
static PROVERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A coarser, per-key form of [`Prover::may_be_allowed`]: the accounts whose principals some
/// Allow statement of the key policy covering the action, or some grant listing it, names —
/// or "everyone" when a statement or grant could name a principal of any account (`"*"`,
/// `NotPrincipal`, a unique id, a name keyproof cannot place in an account, `RetireGrant`).
/// A principal it does not admit is not named by any statement or grant that could allow the
/// action, so [`Prover::may_be_allowed`] is false for it: the gate only saves that scan, which
/// over millions of principal × key instances is most of the time.
#[derive(Debug, Default)]
pub struct KeyGate {
    everyone: bool,
    services: bool,
    /// Account ids as numbers (a principal × key check looks them up millions of times).
    accounts: std::collections::HashSet<u64>,
    /// `kms:<action>`.
    action_name: String,
    /// `RetireGrant` on a key with grants: any principal may be a grant's retiring principal.
    any_grant_retires: bool,
    /// The key's grants for the operation (indices into `key.grants`).
    grants: Vec<usize>,
    /// The key policy's Allow statements with a resource that cover the action, with their
    /// principals read once.
    statements: Vec<GateStatement>,
}

/// An Allow statement of a key policy that covers the gate's action: its `Principal` entries
/// (kind, value, and the value read as a named principal for `AWS` entries), or `None` for a
/// `NotPrincipal`, which may name anyone.
#[derive(Debug)]
struct GateStatement {
    entries: Option<Vec<(PrincipalKind, String, Option<NamedPrincipal>)>>,
}

impl KeyGate {
    fn of(snapshot: &Snapshot, key: &Key, action: &'static KmsAction) -> KeyGate {
        let op = action.name.as_str();
        let mut gate = KeyGate { action_name: format!("kms:{op}"), ..KeyGate::default() };
        if op == "RetireGrant" && !key.grants.is_empty() {
            gate.everyone = true;
            gate.any_grant_retires = true;
            return gate;
        }
        let name = |n: &NamedPrincipal, gate: &mut KeyGate| match n {
            NamedPrincipal::Account(a) => {
                gate.account(a);
            }
            NamedPrincipal::Service(_) => gate.services = true,
            NamedPrincipal::Arn(arn) => {
                match PrincipalRef::parse(arn).ok().and_then(|r| r.account().map(str::to_string)) {
                    Some(a) => {
                        gate.account(&a);
                    }
                    None => gate.everyone = true,
                }
            }
            NamedPrincipal::Other(_) => {}
            _ => gate.everyone = true,
        };
        for (i, g) in key.grants.iter().enumerate().filter(|(_, g)| g.operations.iter().any(|o| o.value == op)) {
            name(&g.grantee_principal, &mut gate);
            gate.grants.push(i);
        }
        let action_name = gate.action_name.clone();
        for stmt in &snapshot.policy(key.policy).document.statements {
            if stmt.effect.value != Effect::Allow || stmt.resource.is_none() {
                continue;
            }
            let (Some(a), Some(pe)) = (&stmt.action, &stmt.principal) else { continue };
            if a.values.iter().any(|x| action_matches(&x.value, &action_name)) == a.negated {
                continue;
            }
            if pe.negated {
                gate.everyone = true;
            }
            let mut entries = Vec::new();
            for e in &pe.entries {
                let mut parsed = None;
                match e.kind {
                    PrincipalKind::Aws => {
                        let n = NamedPrincipal::from_aws(&e.value.value);
                        name(&n, &mut gate);
                        parsed = Some(n);
                    }
                    PrincipalKind::Service => gate.services = true,
                    PrincipalKind::Federated | PrincipalKind::CanonicalUser => {}
                    _ => gate.everyone = true,
                }
                entries.push((e.kind, e.value.value.clone(), parsed));
            }
            gate.statements.push(GateStatement { entries: (!pe.negated).then_some(entries) });
        }
        gate
    }

    /// A statement or grant names a principal of account `id`; an id that is not twelve digits
    /// is not kept as a number, so the gate lets everyone through.
    fn account(&mut self, id: &str) {
        match account_number(id) {
            Some(n) => {
                self.accounts.insert(n);
            }
            None => self.everyone = true,
        }
    }

    /// Whether the gate lets every principal through (then [`KeyGate::accounts`] and
    /// [`KeyGate::services`] say nothing).
    pub fn everyone(&self) -> bool {
        self.everyone
    }

    /// Whether service principals may be named.
    pub fn services(&self) -> bool {
        self.services
    }

    /// The accounts (as numbers, [`account_number`]) whose principals may be named.
    pub fn accounts(&self) -> impl Iterator<Item = u64> + '_ {
        self.accounts.iter().copied()
    }

    /// Whether some statement or grant could name the principal.
    pub fn admits(&self, p: &ResolvedPrincipal<'_>) -> bool {
        self.everyone
            || (self.services && matches!(p.r, PrincipalRef::Service(_)))
            || p.account_id().and_then(account_number).is_some_and(|a| self.accounts.contains(&a))
    }
}

/// An account id as a number, when it is one (twelve digits).
pub fn account_number(id: &str) -> Option<u64> {
    if id.len() != 12 {
        return None;
    }
    id.bytes().try_fold(0u64, |n, b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
}

/// Sets up the symbolic context for a member of the principal domain: the name of a
/// representative principal ("any principal of account A") is a variable, distinct from every
/// principal the snapshot names in that account. Returns that variable.
pub fn represent(
    member: &Member,
    sc: &mut SymContext<'_>,
    named_outside: &HashMap<String, Vec<String>>,
) -> Option<crate::term::VarId> {
    represent_canon(member, sc, named_outside).0
}

/// [`represent`], and the representative's name shape when its question may be shared with
/// other accounts' representatives ([`Canon`]).
pub(crate) fn represent_canon(
    member: &Member,
    sc: &mut SymContext<'_>,
    named_outside: &HashMap<String, Vec<String>>,
) -> (Option<crate::term::VarId>, Option<Canon>) {
    if member.kind == Kind::AnyOtherService {
        let why = format!("{}the name of {} is not fixed", keyproof_model::context::OUTSIDE, member.describe());
        sc.overrides.insert("aws:principalservicename".into(), Sym::Unknown(why));
        return (None, None);
    }
    let (account, kind) = match &member.kind {
        Kind::AnyOf(a) => (a.clone(), Shape::RoleOrUser),
        Kind::AnyOtherAccount => (crate::domain::OTHER_ACCOUNT.to_string(), Shape::RoleOrUser),
        Kind::AnyFederatedUser(a) => (a.clone(), Shape::FederatedUser),
        _ => return (None, None),
    };
    let (what, userid) = match kind {
        Shape::RoleOrUser => ("the name of the principal", member.describe()),
        Shape::FederatedUser => ("the name of the federated user", format!("a federated user of account {account}")),
    };
    let v = sc.vars.fresh(Sort::Str, VarRole::Unknown(what.into()));
    let shape = kind.shape(v, &account);
    let named = named_outside.get(&account).filter(|n| !n.is_empty());
    let canon = named.is_none().then(|| Canon { var: v, kind, account: account.clone(), shape: shape.clone() });
    name_is_principal(sc, v, shape, named);
    let why = format!("{}the name of {userid} is not fixed", keyproof_model::context::OUTSIDE);
    sc.overrides.insert("aws:userid".into(), Sym::Unknown(why.clone()));
    if kind == Shape::RoleOrUser {
        sc.overrides.insert("aws:username".into(), Sym::Unknown(why));
    }
    if account == crate::domain::OTHER_ACCOUNT {
        free_other_account(sc);
    }
    (Some(v), canon)
}

/// A representative's name variable `v`: in `shape`, none of the `named` principals, and the
/// request's `aws:PrincipalArn`.
fn name_is_principal(sc: &mut SymContext<'_>, v: crate::term::VarId, shape: Term, named: Option<&Vec<String>>) {
    let mut dom = vec![shape];
    for n in named.into_iter().flatten() {
        dom.push(not(str_eq(Str::Var(v), Str::Lit(n.clone()))));
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
}

/// "Any other account" has a stand-in account id; where some condition compares account ids
/// with a partial wildcard (`Bounds::account_patterns`), the id (and so the ARN) it is compared
/// with is a free choice instead, so that a proof covers every account id. A request that relies
/// on it does not replay and is reported as undecided, never as an answer.
fn free_other_account(sc: &mut SymContext<'_>) {
    if !sc.bounds.account_patterns {
        return;
    }
    let why =
        "the account id of any other AWS account is compared with a pattern, which keyproof does not encode for it";
    for key in ["aws:principalaccount", "kms:calleraccount", "aws:principalarn"] {
        sc.overrides.insert(key.into(), Sym::Unknown(why.to_string()));
    }
}

/// Reads a concrete request back from a model.
pub fn read_request(
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
        // A named encryption context key as the request spells it.
        let name = match kv.name.get(..22).filter(|p| p.eq_ignore_ascii_case("kms:EncryptionContext:")) {
            Some(_) => match sc.spelling_var(&kv.name[22..]).and_then(|v| values.get(&v)) {
                Some(Value::Str(spelled)) => format!("kms:EncryptionContext:{spelled}"),
                _ => kv.name.clone(),
            },
            None => kv.name.clone(),
        };
        if !vals.is_empty() {
            context.insert(name, vals);
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

/// Whether the principal's own IAM side can allow the action on the key: unknown IAM, the root
/// user, or an Allow statement covering the action and possibly the key in its policies (and in
/// its boundary, if any). Conditions are not looked at.
fn identity_may_allow(snapshot: &Snapshot, p: &ResolvedPrincipal<'_>, action_name: &str, key: &Key) -> bool {
    if !p.identity_known || matches!(p.r, PrincipalRef::Root { .. }) {
        return true;
    }
    let covers = |ids: &[keyproof_model::snapshot::PolicyId]| {
        ids.iter().any(|&id| {
            snapshot.policy(id).document.statements.iter().any(|st| {
                st.effect.value == Effect::Allow
                    && st
                        .action
                        .as_ref()
                        .is_some_and(|a| a.values.iter().any(|x| action_matches(&x.value, action_name)) != a.negated)
                    && st.resource.as_ref().is_some_and(|r| {
                        r.negated
                            || r.values.iter().any(|x| x.value.contains("${") || resource_matches(&x.value, &key.arn))
                    })
            })
        })
    };
    let (policies, boundary) = match (p.role, p.user) {
        (Some(r), _) => (&r.policies, r.boundary),
        (None, Some(u)) => (&u.policies, u.boundary),
        (None, None) => return false,
    };
    covers(policies) && boundary.is_none_or(|b| covers(&[b]))
}
