//! The snapshot folder: `organization.json`, `accounts/<id>/iam.json` and
//! `accounts/<id>/kms/<region>/<key-id>.json`, in the shapes the AWS CLI prints (corpus/README.md).
//! Fields AWS may add over time are ignored; the fields keyproof uses are checked, and every
//! problem in every file is reported together.

use crate::err::ParseError;
use crate::json::{parse_json, Json, JsonKind, Reader};
use crate::policy::{parse_policy_value, Policy, PolicyKind};
use crate::source::{SourceMap, Span, Spanned};
use std::path::{Path, PathBuf};

/// Everything read from a snapshot folder, before the model resolves references.
#[derive(Debug, Clone, Default)]
pub struct RawSnapshot {
    pub root: PathBuf,
    pub organization: Option<OrgFile>,
    pub accounts: Vec<AccountFiles>,
    /// Inputs that were read but are not modelled (other Organizations policy types, …): reported
    /// to the user, never silently dropped.
    pub not_modelled: Vec<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct OrgFile {
    pub id: Spanned<String>,
    pub management_account: Spanned<String>,
    pub roots: Vec<OrgNode>,
    pub policies: Vec<OrgPolicy>,
    /// Ids of Organizations policies of types keyproof does not model (tag, backup, … policies).
    pub other_policy_ids: Vec<String>,
    /// The root's `PolicyTypes` (the `list-roots` shape), or `None` when the file does not say.
    pub policy_types: Option<Vec<PolicyTypeEntry>>,
}

/// One entry of a root's `PolicyTypes`: `{"Type": "RESOURCE_CONTROL_POLICY", "Status": "ENABLED"}`.
#[derive(Debug, Clone)]
pub struct PolicyTypeEntry {
    /// `None` for a type keyproof does not model (tag, backup, … policies).
    pub policy_type: Option<OrgPolicyType>,
    pub status: PolicyTypeStatus,
    pub span: Span,
}

/// `PolicyTypeSummary.Status` (Organizations API): a type in transition is neither on nor off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyTypeStatus {
    Enabled,
    PendingEnable,
    PendingDisable,
}

