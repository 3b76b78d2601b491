//! Terraform plans as input: the JSON that `terraform show -json PLANFILE` prints (format 1.x),
//! overlaid on a snapshot's raw files, so that every command can answer for the state after the
//! plan is applied (`--plan plan.json`).
//!
//! What is read: `resource_changes[].change` (`actions`, `before`, `after`, `after_unknown`) of
//! the resources that decide KMS access (the list is [`MODELLED`]), and `configuration` for two
//! things the changes do not say: which provider (so which account and region) a resource
//! belongs to, and which resource an unknown attribute refers to (`aws_kms_key.reports.key_id`).
//!
//! Values unknown at plan time are modelled as what they will be where that is determined (a
//! new key's ARN is in its provider's account and region, with a placeholder key id; a new
//! role's ARN follows from its name and path); any other unknown value that matters is reported
//! in [`PlanReport::unknown`], never taken as nothing. Resources keyproof does not model are
//! listed in [`PlanReport::not_modelled`].
//!
//! Every policy read from the plan keeps its span: the embedded document's source is named after
//! the plan file, the Terraform resource address and the JSON path of the attribute.

use crate::err::ParseError;
use crate::json::{parse_json, Json, JsonKind, Reader};
use crate::policy::{parse_policy_value, Policy, PolicyKind};
use crate::snapshot::{
    is_account_id, AccountFiles, IamFile, IamGroup, IamRole, IamUser, InlinePolicy, KeyFile, ManagedPolicy, OrgNode,
    OrgPolicy, OrgPolicyType, RawGrant, RawSnapshot, Tag,
};
use crate::source::{SourceId, SourceMap, Span, Spanned};
use std::collections::HashMap;
use std::path::Path;

/// The resource types the overlay models.
pub const MODELLED: &[&str] = &[
    "aws_kms_key",
    "aws_kms_key_policy",
    "aws_kms_grant",
    "aws_kms_alias",
    "aws_kms_replica_key",
    "aws_organizations_policy",
    "aws_organizations_policy_attachment",
    "aws_iam_role",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_iam_policy",
    "aws_iam_user",
    "aws_iam_user_policy",
    "aws_iam_user_policy_attachment",
    "aws_iam_user_group_membership",
    "aws_iam_group",
    "aws_iam_group_policy",
    "aws_iam_group_policy_attachment",
    "aws_iam_group_membership",
];

/// What the user tells keyproof about the plan that the plan itself may not say.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// The account the default AWS provider deploys to (`--plan-account`).
    pub account: Option<String>,
    /// Its region (`--plan-region`), when the provider configuration does not give it.
    pub region: Option<String>,
}

/// What the overlay did, and what it could not do.
#[derive(Debug, Clone, Default)]
pub struct PlanReport {
    /// The plan file as given.
    pub file: String,
    /// Every change applied: `aws_kms_grant.test_app: create`.
    pub applied: Vec<String>,
    /// Resources in the plan that keyproof does not model.
    pub not_modelled: Vec<Spanned<String>>,
    /// Values unknown at plan time that decide access: the answers do not cover them (exit 2).
    pub unknown: Vec<Spanned<String>>,
    /// Values keyproof determined although the plan shows them unknown (a new key's ARN).
    pub determined: Vec<Spanned<String>>,
}

/// One entry of `resource_changes`.
struct Res<'j> {
    address: String,
    module: Option<String>,
    rtype: String,
    index: usize,
    actions: Vec<String>,
    before: Option<&'j Json>,
    after: Option<&'j Json>,
    after_unknown: Option<&'j Json>,
    /// The resource's `expressions` in `configuration`.
    expressions: Option<&'j Json>,
    /// Its provider's `expressions` in `configuration.provider_config`.
    provider: Option<&'j Json>,
    span: Span,
}

impl Res<'_> {
    fn creates(&self) -> bool {
        self.actions.iter().any(|a| a == "create")
    }
    fn deletes(&self) -> bool {
        self.actions.iter().any(|a| a == "delete")
    }
    fn updates(&self) -> bool {
        self.actions.iter().any(|a| a == "update")
    }
    /// The JSON path of an attribute of `after`, for messages and source names.
    fn path(&self, attr: &str) -> String {
        format!("resource_changes[{}].change.after.{attr}", self.index)
    }
}

/// An attribute of the planned state.
enum Val<'j> {
    Known(&'j Json),
    /// Null or not set.
    Absent,
    /// Known only after apply.
    Unknown,
}

