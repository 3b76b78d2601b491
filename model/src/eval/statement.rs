//! Whether a statement applies to a request: principal, action, resource and conditions.
//!
//! Counterpart: `solver/src/encode/statement.rs`.

use super::condition::eval_condition;
use super::variables::{substitute, variable_outside_resource_part, Subst};
use super::Subject;
use crate::principal::{NamedPrincipal, PrincipalRef};
use crate::tri::Tri;
use crate::wildcard::{action_matches, resource_matches};
use keyproof_parser::policy::{Effect, PrincipalElement, PrincipalKind, Statement};

/// How a `Principal` entry matched the request's principal. Key policies treat them differently
/// (KDG key-policy-default, key-policy-modifying-external-accounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// `"*"` (or an allowing `NotPrincipal`).
    Everyone,
    /// The principal's account: delegation to the account's IAM policies.
    Account,
    /// The principal by its role ARN (a session of the named role).
    RoleArn,
    /// The principal by its own ARN or unique id (user, session, federated user).
    Exact,
    /// An AWS service principal.
    Service,
}

/// Whether the statement's action, resource and conditions cover the request (the principal is
/// checked separately). A statement with no action or no resource element has no effect.
pub fn applies(stmt: &Statement, variables: bool, s: &Subject<'_>, reasons: &mut Vec<String>) -> Tri {
    let Some(resource) = &stmt.resource else {
        return Tri::False;
    };
    if !action_covers(stmt, s) {
        return Tri::False;
    }
    let res = resource_covers(&resource.values, variables, s, reasons);
    let res = if resource.negated { res.not() } else { res };
    if res.is_false() {
        return Tri::False;
    }
    conditions_hold(stmt, res, variables, s, reasons)
}

/// [`applies`] for a role's trust policy, which has no `Resource` element: the resource is the
/// role itself (IAM reference_policies_elements_resource, "trust policies").
pub fn applies_in_trust(stmt: &Statement, variables: bool, s: &Subject<'_>, reasons: &mut Vec<String>) -> Tri {
    if !action_covers(stmt, s) {
        return Tri::False;
    }
    conditions_hold(stmt, Tri::True, variables, s, reasons)
}

/// Whether the statement's `Action` (or `NotAction`) covers the request's action.
fn action_covers(stmt: &Statement, s: &Subject<'_>) -> bool {
    let Some(action) = &stmt.action else {
        return false;
    };
    let action_name = s.action.full_name();
    let any_action = action.values.iter().any(|p| action_matches(&p.value, &action_name));
    any_action != action.negated
}

fn conditions_hold(stmt: &Statement, res: Tri, variables: bool, s: &Subject<'_>, reasons: &mut Vec<String>) -> Tri {
    let mut out = res;
    if s.knockout == Some(super::Knockout::Conditions) {
        return out;
    }
    for c in &stmt.conditions {
        out = out.and(eval_condition(c, s.ctx, variables, reasons));
        if out.is_false() {
            return Tri::False;
        }
    }
    out
}

fn resource_covers(
    patterns: &[keyproof_parser::Spanned<String>],
    variables: bool,
    s: &Subject<'_>,
    reasons: &mut Vec<String>,
) -> Tri {
    Tri::any(patterns.iter().map(|p| {
        if !variables {
            return Tri::from_bool(resource_matches(&p.value, &s.key.arn));
        }
        match substitute(&p.value, s.ctx) {
            Subst::Text(t) => {
                let m = resource_matches(&t, &s.key.arn);
                match variable_outside_resource_part(&p.value) {
                    Some(why) if m => {
                        reasons.push(why);
                        Tri::Unknown
                    }
                    _ => Tri::from_bool(m),
                }
            }
            Subst::Missing => Tri::False,
            Subst::Unknown(why) => {
                reasons.push(why);
                Tri::Unknown
            }
        }
    }))
}

/// Every way the entries of a `Principal` element match the request's principal, each with how
/// sure the match is. For `NotPrincipal` see [`not_principal_applies`].
pub fn principal_matches(elem: &PrincipalElement, s: &Subject<'_>) -> Vec<(Tri, MatchKind)> {
    if s.knockout == Some(super::Knockout::PrincipalMatching) {
        return vec![(Tri::True, MatchKind::Everyone)];
    }
    let mut out = Vec::new();
    for e in &elem.entries {
        let m = entry_matches(e.kind, &e.value.value, None, s);
        if !m.0.is_false() {
            out.push(m);
        }
    }
    out
}

/// Whether one entry of a `Principal` element (its kind and value) names the request's
/// principal; `parsed` is the value already read as a [`NamedPrincipal`] (for an `AWS` entry),
/// for callers that match one element against many principals.
pub fn entry_matches(
    kind: PrincipalKind,
    value: &str,
    parsed: Option<&NamedPrincipal>,
    s: &Subject<'_>,
) -> (Tri, MatchKind) {
    match kind {
        PrincipalKind::Everyone => (Tri::True, MatchKind::Everyone),
        PrincipalKind::Service => match &s.principal.r {
            PrincipalRef::Service(name) => (Tri::from_bool(name == value), MatchKind::Service),
            _ => (Tri::False, MatchKind::Service),
        },
        PrincipalKind::Federated | PrincipalKind::CanonicalUser => (Tri::False, MatchKind::Exact),
        PrincipalKind::Aws => match parsed {
            Some(n) => named_matches(n, s),
            None => named_matches(&NamedPrincipal::from_aws(value), s),
        },
    }
}

