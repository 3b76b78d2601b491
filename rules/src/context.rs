//! What every rule reads: the snapshot, the settings with their defaults resolved, and the
//! prover with a cache of its answers (several rules ask the same questions).

use crate::config::Config;
use crate::err::RulesError;
use keyproof_model::context::ResolvedPrincipal;
use keyproof_model::principal::{NamedPrincipal, PrincipalRef};
use keyproof_model::reference::KmsAction;
use keyproof_model::snapshot::Key;
use keyproof_model::wildcard::{action_matches, glob};
use keyproof_model::Snapshot;
use keyproof_parser::policy::{Effect, PrincipalKind};
use keyproof_parser::property::ContextCond;
use keyproof_parser::{Span, Spanned};
use keyproof_solver::check::Shard;
use keyproof_solver::check::DEFAULT_MAX_HOPS;
use keyproof_solver::classes::Classes;
use keyproof_solver::domain::{Kind, Member};
use keyproof_solver::query::{account_number, actions_matching, Can, Prover, Witness};
use keyproof_solver::transitive::{transitive, Transitive};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The answer to one access question, as the rules use it.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Allowed: a request found by the solver and replayed through the evaluator.
    Yes(Box<Witness>),
    No,
    /// Not decided; the reason is recorded as an undetermined check of the rule.
    Unknown,
}

impl Answer {
    pub fn witness(&self) -> Option<&Witness> {
        match self {
            Answer::Yes(w) => Some(w),
            _ => None,
        }
    }
}

/// A question a rule could not decide: never a silent pass.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Undetermined {
    pub rule: String,
    pub key: String,
    pub principal: String,
    pub action: String,
    pub reason: String,
}

/// A cached answer: a decision, not its trace (a replayed request is decided again on use).
#[derive(Debug, Clone)]
enum Cached {
    /// The request's principal when it is not the member's own (a representative's witness
    /// name), its context, and what it assumes; the action and key are the question's.
    Yes {
        principal: Option<Box<str>>,
        context: BTreeMap<String, Vec<String>>,
        assumptions: Vec<String>,
    },
    No,
    Unknown,
}

pub struct LintContext<'s> {
    pub snapshot: &'s Snapshot,
    pub config: &'s Config,
    pub prover: Prover<'s>,
    pub domain: Vec<Member>,
    /// Each member of `domain` as the evaluator sees it, resolved once (same order).
    resolved: Vec<Result<ResolvedPrincipal<'s>, String>>,
    /// The members (indices into `domain`) a key gate can admit: by account number, the
    /// service principals, and those that did not resolve (always asked: their answer is
    /// unknown).
    by_account: HashMap<u64, Vec<usize>>,
    service_members: Vec<usize>,
    unresolved: Vec<usize>,
    /// The index in `domain` of each member's principal.
    by_principal: HashMap<String, usize>,
    /// The KMS actions by name without `kms:`, looked up once.
    actions: HashMap<&'static str, &'static KmsAction>,
    /// Each key's administrators ([`LintContext::admins`]), by key ARN, computed once.
    admins: HashMap<&'s str, (Vec<String>, bool)>,
    /// The security accounts: configured, or inferred (see `security_note`).
    pub security: Vec<String>,
    /// Set when the security accounts were inferred, to be said in the findings that use them.
    pub security_note: Option<String>,
    cache: Mutex<HashMap<CacheKey, Cached>>,
    /// The `where` conditions the rules ask with, numbered (a few distinct ones per run).
    conds: Mutex<HashMap<String, u32>>,
    /// The keys this run reports on (`--shard I/N`).
    pub shard: Shard,
    undetermined: Mutex<Vec<Undetermined>>,
    skipped: Mutex<Vec<(String, String)>>,
    /// The transitive searches ([`LintContext::transitive`]) by (action name, key ARN), run once
    /// for every rule that asks.
    reach: Mutex<HashMap<(String, String), Searched>>,
    /// Classes of members asked once per key ([`keyproof_solver::classes`]); off in the
    /// differential test that compares the answers with and without them.
    pub grouping: bool,
    classes: Classes,
    /// Each member's class signature (same order as `domain`), `None` for a member without.
    signatures: Vec<Option<u32>>,
    /// A class's answer: its first member's.
    class_answers: Mutex<HashMap<ClassKey, Cached>>,
    /// How many answers were taken from a class (for the statistics and the test).
    class_hits: std::sync::atomic::AtomicUsize,
}