fn after_attr<'j>(res: &Res<'j>, attr: &str) -> Val<'j> {
    if res.after_unknown.and_then(|u| u.get(attr)).and_then(Json::as_bool) == Some(true) {
        return Val::Unknown;
    }
    match res.after.and_then(|a| a.get(attr)) {
        None | Some(Json { kind: JsonKind::Null, .. }) => Val::Absent,
        Some(v) => Val::Known(v),
    }
}

/// Whether the configuration sets an attribute at all (an unset optional+computed attribute,
/// such as `aws_kms_key.policy`, is unknown in the plan but takes AWS's default).
fn configured(res: &Res<'_>, attr: &str) -> bool {
    res.expressions.and_then(|e| e.get(attr)).is_some()
}

/// The resource addresses an attribute's expression refers to (`aws_kms_key.reports.key_id`).
fn references(res: &Res<'_>, attr: &str) -> Vec<String> {
    let Some(refs) = res.expressions.and_then(|e| e.get(attr)).and_then(|x| x.get("references")) else {
        return Vec::new();
    };
    refs.elements()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            r.as_str().map(|s| match &res.module {
                Some(m) => format!("{m}.{s}"),
                None => s.to_string(),
            })
        })
        .collect()
}

fn constant<'j>(provider: Option<&'j Json>, attr: &str) -> Option<&'j Json> {
    provider?.get(attr)?.get("constant_value")
}

/// The overlay's working state.
struct Overlay<'a, 'j> {
    r: Reader<'a>,
    raw: &'a mut RawSnapshot,
    options: &'a PlanOptions,
    report: PlanReport,
    plan_name: String,
    /// `address.attribute` → the value it will have, for attributes unknown at plan time that
    /// keyproof determines.
    determined: HashMap<String, String>,
    resources: Vec<Res<'j>>,
}

/// Reads a plan file into the source map.
pub fn read_plan_file(path: &Path, sources: &mut SourceMap) -> Result<(SourceId, Json), ParseError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ParseError::Io { path: path.display().to_string(), source: e })?;
    let id = sources.add(path.display().to_string(), text, None);
    let json = parse_json(sources, id)?;
    Ok((id, json))
}

/// Overlays a plan on a snapshot's raw files. Errors (another format version, a malformed
/// policy, a change to a key that is not in the snapshot) are all reported together.
pub fn apply_plan(
    raw: &mut RawSnapshot,
    sources: &mut SourceMap,
    plan: &Json,
    options: &PlanOptions,
) -> Result<PlanReport, ParseError> {
    let plan_name = sources.name(plan.span.source).to_string();
    let mut r = Reader::new(sources);
    if r.object(plan, "the plan").is_none() {
        return Err(finish(r, &plan_name));
    }
    match plan.get("format_version") {
        Some(v) if v.as_str().is_some_and(|s| s.starts_with("1.")) => {}
        Some(v) => {
            r.error(
                v.span,
                format!(
                    "plan format version {} is not supported; keyproof reads format 1.x",
                    v.scalar_text().unwrap_or_else(|| v.type_name().to_string())
                ),
                "expected \"1.x\"",
            );
            return Err(finish(r, &plan_name));
        }
        None => {
            r.error(
                plan.span,
                "this is not a Terraform plan in JSON: it has no `format_version`",
                "expected the output of `terraform show -json PLANFILE`",
            );
            return Err(finish(r, &plan_name));
        }
    }
    let configs = config_index(plan);
    let mut resources = Vec::new();
    for (index, rc) in plan.get("resource_changes").and_then(Json::elements).unwrap_or_default().iter().enumerate() {
        let (Some(address), Some(rtype)) = (r.req_string(rc, "address"), r.req_string(rc, "type")) else {
            continue;
        };
        if rc.get("mode").and_then(Json::as_str) == Some("data") {
            continue;
        }
        let Some(change) = r.req(rc, "change") else { continue };
        let actions = r.string_list(change, "actions").into_iter().map(|a| a.value).collect();
        let module = rc.get("module_address").and_then(Json::as_str).map(str::to_string);
        // The configuration address: without module and instance keys.
        let name = rc.get("name").and_then(Json::as_str).unwrap_or_default();
        let config_address = match &module {
            Some(m) => format!("{}.{}.{name}", strip_module_indexes(m), rtype.value),
            None => format!("{}.{name}", rtype.value),
        };
        let (expressions, provider) = match configs.get(&config_address) {
            Some((e, p)) => (*e, *p),
            None => (None, None),
        };
        resources.push(Res {
            address: address.value,
            module,
            rtype: rtype.value,
            index,
            actions,
            before: non_null(change.get("before")),
            after: non_null(change.get("after")),
            after_unknown: change.get("after_unknown"),
            expressions,
            provider,
            span: rc.span,
        });
    }
    let mut o = Overlay {
        r,
        raw,
        options,
        report: PlanReport { file: plan_name.clone(), ..PlanReport::default() },
        plan_name: plan_name.clone(),
        determined: HashMap::new(),
        resources: Vec::new(),
    };
    o.determine(&resources);
    o.resources = resources;
    o.run();
    let Overlay { r, report, .. } = o;
    r.finish(&plan_name)?;
    Ok(report)
}

