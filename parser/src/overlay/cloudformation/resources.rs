//! The resource types keyproof models: what `Ref` and `Fn::GetAtt` return for each (CloudFormation
//! Template Reference, each type's "Return values"), and the changes each makes to the snapshot.

use super::resolve::{Fail, Identity, Resolver, R};
use crate::json::{Json, JsonKind};
use crate::overlay::apply::{empty_policy, Change, Owner};
use crate::overlay::{default_key_policy, OverlayReport};
use crate::policy::{parse_policy, parse_policy_value, Policy, PolicyKind};
use crate::snapshot::{
    IamGroup, IamRole, IamUser, InlinePolicy, KeyFile, ManagedPolicy, OrgNode, OrgNodeKind, OrgPolicy, OrgPolicyType,
    Tag,
};
use crate::source::{Span, Spanned};

/// The resource types the overlay models.
pub const MODELLED: &[&str] = &[
    "AWS::KMS::Key",
    "AWS::KMS::ReplicaKey",
    "AWS::KMS::Alias",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::RolePolicy",
    "AWS::IAM::UserPolicy",
    "AWS::IAM::GroupPolicy",
    "AWS::IAM::User",
    "AWS::IAM::Group",
    "AWS::IAM::UserToGroupAddition",
    "AWS::Organizations::Policy",
    "AWS::Organizations::OrganizationalUnit",
];

/// The properties of each modelled type (CloudFormation Template Reference): a property that is
/// not one of them makes CloudFormation refuse the template, and a misspelt `KeyPolicy` must not
/// read as "no key policy".
const PROPERTIES: &[(&str, &[&str])] = &[
    (
        "AWS::KMS::Key",
        &[
            "BypassPolicyLockoutSafetyCheck",
            "Description",
            "Enabled",
            "EnableKeyRotation",
            "KeyPolicy",
            "KeySpec",
            "KeyUsage",
            "MultiRegion",
            "Origin",
            "PendingWindowInDays",
            "RotationPeriodInDays",
            "Tags",
        ],
    ),
    ("AWS::KMS::ReplicaKey", &["Description", "Enabled", "KeyPolicy", "PendingWindowInDays", "PrimaryKeyArn", "Tags"]),
    ("AWS::KMS::Alias", &["AliasName", "TargetKeyId"]),
    (
        "AWS::IAM::Role",
        &[
            "AssumeRolePolicyDocument",
            "Description",
            "ManagedPolicyArns",
            "MaxSessionDuration",
            "Path",
            "PermissionsBoundary",
            "Policies",
            "RoleName",
            "Tags",
        ],
    ),
    (
        "AWS::IAM::User",
        &["Groups", "LoginProfile", "ManagedPolicyArns", "Path", "PermissionsBoundary", "Policies", "Tags", "UserName"],
    ),
    ("AWS::IAM::Group", &["GroupName", "ManagedPolicyArns", "Path", "Policies"]),
    (
        "AWS::IAM::ManagedPolicy",
        &["Description", "Groups", "ManagedPolicyName", "Path", "PolicyDocument", "Roles", "Users"],
    ),
    ("AWS::IAM::Policy", &["Groups", "PolicyDocument", "PolicyName", "Roles", "Users"]),
    ("AWS::IAM::RolePolicy", &["PolicyDocument", "PolicyName", "RoleName"]),
    ("AWS::IAM::UserPolicy", &["PolicyDocument", "PolicyName", "UserName"]),
    ("AWS::IAM::GroupPolicy", &["GroupName", "PolicyDocument", "PolicyName"]),
    ("AWS::IAM::UserToGroupAddition", &["GroupName", "Users"]),
    ("AWS::Organizations::Policy", &["Content", "Description", "Name", "Tags", "TargetIds", "Type"]),
    ("AWS::Organizations::OrganizationalUnit", &["Name", "ParentId", "Tags"]),
];

/// The attributes a resource may have besides its properties (CloudFormation "Resource
/// attribute reference").
const ATTRIBUTES: &[&str] = &[
    "Type",
    "Properties",
    "Condition",
    "DependsOn",
    "Metadata",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
];

/// Types whose effect on access cannot be known from the template: another template, or code.
pub const OPAQUE: &[&str] = &["AWS::CloudFormation::Stack", "AWS::CloudFormation::StackSet"];

