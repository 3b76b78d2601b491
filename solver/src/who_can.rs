//! `keyproof who-can ACTION KEY`: every principal that can perform the action on the key, each
//! with a replayed example request, the context it needs, and the statements or grants that let
//! it through; the accounts outside the snapshot that the key is delegated to; and whether the
//! key is open to any AWS principal.

use crate::domain::{Kind, Member};
use crate::query::{Can, Prover, Witness};
use keyproof_model::eval::Cited;
use keyproof_model::reference::KmsAction;
use keyproof_model::snapshot::Key;
use keyproof_parser::property::ContextCond;
use keyproof_parser::{Span, Spanned};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Allowed {
    /// The principal (for "any principal of account A", a witness name).
    pub principal: String,
    pub account: Option<String>,
    /// `snapshot`, `outside` (named, in an account that was not collected), `account` (any
    /// principal of an account outside the snapshot), `any-account`, `service`.
    pub kind: &'static str,
    pub description: String,
    /// The statements and grants that allow the example request.
    pub via: Vec<Cited>,
    /// What the request context must hold.
    pub conditions: Vec<Condition>,
    /// The example request's context.
    pub example_context: std::collections::BTreeMap<String, Vec<String>>,
    /// What must hold outside the snapshot.
    pub assumptions: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WhoCan {
    pub key: String,
    pub action: String,
    pub principals: Vec<Allowed>,
    /// Accounts outside the snapshot whose principals can be allowed by their own IAM.
    pub accounts: Vec<String>,
    /// Any AWS principal (of any account) can be allowed.
    pub public: bool,
    /// Questions the solver could not decide, with the reason.
    pub unknown: Vec<String>,
}

pub fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::Snapshot => "snapshot",
        Kind::NamedOutside => "outside",
        Kind::AnyOf(_) => "account",
        Kind::AnyOtherAccount => "any-account",
        Kind::AnyFederatedUser(_) => "federated-user",
        Kind::Service | Kind::AnyOtherService => "service",
    }
}

/// What the request context must hold for a principal to be allowed: `key` must equal one of
/// `values` (`requires: "equals"`), or be present (`"present"`, `values` then being examples).
/// `text` is the condition in prose, as the text output says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub key: String,
    pub requires: &'static str,
    pub values: Vec<String>,
    pub text: String,
}

impl Condition {
    /// `key` must be one of `values`.
    pub fn equals(key: &str, values: &[String]) -> Condition {
        Condition {
            key: key.to_string(),
            requires: "equals",
            values: values.to_vec(),
            text: format!("only with {key} = {}", values.join(", ")),
        }
    }

