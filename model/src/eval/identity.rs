//! The principal's own IAM side: identity policies (inline, attached managed policies' default
//! versions, and for users their groups' policies) and the permissions boundary
//! (IAM access_policies_boundaries).
//!
//! Counterpart: `solver/src/encode/identity.rs`.

use super::statement::applies;
use super::{Layer, Outcome, Subject, Trace};
use crate::principal::PrincipalRef;
use crate::snapshot::PolicyId;
use crate::tri::Tri;
use keyproof_parser::policy::Effect;

/// What the principal's own policies say about the request.
#[derive(Debug, Clone, Copy)]
pub struct IdentitySide {
    /// Some identity policy allows.
    pub allow: Tri,
    /// The permissions boundary allows (true when there is none).
    pub boundary_allow: Tri,
    /// A Deny in an identity policy or the boundary applies.
    pub deny: Tri,
}

impl IdentitySide {
    /// The IAM side allows within its boundary: what cross-account access and account delegation
    /// need.
    pub fn allows(&self) -> Tri {
        self.allow.and(self.boundary_allow)
    }
}

/// Why the IAM side of a principal is unknown (an assumption about the world outside the
/// snapshot, prefixed with [`crate::context::OUTSIDE`]). Shared with the encoding.
pub fn unknown_identity_reason(p: &crate::context::ResolvedPrincipal<'_>) -> String {
    match &p.r {
        // IAM GetFederationToken: the session's permissions are the calling IAM user's (or the
        // root user's) identity policies intersected with the session policy it passed.
        PrincipalRef::FederatedUser { .. } => format!(
            "{}the permissions of the federated user `{}` (its calling IAM user's or root user's policies, intersected with the session policy given to GetFederationToken) are not in the snapshot",
            crate::context::OUTSIDE,
            p.r.arn()
        ),
        _ => format!(
            "{}the IAM policies (and boundary) of `{}` are not in the snapshot; account {} was not collected",
            crate::context::OUTSIDE,
            p.r.arn(),
            p.account_id().unwrap_or("?")
        ),
    }
}

/// Evaluates the identity policies and the boundary of the request's principal.
pub fn identity_side(s: &Subject<'_>, trace: &mut Trace<'_>) -> IdentitySide {
    let p = s.principal;
    match &p.r {
        // The root user needs no IAM policy in its own account and cannot have a boundary.
        PrincipalRef::Root { .. } => {
            return IdentitySide { allow: Tri::True, boundary_allow: Tri::True, deny: Tri::False }
        }
        PrincipalRef::Service(_) | PrincipalRef::Anonymous => {
            return IdentitySide { allow: Tri::False, boundary_allow: Tri::True, deny: Tri::False }
        }
        _ => {}
    }
    if !p.identity_known {
        let why = unknown_identity_reason(p);
        trace.unknown(vec![why]);
        return IdentitySide { allow: Tri::Unknown, boundary_allow: Tri::Unknown, deny: Tri::Unknown };
    }
    let (policies, boundary): (&[PolicyId], Option<PolicyId>) = match (p.role, p.user) {
        (Some(r), _) => (&r.policies, r.boundary),
        (None, Some(u)) => (&u.policies, u.boundary),
        (None, None) => (&[], None),
    };
    let (allow, deny) = evaluate(s, policies, Layer::Identity, trace);
    let (boundary_allow, boundary_deny) = match boundary {
        Some(b) => {
            let (a, d) = evaluate(s, &[b], Layer::Boundary, trace);
            if a.is_false() {
                trace.push(
                    Layer::Boundary,
                    Outcome::Missing,
                    Some(s.snapshot.policy(b).label.clone()),
                    None,
                    None,
                    "the permissions boundary does not allow this action on this key",
                );
            }
            (a, d)
        }
        None => (Tri::True, Tri::False),
    };
    let allow = if s.knockout == Some(super::Knockout::IdentityPolicies) { Tri::True } else { allow };
    let boundary_allow = if s.knockout == Some(super::Knockout::Boundary) { Tri::True } else { boundary_allow };
    IdentitySide { allow, boundary_allow, deny: deny.or(boundary_deny) }
}

/// Allow and Deny of a set of identity policies.
fn evaluate(s: &Subject<'_>, policies: &[PolicyId], layer: Layer, trace: &mut Trace<'_>) -> (Tri, Tri) {
    let mut allow = Tri::False;
    let mut deny = Tri::False;
    for &id in policies {
        let named = s.snapshot.policy(id);
        let vars = named.document.variables_enabled();
        for stmt in &named.document.statements {
            let mut reasons = Vec::new();
            let a = applies(stmt, vars, s, &mut reasons);
            if a.is_false() {
                continue;
            }
            trace.unknown(reasons);
            let outcome = match (stmt.effect.value, a) {
                (Effect::Allow, Tri::True) => Outcome::Allows,
                (Effect::Allow, _) => Outcome::MayAllow,
                (Effect::Deny, Tri::True) => Outcome::Denies,
                (Effect::Deny, _) => Outcome::MayDeny,
            };
            match stmt.effect.value {
                Effect::Allow => allow = allow.or(a),
                Effect::Deny => deny = deny.or(a),
            }
            trace.push(
                layer,
                outcome,
                Some(named.label.clone()),
                Some(stmt.label()),
                Some(stmt.span),
                "statement matches the action and key",
            );
        }
    }
    (allow, deny)
}
