//! A request and its context: the principal resolved against the snapshot, the key, the action,
//! and every condition key's value — filled from the snapshot where it follows from the
//! principal or the key, given by the caller where it belongs to the request.

use crate::err::ModelError;
use crate::principal::PrincipalRef;
use crate::reference::{KeyClass, KeySource, KmsAction, Reference};
use crate::snapshot::{Account, Key, Role, Snapshot, Tags, User};
use std::collections::BTreeMap;

/// A request as a user states it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub principal: String,
    pub action: String,
    pub key: String,
    /// Request context keys given by the caller, each with one or more values.
    #[serde(default)]
    pub context: BTreeMap<String, Vec<String>>,
}

/// The principal of a request, resolved against the snapshot.
#[derive(Debug, Clone)]
pub struct ResolvedPrincipal<'s> {
    pub r: PrincipalRef,
    /// The account, when the snapshot knows it (collected, or named in the organization).
    pub account: Option<&'s Account>,
    pub role: Option<&'s Role>,
    pub user: Option<&'s User>,
    /// Whether the principal's own IAM side (identity policies, boundary) is known: true for
    /// principals of collected accounts (and for root users, which need no IAM policy).
    pub identity_known: bool,
    /// `aws:PrincipalArn`, when known.
    pub principal_arn: Option<String>,
    pub in_org: bool,
}

impl ResolvedPrincipal<'_> {
    pub fn account_id(&self) -> Option<&str> {
        self.r.account()
    }

    /// SCPs and RCPs do not apply to service-linked roles.
    pub fn is_service_linked(&self) -> bool {
        self.role.is_some_and(|r| r.is_service_linked())
            || matches!(&self.r, PrincipalRef::Role { path, .. } if path.starts_with("/aws-service-role/"))
    }

    /// The tags of the role or user.
    pub fn tags(&self) -> Option<&Tags> {
        self.role.map(|r| &r.tags).or(self.user.map(|u| &u.tags))
    }

    /// The principal's unique id when it is in the snapshot.
    pub fn unique_id(&self) -> Option<&str> {
        self.role.map(|r| r.unique_id.as_str()).or(self.user.map(|u| u.unique_id.as_str()))
    }
}

/// Resolves a request principal. A principal of a collected account must exist in it (the
/// snapshot holds all of them); a principal of any other account is open world.
pub fn resolve_principal<'s>(snapshot: &'s Snapshot, text: &str) -> Result<ResolvedPrincipal<'s>, ModelError> {
    let r = PrincipalRef::parse(text).map_err(|message| ModelError::InvalidPrincipal { message })?;
    let account = r.account().and_then(|a| snapshot.account(a));
    let collected = account.is_some_and(|a| a.collected);
    let in_org = r.account().is_some_and(|a| snapshot.in_org(a));
    let mut role = None;
    let mut user = None;
    let unknown = |r: &PrincipalRef, account: &str| ModelError::UnknownPrincipal {
        principal: r.arn(),
        account: account.to_string(),
    };
    if let (Some(acc), true) = (account, collected) {
        match &r {
            PrincipalRef::Role { name, path, .. } => {
                let found = acc.role(name).ok_or_else(|| unknown(&r, &acc.id))?;
                if path != "/" && *path != found.path {
                    return Err(unknown(&r, &acc.id));
                }
                role = Some(found);
            }
            PrincipalRef::Session { role: name, .. } => {
                role = Some(acc.role(name).ok_or_else(|| unknown(&r, &acc.id))?)
            }
            PrincipalRef::User { name, path, .. } => {
                let found = acc.user(name).ok_or_else(|| unknown(&r, &acc.id))?;
                if path != "/" && *path != found.path {
                    return Err(unknown(&r, &acc.id));
                }
                user = Some(found);
            }
            _ => {}
        }
    }
    let identity_known = match &r {
        PrincipalRef::Root { .. } => true,
        PrincipalRef::Role { .. } | PrincipalRef::Session { .. } | PrincipalRef::User { .. } => collected,
        // A federated user's permissions are those of the IAM user that called
        // GetFederationToken, intersected with a session policy: not in the snapshot.
        PrincipalRef::FederatedUser { .. } => false,
        PrincipalRef::Service(_) | PrincipalRef::Anonymous => true,
    };
    let principal_arn = match &r {
        PrincipalRef::Role { .. } | PrincipalRef::Session { .. } => match role {
            Some(found) => Some(found.arn.clone()),
            // Without the role in the snapshot, a role ARN as given is the principal ARN; a
            // session ARN does not tell the role's path.
            None => match &r {
                PrincipalRef::Role { .. } => Some(r.arn()),
                _ => None,
            },
        },
        PrincipalRef::User { .. } => Some(user.map_or_else(|| r.arn(), |u| u.arn.clone())),
        PrincipalRef::Root { .. } | PrincipalRef::FederatedUser { .. } => Some(r.arn()),
        PrincipalRef::Service(_) | PrincipalRef::Anonymous => None,
    };
    Ok(ResolvedPrincipal { r, account, role, user, identity_known, principal_arn, in_org })
}

