//! The one place where an overlay changes a raw snapshot. Both front-ends (Terraform plans,
//! CloudFormation templates) turn their input into [`Change`]s — keys, key policies, grants and
//! aliases; managed and inline policies, principals, attachments and group memberships;
//! Organizations policies, their attachments, OUs and policy types; each created, changed or
//! deleted — and [`apply`] applies them. The front-ends only read the snapshot (to resolve what
//! a change names); the helpers that edit it are private to this module.
//!
//! A change names what it changes by the identifiers the snapshot uses (an account id, a key ARN,
//! a role name, an OU id) and carries the span of the plan or template text it came from, so that
//! an error ("attaches a policy to role `x`, which is neither in the snapshot nor created") and
//! every element the change adds point back at that text. A front-end that words its errors
//! after its own input (Terraform names the resource address) checks what a change names before
//! it hands the change over. Removing a principal, policy, attachment, membership or alias that
//! is not there removes nothing; deleting a key, or retiring a grant, that is not there is an
//! error.

use crate::json::Reader;
use crate::overlay::OverlayReport;
use crate::policy::{Policy, PolicyKind};
use crate::snapshot::{
    AccountFiles, IamFile, IamGroup, IamRole, IamUser, InlinePolicy, KeyFile, ManagedPolicy, OrgNode, OrgPolicy,
    PolicyTypeEntry, RawGrant, RawSnapshot, Tag,
};
use crate::source::{Span, Spanned};

/// The kind of IAM principal that owns an inline policy or an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Role,
    User,
    Group,
}

impl Owner {
    pub fn word(self) -> &'static str {
        match self {
            Owner::Role => "role",
            Owner::User => "user",
            Owner::Group => "group",
        }
    }
}

impl Owner {
    /// The owner a Terraform attribute or CloudFormation property names (`role`, `user`,
    /// `group`).
    pub fn from_word(word: &str) -> Owner {
        match word {
            "role" => Owner::Role,
            "user" => Owner::User,
            _ => Owner::Group,
        }
    }
}

/// A role, user or group, for a change that may create or change any of them.
#[derive(Debug, Clone)]
pub enum Principal {
    Role(IamRole),
    User(IamUser),
    Group(IamGroup),
}

/// One change to the raw snapshot, as a front-end resolved it.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new key (one with the same ARN is replaced).
    Key(Box<KeyFile>),
    /// An alias on a key of the snapshot or of the overlay, named by ARN.
    Alias { key_arn: Spanned<String>, name: Spanned<String> },
    /// A customer managed policy, created or replaced by ARN.
    ManagedPolicy { account: String, policy: ManagedPolicy },
    /// A role, created or replaced by name.
    Role { account: String, role: IamRole },
    /// A user, created or replaced by name.
    User { account: String, user: IamUser },
    /// A group, created or replaced by name.
    Group { account: String, group: IamGroup },
    /// An inline policy on a principal (replaced by name).
    Inline { account: String, owner: Owner, owner_name: Spanned<String>, policy: InlinePolicy },
    /// A managed policy attached to a principal.
    Attach { account: String, owner: Owner, owner_name: Spanned<String>, policy_arn: Spanned<String> },
    /// A user added to a group.
    Member { account: String, user: Spanned<String>, group: Spanned<String> },
    /// An SCP or RCP, created or replaced by id, attached to each target (a root, OU or account id).
    OrgPolicy { policy: OrgPolicy, targets: Vec<Spanned<String>> },
    /// A new organizational unit under a root or OU.
    OrgUnit { node: OrgNode, parent: Spanned<String> },
    /// The policy types enabled on the root (`list-roots` → `PolicyTypes`); a type not listed is
    /// not enabled.
    PolicyTypes { types: Vec<PolicyTypeEntry>, span: Span },
    /// A role, user or group created or changed in place: it replaces the principal of its kind
    /// named `before_name` or its own name, keeping that one's unique id and, where it gives
    /// none itself, its inline policies, attached policies and (a user's) groups, which are
    /// changes of their own. Its attached policies and boundary are taken as given (a dangling
    /// one is an error where the model resolves it), unlike [`Change::Role`]'s.
    Principal { account: String, principal: Principal, before_name: Option<String> },
    /// A key deleted, named by ARN.
    KeyDeleted { key_arn: Spanned<String> },
    /// A key's policy replaced.
    KeyPolicy { key_arn: Spanned<String>, policy: Policy },
    /// A key's tags replaced.
    KeyTags { key_arn: Spanned<String>, tags: Vec<Tag> },
    /// A grant added to a key.
    Grant { key_arn: Spanned<String>, grant: Box<RawGrant> },
    /// A grant retired (removed) from a key.
    GrantRetired { key_arn: Spanned<String>, grant_id: Spanned<String> },
    /// An alias removed from whichever key has it (nothing when no key has it).
    AliasDeleted { name: Spanned<String> },
    /// A customer managed policy deleted, and detached from every principal.
    ManagedPolicyDeleted { account: String, arn: Spanned<String> },
    /// A role, user or group deleted (nothing when it is not there).
    PrincipalDeleted { account: String, owner: Owner, name: Spanned<String> },
    /// An inline policy removed from a principal (nothing when it is not there).
    InlineDeleted { account: String, owner: Owner, owner_name: Spanned<String>, name: Spanned<String> },
    /// A managed policy detached from a principal (nothing when it is not attached).
    Detach { account: String, owner: Owner, owner_name: Spanned<String>, policy_arn: Spanned<String> },
    /// A user removed from a group (nothing when it is not a member).
    MemberRemoved { account: String, user: Spanned<String>, group: Spanned<String> },
    /// An SCP or RCP deleted, and detached from every root, OU and account.
    OrgPolicyDeleted { id: Spanned<String> },
    /// An existing SCP or RCP attached to a root, OU or account.
    OrgAttach { policy_id: Spanned<String>, target: Spanned<String> },
    /// An SCP or RCP detached from a root, OU or account (nothing when it is not attached).
    OrgDetach { policy_id: Spanned<String>, target: Spanned<String> },
}