/// Whether a principal named in a policy or a grant is the request's principal.
pub fn named_matches(named: &NamedPrincipal, s: &Subject<'_>) -> (Tri, MatchKind) {
    let p = s.principal;
    match named {
        NamedPrincipal::Everyone => (Tri::True, MatchKind::Everyone),
        NamedPrincipal::Account(a) => (Tri::from_bool(p.account_id() == Some(a.as_str())), MatchKind::Account),
        NamedPrincipal::UniqueId(id) => {
            let own = p.unique_id().is_some_and(|u| u == id);
            (Tri::from_bool(own), if p.role.is_some() { MatchKind::RoleArn } else { MatchKind::Exact })
        }
        NamedPrincipal::Service(name) => {
            (Tri::from_bool(matches!(&p.r, PrincipalRef::Service(n) if n == name)), MatchKind::Service)
        }
        NamedPrincipal::Other(_) => (Tri::False, MatchKind::Exact),
        NamedPrincipal::Arn(arn) => match &p.r {
            PrincipalRef::Session { account, role, .. } | PrincipalRef::Role { account, name: role, .. } => {
                if matches!(p.r, PrincipalRef::Session { .. }) && *arn == p.r.arn() {
                    return (Tri::True, MatchKind::Exact);
                }
                match &p.principal_arn {
                    Some(role_arn) => (Tri::from_bool(arn == role_arn), MatchKind::RoleArn),
                    // The role is not in the snapshot and its path is unknown: a role ARN with the
                    // same account and name may or may not be it.
                    None => {
                        let same = arn.starts_with(&format!("arn:aws:iam::{account}:role/"))
                            && arn.ends_with(&format!("/{role}"));
                        (if same { Tri::Unknown } else { Tri::False }, MatchKind::RoleArn)
                    }
                }
            }
            // A federated-user session gets the permissions of resource-based policies that name
            // the IAM user that created it, within its session policy (IAM UG
            // access_policies_session); the calling user is not in the snapshot.
            PrincipalRef::FederatedUser { account, .. }
                if arn.starts_with(&format!("arn:aws:iam::{account}:user/")) =>
            {
                (Tri::Unknown, MatchKind::Exact)
            }
            _ => (
                Tri::from_bool(p.principal_arn.as_deref() == Some(arn.as_str()) || *arn == p.r.arn()),
                MatchKind::Exact,
            ),
        },
    }
}

/// `NotPrincipal`: the statement applies unless the principal is excluded, and a principal is
/// excluded only when each of its identities is listed — for a role session its session ARN, its
/// role ARN and its account (IAM reference_policies_elements_notprincipal). In a `Deny`, a
/// principal with a permissions boundary is never excluded: "NotPrincipal with Deny will always
/// deny IAM principals that have a permissions boundary policy attached, even if the IAM
/// principal is specified in the NotPrincipal element" (same page).
pub fn not_principal_applies(elem: &PrincipalElement, effect: Effect, s: &Subject<'_>) -> Tri {
    let p = s.principal;
    let listed = |named: &NamedPrincipal| -> Tri {
        Tri::any(elem.entries.iter().map(|e| {
            let entry = match e.kind {
                PrincipalKind::Aws => NamedPrincipal::from_aws(&e.value.value),
                PrincipalKind::Service => NamedPrincipal::Service(e.value.value.clone()),
                PrincipalKind::Everyone => NamedPrincipal::Everyone,
                _ => NamedPrincipal::Other(e.value.value.clone()),
            };
            if entry == NamedPrincipal::Everyone {
                return Tri::True;
            }
            Tri::from_bool(&entry == named)
        }))
    };
    let mut identities: Vec<NamedPrincipal> = Vec::new();
    let mut unnamed_session = false;
    match &p.r {
        PrincipalRef::Anonymous => {}
        PrincipalRef::Service(s) => identities.push(NamedPrincipal::Service(s.clone())),
        PrincipalRef::Root { account } => identities.push(NamedPrincipal::Account(account.clone())),
        PrincipalRef::Role { account, .. } => {
            unnamed_session = true;
            if let Some(a) = &p.principal_arn {
                identities.push(NamedPrincipal::Arn(a.clone()));
            }
            identities.push(NamedPrincipal::Account(account.clone()));
        }
        PrincipalRef::Session { account, .. } => {
            identities.push(NamedPrincipal::Arn(p.r.arn()));
            if let Some(a) = &p.principal_arn {
                identities.push(NamedPrincipal::Arn(a.clone()));
            }
            identities.push(NamedPrincipal::Account(account.clone()));
        }
        PrincipalRef::User { account, .. } | PrincipalRef::FederatedUser { account, .. } => {
            identities.push(NamedPrincipal::Arn(p.principal_arn.clone().unwrap_or_else(|| p.r.arn())));
            identities.push(NamedPrincipal::Account(account.clone()));
        }
    }
    let excluded =
        if identities.is_empty() || unnamed_session { Tri::False } else { Tri::all(identities.iter().map(listed)) };
    let excluded = if effect == Effect::Deny { excluded.and(has_boundary(p).not()) } else { excluded };
    excluded.not()
}

/// Whether the principal has a permissions boundary: unknown when its IAM side is not in the
/// snapshot (a federated user's calling user, an account that was not collected).
fn has_boundary(p: &crate::context::ResolvedPrincipal<'_>) -> Tri {
    match &p.r {
        PrincipalRef::Root { .. } | PrincipalRef::Service(_) | PrincipalRef::Anonymous => Tri::False,
        _ if !p.identity_known => Tri::Unknown,
        _ => {
            Tri::from_bool(p.role.is_some_and(|r| r.boundary.is_some()) || p.user.is_some_and(|u| u.boundary.is_some()))
        }
    }
}