/// The value of a condition key in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Values(Vec<String>),
    /// Not known; the reason says why.
    Unknown(String),
    /// One of several possibilities (`None` = absent), when the snapshot narrows the value
    /// without fixing it: a principal outside the organization has no `aws:PrincipalOrgID` or
    /// the id of another organization. A condition decides only if it agrees on all of them.
    OneOf(Vec<Option<Vec<String>>>, String),
}

/// The value of a key as a condition sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<'a> {
    Absent,
    Values(&'a [String]),
    Unknown(String),
    OneOf(&'a [Option<Vec<String>>], &'a str),
}

/// The prefix of every unknown that is about a principal outside the snapshot (its IAM
/// policies, tags, organization, name): what "any principal of account A that A's own IAM
/// allows" leaves open. Other unknowns (an unknown condition key, a request value not given) are
/// about the question itself.
pub const OUTSIDE: &str = "outside the snapshot: ";

/// Whether an unknown reason is about a principal outside the snapshot.
pub fn is_outside_reason(reason: &str) -> bool {
    reason.starts_with(OUTSIDE)
}

/// A value that stands for "the id of some other organization": it equals no real id (those
/// have no `?`) and matches only patterns any such id would match.
pub const FOREIGN_ORG_ID: &str = "o-?foreign";

/// A request's full context.
#[derive(Debug, Clone)]
pub struct Context {
    entries: BTreeMap<String, (String, Entry)>,
    action: &'static KmsAction,
    /// The principal is outside the snapshot: its `aws:PrincipalTag/…` values are unknown unless
    /// the request gives them.
    principal_tags_unknown: bool,
}

impl Context {
    pub fn new(action: &'static KmsAction) -> Context {
        Context { entries: BTreeMap::new(), action, principal_tags_unknown: false }
    }