/// A name part made of characters every identifier accepts.
pub fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect()
}

fn prop<'t>(body: &'t Json, name: &str) -> Option<&'t Json> {
    body.get("Properties").and_then(|p| p.get(name))
}

/// The name CloudFormation generates for a resource given none: `STACK-LOGICALID-RANDOM`, where a
/// StackSet instance's stack is `StackSet-NAME-UUID`. The made-up parts are unknown; keyproof
/// writes `CFNGENERATED` in their place, which no policy of the snapshot names, while a pattern on
/// the stack's (or StackSet's) prefix still matches it, as it matches the real name.
fn generated(x: &Resolver<'_, '_, '_>, logical: &str) -> String {
    let stack = match (&x.pseudo.stack_name, &x.pseudo.stackset) {
        (Some(s), _) => s.clone(),
        (None, Some(set)) => format!("StackSet-{set}-CFNGENERATED"),
        (None, None) => "CFNGENERATED".to_string(),
    };
    let mut name = format!("{stack}-{logical}-CFNGENERATED");
    name.truncate(64);
    name
}

/// A name property, or the generated name.
fn name_or_generated(x: &mut Resolver<'_, '_, '_>, body: &Json, logical: &str, attr: &str) -> R<String> {
    match prop(body, attr) {
        Some(v) => match x.value(v)? {
            Some(j) => match j.scalar_text() {
                Some(s) => Ok(s),
                None => {
                    x.r.error(v.span, format!("`{attr}` must be a string"), "expected a string");
                    Err(Fail::Error)
                }
            },
            None => Ok(generated(x, logical)),
        },
        None => Ok(generated(x, logical)),
    }
}

fn path_of(x: &mut Resolver<'_, '_, '_>, body: &Json) -> R<String> {
    match prop(body, "Path") {
        Some(v) => Ok(x.string(v, "`Path`")?.value),
        None => Ok("/".to_string()),
    }
}

fn bool_prop(x: &mut Resolver<'_, '_, '_>, body: &Json, name: &str) -> R<Option<bool>> {
    let Some(v) = prop(body, name) else { return Ok(None) };
    let s = x.string(v, &format!("`{name}`"))?;
    match s.value.as_str() {
        "true" | "True" | "TRUE" => Ok(Some(true)),
        "false" | "False" | "FALSE" => Ok(Some(false)),
        other => {
            x.r.error(v.span, format!("`{name}` must be true or false, found `{other}`"), "expected a boolean");
            Err(Fail::Error)
        }
    }
}

/// The key id keyproof gives a new key: AWS makes up a UUID (`mrk-` and a hex string for a
/// multi-Region key), which no policy can name before it exists.
fn placeholder_key_id(x: &Resolver<'_, '_, '_>, logical: &str, multi_region: bool) -> String {
    let stack = match (&x.pseudo.stack_name, &x.pseudo.stackset) {
        (Some(s), _) => s.clone(),
        (None, Some(set)) => format!("stackset-{set}"),
        (None, None) => "stack".to_string(),
    };
    format!("{}cfn-{}-{}", if multi_region { "mrk-" } else { "" }, sanitize(&stack), sanitize(logical))
}

