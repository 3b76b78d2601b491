//! CloudFormation templates and StackSets as input: a template (YAML with the short intrinsic
//! tags, or JSON) overlaid on a snapshot's raw files as if deployed — as one stack in an account
//! and region (`--template`), or as a service-managed StackSet, one stack instance per account
//! under the target OUs and per region (`--stackset`).
//!
//! The template is read into spanned JSON (`read.rs`); each stack resolves its parameters, pseudo
//! parameters, mappings, conditions and intrinsic functions (`resolve.rs`); each resource type
//! keyproof models becomes changes of the snapshot (`resources.rs`), applied by the shared
//! overlay layer ([`crate::overlay::apply`]). A value known only at deployment is reported in
//! [`OverlayReport::unknown`] with its place in the template; resource types keyproof does not
//! model are listed in [`OverlayReport::not_modelled`]. KMS grants have no CloudFormation
//! resource type, so a template never creates one.

pub mod read;
pub mod resolve;
pub mod resources;

use crate::err::ParseError;
use crate::json::{parse_json, Json, JsonKind, Reader};
use crate::overlay::apply::{apply, Change};
use crate::overlay::OverlayReport;
use crate::snapshot::{OrgNode, OrgNodeKind, RawSnapshot};
use crate::source::{SourceMap, Span, Spanned};
use resolve::{Fail, Pseudo, Resolver, R};
use std::collections::HashMap;

pub use read::{read_template, read_template_file, read_template_lenient, TemplateFile};

/// Where and how a template is deployed.
#[derive(Debug, Clone)]
pub enum Deployment {
    /// One stack, in an account and region, with its stack name.
    Stack { account: String, region: String, stack_name: String },
    /// A service-managed StackSet: every account under the target OUs (nested OUs included, the
    /// management account excluded), in every region. `targets` is the text given on the
    /// command line with a source of its own, so that a wrong OU id is located.
    StackSet { name: String, targets: Vec<Spanned<String>>, regions: Vec<String> },
}

/// One parameter value given by the user, located in a parameters file or on the command line.
#[derive(Debug, Clone)]
pub struct ParameterValue {
    pub key: Spanned<String>,
    pub value: Spanned<String>,
}

/// Reads a parameters file in the shapes `aws cloudformation create-stack --parameters` and
/// `deploy --parameter-overrides` take: `[{"ParameterKey": K, "ParameterValue": V}]`, `["K=V"]`,
/// or `{"Parameters": {K: V}}`.
pub fn read_parameters(sources: &mut SourceMap, json: &Json) -> Result<Vec<ParameterValue>, ParseError> {
    let scope = sources.name(json.span.source).to_string();
    let mut r = Reader::new(sources);
    let mut out = Vec::new();
    match (&json.kind, json.get("Parameters")) {
        (JsonKind::Array(items), _) => {
            for item in items {
                if let Some(s) = item.as_str() {
                    match s.split_once('=') {
                        Some((k, v)) => out.push(ParameterValue {
                            key: Spanned::new(k.to_string(), item.span),
                            value: Spanned::new(v.to_string(), item.span),
                        }),
                        None => r.error(item.span, format!("`{s}` is not KEY=VALUE"), "expected KEY=VALUE"),
                    }
                    continue;
                }
                if r.object(item, "a parameter").is_none() {
                    continue;
                }
                if item.get("UsePreviousValue").and_then(Json::as_bool) == Some(true) {
                    r.error(item.span, "`UsePreviousValue` needs the deployed stack, which keyproof does not read", "previous value");
                    continue;
                }
                let (Some(k), Some(v)) = (r.req(item, "ParameterKey"), r.req(item, "ParameterValue")) else { continue };
                match (k.as_str(), v.scalar_text()) {
                    (Some(ks), Some(vs)) => out.push(ParameterValue {
                        key: Spanned::new(ks.to_string(), k.span),
                        value: Spanned::new(vs, v.span),
                    }),
                    _ => r.error(item.span, "ParameterKey and ParameterValue must be strings", "expected strings"),
                }
            }
        }
        (JsonKind::Object(_), Some(params)) => {
            for (k, v) in params.members().unwrap_or_default() {
                match v.scalar_text() {
                    Some(s) => out.push(ParameterValue { key: k.clone(), value: Spanned::new(s, v.span) }),
                    None => r.error(v.span, format!("parameter `{}` must be a string", k.value), "expected a string"),
                }
            }
        }
        _ => r.error(
            json.span,
            "a parameters file is [{\"ParameterKey\": K, \"ParameterValue\": V}], [\"K=V\"] or {\"Parameters\": {K: V}}",
            "unexpected shape",
        ),
    }
    r.finish(&scope)?;
    Ok(out)
}

/// A `--parameter KEY=VALUE` flag, with a source of its own.
pub fn parameter_flag(sources: &mut SourceMap, text: &str) -> Result<ParameterValue, ParseError> {
    let id = sources.add(format!("--parameter {text}"), text.to_string(), None);
    let all = Span::new(id, 0, text.len());
    match text.split_once('=') {
        Some((k, v)) => Ok(ParameterValue {
            key: Spanned::new(k.to_string(), Span::new(id, 0, k.len())),
            value: Spanned::new(v.to_string(), Span::new(id, k.len() + 1, text.len())),
        }),
        None => {
            Err(ParseError::at(sources, all, format!("`--parameter {text}` is not KEY=VALUE"), "expected KEY=VALUE"))
        }
    }
}

/// The `--targets` flag's OU ids, with a source of their own.
pub fn targets_flag(sources: &mut SourceMap, text: &str) -> Vec<Spanned<String>> {
    let id = sources.add(format!("--targets {text}"), text.to_string(), None);
    let mut out = Vec::new();
    let mut offset = 0;
    for part in text.split(',') {
        let trimmed = part.trim();
        let start = offset + part.find(trimmed).unwrap_or(0);
        if !trimmed.is_empty() {
            out.push(Spanned::new(trimmed.to_string(), Span::new(id, start, start + trimmed.len())));
        }
        offset += part.len() + 1;
    }
    out
}

