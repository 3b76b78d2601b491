//! Grants. Counterpart: `model/src/eval/grant.rs`.

use super::condition::tri;
use super::context::{Sym, SymContext, SymVal};
use super::identity::SymIdentity;
use super::Target;
use crate::term::{and, constant, not, or, str_eq, Str, Term};
use keyproof_model::eval::statement::{named_matches, MatchKind};
use keyproof_model::principal::{NamedPrincipal, PrincipalRef};
use keyproof_model::reference::CONSTRAINT_FREE_OPERATIONS;
use keyproof_model::snapshot::Grant;

fn principal_through(named: &NamedPrincipal, t: &Target<'_>, identity: &SymIdentity, sc: &mut SymContext<'_>) -> Term {
    if matches!(named, NamedPrincipal::Everyone) {
        return constant(false);
    }
    let (m, kind) = named_matches(named, &t.subject());
    let m = tri(m, sc, "whether the principal is a grant's grantee");
    match kind {
        MatchKind::Account if !matches!(t.principal.r, PrincipalRef::Root { .. }) => and([m, identity.allows()]),
        _ => m,
    }
}

/// The grant's encryption-context constraints on the symbolic context. Mirrors
/// `constraints_hold`.
fn constraints(g: &Grant, sc: &mut SymContext<'_>) -> Term {
    let (named, others) = sc.encryption_context();
    let mut parts = Vec::new();
    if let Some(eq) = &g.context_equals {
        for (name, present, value) in &named {
            match eq.iter().find(|(k, _)| k.to_lowercase() == name.to_lowercase()) {
                Some((_, v)) => parts.push(and([present.clone(), str_eq(value.clone(), Str::Lit(v.clone()))])),
                None => parts.push(not(present.clone())),
            }
        }
        for p in &others {
            parts.push(not(p.clone()));
        }
    }
    if let Some(sub) = &g.context_subset {
        for (k, v) in sub {
            match named.iter().find(|(name, _, _)| name.to_lowercase() == k.to_lowercase()) {
                Some((_, present, value)) => {
                    parts.push(and([present.clone(), str_eq(value.clone(), Str::Lit(v.clone()))]))
                }
                None => parts.push(constant(false)),
            }
        }
    }
    and(parts)
}

/// Mirrors `grant_layer`.
pub fn grant_layer(t: &Target<'_>, identity: &SymIdentity, sc: &mut SymContext<'_>) -> Term {
    let op = t.action.name.as_str();
    let mut allow = Vec::new();
    for g in &t.key.grants {
        let lists_op = g.operations.iter().any(|o| o.value == op);
        let mut via = Vec::new();
        if lists_op {
            via.push(principal_through(&g.grantee_principal, t, identity, sc));
        }
        if op == "RetireGrant" {
            if let Some(r) = &g.retiring {
                via.push(principal_through(r, t, identity, sc));
            }
            if let Some(acct) = &g.issuing_account {
                via.push(constant(matches!(&t.principal.r, PrincipalRef::Root { account } if account == acct)));
            }
        }
        let via = or(via);
        if via.as_const() == Some(false) {
            continue;
        }
        let mut parts = vec![via];
        if !CONSTRAINT_FREE_OPERATIONS.contains(&op) {
            parts.push(constraints(g, sc));
        }
        if op == "CreateGrant" {
            parts.push(match sc.lookup("kms:GrantOperations") {
                Sym::Multi { slots, .. } => and(slots.iter().map(|(p, v)| match v {
                    SymVal::Str(s) => or([
                        not(p.clone()),
                        or(g.operations.iter().map(|o| str_eq(s.clone(), Str::Lit(o.value.clone())))),
                    ]),
                    _ => constant(false),
                })),
                Sym::Values(vs) => constant(vs.iter().all(|v| g.operations.iter().any(|o| o.value == *v))),
                Sym::Absent => sc.unknown("the operations of the new grant (`kms:GrantOperations`) were not given"),
                _ => sc.unknown("the operations of the new grant (`kms:GrantOperations`)"),
            });
        }
        allow.push(and(parts));
    }
    or(allow)
}