/// What `Ref` and `Fn::GetAtt` return for a resource of the template.
pub fn identity<'t>(x: &mut Resolver<'t, '_, '_>, logical: &str, body: &'t Json) -> R<Identity> {
    let rtype = body.get("Type").and_then(Json::as_str).unwrap_or_default().to_string();
    let span = body.span;
    let (account, region, partition) = (x.pseudo.account.clone(), x.pseudo.region.clone(), x.pseudo.partition());
    let later = |what: &str| -> R<String> {
        Err(Fail::Unknown { reason: format!("{what} of `{logical}` is made by AWS at deployment"), span })
    };
    let ok = |s: &str| -> R<String> { Ok(s.to_string()) };
    Ok(match rtype.as_str() {
        "AWS::KMS::Key" => {
            let multi = bool_prop(x, body, "MultiRegion")?.unwrap_or(false);
            let id = placeholder_key_id(x, logical, multi);
            let arn = format!("arn:{partition}:kms:{region}:{account}:key/{id}");
            Identity { reference: ok(&id), attributes: vec![("Arn", ok(&arn)), ("KeyId", ok(&id))] }
        }
        "AWS::KMS::ReplicaKey" => {
            // A replica has its primary's key id (KDG multi-region-keys-overview).
            let primary = match prop(body, "PrimaryKeyArn") {
                Some(v) => x.string(v, "`PrimaryKeyArn`")?.value,
                None => {
                    x.r.error(span, format!("`{logical}` has no `PrimaryKeyArn`"), "missing PrimaryKeyArn");
                    return Err(Fail::Error);
                }
            };
            if primary.split(':').nth(3) == Some(region.as_str()) {
                // KDG multi-region-keys-replicate: a replica is in another Region than its primary.
                let at = prop(body, "PrimaryKeyArn").map_or(span, |p| p.span);
                x.r.error(
                    at,
                    format!("replica key `{logical}` is in {region}, the Region of its primary key"),
                    "same Region",
                );
                return Err(Fail::Error);
            }
            let id = primary.rsplit('/').next().unwrap_or_default().to_string();
            let arn = format!("arn:{partition}:kms:{region}:{account}:key/{id}");
            Identity { reference: ok(&id), attributes: vec![("Arn", ok(&arn)), ("KeyId", ok(&id))] }
        }
        "AWS::KMS::Alias" => {
            let name = match prop(body, "AliasName") {
                Some(v) => x.string(v, "`AliasName`")?.value,
                None => {
                    x.r.error(span, format!("`{logical}` has no `AliasName`"), "missing AliasName");
                    return Err(Fail::Error);
                }
            };
            Identity { reference: Ok(name), attributes: Vec::new() }
        }
        "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
            let (kind, attr, id_attr) = match rtype.as_str() {
                "AWS::IAM::Role" => ("role", "RoleName", "RoleId"),
                "AWS::IAM::User" => ("user", "UserName", "UserId"),
                _ => ("group", "GroupName", "GroupId"),
            };
            let name = name_or_generated(x, body, logical, attr)?;
            let path = path_of(x, body)?;
            let arn = format!("arn:{partition}:iam::{account}:{kind}{path}{name}");
            Identity { reference: Ok(name), attributes: vec![("Arn", Ok(arn)), (id_attr, later("the unique id"))] }
        }
        "AWS::IAM::ManagedPolicy" => {
            let name = name_or_generated(x, body, logical, "ManagedPolicyName")?;
            let path = path_of(x, body)?;
            let arn = format!("arn:{partition}:iam::{account}:policy{path}{name}");
            Identity {
                reference: ok(&arn),
                attributes: vec![("PolicyArn", ok(&arn)), ("PolicyId", later("the policy id"))],
            }
        }
        "AWS::Organizations::Policy" => {
            let id = format!("p-cfn-{}", sanitize(logical));
            Identity { reference: ok(&id), attributes: vec![("Id", ok(&id)), ("Arn", later("the ARN"))] }
        }
        "AWS::Organizations::OrganizationalUnit" => {
            let id = format!("ou-cfn-{}", sanitize(logical));
            Identity { reference: ok(&id), attributes: vec![("Id", ok(&id)), ("Arn", later("the ARN"))] }
        }
        _ => Identity { reference: later("the physical id"), attributes: Vec::new() },
    })
}

/// Turns the resources of one stack into changes.
pub struct Stack<'x, 't, 'r, 'a> {
    pub x: &'x mut Resolver<'t, 'r, 'a>,
    pub report: &'x mut OverlayReport,
    pub changes: Vec<Change>,
    /// Names the stack in messages: empty for a stack, `444455556666/us-east-1: ` for a StackSet
    /// instance.
    pub label: String,
    /// The template's source name, for the sources of synthetic policies.
    pub file: String,
}

impl Stack<'_, '_, '_, '_> {
    fn unknown(&mut self, what: &str, f: Fail) {
        if let Fail::Unknown { reason, span } = f {
            self.report.unknown.push(Spanned::new(format!("{}{what}: {reason}", self.label), span));
        }
    }

    /// A resolved property, reported unknown (with `what`) when it cannot be determined.
    fn resolved(&mut self, v: &Json, what: &str) -> Option<Json> {
        match self.x.value(v) {
            Ok(j) => j,
            Err(f) => {
                self.unknown(what, f);
                None
            }
        }
    }

