//! The principal's own IAM side. Counterpart: `model/src/eval/identity.rs`.

use super::context::SymContext;
use super::statement::applies;
use super::Target;
use crate::term::{and, constant, or, Term};
use keyproof_model::principal::PrincipalRef;
use keyproof_model::snapshot::PolicyId;
use keyproof_parser::policy::Effect;

pub struct SymIdentity {
    pub allow: Term,
    pub boundary_allow: Term,
    pub deny: Term,
}

impl SymIdentity {
    pub fn allows(&self) -> Term {
        and([self.allow.clone(), self.boundary_allow.clone()])
    }
}

/// Mirrors `identity_side`.
pub fn identity_side(t: &Target<'_>, sc: &mut SymContext<'_>) -> SymIdentity {
    let p = t.principal;
    match &p.r {
        PrincipalRef::Root { .. } => {
            return SymIdentity { allow: constant(true), boundary_allow: constant(true), deny: constant(false) }
        }
        PrincipalRef::Service(_) | PrincipalRef::Anonymous => {
            return SymIdentity { allow: constant(false), boundary_allow: constant(true), deny: constant(false) }
        }
        _ => {}
    }
    if !p.identity_known {
        let why = keyproof_model::eval::identity::unknown_identity_reason(p);
        // One fact each, named after the principal and the question: `keyproof diff` encodes
        // the states before and after a change over one context, and the world outside the
        // snapshot is the same in both.
        let fact = |part: &str| format!("iam:{part}:{}:kms:{}:{}", p.r.arn(), t.action.name, t.key.arn);
        return SymIdentity {
            allow: sc.unknown_fact(&fact("allow"), why.clone()),
            boundary_allow: sc.unknown_fact(&fact("boundary"), why.clone()),
            deny: sc.unknown_fact(&fact("deny"), why),
        };
    }
    let (policies, boundary): (&[PolicyId], Option<PolicyId>) = match (p.role, p.user) {
        (Some(r), _) => (&r.policies, r.boundary),
        (None, Some(u)) => (&u.policies, u.boundary),
        (None, None) => (&[], None),
    };
    let (allow, deny) = evaluate(t, policies, sc);
    let (boundary_allow, boundary_deny) = match boundary {
        Some(b) => evaluate(t, &[b], sc),
        None => (constant(true), constant(false)),
    };
    SymIdentity { allow, boundary_allow, deny: or([deny, boundary_deny]) }
}

fn evaluate(t: &Target<'_>, policies: &[PolicyId], sc: &mut SymContext<'_>) -> (Term, Term) {
    let mut allow = Vec::new();
    let mut deny = Vec::new();
    for &id in policies {
        let named = t.snapshot.policy(id);
        let vars = named.document.variables_enabled();
        for stmt in &named.document.statements {
            let a = applies(stmt, vars, t, sc);
            match stmt.effect.value {
                Effect::Allow => allow.push(a),
                Effect::Deny => deny.push(a),
            }
        }
    }
    (or(allow), or(deny))
}