/// Overlays a template on a snapshot's raw files. Every error of the template (a malformed
/// policy, a `Ref` to nothing, a wrong parameter, a StackSet target that is not an OU) is
/// reported together.
pub fn apply_template(
    raw: &mut RawSnapshot,
    sources: &mut SourceMap,
    file_read: TemplateFile,
    parameters: &[ParameterValue],
    deployment: &Deployment,
) -> Result<OverlayReport, ParseError> {
    let TemplateFile { json, errors } = file_read;
    let template = &json;
    let file = sources.name(template.span.source).to_string();
    let input = if matches!(deployment, Deployment::StackSet { .. }) { "stackset" } else { "template" };
    let mut report = OverlayReport { input, file: file.clone(), ..OverlayReport::default() };
    let mut r = Reader::new(sources);
    r.errors.0.extend(errors);
    if r.object(template, "a template").is_some() {
        check_sections(&mut r, template, &mut report);
        let params = self::parameters(&mut r, template, parameters);
        let instances = instances(&mut r, raw, deployment);
        let mut changes = Vec::new();
        for (pseudo, label) in instances {
            stack(&mut r, template, params.clone(), pseudo, label, &file, &mut report, &mut changes);
        }
        apply(raw, &mut r, &mut report, changes);
        // A StackSet's instances share the template: an error in it is reported once.
        let mut seen = std::collections::HashSet::new();
        r.errors.0.retain(|e| {
            seen.insert(
                e.leaves()
                    .iter()
                    .map(|l| match l {
                        ParseError::Invalid { message, location, .. } => format!("{location} {message}"),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(";"),
            )
        });
    }
    r.finish(&file)?;
    Ok(report)
}

/// The template's top level: known sections, `Resources` present, a `Transform` reported.
fn check_sections(r: &mut Reader<'_>, template: &Json, report: &mut OverlayReport) {
    const SECTIONS: &[&str] = &[
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
        "Hooks",
    ];
    for (k, _) in template.members().unwrap_or_default() {
        if !SECTIONS.contains(&k.value.as_str()) {
            r.error(k.span, format!("`{}` is not a section of a CloudFormation template", k.value), "unknown section");
        }
    }
    match template.get("Resources") {
        Some(res) if res.members().is_some() => {}
        Some(res) => {
            r.error(res.span, "`Resources` must be a mapping of logical ids to resources", "expected a mapping")
        }
        None => r.error(template.span, "the template has no `Resources` section", "missing Resources"),
    }
    if let Some(t) = template.get("Transform") {
        let names = t.scalar_text().unwrap_or_else(|| "a list of transforms".to_string());
        report.unknown.push(Spanned::new(
            format!("the template uses the transform {names}: a macro rewrites the template at deployment, so what it deploys is not known"),
            t.span,
        ));
    }
}

/// The stack instances of a deployment: each one's pseudo parameters and message label.
fn instances(r: &mut Reader<'_>, raw: &RawSnapshot, deployment: &Deployment) -> Vec<(Pseudo, String)> {
    match deployment {
        Deployment::Stack { account, region, stack_name } => vec![(
            Pseudo {
                account: account.clone(),
                region: region.clone(),
                stack_name: Some(stack_name.clone()),
                stackset: None,
            },
            String::new(),
        )],
        Deployment::StackSet { name, targets, regions } => {
            let Some(org) = &raw.organization else {
                if let Some(t) = targets.first() {
                    r.error(
                        t.span,
                        "a StackSet deploys to OUs, but the snapshot has no organization.json",
                        "no organization",
                    );
                }
                return Vec::new();
            };
            let management = org.management_account.value.clone();
            let mut accounts: Vec<String> = Vec::new();
            for t in targets {
                match find(&org.roots, &t.value) {
                    Some(node) if node.kind != OrgNodeKind::Account => {
                        for a in accounts_under(node) {
                            // DeploymentTargets (service-managed): "StackSets doesn't deploy stack
                            // instances to the organization management account, even if the
                            // organization management account is in your organization or in an OU".
                            if a != management && !accounts.contains(&a) {
                                accounts.push(a);
                            }
                        }
                    }
                    Some(_) => r.error(
                        t.span,
                        format!("`{}` is an account; a service-managed StackSet deploys to OUs (or the root)", t.value),
                        "not an OU",
                    ),
                    None => {
                        let ids = ou_ids(&org.roots);
                        let hint = crate::suggest::did_you_mean_typo(&t.value, ids.iter().map(String::as_str), 2);
                        r.error(
                            t.span,
                            format!("`{}` is not an OU of the snapshot's organization{hint}", t.value),
                            "unknown OU",
                        )
                    }
                }
            }
            let mut out = Vec::new();
            for a in &accounts {
                for region in regions {
                    out.push((
                        Pseudo {
                            account: a.clone(),
                            region: region.clone(),
                            stack_name: None,
                            stackset: Some(name.clone()),
                        },
                        format!("{a}/{region}: "),
                    ));
                }
            }
            out
        }
    }
}

fn find<'n>(nodes: &'n [OrgNode], id: &str) -> Option<&'n OrgNode> {
    nodes.iter().find_map(|n| if n.id.value == id { Some(n) } else { find(&n.children, id) })
}

/// The ids of the roots and OUs, for a did-you-mean.
fn ou_ids(nodes: &[OrgNode]) -> Vec<String> {
    let mut out = Vec::new();
    for n in nodes {
        if n.kind != OrgNodeKind::Account {
            out.push(n.id.value.clone());
            out.extend(ou_ids(&n.children));
        }
    }
    out
}

fn accounts_under(node: &OrgNode) -> Vec<String> {
    let mut out = Vec::new();
    if node.kind == OrgNodeKind::Account {
        out.push(node.id.value.clone());
    }
    for c in &node.children {
        out.extend(accounts_under(c));
    }
    out
}

/// One stack instance: parameters, then every resource.
#[expect(clippy::too_many_arguments, reason = "one call site; the pieces of one stack")]
fn stack(
    r: &mut Reader<'_>,
    template: &Json,
    params: HashMap<String, R<Json>>,
    pseudo: Pseudo,
    label: String,
    file: &str,
    report: &mut OverlayReport,
    changes: &mut Vec<Change>,
) {
    let resources: Vec<(Spanned<String>, &Json)> = template
        .get("Resources")
        .and_then(Json::members)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.clone(), v))
        .collect();
    let mut x = Resolver::new(r, template, pseudo, params, resources::identity);
    depends_on_cycles(&mut x, &resources);
    let mut s = resources::Stack { x: &mut x, report, changes: Vec::new(), label, file: file.to_string() };
    for (logical, body) in &resources {
        if s.x.r.object(body, &format!("resource `{}`", logical.value)).is_none() {
            continue;
        }
        s.resource(logical, body);
    }
    changes.append(&mut s.changes);
}

