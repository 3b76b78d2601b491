//! Terraform's Organizations resources: SCPs and RCPs and their attachments.

use super::{after_attr, string_of, Overlay, Res, Val};
use crate::overlay::apply::{holds_node, Change};
use crate::policy::PolicyKind;
use crate::snapshot::{OrgPolicy, OrgPolicyType, PolicyTypeEntry, PolicyTypeStatus};
use crate::source::Spanned;

impl<'j> Overlay<'_, 'j> {
    pub(super) fn org_policy(&mut self, res: &Res<'j>) {
        if self.raw.organization.is_none() {
            self.unknown(
                res,
                format!("{} changes an Organizations policy, but the snapshot has no organization.json", res.address),
            );
            return;
        }
        let before_id = res.before_str("id").map(str::to_string);
        if res.deletes() {
            if let Some(id) = &before_id {
                self.change(Change::OrgPolicyDeleted { id: Spanned::new(id.clone(), res.span) });
            }
            if !res.creates() {
                return;
            }
        }
        let ptype = string_of(res, "type").unwrap_or_else(|| "SERVICE_CONTROL_POLICY".into());
        let (policy_type, kind) = match ptype.as_str() {
            "SERVICE_CONTROL_POLICY" => (OrgPolicyType::Scp, PolicyKind::Scp),
            "RESOURCE_CONTROL_POLICY" => (OrgPolicyType::Rcp, PolicyKind::Rcp),
            other => {
                self.report.not_modelled.push(Spanned::new(
                    format!("{}: Organizations policy of type {other} does not affect KMS authorization and is not modelled", res.address),
                    res.span,
                ));
                return;
            }
        };
        let id = if res.creates() {
            self.determined.get(&format!("{}.id", res.address)).cloned().unwrap_or_else(|| res.address.clone())
        } else {
            before_id.clone().unwrap_or_else(|| res.address.clone())
        };
        let Some(document) = self.policy(res, "content", kind, "the policy's effect cannot be decided") else { return };
        let name = string_of(res, "name").unwrap_or_else(|| id.clone());
        let policy = OrgPolicy { id: Spanned::new(id, res.span), name, policy_type, aws_managed: false, document };
        self.change(Change::OrgPolicy { policy, targets: Vec::new() });
    }

    pub(super) fn org_attachment(&mut self, res: &Res<'j>) {
        if self.raw.organization.is_none() {
            self.unknown(
                res,
                format!("{} attaches an Organizations policy, but the snapshot has no organization.json", res.address),
            );
            return;
        }
        let before = |attr: &str| res.before_str(attr).map(str::to_string);
        if res.deletes() {
            if let (Some(pid), Some(target)) = (before("policy_id"), before("target_id")) {
                let (policy_id, target) = (Spanned::new(pid, res.span), Spanned::new(target, res.span));
                self.change(Change::OrgDetach { policy_id, target });
            }
            if !res.creates() {
                return;
            }
        }
        let Some(pid) = self.string(res, "policy_id", "it names the policy attached") else { return };
        let Some(target) = self.string(res, "target_id", "it names where the policy is attached") else { return };
        let Some(org) = self.raw.organization.as_ref() else { return };
        let known_policy =
            org.policies.iter().any(|p| p.id.value == pid.value) || org.other_policy_ids.contains(&pid.value);
        // The errors name the resource; what is left to apply cannot fail.
        match holds_node(&org.roots, &target.value) {
            true if known_policy => self.change(Change::OrgAttach { policy_id: pid, target }),
            true => self.r.error(
                pid.span,
                format!(
                    "{} attaches policy `{}`, which is neither in organization.json nor created by the plan",
                    res.address, pid.value
                ),
                "unknown policy",
            ),
            false => self.r.error(
                target.span,
                format!("{} attaches a policy to `{}`, which is not in the organization", res.address, target.value),
                "unknown root, OU or account",
            ),
        }
    }

    /// `aws_organizations_organization`: its `enabled_policy_types` become the root's
    /// `PolicyTypes` (the `list-roots` shape): each listed type `ENABLED`, a type not listed not
    /// enabled (no entry).
    pub(super) fn org_organization(&mut self, res: &Res<'j>) {
        if self.raw.organization.is_none() {
            if !res.actions.iter().all(|a| a == "no-op" || a == "read") {
                self.unknown(
                    res,
                    format!("{} changes the organization, but the snapshot has no organization.json", res.address),
                );
            }
            return;
        }
        if res.deletes() && !res.creates() {
            self.unknown(res, format!("{} deletes the organization", res.address));
            return;
        }
        let known = match after_attr(res, "enabled_policy_types") {
            Val::Known(v) => v,
            // Not set: no policy type is enabled (the provider's default is an empty set).
            Val::Absent => {
                self.change(Change::PolicyTypes { types: Vec::new(), span: res.span });
                self.report.applied.push(format!("{}: enabled policy types: none", res.address));
                return;
            }
            Val::Unknown => {
                self.unknown(res, format!("the enabled policy types of {} are known only after apply", res.address));
                return;
            }
        };
        let mut types = Vec::new();
        let mut names = Vec::new();
        for t in known.elements().unwrap_or_default() {
            let Some(name) = t.as_str() else {
                self.r.error(t.span, "an enabled policy type must be a string", "expected a string");
                continue;
            };
            let policy_type = match name {
                "SERVICE_CONTROL_POLICY" => Some(OrgPolicyType::Scp),
                "RESOURCE_CONTROL_POLICY" => Some(OrgPolicyType::Rcp),
                _ => None,
            };
            names.push(name.to_string());
            types.push(PolicyTypeEntry { policy_type, status: PolicyTypeStatus::Enabled, span: t.span });
        }
        let listed = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        self.report.applied.push(format!("{}: enabled policy types: {listed}", res.address));
        self.change(Change::PolicyTypes { types, span: res.span });
    }
}
