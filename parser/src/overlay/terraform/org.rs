//! Terraform's Organizations resources: SCPs and RCPs and their attachments.

use super::{string_of, Overlay, Res};
use crate::json::Json;
use crate::overlay::apply::{detach_everywhere, find_node};
use crate::policy::PolicyKind;
use crate::snapshot::{OrgPolicy, OrgPolicyType};
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
        let before_id = res.before.and_then(|b| b.get("id")).and_then(Json::as_str).map(str::to_string);
        if res.deletes() {
            if let (Some(id), Some(org)) = (&before_id, self.raw.organization.as_mut()) {
                org.policies.retain(|p| &p.id.value != id);
                detach_everywhere(&mut org.roots, id);
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
        let Some(org) = self.raw.organization.as_mut() else { return };
        org.policies.retain(|p| p.id.value != id);
        org.policies.push(OrgPolicy {
            id: Spanned::new(id, res.span),
            name,
            policy_type,
            aws_managed: false,
            document,
        });
    }

    pub(super) fn org_attachment(&mut self, res: &Res<'j>) {
        if self.raw.organization.is_none() {
            self.unknown(
                res,
                format!("{} attaches an Organizations policy, but the snapshot has no organization.json", res.address),
            );
            return;
        }
        let before = |attr: &str| res.before.and_then(|b| b.get(attr)).and_then(Json::as_str).map(str::to_string);
        if res.deletes() {
            if let (Some(pid), Some(target)) = (before("policy_id"), before("target_id")) {
                if let Some(org) = self.raw.organization.as_mut() {
                    if let Some(node) = find_node(&mut org.roots, &target) {
                        node.policy_ids.retain(|p| p.value != pid);
                    }
                }
            }
            if !res.creates() {
                return;
            }
        }
        let Some(pid) = self.string(res, "policy_id", "it names the policy attached") else { return };
        let Some(target) = self.string(res, "target_id", "it names where the policy is attached") else { return };
        let Some(org) = self.raw.organization.as_mut() else { return };
        let known_policy =
            org.policies.iter().any(|p| p.id.value == pid.value) || org.other_policy_ids.contains(&pid.value);
        match find_node(&mut org.roots, &target.value) {
            Some(node) if known_policy => node.policy_ids.push(pid),
            Some(_) => self.r.error(
                pid.span,
                format!(
                    "{} attaches policy `{}`, which is neither in organization.json nor created by the plan",
                    res.address, pid.value
                ),
                "unknown policy",
            ),
            None => self.r.error(
                target.span,
                format!("{} attaches a policy to `{}`, which is not in the organization", res.address, target.value),
                "unknown root, OU or account",
            ),
        }
    }
}