    fn string(&mut self, v: &Json, what: &str) -> Option<Spanned<String>> {
        match self.x.string(v, what) {
            Ok(s) => Some(s),
            Err(f) => {
                self.unknown(what, f);
                None
            }
        }
    }

    fn strings(&mut self, body: &Json, name: &str, what: &str) -> Vec<Spanned<String>> {
        let Some(v) = prop(body, name) else { return Vec::new() };
        match self.x.strings(v, what) {
            Ok(s) => s,
            Err(f) => {
                self.unknown(what, f);
                Vec::new()
            }
        }
    }

    /// A policy document property: an object or a JSON string, with every intrinsic resolved.
    fn policy(&mut self, v: &Json, kind: PolicyKind, what: &str) -> Option<Policy> {
        let doc = self.resolved(v, what)?;
        let doc = stringify_scalars(doc);
        parse_policy_value(self.x.r, &doc, kind, what)
    }

    fn tags(&mut self, body: &Json, logical: &str) -> Vec<Tag> {
        let Some(v) = prop(body, "Tags") else { return Vec::new() };
        let Some(list) = self.resolved(v, &format!("Resources.{logical}.Properties.Tags")) else { return Vec::new() };
        list.elements()
            .unwrap_or_default()
            .iter()
            .filter_map(|t| {
                let k = t.get("Key").and_then(Json::scalar_text)?;
                let v = t.get("Value").and_then(Json::scalar_text)?;
                Some(Tag { key: k, value: v })
            })
            .collect()
    }

    /// What `Ref` returns for a resource of the stack.
    fn reference(&mut self, logical: &str, span: Span) -> Option<String> {
        let j = Json {
            kind: JsonKind::Object(vec![(
                Spanned::new("Ref".into(), span),
                Json { kind: JsonKind::String(logical.into()), span },
            )]),
            span,
        };
        let reference = match self.x.value(&j) {
            Ok(Some(v)) => v.scalar_text(),
            Ok(None) => None,
            Err(f) => {
                self.unknown(&format!("Resources.{logical}"), f);
                None
            }
        }?;
        Some(reference)
    }

    fn attribute(&mut self, logical: &str, attr: &str, span: Span) -> Option<String> {
        let j = Json {
            kind: JsonKind::Object(vec![(
                Spanned::new("Fn::GetAtt".into(), span),
                Json { kind: JsonKind::String(format!("{logical}.{attr}")), span },
            )]),
            span,
        };
        match self.x.value(&j) {
            Ok(Some(v)) => v.scalar_text(),
            Ok(None) => None,
            Err(f) => {
                self.unknown(&format!("Resources.{logical}"), f);
                None
            }
        }
    }