    /// `key` must be present; `examples` are values that work.
    pub fn present(key: &str, examples: &[String]) -> Condition {
        Condition {
            key: key.to_string(),
            requires: "present",
            values: examples.to_vec(),
            text: format!("only with {key} present (e.g. {})", examples.join(", ")),
        }
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn cond(k: &str) -> Spanned<String> {
    Spanned::new(k.to_string(), Span::default())
}

/// What the context must hold for the member to be allowed: a key that must be present, a
/// value that is forced.
pub fn conditions(prover: &Prover<'_>, w: &Witness, action: &'static KmsAction, key: &Key) -> Vec<Condition> {
    let mut out = Vec::new();
    for (k, values) in &w.request.context {
        let without = ContextCond::Not(Box::new(ContextCond::Exists(cond(k))));
        if !matches!(prover.can_at_all(&w.member, action, key, Some(&without)), Can::No) {
            continue;
        }
        if let [one] = values.as_slice() {
            let other = ContextCond::Eq { key: cond(k), value: cond(one), negated: true };
            if matches!(prover.can_at_all(&w.member, action, key, Some(&other)), Can::No) {
                out.push(Condition::equals(k, std::slice::from_ref(one)));
                continue;
            }
        }
        out.push(Condition::present(k, values));
    }
    out
}

/// The statements and grants that allow the example request ([`Decision::because`], as every
/// report cites them), with their locations.
///
/// [`Decision::because`]: keyproof_model::eval::Decision::because
pub fn via(w: &Witness) -> Vec<Cited> {
    w.decision.because().into_iter().map(|t| t.cite()).collect()
}

/// Answers who can perform `action` on `key`.
pub fn who_can(
    prover: &Prover<'_>,
    domain: &[Member],
    action: &'static KmsAction,
    key: &Key,
) -> Result<WhoCan, String> {
    // Each allowed member's conditions are more questions: they are asked on the same worker.
    let answers: Vec<(&Member, Can, Vec<Condition>)> = domain
        .par_iter()
        .map(|m| {
            let a = prover.can(m, action, key, None);
            let needs = match &a {
                Can::Yes(w) => conditions(prover, w, action, key),
                _ => Vec::new(),
            };
            (m, a, needs)
        })
        .collect();
    let mut out = WhoCan {
        key: key.arn.clone(),
        action: format!("kms:{}", action.name),
        principals: Vec::new(),
        accounts: Vec::new(),
        public: false,
        unknown: Vec::new(),
    };
    for (m, a, needs) in answers {
        match a {
            Can::Yes(w) => {
                match &m.kind {
                    Kind::AnyOf(acct) => out.accounts.push(acct.clone()),
                    Kind::AnyOtherAccount => out.public = true,
                    Kind::AnyFederatedUser(a) if a == crate::domain::OTHER_ACCOUNT => out.public = true,
                    _ => {}
                }
                out.principals.push(Allowed {
                    principal: if m.is_representative() { w.request.principal.clone() } else { m.principal.clone() },
                    account: m.account.clone().filter(|a| a != crate::domain::OTHER_ACCOUNT),
                    kind: kind_name(&m.kind),
                    description: m.describe(),
                    via: via(&w),
                    conditions: needs,
                    example_context: w.request.context.clone(),
                    assumptions: w.assumptions.clone(),
                });
            }
            Can::No => {}
            Can::Unknown(why) => out.unknown.push(format!("{}: {why}", m.describe())),
            Can::Internal(why) => return Err(why),
        }
    }
    Ok(out)
}

/// What kind of principal a member is, for `who-can --kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A role (any session of it) or a named role session.
    Role,
    User,
    /// An account's root user.
    Root,
    /// An AWS service principal.
    Service,
    /// "Any principal of account A" (an account outside the snapshot) or of any other account.
    Account,
    /// A federated-user session (GetFederationToken), named or any.
    FederatedUser,
}

impl PrincipalKind {
    /// The member's kind; `None` for an anonymous request.
    pub fn of(m: &Member) -> Option<PrincipalKind> {
        use keyproof_model::principal::PrincipalRef as R;
        match &m.kind {
            Kind::Service | Kind::AnyOtherService => return Some(PrincipalKind::Service),
            Kind::AnyOf(_) | Kind::AnyOtherAccount => return Some(PrincipalKind::Account),
            Kind::AnyFederatedUser(_) => return Some(PrincipalKind::FederatedUser),
            Kind::Snapshot | Kind::NamedOutside => {}
        }
        match R::parse(&m.principal).ok()? {
            R::Root { .. } => Some(PrincipalKind::Root),
            R::User { .. } => Some(PrincipalKind::User),
            R::Role { .. } | R::Session { .. } => Some(PrincipalKind::Role),
            R::FederatedUser { .. } => Some(PrincipalKind::FederatedUser),
            R::Service(_) => Some(PrincipalKind::Service),
            R::Anonymous => None,
        }
    }
}

/// Which reported principals to keep: the question asked is the same, only the answer is
/// filtered. Every field set must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The principal's account (an account id).
    pub account: Option<String>,
    /// An OU (or the root): the principal's account is in it or below it.
    pub ou: Option<petgraph::graph::NodeIndex>,
    pub kind: Option<PrincipalKind>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.account.is_none() && self.ou.is_none() && self.kind.is_none()
    }

    /// Whether the member is kept. Service principals and "any other account" belong to no
    /// account and to no OU of the organization.
    pub fn admits(&self, snapshot: &keyproof_model::Snapshot, m: &Member) -> bool {
        let account = m.account.as_deref().filter(|a| *a != crate::domain::OTHER_ACCOUNT);
        if let Some(want) = &self.account {
            if account != Some(want.as_str()) {
                return false;
            }
        }
        if let Some(ou) = self.ou {
            let Some(org) = &snapshot.org else { return false };
            if !account.and_then(|a| org.node(a)).is_some_and(|n| org.is_under(n, ou)) {
                return false;
            }
        }
        self.kind.is_none_or(|k| PrincipalKind::of(m) == Some(k))
    }
}

/// [`who_can`] with the reported principals (and the undecided questions and delegated
/// accounts) filtered. `public` stays the key's answer: it says whether any AWS principal,
/// whichever the filter, can be allowed.
pub fn who_can_filtered(
    prover: &Prover<'_>,
    domain: &[Member],
    action: &'static KmsAction,
    key: &Key,
    filter: &Filter,
) -> Result<WhoCan, String> {
    if filter.is_empty() {
        return who_can(prover, domain, action, key);
    }
    // Asking only the admitted members gives the same answer for each of them (every member is
    // its own question); the representatives of "any other account" are asked for `public`.
    let public_side = |m: &Member| {
        matches!(&m.kind, Kind::AnyOtherAccount)
            || matches!(&m.kind, Kind::AnyFederatedUser(a) if a == crate::domain::OTHER_ACCOUNT)
    };
    let asked: Vec<Member> =
        domain.iter().filter(|m| filter.admits(prover.snapshot, m) || public_side(m)).cloned().collect();
    let mut out = who_can(prover, &asked, action, key)?;
    let kept: Vec<&Member> = asked.iter().filter(|m| filter.admits(prover.snapshot, m)).collect();
    let descriptions: std::collections::BTreeSet<String> = kept.iter().map(|m| m.describe()).collect();
    out.principals.retain(|p| descriptions.contains(&p.description));
    out.unknown.retain(|u| descriptions.iter().any(|d| u.starts_with(&format!("{d}: "))));
    out.accounts.retain(|a| kept.iter().any(|m| matches!(&m.kind, Kind::AnyOf(x) if x == a)));
    Ok(out)
}

/// `who-can PATTERN KEY`: one answer per action on keys the pattern covers.
pub fn who_can_each(
    prover: &Prover<'_>,
    domain: &[Member],
    actions: &[&'static KmsAction],
    key: &Key,
    filter: &Filter,
) -> Result<Vec<WhoCan>, String> {
    actions.iter().map(|a| who_can_filtered(prover, domain, a, key, filter)).collect()
}
