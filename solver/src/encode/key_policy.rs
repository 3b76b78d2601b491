//! The key policy. Counterpart: `model/src/eval/key_policy.rs`.

use super::condition::tri;
use super::context::SymContext;
use super::identity::SymIdentity;
use super::statement::applies;
use super::Target;
use crate::term::{and, constant, or, Term};
use keyproof_model::eval::key_policy::works_cross_account;
use keyproof_model::eval::statement::{not_principal_applies, principal_matches, MatchKind};
use keyproof_model::principal::PrincipalRef;
use keyproof_model::tri::Tri;
use keyproof_parser::policy::Effect;

/// Mirrors `allow_through`.
pub fn allow_through(kind: MatchKind, t: &Target<'_>, identity: &SymIdentity) -> Term {
    let p = t.principal;
    match &p.r {
        PrincipalRef::Anonymous => return constant(false),
        PrincipalRef::Service(_) => return constant(matches!(kind, MatchKind::Everyone | MatchKind::Service)),
        _ => {}
    }
    if t.same_account() {
        match kind {
            MatchKind::Everyone | MatchKind::Exact | MatchKind::Service => constant(true),
            MatchKind::RoleArn => identity.boundary_allow.clone(),
            MatchKind::Account => identity.allows(),
        }
    } else if works_cross_account(t.action.name.as_str()) {
        identity.allows()
    } else {
        constant(false)
    }
}

/// (deny, allow). Mirrors `key_policy_layer`.
pub fn key_policy_layer(t: &Target<'_>, identity: &SymIdentity, sc: &mut SymContext<'_>) -> (Term, Term) {
    let named = t.snapshot.policy(t.key.policy);
    let vars = named.document.variables_enabled();
    let subject = t.subject();
    let mut deny = Vec::new();
    let mut allow = Vec::new();
    for stmt in &named.document.statements {
        let Some(pe) = &stmt.principal else { continue };
        let matches: Vec<(Tri, MatchKind)> = if pe.negated {
            vec![(not_principal_applies(pe, stmt.effect.value, &subject), MatchKind::Everyone)]
        } else {
            principal_matches(pe, &subject)
        };
        if matches.iter().all(|(m, _)| m.is_false()) {
            continue;
        }
        let a = applies(stmt, vars, t, sc);
        if a.as_const() == Some(false) {
            continue;
        }
        let why = "whether the principal is the one a key policy statement names";
        match stmt.effect.value {
            Effect::Deny => {
                let who = or(matches
                    .iter()
                    .map(|(m, _)| *m)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .map(|m| tri(m, sc, why))
                    .collect::<Vec<_>>());
                deny.push(and([a, who]));
            }
            Effect::Allow => {
                let mut through = Vec::new();
                for (m, kind) in &matches {
                    let mt = tri(*m, sc, why);
                    through.push(and([mt, allow_through(*kind, t, identity)]));
                }
                allow.push(and([a, or(through)]));
            }
        }
    }
    (or(deny), or(allow))
}
