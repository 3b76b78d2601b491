//! The typed AST of the property language. Every element keeps its span; equality ignores
//! spans (see [`Spanned`]), so two ASTs are equal when they say the same thing.

use crate::source::{Span, Spanned};

/// Every property of one `.kp` file, in the order written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropertyFile {
    pub properties: Vec<Property>,
}

impl PropertyFile {
    /// The property with this name.
    pub fn get(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name.value == name)
    }
}

/// `property NAME { forall BINDERS: BODY }`.
#[derive(Debug, Clone)]
pub struct Property {
    pub name: Spanned<String>,
    /// The block of `#` comment lines directly above `property`, without the `#` and the one
    /// space after it, joined with `\n`.
    pub doc: Option<String>,
    /// Empty when the property has no `forall`.
    pub binders: Vec<Binder>,
    pub body: Formula,
    pub span: Span,
}

impl Property {
    /// The binder of a variable, if the property quantifies over it.
    pub fn binder(&self, var: Var) -> Option<&Binder> {
        self.binders.iter().find(|b| b.var == var)
    }
}

impl PartialEq for Property {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.doc == other.doc && self.binders == other.binders && self.body == other.body
    }
}
impl Eq for Property {}

/// The two variables a property can quantify over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Var {
    /// Every principal AWS could present: the principals of the snapshot's accounts, any
    /// principal of any other account, and service principals.
    Principal,
    /// Every key of the snapshot.
    Key,
}

impl Var {
    pub fn keyword(self) -> &'static str {
        match self {
            Var::Principal => "principal",
            Var::Key => "key",
        }
    }
}

/// `principal`, `key`, or either restricted to a set: `key in account "security"`.
#[derive(Debug, Clone)]
pub struct Binder {
    pub var: Var,
    /// `None` for the whole domain of the variable.
    pub domain: Option<SetExpr>,
    pub span: Span,
}

impl PartialEq for Binder {
    fn eq(&self, other: &Self) -> bool {
        self.var == other.var && self.domain == other.domain
    }
}
impl Eq for Binder {}

/// A set of principals or keys, named by where they live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetExpr {
    /// `ou "Root/Workloads/Prod"` (a path of names from the root) or `ou "ou-ab12-34cd56ef"`;
    /// the accounts under the OU, at any depth.
    Ou(Spanned<String>),
    /// `account "security"`: an account name or a 12-digit account id.
    Account(Spanned<String>),
    /// `org`: the accounts of the organization.
    Org,
    /// `region "eu-west-1"` (keys only).
    Region(Spanned<String>),
}

/// The principal of a `can`.
#[derive(Debug, Clone)]
pub enum PrincipalTerm {
    /// The bound variable `principal`; the span of the keyword.
    Var(Span),
    /// A principal named by a string: an ARN, an account id or a service principal
    /// (`"s3.amazonaws.com"`).
    Literal(Spanned<String>),
}

impl PartialEq for PrincipalTerm {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (PrincipalTerm::Var(_), PrincipalTerm::Var(_)) => true,
            (PrincipalTerm::Literal(a), PrincipalTerm::Literal(b)) => a == b,
            _ => false,
        }
    }
}
impl Eq for PrincipalTerm {}

/// The key of a `can`.
#[derive(Debug, Clone)]
pub enum KeyTerm {
    /// The bound variable `key`; the span of the keyword.
    Var(Span),
    /// `key "..."`: an alias (`alias/s3-prod-key`), alias ARN, key id, key ARN or `mrk-` id.
    Literal(Spanned<String>),
}

impl PartialEq for KeyTerm {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (KeyTerm::Var(_), KeyTerm::Var(_)) => true,
            (KeyTerm::Literal(a), KeyTerm::Literal(b)) => a == b,
            _ => false,
        }
    }
}
impl Eq for KeyTerm {}