fn finish(r: Reader<'_>, scope: &str) -> ParseError {
    match r.finish(scope) {
        Err(e) => e,
        Ok(()) => ParseError::Snapshot { message: format!("`{scope}` is not a Terraform plan"), help: None },
    }
}

/// `module.a["x"].module.b[0]` → `module.a.module.b`.
fn strip_module_indexes(m: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in m.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Configuration address → (its `expressions`, its provider's `expressions`).
fn config_index(plan: &Json) -> HashMap<String, (Option<&Json>, Option<&Json>)> {
    let mut out = HashMap::new();
    let Some(config) = plan.get("configuration") else { return out };
    let providers = config.get("provider_config");
    fn walk<'j>(
        module: &'j Json,
        prefix: &str,
        providers: Option<&'j Json>,
        out: &mut HashMap<String, (Option<&'j Json>, Option<&'j Json>)>,
    ) {
        for res in module.get("resources").and_then(Json::elements).unwrap_or_default() {
            let Some(addr) = res.get("address").and_then(Json::as_str) else { continue };
            let key = res.get("provider_config_key").and_then(Json::as_str).unwrap_or("aws");
            let provider = providers.and_then(|p| p.get(key)).and_then(|p| p.get("expressions"));
            out.insert(format!("{prefix}{addr}"), (res.get("expressions"), provider));
        }
        for (name, call) in module.get("module_calls").and_then(Json::members).unwrap_or_default() {
            if let Some(inner) = call.get("module") {
                walk(inner, &format!("{prefix}module.{}.", name.value), providers, out);
            }
        }
    }
    if let Some(root) = config.get("root_module") {
        walk(root, "", providers, &mut out);
    }
    out
}

/// AWS's default key policy, which a key created without one gets (KDG key-policy-default):
/// the account may use IAM policies to allow access to the key.
pub fn default_key_policy(account: &str) -> String {
    format!(
        "{{\"Version\":\"2012-10-17\",\"Id\":\"key-default-1\",\"Statement\":[{{\"Sid\":\"Enable IAM User Permissions\",\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{account}:root\"}},\"Action\":\"kms:*\",\"Resource\":\"*\"}}]}}"
    )
}

impl<'j> Overlay<'_, 'j> {
    /// The account and region of a resource's provider.
    fn placement(&mut self, res: &Res<'_>) -> Option<(String, String)> {
        let mut account = None;
        if let Some([one]) = constant(res.provider, "allowed_account_ids").and_then(Json::elements) {
            account = one.as_str().map(str::to_string);
        }
        if account.is_none() {
            account = res
                .provider
                .and_then(|p| p.get("assume_role"))
                .and_then(|a| a.elements().and_then(|e| e.first()).or(Some(a)))
                .and_then(|a| constant(Some(a), "role_arn"))
                .and_then(Json::as_str)
                .and_then(|arn| arn.split(':').nth(4))
                .filter(|a| is_account_id(a))
                .map(str::to_string);
        }
        if account.is_none() {
            account = self.options.account.clone();
        }
        if account.is_none() {
            // The snapshot's only account with keys: determined, and said so.
            let with_keys: Vec<&str> =
                self.raw.accounts.iter().filter(|a| !a.keys.is_empty()).map(|a| a.id.as_str()).collect();
            if let [one] = with_keys.as_slice() {
                let one = one.to_string();
                let note = format!(
                    "the AWS provider names no account; keyproof takes {one}, the snapshot's only account with KMS keys (pass --plan-account to choose)"
                );
                if !self.report.determined.iter().any(|d| d.value == note) {
                    self.report.determined.push(Spanned::new(note, res.span));
                }
                account = Some(one);
            }
        }
        let region = constant(res.provider, "region")
            .and_then(Json::as_str)
            .map(str::to_string)
            .or_else(|| self.options.region.clone());
        match (account, region) {
            (Some(a), Some(r)) => Some((a, r)),
            (None, _) => {
                let e = ParseError::at(
                    self.r.sources,
                    res.span,
                    format!("cannot tell which AWS account `{}` is deployed to", res.address),
                    "the provider configuration names no account",
                )
                .with_help("pass --plan-account ACCOUNT_ID, or set allowed_account_ids in the provider");
                self.r.errors.push(e);
                None
            }
            (_, None) => {
                self.r.error(
                    res.span,
                    format!("cannot tell which AWS region `{}` is deployed to", res.address),
                    "the provider configuration names no region",
                );
                None
            }
        }
    }

    /// First pass: the values that are unknown at plan time but determined.
    fn determine(&mut self, resources: &[Res<'j>]) {
        for res in resources {
            if !res.creates() {
                // Existing resources: their `after` holds their identifiers.
                for attr in ["arn", "id", "key_id", "name", "grant_id"] {
                    if let Val::Known(v) = after_attr(res, attr) {
                        if let Some(s) = v.as_str() {
                            self.determined.insert(format!("{}.{attr}", res.address), s.to_string());
                        }
                    }
                }
                continue;
            }
            let known = |attr: &str| match after_attr(res, attr) {
                Val::Known(v) => v.as_str().map(str::to_string),
                _ => None,
            };
            let set = |o: &mut Self, attr: &str, value: String| {
                o.determined.insert(format!("{}.{attr}", res.address), value);
            };
            for attr in ["arn", "id", "key_id", "name"] {
                if let Some(v) = known(attr) {
                    set(self, attr, v);
                }
            }
            match res.rtype.as_str() {
                "aws_kms_key" | "aws_kms_replica_key" => {
                    let Some((account, region)) = self.placement(res) else { continue };
                    let id = match res.rtype.as_str() {
                        "aws_kms_replica_key" => match self.primary_of(res) {
                            Some(primary) => primary.rsplit('/').next().unwrap_or_default().to_string(),
                            None => placeholder_key_id(&res.address),
                        },
                        _ => placeholder_key_id(&res.address),
                    };
                    let arn = format!("arn:aws:kms:{region}:{account}:key/{id}");
                    set(self, "arn", arn.clone());
                    set(self, "key_id", id.clone());
                    set(self, "id", id.clone());
                    self.report.determined.push(Spanned::new(
                        format!(
                            "{} will be the key `{arn}` (its key id is known after apply; keyproof calls it `{id}`)",
                            res.address
                        ),
                        res.span,
                    ));
                }
                "aws_iam_role" | "aws_iam_user" | "aws_iam_group" | "aws_iam_policy" => {
                    let Some(name) = known("name") else { continue };
                    let Some((account, _)) = self.placement(res) else { continue };
                    let path = known("path").unwrap_or_else(|| "/".into());
                    let kind = res.rtype.trim_start_matches("aws_iam_");
                    let arn = format!("arn:aws:iam::{account}:{kind}{path}{name}");
                    set(self, "arn", arn.clone());
                    set(self, "id", if kind == "policy" { arn } else { name.clone() });
                    set(self, "name", name);
                }
                "aws_organizations_policy" => {
                    let id = format!("p-tf-{}", sanitize(&res.address));
                    set(self, "id", id);
                }
                _ => {}
            }
        }
    }

    /// The primary key ARN of a replica key.
    fn primary_of(&self, res: &Res<'_>) -> Option<String> {
        match after_attr(res, "primary_key_arn") {
            Val::Known(v) => v.as_str().map(str::to_string),
            _ => self.by_reference(res, "primary_key_arn"),
        }
    }

    /// An attribute that is unknown at plan time, when its expression refers to a value
    /// keyproof determined.
    fn by_reference(&self, res: &Res<'_>, attr: &str) -> Option<String> {
        references(res, attr).iter().find_map(|r| self.determined.get(r).cloned())
    }

    /// A string attribute: known, determined through a reference, absent, or reported unknown.
    fn string(&mut self, res: &Res<'j>, attr: &str, why: &str) -> Option<Spanned<String>> {
        match after_attr(res, attr) {
            Val::Known(v) => match v.as_str() {
                Some(s) => Some(Spanned::new(s.to_string(), v.span)),
                None => {
                    self.r.error(v.span, format!("`{}` must be a string", res.path(attr)), "expected a string");
                    None
                }
            },
            Val::Absent => None,
            Val::Unknown => match self.by_reference(res, attr) {
                Some(v) => Some(Spanned::new(v, res.span)),
                None => {
                    self.unknown(res, format!("`{}` of {} is known only after apply: {why}", attr, res.address));
                    None
                }
            },
        }
    }

    fn unknown(&mut self, res: &Res<'_>, text: String) {
        self.report.unknown.push(Spanned::new(text, res.span));
    }

    /// A policy document attribute (a JSON string in the plan).
    fn policy(&mut self, res: &Res<'j>, attr: &str, kind: PolicyKind, why: &str) -> Option<Policy> {
        match after_attr(res, attr) {
            Val::Known(v) if v.as_str().is_some_and(|s| s.trim().is_empty()) => None,
            Val::Known(v) => {
                let what = format!("{} ({})", res.address, res.path(attr));
                parse_policy_value(&mut self.r, v, kind, &what)
            }
            Val::Absent => None,
            Val::Unknown => {
                self.unknown(res, format!("the {attr} of {} is known only after apply: {why}", res.address));
                None
            }
        }
    }

    /// A policy given as text keyproof makes (AWS's default key policy), with a source of its
    /// own named after the resource.
    fn synthetic_policy(&mut self, res: &Res<'_>, text: String, what: &str) -> Option<Policy> {
        let name = format!("{} → {} ({what})", self.plan_name, res.address);
        let id = self.r.sources.add(name, text, Some(res.span));
        match parse_json(self.r.sources, id) {
            Ok(doc) => crate::policy::parse_policy(&mut self.r, &doc, PolicyKind::KeyPolicy),
            Err(e) => {
                self.r.errors.push(e);
                None
            }
        }
    }

    fn run(&mut self) {
        let resources = std::mem::take(&mut self.resources);
        // Dependencies first: keys before their policies, grants and aliases; managed policies
        // and principals before attachments; Organizations policies before attachments.
        let order = |t: &str| MODELLED.iter().position(|m| *m == t).unwrap_or(usize::MAX);
        let mut sorted: Vec<&Res<'j>> = resources.iter().collect();
        sorted.sort_by_key(|r| {
            let rank = match r.rtype.as_str() {
                "aws_kms_key" | "aws_kms_replica_key" => 0,
                "aws_iam_policy" | "aws_organizations_policy" => 1,
                "aws_iam_role" | "aws_iam_user" | "aws_iam_group" => 2,
                _ => 3,
            };
            (rank, order(&r.rtype), r.index)
        });
        for res in sorted {
            let noop = res.actions.iter().all(|a| a == "no-op" || a == "read");
            if !MODELLED.contains(&res.rtype.as_str()) {
                if !noop && res.rtype.starts_with("aws_") {
                    self.report.not_modelled.push(Spanned::new(
                        format!("{} ({}): not modelled by keyproof", res.address, res.rtype),
                        res.span,
                    ));
                }
                continue;
            }
            if noop {
                continue;
            }
            let other_org_policy = res.rtype == "aws_organizations_policy"
                && !matches!(
                    string_of(res, "type").as_deref(),
                    None | Some("SERVICE_CONTROL_POLICY" | "RESOURCE_CONTROL_POLICY")
                );
            if !other_org_policy {
                self.report.applied.push(format!("{}: {}", res.address, res.actions.join(", ")));
            }
            match res.rtype.as_str() {
                "aws_kms_key" | "aws_kms_replica_key" => self.kms_key(res, &resources),
                "aws_kms_key_policy" => self.kms_key_policy(res),
                "aws_kms_grant" => self.kms_grant(res),
                "aws_kms_alias" => self.kms_alias(res),
                "aws_organizations_policy" => self.org_policy(res),
                "aws_organizations_policy_attachment" => self.org_attachment(res),
                "aws_iam_policy" => self.iam_policy(res),
                "aws_iam_role" | "aws_iam_user" | "aws_iam_group" => self.iam_principal(res),
                "aws_iam_role_policy" | "aws_iam_user_policy" | "aws_iam_group_policy" => self.iam_inline(res),
                "aws_iam_role_policy_attachment"
                | "aws_iam_user_policy_attachment"
                | "aws_iam_group_policy_attachment" => self.iam_attachment(res),
                "aws_iam_user_group_membership" | "aws_iam_group_membership" => self.iam_membership(res),
                _ => {}
            }
        }
        self.resources = resources;
    }

    // -- KMS ----------------------------------------------------------------------------------

    /// The key a KMS resource's `key_id` (or `target_key_id`) names: an ARN, a key id, or a
    /// reference to a key of the plan. `None` after reporting why.
    fn target_key(&mut self, res: &Res<'j>, attr: &str) -> Option<(usize, usize)> {
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

    fn find_key(&self, text: &str, res: &Res<'_>) -> Option<(usize, usize)> {
        let region = constant(res.provider, "region").and_then(Json::as_str).or(self.options.region.as_deref());
        for (ai, a) in self.raw.accounts.iter().enumerate() {
            for (ki, k) in a.keys.iter().enumerate() {
                let by_id = k.key_id.value == text && region.is_none_or(|r| r == k.region);
                if k.arn.value == text || by_id || k.aliases.iter().any(|al| al.value == text) {
                    return Some((ai, ki));
                }
            }
        }
        None
    }

    fn account_mut(&mut self, account: &str) -> &mut AccountFiles {
        if let Some(i) = self.raw.accounts.iter().position(|a| a.id == account) {
            return &mut self.raw.accounts[i];
        }
        self.raw.accounts.push(AccountFiles {
            id: account.to_string(),
            iam: None,
            keys: Vec::new(),
            not_collected: None,
            notes: Vec::new(),
        });
        let last = self.raw.accounts.len() - 1;
        &mut self.raw.accounts[last]
    }

    fn tags(&mut self, res: &Res<'j>) -> Vec<Tag> {
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

    fn kms_key(&mut self, res: &Res<'j>, all: &[Res<'j>]) {
        let before_arn = res.before.and_then(|b| b.get("arn")).and_then(Json::as_str).map(str::to_string);
        if res.deletes() {
            match before_arn.as_deref().and_then(|arn| self.find_key(arn, res)) {
                Some((ai, ki)) => {
                    self.raw.accounts[ai].keys.remove(ki);
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
            self.account_mut(&account).keys.push(key);
        } else if res.updates() {
            let Some((ai, ki)) = before_arn.as_deref().and_then(|arn| self.find_key(arn, res)) else {
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
            let key = &mut self.raw.accounts[ai].keys[ki];
            if let Some(p) = policy {
                key.policy = Some(p);
            }
            key.tags = tags;
        }
    }

    fn kms_key_policy(&mut self, res: &Res<'j>) {
        if res.deletes() && !res.creates() {
            // Deleting the resource leaves the key's policy as it is (the provider restores
            // nothing): the snapshot's policy stays.
            return;
        }
        let Some((ai, ki)) = self.target_key(res, "key_id") else { return };
        let policy = self.policy(res, "policy", PolicyKind::KeyPolicy, "the key's access cannot be decided");
        if let Some(p) = policy {
            self.raw.accounts[ai].keys[ki].policy = Some(p);
        }
    }

    fn kms_grant(&mut self, res: &Res<'j>) {
        if res.deletes() {
            let grant_id = res.before.and_then(|b| b.get("grant_id")).and_then(Json::as_str).unwrap_or_default();
            let key_id = res.before.and_then(|b| b.get("key_id")).and_then(Json::as_str).unwrap_or_default();
            let found = self.find_key(key_id, res);
            let removed = found.is_some_and(|(ai, ki)| {
                let grants = &mut self.raw.accounts[ai].keys[ki].grants;
                let n = grants.len();
                grants.retain(|g| g.grant_id.value != grant_id);
                grants.len() < n
            });
            if !removed {
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
        let Some((ai, ki)) = self.target_key(res, "key_id") else { return };
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
        let account = self.raw.accounts[ai].id.clone();
        self.raw.accounts[ai].keys[ki].grants.push(RawGrant {
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
    }

    fn kms_alias(&mut self, res: &Res<'j>) {
        if res.deletes() || res.updates() {
            if let Some(name) = res.before.and_then(|b| b.get("name")).and_then(Json::as_str) {
                for a in &mut self.raw.accounts {
                    for k in &mut a.keys {
                        k.aliases.retain(|al| al.value != name);
                    }
                }
            }
            if !res.creates() && !res.updates() {
                return;
            }
        }
        let Some(name) = self.string(res, "name", "it names the alias") else { return };
        let Some((ai, ki)) = self.target_key(res, "target_key_id") else { return };
        self.raw.accounts[ai].keys[ki].aliases.push(name);
    }

    // -- Organizations --------------------------------------------------------------------------

    fn org_policy(&mut self, res: &Res<'j>) {
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

    fn org_attachment(&mut self, res: &Res<'j>) {
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

    // -- IAM ------------------------------------------------------------------------------------

    /// The IAM file of the resource's account; `None` (reported) when the account's IAM was not
    /// collected: adding principals to it would turn its open world into a closed one.
    fn iam_of(&mut self, res: &Res<'j>) -> Option<&mut IamFile> {
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

    fn iam_policy(&mut self, res: &Res<'j>) {
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
        iam.policies.retain(|p| p.arn.value != arn);
        iam.policies.push(ManagedPolicy {
            arn: Spanned::new(arn, res.span),
            name,
            default_version: Some(document),
            span: res.span,
        });
    }

    fn iam_principal(&mut self, res: &Res<'j>) {
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
    fn iam_inline(&mut self, res: &Res<'j>) {
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
    fn iam_attachment(&mut self, res: &Res<'j>) {
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
    fn iam_membership(&mut self, res: &Res<'j>) {
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

fn non_null(v: Option<&Json>) -> Option<&Json> {
    v.filter(|j| !matches!(j.kind, JsonKind::Null))
}

fn string_of(res: &Res<'_>, attr: &str) -> Option<String> {
    match after_attr(res, attr) {
        Val::Known(v) => v.as_str().map(str::to_string),
        _ => None,
    }
}

/// A key id that stands for one known only after apply.
fn placeholder_key_id(address: &str) -> String {
    format!("tf-{}", sanitize(address))
}

/// An address as a name part: `module.a.aws_kms_key.x["k"]` → `module.a.aws_kms_key.x-k`.
fn sanitize(address: &str) -> String {
    let mut out = String::new();
    for c in address.chars() {
        match c {
            '[' => out.push('-'),
            ']' | '"' => {}
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') => out.push(c),
            _ => out.push('-'),
        }
    }
    out
}

/// A key policy that allows nothing, for a key whose policy comes from elsewhere.
fn empty_policy(span: Span) -> Policy {
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

fn detach_everywhere(nodes: &mut [OrgNode], id: &str) {
    for n in nodes {
        n.policy_ids.retain(|p| p.value != id);
        detach_everywhere(&mut n.children, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_instance_keys_are_dropped_from_configuration_addresses() {
        assert_eq!(strip_module_indexes("module.a[\"x\"].module.b[0]"), "module.a.module.b");
        assert_eq!(strip_module_indexes("module.a"), "module.a");
    }

    #[test]
    fn placeholder_key_ids_keep_to_arn_characters() {
        assert_eq!(placeholder_key_id("aws_kms_key.reports"), "tf-aws_kms_key.reports");
        assert_eq!(placeholder_key_id("module.m.aws_kms_key.k[\"eu west\"]"), "tf-module.m.aws_kms_key.k-eu-west");
    }

    #[test]
    fn the_default_key_policy_parses_and_delegates_to_the_account() {
        let mut sources = SourceMap::new();
        let id = sources.add("default", default_key_policy("111122223333"), None);
        let json = parse_json(&sources, id).unwrap_or_else(|e| panic!("{e}"));
        let mut r = Reader::new(&mut sources);
        let policy = crate::policy::parse_policy(&mut r, &json, PolicyKind::KeyPolicy);
        assert!(r.finish("default").is_ok());
        let policy = policy.unwrap_or_else(|| panic!("no policy"));
        assert_eq!(policy.statements.len(), 1);
    }

    #[test]
    fn another_format_version_is_an_error_at_its_place() {
        let mut sources = SourceMap::new();
        let id = sources.add("plan.json", r#"{"format_version": "0.2", "resource_changes": []}"#.into(), None);
        let json = parse_json(&sources, id).unwrap_or_else(|e| panic!("{e}"));
        let mut raw = RawSnapshot::default();
        let err = apply_plan(&mut raw, &mut sources, &json, &PlanOptions::default()).err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(text, "plan format version 0.2 is not supported; keyproof reads format 1.x");
    }
}