/// A `where` condition with its number ([`LintContext::cond_id`], which formats it: numbered
/// once per question, not once per member).
#[derive(Debug, Clone, Copy)]
struct Numbered<'c> {
    cond: Option<&'c ContextCond>,
    id: Option<u32>,
}

/// A class of members for one question: the members' signature, the key (its index), the
/// action, the condition (its number), and whether the members are in the key's account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClassKey {
    signature: u32,
    key: usize,
    action: &'static str,
    cond: Option<u32>,
    same_account: bool,
}

/// A transitive search's answer, or why it failed.
type Searched = Result<Arc<Transitive>, String>;

/// The largest principal domain on which the rules run transitive searches: beyond it each
/// search would cost more than all other rules together, so the rules skip their transitive part
/// and say so (`who-can ACTION KEY --transitive` answers a key at any size).
pub const MAX_TRANSITIVE_PRINCIPALS: usize = 100;

/// What a cached answer is the answer to: the member and the key by their index in the domain
/// and the snapshot (or by name, for one from elsewhere), the action, and the condition.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CacheKey {
    member: Named,
    action: &'static str,
    key: Named,
    /// The condition, by its number in `LintContext::conds`.
    cond: Option<u32>,
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum Named {
    At(usize),
    Other(String),
}

/// The index of `item` in `slice`, when it is one of its elements (by address).
fn index_in<T>(slice: &[T], item: &T) -> Option<usize> {
    let size = std::mem::size_of::<T>().max(1);
    let at = (item as *const T as usize).wrapping_sub(slice.as_ptr() as usize) / size;
    slice.get(at).filter(|x| std::ptr::eq(*x, item)).map(|_| at)
}

/// A `where` condition: the request does not go through an AWS service.
pub fn without_service() -> ContextCond {
    ContextCond::Not(Box::new(ContextCond::Exists(spanned("kms:ViaService"))))
}

/// A `where` condition: `key` has one of `values`.
pub fn one_of(key: &str, values: &[String]) -> ContextCond {
    ContextCond::In { key: spanned(key), values: values.iter().map(|v| spanned(v)).collect() }
}

fn spanned(s: &str) -> Spanned<String> {
    Spanned::new(s.to_string(), Span::default())
}

