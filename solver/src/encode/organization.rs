//! SCPs and RCPs. Counterpart: `model/src/eval/organization.rs` (whose exemption rules are
//! used as they are: they depend only on the snapshot).

use super::context::SymContext;
use super::statement::applies;
use super::Target;
use crate::term::{and, constant, or, Term};
use keyproof_model::eval::organization::{missing_scps_reason, pending_reason, rcp_exemption, scp_exemption};
use keyproof_model::org::{Organization, TypeState};
use keyproof_parser::policy::Effect;

/// (deny, every level allows). Mirrors `scp_layer`.
pub fn scp_layer(t: &Target<'_>, sc: &mut SymContext<'_>) -> (Term, Term) {
    if scp_exemption(&t.subject()).is_some() {
        return (constant(false), constant(true));
    }
    let (Some(org), Some(account)) = (&t.snapshot.org, t.principal.account_id()) else {
        return (constant(false), constant(true));
    };
    let layer = levels(t, org, account, true, sc);
    pending(org.scp_state, "SCP", layer, sc)
}

/// Mirrors `rcp_layer`.
pub fn rcp_layer(t: &Target<'_>, sc: &mut SymContext<'_>) -> (Term, Term) {
    if rcp_exemption(&t.subject()).is_some() {
        return (constant(false), constant(true));
    }
    let Some(org) = &t.snapshot.org else { return (constant(false), constant(true)) };
    let layer = levels(t, org, &t.key.account, false, sc);
    pending(org.rcp_state, "RCP", layer, sc)
}

/// A policy type being enabled or disabled: one free choice (shared by every encoding over the
/// context) of whether its layer applies. Mirrors `organization::pending`.
fn pending(state: TypeState, what: &str, (deny, every): (Term, Term), sc: &mut SymContext<'_>) -> (Term, Term) {
    if state != TypeState::Pending {
        return (deny, every);
    }
    let applies = sc.unknown_fact(&format!("policy-type-pending:{what}"), pending_reason(what));
    (and([applies.clone(), deny]), or([crate::term::not(applies), every]))
}

fn levels(t: &Target<'_>, org: &Organization, account: &str, scp: bool, sc: &mut SymContext<'_>) -> (Term, Term) {
    let Some(path) = org.path_to_account(account) else { return (constant(false), constant(true)) };
    let mut deny = Vec::new();
    let mut every = Vec::new();
    for idx in path {
        let node = &org.graph[idx];
        let attached = if scp { &node.scps } else { &node.rcps };
        let mut level = Vec::new();
        for pid in attached {
            let Some(policy) = org.policies.get(&pid.value) else { continue };
            let vars = policy.document.variables_enabled();
            for stmt in &policy.document.statements {
                if !scp && stmt.effect.value == Effect::Allow {
                    // RCPFullAWSAccess: implied below, as in the evaluator.
                    continue;
                }
                let a = applies(stmt, vars, t, sc);
                match stmt.effect.value {
                    Effect::Allow => level.push(a),
                    Effect::Deny => deny.push(a),
                }
            }
        }
        if !scp {
            // RCPFullAWSAccess is attached at every level when RCPs are enabled.
            level.push(constant(true));
        } else if attached.is_empty() {
            // A level that lists no SCP: what is attached there is one free choice, shared by
            // every encoding over the context. Mirrors `levels`.
            level.push(sc.unknown_fact(&format!("scp-missing:{}", node.id), missing_scps_reason(org, idx)));
        }
        every.push(or(level));
    }
    (or(deny), and(every))
}