impl Change {
    /// The order in which changes apply: what others refer to comes first.
    fn rank(&self) -> u8 {
        match self {
            Change::Key(_) | Change::OrgUnit { .. } | Change::PolicyTypes { .. } => 0,
            Change::ManagedPolicy { .. } => 1,
            Change::Role { .. } | Change::User { .. } | Change::Group { .. } => 2,
            _ => 3,
        }
    }
}

/// Applies changes to the raw snapshot, in dependency order. A change that names something the
/// snapshot does not hold is an error at its span; IAM changes in an account whose IAM was not
/// collected are unknown (adding principals would turn its open world into a closed one).
pub fn apply(raw: &mut RawSnapshot, r: &mut Reader<'_>, report: &mut OverlayReport, mut changes: Vec<Change>) {
    changes.sort_by_key(Change::rank);
    for change in changes {
        apply_one(raw, r, report, change);
    }
}

fn apply_one(raw: &mut RawSnapshot, r: &mut Reader<'_>, report: &mut OverlayReport, change: Change) {
    match change {
        Change::Key(key) => {
            let account = key.account.value.clone();
            let a = account_mut(raw, &account);
            a.keys.retain(|k| k.arn.value != key.arn.value);
            a.keys.push(*key);
        }
        Change::Alias { key_arn, name } => match find_key(raw, &key_arn.value, None) {
            Some((ai, ki)) => {
                let k = &mut raw.accounts[ai].keys[ki];
                if !k.aliases.iter().any(|a| a.value == name.value) {
                    k.aliases.push(name);
                }
            }
            None => r.error(
                key_arn.span,
                format!(
                    "alias `{}` targets key `{}`, which is neither in the snapshot nor created",
                    name.value, key_arn.value
                ),
                "unknown key",
            ),
        },
        Change::ManagedPolicy { account, policy } => {
            let Some(iam) = iam_of(raw, report, &account, policy.span, "a managed policy") else { return };
            iam.policies.retain(|p| p.arn.value != policy.arn.value);
            iam.policies.push(policy);
        }
        Change::Role { account, mut role } => {
            let Some(iam) = iam_of(raw, report, &account, role.span, "a role") else { return };
            role.attached = known_policies(iam, r, report, &account, std::mem::take(&mut role.attached));
            // Without its boundary the role may do more, never less: the unknown is reported.
            role.boundary = role.boundary.take().and_then(|b| known_policies(iam, r, report, &account, vec![b]).pop());
            iam.roles.retain(|x| x.name != role.name);
            iam.roles.push(role);
        }
        Change::User { account, mut user } => {
            let Some(iam) = iam_of(raw, report, &account, user.span, "a user") else { return };
            user.attached = known_policies(iam, r, report, &account, std::mem::take(&mut user.attached));
            user.boundary = user.boundary.take().and_then(|b| known_policies(iam, r, report, &account, vec![b]).pop());
            iam.users.retain(|x| x.name != user.name);
            iam.users.push(user);
        }
        Change::Group { account, mut group } => {
            let Some(iam) = iam_of(raw, report, &account, group.span, "a group") else { return };
            group.attached = known_policies(iam, r, report, &account, std::mem::take(&mut group.attached));
            iam.groups.retain(|x| x.name != group.name);
            iam.groups.push(group);
        }
        Change::Inline { account, owner, owner_name, policy } => {
            let span = policy.name.span;
            let Some(iam) = iam_of(raw, report, &account, span, "an inline policy") else { return };
            match inline_list(iam, owner.word(), &owner_name.value) {
                Some(l) => {
                    l.retain(|p| p.name.value != policy.name.value);
                    l.push(policy);
                }
                None => r.error(
                    owner_name.span,
                    format!(
                        "inline policy `{}` is put on {} `{}`, which is neither in account {account} of the snapshot nor created",
                        policy.name.value,
                        owner.word(),
                        owner_name.value
                    ),
                    format!("unknown {}", owner.word()),
                ),
            }
        }
        Change::Attach { account, owner, owner_name, policy_arn } => {
            let Some(iam) = iam_of(raw, report, &account, policy_arn.span, "a policy attachment") else { return };
            if !iam.policies.iter().any(|p| p.arn.value == policy_arn.value) {
                if policy_arn.value.contains(":iam::aws:policy/") {
                    report.unknown.push(Spanned::new(
                        format!(
                            "the AWS managed policy `{}` is attached, but its text is not in the snapshot",
                            policy_arn.value
                        ),
                        policy_arn.span,
                    ));
                } else {
                    r.error(
                        policy_arn.span,
                        format!(
                            "`{}` is neither in the snapshot's IAM policies of account {account} nor created",
                            policy_arn.value
                        ),
                        "unknown policy",
                    );
                }
                return;
            }
            match attached_list(iam, owner.word(), &owner_name.value) {
                Some(l) => {
                    if !l.iter().any(|x| x.value == policy_arn.value) {
                        l.push(policy_arn);
                    }
                }
                None => r.error(
                    owner_name.span,
                    format!(
                        "a policy is attached to {} `{}`, which is neither in account {account} of the snapshot nor created",
                        owner.word(),
                        owner_name.value
                    ),
                    format!("unknown {}", owner.word()),
                ),
            }
        }
        Change::Member { account, user, group } => {
            let Some(iam) = iam_of(raw, report, &account, user.span, "a group membership") else { return };
            if !iam.groups.iter().any(|g| g.name == group.value) {
                r.error(
                    group.span,
                    format!("group `{}` is neither in account {account} of the snapshot nor created", group.value),
                    "unknown group",
                );
                return;
            }
            match iam.users.iter_mut().find(|u| u.name == user.value) {
                Some(u) => {
                    if !u.groups.iter().any(|g| g.value == group.value) {
                        u.groups.push(group);
                    }
                }
                None => r.error(
                    user.span,
                    format!("user `{}` is neither in account {account} of the snapshot nor created", user.value),
                    "unknown user",
                ),
            }
        }
        Change::OrgPolicy { policy, targets } => {
            let Some(org) = raw.organization.as_mut() else {
                report.unknown.push(Spanned::new(
                    format!(
                        "Organizations policy `{}` is created, but the snapshot has no organization.json",
                        policy.name
                    ),
                    policy.id.span,
                ));
                return;
            };
            let id = policy.id.clone();
            org.policies.retain(|p| p.id.value != id.value);
            org.policies.push(policy);
            for t in targets {
                match find_node(&mut org.roots, &t.value) {
                    Some(node) => {
                        if !node.policy_ids.iter().any(|p| p.value == id.value) {
                            node.policy_ids.push(Spanned::new(id.value.clone(), t.span));
                        }
                    }
                    None => r.error(
                        t.span,
                        format!(
                            "policy `{}` targets `{}`, which is not a root, OU or account of the organization",
                            id.value, t.value
                        ),
                        "unknown target",
                    ),
                }
            }
        }
        Change::PolicyTypes { types, span } => match raw.organization.as_mut() {
            Some(org) => org.policy_types = Some(types),
            None => report.unknown.push(Spanned::new(
                "the organization's policy types change, but the snapshot has no organization.json".to_string(),
                span,
            )),
        },
        Change::Principal { account, principal, before_name } => {
            let span = match &principal {
                Principal::Role(p) => p.span,
                Principal::User(p) => p.span,
                Principal::Group(p) => p.span,
            };
            let Some(iam) = iam_of(raw, report, &account, span, "a principal") else { return };
            let replaced = |name: &str, own: &str| Some(name) == before_name.as_deref() || name == own;
            match principal {
                Principal::Role(mut role) => {
                    if let Some(i) = iam.roles.iter().position(|r| replaced(&r.name, &role.name)) {
                        let old = iam.roles.remove(i);
                        role.id = old.id;
                        keep_if_empty(&mut role.inline, old.inline);
                        keep_if_empty(&mut role.attached, old.attached);
                    }
                    iam.roles.push(role);
                }
                Principal::User(mut user) => {
                    if let Some(i) = iam.users.iter().position(|u| replaced(&u.name, &user.name)) {
                        let old = iam.users.remove(i);
                        user.id = old.id;
                        keep_if_empty(&mut user.groups, old.groups);
                        keep_if_empty(&mut user.inline, old.inline);
                        keep_if_empty(&mut user.attached, old.attached);
                    }
                    iam.users.push(user);
                }
                Principal::Group(mut group) => {
                    if let Some(i) = iam.groups.iter().position(|g| replaced(&g.name, &group.name)) {
                        let old = iam.groups.remove(i);
                        group.id = old.id;
                        keep_if_empty(&mut group.inline, old.inline);
                        keep_if_empty(&mut group.attached, old.attached);
                    }
                    iam.groups.push(group);
                }
            }
        }
        Change::KeyDeleted { key_arn } => match find_key(raw, &key_arn.value, None) {
            Some((ai, ki)) => {
                raw.accounts[ai].keys.remove(ki);
            }
            None => missing_key(r, &key_arn, "deletes"),
        },
        Change::KeyPolicy { key_arn, policy } => match find_key(raw, &key_arn.value, None) {
            Some((ai, ki)) => raw.accounts[ai].keys[ki].policy = Some(policy),
            None => missing_key(r, &key_arn, "replaces the policy of"),
        },
        Change::KeyTags { key_arn, tags } => match find_key(raw, &key_arn.value, None) {
            Some((ai, ki)) => raw.accounts[ai].keys[ki].tags = tags,
            None => missing_key(r, &key_arn, "tags"),
        },
        Change::Grant { key_arn, grant } => match find_key(raw, &key_arn.value, None) {
            Some((ai, ki)) => raw.accounts[ai].keys[ki].grants.push(*grant),
            None => missing_key(r, &key_arn, "adds a grant to"),
        },
        Change::GrantRetired { key_arn, grant_id } => {
            let removed = find_key(raw, &key_arn.value, None).is_some_and(|(ai, ki)| {
                let grants = &mut raw.accounts[ai].keys[ki].grants;
                let n = grants.len();
                grants.retain(|g| g.grant_id.value != grant_id.value);
                grants.len() < n
            });
            if !removed {
                r.error(
                    grant_id.span,
                    format!(
                        "grant `{}` on key `{}` is retired, but it is not in the snapshot",
                        grant_id.value, key_arn.value
                    ),
                    "unknown grant",
                );
            }
        }
        Change::AliasDeleted { name } => {
            for a in &mut raw.accounts {
                for k in &mut a.keys {
                    k.aliases.retain(|al| al.value != name.value);
                }
            }
        }
        Change::ManagedPolicyDeleted { account, arn } => {
            let Some(iam) = collected_iam(raw, &account) else { return };
            iam.policies.retain(|p| p.arn.value != arn.value);
            for r in &mut iam.roles {
                r.attached.retain(|a| a.value != arn.value);
            }
            for u in &mut iam.users {
                u.attached.retain(|a| a.value != arn.value);
            }
            for g in &mut iam.groups {
                g.attached.retain(|a| a.value != arn.value);
            }
        }
        Change::PrincipalDeleted { account, owner, name } => {
            let Some(iam) = collected_iam(raw, &account) else { return };
            match owner {
                Owner::Role => iam.roles.retain(|r| r.name != name.value),
                Owner::User => iam.users.retain(|u| u.name != name.value),
                Owner::Group => iam.groups.retain(|g| g.name != name.value),
            }
        }
        Change::InlineDeleted { account, owner, owner_name, name } => {
            let Some(iam) = collected_iam(raw, &account) else { return };
            if let Some(l) = inline_list(iam, owner.word(), &owner_name.value) {
                l.retain(|p| p.name.value != name.value);
            }
        }
        Change::Detach { account, owner, owner_name, policy_arn } => {
            let Some(iam) = collected_iam(raw, &account) else { return };
            if let Some(l) = attached_list(iam, owner.word(), &owner_name.value) {
                l.retain(|x| x.value != policy_arn.value);
            }
        }
        Change::MemberRemoved { account, user, group } => {
            let Some(iam) = collected_iam(raw, &account) else { return };
            if let Some(u) = iam.users.iter_mut().find(|u| u.name == user.value) {
                u.groups.retain(|g| g.value != group.value);
            }
        }
        Change::OrgPolicyDeleted { id } => {
            if let Some(org) = raw.organization.as_mut() {
                org.policies.retain(|p| p.id.value != id.value);
                detach_everywhere(&mut org.roots, &id.value);
            }
        }
        Change::OrgAttach { policy_id, target } => {
            let Some(org) = raw.organization.as_mut() else {
                report.unknown.push(Spanned::new(
                    format!(
                        "Organizations policy `{}` is attached, but the snapshot has no organization.json",
                        policy_id.value
                    ),
                    policy_id.span,
                ));
                return;
            };
            let known_policy = org.policies.iter().any(|p| p.id.value == policy_id.value)
                || org.other_policy_ids.contains(&policy_id.value);
            match find_node(&mut org.roots, &target.value) {
                Some(node) if known_policy => node.policy_ids.push(policy_id),
                Some(_) => r.error(
                    policy_id.span,
                    format!("policy `{}` is neither in organization.json nor created", policy_id.value),
                    "unknown policy",
                ),
                None => r.error(
                    target.span,
                    format!(
                        "policy `{}` is attached to `{}`, which is not a root, OU or account of the organization",
                        policy_id.value, target.value
                    ),
                    "unknown target",
                ),
            }
        }
        Change::OrgDetach { policy_id, target } => {
            if let Some(node) = raw.organization.as_mut().and_then(|o| find_node(&mut o.roots, &target.value)) {
                node.policy_ids.retain(|p| p.value != policy_id.value);
            }
        }
        Change::OrgUnit { node, parent } => {
            let Some(org) = raw.organization.as_mut() else {
                report.unknown.push(Spanned::new(
                    "an organizational unit is created, but the snapshot has no organization.json".to_string(),
                    node.span,
                ));
                return;
            };
            match find_node(&mut org.roots, &parent.value) {
                Some(p) => p.children.push(node),
                None => r.error(
                    parent.span,
                    format!("the parent `{}` is not a root or OU of the organization", parent.value),
                    "unknown parent",
                ),
            }
        }
    }
}

