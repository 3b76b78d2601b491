//! The symbolic request context: what the snapshot fixes (keys that follow from the principal or
//! the key) comes from the model's concrete [`Context`]; every key the request itself carries
//! becomes variables, created when a condition first asks for it.
//!
//! Counterpart: `model/src/context.rs` (`Context::lookup`).

use crate::term::{and, in_re, not, or, str_eq, Re, Sort, Str, Term, VarId, VarRole, Vars};
use keyproof_model::context::{Context, Entry};
use keyproof_model::reference::{KeyClass, KeySource, KeyType, Reference};
use keyproof_model::snapshot::Snapshot;
use std::collections::{BTreeMap, HashMap};

const EC_PREFIX: &str = "kms:encryptioncontext:";

/// Facts about the whole snapshot that size the symbolic context: how many values a multivalued
/// key may need, and which encryption-context keys policies and grants name.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    /// Lower-case key → number of conditions on it.
    conditions: HashMap<String, usize>,
    /// Encryption context keys named anywhere: lower case → first spelling.
    pub ec_names: BTreeMap<String, String>,
    /// Some condition compares the principal's account id (`aws:PrincipalAccount`,
    /// `kms:CallerAccount`, the account field of `aws:PrincipalArn`) with a partial wildcard
    /// (`1111*`): the stand-in account id of "any other account" cannot then stand for every
    /// account id, so those keys become free choices for it (`query::represent`).
    pub account_patterns: bool,
}

/// Whether a condition value on a principal-account key is a pattern that some account ids
/// match and others do not.
fn partial_account_pattern(key: &str, value: &str) -> bool {
    let partial = |t: &str| t != "*" && t.contains(['*', '?']);
    match key {
        "aws:principalaccount" | "kms:calleraccount" => partial(value),
        "aws:principalarn" => value.split(':').nth(4).is_some_and(partial),
        _ => false,
    }
}

impl Bounds {
    pub fn of(snapshot: &Snapshot) -> Bounds {
        let mut b = Bounds::default();
        let mut docs: Vec<&keyproof_parser::policy::Policy> = snapshot.policies.iter().map(|p| &p.document).collect();
        if let Some(org) = &snapshot.org {
            docs.extend(org.policies.values().map(|p| &p.document));
        }
        for d in docs {
            for s in &d.statements {
                for c in &s.conditions {
                    let k = c.key.value.to_lowercase();
                    if c.values.iter().any(|v| partial_account_pattern(&k, &v.value)) {
                        b.account_patterns = true;
                    }
                    *b.conditions.entry(k.clone()).or_default() += 1;
                    if let Some(name) = c.key.value.get(EC_PREFIX.len()..) {
                        if k.starts_with(EC_PREFIX) {
                            b.ec_names.entry(name.to_lowercase()).or_insert_with(|| name.to_string());
                        }
                    }
                }
            }
        }
        for k in &snapshot.keys {
            for g in &k.grants {
                for (name, _) in g.context_equals.iter().chain(g.context_subset.iter()).flatten() {
                    b.ec_names.entry(name.to_lowercase()).or_insert_with(|| name.clone());
                }
            }
        }
        b
    }

    /// How many values to allow for a multivalued key: one more than the conditions on it, so
    /// that every `ForAnyValue` can be met by a value of its own, and at least two.
    pub fn slots(&self, key: &str) -> usize {
        (self.conditions.get(&key.to_lowercase()).copied().unwrap_or(0) + 1).max(2)
    }

