//! The requests outside KMS that the transitive who-can's edges are made of, decided by the same
//! layers as every KMS request (identity policies and boundary, SCPs, RCPs, statements and
//! conditions): `sts:AssumeRole` on a role, and the IAM writes that give a principal identity
//! permissions.
//!
//! - `sts:AssumeRole`: the role's trust policy is the resource-based policy. In the role's own
//!   account a trust statement naming the caller (its user or role ARN, or `"*"`) suffices; one
//!   naming the account delegates to the account's IAM policies; a role ARN is limited by the
//!   role's boundary. Across accounts both the trust policy and the caller's identity policies
//!   (within its boundary) must allow (IAM UG reference_policies_evaluation-logic-cross-account,
//!   id_roles_compare-resource-policies). SCPs of the caller's account apply; RCPs of the role's
//!   account apply, STS being one of the services RCPs support (Organizations UG
//!   orgs_manage_policies_rcps, "List of AWS services that support RCPs"). An explicit Deny
//!   anywhere wins. The root user cannot assume a role (STS answers AccessDenied, "Roles may not
//!   be assumed by root accounts"), and a federated-user session (GetFederationToken) can call
//!   no STS operation but GetCallerIdentity and no IAM operation (STS API Reference
//!   API_GetFederationToken, "Permissions").
//! - IAM writes (`iam:PutRolePolicy`, …): IAM has no resource-based policies, so only the
//!   caller's identity policies within its boundary and its SCPs decide, and only a principal of
//!   the target's own account can be allowed; RCPs do not apply to IAM.
//!
//! The resource of such a request is a stand-in [`Key`] carrying its ARN and account
//! ([`stand_in`]): the layers read nothing else of it.

use super::identity::{identity_side, IdentitySide};
use super::key_policy::allow_through;
use super::organization::{rcp_layer, scp_layer};
use super::statement::{applies_in_trust, not_principal_applies, principal_matches, MatchKind};
use super::{Decision, Layer, Outcome, Subject, Trace, Verdict};
use crate::context::{build_context, Entry, ResolvedPrincipal};
use crate::err::ModelError;
use crate::principal::PrincipalRef;
use crate::reference::{KmsAction, Reference};
use crate::snapshot::{Key, Role, Snapshot, Tags};
use crate::tri::Tri;
use keyproof_parser::policy::Effect;
use keyproof_parser::Span;
use std::collections::BTreeMap;

/// The resource of a non-KMS request, as the layers see it: an ARN and an account. `region` is
/// the value of `aws:RequestedRegion` (the caller picks the endpoint; see the callers).
pub fn stand_in(arn: &str, account: &str, region: &str) -> Key {
    Key {
        arn: arn.to_string(),
        id: arn.to_string(),
        account: account.to_string(),
        region: region.to_string(),
        file: String::new(),
        customer_managed: true,
        key_state: None,
        key_spec: None,
        key_usage: None,
        origin: None,
        multi_region: false,
        multi_region_type: None,
        primary_arn: None,
        replica_arns: Vec::new(),
        policy: 0,
        grants: Vec::new(),
        aliases: Vec::new(),
        rotation_enabled: None,
        tags: Tags::default(),
        span: Span::default(),
    }
}

/// A non-KMS request: the caller, one of [`crate::reference::OTHER_ACTIONS`], the target's ARN
/// and account, the context the caller gives, and the keys it may set whose value is left open
/// (`Entry::Unknown`: the decision then says whether any value could matter).
pub struct OtherRequest<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub resource_account: &'a str,
    pub region: &'a str,
    pub context: &'a BTreeMap<String, Vec<String>>,
    pub open: &'a [String],
}

fn action(name: &str) -> Result<&'static KmsAction, ModelError> {
    Reference::get().other_action(name).ok_or_else(|| ModelError::InvalidAction { action: name.to_string() })
}

/// Decides `sts:AssumeRole` by `principal` on `role`.
pub fn decide_assume_role(
    snapshot: &Snapshot,
    principal: &ResolvedPrincipal<'_>,
    role: &Role,
    region: &str,
    given: &BTreeMap<String, Vec<String>>,
    open: &[String],
) -> Result<Decision, ModelError> {
    let req = OtherRequest {
        action: "sts:AssumeRole",
        resource: &role.arn,
        resource_account: &role.account,
        region,
        context: given,
        open,
    };
    decide_other(snapshot, principal, Some(role), &req)
}

/// Decides one of the IAM writes on a target (a role, user, group or managed policy ARN).
pub fn decide_iam_write(
    snapshot: &Snapshot,
    principal: &ResolvedPrincipal<'_>,
    req: &OtherRequest<'_>,
) -> Result<Decision, ModelError> {
    decide_other(snapshot, principal, None, req)
}

