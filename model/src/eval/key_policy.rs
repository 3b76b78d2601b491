//! The key policy (KDG key-policies, key-policy-default, key-policy-modifying-external-accounts).
//!
//! - Same account: a statement naming the principal (its ARN, or `"*"`) allows it with no IAM
//!   policy; a statement naming the account delegates to the account's IAM policies, so the
//!   principal's identity policy (within its boundary) must allow too. The root user needs none.
//! - Another account: whatever the statement names, the caller's own IAM policies must also
//!   allow, and only the operations that work across accounts can be allowed at all.
//! - A same-account statement naming a role ARN is limited by the role's permissions boundary
//!   (IAM access_policies_boundaries, "Resource-based policies"); one naming a user or a session
//!   ARN is not.
//!
//! Counterpart: `solver/src/encode/key_policy.rs`.

use super::identity::IdentitySide;
use super::statement::{applies, not_principal_applies, principal_matches, MatchKind};
use super::{Layer, Outcome, Subject, Trace};
use crate::principal::PrincipalRef;
use crate::reference::CROSS_ACCOUNT_ACTIONS;
use crate::tri::Tri;
use keyproof_parser::policy::Effect;

/// Whether the action can be allowed to a principal of another account.
pub fn works_cross_account(action: &str) -> bool {
    CROSS_ACCOUNT_ACTIONS.contains(&action)
}

/// What an allowing statement that matched the principal in this way grants it.
pub fn allow_through(kind: MatchKind, s: &Subject<'_>, identity: &IdentitySide) -> Tri {
    let p = s.principal;
    match &p.r {
        PrincipalRef::Anonymous => return Tri::False,
        PrincipalRef::Service(_) => return Tri::from_bool(matches!(kind, MatchKind::Everyone | MatchKind::Service)),
        _ => {}
    }
    if s.same_account() {
        match kind {
            MatchKind::Everyone | MatchKind::Exact | MatchKind::Service => Tri::True,
            MatchKind::RoleArn => identity.boundary_allow,
            MatchKind::Account => identity.allows(),
        }
    } else if s.action.service != "kms"
        || works_cross_account(s.action.name.as_str())
        || s.knockout == Some(super::Knockout::CrossAccountLimit)
    {
        identity.allows()
    } else {
        Tri::False
    }
}

/// The key policy: (deny, allow).
pub fn key_policy_layer(s: &Subject<'_>, identity: &IdentitySide, trace: &mut Trace<'_>) -> (Tri, Tri) {
    let named = s.snapshot.policy(s.key.policy);
    let vars = named.document.variables_enabled();
    let mut deny = Tri::False;
    let mut allow = Tri::False;
    for stmt in &named.document.statements {
        let Some(pe) = &stmt.principal else { continue };
        let mut reasons = Vec::new();
        let a = applies(stmt, vars, s, &mut reasons);
        if a.is_false() {
            continue;
        }
        let matches: Vec<(Tri, MatchKind)> = if pe.negated {
            vec![(not_principal_applies(pe, stmt.effect.value, s), MatchKind::Everyone)]
        } else {
            principal_matches(pe, s)
        };
        let who = Tri::any(matches.iter().map(|(t, _)| *t));
        if who.is_false() {
            continue;
        }
        trace.unknown(reasons);
        match stmt.effect.value {
            Effect::Deny => {
                let d = a.and(who);
                deny = deny.or(d);
                let outcome = if d.is_true() { Outcome::Denies } else { Outcome::MayDeny };
                trace.push(
                    Layer::KeyPolicy,
                    outcome,
                    Some(named.label.clone()),
                    Some(stmt.label()),
                    Some(stmt.span),
                    "Deny statement matches",
                );
            }
            Effect::Allow => {
                let through = Tri::any(matches.iter().map(|(t, kind)| t.and(allow_through(*kind, s, identity))));
                let contribution = a.and(through);
                allow = allow.or(contribution);
                let cross = !s.same_account() && !matches!(s.principal.r, PrincipalRef::Service(_));
                let (outcome, detail) = if cross && !works_cross_account(&s.action.name) {
                    (Outcome::Ineffective, format!("kms:{} does not work across accounts; this allow has no effect for a principal of another account", s.action.name))
                } else if contribution.is_true() {
                    (Outcome::Allows, describe(&matches, s))
                } else if contribution == Tri::Unknown && identity.allows() == Tri::Unknown {
                    (
                        Outcome::MayAllow,
                        "matches, and also needs an Allow in the caller's own IAM policies, which the snapshot does not hold".to_string(),
                    )
                } else if contribution.is_false() {
                    (Outcome::Ineffective, needs_identity(&matches, s))
                } else {
                    (Outcome::MayAllow, describe(&matches, s))
                };
                trace.push(
                    Layer::KeyPolicy,
                    outcome,
                    Some(named.label.clone()),
                    Some(stmt.label()),
                    Some(stmt.span),
                    detail,
                );
                // Whether this allow went through the principal's IAM side (delegation to the
                // account, cross-account use, or a role's boundary).
                let direct = Tri::any(matches.iter().map(|(t, kind)| {
                    let plain = matches!(kind, MatchKind::Everyone | MatchKind::Exact | MatchKind::Service)
                        && (s.same_account() || matches!(s.principal.r, PrincipalRef::Service(_)));
                    let root = matches!(s.principal.r, PrincipalRef::Root { .. }) && s.same_account();
                    t.and(Tri::from_bool(plain || root))
                }));
                if let Some(last) = trace.entries.last_mut() {
                    last.uses_identity = !direct.is_true();
                }
            }
        }
    }
    (deny, allow)
}

fn describe(matches: &[(Tri, MatchKind)], s: &Subject<'_>) -> String {
    let kinds: Vec<MatchKind> = matches.iter().map(|(_, k)| *k).collect();
    if !s.same_account() && !matches!(s.principal.r, PrincipalRef::Service(_)) {
        return "allows the principal's account; cross-account access also needs the caller's own IAM policy, which allows".into();
    }
    if kinds.contains(&MatchKind::Exact) || kinds.contains(&MatchKind::RoleArn) {
        "names the principal: allowed without any IAM policy".into()
    } else if kinds.contains(&MatchKind::Everyone) {
        "allows every principal (\"*\")".into()
    } else if kinds.contains(&MatchKind::Service) {
        "names the service principal".into()
    } else {
        "delegates to the account's IAM policies, which allow".into()
    }
}

fn needs_identity(matches: &[(Tri, MatchKind)], s: &Subject<'_>) -> String {
    if !s.same_account() {
        return "matches, but cross-account access also needs an Allow in the caller's own IAM policies (within its boundary), and there is none".into();
    }
    if matches.iter().any(|(_, k)| *k == MatchKind::RoleArn) {
        return "names the role, but the role's permissions boundary does not allow this action".into();
    }
    "delegates to the account's IAM policies, but none of the principal's identity policies (within its boundary) allows".into()
}
