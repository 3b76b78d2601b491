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
//! - A policy type applies only when it is enabled in the root (`list-roots` → `PolicyTypes`;
//!   Organizations UG orgs_manage_policies_enable-disable). Most organizations have not enabled
//!   RCPs: then there is no RCP layer at all.
//! - When RCPs are enabled, AWS attaches `RCPFullAWSAccess` to the root, every OU and every
//!   account, and it cannot be detached (orgs_manage_policies_rcps): the "every level allows"
//!   half of the RCP layer always holds, and only the Deny statements of customer RCPs decide,
//!   whether or not the snapshot lists RCPFullAWSAccess. `FullAWSAccess` (SCP) can be detached,
//!   so an SCP level without an allowing SCP really denies.
//! - A policy type being enabled or disabled (`PENDING_*`) makes its layer unknown.
//!
//! Counterpart: `solver/src/encode/organization.rs`.

use super::statement::applies;
use super::{Layer, Outcome, Subject, Trace};
use crate::org::{Organization, TypeState};
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
    if org.scp_state == TypeState::NotEnabled && s.knockout != Some(super::Knockout::PolicyTypes) {
        return Some("the SCP policy type is not enabled in this organization's root".into());
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
    if org.rcp_state == TypeState::NotEnabled && s.knockout != Some(super::Knockout::PolicyTypes) {
        return Some("the RCP policy type is not enabled in this organization's root".into());
    }
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
    let layer = levels(s, org, account, Layer::Scp, trace);
    pending(org.scp_state, "SCP", layer, trace)
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
    let layer = levels(s, org, &s.key.account, Layer::Rcp, trace);
    pending(org.rcp_state, "RCP", layer, trace)
}

/// A layer whose policy type is being enabled or disabled may or may not apply: its deny and
/// its requirement become unknown where they would decide. Counterpart:
/// `solver/src/encode/organization.rs::pending`.
fn pending(state: TypeState, what: &str, (deny, every): (Tri, Tri), trace: &mut Trace<'_>) -> (Tri, Tri) {
    if state != TypeState::Pending {
        return (deny, every);
    }
    let applies = Tri::Unknown;
    let out = (applies.and(deny), applies.not().or(every));
    if out.0 == Tri::Unknown || out.1 == Tri::Unknown {
        trace.unknown(vec![pending_reason(what)]);
    }
    out
}

/// Why an SCP level that lists no SCP is unknown. Shared with the encoding.
pub fn missing_scps_reason(org: &Organization, idx: petgraph::graph::NodeIndex) -> String {
    format!(
        "the snapshot lists no SCP at {}, where AWS requires at least one (Organizations DetachPolicy): what is attached there is unknown",
        org.name_path(idx)
    )
}

/// Why a pending policy type's layer is unknown.
pub fn pending_reason(what: &str) -> String {
    format!("the {what} policy type is being enabled or disabled (PENDING_* in the root's PolicyTypes): whether {what}s apply is not settled")
}

fn levels(s: &Subject<'_>, org: &Organization, account: &str, layer: Layer, trace: &mut Trace<'_>) -> (Tri, Tri) {
    let implicit_rcp_full_access = layer == Layer::Rcp && s.knockout != Some(super::Knockout::PolicyTypes);
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
                if implicit_rcp_full_access && stmt.effect.value == Effect::Allow {
                    // RCPFullAWSAccess's statement (customer RCPs cannot allow): implied below.
                    continue;
                }
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
        if implicit_rcp_full_access {
            // RCPFullAWSAccess is attached here whether or not the snapshot lists it.
            level_allow = Tri::True;
        } else if layer == Layer::Scp && attached.is_empty() && s.knockout != Some(super::Knockout::PolicyTypes) {
            // "Every root, OU, and account must have at least one SCP attached" (Organizations
            // API DetachPolicy): a level that lists none is a snapshot that does not say what is
            // attached there, not a level that denies.
            level_allow = Tri::Unknown;
            trace.unknown(vec![missing_scps_reason(org, idx)]);
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
                    "no {} attached at {} allows {} on {}",
                    if layer == Layer::Scp { "SCP" } else { "RCP" },
                    org.name_path(idx),
                    s.action.full_name(),
                    if s.action.service == "kms" { "this key" } else { s.key.arn.as_str() }
                ),
            );
        }
        every_level = every_level.and(level_allow);
    }
    if implicit_rcp_full_access {
        trace.push(
            layer,
            Outcome::Info,
            None,
            None,
            None,
            format!("RCPFullAWSAccess is attached at every level down to account {account} (AWS attaches it and it cannot be detached): only the customer RCPs' Deny statements decide"),
        );
    } else if every_level.is_true() && !deny.is_true() {
        trace.push(
            layer,
            Outcome::Info,
            None,
            None,
            None,
            format!("at every level down to account {account}, an attached SCP allows {}", s.action.full_name()),
        );
    }
    (deny, every_level)
}