    /// One resource: its changes, or why it has none.
    pub fn resource(&mut self, logical: &Spanned<String>, body: &Json) {
        let name = logical.value.as_str();
        let at = format!("Resources.{name}");
        let rtype = match body.get("Type") {
            Some(t) => match t.as_str() {
                Some(s) => s.to_string(),
                None => {
                    self.x.r.error(t.span, format!("the `Type` of `{name}` must be a string"), "expected a string");
                    return;
                }
            },
            None => {
                self.x.r.error(logical.span, format!("resource `{name}` has no `Type`"), "missing Type");
                return;
            }
        };
        if let Some(c) = body.get("Condition") {
            let Some(cname) = c.as_str() else {
                self.x.r.error(c.span, "`Condition` must name a condition", "expected a name");
                return;
            };
            match self.x.condition(cname, c.span) {
                Ok(true) => {}
                Ok(false) => {
                    self.report.determined.push(Spanned::new(
                        format!("{}{at} ({rtype}) is not created: its condition {cname} is false", self.label),
                        c.span,
                    ));
                    return;
                }
                Err(f) => {
                    self.unknown(&format!("{at} ({rtype}) exists only if condition {cname} holds"), f);
                    return;
                }
            }
        }
        if OPAQUE.contains(&rtype.as_str()) {
            self.report.unknown.push(Spanned::new(
                format!("{}{at} ({rtype}): a nested stack's resources are not read by keyproof", self.label),
                body.span,
            ));
            return;
        }
        for (k, _) in body.members().unwrap_or_default() {
            if !ATTRIBUTES.contains(&k.value.as_str()) {
                self.x.r.error(k.span, format!("`{}` is not a resource attribute", k.value), "unknown attribute");
            }
        }
        if !MODELLED.contains(&rtype.as_str()) {
            self.report.not_modelled.push(Spanned::new(format!("{at} ({rtype}): not modelled by keyproof"), body.span));
            return;
        }
        if let Some(props) = body.get("Properties") {
            let Some(members) = props.members() else {
                self.x.r.error(
                    props.span,
                    format!("the Properties of `{name}` must be a mapping"),
                    "expected a mapping",
                );
                return;
            };
            let known = PROPERTIES.iter().find(|(t, _)| *t == rtype).map(|(_, p)| *p).unwrap_or_default();
            let mut wrong = false;
            for (k, _) in members {
                if !known.contains(&k.value.as_str()) {
                    self.x.r.error(k.span, format!("`{}` is not a property of {rtype}", k.value), "unknown property");
                    wrong = true;
                }
            }
            if wrong {
                return;
            }
        }
        let before = self.changes.len();
        let account = self.x.pseudo.account.clone();
        match rtype.as_str() {
            "AWS::KMS::Key" | "AWS::KMS::ReplicaKey" => self.key(name, body, &rtype),
            "AWS::KMS::Alias" => {
                let (Some(alias), Some(target)) = (
                    prop(body, "AliasName").and_then(|v| self.string(v, &format!("{at}.Properties.AliasName"))),
                    prop(body, "TargetKeyId").and_then(|v| self.string(v, &format!("{at}.Properties.TargetKeyId"))),
                ) else {
                    return;
                };
                // TargetKeyId is a key id or ARN; a bare id is in the stack's account and region.
                let key_arn = if target.value.starts_with("arn:") {
                    target.clone()
                } else {
                    let (p, r) = (self.x.pseudo.partition(), self.x.pseudo.region.clone());
                    Spanned::new(format!("arn:{p}:kms:{r}:{account}:key/{}", target.value), target.span)
                };
                self.changes.push(Change::Alias { key_arn, name: alias });
            }
            "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => self.principal(name, body, &rtype),
            "AWS::IAM::ManagedPolicy" => self.managed_policy(name, body),
            "AWS::IAM::Policy" | "AWS::IAM::RolePolicy" | "AWS::IAM::UserPolicy" | "AWS::IAM::GroupPolicy" => {
                self.inline_policy(name, body, &rtype)
            }
            "AWS::IAM::UserToGroupAddition" => {
                let Some(group) =
                    prop(body, "GroupName").and_then(|v| self.string(v, &format!("{at}.Properties.GroupName")))
                else {
                    return;
                };
                for user in self.strings(body, "Users", &format!("{at}.Properties.Users")) {
                    self.changes.push(Change::Member { account: account.clone(), user, group: group.clone() });
                }
            }
            "AWS::Organizations::Policy" => self.org_policy(name, body),
            "AWS::Organizations::OrganizationalUnit" => {
                let Some(ou) = prop(body, "Name").and_then(|v| self.string(v, &format!("{at}.Properties.Name"))) else {
                    return;
                };
                let Some(parent) =
                    prop(body, "ParentId").and_then(|v| self.string(v, &format!("{at}.Properties.ParentId")))
                else {
                    return;
                };
                let Some(id) = self.reference(name, logical.span) else { return };
                self.changes.push(Change::OrgUnit {
                    node: OrgNode {
                        kind: OrgNodeKind::OrganizationalUnit,
                        id: Spanned::new(id, body.span),
                        name: Some(ou),
                        policy_ids: Vec::new(),
                        children: Vec::new(),
                        span: body.span,
                    },
                    parent,
                });
            }
            _ => {}
        }
        if self.changes.len() > before {
            self.report.applied.push(format!("{}{at} ({rtype}): create", self.label));
        }
    }

