//! Grants (KDG grants, grant-authorization, create-grant-overview, grant-delete).
//!
//! A grant allows its operations to its grantee without any policy, subject to its
//! encryption-context constraints (ignored for DescribeKey and RetireGrant). Explicit denies,
//! SCPs and RCPs still apply (they are checked in `decide`).
//!
//! Modelling choices (SOUNDNESS.md): a role-ARN grantee serves the role's sessions; an account
//! grantee serves the account's root user directly and its other principals through their IAM
//! policies, like a key policy statement naming the account. `RetireGrant` is also allowed to
//! the grant's retiring principal and to the root user of the issuing account.
//!
//! Counterpart: `solver/src/encode/grant.rs`.

use super::identity::IdentitySide;
use super::statement::{named_matches, MatchKind};
use super::{Layer, Outcome, Subject, Trace};
use crate::context::Lookup;
use crate::principal::{NamedPrincipal, PrincipalRef};
use crate::reference::CONSTRAINT_FREE_OPERATIONS;
use crate::snapshot::Grant;
use crate::tri::Tri;

/// Whether the grant's grantee is the request's principal.
pub fn grantee_matches(grant: &Grant, s: &Subject<'_>, identity: &IdentitySide) -> Tri {
    principal_through(&grant.grantee_principal, s, identity)
}

fn principal_through(named: &NamedPrincipal, s: &Subject<'_>, identity: &IdentitySide) -> Tri {
    if matches!(named, NamedPrincipal::Everyone) {
        return Tri::False;
    }
    let (m, kind) = named_matches(named, s);
    match kind {
        MatchKind::Account if !matches!(s.principal.r, PrincipalRef::Root { .. }) => m.and(identity.allows()),
        _ => m,
    }
}

/// Whether the request's encryption context satisfies the grant's constraints. Keys compare
/// case-insensitively, values case-sensitively (KMS API GrantConstraints).
pub fn constraints_hold(grant: &Grant, ec: &[(String, String)]) -> bool {
    let norm = |pairs: &[(String, String)]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = pairs.iter().map(|(k, val)| (k.to_lowercase(), val.clone())).collect();
        v.sort();
        v
    };
    let request = norm(ec);
    if let Some(eq) = &grant.context_equals {
        if norm(eq) != request {
            return false;
        }
    }
    if let Some(sub) = &grant.context_subset {
        if !norm(sub).iter().all(|pair| request.contains(pair)) {
            return false;
        }
    }
    true
}

/// The grants on the key: whether one allows the request.
pub fn grant_layer(s: &Subject<'_>, identity: &IdentitySide, trace: &mut Trace<'_>) -> Tri {
    let op = s.action.name.as_str();
    let ec = s.ctx.encryption_context();
    let mut allow = Tri::False;
    for g in &s.key.grants {
        let label = format!("grant {}{}", g.id, g.name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default());
        let lists_op = g.operations.iter().any(|o| o.value == op);
        let mut via = Tri::False;
        if lists_op {
            via = grantee_matches(g, s, identity);
        }
        if op == "RetireGrant" {
            if let Some(r) = &g.retiring {
                via = via.or(principal_through(r, s, identity));
            }
            if let Some(acct) = &g.issuing_account {
                via =
                    via.or(Tri::from_bool(matches!(&s.principal.r, PrincipalRef::Root { account } if account == acct)));
            }
        }
        if via.is_false() {
            continue;
        }
        let constrained = !CONSTRAINT_FREE_OPERATIONS.contains(&op);
        if constrained && !constraints_hold(g, &ec) && s.knockout != Some(super::Knockout::GrantConstraints) {
            trace.push(
                Layer::Grant,
                Outcome::Missing,
                Some(label),
                None,
                Some(g.span),
                "the grantee matches, but the request's encryption context does not satisfy the grant's constraints",
            );
            continue;
        }
        let mut t = via;
        if op == "CreateGrant" {
            // A grant's CreateGrant hands on at most the grant's own operations (KDG
            // grant-authorization).
            t = t.and(match s.ctx.lookup("kms:GrantOperations") {
                Lookup::Values(vs) => Tri::from_bool(vs.iter().all(|v| g.operations.iter().any(|o| o.value == *v))),
                // Every CreateGrant request names the new grant's operations; a request that
                // does not give them leaves the answer open.
                Lookup::Absent => {
                    trace
                        .unknown(vec!["the operations of the new grant (`kms:GrantOperations`) were not given".into()]);
                    Tri::Unknown
                }
                _ => Tri::Unknown,
            });
        }
        allow = allow.or(t);
        let outcome = match t {
            Tri::True => Outcome::Allows,
            Tri::Unknown => Outcome::MayAllow,
            Tri::False => Outcome::Missing,
        };
        trace.push(
            Layer::Grant,
            outcome,
            Some(label),
            None,
            Some(g.span),
            format!("grant to `{}` lists {op}", g.grantee.value),
        );
        // A grant to an account lets its other principals in only through their IAM policies:
        // a report cites those too (`Decision::because`).
        let through_account = lists_op
            && !matches!(s.principal.r, PrincipalRef::Root { .. })
            && matches!(named_matches(&g.grantee_principal, s).1, MatchKind::Account);
        if let Some(last) = trace.entries.last_mut() {
            last.uses_identity = through_account;
        }
    }
    allow
}