/// The body of a property. The last `Span` of a test covers the whole test.
#[derive(Debug, Clone)]
pub enum Formula {
    /// `can(P, A, K)`: some request context exists under which the request is allowed;
    /// `can(P, A, K) where C`: some request context satisfying `C`. An action pattern
    /// (`kms:Generate*`) means some matching action.
    Can {
        principal: PrincipalTerm,
        /// `kms:` followed by an action name or a pattern with `*` and `?`.
        action: Spanned<String>,
        key: KeyTerm,
        context: Option<ContextCond>,
        span: Span,
    },
    /// `can_reach(P, A, K)`: `P` can perform `A` on `K` directly or after a path of edges
    /// (assuming roles, creating a grant, rewriting the key policy, writing IAM policies), each
    /// edge decided by the evaluator; see `solver::transitive`.
    CanReach {
        principal: PrincipalTerm,
        action: Spanned<String>,
        key: KeyTerm,
        span: Span,
    },
    /// `principal in ou "..."`, `principal in account "..."`, `principal in org`.
    PrincipalIn(SetExpr, Span),
    /// `principal == "arn:..."`; `true` for `!=`.
    PrincipalEq(Spanned<String>, bool, Span),
    /// `principal like "arn:aws:iam::*:role/Admin*"` (glob with `*` and `?`).
    PrincipalLike(Spanned<String>, Span),
    /// `key in account "..."`, `key in region "..."`, `key in ou "..."`, `key in org`.
    KeyIn(SetExpr, Span),
    /// `key == "alias/..."`; `true` for `!=`.
    KeyEq(Spanned<String>, bool, Span),
    /// `true`, `false`.
    Bool(bool),
    Not(Box<Formula>),
    And(Box<Formula>, Box<Formula>),
    Or(Box<Formula>, Box<Formula>),
    Implies(Box<Formula>, Box<Formula>),
}

impl PartialEq for Formula {
    fn eq(&self, other: &Self) -> bool {
        use Formula as F;
        match (self, other) {
            (
                F::Can { principal: p1, action: a1, key: k1, context: c1, .. },
                F::Can { principal: p2, action: a2, key: k2, context: c2, .. },
            ) => p1 == p2 && a1 == a2 && k1 == k2 && c1 == c2,
            (
                F::CanReach { principal: p1, action: a1, key: k1, .. },
                F::CanReach { principal: p2, action: a2, key: k2, .. },
            ) => p1 == p2 && a1 == a2 && k1 == k2,
            (F::PrincipalIn(a, _), F::PrincipalIn(b, _)) | (F::KeyIn(a, _), F::KeyIn(b, _)) => a == b,
            (F::PrincipalEq(a, na, _), F::PrincipalEq(b, nb, _)) | (F::KeyEq(a, na, _), F::KeyEq(b, nb, _)) => {
                a == b && na == nb
            }
            (F::PrincipalLike(a, _), F::PrincipalLike(b, _)) => a == b,
            (F::Bool(a), F::Bool(b)) => a == b,
            (F::Not(a), F::Not(b)) => a == b,
            (F::And(a1, b1), F::And(a2, b2))
            | (F::Or(a1, b1), F::Or(a2, b2))
            | (F::Implies(a1, b1), F::Implies(a2, b2)) => a1 == a2 && b1 == b2,
            _ => false,
        }
    }
}
impl Eq for Formula {}

/// A condition on the request context, after `where`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextCond {
    /// `context "k" == "v"`; `negated` for `!=`.
    Eq {
        key: Spanned<String>,
        value: Spanned<String>,
        negated: bool,
    },
    /// `context "k" like "s3.*.amazonaws.com"` (glob with `*` and `?`).
    Like {
        key: Spanned<String>,
        pattern: Spanned<String>,
    },
    /// `context "k" in ["a", "b"]`.
    In {
        key: Spanned<String>,
        values: Vec<Spanned<String>>,
    },
    /// `context "aws:SourceIp" in cidr "10.0.0.0/8"`.
    InCidr {
        key: Spanned<String>,
        cidr: Spanned<String>,
    },
    /// `context "k" exists`.
    Exists(Spanned<String>),
    Not(Box<ContextCond>),
    And(Box<ContextCond>, Box<ContextCond>),
    Or(Box<ContextCond>, Box<ContextCond>),
}
