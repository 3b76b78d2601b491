//! The snapshot as a model: accounts with their principals and policies, keys with their
//! policies and grants, and the organization. Built from the parser's raw files; every
//! reference (an attached managed policy, a group, a boundary) is resolved here and a dangling
//! one is an error with its location.

use crate::err::ModelError;
use crate::org::Organization;
use crate::principal::NamedPrincipal;
use keyproof_parser::policy::{Policy, PolicyKind};
use keyproof_parser::snapshot::{read_snapshot, AccountFiles, IamFile, RawGrant, RawSnapshot, SnapshotFiles};
use keyproof_parser::{ParseError, SourceMap, Span, Spanned};
use std::collections::BTreeMap;
use std::path::Path;

/// Index into [`Snapshot::policies`].
pub type PolicyId = usize;

/// A policy document with the name it is shown under.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    /// `inline policy ReadKeys of role arn:…`, `managed policy arn:…`, `key policy of arn:…`.
    pub label: String,
    pub document: Policy,
}

#[derive(Debug, Clone, Default)]
pub struct Tags(pub BTreeMap<String, (String, String)>);

impl Tags {
    fn from(tags: &[keyproof_parser::snapshot::Tag]) -> Tags {
        Tags(tags.iter().map(|t| (t.key.to_lowercase(), (t.key.clone(), t.value.clone()))).collect())
    }
    /// A tag value by key, case-insensitively.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(&key.to_lowercase()).map(|(_, v)| v.as_str())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.values().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[derive(Debug, Clone)]
pub struct Role {
    pub arn: String,
    pub account: String,
    pub name: String,
    pub path: String,
    pub unique_id: String,
    pub trust: Option<Policy>,
    pub policies: Vec<PolicyId>,
    pub boundary: Option<PolicyId>,
    pub tags: Tags,
    pub span: Span,
}

impl Role {
    /// Service-linked roles live under `/aws-service-role/` (IAM using-service-linked-roles);
    /// SCPs and RCPs do not apply to them.
    pub fn is_service_linked(&self) -> bool {
        self.path.starts_with("/aws-service-role/")
    }