    fn key(&mut self, name: &str, body: &Json, rtype: &str) {
        let at = format!("Resources.{name}");
        let Some(arn) = self.attribute(name, "Arn", body.span) else { return };
        let Some(id) = self.attribute(name, "KeyId", body.span) else { return };
        let account = self.x.pseudo.account.clone();
        let region = self.x.pseudo.region.clone();
        let replica = rtype == "AWS::KMS::ReplicaKey";
        if !replica {
            self.report.determined.push(Spanned::new(
                format!(
                    "{}{at} will be the key `{arn}` (AWS makes up its key id at deployment; keyproof calls it `{id}`)",
                    self.label
                ),
                body.span,
            ));
        }
        let policy = match prop(body, "KeyPolicy") {
            Some(v) => self.policy(v, PolicyKind::KeyPolicy, &format!("{at}.Properties.KeyPolicy")),
            None if replica => {
                // AWS::KMS::ReplicaKey: KeyPolicy is required.
                self.x.r.error(body.span, format!("replica key `{name}` has no KeyPolicy"), "missing KeyPolicy");
                None
            }
            None => {
                // AWS::KMS::Key: "If you don't specify a key policy, AWS KMS attaches a default
                // key policy" (KDG key-policy-default, the programmatic default).
                let text = default_key_policy(&account);
                let src = format!("{} → {at} (AWS's default key policy)", self.file);
                let sid = self.x.r.sources.add(src, text, Some(body.span));
                match crate::json::parse_json(self.x.r.sources, sid) {
                    Ok(doc) => parse_policy(self.x.r, &doc, PolicyKind::KeyPolicy),
                    Err(e) => {
                        self.x.r.errors.push(e);
                        None
                    }
                }
            }
        };
        let multi = replica
            || match bool_prop(self.x, body, "MultiRegion") {
                Ok(b) => b.unwrap_or(false),
                Err(f) => {
                    self.unknown(&format!("{at}.Properties.MultiRegion"), f);
                    false
                }
            };
        let primary = if replica {
            prop(body, "PrimaryKeyArn").and_then(|v| self.string(v, &format!("{at}.Properties.PrimaryKeyArn")))
        } else {
            None
        };
        let enabled = bool_prop(self.x, body, "Enabled").ok().flatten().unwrap_or(true);
        let string_prop = |s: &mut Self, p: &str| {
            prop(body, p).and_then(|v| s.string(v, &format!("{at}.Properties.{p}"))).map(|x| x.value)
        };
        let key = KeyFile {
            file: format!("{} → {}{at}", self.file, self.label),
            region,
            key_id: Spanned::new(id, body.span),
            arn: Spanned::new(arn, body.span),
            account: Spanned::new(account, body.span),
            key_manager: Some("CUSTOMER".into()),
            key_state: Some(if enabled { "Enabled" } else { "Disabled" }.into()),
            key_spec: string_prop(self, "KeySpec").or(Some("SYMMETRIC_DEFAULT".into())),
            key_usage: string_prop(self, "KeyUsage").or(Some("ENCRYPT_DECRYPT".into())),
            origin: string_prop(self, "Origin").or(Some("AWS_KMS".into())),
            enabled: Some(enabled),
            description: string_prop(self, "Description"),
            multi_region: multi,
            multi_region_type: if replica {
                Some("REPLICA".into())
            } else if multi {
                Some("PRIMARY".into())
            } else {
                None
            },
            primary_key_arn: primary,
            replica_key_arns: Vec::new(),
            // A policy that could not be read is reported (unknown or an error); the key stays,
            // allowing nothing, so that other answers still name it.
            policy: Some(policy.unwrap_or_else(|| empty_policy(body.span))),
            grants: Vec::new(),
            aliases: Vec::new(),
            rotation_enabled: bool_prop(self.x, body, "EnableKeyRotation").ok().flatten(),
            tags: self.tags(body, name),
            span: body.span,
        };
        self.changes.push(Change::Key(Box::new(key)));
    }

    /// Inline policies given on a role, user or group (`Policies`).
    fn inline_list(&mut self, name: &str, body: &Json) -> Vec<InlinePolicy> {
        let at = format!("Resources.{name}.Properties.Policies");
        let Some(v) = prop(body, "Policies") else { return Vec::new() };
        let Some(list) = self.resolved(v, &at) else { return Vec::new() };
        let mut out = Vec::new();
        for (i, p) in list.elements().unwrap_or_default().iter().enumerate() {
            let (Some(pname), Some(doc)) = (p.get("PolicyName").and_then(Json::scalar_text), p.get("PolicyDocument"))
            else {
                self.x.r.error(p.span, format!("`{at}[{i}]` needs PolicyName and PolicyDocument"), "incomplete policy");
                continue;
            };
            if let Some(document) = parse_policy_value(
                self.x.r,
                &stringify_scalars(doc.clone()),
                PolicyKind::Identity,
                &format!("{at}[{i}]"),
            ) {
                out.push(InlinePolicy { name: Spanned::new(pname, p.span), document });
            }
        }
        out
    }

