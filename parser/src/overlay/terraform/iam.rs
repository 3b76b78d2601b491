//! Terraform's IAM resources: roles, users, groups, managed and inline policies, attachments
//! and group memberships.

use super::{after_attr, configured, sanitize, string_of, Overlay, Res, Val};
use crate::json::Json;
use crate::overlay::apply::{attached_list, inline_list, Change};
use crate::policy::{parse_policy_value, PolicyKind};
use crate::snapshot::{IamFile, IamGroup, IamRole, IamUser, InlinePolicy, ManagedPolicy};
use crate::source::Spanned;

impl<'j> Overlay<'_, 'j> {
    /// The IAM file of the resource's account; `None` (reported) when the account's IAM was not
    /// collected: adding principals to it would turn its open world into a closed one.
    pub(super) fn iam_of(&mut self, res: &Res<'j>) -> Option<&mut IamFile> {
        let (account, _) = self.placement(res)?;
        let collected = self.raw.accounts.iter().any(|a| a.id == account && a.iam.is_some());
        if !collected {
            self.unknown(
                res,
                format!("{} changes IAM in account {account}, whose IAM is not in the snapshot", res.address),
            );
            return None;
        }
        self.account_mut(&account).iam.as_mut()
    }

    pub(super) fn iam_policy(&mut self, res: &Res<'j>) {
        let before_arn = res.before.and_then(|b| b.get("arn")).and_then(Json::as_str).map(str::to_string);
        let arn = match self.determined.get(&format!("{}.arn", res.address)).cloned().or(before_arn.clone()) {
            Some(a) => a,
            None => {
                self.unknown(res, format!("the ARN of {} is known only after apply (its name is)", res.address));
                return;
            }
        };
        let document = if res.deletes() && !res.creates() {
            None
        } else {
            match self.policy(res, "policy", PolicyKind::Identity, "what it allows cannot be decided") {
                Some(d) => Some(d),
                None => return,
            }
        };
        let name = string_of(res, "name").unwrap_or_default();
        let Some(iam) = self.iam_of(res) else { return };
        if res.deletes() {
            if let Some(old) = &before_arn {
                iam.policies.retain(|p| &p.arn.value != old);
                for r in &mut iam.roles {
                    r.attached.retain(|a| &a.value != old);
                }
                for u in &mut iam.users {
                    u.attached.retain(|a| &a.value != old);
                }
                for g in &mut iam.groups {
                    g.attached.retain(|a| &a.value != old);
                }
            }
        }
        let Some(document) = document else { return };
        let Some((account, _)) = self.placement(res) else { return };
        let policy =
            ManagedPolicy { arn: Spanned::new(arn, res.span), name, default_version: Some(document), span: res.span };
        self.change(Change::ManagedPolicy { account, policy });
    }

    pub(super) fn iam_principal(&mut self, res: &Res<'j>) {
        let kind = res.rtype.trim_start_matches("aws_iam_").to_string();
        let before_name = res.before.and_then(|b| b.get("name")).and_then(Json::as_str).map(str::to_string);
        if res.deletes() {
            if let (Some(name), Some(iam)) = (before_name.clone(), self.iam_of(res)) {
                match kind.as_str() {
                    "role" => iam.roles.retain(|r| r.name != name),
                    "user" => iam.users.retain(|u| u.name != name),
                    _ => iam.groups.retain(|g| g.name != name),
                }
            }
            if !res.creates() && !res.updates() {
                return;
            }
        }
        let Some(name) = self.string(res, "name", "it names the principal") else { return };
        let arn = self
            .determined
            .get(&format!("{}.arn", res.address))
            .cloned()
            .unwrap_or_else(|| format!("{}-unknown-arn", res.address));
        let path = string_of(res, "path").unwrap_or_else(|| "/".into());
        let boundary = if kind == "group" {
            None
        } else {
            self.string(res, "permissions_boundary", "it limits the principal's permissions")
        };
        let tags = self.tags(res);
        let trust = if kind == "role" {
            self.policy(res, "assume_role_policy", PolicyKind::Trust, "who may assume the role cannot be decided")
        } else {
            None
        };
        // Inline policies and managed policy ARNs given on the role itself (deprecated in
        // provider v5 but honoured); unknown only when configured.
        let mut inline = Vec::new();
        if kind == "role" {
            match after_attr(res, "inline_policy") {
                Val::Known(v) => {
                    for (i, p) in v.elements().unwrap_or_default().iter().enumerate() {
                        let (Some(pname), Some(doc)) = (p.get("name").and_then(Json::as_str), p.get("policy")) else {
                            continue;
                        };
                        if doc.as_str().is_some_and(|s| s.is_empty()) {
                            continue;
                        }
                        let what = format!("{} ({}[{i}].policy)", res.address, res.path("inline_policy"));
                        if let Some(document) = parse_policy_value(&mut self.r, doc, PolicyKind::Identity, &what) {
                            inline.push(InlinePolicy { name: Spanned::new(pname.to_string(), p.span), document });
                        }
                    }
                }
                Val::Unknown if configured(res, "inline_policy") => {
                    self.unknown(res, format!("the inline policies of {} are known only after apply", res.address))
                }
                _ => {}
            }
        }
        let mut attached = Vec::new();
        if kind == "role" {
            match after_attr(res, "managed_policy_arns") {
                Val::Known(v) => attached.extend(
                    v.elements()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|a| a.as_str().map(|s| Spanned::new(s.to_string(), a.span))),
                ),
                Val::Unknown if configured(res, "managed_policy_arns") => {
                    self.unknown(res, format!("the managed policies of {} are known only after apply", res.address))
                }
                _ => {}
            }
        }
        let id = format!("tf-unique-id-{}", sanitize(&res.address));
        let Some(iam) = self.iam_of(res) else { return };
        let arn_s = Spanned::new(arn, res.span);
        match kind.as_str() {
            "role" => {
                let old = iam.roles.iter().position(|r| Some(&r.name) == before_name.as_ref() || r.name == name.value);
                let (keep_inline, keep_attached, unique) = match old.map(|i| iam.roles.remove(i)) {
                    Some(o) => (o.inline, o.attached, o.id),
                    None => (Vec::new(), Vec::new(), id),
                };
                iam.roles.push(IamRole {
                    arn: arn_s,
                    name: name.value,
                    path,
                    id: unique,
                    trust,
                    inline: if inline.is_empty() { keep_inline } else { inline },
                    attached: if attached.is_empty() { keep_attached } else { attached },
                    boundary,
                    tags,
                    span: res.span,
                });
            }
            "user" => {
                let old = iam.users.iter().position(|u| Some(&u.name) == before_name.as_ref() || u.name == name.value);
                let (groups, inline, attached, unique) = match old.map(|i| iam.users.remove(i)) {
                    Some(o) => (o.groups, o.inline, o.attached, o.id),
                    None => (Vec::new(), Vec::new(), Vec::new(), id),
                };
                iam.users.push(IamUser {
                    arn: arn_s,
                    name: name.value,
                    path,
                    id: unique,
                    groups,
                    inline,
                    attached,
                    boundary,
                    tags,
                    span: res.span,
                });
            }
            _ => {
                let old = iam.groups.iter().position(|g| Some(&g.name) == before_name.as_ref() || g.name == name.value);
                let (inline, attached, unique) = match old.map(|i| iam.groups.remove(i)) {
                    Some(o) => (o.inline, o.attached, o.id),
                    None => (Vec::new(), Vec::new(), id),
                };
                iam.groups.push(IamGroup {
                    arn: arn_s,
                    name: name.value,
                    path,
                    id: unique,
                    inline,
                    attached,
                    span: res.span,
                });
            }
        }
    }

    /// `aws_iam_{role,user,group}_policy`: an inline policy.
    pub(super) fn iam_inline(&mut self, res: &Res<'j>) {
        let owner_attr = match res.rtype.as_str() {
            "aws_iam_role_policy" => "role",
            "aws_iam_user_policy" => "user",
            _ => "group",
        };
        let before = |attr: &str| res.before.and_then(|b| b.get(attr)).and_then(Json::as_str).map(str::to_string);
        let removal = (before(owner_attr), before("name"));
        let document = if res.deletes() && !res.creates() {
            None
        } else {
            match self.policy(res, "policy", PolicyKind::Identity, "what it allows cannot be decided") {
                Some(d) => Some(d),
                None => return,
            }
        };
        let owner = if document.is_some() { self.string(res, owner_attr, "it names the principal") } else { None };
        let name = string_of(res, "name").or_else(|| removal.1.clone()).unwrap_or_default();
        let address = res.address.clone();
        let span = res.span;
        let Some(iam) = self.iam_of(res) else { return };
        if let (Some(o), Some(n)) = (&removal.0, &removal.1) {
            if res.deletes() || res.updates() {
                if let Some(l) = inline_list(iam, owner_attr, o) {
                    l.retain(|p| &p.name.value != n);
                }
            }
        }
        let (Some(owner), Some(document)) = (owner, document) else { return };
        match inline_list(iam, owner_attr, &owner.value) {
            Some(l) => {
                l.retain(|p| p.name.value != name);
                l.push(InlinePolicy { name: Spanned::new(name, span), document });
            }
            None => self.r.error(
                owner.span,
                format!("{address} puts a policy on {owner_attr} `{}`, which is neither in the snapshot nor created by the plan", owner.value),
                format!("unknown {owner_attr}"),
            ),
        }
    }

    /// `aws_iam_{role,user,group}_policy_attachment`.
    pub(super) fn iam_attachment(&mut self, res: &Res<'j>) {
        let owner_attr = match res.rtype.as_str() {
            "aws_iam_role_policy_attachment" => "role",
            "aws_iam_user_policy_attachment" => "user",
            _ => "group",
        };
        let before = |attr: &str| res.before.and_then(|b| b.get(attr)).and_then(Json::as_str).map(str::to_string);
        let removal = (before(owner_attr), before("policy_arn"));
        let adding = !res.deletes() || res.creates();
        let owner = if adding { self.string(res, owner_attr, "it names the principal") } else { None };
        let arn = if adding { self.string(res, "policy_arn", "it names the policy attached") } else { None };
        let address = res.address.clone();
        let Some(iam) = self.iam_of(res) else { return };
        if let (Some(o), Some(a)) = (&removal.0, &removal.1) {
            if res.deletes() {
                if let Some(l) = attached_list(iam, owner_attr, o) {
                    l.retain(|x| &x.value != a);
                }
            }
        }
        let (Some(owner), Some(arn)) = (owner, arn) else { return };
        if arn.value.starts_with("arn:aws:iam::aws:policy/") && !iam.policies.iter().any(|p| p.arn.value == arn.value) {
            // An AWS managed policy that the snapshot does not hold: its text is not known.
            self.unknown(
                res,
                format!("{address} attaches the AWS managed policy `{}`, whose text is not in the snapshot", arn.value),
            );
            return;
        }
        if !iam.policies.iter().any(|p| p.arn.value == arn.value) {
            self.r.error(
                arn.span,
                format!(
                    "{address} attaches `{}`, which is neither in the snapshot's IAM policies nor created by the plan",
                    arn.value
                ),
                "unknown policy",
            );
            return;
        }
        match attached_list(iam, owner_attr, &owner.value) {
            Some(l) => {
                if !l.iter().any(|x| x.value == arn.value) {
                    l.push(arn);
                }
            }
            None => self.r.error(
                owner.span,
                format!("{address} attaches a policy to {owner_attr} `{}`, which is neither in the snapshot nor created by the plan", owner.value),
                format!("unknown {owner_attr}"),
            ),
        }
    }

    /// `aws_iam_user_group_membership` (a user's groups) and `aws_iam_group_membership` (a
    /// group's users).
    pub(super) fn iam_membership(&mut self, res: &Res<'j>) {
        let pairs = |side: Option<&Json>| -> Vec<(String, String)> {
            let Some(s) = side else { return Vec::new() };
            let one = |a: &str| s.get(a).and_then(Json::as_str).map(str::to_string);
            let many = |a: &str| -> Vec<String> {
                s.get(a)
                    .and_then(Json::elements)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            };
            if res.rtype == "aws_iam_user_group_membership" {
                one("user").map(|u| many("groups").into_iter().map(|g| (u.clone(), g)).collect()).unwrap_or_default()
            } else {
                one("group").map(|g| many("users").into_iter().map(|u| (u, g.clone())).collect()).unwrap_or_default()
            }
        };
        let removed = if res.deletes() || res.updates() { pairs(res.before) } else { Vec::new() };
        let added = if res.creates() || res.updates() { pairs(res.after) } else { Vec::new() };
        let address = res.address.clone();
        let span = res.span;
        let Some(iam) = self.iam_of(res) else { return };
        for (user, group) in removed {
            if let Some(u) = iam.users.iter_mut().find(|u| u.name == user) {
                u.groups.retain(|g| g.value != group);
            }
        }
        let mut missing = Vec::new();
        for (user, group) in added {
            match iam.users.iter_mut().find(|u| u.name == user) {
                Some(u) => {
                    if !u.groups.iter().any(|g| g.value == group) {
                        u.groups.push(Spanned::new(group, span));
                    }
                }
                None => missing.push(user),
            }
        }
        for user in missing {
            self.r.error(
                span,
                format!("{address} names user `{user}`, which is neither in the snapshot nor created by the plan"),
                "unknown user",
            );
        }
    }
}
