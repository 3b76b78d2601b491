//! SCPs and RCPs (Organizations guide: orgs_manage_policies_scps, orgs_manage_policies_rcps,
//! orgs_manage_policies_inheritance_auth). At every level from the root down to the account,
//! at least one attached policy must allow; a Deny at any level wins.
//!
//! - SCPs apply to every principal of a member account (its root user included), not to the
//!   management account, service-linked roles, service principals, or principals outside the
//!   organization.
//! - RCPs apply on the path of the account that owns the key, to callers from any account, but
//!   not to service-linked roles, AWS managed keys, `kms:RetireGrant`, or resources of the
//!   management account.
//!
//! Counterpart: `solver/src/encode/organization.rs`.

use super::statement::applies;
use super::{Layer, Outcome, Subject, Trace};
use crate::org::Organization;
use crate::principal::PrincipalRef;
use crate::tri::Tri;
use keyproof_parser::policy::Effect;
use keyproof_parser::Spanned;

/// Why a layer does not apply, or `None` when it does.
pub fn scp_exemption(s: &Subject<'_>) -> Option<String> {
    let Some(org) = &s.snapshot.org else {
        return Some("the snapshot has no organization".into());
    };
    let p = s.principal;
    match &p.r {
        PrincipalRef::Service(_) => return Some("SCPs do not apply to AWS service principals".into()),
        PrincipalRef::Anonymous => return Some("anonymous callers belong to no account".into()),
        _ => {}
    }
    let account = p.account_id()?;
    if !org.contains_account(account) {
        return Some(format!("account {account} is outside the organization; SCPs apply only to member accounts"));
    }
    if account == org.management_account {
        return Some(format!("account {account} is the management account; SCPs do not restrict it"));
    }
    if p.is_service_linked() {
        return Some("SCPs do not apply to service-linked roles".into());
    }
    None
}

pub fn rcp_exemption(s: &Subject<'_>) -> Option<String> {
    let Some(org) = &s.snapshot.org else {
        return Some("the snapshot has no organization".into());
    };
    if !org.contains_account(&s.key.account) {
        return Some(format!("the key's account {} is outside the organization", s.key.account));
    }
    if s.key.account == org.management_account {
        return Some("RCPs do not apply to resources of the management account".into());
    }
    if !s.key.customer_managed {
        return Some("RCPs do not apply to AWS managed keys".into());
    }
    if s.action.name == "RetireGrant" {
        return Some("RCPs do not apply to kms:RetireGrant".into());
    }
    if s.principal.is_service_linked() {
        return Some("RCPs do not apply to service-linked roles".into());
    }
    None
}

/// SCPs on the principal's path: (deny, every level allows).
pub fn scp_layer(s: &Subject<'_>, trace: &mut Trace<'_>) -> (Tri, Tri) {
    if let Some(why) = scp_exemption(s) {
        trace.push(Layer::Scp, Outcome::Exempt, None, None, None, why);
        return (Tri::False, Tri::True);
    }
    let (Some(org), Some(account)) = (&s.snapshot.org, s.principal.account_id()) else {
        return (Tri::False, Tri::True);
    };
    levels(s, org, account, Layer::Scp, trace)
}

/// RCPs on the key's path: (deny, every level allows).
pub fn rcp_layer(s: &Subject<'_>, trace: &mut Trace<'_>) -> (Tri, Tri) {
    if let Some(why) = rcp_exemption(s) {
        trace.push(Layer::Rcp, Outcome::Exempt, None, None, None, why);
        return (Tri::False, Tri::True);
    }
    let Some(org) = &s.snapshot.org else {
        return (Tri::False, Tri::True);
    };
    levels(s, org, &s.key.account, Layer::Rcp, trace)
}

fn levels(s: &Subject<'_>, org: &Organization, account: &str, layer: Layer, trace: &mut Trace<'_>) -> (Tri, Tri) {
    let Some(path) = org.path_to_account(account) else {
        return (Tri::False, Tri::True);
    };
    let mut deny = Tri::False;
    let mut every_level = Tri::True;
    for idx in path {
        let node = &org.graph[idx];
        let attached: &[Spanned<String>] = if layer == Layer::Scp { &node.scps } else { &node.rcps };
        let mut level_allow = Tri::False;
        for pid in attached {
            let Some(policy) = org.policies.get(&pid.value) else {
                continue;
            };
            let vars = policy.document.variables_enabled();
            let label = format!(
                "{} {} ({}) at {}",
                if layer == Layer::Scp { "SCP" } else { "RCP" },
                policy.name,
                policy.id,
                org.name_path(idx)
            );
            for stmt in &policy.document.statements {
                let mut reasons = Vec::new();
                let a = applies(stmt, vars, s, &mut reasons);
                if a.is_false() {
                    continue;
                }
                trace.unknown(reasons);
                match stmt.effect.value {
                    Effect::Allow => {
                        level_allow = level_allow.or(a);
                        // Allows are many and alike (FullAWSAccess); the trace shows denies and
                        // missing levels.
                    }
                    Effect::Deny => {
                        deny = deny.or(a);
                        let outcome = if a.is_true() { Outcome::Denies } else { Outcome::MayDeny };
                        trace.push(
                            layer,
                            outcome,
                            Some(label.clone()),
                            Some(stmt.label()),
                            Some(stmt.span),
                            "Deny statement matches",
                        );
                    }
                }
            }
        }
        if !level_allow.is_true() {
            let outcome = if level_allow.is_false() { Outcome::Missing } else { Outcome::MayAllow };
            trace.push(
                layer,
                outcome,
                None,
                None,
                Some(node.span),
                format!(
                    "no {} attached at {} allows kms:{} on this key",
                    if layer == Layer::Scp { "SCP" } else { "RCP" },
                    org.name_path(idx),
                    s.action.name
                ),
            );
        }
        every_level = every_level.and(level_allow);
    }
    if every_level.is_true() {
        let what = if layer == Layer::Scp { "SCP" } else { "RCP" };
        trace.push(
            layer,
            Outcome::Info,
            None,
            None,
            None,
            format!("at every level down to account {account}, an attached {what} allows kms:{}", s.action.name),
        );
    }
    (deny, every_level)
}