    fn principal(&mut self, name: &str, body: &Json, rtype: &str) {
        let at = format!("Resources.{name}.Properties");
        let Some(pname) = self.reference(name, body.span) else { return };
        let Some(arn) = self.attribute(name, "Arn", body.span) else { return };
        let path = match path_of(self.x, body) {
            Ok(p) => p,
            Err(f) => {
                self.unknown(&format!("{at}.Path"), f);
                return;
            }
        };
        let inline = self.inline_list(name, body);
        let attached = self.strings(body, "ManagedPolicyArns", &format!("{at}.ManagedPolicyArns"));
        let boundary =
            prop(body, "PermissionsBoundary").and_then(|v| self.string(v, &format!("{at}.PermissionsBoundary")));
        let account = self.x.pseudo.account.clone();
        let unique = format!("cfn-unique-id-{}", sanitize(name));
        let arn = Spanned::new(arn, body.span);
        match rtype {
            "AWS::IAM::Role" => {
                let trust = match prop(body, "AssumeRolePolicyDocument") {
                    Some(v) => self.policy(v, PolicyKind::Trust, &format!("{at}.AssumeRolePolicyDocument")),
                    None => {
                        self.x.r.error(
                            body.span,
                            format!("role `{name}` has no AssumeRolePolicyDocument"),
                            "missing trust policy",
                        );
                        None
                    }
                };
                let tags = self.tags(body, name);
                self.changes.push(Change::Role {
                    account: account.clone(),
                    role: IamRole {
                        arn,
                        name: pname,
                        path,
                        id: unique,
                        trust,
                        inline,
                        attached,
                        boundary,
                        tags,
                        span: body.span,
                    },
                });
            }
            "AWS::IAM::User" => {
                let groups = self.strings(body, "Groups", &format!("{at}.Groups"));
                let tags = self.tags(body, name);
                let user_name = pname.clone();
                self.changes.push(Change::User {
                    account: account.clone(),
                    user: IamUser {
                        arn,
                        name: pname,
                        path,
                        id: unique,
                        groups: Vec::new(),
                        inline,
                        attached,
                        boundary,
                        tags,
                        span: body.span,
                    },
                });
                for g in groups {
                    self.changes.push(Change::Member {
                        account: account.clone(),
                        user: Spanned::new(user_name.clone(), body.span),
                        group: g,
                    });
                }
            }
            _ => {
                self.changes.push(Change::Group {
                    account: account.clone(),
                    group: IamGroup { arn, name: pname, path, id: unique, inline, attached, span: body.span },
                });
            }
        }
    }

    fn managed_policy(&mut self, name: &str, body: &Json) {
        let at = format!("Resources.{name}.Properties");
        let Some(arn) = self.reference(name, body.span) else { return };
        let Some(doc) = prop(body, "PolicyDocument") else {
            self.x.r.error(body.span, format!("`{name}` has no PolicyDocument"), "missing PolicyDocument");
            return;
        };
        let Some(document) = self.policy(doc, PolicyKind::Identity, &format!("{at}.PolicyDocument")) else { return };
        let account = self.x.pseudo.account.clone();
        let pname = arn.rsplit('/').next().unwrap_or_default().to_string();
        let arn_s = Spanned::new(arn, body.span);
        self.changes.push(Change::ManagedPolicy {
            account: account.clone(),
            policy: ManagedPolicy { arn: arn_s.clone(), name: pname, default_version: Some(document), span: body.span },
        });
        for (list, owner) in [("Roles", Owner::Role), ("Users", Owner::User), ("Groups", Owner::Group)] {
            for o in self.strings(body, list, &format!("{at}.{list}")) {
                self.changes.push(Change::Attach {
                    account: account.clone(),
                    owner,
                    owner_name: o,
                    policy_arn: arn_s.clone(),
                });
            }
        }
    }