    pub fn action(&self) -> &'static KmsAction {
        self.action
    }

    pub fn set(&mut self, key: &str, entry: Entry) {
        self.entries.insert(key.to_lowercase(), (key.to_string(), entry));
    }

    fn set_values(&mut self, key: &str, values: Vec<String>) {
        self.set(key, Entry::Values(values));
    }

    fn set_one(&mut self, key: &str, value: impl Into<String>) {
        self.set(key, Entry::Values(vec![value.into()]));
    }

    /// The value of a condition key (key names are case-insensitive: IAM
    /// reference_policies_elements_condition).
    pub fn lookup(&self, key: &str) -> Lookup<'_> {
        let lower = key.to_lowercase();
        if self.principal_tags_unknown && lower.starts_with("aws:principaltag/") && !self.entries.contains_key(&lower) {
            return Lookup::Unknown(format!("{OUTSIDE}the tags of the principal are unknown (`{key}`)"));
        }
        if let Some((_, e)) = self.entries.get(&lower) {
            return match e {
                Entry::Values(v) if v.is_empty() => Lookup::Absent,
                Entry::Values(v) => Lookup::Values(v),
                Entry::Unknown(why) => Lookup::Unknown(why.clone()),
                Entry::OneOf(options, why) => Lookup::OneOf(options, why),
            };
        }
        match Reference::get().classify(key, self.action) {
            KeyClass::Unknown => Lookup::Unknown(format!("keyproof does not know the condition key `{key}`")),
            KeyClass::NeverPresent => Lookup::Absent,
            KeyClass::Known(info) => match info.source {
                KeySource::AlwaysPresent => {
                    Lookup::Unknown(format!("`{key}` is sent with every request and the request did not give it"))
                }
                _ => Lookup::Absent,
            },
        }
    }

    /// The entry filled from the snapshot or given by the caller, without the fallback rules of
    /// [`Context::lookup`].
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.get(&key.to_lowercase()).map(|(_, e)| e)
    }

    /// Whether the principal's tags are unknown unless given (a principal outside the snapshot).
    pub fn principal_tags_unknown(&self) -> bool {
        self.principal_tags_unknown
    }

    /// Every entry, with the key as first written.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.values().map(|(k, e)| (k.as_str(), e))
    }

    /// The request's encryption context (`kms:EncryptionContext:<k>` entries), keys as given.
    pub fn encryption_context(&self) -> Vec<(String, String)> {
        self.entries
            .values()
            .filter_map(|(k, e)| {
                let rest = k.get("kms:encryptioncontext:".len()..)?;
                if !k.to_lowercase().starts_with("kms:encryptioncontext:") {
                    return None;
                }
                match e {
                    Entry::Values(v) => v.first().map(|val| (rest.to_string(), val.clone())),
                    _ => None,
                }
            })
            .collect()
    }
}

fn is_principal_tag(key: &str) -> bool {
    key.to_lowercase().starts_with("aws:principaltag/")
}