    /// The bounds of two snapshots at once (`keyproof diff` encodes both over one context):
    /// the larger slot count of every key, and every encryption context key either names.
    pub fn merge(&mut self, other: &Bounds) {
        for (k, n) in &other.conditions {
            let mine = self.conditions.entry(k.clone()).or_default();
            *mine = (*mine).max(*n);
        }
        for (k, v) in &other.ec_names {
            self.ec_names.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.account_patterns |= other.account_patterns;
    }
}

/// A symbolic value of a context key.
#[derive(Debug, Clone)]
pub enum SymVal {
    Str(Str),
    Real(VarId),
    /// An instant, in milliseconds (whole seconds).
    Date(VarId),
    Ip {
        is6: VarId,
        v4: VarId,
        v6: VarId,
    },
}

/// What a condition sees of a key.
#[derive(Debug, Clone)]
pub enum Sym {
    Absent,
    Values(Vec<String>),
    /// Unknown to the snapshot (the reason says why): the condition becomes a free choice.
    Unknown(String),
    /// One of several concrete possibilities, chosen by a selector variable per key.
    OneOf(Vec<Option<Vec<String>>>, VarId),
    /// A single-valued request key.
    Single {
        present: Term,
        value: SymVal,
        kind: KeyType,
    },
    /// A multivalued request key: slots, each present or not.
    Multi {
        slots: Vec<(Term, SymVal)>,
        kind: KeyType,
    },
    /// A boolean key whose value is a term (`aws:ViaAWSService`).
    BoolTerm(Term),
}

#[derive(Debug, Clone)]
struct SymKey {
    /// The key as first written (for the counterexample).
    name: String,
    sym: Sym,
}

/// The symbolic context of one `can` question.
pub struct SymContext<'c> {
    pub base: &'c Context,
    pub bounds: &'c Bounds,
    pub vars: Vars,
    keys: HashMap<String, SymKey>,
    /// Side conditions: value domains (booleans are "true"/"false", dates whole seconds), the
    /// keys AWS always sends.
    pub side: Vec<Term>,
    /// Reasons behind every free choice made for something the snapshot does not hold.
    pub unknowns: Vec<String>,
    /// The values the request must have (differential tests); `None` = free.
    pub fixed: Option<&'c BTreeMap<String, Vec<String>>>,
    /// Keys whose value the prover fixes differently from the model's context: the name of a
    /// representative principal ("any principal of account A") is a variable.
    pub overrides: HashMap<String, Sym>,
    /// The principal is a role session that may carry session tags: `aws:PrincipalTag/…` is the
    /// role's tag or whatever the session sets.
    pub session_tags: bool,
    /// Free choices that stand for one fact of the world outside the snapshot, by a name of that
    /// fact (see [`SymContext::unknown_fact`]): two encodings over this context (`keyproof
    /// diff`'s after and before) see the same variable for the same fact.
    facts: HashMap<String, VarId>,
    /// How the request spells each named encryption context key (lower case → variable):
    /// `kms:EncryptionContext:<key>` matches any spelling, `kms:EncryptionContextKeys` carries
    /// the request's own (KMS API GrantConstraints; KDG conditions-kms).
    spellings: HashMap<String, VarId>,
}

/// How a counterexample's context is read back.
#[derive(Debug, Clone)]
pub struct KeyVars {
    pub name: String,
    pub slots: Vec<(Term, SymVal)>,
}

impl<'c> SymContext<'c> {
    pub fn new(base: &'c Context, bounds: &'c Bounds) -> Self {
        SymContext {
            base,
            bounds,
            vars: Vars::default(),
            keys: HashMap::new(),
            side: Vec::new(),
            unknowns: Vec::new(),
            fixed: None,
            overrides: HashMap::new(),
            session_tags: false,
            facts: HashMap::new(),
            spellings: HashMap::new(),
        }
    }

    /// A free boolean for one named fact outside the snapshot (the IAM side of a principal
    /// whose account was not collected): the same fact gets the same variable, so that two
    /// encodings over this context cannot disagree about the world outside the snapshot.
    pub fn unknown_fact(&mut self, fact: &str, why: impl Into<String>) -> Term {
        let why = why.into();
        if !self.unknowns.contains(&why) {
            self.unknowns.push(why.clone());
        }
        if let Some(v) = self.facts.get(fact) {
            return Term::Var(*v);
        }
        let v = self.vars.fresh(Sort::Bool, VarRole::Unknown(why));
        self.facts.insert(fact.to_string(), v);
        Term::Var(v)
    }