/// Dependency cycles: CloudFormation refuses a template whose resources depend on each other in a
/// circle, through `DependsOn` or through `Ref`, `Fn::GetAtt` and `Fn::Sub` in their properties
/// ("Circular dependency between resources").
fn depends_on_cycles(x: &mut Resolver<'_, '_, '_>, resources: &[(Spanned<String>, &Json)]) {
    let names: Vec<&str> = resources.iter().map(|(k, _)| k.value.as_str()).collect();
    let mut deps: HashMap<&str, Vec<Spanned<String>>> = HashMap::new();
    for (k, v) in resources {
        let mut list = match v.get("DependsOn") {
            Some(d) => match (&d.kind, d.elements()) {
                (JsonKind::String(s), _) => vec![Spanned::new(s.clone(), d.span)],
                (_, Some(items)) => {
                    items.iter().filter_map(|i| i.as_str().map(|s| Spanned::new(s.to_string(), i.span))).collect()
                }
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        for d in &list {
            if !names.contains(&d.value.as_str()) {
                x.r.error(
                    d.span,
                    format!("`{}` depends on `{}`, which is not a resource of the template", k.value, d.value),
                    "unknown resource",
                );
            }
        }
        if let Some(p) = v.get("Properties") {
            referenced(p, &names, &mut list);
        }
        deps.insert(k.value.as_str(), list);
    }
    // Depth-first search from each resource; a cycle is reported once, at the reference that
    // closes it.
    let mut reported: Vec<String> = Vec::new();
    for (start, _) in resources {
        let mut stack = vec![(start.value.clone(), vec![start.value.clone()])];
        while let Some((at, path)) = stack.pop() {
            for d in deps.get(at.as_str()).map(Vec::as_slice).unwrap_or_default() {
                if d.value == start.value {
                    let mut cycle = path.clone();
                    cycle.sort();
                    if !reported.contains(&cycle.join(",")) {
                        reported.push(cycle.join(","));
                        x.r.error(
                            d.span,
                            format!("circular dependency: {} → {}", path.join(" → "), start.value),
                            "depends back on the first",
                        );
                    }
                } else if !path.contains(&d.value) && path.len() <= resources.len() {
                    let mut p = path.clone();
                    p.push(d.value.clone());
                    stack.push((d.value.clone(), p));
                }
            }
        }
    }
}

/// The resources a value refers to through `Ref`, `Fn::GetAtt` and `Fn::Sub`.
fn referenced(v: &Json, names: &[&str], out: &mut Vec<Spanned<String>>) {
    let mut add = |name: &str, span: Span| {
        if names.contains(&name) && !out.iter().any(|o| o.value == name) {
            out.push(Spanned::new(name.to_string(), span));
        }
    };
    match &v.kind {
        JsonKind::Object(members) => {
            if let [(k, arg)] = members.as_slice() {
                match (k.value.as_str(), &arg.kind) {
                    ("Ref", JsonKind::String(s)) => add(s, arg.span),
                    ("Fn::GetAtt", JsonKind::String(s)) => add(s.split('.').next().unwrap_or_default(), arg.span),
                    ("Fn::GetAtt", JsonKind::Array(items)) => {
                        if let Some(s) = items.first().and_then(Json::as_str) {
                            add(s, arg.span);
                        }
                    }
                    ("Fn::Sub", _) => {
                        let (text, vars) = match (&arg.kind, arg.elements()) {
                            (JsonKind::String(t), _) => (Some(t.as_str()), None),
                            (_, Some([t, vars])) => (t.as_str(), Some(vars)),
                            _ => (None, None),
                        };
                        let mut rest = text.unwrap_or_default();
                        while let Some(i) = rest.find("${") {
                            let after = &rest[i + 2..];
                            let Some(close) = after.find('}') else { break };
                            let name = &after[..close];
                            let bound = vars.and_then(|v| v.get(name)).is_some();
                            if !name.starts_with('!') && !bound {
                                add(name.split('.').next().unwrap_or_default().trim(), arg.span);
                            }
                            rest = &after[close + 1..];
                        }
                        if let Some(vars) = vars {
                            referenced(vars, names, out);
                        }
                        return;
                    }
                    _ => {}
                }
            }
            for (_, m) in members {
                referenced(m, names, out);
            }
        }
        JsonKind::Array(items) => {
            for i in items {
                referenced(i, names, out);
            }
        }
        _ => {}
    }
}

/// The value of every parameter: given, or its Default; checked against its Type and
/// constraints (CloudFormation "Parameters" section reference).
fn parameters(r: &mut Reader<'_>, template: &Json, given: &[ParameterValue]) -> HashMap<String, R<Json>> {
    let mut out = HashMap::new();
    let defs = template.get("Parameters").and_then(Json::members).unwrap_or_default();
    for g in given {
        if !defs.iter().any(|(k, _)| k.value == g.key.value) {
            r.error(
                g.key.span,
                format!("parameter `{}` is not in the template's Parameters", g.key.value),
                "unknown parameter",
            );
        }
    }
    for (name, def) in defs {
        let Some(ptype) = def.get("Type").and_then(Json::as_str) else {
            r.error(def.span, format!("parameter `{}` has no Type", name.value), "missing Type");
            continue;
        };
        let value = match given.iter().rev().find(|g| g.key.value == name.value) {
            Some(g) => g.value.clone(),
            None => match def.get("Default").and_then(Json::scalar_text) {
                Some(d) => Spanned::new(d, def.get("Default").map_or(def.span, |d| d.span)),
                None => {
                    r.error(
                        name.span,
                        format!("parameter `{}` has no Default and no value was given", name.value),
                        "needs a value",
                    );
                    out.insert(name.value.clone(), Err(Fail::Error));
                    continue;
                }
            },
        };
        out.insert(name.value.clone(), typed(r, &name.value, def, ptype, &value));
    }
    out
}

fn typed(r: &mut Reader<'_>, name: &str, def: &Json, ptype: &str, value: &Spanned<String>) -> R<Json> {
    let span = value.span;
    let s = |v: &str| Json { kind: JsonKind::String(v.to_string()), span };
    let list = |v: &str| Json {
        kind: JsonKind::Array(if v.is_empty() { Vec::new() } else { v.split(',').map(|p| s(p.trim())).collect() }),
        span,
    };
    let number = |r: &mut Reader<'_>, v: &str| -> R<()> {
        if v.trim().parse::<f64>().is_ok() {
            Ok(())
        } else {
            r.error(span, format!("parameter `{name}` is a Number, but `{v}` is not a number"), "expected a number");
            Err(Fail::Error)
        }
    };
    let allowed: Vec<String> = def
        .get("AllowedValues")
        .and_then(Json::elements)
        .unwrap_or_default()
        .iter()
        .filter_map(Json::scalar_text)
        .collect();
    let check = |r: &mut Reader<'_>, v: &str| -> R<()> {
        if !allowed.is_empty() && !allowed.iter().any(|a| a == v) {
            r.error(
                span,
                format!("`{v}` is not an allowed value of parameter `{name}` ({})", allowed.join(", ")),
                "not allowed",
            );
            return Err(Fail::Error);
        }
        if let Some(p) = def.get("AllowedPattern").and_then(Json::as_str) {
            match regex::Regex::new(&format!("^(?:{p})$")) {
                Ok(re) if !re.is_match(v) => {
                    r.error(
                        span,
                        format!("`{v}` does not match the AllowedPattern `{p}` of parameter `{name}`"),
                        "no match",
                    );
                    return Err(Fail::Error);
                }
                Ok(_) => {}
                Err(_) => {
                    let at = def.get("AllowedPattern").map_or(def.span, |a| a.span);
                    r.error(
                        at,
                        format!("the AllowedPattern of `{name}` is not a regular expression keyproof reads"),
                        "bad pattern",
                    );
                    return Err(Fail::Error);
                }
            }
        }
        let len = v.chars().count();
        for bound in ["MinLength", "MaxLength"] {
            if let Some(n) = def.get(bound).and_then(Json::scalar_text).and_then(|n| n.parse::<usize>().ok()) {
                if (bound == "MinLength" && len < n) || (bound == "MaxLength" && len > n) {
                    r.error(
                        span,
                        format!("parameter `{name}` has {bound} {n}; `{v}` has {len} characters"),
                        "wrong length",
                    );
                    return Err(Fail::Error);
                }
            }
        }
        Ok(())
    };
    match ptype {
        "String" | "AWS::SSM::Parameter::Name" => {
            check(r, &value.value)?;
            Ok(s(&value.value))
        }
        "Number" => {
            number(r, &value.value)?;
            check(r, &value.value)?;
            Ok(s(&value.value))
        }
        "List<Number>" => {
            for p in value.value.split(',') {
                number(r, p)?;
            }
            Ok(list(&value.value))
        }
        "CommaDelimitedList" => Ok(list(&value.value)),
        t if t.starts_with("AWS::SSM::Parameter::Value<") => Err(Fail::Unknown {
            reason: format!("parameter `{name}` is read from SSM Parameter Store (`{}`) at deployment", value.value),
            span,
        }),
        t if t.starts_with("List<AWS::") => Ok(list(&value.value)),
        t if t.starts_with("AWS::") => {
            check(r, &value.value)?;
            Ok(s(&value.value))
        }
        other => {
            let at = def.get("Type").map_or(def.span, |t| t.span);
            r.error(at, format!("`{other}` is not a CloudFormation parameter type"), "unknown type");
            Err(Fail::Error)
        }
    }
}