/// Builds the context of a request: the caller's entries (checked), then everything that follows
/// from the principal and the key.
pub fn build_context(
    snapshot: &Snapshot,
    principal: &ResolvedPrincipal<'_>,
    key: &Key,
    action: &'static KmsAction,
    given: &BTreeMap<String, Vec<String>>,
) -> Result<Context, ModelError> {
    let reference = Reference::get();
    let mut ctx = Context::new(action);
    let tags_may_be_given = matches!(
        principal.r,
        PrincipalRef::Session { .. } | PrincipalRef::Role { .. } | PrincipalRef::FederatedUser { .. }
    ) || !principal.identity_known
        || (principal.role.is_none() && principal.user.is_none() && !matches!(principal.r, PrincipalRef::Root { .. }));
    for (k, values) in given {
        let bad = |reason: &str| ModelError::InvalidContext { entry: k.clone(), reason: reason.to_string() };
        match reference.classify(k, action) {
            KeyClass::Unknown => {
                return Err(bad(&format!(
                    "keyproof does not know this condition key{}",
                    crate::suggest::condition_key(k)
                )))
            }
            KeyClass::NeverPresent => {
                return Err(bad(&format!("a kms:{} request never carries this key", action.name)));
            }
            KeyClass::Known(info) => {
                match info.source {
                    KeySource::Principal
                        if is_principal_tag(k) && principal.role.is_some_and(|r| !r.session_tags_allowed()) =>
                    {
                        return Err(bad("the role's trust policy does not allow sts:TagSession, so its sessions carry only the role's own tags"));
                    }
                    KeySource::Principal if is_principal_tag(k) && tags_may_be_given => {}
                    KeySource::Principal => {
                        return Err(bad("it follows from the principal and is filled from the snapshot"))
                    }
                    KeySource::Resource => return Err(bad("it follows from the key and is filled from the snapshot")),
                    KeySource::Request | KeySource::AlwaysPresent => {}
                }
                if !info.multivalued && values.len() > 1 {
                    return Err(bad("this key takes a single value"));
                }
            }
        }
    }
    // What follows from the principal.
    let p = principal;
    let unknown_identity = |what: &str| {
        Entry::Unknown(format!(
            "{OUTSIDE}{what} of `{}` is not in the snapshot (its account's IAM was not collected)",
            p.r.arn()
        ))
    };
    if let Some(arn) = &p.principal_arn {
        ctx.set_one("aws:PrincipalArn", arn.clone());
    } else if p.account_id().is_some() {
        ctx.set("aws:PrincipalArn", unknown_identity("the role path"));
    }
    if let Some(account) = p.account_id() {
        ctx.set_one("aws:PrincipalAccount", account);
        ctx.set_one("kms:CallerAccount", account);
        match (&snapshot.org, p.in_org) {
            (Some(org), true) => {
                ctx.set_one("aws:PrincipalOrgID", org.id.clone());
                if let Some(path) = org.org_path(account) {
                    ctx.set_values("aws:PrincipalOrgPaths", vec![path]);
                }
            }
            _ => {
                let why = format!("{OUTSIDE}account {account} is not in the snapshot's organization; it may belong to no organization or to another one");
                ctx.set(
                    "aws:PrincipalOrgID",
                    Entry::OneOf(vec![None, Some(vec![FOREIGN_ORG_ID.to_string()])], why.clone()),
                );
                ctx.set(
                    "aws:PrincipalOrgPaths",
                    Entry::OneOf(vec![None, Some(vec![format!("{FOREIGN_ORG_ID}/r-?foreign/")])], why),
                );
            }
        }
    }
    let principal_type = match &p.r {
        PrincipalRef::Root { .. } => Some("Account"),
        PrincipalRef::User { .. } => Some("User"),
        PrincipalRef::Role { .. } | PrincipalRef::Session { .. } => Some("AssumedRole"),
        PrincipalRef::FederatedUser { .. } => Some("FederatedUser"),
        PrincipalRef::Anonymous => Some("Anonymous"),
        PrincipalRef::Service(_) => None,
    };
    if let Some(t) = principal_type {
        ctx.set_one("aws:PrincipalType", t);
    }
    ctx.set_one("aws:PrincipalIsAWSService", matches!(p.r, PrincipalRef::Service(_)).to_string());
    if let PrincipalRef::Service(s) = &p.r {
        ctx.set_one("aws:PrincipalServiceName", s.clone());
    }
    match &p.r {
        PrincipalRef::User { name, .. } => {
            ctx.set_one("aws:username", name.clone());
            match p.user {
                Some(u) => ctx.set_one("aws:userid", u.unique_id.clone()),
                None => ctx.set("aws:userid", unknown_identity("the unique id")),
            }
        }
        PrincipalRef::Session { session, .. } => match p.role {
            Some(r) => ctx.set_one("aws:userid", format!("{}:{session}", r.unique_id)),
            None => ctx.set("aws:userid", unknown_identity("the role's unique id")),
        },
        PrincipalRef::Role { .. } => {
            ctx.set("aws:userid", Entry::Unknown("the session name of an unnamed role session is not known".into()))
        }
        PrincipalRef::Root { account } => ctx.set_one("aws:userid", account.clone()),
        PrincipalRef::FederatedUser { account, name } => ctx.set_one("aws:userid", format!("{account}:{name}")),
        _ => {}
    }
    // Principal tags: the role's or user's tags; a session's tags replace them where given.
    if let Some(tags) = p.tags() {
        for (k, v) in tags.iter() {
            ctx.set_one(&format!("aws:PrincipalTag/{k}"), v);
        }
    }
    // What follows from the key.
    ctx.set_one("aws:ResourceAccount", key.account.clone());
    match &snapshot.org {
        Some(org) if org.contains_account(&key.account) => {
            ctx.set_one("aws:ResourceOrgID", org.id.clone());
            if let Some(path) = org.org_path(&key.account) {
                ctx.set_values("aws:ResourceOrgPaths", vec![path]);
            }
        }
        _ => {
            let why = format!("account {} of the key is not in the snapshot's organization", key.account);
            ctx.set("aws:ResourceOrgID", Entry::OneOf(vec![None, Some(vec![FOREIGN_ORG_ID.to_string()])], why.clone()));
            ctx.set(
                "aws:ResourceOrgPaths",
                Entry::OneOf(vec![None, Some(vec![format!("{FOREIGN_ORG_ID}/r-?foreign/")])], why),
            );
        }
    }
    for (k, v) in key.tags.iter() {
        ctx.set_one(&format!("aws:ResourceTag/{k}"), v);
    }
    ctx.set_one("aws:RequestedRegion", key.region.clone());
    let key_fact = |ctx: &mut Context, name: &str, value: &Option<String>| match value {
        Some(v) => ctx.set_one(name, v.clone()),
        None => ctx.set(name, Entry::Unknown(format!("the key metadata does not give `{name}`"))),
    };
    key_fact(&mut ctx, "kms:KeySpec", &key.key_spec);
    key_fact(&mut ctx, "kms:CustomerMasterKeySpec", &key.key_spec);
    key_fact(&mut ctx, "kms:KeyUsage", &key.key_usage);
    key_fact(&mut ctx, "kms:CustomerMasterKeyUsage", &key.key_usage);
    key_fact(&mut ctx, "kms:KeyOrigin", &key.origin);
    ctx.set_one("kms:MultiRegion", key.multi_region.to_string());
    if let Some(t) = &key.multi_region_type {
        ctx.set_one("kms:MultiRegionKeyType", t.clone());
    }
    ctx.set_values("kms:ResourceAliases", key.aliases.clone());
    // Request keys with a fixed or derived value. KMS endpoints accept only HTTPS (KDG
    // kms-vpc-endpoint / AWS KMS endpoints), so aws:SecureTransport is true.
    ctx.set_one("aws:SecureTransport", "true");
    let via_service = given.keys().any(|k| k.eq_ignore_ascii_case("kms:ViaService"));
    ctx.set_one("aws:ViaAWSService", via_service.to_string());
    // Keys that follow from others may be given only as they follow: AWS never sends anything
    // else.
    let given_value = |name: &str| given.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let bad =
        |entry: &str, reason: &str| ModelError::InvalidContext { entry: entry.to_string(), reason: reason.to_string() };
    if let Some(v) = given_value("aws:SecureTransport") {
        if !v.iter().all(|x| x.eq_ignore_ascii_case("true")) {
            return Err(bad("aws:SecureTransport", "AWS KMS accepts only HTTPS requests, so it is always true"));
        }
    }
    if let Some(v) = given_value("aws:ViaAWSService") {
        if !v.iter().all(|x| x.eq_ignore_ascii_case(&via_service.to_string())) {
            return Err(bad("aws:ViaAWSService", "it is true exactly when kms:ViaService is given"));
        }
    }
    if let Some(v) = given_value("kms:EncryptionContextKeys") {
        let mut want: Vec<String> = given
            .keys()
            .filter(|k| k.to_lowercase().starts_with("kms:encryptioncontext:"))
            .map(|k| k["kms:EncryptionContext:".len()..].to_string())
            .collect();
        let mut have = v.clone();
        want.sort();
        have.sort();
        if want != have {
            return Err(bad(
                "kms:EncryptionContextKeys",
                "it lists the keys of the request's encryption context: give the context as kms:EncryptionContext:<key>=<value> entries",
            ));
        }
    }
    // The caller's entries override the defaults above.
    for (k, values) in given {
        ctx.set_values(k, values.clone());
    }
    // Principal tags of a principal outside the snapshot are unknown unless given.
    if !p.identity_known && !given.keys().any(|k| is_principal_tag(k)) && p.account_id().is_some() {
        ctx.principal_tags_unknown = true;
    }
    // kms:EncryptionContextKeys follows from the encryption context when not given.
    if !given.keys().any(|k| k.eq_ignore_ascii_case("kms:EncryptionContextKeys")) {
        let keys: Vec<String> = ctx.encryption_context().into_iter().map(|(k, _)| k).collect();
        if !keys.is_empty() {
            ctx.set_values("kms:EncryptionContextKeys", keys);
        }
    }
    Ok(ctx)
}