/// Decides `sts:AssumeRole` on a role of an account that was not collected: its trust policy
/// is not in the snapshot, so the trust side is an assumption about the world outside it (as
/// "any principal of account A that A's IAM allows" is), and the caller's side — identity
/// policies within the boundary, SCPs, the role account's RCPs — decides the rest.
pub fn decide_assume_outside_role(
    snapshot: &Snapshot,
    principal: &ResolvedPrincipal<'_>,
    req: &OtherRequest<'_>,
) -> Result<Decision, ModelError> {
    decide_target(snapshot, principal, Target::OutsideRole, req)
}

/// What the resource of a non-KMS request is.
#[derive(Clone, Copy)]
enum Target<'a> {
    Role(&'a Role),
    OutsideRole,
    Iam,
}

fn decide_other(
    snapshot: &Snapshot,
    principal: &ResolvedPrincipal<'_>,
    role: Option<&Role>,
    req: &OtherRequest<'_>,
) -> Result<Decision, ModelError> {
    decide_target(snapshot, principal, role.map_or(Target::Iam, Target::Role), req)
}

fn decide_target(
    snapshot: &Snapshot,
    principal: &ResolvedPrincipal<'_>,
    target: Target<'_>,
    req: &OtherRequest<'_>,
) -> Result<Decision, ModelError> {
    let action = action(req.action)?;
    let resource = stand_in(req.resource, req.resource_account, req.region);
    let mut ctx = build_context(snapshot, principal, &resource, action, req.context)?;
    for k in req.open {
        ctx.set(k, Entry::Unknown(format!("`{k}` is set by the caller, and any value is possible")));
    }
    let s = Subject { snapshot, principal, action, key: &resource, ctx: &ctx, knockout: None };
    let mut trace = Trace { snapshot, entries: Vec::new(), unknown: Vec::new() };
    let mut decision = Decision {
        decision: Verdict::ImplicitDeny,
        principal: principal.principal_arn.clone().unwrap_or_else(|| principal.r.arn()),
        action: action.full_name(),
        key: req.resource.to_string(),
        trace: Vec::new(),
        unknown: Vec::new(),
    };
    let refuse = match &principal.r {
        PrincipalRef::Anonymous => Some("an anonymous caller is never allowed"),
        PrincipalRef::Service(_) => {
            Some("service principals are out of scope here (iam:PassRole to services is not modelled)")
        }
        PrincipalRef::Root { .. } if !matches!(target, Target::Iam) => {
            Some("the root user cannot assume a role (STS: \"Roles may not be assumed by root accounts\")")
        }
        PrincipalRef::FederatedUser { .. } => Some(
            "a federated-user session (GetFederationToken) can call no STS operation but GetCallerIdentity and no IAM operation",
        ),
        _ => None,
    };
    if let Some(why) = refuse {
        trace.push(Layer::Request, Outcome::Denies, None, None, None, why);
        decision.trace = trace.entries;
        return Ok(decision);
    }
    let identity = identity_side(&s, &mut trace);
    let (scp_deny, scp_allow) = scp_layer(&s, &mut trace);
    let (rcp_deny, rcp_allow, res_deny, res_allow) = match target {
        Target::Role(role) => {
            let (rd, ra) = rcp_layer(&s, &mut trace);
            let (td, ta) = trust_layer(&s, role, &identity, &mut trace);
            (rd, ra, td, ta)
        }
        Target::OutsideRole => {
            let (rd, ra) = rcp_layer(&s, &mut trace);
            let why = format!(
                "{}the trust policy of {} is not in the snapshot (account {} was not collected): it may let the caller in",
                crate::context::OUTSIDE,
                req.resource,
                req.resource_account
            );
            trace.push(
                Layer::Trust,
                Outcome::MayAllow,
                Some(format!("trust policy of role {}", req.resource)),
                None,
                None,
                why.clone(),
            );
            if let Some(last) = trace.entries.last_mut() {
                last.uses_identity = !s.same_account();
            }
            trace.unknown(vec![why]);
            // Across accounts the caller's own IAM must allow too (a Deny in the unknown trust
            // policy could only take access away).
            let through = if s.same_account() { Tri::Unknown } else { Tri::Unknown.and(identity.allows()) };
            (rd, ra, Tri::False, through)
        }
        Target::Iam => {
            // IAM: no resource-based policy; the caller's own account only.
            let same = Tri::from_bool(principal.account_id() == Some(req.resource_account));
            if same.is_false() {
                trace.push(
                    Layer::Identity,
                    Outcome::Missing,
                    None,
                    None,
                    None,
                    "IAM has no resource-based policies: only principals of the target's own account can write its IAM",
                );
            }
            (Tri::False, Tri::True, Tri::False, same.and(identity.allows()))
        }
    };
    let deny = Tri::any([identity.deny, rcp_deny, scp_deny, res_deny]);
    let allowed = deny.not().and(rcp_allow).and(scp_allow).and(res_allow);
    decision.decision = if deny.is_true() {
        Verdict::ExplicitDeny
    } else if allowed.is_true() {
        Verdict::Allow
    } else if allowed.is_false() {
        Verdict::ImplicitDeny
    } else {
        Verdict::Unknown
    };
    decision.trace = trace.entries;
    decision.unknown =
        if decision.decision == Verdict::Unknown || deny == Tri::Unknown { trace.unknown } else { Vec::new() };
    Ok(decision)
}