/// Keeps the old list where the change gives none.
fn keep_if_empty<T>(new: &mut Vec<T>, old: Vec<T>) {
    if new.is_empty() {
        *new = old;
    }
}

/// A change names a key that neither the snapshot nor the overlay holds.
fn missing_key(r: &mut Reader<'_>, key_arn: &Spanned<String>, verb: &str) {
    r.error(
        key_arn.span,
        format!("the overlay {verb} key `{}`, which is neither in the snapshot nor created", key_arn.value),
        "unknown key",
    );
}

/// The IAM file of an account, when it was collected. Removing something from an account whose
/// IAM is not in the snapshot removes nothing (the front-end reports the change unknown).
fn collected_iam<'s>(raw: &'s mut RawSnapshot, account: &str) -> Option<&'s mut IamFile> {
    raw.accounts.iter_mut().find(|a| a.id == account).and_then(|a| a.iam.as_mut())
}

/// The attached policy ARNs that the account's IAM holds. An AWS managed policy whose text the
/// snapshot lacks is unknown (what it allows is not known); a customer managed policy that is
/// neither in the snapshot nor created is an error.
fn known_policies(
    iam: &IamFile,
    r: &mut Reader<'_>,
    report: &mut OverlayReport,
    account: &str,
    arns: Vec<Spanned<String>>,
) -> Vec<Spanned<String>> {
    let mut out = Vec::new();
    for arn in arns {
        if iam.policies.iter().any(|p| p.arn.value == arn.value) {
            out.push(arn);
        } else if arn.value.contains(":iam::aws:policy/") {
            report.unknown.push(Spanned::new(
                format!("the AWS managed policy `{}` is attached, but its text is not in the snapshot", arn.value),
                arn.span,
            ));
        } else {
            r.error(
                arn.span,
                format!("`{}` is neither in the snapshot's IAM policies of account {account} nor created", arn.value),
                "unknown policy",
            );
        }
    }
    out
}