/// Reads a parameters file into the source map.
pub fn read_parameters_file(
    path: &std::path::Path,
    sources: &mut SourceMap,
) -> Result<Vec<ParameterValue>, ParseError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ParseError::Io { path: path.display().to_string(), error: e })?;
    let id = sources.add(path.display().to_string(), text, None);
    let json = parse_json(sources, id)?;
    read_parameters(sources, &json)
}

#[cfg(test)]
mod tests {
    //! Every intrinsic function and pseudo parameter, with its resolved value.

    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Env: {Type: String, Default: prod}
  Names: {Type: CommaDelimitedList, Default: "a,b,c"}
  Count: {Type: Number, Default: "3"}
Mappings:
  Regions:
    us-east-1: {Short: use1}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsTest: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Equals ["1", "1"]]
  Either: !Or [!Condition IsTest, !Equals [!Ref Count, "3"]]
  Imported: !Equals [!ImportValue x, y]
Resources:
  Key: {Type: AWS::KMS::Key}
  Mrk: {Type: AWS::KMS::Key, Properties: {MultiRegion: true}}
  Replica: {Type: AWS::KMS::ReplicaKey, Properties: {PrimaryKeyArn: !GetAtt Mrk.Arn}}
  Alias: {Type: AWS::KMS::Alias, Properties: {AliasName: alias/x, TargetKeyId: !Ref Key}}
  Role: {Type: AWS::IAM::Role, Properties: {RoleName: !Sub "${Env}-reader", Path: /app/}}
  Unnamed: {Type: AWS::IAM::Role}
  User: {Type: AWS::IAM::User, Properties: {UserName: u}}
  Group: {Type: AWS::IAM::Group, Properties: {GroupName: g}}
  Managed: {Type: AWS::IAM::ManagedPolicy, Properties: {ManagedPolicyName: m}}
  Scp: {Type: AWS::Organizations::Policy}
  Ou: {Type: AWS::Organizations::OrganizationalUnit}
  Bucket: {Type: AWS::S3::Bucket}