impl<'s> LintContext<'s> {
    pub fn new(snapshot: &'s Snapshot, config: &'s Config, timeout_ms: u32) -> LintContext<'s> {
        let prover = Prover::new(snapshot, timeout_ms, &[]);
        // A federated user (GetFederationToken) of account A can do at most what the root user
        // or an IAM user of A that creates it can do (its permissions are the caller's,
        // intersected with a session policy): the rules ask about those principals, and the
        // federated representatives add no finding of their own (SOUNDNESS.md, lint). `check`
        // keeps them in `forall principal`.
        let domain: Vec<Member> =
            prover.members().iter().filter(|&m| !matches!(m.kind, Kind::AnyFederatedUser(_))).cloned().collect();
        let (security, security_note) = if config.security_accounts.is_empty() {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for k in snapshot.keys().iter().filter(|k| k.customer_managed) {
                *counts.entry(k.account.as_str()).or_default() += 1;
            }
            // The most keys wins; on a tie, the smallest account id (BTreeMap order, max_by
            // keeps the last maximum, so compare on the reversed id).
            let best = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(a, _)| a.to_string());
            let note = best.as_ref().map(|a| {
                format!(
                    "security account inferred: {a} owns the most customer managed keys (set `security_accounts` in keyproof.toml)"
                )
            });
            (best.into_iter().collect(), note)
        } else {
            (config.security_accounts.clone(), None)
        };
        let resolved: Vec<Result<ResolvedPrincipal<'s>, String>> =
            domain.par_iter().map(|m| prover.resolve(m)).collect();
        let (mut by_account, mut service_members, mut unresolved) = (HashMap::new(), Vec::new(), Vec::new());
        for (i, r) in resolved.iter().enumerate() {
            match r {
                Err(_) => unresolved.push(i),
                Ok(p) => {
                    if matches!(p.r, PrincipalRef::Service(_)) {
                        service_members.push(i);
                    }
                    if let Some(n) = p.account_id().and_then(account_number) {
                        by_account.entry(n).or_insert_with(Vec::new).push(i);
                    }
                }
            }
        }
        let by_principal = domain.iter().enumerate().map(|(i, m)| (m.principal.clone(), i)).collect();
        let classes = Classes::new();
        let signatures = domain
            .par_iter()
            .zip(resolved.par_iter())
            .map(|(m, r)| match r {
                Ok(p) if m.kind == Kind::Snapshot => classes.signature(snapshot, p),
                _ => None,
            })
            .collect();
        let actions = actions_matching("kms:*").into_iter().map(|a| (a.name.as_str(), a)).collect();
        let admins = snapshot.keys().iter().map(|k| (k.arn.as_str(), key_admins(snapshot, config, k))).collect();
        LintContext {
            snapshot,
            config,
            prover,
            domain,
            resolved,
            by_account,
            service_members,
            unresolved,
            by_principal,
            actions,
            admins,
            security,
            security_note,
            cache: Mutex::new(HashMap::new()),
            conds: Mutex::new(HashMap::new()),
            shard: Shard::WHOLE,
            undetermined: Mutex::new(Vec::new()),
            skipped: Mutex::new(Vec::new()),
            reach: Mutex::new(HashMap::new()),
            grouping: true,
            classes,
            signatures,
            class_answers: Mutex::new(HashMap::new()),
            class_hits: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many answers were taken from a class rather than asked.
    pub fn class_hits(&self) -> usize {
        self.class_hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The number of a `where` condition.
    fn cond_id(&self, cond: Option<&ContextCond>) -> Option<u32> {
        cond.and_then(|c| {
            let text = format!("{c:?}");
            let mut conds = self.conds.lock().ok()?;
            let next = conds.len() as u32;
            Some(*conds.entry(text).or_insert(next))
        })
    }

    /// The member's class for a question, when it has one.
    fn class_of(
        &self,
        member: &Member,
        kms_action: &'static KmsAction,
        key: &Key,
        cond: Option<u32>,
    ) -> Option<ClassKey> {
        if !self.grouping {
            return None;
        }
        let signature = self.signatures[index_in(&self.domain, member)?]?;
        let at = index_in(self.snapshot.keys(), key)?;
        let view = self.classes.key_view(self.snapshot, at, key);
        let account = member.account.as_deref()?;
        if !view.blind || view.named.contains(&account_number(account)?) {
            return None;
        }
        Some(ClassKey {
            signature,
            key: at,
            action: kms_action.name.as_str(),
            cond,
            same_account: account == key.account,
        })
    }

    /// The member's answer taken from its class, when the class has one that carries over: a
    /// no, or a yes whose request, made by this member, the evaluator allows.
    fn class_answer(
        &self,
        member: &Member,
        kms_action: &'static KmsAction,
        key: &Key,
        class: &ClassKey,
    ) -> Option<Answer> {
        let known = self.class_answers.lock().ok()?.get(class).cloned()?;
        let a = match known {
            Cached::No => Answer::No,
            Cached::Unknown => return None,
            Cached::Yes { principal: Some(_), .. } => return None,
            Cached::Yes { principal: None, context, .. } => {
                let request = keyproof_model::Request {
                    principal: member.principal.clone(),
                    action: format!("kms:{}", kms_action.name),
                    key: key.arn.clone(),
                    context,
                };
                let decision = keyproof_model::decide(self.snapshot, &request).ok()?;
                // The verdict policy of the prover's `ask`: allowed, or unknown only for what
                // lies outside the snapshot (then assumed).
                let assumptions = match decision.decision {
                    keyproof_model::Verdict::Allow => Vec::new(),
                    keyproof_model::Verdict::Unknown
                        if decision.unknown.iter().all(|u| keyproof_model::context::is_outside_reason(u)) =>
                    {
                        decision
                            .unknown
                            .iter()
                            .map(|u| u.trim_start_matches(keyproof_model::context::OUTSIDE).to_string())
                            .collect()
                    }
                    _ => return None,
                };
                Answer::Yes(Box::new(Witness { member: member.clone(), request, decision, assumptions }))
            }
        };
        self.class_hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(a)
    }

    /// Keeps a class's first answer.
    fn remember_class(&self, class: ClassKey, member: &Member, a: &Answer) {
        let cached = match a {
            Answer::Yes(w) => Cached::Yes {
                principal: (w.request.principal != member.principal).then(|| w.request.principal.as_str().into()),
                context: w.request.context.clone(),
                assumptions: w.assumptions.clone(),
            },
            Answer::No => Cached::No,
            Answer::Unknown => Cached::Unknown,
        };
        if let Ok(mut c) = self.class_answers.lock() {
            c.entry(class).or_insert(cached);
        }
    }

    /// [`LintContext::answer`] through the member's class: taken from the class when it can be,
    /// else asked (and kept as the class's answer when it is the first).
    fn answer_classed(
        &self,
        rule: &str,
        member: &Member,
        resolved: &Result<ResolvedPrincipal<'s>, String>,
        kms_action: &'static KmsAction,
        key: &Key,
        cond: Numbered<'_>,
    ) -> Result<Answer, RulesError> {
        let (cond, cond_id) = (cond.cond, cond.id);
        let class = self.class_of(member, kms_action, key, cond_id);
        if let Some(c) = &class {
            if let Some(a) = self.class_answer(member, kms_action, key, c) {
                return Ok(a);
            }
        }
        let a = self.answer(rule, member, resolved, kms_action, key, cond)?;
        if let Some(c) = class {
            self.remember_class(c, member, &a);
        }
        Ok(a)
    }

    /// Asks the first member of each class among `candidates` (in their order), in parallel, so
    /// that the other members find their class's answer whatever order they are asked in.
    fn prime_classes(
        &self,
        rule: &str,
        candidates: &[usize],
        kms_action: &'static KmsAction,
        key: &Key,
        cond: Option<&ContextCond>,
    ) -> Result<(), RulesError> {
        if !self.grouping {
            return Ok(());
        }
        let cond_id = self.cond_id(cond);
        // (first member, members) of each class, in the order of the first members.
        let mut classes: HashMap<ClassKey, usize> = HashMap::new();
        let mut firsts: Vec<(usize, usize)> = Vec::new();
        for &i in candidates {
            if let Some(c) = self.class_of(&self.domain[i], kms_action, key, cond_id) {
                let at = *classes.entry(c).or_insert_with(|| {
                    firsts.push((i, 0));
                    firsts.len() - 1
                });
                firsts[at].1 += 1;
            }
        }
        // Only classes with more than one member save anything.
        let order: Vec<usize> = firsts.into_iter().filter(|(_, n)| *n > 1).map(|(i, _)| i).collect();
        order
            .par_iter()
            .map(|&i| {
                let numbered = Numbered { cond, id: cond_id };
                self.answer_classed(rule, &self.domain[i], &self.resolved[i], kms_action, key, numbered).map(|_| ())
            })
            .collect()
    }

    /// The member of the domain whose principal is `principal`.
    pub fn member(&self, principal: &str) -> Option<&Member> {
        self.by_principal.get(principal).map(|&i| &self.domain[i])
    }

    /// The KMS action `kms:<name>`.
    fn action(&self, rule: &str, name: &str) -> Result<&'static KmsAction, RulesError> {
        self.actions
            .get(name)
            .copied()
            .ok_or_else(|| RulesError::Internal { rule: rule.into(), message: format!("no action kms:{name}") })
    }

    /// The member resolved: looked up when it is a member of the domain (by address), else
    /// resolved now.
    fn resolved_of(&self, member: &Member) -> std::borrow::Cow<'_, Result<ResolvedPrincipal<'s>, String>> {
        match index_in(&self.domain, member) {
            Some(at) => std::borrow::Cow::Borrowed(&self.resolved[at]),
            None => std::borrow::Cow::Owned(self.prover.resolve(member)),
        }
    }

    /// Can `member` perform `kms:<action>` on `key` (under `cond`)? Answers are cached; an
    /// undecided question is recorded for `rule`.
    pub fn can(
        &self,
        rule: &str,
        member: &Member,
        action: &str,
        key: &Key,
        cond: Option<&ContextCond>,
    ) -> Result<Answer, RulesError> {
        let kms_action = self.action(rule, action)?;
        let resolved = self.resolved_of(member);
        // The Rust pre-filter settles most questions at once: they are neither cached nor asked.
        if let Ok(p) = &*resolved {
            if !self.prover.may_be_allowed(p, kms_action, key) {
                return Ok(Answer::No);
            }
        }
        self.can_resolved(rule, member, &resolved, kms_action, key, cond)
    }

    fn can_resolved(
        &self,
        rule: &str,
        member: &Member,
        resolved: &Result<ResolvedPrincipal<'s>, String>,
        kms_action: &'static KmsAction,
        key: &Key,
        cond: Option<&ContextCond>,
    ) -> Result<Answer, RulesError> {
        // (The caller has run the pre-filter.)
        let cond_id = self.cond_id(cond);
        let cache_key = CacheKey {
            member: index_in(&self.domain, member).map_or_else(|| Named::Other(member.principal.clone()), Named::At),
            action: kms_action.name.as_str(),
            key: index_in(self.snapshot.keys(), key).map_or_else(|| Named::Other(key.arn.clone()), Named::At),
            cond: cond_id,
        };
        if let Some(a) = self.cache.lock().ok().and_then(|c| c.get(&cache_key).cloned()) {
            match a {
                Cached::Unknown => {
                    // Record it for this rule too.
                    self.answer(rule, member, resolved, kms_action, key, cond)?;
                    return Ok(Answer::Unknown);
                }
                Cached::No => return Ok(Answer::No),
                Cached::Yes { principal, context, assumptions } => {
                    // The cache holds the request, not its trace: the evaluator decides it again.
                    let request = keyproof_model::Request {
                        principal: principal.map_or_else(|| member.principal.clone(), String::from),
                        action: format!("kms:{}", kms_action.name),
                        key: key.arn.clone(),
                        context,
                    };
                    if let Ok(decision) = keyproof_model::decide(self.snapshot, &request) {
                        return Ok(Answer::Yes(Box::new(Witness {
                            member: member.clone(),
                            request,
                            decision,
                            assumptions,
                        })));
                    }
                }
            }
        }
        let a = self.answer_classed(rule, member, resolved, kms_action, key, Numbered { cond, id: cond_id })?;
        let cached = match &a {
            Answer::Yes(w) => Cached::Yes {
                principal: (w.request.principal != member.principal).then(|| w.request.principal.as_str().into()),
                context: w.request.context.clone(),
                assumptions: w.assumptions.clone(),
            },
            Answer::No => Cached::No,
            Answer::Unknown => Cached::Unknown,
        };
        if let Ok(mut c) = self.cache.lock() {
            c.insert(cache_key, cached);
        }
        Ok(a)
    }

    fn answer(
        &self,
        rule: &str,
        member: &Member,
        resolved: &Result<ResolvedPrincipal<'s>, String>,
        kms_action: &'static KmsAction,
        key: &Key,
        cond: Option<&ContextCond>,
    ) -> Result<Answer, RulesError> {
        let action = kms_action.name.as_str();
        Ok(match self.prover.can_resolved(member, resolved, kms_action, key, cond) {
            Can::Yes(w) => Answer::Yes(w),
            Can::No => Answer::No,
            Can::Unknown(reason) => {
                if let Ok(mut u) = self.undetermined.lock() {
                    let entry = Undetermined {
                        rule: rule.to_string(),
                        key: key.arn.clone(),
                        principal: member.describe(),
                        action: format!("kms:{action}"),
                        reason,
                    };
                    if !u.contains(&entry) {
                        u.push(entry);
                    }
                }
                Answer::Unknown
            }
            Can::Internal(message) => return Err(RulesError::Internal { rule: rule.into(), message }),
        })
    }

    /// Every member of the domain (filtered by `keep`) that can or may be able to perform the
    /// action, with its answer (`Yes` or `Unknown`; the members whose answer is `No` are left
    /// out), decided in parallel. `keep` (a cheap test of the member) runs before the pre-filter.
    pub fn who(
        &self,
        rule: &str,
        action: &str,
        key: &Key,
        cond: Option<&ContextCond>,
        keep: impl Fn(&Member) -> bool + Sync,
    ) -> Result<Vec<(&Member, Answer)>, RulesError> {
        let kms_action = self.action(rule, action)?;
        let candidates: Vec<usize> = self
            .candidates(key, kms_action)
            .into_iter()
            .filter(|&i| keep(&self.domain[i]) && self.may_ask(&self.resolved[i], kms_action, key))
            .collect();
        self.prime_classes(rule, &candidates, kms_action, key, cond)?;
        let found: Result<Vec<_>, RulesError> = candidates
            .par_iter()
            .map(|&i| (&self.domain[i], &self.resolved[i]))
            .map(|(m, r)| self.can_resolved(rule, m, r, kms_action, key, cond).map(|a| (m, a)))
            .collect();
        Ok(found?.into_iter().filter(|(_, a)| !matches!(a, Answer::No)).collect())
    }

    /// Whether the member's question must be asked: the pre-filter cannot rule it out (or the
    /// member did not resolve: its answer is unknown).
    fn may_ask(&self, r: &Result<ResolvedPrincipal<'s>, String>, kms_action: &'static KmsAction, key: &Key) -> bool {
        r.as_ref().map_or(true, |p| self.prover.may_be_allowed(p, kms_action, key))
    }

    /// The members (indices into `domain`, in its order) that the key's gate for the action can
    /// admit: all of them when the key names everyone.
    fn candidates(&self, key: &Key, kms_action: &'static KmsAction) -> Vec<usize> {
        let gate = self.prover.gate(key, kms_action);
        if gate.everyone() {
            return (0..self.domain.len()).collect();
        }
        let mut v = self.unresolved.clone();
        if gate.services() {
            v.extend(&self.service_members);
        }
        for a in gate.accounts() {
            v.extend(self.by_account.get(&a).into_iter().flatten());
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    /// For each account, the first member of the domain (filtered by `keep`, in the domain's
    /// order) that can perform the action, with its answer; for an account where none can but
    /// some may (undecided), those members with `Unknown`. The accounts are decided in
    /// parallel, the members of one account in turn until one can: for rules that count
    /// accounts, the members after the first that can change nothing.
    pub fn first_per_account(
        &self,
        rule: &str,
        action: &str,
        key: &Key,
        cond: Option<&ContextCond>,
        keep: impl Fn(&Member) -> bool + Sync,
    ) -> Result<Vec<(&Member, Answer)>, RulesError> {
        let kms_action = self.action(rule, action)?;
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut group_of: HashMap<(bool, Option<&str>), usize> = HashMap::new();
        // The members the pre-filter cannot rule out (and `keep` keeps), by account.
        let asked: Vec<usize> = self
            .candidates(key, kms_action)
            .into_iter()
            .filter(|&i| keep(&self.domain[i]) && self.may_ask(&self.resolved[i], kms_action, key))
            .collect();
        for &i in &asked {
            let m = &self.domain[i];
            let at = (m.kind == Kind::AnyOtherAccount, m.account.as_deref());
            let g = *group_of.entry(at).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(i);
        }
        self.prime_classes(rule, &asked, kms_action, key, cond)?;
        // Numbered once, not per member (it is formatted to be numbered).
        let cond_id = self.cond_id(cond);
        let found: Result<Vec<Vec<(&Member, Answer)>>, RulesError> = groups
            .par_iter()
            .map(|g| {
                let mut unknown = Vec::new();
                for &i in g {
                    let (m, r) = (&self.domain[i], &self.resolved[i]);
                    // Not cached: a rule that counts accounts asks its own questions.
                    match self.answer_classed(rule, m, r, kms_action, key, Numbered { cond, id: cond_id })? {
                        Answer::Yes(w) => return Ok(vec![(m, Answer::Yes(w))]),
                        Answer::Unknown => unknown.push((m, Answer::Unknown)),
                        Answer::No => {}
                    }
                }
                Ok(unknown)
            })
            .collect();
        let mut out: Vec<(&Member, Answer)> = found?.into_iter().flatten().collect();
        out.sort_by_key(|(m, _)| index_in(&self.domain, m));
        Ok(out)
    }

    /// Records what a rule could not check for lack of input (not a question of access).
    pub fn skipped(&self, rule: &str, why: String) {
        if let Ok(mut s) = self.skipped.lock() {
            s.push((rule.to_string(), why));
        }
    }

    /// What the rules skipped, as (rule, why).
    pub fn skipped_list(&self) -> Vec<(String, String)> {
        self.skipped.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The undecided questions so far.
    pub fn undetermined(&self) -> Vec<Undetermined> {
        let mut u = self.undetermined.lock().map(|u| u.clone()).unwrap_or_default();
        u.sort();
        u
    }

    /// The keys the rules report on: every key of the snapshot, or those of `--shard I/N`.
    pub fn keys(&self) -> Vec<&'s Key> {
        self.snapshot.keys().iter().filter(|k| self.shard.has_key(&k.arn)).collect()
    }

    pub fn is_security(&self, account: &str) -> bool {
        self.security.iter().any(|a| a == account)
    }

    pub fn is_trusted(&self, account: &str) -> bool {
        self.config.trusted_accounts.iter().any(|a| a == account)
    }

    /// Whether an account is inside: in the organization, or, for a snapshot without one,
    /// collected in the snapshot.
    pub fn is_inside(&self, account: &str) -> bool {
        match &self.snapshot.org {
            Some(org) => org.contains_account(account),
            None => self.snapshot.account(account).is_some(),
        }
    }

    /// A member outside the organization (and not trusted). Service principals and "any other
    /// account" are not counted here (KP005 covers the latter).
    pub fn is_external(&self, m: &Member) -> bool {
        match (&m.kind, &m.account) {
            (Kind::Service | Kind::AnyOtherService | Kind::AnyOtherAccount, _) => false,
            (_, Some(a)) => !self.is_inside(a) && !self.is_trusted(a),
            (_, None) => false,
        }
    }

    /// The cryptographic operations a key can be used for, by its key usage.
    pub fn use_actions(&self, key: &Key) -> &'static [&'static str] {
        match key.key_usage.as_deref() {
            Some("SIGN_VERIFY") => &["Sign"],
            Some("GENERATE_VERIFY_MAC") => &["GenerateMac"],
            Some("KEY_AGREEMENT") => &["DeriveSharedSecret"],
            _ if key.key_spec.as_deref().is_some_and(|s| s != "SYMMETRIC_DEFAULT") => &["Decrypt"],
            _ => &["Decrypt", "Encrypt", "GenerateDataKey"],
        }
    }

    /// The first use action a member can perform, with its witness.
    pub fn can_use(&self, rule: &str, m: &Member, key: &Key, cond: Option<&ContextCond>) -> Result<Answer, RulesError> {
        let mut unknown = false;
        for a in self.use_actions(key) {
            match self.can(rule, m, a, key, cond)? {
                Answer::Yes(w) => return Ok(Answer::Yes(w)),
                Answer::Unknown => unknown = true,
                Answer::No => {}
            }
        }
        Ok(if unknown { Answer::Unknown } else { Answer::No })
    }

    /// The principals allowed to administer `key` (ARN patterns), and whether they were inferred.
    pub fn admins(&self, key: &Key) -> (Vec<String>, bool) {
        match self.admins.get(key.arn.as_str()) {
            Some(a) => a.clone(),
            None => key_admins(self.snapshot, self.config, key),
        }
    }

    /// Whether a principal ARN is one of the key's administrators.
    pub fn is_admin(&self, key: &Key, principal: &str) -> bool {
        let owned;
        let patterns = match self.admins.get(key.arn.as_str()) {
            Some((p, _)) => p,
            None => {
                owned = key_admins(self.snapshot, self.config, key).0;
                &owned
            }
        };
        let role_arn = session_role(principal);
        patterns.iter().any(|p| glob(p, principal, false) || role_arn.as_deref().is_some_and(|r| glob(p, r, false)))
    }

    /// The note a finding gets when it relies on inferred administrators.
    pub fn admins_note(&self, key: &Key) -> Option<String> {
        let (patterns, inferred) = self.admins(key);
        inferred.then(|| {
            format!(
                "key administrators inferred from the key policy: {} (set `key_admins` in keyproof.toml)",
                patterns.join(", ")
            )
        })
    }

    /// Who can perform `kms:<action>` on `key` directly or through a path of edges
    /// (`who-can --transitive`, at most [`DEFAULT_MAX_HOPS`] hops), searched once per action and
    /// key whichever rules ask. What the search leaves undecided (a truncated search, an
    /// undecided edge) is recorded as undetermined checks of `rule`. `None` when the domain is
    /// larger than [`MAX_TRANSITIVE_PRINCIPALS`] (recorded as skipped) or the search failed.
    pub fn transitive(&self, rule: &str, action: &str, key: &Key) -> Result<Option<Arc<Transitive>>, RulesError> {
        if self.domain.len() > MAX_TRANSITIVE_PRINCIPALS {
            let why = format!(
                "the transitive part (paths of edges): {} principals, more than {MAX_TRANSITIVE_PRINCIPALS}; use `keyproof who-can kms:ACTION KEY --transitive` on the keys that matter",
                self.domain.len()
            );
            if !self.skipped_list().iter().any(|(r, w)| r == rule && *w == why) {
                self.skipped(rule, why);
            }
            return Ok(None);
        }
        let kms_action = self.action(rule, action)?;
        let id = (kms_action.name.clone(), key.arn.clone());
        let name = format!("kms:{}", kms_action.name);
        // The lock is not held during the search (which runs in parallel itself).
        let known = self.reach.lock().ok().and_then(|m| m.get(&id).cloned());
        let answer = match known {
            Some(a) => a,
            None => {
                let a = transitive(self.snapshot, self.prover.timeout_ms, kms_action, &key.arn, DEFAULT_MAX_HOPS)
                    .map(Arc::new);
                if let Ok(mut m) = self.reach.lock() {
                    m.insert(id, a.clone());
                }
                a
            }
        };
        match answer {
            Ok(t) => {
                self.record_unknown(rule, key, &name, &t.unknown);
                Ok(Some(t))
            }
            Err(e) => {
                self.record_unknown(rule, key, &name, &[format!("the transitive search failed: {e}")]);
                Ok(None)
            }
        }
    }

    /// Records undecided parts of a transitive search as undetermined checks.
    fn record_unknown(&self, rule: &str, key: &Key, action: &str, reasons: &[String]) {
        if let Ok(mut u) = self.undetermined.lock() {
            for reason in reasons {
                let entry = Undetermined {
                    rule: rule.to_string(),
                    key: key.arn.clone(),
                    principal: "(transitive search)".to_string(),
                    action: action.to_string(),
                    reason: reason.clone(),
                };
                if !u.contains(&entry) {
                    u.push(entry);
                }
            }
        }
    }

    /// Whether a key selector (ARN, id, alias, alias ARN) names `key`.
    pub fn selects(&self, selector: &str, key: &Key) -> bool {
        self.snapshot.find_keys(selector).iter().any(|k| k.arn == key.arn)
    }
}

/// The principals allowed to administer `key` (ARN patterns): `key_admins` of keyproof.toml, or
/// inferred from the key policy (the account root and the principals of Allow statements for
/// kms:PutKeyPolicy or kms:ScheduleKeyDeletion); and whether they were inferred.
fn key_admins(snapshot: &Snapshot, config: &Config, key: &Key) -> (Vec<String>, bool) {
    if !config.key_admins.is_empty() {
        return (config.key_admins.clone(), false);
    }
    let mut out = vec![format!("arn:aws:iam::{}:root", key.account)];
    let policy = &snapshot.policy(key.policy).document;
    for s in &policy.statements {
        if s.effect.value != Effect::Allow {
            continue;
        }
        let Some(actions) = &s.action else { continue };
        let administers = ["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"]
            .iter()
            .any(|a| actions.values.iter().any(|p| action_matches(&p.value, a)) != actions.negated);
        let Some(pe) = &s.principal else { continue };
        if !administers || pe.negated {
            continue;
        }
        for e in &pe.entries {
            if e.kind == PrincipalKind::Aws {
                if let NamedPrincipal::Arn(arn) = NamedPrincipal::from_aws(&e.value.value) {
                    out.push(arn);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    (out, true)
}

/// `arn:aws:iam::A:role/R` for a session `arn:aws:sts::A:assumed-role/R/S`.
fn session_role(principal: &str) -> Option<String> {
    let rest = principal.strip_prefix("arn:aws:sts::")?;
    let (account, res) = rest.split_once(':')?;
    let role = res.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:aws:iam::{account}:role/{role}"))
}
