//! Terraform's KMS resources: keys, replica keys, key policies, grants and aliases.

use super::{after_attr, configured, constant, references, string_of, Overlay, Res, Val};
use crate::json::Json;
use crate::overlay::apply::{empty_policy, find_key, Change};
use crate::overlay::default_key_policy;
use crate::policy::PolicyKind;
use crate::snapshot::{KeyFile, RawGrant, Tag};
use crate::source::Spanned;

impl<'j> Overlay<'_, 'j> {
    /// The key a KMS resource's `key_id` (or `target_key_id`) names: an ARN, a key id, or a
    /// reference to a key of the plan. `None` after reporting why.
    pub(super) fn target_key(&mut self, res: &Res<'j>, attr: &str) -> Option<(usize, usize)> {
        let id = self.string(res, attr, "it names the key")?;
        let found = self.find_key(&id.value, res);
        if found.is_none() {
            self.r.error(
                id.span,
                format!(
                    "{} refers to key `{}`, which is not in the snapshot nor created by the plan",
                    res.address, id.value
                ),
                "unknown key",
            );
        }
        found
    }

    pub(super) fn find_key(&self, text: &str, res: &Res<'_>) -> Option<(usize, usize)> {
        let region = constant(res.provider, "region").and_then(Json::as_str).or(self.options.region.as_deref());
        find_key(self.raw, text, region)
    }

    pub(super) fn tags(&mut self, res: &Res<'j>) -> Vec<Tag> {
        let v = match after_attr(res, "tags_all") {
            Val::Known(v) => v,
            _ => match after_attr(res, "tags") {
                Val::Known(v) => v,
                _ => return Vec::new(),
            },
        };
        v.members()
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| Tag { key: k.value.clone(), value: s.to_string() }))
            .collect()
    }

    pub(super) fn kms_key(&mut self, res: &Res<'j>, all: &[Res<'j>]) {
        let before_arn = res.before_str("arn").map(str::to_string);
        if res.deletes() {
            match before_arn.as_deref().and_then(|arn| self.find_key(arn, res)) {
                Some(found) => {
                    let key_arn = self.key_arn(found, res);
                    self.change(Change::KeyDeleted { key_arn });
                }
                None => self.r.error(
                    res.span,
                    format!(
                        "{} deletes key `{}`, which is not in the snapshot",
                        res.address,
                        before_arn.clone().unwrap_or_default()
                    ),
                    "unknown key",
                ),
            }
            if !res.creates() {
                return;
            }
        }
        // A key policy resource that targets this key decides its policy.
        let targeted = all.iter().any(|o| {
            o.rtype == "aws_kms_key_policy"
                && !o.deletes()
                && references(o, "key_id").iter().any(|r| r.starts_with(&format!("{}.", res.address)))
        });
        let Some((account, region)) = self.placement(res) else { return };
        let policy = if targeted {
            None
        } else if !configured(res, "policy") && !matches!(after_attr(res, "policy"), Val::Known(_)) {
            // KDG key-policy-default: CreateKey without a policy gives the default key policy.
            self.synthetic_policy(res, default_key_policy(&account), "AWS's default key policy")
        } else {
            self.policy(res, "policy", PolicyKind::KeyPolicy, "the key's access cannot be decided")
        };
        if res.creates() {
            let arn = self.determined.get(&format!("{}.arn", res.address)).cloned();
            let id = self.determined.get(&format!("{}.key_id", res.address)).cloned();
            let (Some(arn), Some(id)) = (arn, id) else { return };
            let replica = res.rtype == "aws_kms_replica_key";
            let primary = if replica { self.primary_of(res) } else { None };
            if replica && primary.is_none() {
                self.unknown(res, format!("the primary key of {} is known only after apply", res.address));
            }
            let multi_region =
                replica || matches!(after_attr(res, "multi_region"), Val::Known(v) if v.as_bool() == Some(true));
            let key = KeyFile {
                file: format!("{} → {}", self.plan_name, res.address),
                region,
                key_id: Spanned::new(id, res.span),
                arn: Spanned::new(arn, res.span),
                account: Spanned::new(account.clone(), res.span),
                key_manager: Some("CUSTOMER".into()),
                key_state: Some("Enabled".into()),
                key_spec: string_of(res, "customer_master_key_spec").or(Some("SYMMETRIC_DEFAULT".into())),
                key_usage: string_of(res, "key_usage").or(Some("ENCRYPT_DECRYPT".into())),
                origin: Some("AWS_KMS".into()),
                enabled: Some(true),
                description: string_of(res, "description"),
                multi_region,
                multi_region_type: if replica {
                    Some("REPLICA".into())
                } else if multi_region {
                    Some("PRIMARY".into())
                } else {
                    None
                },
                primary_key_arn: primary.map(|p| Spanned::new(p, res.span)),
                replica_key_arns: Vec::new(),
                // A key waiting for its aws_kms_key_policy gets it below; until then (and if the
                // policy is unknown) it allows nothing, which the report says.
                policy: Some(policy.unwrap_or_else(|| empty_policy(res.span))),
                grants: Vec::new(),
                aliases: Vec::new(),
                rotation_enabled: res.after.and_then(|a| a.get("enable_key_rotation")).and_then(Json::as_bool),
                tags: self.tags(res),
                span: res.span,
            };
            self.change(Change::Key(Box::new(key)));
        } else if res.updates() {
            let Some(found) = before_arn.as_deref().and_then(|arn| self.find_key(arn, res)) else {
                self.r.error(
                    res.span,
                    format!(
                        "{} changes key `{}`, which is not in the snapshot",
                        res.address,
                        before_arn.unwrap_or_default()
                    ),
                    "unknown key",
                );
                return;
            };
            let tags = self.tags(res);
            let key_arn = self.key_arn(found, res);
            if let Some(policy) = policy {
                self.change(Change::KeyPolicy { key_arn: key_arn.clone(), policy });
            }
            self.change(Change::KeyTags { key_arn, tags });
        }
    }

    pub(super) fn kms_key_policy(&mut self, res: &Res<'j>) {
        if res.deletes() && !res.creates() {
            // Deleting the resource leaves the key's policy as it is (the provider restores
            // nothing): the snapshot's policy stays.
            return;
        }
        let Some(found) = self.target_key(res, "key_id") else { return };
        let policy = self.policy(res, "policy", PolicyKind::KeyPolicy, "the key's access cannot be decided");
        if let Some(policy) = policy {
            let key_arn = self.key_arn(found, res);
            self.change(Change::KeyPolicy { key_arn, policy });
        }
    }

    pub(super) fn kms_grant(&mut self, res: &Res<'j>) {
        if res.deletes() {
            let grant_id = res.before_str("grant_id").unwrap_or_default();
            let key_id = res.before_str("key_id").unwrap_or_default();
            let found = self.find_key(key_id, res);
            let held = found
                .filter(|&(ai, ki)| self.raw.accounts[ai].keys[ki].grants.iter().any(|g| g.grant_id.value == grant_id));
            if let Some(found) = held {
                let key_arn = self.key_arn(found, res);
                let grant_id = Spanned::new(grant_id.to_string(), res.span);
                self.change(Change::GrantRetired { key_arn, grant_id });
            } else {
                self.r.error(
                    res.span,
                    format!(
                        "{} retires grant `{grant_id}` on key `{key_id}`, which is not in the snapshot",
                        res.address
                    ),
                    "unknown grant",
                );
            }
            if !res.creates() {
                return;
            }
        }
        let Some(found) = self.target_key(res, "key_id") else { return };
        let Some(grantee) = self.string(res, "grantee_principal", "it names who the grant is for") else {
            if !matches!(after_attr(res, "grantee_principal"), Val::Unknown) {
                self.r.error(res.span, format!("{} has no `grantee_principal`", res.address), "missing grantee");
            }
            return;
        };
        let retiring = self.string(res, "retiring_principal", "it names who may retire the grant");
        let operations: Vec<Spanned<String>> = match after_attr(res, "operations") {
            Val::Known(v) => v
                .elements()
                .unwrap_or_default()
                .iter()
                .filter_map(|o| o.as_str().map(|s| Spanned::new(s.to_string(), o.span)))
                .collect(),
            _ => {
                self.unknown(res, format!("the operations of {} are known only after apply", res.address));
                return;
            }
        };
        let mut context_equals = None;
        let mut context_subset = None;
        if let Val::Known(cs) = after_attr(res, "constraints") {
            for c in cs.elements().unwrap_or_default() {
                for (attr, slot) in [
                    ("encryption_context_equals", &mut context_equals),
                    ("encryption_context_subset", &mut context_subset),
                ] {
                    if let Some(m) = c.get(attr).and_then(Json::members) {
                        *slot = Some(
                            m.iter()
                                .filter_map(|(k, v)| v.as_str().map(|s| (k.value.clone(), s.to_string())))
                                .collect(),
                        );
                    }
                }
            }
        } else if matches!(after_attr(res, "constraints"), Val::Unknown) {
            self.unknown(res, format!("the constraints of {} are known only after apply", res.address));
        }
        let grant_id = match after_attr(res, "grant_id") {
            Val::Known(v) => v.as_str().unwrap_or(&res.address).to_string(),
            _ => res.address.clone(),
        };
        let account = self.raw.accounts[found.0].id.clone();
        let key_arn = self.key_arn(found, res);
        let grant = Box::new(RawGrant {
            grant_id: Spanned::new(grant_id, res.span),
            name: string_of(res, "name").or_else(|| Some(res.address.clone())),
            key_id: None,
            grantee,
            retiring,
            issuing_account: Some(Spanned::new(format!("arn:aws:iam::{account}:root"), res.span)),
            operations,
            context_equals,
            context_subset,
            span: res.span,
        });
        self.change(Change::Grant { key_arn, grant });
    }

    pub(super) fn kms_alias(&mut self, res: &Res<'j>) {
        if res.deletes() || res.updates() {
            if let Some(name) = res.before_str("name") {
                self.change(Change::AliasDeleted { name: Spanned::new(name.to_string(), res.span) });
            }
            if !res.creates() && !res.updates() {
                return;
            }
        }
        let Some(name) = self.string(res, "name", "it names the alias") else { return };
        let Some((ai, ki)) = self.target_key(res, "target_key_id") else { return };
        let key = &self.raw.accounts[ai].keys[ki];
        let key_arn = Spanned::new(key.arn.value.clone(), name.span);
        self.change(Change::Alias { key_arn, name });
    }

    /// The ARN of a key found in the snapshot, by which a change names it, at the resource.
    fn key_arn(&self, (ai, ki): (usize, usize), res: &Res<'_>) -> Spanned<String> {
        Spanned::new(self.raw.accounts[ai].keys[ki].arn.value.clone(), res.span)
    }
}