/// The role's trust policy: (deny, allow). A role without one can be assumed by nobody.
fn trust_layer(s: &Subject<'_>, role: &Role, identity: &IdentitySide, trace: &mut Trace<'_>) -> (Tri, Tri) {
    let label = format!("trust policy of role {}", role.arn);
    let Some(doc) = &role.trust else {
        trace.push(Layer::Trust, Outcome::Missing, Some(label), None, None, "the role has no trust policy");
        return (Tri::False, Tri::False);
    };
    let vars = doc.variables_enabled();
    let mut deny = Tri::False;
    let mut allow = Tri::False;
    for stmt in &doc.statements {
        let Some(pe) = &stmt.principal else { continue };
        let mut reasons = Vec::new();
        let a = applies_in_trust(stmt, vars, s, &mut reasons);
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
                    Layer::Trust,
                    outcome,
                    Some(label.clone()),
                    Some(stmt.label()),
                    Some(stmt.span),
                    "Deny statement matches",
                );
            }
            Effect::Allow => {
                let through = Tri::any(matches.iter().map(|(t, kind)| t.and(allow_through(*kind, s, identity))));
                let contribution = a.and(through);
                allow = allow.or(contribution);
                let (outcome, detail) = if contribution.is_true() {
                    (Outcome::Allows, "allows the caller to assume the role")
                } else if contribution.is_false() {
                    (
                        Outcome::Ineffective,
                        "matches, but also needs an Allow of sts:AssumeRole in the caller's own IAM policies (within its boundary)",
                    )
                } else {
                    (Outcome::MayAllow, "may allow the caller to assume the role")
                };
                trace.push(Layer::Trust, outcome, Some(label.clone()), Some(stmt.label()), Some(stmt.span), detail);
                let direct = Tri::any(matches.iter().map(|(t, kind)| {
                    t.and(Tri::from_bool(matches!(kind, MatchKind::Everyone | MatchKind::Exact) && s.same_account()))
                }));
                if let Some(last) = trace.entries.last_mut() {
                    last.uses_identity = !direct.is_true();
                }
            }
        }
    }
    if allow.is_false() && !deny.is_true() {
        trace.push(
            Layer::Trust,
            Outcome::Missing,
            Some(label),
            None,
            None,
            "no trust policy statement lets the caller assume the role",
        );
    }
    (deny, allow)
}

/// Every `AWS` principal a trust policy names must be an account, an ARN, a unique id or `"*"`
/// (IAM reference_policies_elements_principal): the transitive who-can reads them as edges, so
/// one it cannot read is an error at its location, never a silently missing edge.
pub fn check_trust_principals(snapshot: &Snapshot) -> Result<(), ModelError> {
    let mut errors = Vec::new();
    for acc in snapshot.accounts.values() {
        for role in &acc.roles {
            let Some(doc) = &role.trust else { continue };
            for stmt in &doc.statements {
                let Some(pe) = &stmt.principal else { continue };
                for e in &pe.entries {
                    if e.kind != keyproof_parser::policy::PrincipalKind::Aws {
                        continue;
                    }
                    if let crate::principal::NamedPrincipal::Other(v) =
                        crate::principal::NamedPrincipal::from_aws(&e.value.value)
                    {
                        errors.push(keyproof_parser::ParseError::at(
                            &snapshot.sources,
                            e.value.span,
                            format!("the trust policy of role {} names `{v}`, which is not an AWS principal", role.arn),
                            "expected an account id, an IAM or STS ARN, a unique id or \"*\"",
                        ));
                    }
                }
            }
        }
    }
    Ok(keyproof_parser::ParseError::collect("trust policies", errors)?)
}