/// Every Organizations policy type the API documents; only SCPs and RCPs affect KMS
/// authorization (Organizations API PolicyTypeSummary).
const OTHER_POLICY_TYPES: &[&str] = &[
    "TAG_POLICY",
    "BACKUP_POLICY",
    "AISERVICES_OPT_OUT_POLICY",
    "CHATBOT_POLICY",
    "DECLARATIVE_POLICY_EC2",
    "SECURITYHUB_POLICY",
    "INSPECTOR_POLICY",
    "UPGRADE_ROLLOUT_POLICY",
    "BEDROCK_POLICY",
    "S3_POLICY",
    "NETWORK_SECURITY_DIRECTOR_POLICY",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgNodeKind {
    Root,
    OrganizationalUnit,
    Account,
}

#[derive(Debug, Clone)]
pub struct OrgNode {
    pub kind: OrgNodeKind,
    pub id: Spanned<String>,
    pub name: Option<Spanned<String>>,
    pub policy_ids: Vec<Spanned<String>>,
    pub children: Vec<OrgNode>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgPolicyType {
    Scp,
    Rcp,
}

#[derive(Debug, Clone)]
pub struct OrgPolicy {
    pub id: Spanned<String>,
    pub name: String,
    pub policy_type: OrgPolicyType,
    pub aws_managed: bool,
    pub document: Policy,
}

/// One account folder.
#[derive(Debug, Clone)]
pub struct AccountFiles {
    pub id: String,
    /// `None` when the folder has no `iam.json`: the account's IAM side is then unknown.
    pub iam: Option<IamFile>,
    pub keys: Vec<KeyFile>,
    /// Why the account (or part of it) was not collected, from `not-collected.json`.
    pub not_collected: Option<String>,
    /// Notes from its files (statements without effect, …).
    pub notes: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct IamFile {
    pub users: Vec<IamUser>,
    pub groups: Vec<IamGroup>,
    pub roles: Vec<IamRole>,
    pub policies: Vec<ManagedPolicy>,
}

#[derive(Debug, Clone)]
pub struct InlinePolicy {
    pub name: Spanned<String>,
    pub document: Policy,
}

#[derive(Debug, Clone)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct IamRole {
    pub arn: Spanned<String>,
    pub name: String,
    pub path: String,
    pub id: String,
    pub trust: Option<Policy>,
    pub inline: Vec<InlinePolicy>,
    pub attached: Vec<Spanned<String>>,
    pub boundary: Option<Spanned<String>>,
    pub tags: Vec<Tag>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct IamUser {
    pub arn: Spanned<String>,
    pub name: String,
    pub path: String,
    pub id: String,
    pub groups: Vec<Spanned<String>>,
    pub inline: Vec<InlinePolicy>,
    pub attached: Vec<Spanned<String>>,
    pub boundary: Option<Spanned<String>>,
    pub tags: Vec<Tag>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct IamGroup {
    pub arn: Spanned<String>,
    pub name: String,
    pub path: String,
    pub id: String,
    pub inline: Vec<InlinePolicy>,
    pub attached: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    pub arn: Spanned<String>,
    pub name: String,
    /// The version marked `IsDefaultVersion`; the others never apply.
    pub default_version: Option<Policy>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct KeyFile {
    pub file: String,
    pub region: String,
    pub key_id: Spanned<String>,
    pub arn: Spanned<String>,
    pub account: Spanned<String>,
    pub key_manager: Option<String>,
    pub key_state: Option<String>,
    pub key_spec: Option<String>,
    pub key_usage: Option<String>,
    pub origin: Option<String>,
    pub enabled: Option<bool>,
    pub description: Option<String>,
    pub multi_region: bool,
    pub multi_region_type: Option<String>,
    pub primary_key_arn: Option<Spanned<String>>,
    pub replica_key_arns: Vec<Spanned<String>>,
    pub policy: Option<Policy>,
    pub grants: Vec<RawGrant>,
    pub aliases: Vec<Spanned<String>>,
    pub rotation_enabled: Option<bool>,
    pub tags: Vec<Tag>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct RawGrant {
    pub grant_id: Spanned<String>,
    pub name: Option<String>,
    pub key_id: Option<Spanned<String>>,
    pub grantee: Spanned<String>,
    pub retiring: Option<Spanned<String>>,
    pub issuing_account: Option<Spanned<String>>,
    pub operations: Vec<Spanned<String>>,
    /// `EncryptionContextEquals` pairs.
    pub context_equals: Option<Vec<(String, String)>>,
    /// `EncryptionContextSubset` pairs.
    pub context_subset: Option<Vec<(String, String)>>,
    pub span: Span,
}

/// Where a snapshot's files come from: a folder on disk, or a set of files compiled into the
/// binary (the demo corpus).
#[derive(Debug, Clone)]
pub enum SnapshotFiles {
    Dir(PathBuf),
    /// Paths relative to the snapshot root, with `/` separators, and their text.
    Embedded {
        name: String,
        files: Vec<(&'static str, &'static str)>,
    },
}

impl SnapshotFiles {
    fn describe(&self) -> String {
        match self {
            SnapshotFiles::Dir(p) => p.display().to_string(),
            SnapshotFiles::Embedded { name, .. } => name.clone(),
        }
    }

    fn read(&self, rel: &str) -> Result<String, ParseError> {
        match self {
            SnapshotFiles::Dir(root) => {
                let path = root.join(rel);
                std::fs::read_to_string(&path)
                    .map_err(|e| ParseError::Io { path: path.display().to_string(), error: e })
            }
            SnapshotFiles::Embedded { files, .. } => {
                files.iter().find(|(p, _)| *p == rel).map(|(_, t)| t.to_string()).ok_or_else(|| ParseError::Io {
                    path: rel.to_string(),
                    error: std::io::Error::from(std::io::ErrorKind::NotFound),
                })
            }
        }
    }

    fn is_file(&self, rel: &str) -> bool {
        match self {
            SnapshotFiles::Dir(root) => root.join(rel).is_file(),
            SnapshotFiles::Embedded { files, .. } => files.iter().any(|(p, _)| *p == rel),
        }
    }

    fn is_dir(&self, rel: &str) -> bool {
        match self {
            SnapshotFiles::Dir(root) => root.join(rel).is_dir(),
            SnapshotFiles::Embedded { files, .. } => {
                let prefix = format!("{rel}/");
                files.iter().any(|(p, _)| p.starts_with(&prefix))
            }
        }
    }

    /// The entries of a folder, sorted by name.
    fn list(&self, rel: &str) -> Result<Vec<String>, ParseError> {
        match self {
            SnapshotFiles::Dir(root) => {
                let path = root.join(rel);
                let rd = std::fs::read_dir(&path)
                    .map_err(|e| ParseError::Io { path: path.display().to_string(), error: e })?;
                let mut out = Vec::new();
                for entry in rd {
                    let entry = entry.map_err(|e| ParseError::Io { path: path.display().to_string(), error: e })?;
                    out.push(entry.file_name().to_string_lossy().into_owned());
                }
                out.sort();
                Ok(out)
            }
            SnapshotFiles::Embedded { files, .. } => {
                let prefix = format!("{rel}/");
                let mut out: Vec<String> = files
                    .iter()
                    .filter_map(|(p, _)| p.strip_prefix(&prefix))
                    .map(|rest| rest.split('/').next().unwrap_or("").to_string())
                    .collect();
                out.sort();
                out.dedup();
                Ok(out)
            }
        }
    }
}

/// The snapshot's files with their JSON parsed ahead, in parallel: parsing is the bulk of
/// loading, and it needs the source map only to read. The structural reading that follows is
/// sequential (it adds embedded documents to the source map).
struct Files<'a> {
    files: &'a SnapshotFiles,
    parsed: std::cell::RefCell<std::collections::HashMap<String, Parsed>>,
}

/// A file read and parsed: its source and its JSON, or the error.
type Parsed = Result<(crate::source::SourceId, Json), ParseError>;

impl<'a> Files<'a> {
    fn new(files: &'a SnapshotFiles, sources: &mut SourceMap) -> Files<'a> {
        use rayon::prelude::*;
        let mut rels: Vec<String> = Vec::new();
        if files.is_file("organization.json") {
            rels.push("organization.json".into());
        }
        for account in files.list("accounts").unwrap_or_default() {
            for name in ["not-collected.json", "iam.json"] {
                let rel = format!("accounts/{account}/{name}");
                if files.is_file(&rel) {
                    rels.push(rel);
                }
            }
            let kms = format!("accounts/{account}/kms");
            for region in files.list(&kms).unwrap_or_default() {
                for file in files.list(&format!("{kms}/{region}")).unwrap_or_default() {
                    let rel = format!("{kms}/{region}/{file}");
                    if file.ends_with(".json") && files.is_file(&rel) {
                        rels.push(rel);
                    }
                }
            }
        }
        let texts: Vec<(String, Result<String, ParseError>)> = rels
            .into_par_iter()
            .map(|rel| {
                let text = files.read(&rel);
                (rel, text)
            })
            .collect();
        let mut ids = Vec::new();
        let mut parsed = std::collections::HashMap::new();
        for (rel, text) in texts {
            match text {
                Ok(t) => ids.push((rel.clone(), sources.add(sources.rooted(&rel), t, None))),
                Err(e) => {
                    parsed.insert(rel, Err(e));
                }
            }
        }
        let shared: &SourceMap = sources;
        let results: Vec<(String, Parsed)> =
            ids.into_par_iter().map(|(rel, id)| (rel, parse_json(shared, id).map(|j| (id, j)))).collect();
        parsed.extend(results);
        Files { files, parsed: std::cell::RefCell::new(parsed) }
    }

    fn is_file(&self, rel: &str) -> bool {
        self.files.is_file(rel)
    }

    fn is_dir(&self, rel: &str) -> bool {
        self.files.is_dir(rel)
    }

    fn list(&self, rel: &str) -> Result<Vec<String>, ParseError> {
        self.files.list(rel)
    }
}

fn read_file(
    sources: &mut SourceMap,
    files: &Files<'_>,
    rel: &str,
) -> Result<(crate::source::SourceId, Json), ParseError> {
    if let Some(done) = files.parsed.borrow_mut().remove(rel) {
        return done;
    }
    let text = files.files.read(rel)?;
    let id = sources.add(sources.rooted(rel), text, None);
    let json = parse_json(sources, id)?;
    Ok((id, json))
}

/// Reads a snapshot folder. Every file is read even when an earlier one has errors, and all the
/// errors are returned together.
pub fn read_snapshot_dir(root: &Path, sources: &mut SourceMap) -> Result<RawSnapshot, ParseError> {
    if !root.is_dir() {
        return Err(ParseError::Snapshot {
            message: format!("snapshot folder `{}` does not exist", root.display()),
            help: Some("pass --snapshot DIR with organization.json and accounts/<id>/…".into()),
        });
    }
    read_snapshot(&SnapshotFiles::Dir(root.to_path_buf()), sources)
}

/// Reads a snapshot from a folder or from embedded files.
pub fn read_snapshot(snapshot_files: &SnapshotFiles, sources: &mut SourceMap) -> Result<RawSnapshot, ParseError> {
    let files = &Files::new(snapshot_files, sources);
    let mut errors: Vec<ParseError> = Vec::new();
    let mut snapshot = RawSnapshot {
        root: match snapshot_files {
            SnapshotFiles::Dir(p) => p.clone(),
            SnapshotFiles::Embedded { name, .. } => PathBuf::from(name),
        },
        ..Default::default()
    };
    if files.is_file("organization.json") {
        match read_file(sources, files, "organization.json") {
            Ok((_, json)) => {
                let mut r = Reader::new(sources);
                let org = read_organization(&mut r, &json, &mut snapshot.not_modelled);
                snapshot.not_modelled.append(&mut r.notes);
                match r.finish("organization.json") {
                    Ok(()) => snapshot.organization = org,
                    Err(e) => errors.push(e),
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if files.is_dir("accounts") {
        for account_id in files.list("accounts")? {
            let rel = format!("accounts/{account_id}");
            if !files.is_dir(&rel) {
                continue;
            }
            if !is_account_id(&account_id) {
                errors.push(ParseError::Snapshot {
                    message: format!("`accounts/{account_id}` is not named after a 12-digit account id"),
                    help: None,
                });
                continue;
            }
            match read_account(sources, files, &account_id) {
                Ok(mut a) => {
                    snapshot.not_modelled.append(&mut a.notes);
                    snapshot.accounts.push(a)
                }
                Err(e) => errors.push(e),
            }
        }
    } else if snapshot.organization.is_none() && errors.is_empty() {
        errors.push(ParseError::Snapshot {
            message: format!("`{}` holds neither organization.json nor accounts/", snapshot_files.describe()),
            help: Some("a snapshot is a folder in the layout of `keyproof collect` (see README)".into()),
        });
    }
    ParseError::collect(snapshot_files.describe(), errors)?;
    Ok(snapshot)
}

/// Whether a string is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn read_account(sources: &mut SourceMap, files: &Files<'_>, account_id: &str) -> Result<AccountFiles, ParseError> {
    let mut errors = Vec::new();
    let mut account = AccountFiles {
        id: account_id.to_string(),
        iam: None,
        keys: Vec::new(),
        not_collected: None,
        notes: Vec::new(),
    };
    let nc = format!("accounts/{account_id}/not-collected.json");
    if files.is_file(&nc) {
        match read_file(sources, files, &nc) {
            Ok((_, json)) => {
                let mut r = Reader::new(sources);
                account.not_collected = r.req_string(&json, "Reason").map(|s| s.value);
                if let Err(e) = r.finish(&nc) {
                    errors.push(e);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let iam_rel = format!("accounts/{account_id}/iam.json");
    if files.is_file(&iam_rel) {
        match read_file(sources, files, &iam_rel) {
            Ok((_, json)) => {
                let mut r = Reader::new(sources);
                let iam = read_iam(&mut r, &json, account_id);
                account.notes.append(&mut r.notes);
                match r.finish(&iam_rel) {
                    Ok(()) => account.iam = Some(iam),
                    Err(e) => errors.push(e),
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let kms = format!("accounts/{account_id}/kms");
    if files.is_dir(&kms) {
        for region in files.list(&kms)? {
            let region_rel = format!("{kms}/{region}");
            if !files.is_dir(&region_rel) {
                continue;
            }
            for file in files.list(&region_rel)? {
                let Some(stem) = file.strip_suffix(".json") else {
                    continue;
                };
                let rel = format!("{region_rel}/{file}");
                if !files.is_file(&rel) {
                    continue;
                }
                match read_file(sources, files, &rel) {
                    Ok((_, json)) => {
                        let mut r = Reader::new(sources);
                        let key = read_key(&mut r, &json, &rel, account_id, &region, stem);
                        account.notes.append(&mut r.notes);
                        match (r.finish(&rel), key) {
                            (Ok(()), Some(k)) => account.keys.push(k),
                            (Err(e), _) => errors.push(e),
                            (Ok(()), None) => {}
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    ParseError::collect(format!("accounts/{account_id}"), errors)?;
    Ok(account)
}

fn read_organization(r: &mut Reader<'_>, json: &Json, not_modelled: &mut Vec<Spanned<String>>) -> Option<OrgFile> {
    r.object(json, "organization.json")?;
    let org = r.req(json, "Organization")?;
    let id = r.req_string(org, "Id")?;
    let management_account = r.req_string(org, "MasterAccountId")?;
    if !is_account_id(&management_account.value) {
        r.error(management_account.span, "`MasterAccountId` is not a 12-digit account id", "expected an account id");
    }
    let mut roots = Vec::new();
    let mut policy_types = None;
    for root in r.object_list(json, "Roots") {
        if let Some(n) = read_org_node(r, root, OrgNodeKind::Root) {
            roots.push(n);
        }
        if root.get("PolicyTypes").is_some() {
            policy_types = Some(read_policy_types(r, root, not_modelled));
        }
    }
    if roots.is_empty() {
        r.error(json.span, "organization.json has no `Roots`", "expected one root");
    }
    let mut policies = Vec::new();
    let mut other_policy_ids = Vec::new();
    for p in r.object_list(json, "Policies") {
        let Some(summary) = r.req(p, "PolicySummary") else {
            continue;
        };
        let (Some(pid), Some(ptype)) = (r.req_string(summary, "Id"), r.req_string(summary, "Type")) else {
            continue;
        };
        let name = r.opt_string(summary, "Name").map(|s| s.value).unwrap_or_else(|| pid.value.clone());
        let aws_managed = r.opt_bool(summary, "AwsManaged").unwrap_or(false);
        let (policy_type, kind) = match ptype.value.as_str() {
            "SERVICE_CONTROL_POLICY" => (OrgPolicyType::Scp, PolicyKind::Scp),
            "RESOURCE_CONTROL_POLICY" => (OrgPolicyType::Rcp, PolicyKind::Rcp),
            other => {
                other_policy_ids.push(pid.value.clone());
                not_modelled.push(Spanned::new(
                    format!("Organizations policy `{}` of type {other} does not affect KMS authorization and is not modelled", pid.value),
                    ptype.span,
                ));
                continue;
            }
        };
        let Some(content) = r.req(p, "Content") else {
            continue;
        };
        let what = format!("Content of {}", pid.value);
        if let Some(document) = parse_policy_value(r, content, kind, &what) {
            policies.push(OrgPolicy { id: pid, name, policy_type, aws_managed, document });
        }
    }
    Some(OrgFile { id, management_account, roots, policies, other_policy_ids, policy_types })
}

/// A root's `PolicyTypes` as `list-roots` prints it. An unknown status is an error (keyproof
/// cannot tell whether the layer applies); an unknown type is a note (Organizations adds policy
/// types over time, and only SCPs and RCPs decide KMS requests).
fn read_policy_types(r: &mut Reader<'_>, root: &Json, not_modelled: &mut Vec<Spanned<String>>) -> Vec<PolicyTypeEntry> {
    let mut out = Vec::new();
    for e in r.object_list(root, "PolicyTypes") {
        let (Some(t), Some(status)) = (r.req_string(e, "Type"), r.req_string(e, "Status")) else {
            continue;
        };
        let policy_type = match t.value.as_str() {
            "SERVICE_CONTROL_POLICY" => Some(OrgPolicyType::Scp),
            "RESOURCE_CONTROL_POLICY" => Some(OrgPolicyType::Rcp),
            known if OTHER_POLICY_TYPES.contains(&known) => None,
            other => {
                not_modelled.push(Spanned::new(
                    format!(
                        "policy type `{other}` is not one keyproof knows; it is taken not to affect KMS authorization"
                    ),
                    t.span,
                ));
                None
            }
        };
        let status = match status.value.as_str() {
            "ENABLED" => PolicyTypeStatus::Enabled,
            "PENDING_ENABLE" => PolicyTypeStatus::PendingEnable,
            "PENDING_DISABLE" => PolicyTypeStatus::PendingDisable,
            other => {
                r.error(
                    status.span,
                    format!("`{other}` is not a policy type status (ENABLED, PENDING_ENABLE or PENDING_DISABLE)"),
                    "unknown status",
                );
                continue;
            }
        };
        if out.iter().any(|x: &PolicyTypeEntry| x.policy_type.is_some() && x.policy_type == policy_type) {
            r.error(e.span, format!("policy type `{}` is listed twice", t.value), "duplicate");
            continue;
        }
        out.push(PolicyTypeEntry { policy_type, status, span: e.span });
    }
    out
}

fn read_org_node(r: &mut Reader<'_>, v: &Json, kind: OrgNodeKind) -> Option<OrgNode> {
    let (inner, kind) = match kind {
        OrgNodeKind::Root => (v, OrgNodeKind::Root),
        _ => {
            if let Some(ou) = v.get("OrganizationalUnit") {
                (ou, OrgNodeKind::OrganizationalUnit)
            } else if let Some(acc) = v.get("Account") {
                (acc, OrgNodeKind::Account)
            } else {
                r.error(v.span, "a child must hold `OrganizationalUnit` or `Account`", "neither an OU nor an account");
                return None;
            }
        }
    };
    let id = r.req_string(inner, "Id")?;
    let ok = match kind {
        OrgNodeKind::Root => id.value.starts_with("r-"),
        OrgNodeKind::OrganizationalUnit => id.value.starts_with("ou-"),
        OrgNodeKind::Account => is_account_id(&id.value),
    };
    if !ok {
        r.error(
            id.span,
            format!(
                "`{}` is not a valid {} id",
                id.value,
                match kind {
                    OrgNodeKind::Root => "root",
                    OrgNodeKind::OrganizationalUnit => "OU",
                    OrgNodeKind::Account => "account",
                }
            ),
            "invalid id",
        );
    }
    let name = r.opt_string(inner, "Name");
    let policy_ids = r.string_list(v, "PolicyIds");
    let mut children = Vec::new();
    if kind != OrgNodeKind::Account {
        for c in r.object_list(v, "Children") {
            if let Some(n) = read_org_node(r, c, OrgNodeKind::OrganizationalUnit) {
                children.push(n);
            }
        }
    } else if v.get("Children").is_some_and(|c| c.elements().is_some_and(|e| !e.is_empty())) {
        r.error(v.span, "an account cannot have children", "account with children");
    }
    Some(OrgNode { kind, id, name, policy_ids, children, span: v.span })
}

fn read_tags(r: &mut Reader<'_>, obj: &Json, field: &str, key: &str, value: &str) -> Vec<Tag> {
    r.object_list(obj, field)
        .into_iter()
        .filter_map(|t| {
            let k = r.req_string(t, key)?;
            let v = r.req_string(t, value)?;
            Some(Tag { key: k.value, value: v.value })
        })
        .collect()
}

fn read_inline(r: &mut Reader<'_>, obj: &Json, field: &str, kind: PolicyKind) -> Vec<InlinePolicy> {
    let mut out = Vec::new();
    for p in r.object_list(obj, field) {
        let Some(name) = r.req_string(p, "PolicyName") else {
            continue;
        };
        let Some(doc) = r.req(p, "PolicyDocument") else {
            continue;
        };
        let what = format!("PolicyDocument of {}", name.value);
        if let Some(document) = parse_policy_value(r, doc, kind, &what) {
            out.push(InlinePolicy { name, document });
        }
    }
    out
}

fn read_attached(r: &mut Reader<'_>, obj: &Json) -> Vec<Spanned<String>> {
    r.object_list(obj, "AttachedManagedPolicies").into_iter().filter_map(|p| r.req_string(p, "PolicyArn")).collect()
}

fn read_boundary(r: &mut Reader<'_>, obj: &Json) -> Option<Spanned<String>> {
    let b = obj.get("PermissionsBoundary")?;
    if matches!(b.kind, JsonKind::Null) {
        return None;
    }
    r.req_string(b, "PermissionsBoundaryArn")
}

fn check_arn_account(r: &mut Reader<'_>, arn: &Spanned<String>, account_id: &str, what: &str) {
    let account = arn.value.split(':').nth(4).unwrap_or("");
    if account != account_id {
        r.error(
            arn.span,
            format!("{what} `{}` is not in account {account_id}, the account of this folder", arn.value),
            "account does not match the folder",
        );
    }
}

fn read_iam(r: &mut Reader<'_>, json: &Json, account_id: &str) -> IamFile {
    let mut iam = IamFile::default();
    if r.object(json, "iam.json").is_none() {
        return iam;
    }
    for u in r.object_list(json, "UserDetailList") {
        let (Some(arn), Some(name)) = (r.req_string(u, "Arn"), r.req_string(u, "UserName")) else {
            continue;
        };
        check_arn_account(r, &arn, account_id, "user");
        let path = r.opt_string(u, "Path").map(|s| s.value).unwrap_or_else(|| "/".into());
        let id = r.opt_string(u, "UserId").map(|s| s.value).unwrap_or_default();
        let groups = r.string_list(u, "GroupList");
        let inline = read_inline(r, u, "UserPolicyList", PolicyKind::Identity);
        let attached = read_attached(r, u);
        let boundary = read_boundary(r, u);
        let tags = read_tags(r, u, "Tags", "Key", "Value");
        iam.users.push(IamUser {
            arn,
            name: name.value,
            path,
            id,
            groups,
            inline,
            attached,
            boundary,
            tags,
            span: u.span,
        });
    }
    for g in r.object_list(json, "GroupDetailList") {
        let (Some(arn), Some(name)) = (r.req_string(g, "Arn"), r.req_string(g, "GroupName")) else {
            continue;
        };
        check_arn_account(r, &arn, account_id, "group");
        let path = r.opt_string(g, "Path").map(|s| s.value).unwrap_or_else(|| "/".into());
        let id = r.opt_string(g, "GroupId").map(|s| s.value).unwrap_or_default();
        let inline = read_inline(r, g, "GroupPolicyList", PolicyKind::Identity);
        let attached = read_attached(r, g);
        iam.groups.push(IamGroup { arn, name: name.value, path, id, inline, attached, span: g.span });
    }
    for role in r.object_list(json, "RoleDetailList") {
        let (Some(arn), Some(name)) = (r.req_string(role, "Arn"), r.req_string(role, "RoleName")) else {
            continue;
        };
        check_arn_account(r, &arn, account_id, "role");
        let path = r.opt_string(role, "Path").map(|s| s.value).unwrap_or_else(|| "/".into());
        let id = r.opt_string(role, "RoleId").map(|s| s.value).unwrap_or_default();
        let trust = match role.get("AssumeRolePolicyDocument") {
            Some(doc) => {
                parse_policy_value(r, doc, PolicyKind::Trust, &format!("AssumeRolePolicyDocument of {}", name.value))
            }
            None => None,
        };
        let inline = read_inline(r, role, "RolePolicyList", PolicyKind::Identity);
        let attached = read_attached(r, role);
        let boundary = read_boundary(r, role);
        let tags = read_tags(r, role, "Tags", "Key", "Value");
        iam.roles.push(IamRole {
            arn,
            name: name.value,
            path,
            id,
            trust,
            inline,
            attached,
            boundary,
            tags,
            span: role.span,
        });
    }
    for p in r.object_list(json, "Policies") {
        let (Some(arn), Some(name)) = (r.req_string(p, "Arn"), r.req_string(p, "PolicyName")) else {
            continue;
        };
        let mut default_version = None;
        let mut defaults = 0;
        for v in r.object_list(p, "PolicyVersionList") {
            if r.opt_bool(v, "IsDefaultVersion") != Some(true) {
                continue;
            }
            defaults += 1;
            let Some(doc) = r.req(v, "Document") else {
                continue;
            };
            // The policy may serve as an identity policy or a boundary; it is parsed with the
            // identity rules, which are the same for both (no Principal).
            default_version = parse_policy_value(r, doc, PolicyKind::Identity, &format!("Document of {}", name.value));
        }
        if defaults != 1 {
            r.error(
                p.span,
                format!("managed policy `{}` has {defaults} default versions", arn.value),
                "expected exactly one `IsDefaultVersion: true`",
            );
        }
        iam.policies.push(ManagedPolicy { arn, name: name.value, default_version, span: p.span });
    }
    iam
}

fn read_context_map(r: &mut Reader<'_>, v: &Json) -> Vec<(String, String)> {
    let Some(members) = v.members() else {
        r.error(v.span, "an encryption context must be an object of strings", "expected an object");
        return Vec::new();
    };
    members
        .iter()
        .filter_map(|(k, val)| r.string(val, "an encryption context value").map(|s| (k.value.clone(), s.value)))
        .collect()
}

fn read_key(r: &mut Reader<'_>, json: &Json, rel: &str, account_id: &str, region: &str, stem: &str) -> Option<KeyFile> {
    r.object(json, rel)?;
    let md = r.req(json, "KeyMetadata")?;
    let key_id = r.req_string(md, "KeyId")?;
    let arn = r.req_string(md, "Arn")?;
    let account = r.req_string(md, "AWSAccountId")?;
    if account.value != account_id {
        r.error(
            account.span,
            format!("key of account {} stored under accounts/{account_id}", account.value),
            "account does not match the folder",
        );
    }
    if key_id.value != stem {
        r.error(
            key_id.span,
            format!("key `{}` stored in `{stem}.json`", key_id.value),
            "the file must be named after the key id",
        );
    }
    let expected_arn = format!("arn:aws:kms:{region}:{account_id}:key/{}", key_id.value);
    if arn.value != expected_arn {
        r.error(
            arn.span,
            format!("key ARN `{}` does not match its folder (expected `{expected_arn}`)", arn.value),
            "ARN does not match account, region or key id",
        );
    }
    let mut multi_region = r.opt_bool(md, "MultiRegion").unwrap_or(false);
    let mut multi_region_type = None;
    let mut primary_key_arn = None;
    let mut replica_key_arns = Vec::new();
    if let Some(cfg) = md.get("MultiRegionConfiguration") {
        multi_region = true;
        multi_region_type = r.opt_string(cfg, "MultiRegionKeyType").map(|s| s.value);
        if let Some(p) = cfg.get("PrimaryKey") {
            primary_key_arn = r.req_string(p, "Arn");
        }
        for rep in r.object_list(cfg, "ReplicaKeys") {
            if let Some(a) = r.req_string(rep, "Arn") {
                replica_key_arns.push(a);
            }
        }
    }
    let policy = match json.get("Policy") {
        None => {
            r.error(json.span, "the key file has no `Policy`", "every KMS key has a key policy");
            None
        }
        Some(p) => {
            // `get-key-policy` prints {"Policy": "<json>", "PolicyName": "default"}; the policy
            // string itself and a plain document object are accepted too.
            let doc_value = match (&p.kind, p.get("Policy")) {
                (JsonKind::Object(_), Some(inner)) if p.get("Statement").is_none() => inner,
                _ => p,
            };
            parse_policy_value(r, doc_value, PolicyKind::KeyPolicy, "Policy")
        }
    };
    let mut grants = Vec::new();
    for g in r.object_list(json, "Grants") {
        let Some(grant_id) = r.req_string(g, "GrantId") else {
            continue;
        };
        let grantee = match (r.opt_string(g, "GranteePrincipal"), r.opt_string(g, "GranteeServicePrincipal")) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => {
                r.error(g.span, "the grant has no `GranteePrincipal`", "missing grantee");
                continue;
            }
        };
        let key_ref = r.opt_string(g, "KeyId");
        if let Some(k) = &key_ref {
            if k.value != arn.value && k.value != key_id.value {
                r.error(
                    k.span,
                    format!("grant `{}` is for key `{}`, not for this key", grant_id.value, k.value),
                    "grant on an unknown key",
                );
            }
        }
        let operations = r.string_list(g, "Operations");
        if operations.is_empty() {
            r.error(g.span, format!("grant `{}` lists no operations", grant_id.value), "empty `Operations`");
        }
        let mut context_equals = None;
        let mut context_subset = None;
        if let Some(c) = g.get("Constraints") {
            if let Some(members) = r.object(c, "`Constraints`").and_then(|c| c.members()) {
                for (name, val) in members {
                    match name.value.as_str() {
                        "EncryptionContextEquals" => context_equals = Some(read_context_map(r, val)),
                        "EncryptionContextSubset" => context_subset = Some(read_context_map(r, val)),
                        other => r.error(
                            name.span,
                            format!("grant constraint `{other}` is not modelled"),
                            "unsupported constraint",
                        ),
                    }
                }
            }
        }
        grants.push(RawGrant {
            grant_id,
            name: r.opt_string(g, "Name").map(|s| s.value),
            key_id: key_ref,
            grantee,
            retiring: r.opt_string(g, "RetiringPrincipal"),
            issuing_account: r.opt_string(g, "IssuingAccount"),
            operations,
            context_equals,
            context_subset,
            span: g.span,
        });
    }
    let mut aliases = Vec::new();
    for a in r.object_list(json, "Aliases") {
        let Some(name) = r.req_string(a, "AliasName") else {
            continue;
        };
        if !name.value.starts_with("alias/") {
            r.error(name.span, format!("alias `{}` does not start with `alias/`", name.value), "invalid alias name");
        }
        if let Some(t) = r.opt_string(a, "TargetKeyId") {
            if t.value != key_id.value && t.value != arn.value {
                r.error(t.span, format!("alias `{}` targets another key", name.value), "alias of another key");
            }
        }
        aliases.push(name);
    }
    let tags = read_tags(r, json, "Tags", "TagKey", "TagValue");
    Some(KeyFile {
        file: rel.to_string(),
        region: region.to_string(),
        key_manager: r.opt_string(md, "KeyManager").map(|s| s.value),
        key_state: r.opt_string(md, "KeyState").map(|s| s.value),
        key_spec: r.opt_string(md, "KeySpec").map(|s| s.value),
        key_usage: r.opt_string(md, "KeyUsage").map(|s| s.value),
        origin: r.opt_string(md, "Origin").map(|s| s.value),
        enabled: r.opt_bool(md, "Enabled"),
        description: r.opt_string(md, "Description").map(|s| s.value),
        key_id,
        arn,
        account,
        multi_region,
        multi_region_type,
        primary_key_arn,
        replica_key_arns,
        policy,
        grants,
        aliases,
        rotation_enabled: r.opt_bool(json, "KeyRotationEnabled"),
        tags,
        span: json.span,
    })
}