/// The IAM file of an account, or `None` with the change reported unknown when the account's
/// IAM is not in the snapshot.
fn iam_of<'s>(
    raw: &'s mut RawSnapshot,
    report: &mut OverlayReport,
    account: &str,
    span: Span,
    what: &str,
) -> Option<&'s mut IamFile> {
    let collected = raw.accounts.iter().any(|a| a.id == account && a.iam.is_some());
    if !collected {
        report.unknown.push(Spanned::new(
            format!("{what} is created in account {account}, whose IAM is not in the snapshot"),
            span,
        ));
        return None;
    }
    account_mut(raw, account).iam.as_mut()
}

/// The files of an account, added (empty) when the snapshot does not have it.
fn account_mut<'s>(raw: &'s mut RawSnapshot, account: &str) -> &'s mut AccountFiles {
    if let Some(i) = raw.accounts.iter().position(|a| a.id == account) {
        return &mut raw.accounts[i];
    }
    raw.accounts.push(AccountFiles {
        id: account.to_string(),
        iam: None,
        keys: Vec::new(),
        not_collected: None,
        notes: Vec::new(),
    });
    let last = raw.accounts.len() - 1;
    &mut raw.accounts[last]
}

/// A key by ARN, alias or key id (the key id in `region` when one is given).
pub fn find_key(raw: &RawSnapshot, text: &str, region: Option<&str>) -> Option<(usize, usize)> {
    for (ai, a) in raw.accounts.iter().enumerate() {
        for (ki, k) in a.keys.iter().enumerate() {
            let by_id = k.key_id.value == text && region.is_none_or(|r| r == k.region);
            if k.arn.value == text || by_id || k.aliases.iter().any(|al| al.value == text) {
                return Some((ai, ki));
            }
        }
    }
    None
}