    /// Whether sessions of the role can carry session tags: the trust policy must allow
    /// `sts:TagSession` (IAM id_session-tags, "Permissions required to add session tags").
    /// Session tags override the role's tags with the same key.
    pub fn session_tags_allowed(&self) -> bool {
        self.trust.as_ref().is_some_and(|t| {
            t.statements.iter().any(|s| {
                s.effect.value == keyproof_parser::policy::Effect::Allow
                    && s.action.as_ref().is_some_and(|a| {
                        a.values.iter().any(|p| crate::wildcard::action_matches(&p.value, "sts:TagSession"))
                            != a.negated
                    })
            })
        })
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub arn: String,
    pub account: String,
    pub name: String,
    pub path: String,
    pub unique_id: String,
    /// The user's own policies and those of its groups.
    pub policies: Vec<PolicyId>,
    pub groups: Vec<String>,
    pub boundary: Option<PolicyId>,
    pub tags: Tags,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub name: Option<String>,
    /// Whether the account's IAM was collected (`iam.json` present). When it was not, its
    /// principals are open world: any principal its own IAM policies allow.
    pub collected: bool,
    pub not_collected_reason: Option<String>,
    pub roles: Vec<Role>,
    pub users: Vec<User>,
}

impl Account {
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub id: String,
    pub name: Option<String>,
    pub grantee: Spanned<String>,
    pub grantee_principal: NamedPrincipal,
    pub retiring: Option<NamedPrincipal>,
    pub issuing_account: Option<String>,
    pub operations: Vec<Spanned<String>>,
    pub context_equals: Option<Vec<(String, String)>>,
    pub context_subset: Option<Vec<(String, String)>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Key {
    pub arn: String,
    pub id: String,
    pub account: String,
    pub region: String,
    pub file: String,
    /// `KeyManager: CUSTOMER`; AWS managed keys have read-only policies and RCPs do not apply to
    /// them.
    pub customer_managed: bool,
    pub key_state: Option<String>,
    pub key_spec: Option<String>,
    pub key_usage: Option<String>,
    pub origin: Option<String>,
    pub multi_region: bool,
    pub multi_region_type: Option<String>,
    pub primary_arn: Option<String>,
    pub replica_arns: Vec<String>,
    pub policy: PolicyId,
    pub grants: Vec<Grant>,
    pub aliases: Vec<String>,
    pub rotation_enabled: Option<bool>,
    pub tags: Tags,
    pub span: Span,
}

/// A loaded snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub sources: SourceMap,
    pub org: Option<Organization>,
    pub accounts: BTreeMap<String, Account>,
    pub keys: Vec<Key>,
    pub policies: Vec<NamedPolicy>,
    /// Inputs read but not modelled, to be shown to the user.
    pub not_modelled: Vec<Spanned<String>>,
    /// Readings of the input the user should know of (policy types inferred, an organization
    /// level where no SCP allows KMS), each at its location.
    pub notes: Vec<Spanned<String>>,
    /// The keys by ARN (built on the first lookup; see [`Snapshot::find_keys`]).
    by_arn: std::sync::OnceLock<(usize, std::collections::HashMap<String, Vec<usize>>)>,
}

impl Snapshot {
    /// Reads and resolves a snapshot folder.
    pub fn load(dir: &Path) -> Result<Snapshot, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::Input(ParseError::Snapshot {
                message: format!("snapshot folder `{}` does not exist", dir.display()),
                help: Some("pass --snapshot DIR: a folder with organization.json and accounts/<id>/…".into()),
            }));
        }
        Snapshot::from_files(&SnapshotFiles::Dir(dir.to_path_buf()))
    }

    /// Reads and resolves a snapshot from a folder or from embedded files.
    pub fn from_files(files: &SnapshotFiles) -> Result<Snapshot, ModelError> {
        let mut sources = SourceMap::new();
        let raw = read_snapshot(files, &mut sources)?;
        Snapshot::from_raw(raw, sources)
    }

    /// Resolves raw snapshot files (read by [`read_snapshot`], possibly changed since, e.g. by a
    /// Terraform plan overlay) whose sources are in `sources`. The raw files are taken over: their
    /// policy documents, grants and names are moved into the model, not copied (a load holds one
    /// copy of each, BENCHMARKS.md "Load memory").
    pub fn from_raw(raw: RawSnapshot, sources: SourceMap) -> Result<Snapshot, ModelError> {
        let scope = raw.root.display().to_string();
        let mut errors = Vec::new();
        let mut notes = Vec::new();
        let org = raw.organization.as_ref().and_then(|o| Organization::build(o, &sources, &mut errors, &mut notes));
        let mut snapshot = Snapshot {
            sources,
            org,
            accounts: BTreeMap::new(),
            keys: Vec::new(),
            policies: Vec::new(),
            not_modelled: raw.not_modelled,
            notes,
            by_arn: std::sync::OnceLock::new(),
        };
        // Accounts of the organization that have no folder are known by id and name, open world.
        if let Some(org) = &snapshot.org {
            for n in org.accounts() {
                snapshot.accounts.insert(
                    n.id.clone(),
                    Account {
                        id: n.id.clone(),
                        name: n.name.clone(),
                        collected: false,
                        not_collected_reason: None,
                        roles: vec![],
                        users: vec![],
                    },
                );
            }
        }
        for files in raw.accounts {
            snapshot.add_account(files, &mut errors);
        }
        ParseError::collect(scope, errors)?;
        // An index built while the keys were being added is of fewer keys: start afresh.
        snapshot.by_arn = std::sync::OnceLock::new();
        Ok(snapshot)
    }

    fn add_policy(&mut self, label: String, document: Policy) -> PolicyId {
        self.policies.push(NamedPolicy { label, document });
        self.policies.len() - 1
    }

    fn add_account(&mut self, files: AccountFiles, errors: &mut Vec<ParseError>) {
        let name = self.accounts.get(&files.id).and_then(|a| a.name.clone());
        let mut account = Account {
            id: files.id.clone(),
            name,
            collected: files.iam.is_some() && files.not_collected.is_none(),
            not_collected_reason: files.not_collected.clone(),
            roles: Vec::new(),
            users: Vec::new(),
        };
        if let Some(iam) = files.iam {
            self.add_iam(&mut account, iam, errors);
        }
        for k in files.keys {
            let Some(policy_doc) = k.policy else {
                continue;
            };
            let policy = self.add_policy(format!("key policy of {}", k.arn.value), policy_doc);
            let grants = k.grants.into_iter().map(grant_from_raw).collect();
            self.keys.push(Key {
                arn: k.arn.value,
                id: k.key_id.value,
                account: files.id.clone(),
                region: k.region,
                file: k.file,
                customer_managed: k.key_manager.as_deref() != Some("AWS"),
                key_state: k.key_state,
                key_spec: k.key_spec,
                key_usage: k.key_usage,
                origin: k.origin,
                multi_region: k.multi_region,
                multi_region_type: k.multi_region_type,
                primary_arn: k.primary_key_arn.map(|a| a.value),
                replica_arns: k.replica_key_arns.into_iter().map(|a| a.value).collect(),
                policy,
                grants,
                aliases: k.aliases.into_iter().map(|a| a.value).collect(),
                rotation_enabled: k.rotation_enabled,
                tags: Tags::from(&k.tags),
                span: k.span,
            });
        }
        self.accounts.insert(files.id, account);
    }

    fn add_iam(&mut self, account: &mut Account, iam: IamFile, errors: &mut Vec<ParseError>) {
        let mut managed: BTreeMap<String, PolicyId> = BTreeMap::new();
        for p in iam.policies {
            if let Some(doc) = p.default_version {
                let id = self.add_policy(format!("managed policy {}", p.arn.value), doc);
                managed.insert(p.arn.value, id);
            }
        }
        let resolve = |arn: &Spanned<String>, errors: &mut Vec<ParseError>, sources: &SourceMap| -> Option<PolicyId> {
            let found = managed.get(&arn.value).copied();
            if found.is_none() {
                errors.push(
                    ParseError::at(sources, arn.span, format!("managed policy `{}` is not in the `Policies` list", arn.value), "unknown policy")
                        .with_help("`aws iam get-account-authorization-details` lists every attached policy; was the output filtered?"),
                );
            }
            found
        };
        let mut group_policies: BTreeMap<String, Vec<PolicyId>> = BTreeMap::new();
        for g in iam.groups {
            let mut ids = Vec::new();
            for ip in g.inline {
                ids.push(
                    self.add_policy(format!("inline policy {} of group {}", ip.name.value, g.arn.value), ip.document),
                );
            }
            for a in &g.attached {
                if let Some(id) = resolve(a, errors, &self.sources) {
                    ids.push(id);
                }
            }
            group_policies.insert(g.name, ids);
        }
        for r in iam.roles {
            let mut policies = Vec::new();
            for ip in r.inline {
                policies.push(
                    self.add_policy(format!("inline policy {} of role {}", ip.name.value, r.arn.value), ip.document),
                );
            }
            for a in &r.attached {
                if let Some(id) = resolve(a, errors, &self.sources) {
                    policies.push(id);
                }
            }
            let boundary = r.boundary.as_ref().and_then(|b| resolve(b, errors, &self.sources));
            account.roles.push(Role {
                arn: r.arn.value,
                account: account.id.clone(),
                name: r.name,
                path: r.path,
                unique_id: r.id,
                trust: r.trust,
                policies,
                boundary,
                tags: Tags::from(&r.tags),
                span: r.span,
            });
        }
        for u in iam.users {
            let mut policies = Vec::new();
            for ip in u.inline {
                policies.push(
                    self.add_policy(format!("inline policy {} of user {}", ip.name.value, u.arn.value), ip.document),
                );
            }
            for a in &u.attached {
                if let Some(id) = resolve(a, errors, &self.sources) {
                    policies.push(id);
                }
            }
            for g in &u.groups {
                match group_policies.get(&g.value) {
                    Some(ids) => policies.extend(ids.iter().copied()),
                    None => errors.push(ParseError::at(
                        &self.sources,
                        g.span,
                        format!("user `{}` is in group `{}`, which is not in `GroupDetailList`", u.name, g.value),
                        "unknown group",
                    )),
                }
            }
            let boundary = u.boundary.as_ref().and_then(|b| resolve(b, errors, &self.sources));
            account.users.push(User {
                arn: u.arn.value,
                account: account.id.clone(),
                name: u.name,
                path: u.path,
                unique_id: u.id,
                policies,
                groups: u.groups.into_iter().map(|g| g.value).collect(),
                boundary,
                tags: Tags::from(&u.tags),
                span: u.span,
            });
        }
    }

    pub fn policy(&self, id: PolicyId) -> &NamedPolicy {
        &self.policies[id]
    }

    /// The policy kind of every policy id is that of its document.
    pub fn policy_kind(&self, id: PolicyId) -> PolicyKind {
        self.policies[id].document.kind
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// Finds keys by ARN, key id, `mrk-` id, alias name or alias ARN.
    pub fn find_keys(&self, text: &str) -> Vec<&Key> {
        if let Some(rest) = text.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if let [_, "kms", region, account, resource] = parts.as_slice() {
                if resource.starts_with("alias/") {
                    return self
                        .keys
                        .iter()
                        .filter(|k| {
                            &k.region == region && &k.account == account && k.aliases.iter().any(|a| a == resource)
                        })
                        .collect();
                }
            }
            // An ARN is looked up in the index, when it was built for the keys as they are
            // (`keys` is public: an index of another length, or a stale entry, is not used).
            let (len, index) = self.by_arn.get_or_init(|| {
                let mut index: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
                for (i, k) in self.keys.iter().enumerate() {
                    index.entry(k.arn.clone()).or_default().push(i);
                }
                (self.keys.len(), index)
            });
            if *len == self.keys.len() {
                let found: Vec<&Key> =
                    index.get(text).into_iter().flatten().filter_map(|&i| self.keys.get(i)).collect();
                if !found.is_empty() && found.iter().all(|k| k.arn == text) {
                    return found;
                }
            }
            return self.keys.iter().filter(|k| k.arn == text).collect();
        }
        if text.starts_with("alias/") {
            return self.keys.iter().filter(|k| k.aliases.iter().any(|a| a == text)).collect();
        }
        self.keys.iter().filter(|k| k.id == text).collect()
    }

    /// One key by any of its names; an error lists the candidates when the name is ambiguous.
    pub fn key(&self, text: &str) -> Result<&Key, ModelError> {
        let found = self.find_keys(text);
        match found.as_slice() {
            [one] => Ok(one),
            [] => Err(ModelError::UnknownKey { key: text.to_string() }),
            many => Err(ModelError::AmbiguousKey {
                key: text.to_string(),
                candidates: many.iter().map(|k| k.arn.clone()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Every key of the snapshot.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Whether an account belongs to the organization.
    pub fn in_org(&self, account: &str) -> bool {
        self.org.as_ref().is_some_and(|o| o.contains_account(account))
    }
}

fn grant_from_raw(g: RawGrant) -> Grant {
    let issuing_account = g.issuing_account.as_ref().and_then(|a| match NamedPrincipal::from_aws(&a.value) {
        NamedPrincipal::Account(id) => Some(id),
        _ => None,
    });
    Grant {
        id: g.grant_id.value,
        name: g.name,
        grantee_principal: NamedPrincipal::from_aws(&g.grantee.value),
        grantee: g.grantee,
        retiring: g.retiring.as_ref().map(|r| NamedPrincipal::from_aws(&r.value)),
        issuing_account,
        operations: g.operations,
        context_equals: g.context_equals,
        context_subset: g.context_subset,
        span: g.span,
    }
}