    /// A free boolean for something unknown, with its reason recorded.
    pub fn unknown(&mut self, why: impl Into<String>) -> Term {
        let why = why.into();
        if !self.unknowns.contains(&why) {
            self.unknowns.push(why.clone());
        }
        Term::Var(self.vars.fresh(Sort::Bool, VarRole::Unknown(why)))
    }

    /// The request keys that have variables, with their slots.
    pub fn request_keys(&self) -> Vec<KeyVars> {
        let mut out: Vec<KeyVars> = self
            .keys
            .values()
            .filter_map(|k| match &k.sym {
                Sym::Single { present, value, .. } => {
                    Some(KeyVars { name: k.name.clone(), slots: vec![(present.clone(), value.clone())] })
                }
                Sym::Multi { slots, .. } => Some(KeyVars { name: k.name.clone(), slots: slots.clone() }),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn value_var(&mut self, key: &str, slot: usize, kind: KeyType) -> SymVal {
        let role = VarRole::Value { key: key.to_string(), slot };
        match kind {
            KeyType::Numeric => SymVal::Real(self.vars.fresh(Sort::Real, role)),
            // Dates are whole seconds, in seconds: a counterexample prints them as epoch seconds,
            // which both the Date and the Numeric operators read.
            KeyType::Date => SymVal::Date(self.vars.fresh(Sort::Int, role)),
            KeyType::Ip => {
                let is6 = self.vars.fresh(Sort::Bool, VarRole::IsIp6 { key: key.to_string(), slot });
                let v4 = self.vars.fresh(Sort::Ip4, role.clone());
                let v6 = self.vars.fresh(Sort::Ip6, role);
                SymVal::Ip { is6, v4, v6 }
            }
            KeyType::Bool => {
                let v = self.vars.fresh(Sort::Str, role);
                self.side.push(or([
                    str_eq(Str::Var(v), Str::Lit("true".into())),
                    str_eq(Str::Var(v), Str::Lit("false".into())),
                ]));
                SymVal::Str(Str::Var(v))
            }
            KeyType::String | KeyType::Arn | KeyType::Binary => SymVal::Str(Str::Var(self.vars.fresh(Sort::Str, role))),
        }
    }

    fn presence(&mut self, key: &str, slot: usize) -> Term {
        Term::Var(self.vars.fresh(Sort::Bool, VarRole::Present { key: key.to_string(), slot }))
    }

    /// A single-valued request key.
    fn single(&mut self, key: &str, kind: KeyType, always: bool) -> Sym {
        let lower = key.to_lowercase();
        if let Some(k) = self.keys.get(&lower) {
            return k.sym.clone();
        }
        let present = if always { Term::Const(true) } else { self.presence(key, 0) };
        let value = self.value_var(key, 0, kind);
        let sym = Sym::Single { present, value, kind };
        self.keys.insert(lower, SymKey { name: key.to_string(), sym: sym.clone() });
        sym
    }

    fn multi(&mut self, key: &str, kind: KeyType, always: bool) -> Sym {
        let lower = key.to_lowercase();
        if let Some(k) = self.keys.get(&lower) {
            return k.sym.clone();
        }
        let n = self.bounds.slots(key).max(self.fixed.and_then(|f| f.get(key).map(Vec::len)).unwrap_or(0));
        let mut slots = Vec::new();
        for i in 0..n {
            let p = self.presence(key, i);
            let v = self.value_var(key, i, kind);
            slots.push((p, v));
        }
        if always {
            self.side.push(slots.first().map(|(p, _)| p.clone()).unwrap_or(Term::Const(true)));
        }
        let sym = Sym::Multi { slots, kind };
        self.keys.insert(lower, SymKey { name: key.to_string(), sym: sym.clone() });
        sym
    }

    /// The request's spelling of a named encryption context key: a variable equal to the name
    /// up to case.
    pub fn spelling(&mut self, name: &str) -> Str {
        let lower = name.to_lowercase();
        if let Some(v) = self.spellings.get(&lower) {
            return Str::Var(*v);
        }
        let v = self.vars.fresh(Sort::Str, VarRole::Value { key: format!("keyproof:spelling:{name}"), slot: 0 });
        self.side.push(in_re(Str::Var(v), Re::LitNoCase(name.to_string())));
        self.spellings.insert(lower, v);
        Str::Var(v)
    }

    /// The spelling variable of a named encryption context key, if one was made.
    pub fn spelling_var(&self, name: &str) -> Option<VarId> {
        self.spellings.get(&name.to_lowercase()).copied()
    }

    /// The encryption context slot of one key name.
    fn ec_slot(&mut self, name: &str) -> Sym {
        let key = format!("kms:EncryptionContext:{name}");
        if !self.carries_encryption_context() {
            return Sym::Absent;
        }
        self.single(&key, KeyType::String, false)
    }

    /// Whether a request for this action can carry an encryption context at all (DescribeKey,
    /// Sign, GetPublicKey… never do: the model rejects such a request, and its context's
    /// `kms:EncryptionContextKeys` is empty). Mirrors `build_context`'s check of given keys.
    fn carries_encryption_context(&self) -> bool {
        !matches!(Reference::get().classify("kms:EncryptionContext:x", self.base.action()), KeyClass::NeverPresent)
    }

    /// The request's encryption context: every named key's slot, plus slots for keys no policy
    /// names (their names are variables distinct from every named key).
    pub fn encryption_context(&mut self) -> (Vec<(String, Term, Str)>, Vec<Term>) {
        let names: Vec<String> = self.bounds.ec_names.values().cloned().collect();
        let mut named = Vec::new();
        for n in names {
            if let Sym::Single { present, value: SymVal::Str(v), .. } = self.ec_slot(&n) {
                named.push((n, present, v));
            }
        }
        let others = self.other_ec_slots();
        (named, others.into_iter().map(|(p, _)| p).collect())
    }

    fn other_ec_slots(&mut self) -> Vec<(Term, Str)> {
        const KEY: &str = "keyproof:other-encryption-context-keys";
        if let Some(SymKey { sym: Sym::Multi { slots, .. }, .. }) = self.keys.get(KEY) {
            return slots
                .iter()
                .filter_map(|(p, v)| if let SymVal::Str(s) = v { Some((p.clone(), s.clone())) } else { None })
                .collect();
        }
        let n = if self.carries_encryption_context() { self.bounds.slots("kms:EncryptionContextKeys") } else { 0 };
        let lower_names: Vec<String> = self.bounds.ec_names.keys().cloned().collect();
        let mut slots = Vec::new();
        for i in 0..n {
            let p = Term::Var(self.vars.fresh(Sort::Bool, VarRole::OtherContextKey { slot: i }));
            let name = self.vars.fresh(Sort::Str, VarRole::OtherContextKeyName { slot: i });
            // A key no policy names: non-empty, and distinct from every named key
            // (case-insensitively).
            let mut dom = vec![in_re(Str::Var(name), Re::Concat(vec![Re::Any, Re::Star(Box::new(Re::Any))]))];
            for l in &lower_names {
                dom.push(not(in_re(Str::Var(name), Re::LitNoCase(l.clone()))));
            }
            self.side.push(and(dom));
            slots.push((p, SymVal::Str(Str::Var(name))));
        }
        self.keys.insert(
            KEY.to_string(),
            SymKey { name: KEY.to_string(), sym: Sym::Multi { slots: slots.clone(), kind: KeyType::String } },
        );
        slots.into_iter().filter_map(|(p, v)| if let SymVal::Str(s) = v { Some((p, s)) } else { None }).collect()
    }

    /// The value of a condition key, mirroring `Context::lookup`.
    pub fn lookup(&mut self, key: &str) -> Sym {
        let lower = key.to_lowercase();
        if let Some(s) = self.overrides.get(&lower) {
            return s.clone();
        }
        if self.session_tags && lower.starts_with("aws:principaltag/") {
            // A role tag is always there (a session tag may change its value); a key the role
            // does not have may be set by the session.
            let always = self.base.entry(key).is_some();
            return self.single(key, KeyType::String, always);
        }
        if self.base.principal_tags_unknown()
            && lower.starts_with("aws:principaltag/")
            && self.base.entry(key).is_none()
        {
            return Sym::Unknown(format!(
                "{}the tags of the principal are unknown (`{key}`)",
                keyproof_model::context::OUTSIDE
            ));
        }
        if lower == "aws:viaawsservice" {
            return match self.lookup("kms:ViaService") {
                Sym::Single { present, .. } => Sym::BoolTerm(present),
                Sym::Absent => Sym::BoolTerm(Term::Const(false)),
                _ => Sym::Unknown("`aws:ViaAWSService` follows from `kms:ViaService`".into()),
            };
        }
        if lower == "kms:encryptioncontextkeys" {
            if !self.carries_encryption_context() {
                return Sym::Absent;
            }
            let (named, _) = self.encryption_context();
            let mut slots: Vec<(Term, SymVal)> = Vec::new();
            for (n, p, _) in named {
                let spelled = self.spelling(&n);
                slots.push((p, SymVal::Str(spelled)));
            }
            for (p, s) in self.other_ec_slots() {
                slots.push((p, SymVal::Str(s)));
            }
            return Sym::Multi { slots, kind: KeyType::String };
        }
        // What the snapshot fixes (the model's context is built without request keys).
        if let Some(e) = self.base.entry(key) {
            return match e {
                Entry::Values(v) if v.is_empty() => Sym::Absent,
                Entry::Values(v) => Sym::Values(v.clone()),
                Entry::Unknown(why) => Sym::Unknown(why.clone()),
                Entry::OneOf(options, why) => {
                    let sel = match self.keys.get(&lower) {
                        Some(SymKey { sym: Sym::OneOf(_, s), .. }) => *s,
                        _ => {
                            let s = self.vars.fresh(Sort::Bool, VarRole::Unknown(why.clone()));
                            if !self.unknowns.contains(why) {
                                self.unknowns.push(why.clone());
                            }
                            self.keys.insert(
                                lower.clone(),
                                SymKey { name: key.to_string(), sym: Sym::OneOf(options.clone(), s) },
                            );
                            s
                        }
                    };
                    Sym::OneOf(options.clone(), sel)
                }
            };
        }
        let action = self.base.action();
        match Reference::get().classify(key, action) {
            KeyClass::Unknown => Sym::Unknown(format!("keyproof does not know the condition key `{key}`")),
            KeyClass::NeverPresent => Sym::Absent,
            KeyClass::Known(info) => match info.source {
                KeySource::Principal | KeySource::Resource => Sym::Absent,
                KeySource::Request | KeySource::AlwaysPresent => {
                    let always = info.source == KeySource::AlwaysPresent
                        || (lower == "kms:grantoperations" && action.name == "CreateGrant");
                    if lower.starts_with(EC_PREFIX) {
                        let name = &key[EC_PREFIX.len()..];
                        let spelled =
                            self.bounds.ec_names.get(&name.to_lowercase()).cloned().unwrap_or_else(|| name.to_string());
                        return self.ec_slot(&spelled);
                    }
                    if info.multivalued {
                        self.multi(key, info.kind, always)
                    } else {
                        self.single(key, info.kind, always)
                    }
                }
            },
        }
    }
}