"#;

    /// Resolves one expression (YAML) in a stack `st` of 111122223333 / us-east-1.
    fn resolve(expr: &str) -> Result<String, String> {
        resolve_in(expr, Some("st"), "us-east-1")
    }

    fn resolve_in(expr: &str, stack_name: Option<&str>, region: &str) -> Result<String, String> {
        let mut sources = SourceMap::new();
        let tid = sources.add("t.yaml", TEMPLATE.to_string(), None);
        let eid = sources.add("e.yaml", format!("V: {expr}\n"), None);
        let template = read_template(&sources, tid).map_err(|e| e.to_string())?;
        let expr = read_template(&sources, eid).map_err(|e| e.to_string())?;
        let mut r = Reader::new(&mut sources);
        let params = parameters(&mut r, &template, &[]);
        let pseudo = Pseudo {
            account: "111122223333".into(),
            region: region.into(),
            stack_name: stack_name.map(str::to_string),
            stackset: stack_name.is_none().then(|| "set".to_string()),
        };
        let mut x = Resolver::new(&mut r, &template, pseudo, params, resources::identity);
        let v = expr.get("V").cloned().unwrap_or(Json { kind: JsonKind::Null, span: expr.span });
        let out = match x.value(&v) {
            Ok(Some(j)) => Ok(text(&j)),
            Ok(None) => Ok("<AWS::NoValue>".to_string()),
            Err(Fail::Unknown { reason, .. }) => Err(format!("unknown: {reason}")),
            Err(Fail::Error) => Err(String::new()),
        };
        let errors: Vec<String> = r.errors.0.iter().map(|e| e.to_string()).collect();
        match out {
            Err(e) if e.is_empty() => Err(format!("error: {}", errors.join("; "))),
            other => other,
        }
    }

    fn text(j: &Json) -> String {
        match &j.kind {
            JsonKind::Array(items) => format!("[{}]", items.iter().map(text).collect::<Vec<_>>().join(", ")),
            _ => j.scalar_text().unwrap_or_else(|| j.type_name().to_string()),
        }
    }

    fn condition(name: &str) -> Result<bool, String> {
        let mut sources = SourceMap::new();
        let tid = sources.add("t.yaml", TEMPLATE.to_string(), None);
        let template = read_template(&sources, tid).map_err(|e| e.to_string())?;
        let mut r = Reader::new(&mut sources);
        let params = parameters(&mut r, &template, &[]);
        let pseudo = Pseudo {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            stack_name: Some("st".into()),
            stackset: None,
        };
        let mut x = Resolver::new(&mut r, &template, pseudo, params, resources::identity);
        x.condition(name, template.span).map_err(|f| match f {
            Fail::Unknown { reason, .. } => format!("unknown: {reason}"),
            Fail::Error => "error".into(),
        })
    }

    #[test]
    fn ref_of_parameters_pseudo_parameters_and_resources() {
        assert_eq!(resolve("!Ref Env"), Ok("prod".into()));
        assert_eq!(resolve("!Ref Names"), Ok("[a, b, c]".into()));
        assert_eq!(resolve("!Ref AWS::AccountId"), Ok("111122223333".into()));
        assert_eq!(resolve("!Ref AWS::Region"), Ok("us-east-1".into()));
        assert_eq!(resolve("!Ref AWS::Partition"), Ok("aws".into()));
        assert_eq!(resolve("!Ref AWS::URLSuffix"), Ok("amazonaws.com".into()));
        assert_eq!(resolve("!Ref AWS::StackName"), Ok("st".into()));
        assert_eq!(resolve("!Ref AWS::NoValue"), Ok("<AWS::NoValue>".into()));
        assert_eq!(resolve_in("!Ref AWS::Partition", Some("st"), "cn-north-1"), Ok("aws-cn".into()));
        assert_eq!(resolve_in("!Ref AWS::URLSuffix", Some("st"), "cn-north-1"), Ok("amazonaws.com.cn".into()));
        assert_eq!(resolve_in("!Ref AWS::Partition", Some("st"), "us-gov-west-1"), Ok("aws-us-gov".into()));
        // Resource return values (each type's "Return values" in the Template Reference).
        assert_eq!(resolve("!Ref Key"), Ok("cfn-st-Key".into()));
        assert_eq!(resolve("!Ref Mrk"), Ok("mrk-cfn-st-Mrk".into()));
        assert_eq!(resolve("!Ref Alias"), Ok("alias/x".into()));
        assert_eq!(resolve("!Ref Role"), Ok("prod-reader".into()));
        assert_eq!(resolve("!Ref Unnamed"), Ok("st-Unnamed-CFNGENERATED".into()));
        assert_eq!(resolve("!Ref User"), Ok("u".into()));
        assert_eq!(resolve("!Ref Group"), Ok("g".into()));
        assert_eq!(resolve("!Ref Managed"), Ok("arn:aws:iam::111122223333:policy/m".into()));
        assert_eq!(resolve("!Ref Scp"), Ok("p-cfn-Scp".into()));
        assert_eq!(resolve("!Ref Ou"), Ok("ou-cfn-Ou".into()));
        assert_eq!(resolve("{Ref: Env}"), Ok("prod".into()));
        // Known only at deployment, or wrong.
        assert_eq!(
            resolve("!Ref Bucket"),
            Err("unknown: the physical id of `Bucket` is made by AWS at deployment".into())
        );
        assert_eq!(
            resolve_in("!Ref AWS::StackName", None, "us-east-1").map_err(|e| e.starts_with("unknown:")),
            Err(true)
        );
        // A StackSet instance's unnamed resources: the StackSet's prefix, made-up parts marked.
        assert_eq!(
            resolve_in("!Ref Unnamed", None, "us-east-1"),
            Ok("StackSet-set-CFNGENERATED-Unnamed-CFNGENERATED".into())
        );
        assert_eq!(resolve_in("!Ref Key", None, "us-east-1"), Ok("cfn-stackset-set-Key".into()));
        assert_eq!(resolve("!Ref AWS::StackId").map_err(|e| e.starts_with("unknown:")), Err(true));
        assert_eq!(
            resolve("!Ref Nothing"),
            Err("error: `Ref` to `Nothing`, which is neither a parameter nor a resource of the template".into())
        );
    }

    #[test]
    fn get_att_of_the_modelled_types() {
        assert_eq!(resolve("!GetAtt Key.Arn"), Ok("arn:aws:kms:us-east-1:111122223333:key/cfn-st-Key".into()));
        assert_eq!(resolve("!GetAtt Key.KeyId"), Ok("cfn-st-Key".into()));
        // A replica in its primary's Region is refused (a_replica_key_is_its_primary_in_another_region).
        assert_eq!(
            resolve("!GetAtt [Replica, Arn]"),
            Err("error: replica key `Replica` is in us-east-1, the Region of its primary key".into())
        );
        assert_eq!(resolve("!GetAtt Role.Arn"), Ok("arn:aws:iam::111122223333:role/app/prod-reader".into()));
        assert_eq!(resolve("!GetAtt User.Arn"), Ok("arn:aws:iam::111122223333:user/u".into()));
        assert_eq!(resolve("!GetAtt Group.Arn"), Ok("arn:aws:iam::111122223333:group/g".into()));
        assert_eq!(resolve("!GetAtt Managed.PolicyArn"), Ok("arn:aws:iam::111122223333:policy/m".into()));
        assert_eq!(resolve("!GetAtt Ou.Id"), Ok("ou-cfn-Ou".into()));
        assert_eq!(
            resolve("!GetAtt Role.RoleId"),
            Err("unknown: the unique id of `Role` is made by AWS at deployment".into())
        );
        assert_eq!(
            resolve("!GetAtt Key.Nope"),
            Err("unknown: `Key.Nope` is not an attribute keyproof determines; it is known only at deployment".into())
        );
        assert_eq!(
            resolve("!GetAtt Missing.Arn"),
            Err("error: `Fn::GetAtt` of `Missing`, which is not a resource of the template".into())
        );
    }

    #[test]
    fn sub_in_both_forms() {
        assert_eq!(
            resolve("!Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Env}'"),
            Ok("arn:aws:iam::111122223333:role/prod".into())
        );
        assert_eq!(resolve("!Sub '${Key.Arn}'"), Ok("arn:aws:kms:us-east-1:111122223333:key/cfn-st-Key".into()));
        assert_eq!(resolve("!Sub '${!Literal}-${Env}'"), Ok("${Literal}-prod".into()));
        assert_eq!(resolve("!Sub ['${A}/${B}-${Env}', {A: x, B: !Ref AWS::Region}]"), Ok("x/us-east-1-prod".into()));
        assert_eq!(resolve("{'Fn::Sub': 'k-${Env}'}"), Ok("k-prod".into()));
        assert_eq!(resolve("!Sub '${Env'"), Err("error: `Fn::Sub` has `${` without a closing `}`".into()));
    }

    #[test]
    fn join_select_split_find_in_map_base64_length() {
        assert_eq!(resolve("!Join ['-', [a, !Ref Env, !Ref AWS::Region]]"), Ok("a-prod-us-east-1".into()));
        assert_eq!(resolve("!Join [',', !Ref Names]"), Ok("a,b,c".into()));
        assert_eq!(resolve("!Select [1, !Ref Names]"), Ok("b".into()));
        assert_eq!(resolve("!Select ['0', [x, y]]"), Ok("x".into()));
        assert_eq!(resolve("!Select [5, [x, y]]"), Err("error: index 5 is past the end of a list of 2".into()));
        assert_eq!(resolve("!Split ['/', 'a/b/c']"), Ok("[a, b, c]".into()));
        assert_eq!(resolve("!Select [2, !Split [':', !GetAtt Key.Arn]]"), Ok("kms".into()));
        assert_eq!(resolve("!FindInMap [Regions, !Ref AWS::Region, Short]"), Ok("use1".into()));
        assert_eq!(
            resolve("!FindInMap [Regions, eu-west-1, Short]"),
            Err("error: mapping `Regions` has no `eu-west-1` → `Short`".into())
        );
        assert_eq!(resolve("!Base64 'AWS CloudFormation'"), Ok("QVdTIENsb3VkRm9ybWF0aW9u".into()));
        assert_eq!(resolve("!Length [a, b]"), Ok("2".into()));
    }

    #[test]
    fn if_and_conditions() {
        assert_eq!(resolve("!If [IsProd, yes, no]"), Ok("yes".into()));
        assert_eq!(resolve("!If [IsTest, yes, !Ref AWS::NoValue]"), Ok("<AWS::NoValue>".into()));
        assert_eq!(resolve("[a, !If [IsTest, b, !Ref AWS::NoValue], c]"), Ok("[a, c]".into()));
        assert_eq!(condition("IsProd"), Ok(true));
        assert_eq!(condition("IsTest"), Ok(false));
        assert_eq!(condition("Both"), Ok(true));
        assert_eq!(condition("Either"), Ok(true));
        assert_eq!(
            condition("Imported"),
            Err("unknown: `Fn::ImportValue` reads another stack's export, which is known only at deployment".into())
        );
        assert_eq!(resolve("!If [Nope, a, b]"), Err("error: there is no condition `Nope` in Conditions".into()));
    }

    #[test]
    fn values_known_only_at_deployment_are_unknown() {
        for (expr, reason) in [
            (
                "!ImportValue shared",
                "`Fn::ImportValue` reads another stack's export, which is known only at deployment",
            ),
            ("!GetAZs ''", "`Fn::GetAZs` depends on the account's Availability Zones"),
            ("!Cidr [10.0.0.0/16, 2, 8]", "`Fn::Cidr` is not modelled by keyproof"),
            ("!Transform {Name: m}", "`Fn::Transform` runs a macro, whose output is known only at deployment"),
        ] {
            assert_eq!(resolve(expr), Err(format!("unknown: {reason}")), "{expr}");
        }
        assert_eq!(resolve("{'Fn::Nope': x}"), Err("error: unknown intrinsic function `Fn::Nope`".into()));
    }

    #[test]
    fn parameter_types_and_constraints() {
        let template = "Parameters:\n  N: {Type: Number}\n  S: {Type: String, AllowedValues: [a, b]}\n  P: {Type: String, AllowedPattern: '[0-9]{12}'}\n  Q: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /x}\nResources: {}\n";
        let mut sources = SourceMap::new();
        let tid = sources.add("t.yaml", template.to_string(), None);
        let t = read_template(&sources, tid).unwrap_or_else(|e| panic!("{e}"));
        let mut given = Vec::new();
        for p in ["N=x", "S=c", "P=123", "Z=1"] {
            given.push(parameter_flag(&mut sources, p).unwrap_or_else(|e| panic!("{e}")));
        }
        let mut r = Reader::new(&mut sources);
        let params = parameters(&mut r, &t, &given);
        let errors: Vec<String> = r.errors.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errors,
            [
                "parameter `Z` is not in the template's Parameters",
                "parameter `N` is a Number, but `x` is not a number",
                "`c` is not an allowed value of parameter `S` (a, b)",
                "`123` does not match the AllowedPattern `[0-9]{12}` of parameter `P`",
            ]
        );
        assert!(matches!(params.get("Q"), Some(Err(Fail::Unknown { .. }))));
    }

    /// The fuzz target's property on deterministic mutations of the corpus templates (cut, byte
    /// replaced, line duplicated): errors are fine, a panic is a bug.
    #[test]
    fn mutated_templates_never_panic() {
        use crate::snapshot::{OrgFile, OrgNode, OrgNodeKind};
        let seeds = [
            include_str!("../../../../corpus/central-kms/cloudformation/central-key.yaml"),
            include_str!("../../../../corpus/central-kms/cloudformation/workload-role-stackset.yaml"),
            include_str!("../../../../corpus/central-kms/cloudformation/scp.yaml"),
            include_str!("../../../../corpus/central-kms/cloudformation/bad/every-error.yaml"),
            TEMPLATE,
        ];
        let node = |kind, id: &str, children| OrgNode {
            kind,
            id: Spanned::new(id.to_string(), Span::default()),
            name: None,
            policy_ids: Vec::new(),
            children,
            span: Span::default(),
        };
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pieces =
            ["!Ref", "!Sub '${", "!GetAtt", "[", "{", ":", "- ", "\n  ", "&a", "*a", "!If [", "Fn::", "'", "\""];
        for seed in seeds {
            for _ in 0..150 {
                let mut text = seed.to_string();
                let at = (next() as usize) % text.len().max(1);
                let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                match next() % 3 {
                    0 => text.truncate(at),
                    1 => text.insert_str(at, pieces[(next() as usize) % pieces.len()]),
                    _ => {
                        let line = text[at..].lines().next().unwrap_or_default().to_string();
                        text.insert_str(at, &format!("{line}\n"));
                    }
                }
                for stackset in [false, true] {
                    let mut sources = SourceMap::new();
                    let id = sources.add("t.yaml", text.clone(), None);
                    let Ok(t) = read_template_lenient(&sources, id) else { continue };
                    let account = node(OrgNodeKind::Account, "444455556666", Vec::new());
                    let ou = node(OrgNodeKind::OrganizationalUnit, "ou-a1b2-wkld0001", vec![account]);
                    let mut raw = RawSnapshot {
                        organization: Some(OrgFile {
                            id: Spanned::new("o-a1b2c3d4e5".into(), Span::default()),
                            management_account: Spanned::new("999988887777".into(), Span::default()),
                            roots: vec![node(OrgNodeKind::Root, "r-a1b2", vec![ou])],
                            policies: Vec::new(),
                            other_policy_ids: Vec::new(),
                            policy_types: None,
                        }),
                        ..RawSnapshot::default()
                    };
                    let deployment = if stackset {
                        let targets = targets_flag(&mut sources, "ou-a1b2-wkld0001");
                        Deployment::StackSet { name: "s".into(), targets, regions: vec!["us-east-1".into()] }
                    } else {
                        Deployment::Stack {
                            account: "111122223333".into(),
                            region: "us-east-1".into(),
                            stack_name: "st".into(),
                        }
                    };
                    let _ = apply_template(&mut raw, &mut sources, t, &[], &deployment);
                }
            }
        }
    }

    /// A replica key has its primary's key id, in the stack's Region, which must be another one.
    #[test]
    fn a_replica_key_is_its_primary_in_another_region() {
        let template = |primary: &str| {
            format!("Resources:\n  R:\n    Type: AWS::KMS::ReplicaKey\n    Properties: {{PrimaryKeyArn: {primary}, KeyPolicy: {{Version: '2012-10-17', Statement: []}}}}\n")
        };
        let run = |text: String| {
            let mut sources = SourceMap::new();
            let id = sources.add("t.yaml", text, None);
            let t = read_template_lenient(&sources, id).unwrap_or_else(|e| panic!("{e}"));
            let mut raw = RawSnapshot::default();
            let d = Deployment::Stack {
                account: "111122223333".into(),
                region: "us-west-2".into(),
                stack_name: "st".into(),
            };
            apply_template(&mut raw, &mut sources, t, &[], &d).map(|_| raw).map_err(|e| e.to_string())
        };
        let raw = run(template("'arn:aws:kms:us-east-1:111122223333:key/mrk-123'")).unwrap_or_else(|e| panic!("{e}"));
        let k = &raw.accounts[0].keys[0];
        assert_eq!(k.arn.value, "arn:aws:kms:us-west-2:111122223333:key/mrk-123");
        assert_eq!(k.multi_region_type.as_deref(), Some("REPLICA"));
        assert_eq!(
            k.primary_key_arn.as_ref().map(|p| p.value.as_str()),
            Some("arn:aws:kms:us-east-1:111122223333:key/mrk-123")
        );
        assert_eq!(
            run(template("'arn:aws:kms:us-west-2:111122223333:key/mrk-123'")).err(),
            Some("replica key `R` is in us-west-2, the Region of its primary key".to_string())
        );
    }

    /// Every modelled resource type, applied to a small snapshot: what each adds.
    #[test]
    fn every_modelled_resource_type_changes_the_snapshot() {
        use crate::snapshot::{AccountFiles, IamFile, IamGroup, IamRole, IamUser, OrgFile, OrgNode, OrgNodeKind};
        let template = r#"
Resources:
  Key: {Type: AWS::KMS::Key}
  Mrk: {Type: AWS::KMS::Key, Properties: {MultiRegion: true, KeyPolicy: {Version: "2012-10-17", Statement: []}}}
  Alias: {Type: AWS::KMS::Alias, Properties: {AliasName: alias/k, TargetKeyId: !Ref Key}}
  Managed:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: m
      Roles: [existing]
      Users: [bob]
      PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: kms:Decrypt, Resource: !GetAtt Key.Arn}]}
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: r
      Path: /p/
      ManagedPolicyArns: [!Ref Managed]
      PermissionsBoundary: !Ref Managed
      Tags: [{Key: team, Value: t}]
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
      Policies: [{PolicyName: inline, PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: kms:Encrypt, Resource: "*"}]}}]
  Inline:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: shared
      Roles: [!Ref Role]
      Groups: [ops]
      PolicyDocument: '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"}]}'
  OnExisting:
    Type: AWS::IAM::RolePolicy
    Properties: {RoleName: existing, PolicyName: more, PolicyDocument: {Version: "2012-10-17", Statement: []}}
  Group: {Type: AWS::IAM::Group, Properties: {GroupName: g}}
  User: {Type: AWS::IAM::User, Properties: {UserName: u, Groups: [ops]}}
  Add: {Type: AWS::IAM::UserToGroupAddition, Properties: {GroupName: !Ref Group, Users: [bob, !Ref User]}}
  Ou: {Type: AWS::Organizations::OrganizationalUnit, Properties: {Name: New, ParentId: r-1}}
  Scp:
    Type: AWS::Organizations::Policy
    Properties:
      Name: deny
      Type: SERVICE_CONTROL_POLICY
      TargetIds: [!Ref Ou, ou-1]
      Content: {Version: "2012-10-17", Statement: [{Effect: Deny, Action: "kms:*", Resource: "*"}]}
