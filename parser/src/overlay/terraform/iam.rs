//! Terraform's IAM resources: roles, users, groups, managed and inline policies, attachments
//! and group memberships.

use super::{after_attr, configured, sanitize, string_of, Overlay, Res, Val};
use crate::json::Json;
use crate::overlay::apply::{Change, Owner, Principal};
use crate::policy::{parse_policy_value, PolicyKind};
use crate::snapshot::{IamFile, IamGroup, IamRole, IamUser, InlinePolicy, ManagedPolicy};
use crate::source::Spanned;

impl<'j> Overlay<'_, 'j> {
    /// The resource's account, whose IAM the snapshot holds; `None` (reported) when the
    /// account's IAM was not collected: adding principals to it would turn its open world into
    /// a closed one.
    pub(super) fn iam_account(&mut self, res: &Res<'j>) -> Option<String> {
        let (account, _) = self.placement(res)?;
        if self.iam_ref(&account).is_none() {
            self.unknown(
                res,
                format!("{} changes IAM in account {account}, whose IAM is not in the snapshot", res.address),
            );
            return None;
        }
        Some(account)
    }

    /// The IAM file of an account, as it stands (the changes applied so far included).
    fn iam_ref(&self, account: &str) -> Option<&IamFile> {
        self.raw.accounts.iter().find(|a| a.id == account).and_then(|a| a.iam.as_ref())
    }

    /// Whether the account's IAM holds the principal.
    fn holds_principal(&self, account: &str, owner: Owner, name: &str) -> bool {
        self.iam_ref(account).is_some_and(|iam| match owner {
            Owner::Role => iam.roles.iter().any(|r| r.name == name),
            Owner::User => iam.users.iter().any(|u| u.name == name),
            Owner::Group => iam.groups.iter().any(|g| g.name == name),
        })
    }

    pub(super) fn iam_policy(&mut self, res: &Res<'j>) {
        let before_arn = res.before_str("arn").map(str::to_string);
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
        let Some(account) = self.iam_account(res) else { return };
        if res.deletes() {
            if let Some(old) = before_arn {
                let arn = Spanned::new(old, res.span);
                self.change(Change::ManagedPolicyDeleted { account: account.clone(), arn });
            }
        }
        let Some(document) = document else { return };
        let policy =
            ManagedPolicy { arn: Spanned::new(arn, res.span), name, default_version: Some(document), span: res.span };
        self.change(Change::ManagedPolicy { account, policy });
    }

    pub(super) fn iam_principal(&mut self, res: &Res<'j>) {
        let kind = res.rtype.trim_start_matches("aws_iam_").to_string();
        let before_name = res.before_str("name").map(str::to_string);
        let owner = Owner::from_word(&kind);
        if res.deletes() {
            if let (Some(name), Some(account)) = (before_name.clone(), self.iam_account(res)) {
                let name = Spanned::new(name, res.span);
                self.change(Change::PrincipalDeleted { account, owner, name });
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
        let Some(account) = self.iam_account(res) else { return };
        let arn = Spanned::new(arn, res.span);
        let principal = match owner {
            Owner::Role => Principal::Role(IamRole {
                arn,
                name: name.value,
                path,
                id,
                trust,
                inline,
                attached,
                boundary,
                tags,
                span: res.span,
            }),
            Owner::User => Principal::User(IamUser {
                arn,
                name: name.value,
                path,
                id,
                groups: Vec::new(),
                inline: Vec::new(),
                attached: Vec::new(),
                boundary,
                tags,
                span: res.span,
            }),
            Owner::Group => Principal::Group(IamGroup {
                arn,
                name: name.value,
                path,
                id,
                inline: Vec::new(),
                attached: Vec::new(),
                span: res.span,
            }),
        };
        self.change(Change::Principal { account, principal, before_name });
    }

    /// `aws_iam_{role,user,group}_policy`: an inline policy.
    pub(super) fn iam_inline(&mut self, res: &Res<'j>) {
        let owner_attr = match res.rtype.as_str() {
            "aws_iam_role_policy" => "role",
            "aws_iam_user_policy" => "user",
            _ => "group",
        };
        let before = |attr: &str| res.before_str(attr).map(str::to_string);
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
        let kind = Owner::from_word(owner_attr);
        let Some(account) = self.iam_account(res) else { return };
        if let (Some(o), Some(n)) = (removal.0, removal.1) {
            if res.deletes() || res.updates() {
                let (owner_name, name) = (Spanned::new(o, res.span), Spanned::new(n, res.span));
                self.change(Change::InlineDeleted { account: account.clone(), owner: kind, owner_name, name });
            }
        }
        let (Some(owner), Some(document)) = (owner, document) else { return };
        // The error names the resource; the change left to apply cannot fail.
        if !self.holds_principal(&account, kind, &owner.value) {
            self.r.error(
                owner.span,
                format!(
                    "{} puts a policy on {owner_attr} `{}`, which is neither in the snapshot nor created by the plan",
                    res.address, owner.value
                ),
                format!("unknown {owner_attr}"),
            );
            return;
        }
        let policy = InlinePolicy { name: Spanned::new(name, res.span), document };
        self.change(Change::Inline { account, owner: kind, owner_name: owner, policy });
    }

    /// `aws_iam_{role,user,group}_policy_attachment`.
    pub(super) fn iam_attachment(&mut self, res: &Res<'j>) {
        let owner_attr = match res.rtype.as_str() {
            "aws_iam_role_policy_attachment" => "role",
            "aws_iam_user_policy_attachment" => "user",
            _ => "group",
        };
        let before = |attr: &str| res.before_str(attr).map(str::to_string);
        let removal = (before(owner_attr), before("policy_arn"));
        let adding = !res.deletes() || res.creates();
        let owner = if adding { self.string(res, owner_attr, "it names the principal") } else { None };
        let arn = if adding { self.string(res, "policy_arn", "it names the policy attached") } else { None };
        let address = res.address.clone();
        let kind = Owner::from_word(owner_attr);
        let Some(account) = self.iam_account(res) else { return };
        if let (Some(o), Some(a)) = (removal.0, removal.1) {
            if res.deletes() {
                let (owner_name, policy_arn) = (Spanned::new(o, res.span), Spanned::new(a, res.span));
                self.change(Change::Detach { account: account.clone(), owner: kind, owner_name, policy_arn });
            }
        }
        let (Some(owner), Some(arn)) = (owner, arn) else { return };
        // The errors and unknowns name the resource; the change left to apply cannot fail.
        let held = self.iam_ref(&account).is_some_and(|iam| iam.policies.iter().any(|p| p.arn.value == arn.value));
        if arn.value.starts_with("arn:aws:iam::aws:policy/") && !held {
            // An AWS managed policy that the snapshot does not hold: its text is not known.
            self.unknown(
                res,
                format!("{address} attaches the AWS managed policy `{}`, whose text is not in the snapshot", arn.value),
            );
            return;
        }
        if !held {
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
        if !self.holds_principal(&account, kind, &owner.value) {
            self.r.error(
                owner.span,
                format!("{address} attaches a policy to {owner_attr} `{}`, which is neither in the snapshot nor created by the plan", owner.value),
                format!("unknown {owner_attr}"),
            );
            return;
        }
        self.change(Change::Attach { account, owner: kind, owner_name: owner, policy_arn: arn });
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
        let span = res.span;
        let Some(account) = self.iam_account(res) else { return };
        for (user, group) in removed {
            let (user, group) = (Spanned::new(user, span), Spanned::new(group, span));
            self.change(Change::MemberRemoved { account: account.clone(), user, group });
        }
        // The errors name the resource; the changes left to apply cannot fail. A group that is
        // neither in the snapshot nor created is an error as in CloudFormation (a membership of
        // nothing would otherwise be added unnoticed).
        let mut missing = Vec::new();
        for (user, group) in added {
            if !self.holds_principal(&account, Owner::User, &user) {
                missing.push(("user", user));
            } else if !self.holds_principal(&account, Owner::Group, &group) {
                missing.push(("group", group));
            } else {
                let (user, group) = (Spanned::new(user, span), Spanned::new(group, span));
                self.change(Change::Member { account: account.clone(), user, group });
            }
        }
        for (kind, name) in missing {
            self.r.error(
                span,
                format!(
                    "{} names {kind} `{name}`, which is neither in the snapshot nor created by the plan",
                    res.address
                ),
                format!("unknown {kind}"),
            );
        }
    }
}