fn inline_list<'i>(iam: &'i mut IamFile, owner_attr: &str, owner: &str) -> Option<&'i mut Vec<InlinePolicy>> {
    match owner_attr {
        "role" => iam.roles.iter_mut().find(|r| r.name == owner).map(|r| &mut r.inline),
        "user" => iam.users.iter_mut().find(|u| u.name == owner).map(|u| &mut u.inline),
        _ => iam.groups.iter_mut().find(|g| g.name == owner).map(|g| &mut g.inline),
    }
}

fn attached_list<'i>(iam: &'i mut IamFile, owner_attr: &str, owner: &str) -> Option<&'i mut Vec<Spanned<String>>> {
    match owner_attr {
        "role" => iam.roles.iter_mut().find(|r| r.name == owner).map(|r| &mut r.attached),
        "user" => iam.users.iter_mut().find(|u| u.name == owner).map(|u| &mut u.attached),
        _ => iam.groups.iter_mut().find(|g| g.name == owner).map(|g| &mut g.attached),
    }
}

/// A key policy that allows nothing, for a key whose policy comes from elsewhere or is unknown
/// (the unknown is reported; the policy only keeps the key in the snapshot).
pub fn empty_policy(span: Span) -> Policy {
    Policy { kind: PolicyKind::KeyPolicy, version: None, id: None, statements: Vec::new(), span }
}

fn find_node<'n>(nodes: &'n mut [OrgNode], id: &str) -> Option<&'n mut OrgNode> {
    for n in nodes {
        if n.id.value == id {
            return Some(n);
        }
        if let Some(found) = find_node(&mut n.children, id) {
            return Some(found);
        }
    }
    None
}

/// Whether a root, OU or account of the organization has this id.
pub fn holds_node(nodes: &[OrgNode], id: &str) -> bool {
    nodes.iter().any(|n| n.id.value == id || holds_node(&n.children, id))
}

fn detach_everywhere(nodes: &mut [OrgNode], id: &str) {
    for n in nodes {
        n.policy_ids.retain(|p| p.value != id);
        detach_everywhere(&mut n.children, id);
    }
}
