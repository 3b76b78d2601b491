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
//! The module is split by concept: this file reads the plan and decides the values known only
//! after apply; `kms.rs`, `iam.rs` and `org.rs` turn each resource type into
//! [`crate::overlay::apply::Change`]s, which [`crate::overlay::apply::apply`] applies to the raw
//! snapshot one resource at a time in dependency order (so a resource sees what the ones before
//! it created). They only read the snapshot, to resolve and check what a change names.
//!
//! Every policy read from the plan keeps its span: the embedded document's source is named after
//! the plan file, the Terraform resource address and the JSON path of the attribute.

use crate::err::ParseError;
use crate::json::{parse_json, Json, JsonKind, Reader};
use crate::overlay::OverlayReport;
use crate::policy::{parse_policy_value, Policy, PolicyKind};
use crate::snapshot::{is_account_id, RawSnapshot};
use crate::source::{SourceId, SourceMap, Span, Spanned};
use std::collections::HashMap;
use std::path::Path;

mod iam;
mod kms;
mod org;

/// The resource types the overlay models.
pub const MODELLED: &[&str] = &[
    "aws_kms_key",
    "aws_kms_key_policy",
    "aws_kms_grant",
    "aws_kms_alias",
    "aws_kms_replica_key",
    "aws_organizations_policy",
    "aws_organizations_policy_attachment",
    "aws_organizations_organization",
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

/// What the overlay of a plan did, and what it could not do (the shared overlay report).
pub type PlanReport = OverlayReport;

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

impl<'j> Res<'j> {
    /// A string attribute of the state before the change (what a deletion or replacement
    /// removes).
    fn before_str(&self, attr: &str) -> Option<&'j str> {
        self.before.and_then(|b| b.get(attr)).and_then(Json::as_str)
    }
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
        std::fs::read_to_string(path).map_err(|e| ParseError::Io { path: path.display().to_string(), error: e })?;
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
        report: PlanReport { input: "plan", file: plan_name.clone(), ..PlanReport::default() },
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

pub use crate::overlay::default_key_policy;

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

    /// Applies one change through the shared overlay layer.
    fn change(&mut self, change: crate::overlay::apply::Change) {
        crate::overlay::apply::apply(self.raw, &mut self.r, &mut self.report, vec![change]);
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
            if res.rtype == "aws_organizations_organization" {
                // Its enabled policy types are the state whether or not the plan changes them.
                self.org_organization(res);
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

    #[test]
    fn enabled_policy_types_become_the_roots_policy_types() {
        use crate::snapshot::{OrgFile, OrgPolicyType, PolicyTypeStatus};
        let plan = r#"{"format_version": "1.2", "resource_changes": [{"address": "aws_organizations_organization.o",
            "type": "aws_organizations_organization", "name": "o", "change": {"actions": ["update"],
            "before": {"enabled_policy_types": []},
            "after": {"enabled_policy_types": ["SERVICE_CONTROL_POLICY", "TAG_POLICY"]}, "after_unknown": {}}}]}"#;
        let mut sources = SourceMap::new();
        let id = sources.add("plan.json", plan.into(), None);
        let json = parse_json(&sources, id).unwrap_or_else(|e| panic!("{e}"));
        let mut raw = RawSnapshot {
            organization: Some(OrgFile {
                id: Spanned::new("o-a1b2c3d4e5".into(), Span::default()),
                management_account: Spanned::new("999988887777".into(), Span::default()),
                roots: Vec::new(),
                policies: Vec::new(),
                other_policy_ids: Vec::new(),
                policy_types: None,
            }),
            ..RawSnapshot::default()
        };
        let report =
            apply_plan(&mut raw, &mut sources, &json, &PlanOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let types: Vec<(Option<OrgPolicyType>, PolicyTypeStatus)> = raw
            .organization
            .and_then(|o| o.policy_types)
            .unwrap_or_default()
            .iter()
            .map(|t| (t.policy_type, t.status))
            .collect();
        // RCPs are not listed: not enabled.
        assert_eq!(types, [(Some(OrgPolicyType::Scp), PolicyTypeStatus::Enabled), (None, PolicyTypeStatus::Enabled)]);
        assert_eq!(
            report.applied,
            ["aws_organizations_organization.o: enabled policy types: SERVICE_CONTROL_POLICY, TAG_POLICY"]
        );
    }
    /// A snapshot with one account whose IAM holds user `alice` (in group `ops`) and groups
    /// `ops` and `devs`.
    fn iam_snapshot() -> RawSnapshot {
        use crate::snapshot::{AccountFiles, IamFile, IamGroup, IamUser};
        let s = |v: &str| Spanned::new(v.to_string(), Span::default());
        let group = |name: &str| IamGroup {
            arn: s(&format!("arn:aws:iam::111122223333:group/{name}")),
            name: name.into(),
            path: "/".into(),
            id: format!("AGPA{name}"),
            inline: Vec::new(),
            attached: Vec::new(),
            span: Span::default(),
        };
        let alice = IamUser {
            arn: s("arn:aws:iam::111122223333:user/alice"),
            name: "alice".into(),
            path: "/".into(),
            id: "AIDAalice".into(),
            groups: vec![s("ops")],
            inline: Vec::new(),
            attached: Vec::new(),
            boundary: None,
            tags: Vec::new(),
            span: Span::default(),
        };
        let iam = IamFile {
            users: vec![alice],
            groups: vec![group("ops"), group("devs")],
            roles: Vec::new(),
            policies: Vec::new(),
        };
        RawSnapshot {
            accounts: vec![AccountFiles {
                id: "111122223333".into(),
                iam: Some(iam),
                keys: Vec::new(),
                not_collected: None,
                notes: Vec::new(),
            }],
            ..RawSnapshot::default()
        }
    }

    fn membership_plan(groups: &str) -> String {
        format!(
            r#"{{"format_version": "1.2", "resource_changes": [{{"address": "aws_iam_user_group_membership.alice",
            "type": "aws_iam_user_group_membership", "name": "alice", "change": {{"actions": ["update"],
            "before": {{"user": "alice", "groups": ["ops"]}},
            "after": {{"user": "alice", "groups": {groups}}}, "after_unknown": {{}}}}}}]}}"#
        )
    }

    #[test]
    fn a_membership_update_leaves_the_old_groups_and_joins_the_new() {
        let mut sources = SourceMap::new();
        let id = sources.add("plan.json", membership_plan(r#"["devs"]"#), None);
        let json = parse_json(&sources, id).unwrap_or_else(|e| panic!("{e}"));
        let mut raw = iam_snapshot();
        let options = PlanOptions { account: Some("111122223333".into()), region: Some("us-east-1".into()) };
        apply_plan(&mut raw, &mut sources, &json, &options).unwrap_or_else(|e| panic!("{e}"));
        let groups: Vec<String> = raw.accounts[0]
            .iam
            .as_ref()
            .map(|i| i.users[0].groups.iter().map(|g| g.value.clone()).collect())
            .unwrap_or_default();
        assert_eq!(groups, ["devs"]);
    }

    #[test]
    fn a_membership_of_a_group_that_is_nowhere_is_an_error() {
        let mut sources = SourceMap::new();
        let id = sources.add("plan.json", membership_plan(r#"["devs", "ghosts"]"#), None);
        let json = parse_json(&sources, id).unwrap_or_else(|e| panic!("{e}"));
        let mut raw = iam_snapshot();
        let options = PlanOptions { account: Some("111122223333".into()), region: Some("us-east-1".into()) };
        let err = apply_plan(&mut raw, &mut sources, &json, &options).err();
        assert_eq!(
            err.map(|e| e.to_string()).unwrap_or_default(),
            "aws_iam_user_group_membership.alice names group `ghosts`, which is neither in the snapshot nor created by the plan"
        );
    }
}