    fn inline_policy(&mut self, name: &str, body: &Json, rtype: &str) {
        let at = format!("Resources.{name}.Properties");
        let Some(pname) = prop(body, "PolicyName").and_then(|v| self.string(v, &format!("{at}.PolicyName"))) else {
            if prop(body, "PolicyName").is_none() {
                self.x.r.error(body.span, format!("`{name}` has no PolicyName"), "missing PolicyName");
            }
            return;
        };
        let Some(doc) = prop(body, "PolicyDocument") else {
            self.x.r.error(body.span, format!("`{name}` has no PolicyDocument"), "missing PolicyDocument");
            return;
        };
        let Some(document) = self.policy(doc, PolicyKind::Identity, &format!("{at}.PolicyDocument")) else { return };
        let account = self.x.pseudo.account.clone();
        let owners: Vec<(Owner, Spanned<String>)> = match rtype {
            "AWS::IAM::RolePolicy" => prop(body, "RoleName")
                .and_then(|v| self.string(v, &format!("{at}.RoleName")))
                .map(|o| (Owner::Role, o))
                .into_iter()
                .collect(),
            "AWS::IAM::UserPolicy" => prop(body, "UserName")
                .and_then(|v| self.string(v, &format!("{at}.UserName")))
                .map(|o| (Owner::User, o))
                .into_iter()
                .collect(),
            "AWS::IAM::GroupPolicy" => prop(body, "GroupName")
                .and_then(|v| self.string(v, &format!("{at}.GroupName")))
                .map(|o| (Owner::Group, o))
                .into_iter()
                .collect(),
            _ => [("Roles", Owner::Role), ("Users", Owner::User), ("Groups", Owner::Group)]
                .into_iter()
                .flat_map(|(l, o)| {
                    self.strings(body, l, &format!("{at}.{l}")).into_iter().map(move |n| (o, n)).collect::<Vec<_>>()
                })
                .collect(),
        };
        for (owner, owner_name) in owners {
            self.changes.push(Change::Inline {
                account: account.clone(),
                owner,
                owner_name,
                policy: InlinePolicy { name: pname.clone(), document: document.clone() },
            });
        }
    }

    fn org_policy(&mut self, name: &str, body: &Json) {
        let at = format!("Resources.{name}.Properties");
        let ptype = prop(body, "Type").and_then(|v| self.string(v, &format!("{at}.Type")));
        let (policy_type, kind) = match ptype.as_ref().map(|p| p.value.as_str()) {
            Some("SERVICE_CONTROL_POLICY") => (OrgPolicyType::Scp, PolicyKind::Scp),
            Some("RESOURCE_CONTROL_POLICY") => (OrgPolicyType::Rcp, PolicyKind::Rcp),
            Some(other) => {
                self.report.not_modelled.push(Spanned::new(
                    format!("Resources.{name}: Organizations policy of type {other} does not affect KMS authorization and is not modelled"),
                    body.span,
                ));
                return;
            }
            None => return,
        };
        let Some(id) = self.reference(name, body.span) else { return };
        let Some(content) = prop(body, "Content") else {
            self.x.r.error(body.span, format!("`{name}` has no Content"), "missing Content");
            return;
        };
        let Some(document) = self.policy(content, kind, &format!("{at}.Content")) else { return };
        let pname = prop(body, "Name")
            .and_then(|v| self.string(v, &format!("{at}.Name")))
            .map_or_else(|| id.clone(), |n| n.value);
        let targets = self.strings(body, "TargetIds", &format!("{at}.TargetIds"));
        self.changes.push(Change::OrgPolicy {
            policy: OrgPolicy {
                id: Spanned::new(id, body.span),
                name: pname,
                policy_type,
                aws_managed: false,
                document,
            },
            targets,
        });
    }
}

/// Policy documents hold strings: a YAML number or boolean (`Bool: {aws:SecureTransport: false}`,
/// an account id written without quotes) is the text CloudFormation sends to IAM.
pub fn stringify_scalars(j: Json) -> Json {
    let kind = match j.kind {
        JsonKind::Number(n) => JsonKind::String(n),
        JsonKind::Bool(b) => JsonKind::String(b.to_string()),
        JsonKind::Array(a) => JsonKind::Array(a.into_iter().map(stringify_scalars).collect()),
        JsonKind::Object(m) => JsonKind::Object(m.into_iter().map(|(k, v)| (k, stringify_scalars(v))).collect()),
        other => other,
    };
    Json { kind, span: j.span }
}