"#;
        let span = Span::default();
        let s = |v: &str| Spanned::new(v.to_string(), span);
        let node =
            |kind, id: &str, children| OrgNode { kind, id: s(id), name: None, policy_ids: Vec::new(), children, span };
        let role = |name: &str| IamRole {
            arn: s(&format!("arn:aws:iam::111122223333:role/{name}")),
            name: name.into(),
            path: "/".into(),
            id: "AROA1".into(),
            trust: None,
            inline: Vec::new(),
            attached: Vec::new(),
            boundary: None,
            tags: Vec::new(),
            span,
        };
        let iam = IamFile {
            roles: vec![role("existing")],
            users: vec![IamUser {
                arn: s("arn:aws:iam::111122223333:user/bob"),
                name: "bob".into(),
                path: "/".into(),
                id: "AIDA1".into(),
                groups: Vec::new(),
                inline: Vec::new(),
                attached: Vec::new(),
                boundary: None,
                tags: Vec::new(),
                span,
            }],
            groups: vec![IamGroup {
                arn: s("arn:aws:iam::111122223333:group/ops"),
                name: "ops".into(),
                path: "/".into(),
                id: "AGPA1".into(),
                inline: Vec::new(),
                attached: Vec::new(),
                span,
            }],
            policies: Vec::new(),
        };
        let mut raw = RawSnapshot {
            organization: Some(OrgFile {
                id: s("o-a1b2c3d4e5"),
                management_account: s("999988887777"),
                roots: vec![node(
                    OrgNodeKind::Root,
                    "r-1",
                    vec![node(OrgNodeKind::OrganizationalUnit, "ou-1", Vec::new())],
                )],
                policies: Vec::new(),
                other_policy_ids: Vec::new(),
                policy_types: None,
            }),
            accounts: vec![AccountFiles {
                id: "111122223333".into(),
                iam: Some(iam),
                keys: Vec::new(),
                not_collected: None,
                notes: Vec::new(),
            }],
            ..RawSnapshot::default()
        };
        let mut sources = SourceMap::new();
        let id = sources.add("t.yaml", template.to_string(), None);
        let t = read_template_lenient(&sources, id).unwrap_or_else(|e| panic!("{e}"));
        let deployment =
            Deployment::Stack { account: "111122223333".into(), region: "us-east-1".into(), stack_name: "st".into() };
        let report = apply_template(&mut raw, &mut sources, t, &[], &deployment).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(report.unknown.is_empty(), "{:?}", report.unknown);
        assert_eq!(report.applied.len(), 12, "{:?}", report.applied);

        let a = &raw.accounts[0];
        let keys: Vec<(&str, usize, bool, &[Spanned<String>])> = a
            .keys
            .iter()
            .map(|k| {
                (
                    k.key_id.value.as_str(),
                    k.policy.as_ref().map_or(0, |p| p.statements.len()),
                    k.multi_region,
                    k.aliases.as_slice(),
                )
            })
            .collect();
        // The key without KeyPolicy has the default key policy's one statement.
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert_eq!(keys[0].0, "cfn-st-Key");
        assert_eq!(keys[0].1, 1);
        assert_eq!(keys[0].3.iter().map(|x| x.value.as_str()).collect::<Vec<_>>(), ["alias/k"]);
        assert_eq!(keys[1].0, "mrk-cfn-st-Mrk");
        assert!(keys[1].2);

        let iam = a.iam.as_ref().unwrap_or_else(|| panic!("iam"));
        let managed = "arn:aws:iam::111122223333:policy/m";
        assert_eq!(iam.policies.iter().map(|p| p.arn.value.as_str()).collect::<Vec<_>>(), [managed]);
        let r = iam.roles.iter().find(|r| r.name == "r").unwrap_or_else(|| panic!("role r"));
        assert_eq!(r.arn.value, "arn:aws:iam::111122223333:role/p/r");
        assert_eq!(r.attached.iter().map(|x| x.value.as_str()).collect::<Vec<_>>(), [managed]);
        assert_eq!(r.boundary.as_ref().map(|b| b.value.as_str()), Some(managed));
        assert_eq!(r.inline.iter().map(|p| p.name.value.as_str()).collect::<Vec<_>>(), ["inline", "shared"]);
        assert_eq!(r.tags.len(), 1);
        let existing = iam.roles.iter().find(|r| r.name == "existing").unwrap_or_else(|| panic!("existing"));
        assert_eq!(existing.attached.iter().map(|x| x.value.as_str()).collect::<Vec<_>>(), [managed]);
        assert_eq!(existing.inline.iter().map(|p| p.name.value.as_str()).collect::<Vec<_>>(), ["more"]);
        let user = |n: &str| iam.users.iter().find(|u| u.name == n).unwrap_or_else(|| panic!("user {n}"));
        assert_eq!(user("bob").attached.iter().map(|x| x.value.as_str()).collect::<Vec<_>>(), [managed]);
        assert_eq!(user("bob").groups.iter().map(|x| x.value.as_str()).collect::<Vec<_>>(), ["g"]);
        assert_eq!(user("u").groups.iter().map(|x| x.value.as_str()).collect::<Vec<_>>(), ["ops", "g"]);
        let ops = iam.groups.iter().find(|g| g.name == "ops").unwrap_or_else(|| panic!("ops"));
        assert_eq!(ops.inline.iter().map(|p| p.name.value.as_str()).collect::<Vec<_>>(), ["shared"]);

        let org = raw.organization.as_ref().unwrap_or_else(|| panic!("org"));
        assert_eq!(org.policies.iter().map(|p| p.id.value.as_str()).collect::<Vec<_>>(), ["p-cfn-Scp"]);
        let root = &org.roots[0];
        let ids = |n: &OrgNode| n.policy_ids.iter().map(|p| p.value.clone()).collect::<Vec<_>>();
        assert_eq!(root.children.len(), 2);
        assert_eq!(ids(&root.children[0]), ["p-cfn-Scp"]);
        assert_eq!(root.children[1].id.value, "ou-cfn-Ou");
        assert_eq!(ids(&root.children[1]), ["p-cfn-Scp"]);
    }
}
