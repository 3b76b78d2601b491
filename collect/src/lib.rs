//! `keyproof collect`: a snapshot of an AWS Organization's KMS access, read through the AWS APIs
//! with read-only calls only, written in the layout that `keyproof_model::Snapshot::load` reads
//! (corpus/README.md, "A snapshot folder").
//!
//! - From the caller's account (the management account or a delegated administrator): the
//!   organization, its roots, OUs and accounts, and the SCPs and RCPs attached to each of them
//!   (`organization.json`). When the caller cannot read the organization, only the accounts it
//!   is given (or its own) are collected, without `organization.json`.
//! - For each account (its own directly, the others by assuming `--role-name`):
//!   `GetAccountAuthorizationDetails` (`iam.json`) and, per region, every key with DescribeKey,
//!   GetKeyPolicy, ListGrants, ListAliases, GetKeyRotationStatus and ListResourceTags.
//! - An account that cannot be collected (its role cannot be assumed, a call is denied) gets
//!   `not-collected.json` with the reason: the verifier then treats it as open world. A region
//!   that is not enabled in an account holds no key and is only noted in `collect-report.json`.
//! - The snapshot is written to a temporary folder next to `--out` and renamed into place only
//!   when complete.
//!
//! Nothing here prints: progress goes to a [`Progress`] that the CLI implements.

mod error;
mod shape;

pub use error::CollectError;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kms::config::Credentials;
use error::{code, describe};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The role the collector assumes in each member account when `--role-name` is not given.
pub const DEFAULT_ROLE_NAME: &str = "KeyproofReadOnly";

/// The reason recorded for an account of the organization left out by `--accounts`.
pub const NOT_SELECTED: &str = "not selected with --accounts";

/// The commercial regions that `--all-regions` visits. Regions that an account has not enabled
/// answer with an authentication error and are noted as skipped.
pub const ALL_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

#[derive(Debug, Clone)]
pub enum Regions {
    /// The region of the profile or the environment (us-east-1 when none is set).
    Default,
    List(Vec<String>),
    All,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    pub profile: Option<String>,
    pub regions: Regions,
    /// Collect only these accounts; the others of the organization are recorded as not
    /// collected.
    pub accounts: Option<Vec<String>>,
    pub role_name: String,
    pub endpoint_url: Option<String>,
    /// The region of the API calls (Organizations, IAM, STS) and, without `regions`, the one
    /// whose keys are collected; else the profile's or the environment's, else us-east-1.
    pub region: Option<String>,
    /// How many accounts and regions are read at the same time.
    pub concurrency: usize,
    /// Attempts per call (standard retry mode: exponential backoff with jitter on throttling
    /// and transient errors).
    pub max_attempts: u32,
}

impl Options {
    pub fn new(out: PathBuf) -> Options {
        Options {
            out,
            profile: None,
            regions: Regions::Default,
            accounts: None,
            role_name: DEFAULT_ROLE_NAME.to_string(),
            endpoint_url: None,
            region: None,
            concurrency: 8,
            max_attempts: 10,
        }
    }
}

/// What the collector reports while it runs.
#[derive(Debug, Clone)]
pub enum Event {
    /// The number of steps (one per account for IAM, one per account and region for KMS).
    Planned { steps: u64 },
    /// One step finished.
    Step { what: String },
    /// An account, or one region of it, could not be collected.
    NotCollected { account: String, reason: String },
}

pub trait Progress: Send + Sync {
    fn event(&self, event: Event);
}

/// A [`Progress`] that ignores everything.
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: Event) {}
}

/// What a run collected.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub organization: Option<String>,
    pub accounts: Vec<String>,
    /// Account id and reason.
    pub not_collected: Vec<(String, String)>,
    pub keys: usize,
    pub regions: Vec<String>,
    /// Regions skipped because an account has not enabled them, and other notes.
    pub notes: Vec<String>,
}

/// Collects a snapshot into `opts.out`, on a runtime of its own.
pub fn run(opts: &Options, progress: &dyn Progress) -> Result<Summary, CollectError> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(CollectError::Runtime)?;
    rt.block_on(collect(opts, progress))
}

/// The snapshot in memory: relative path -> JSON.
type Files = BTreeMap<String, Value>;

pub async fn collect(opts: &Options, progress: &dyn Progress) -> Result<Summary, CollectError> {
    if opts.concurrency == 0 {
        return Err(CollectError::Option("--concurrency must be at least 1".into()));
    }
    check_out(&opts.out)?;
    let base = base_config(opts).await;
    // The first call checks the credentials and the endpoint: one attempt, so that a refused
    // connection or missing credentials fail at once instead of after every retry.
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&base).retry_config(RetryConfig::standard().with_max_attempts(1)).build(),
    );
    let endpoint = opts.endpoint_url.clone().unwrap_or_else(|| {
        format!("the STS endpoint of {}", base.region().map_or("us-east-1".to_string(), |r| r.to_string()))
    });
    let me = sts.get_caller_identity().send().await.map_err(|e| error::identity_error(&e, &endpoint))?;
    let caller_account = me.account().unwrap_or_default().to_string();
    let partition = me.arn().and_then(|a| a.split(':').nth(1)).unwrap_or("aws").to_string();

    let mut files = Files::new();
    let mut summary = Summary::default();
    let org = org::read(&base).await?;
    let all_accounts: Vec<OrgAccount> = match &org {
        Some(o) => {
            files.insert("organization.json".into(), o.json.clone());
            summary.organization = Some(o.id.clone());
            o.accounts.clone()
        }
        None => {
            summary.notes.push("the organization is not readable by the caller: no organization.json".into());
            let ids = opts.accounts.clone().unwrap_or_else(|| vec![caller_account.clone()]);
            ids.into_iter().map(|id| OrgAccount { id, active: true }).collect()
        }
    };
    let regions: Vec<String> = match &opts.regions {
        Regions::List(l) if l.is_empty() => return Err(CollectError::Option("--regions names no region".into())),
        Regions::List(l) => l.clone(),
        Regions::All => ALL_REGIONS.iter().map(|r| r.to_string()).collect(),
        Regions::Default => vec![base.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into())],
    };
    summary.regions = regions.clone();

    let mut selected = Vec::new();
    for a in &all_accounts {
        let wanted = opts.accounts.as_ref().is_none_or(|l| l.contains(&a.id));
        if !wanted {
            not_collected(&mut files, &mut summary, &a.id, NOT_SELECTED.into());
        } else if !a.active {
            not_collected(&mut files, &mut summary, &a.id, "the account is not ACTIVE in the organization".into());
        } else {
            selected.push(a.id.clone());
        }
    }
    if let Some(wanted) = &opts.accounts {
        for id in wanted {
            if !all_accounts.iter().any(|a| &a.id == id) {
                summary.notes.push(format!("account {id} of --accounts is not in the organization: skipped"));
            }
        }
    }
    progress.event(Event::Planned { steps: (selected.len() * (1 + regions.len())) as u64 });

    // The tasks report through a channel, so that `progress` need not be 'static.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = Arc::new(Ctx {
        base,
        caller_account,
        partition,
        role_name: opts.role_name.clone(),
        regions,
        limit: Arc::new(Semaphore::new(opts.concurrency)),
        events: tx,
    });
    let mut set = tokio::task::JoinSet::new();
    for id in selected {
        let ctx = ctx.clone();
        set.spawn(async move { account::collect(ctx, id).await });
    }
    drop(ctx);
    // The channel closes when the last task has dropped its context.
    while let Some(event) = rx.recv().await {
        progress.event(event);
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => return Err(CollectError::Option(format!("a collection task failed: {e}"))),
        }
    }
    outcomes.sort_by(|a, b| a.account.cmp(&b.account));
    for o in outcomes {
        summary.notes.extend(o.notes);
        if let Some(iam) = o.iam {
            files.insert(format!("accounts/{}/iam.json", o.account), iam);
        }
        summary.keys += o.keys.len();
        for (rel, v) in o.keys {
            files.insert(format!("accounts/{}/kms/{rel}", o.account), v);
        }
        if o.failures.is_empty() {
            summary.accounts.push(o.account);
        } else {
            let reason = o.failures.join("; ");
            progress.event(Event::NotCollected { account: o.account.clone(), reason: reason.clone() });
            not_collected(&mut files, &mut summary, &o.account, reason);
        }
    }
    files.insert(
        "collect-report.json".into(),
        json!({
            "Organization": summary.organization,
            "Regions": summary.regions,
            "CollectedAccounts": summary.accounts,
            "NotCollected": summary.not_collected.iter().map(|(a, r)| json!({"AccountId": a, "Reason": r})).collect::<Vec<_>>(),
            "Notes": summary.notes,
        }),
    );
    write(&opts.out, &files)?;
    Ok(summary)
}

fn not_collected(files: &mut Files, summary: &mut Summary, account: &str, reason: String) {
    files.insert(format!("accounts/{account}/not-collected.json"), json!({ "Reason": reason }));
    summary.not_collected.push((account.to_string(), reason));
}

/// The HTTPS client of every AWS call (the credential providers' too): rustls with the `ring`
/// crypto provider, so that no C library (aws-lc) is built.
fn https_client() -> aws_sdk_kms::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

async fn base_config(opts: &Options) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client()).retry_config(
        RetryConfig::standard().with_max_attempts(opts.max_attempts).with_initial_backoff(Duration::from_millis(200)),
    );
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(Region::new(r.clone()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        // The global services (Organizations, IAM, STS) answer in us-east-1.
        return config.into_builder().region(Region::new("us-east-1")).build();
    }
    config
}

/// Refuses an `--out` that holds anything: a snapshot is never merged into another.
fn check_out(out: &Path) -> Result<(), CollectError> {
    let non_empty = std::fs::read_dir(out).map(|mut entries| entries.next().is_some()).unwrap_or(false);
    if non_empty {
        return Err(CollectError::OutExists { path: out.to_path_buf() });
    }
    Ok(())
}

/// Writes every file into a temporary folder next to `out`, then renames it into place.
fn write(out: &Path, files: &Files) -> Result<(), CollectError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CollectError::Write { path, error }
    };
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(err(&parent))?;
    let name = out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "snapshot".into());
    let tmp = parent.join(format!(".{name}.keyproof-collect-{}", std::process::id()));
    let result = (|| {
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(err(&tmp))?;
        }
        for (rel, value) in files {
            let path = tmp.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(err(dir))?;
            }
            let mut text = serde_json::to_string_pretty(value)
                .map_err(|e| CollectError::Write { path: path.clone(), error: std::io::Error::other(e) })?;
            text.push('\n');
            std::fs::write(&path, text).map_err(err(&path))?;
        }
        check_out(out)?;
        if out.exists() {
            // An empty folder: rename cannot replace it on every platform.
            std::fs::remove_dir(out).map_err(err(out))?;
        }
        std::fs::rename(&tmp, out).map_err(err(out))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// What every account task shares.
struct Ctx {
    base: SdkConfig,
    caller_account: String,
    partition: String,
    role_name: String,
    regions: Vec<String>,
    limit: Arc<Semaphore>,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
}

impl Ctx {
    fn step(&self, what: String) {
        let _ = self.events.send(Event::Step { what });
    }
}

#[derive(Debug, Clone)]
struct OrgAccount {
    id: String,
    active: bool,
}

mod org {
    //! `organization.json`: the tree from the roots down, with the SCPs and RCPs attached at
    //! every node, and the policies' contents.

    use super::*;
    use aws_sdk_organizations::types::{PolicyType, PolicyTypeStatus};
    use aws_sdk_organizations::Client;
    use std::future::Future;
    use std::pin::Pin;

    pub struct Org {
        pub id: String,
        pub json: Value,
        pub accounts: Vec<OrgAccount>,
    }

    /// `None` when the caller's account is not in an organization or may not read it.
    pub async fn read(base: &SdkConfig) -> Result<Option<Org>, CollectError> {
        let client = Client::new(base);
        let org = match client.describe_organization().send().await {
            Ok(o) => o,
            Err(e) => {
                let c = code(&e).unwrap_or_default();
                if c == "AWSOrganizationsNotInUseException" || c == "AccessDeniedException" || c == "AccessDenied" {
                    return Ok(None);
                }
                return Err(CollectError::Organization { reason: describe(&e) });
            }
        };
        let Some(o) = org.organization() else {
            return Ok(None);
        };
        let fail = |e: String| CollectError::Organization { reason: e };
        let roots = client
            .list_roots()
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| fail(describe(&e)))?;
        let mut walk = Walk {
            client: &client,
            types: Vec::new(),
            not_enabled: BTreeSet::new(),
            policies: BTreeSet::new(),
            accounts: Vec::new(),
        };
        let mut root_json = Vec::new();
        for page in &roots {
            for root in page.roots() {
                // Only the policy types enabled on the root can be attached anywhere below it.
                walk.types = root
                    .policy_types()
                    .iter()
                    .filter(|t| t.status() == Some(&PolicyTypeStatus::Enabled))
                    .filter_map(|t| t.r#type().cloned())
                    .filter(|t| matches!(t, PolicyType::ServiceControlPolicy | PolicyType::ResourceControlPolicy))
                    .collect();
                walk.not_enabled.clear();
                let id = root.id().unwrap_or_default().to_string();
                let mut node = Map::new();
                node.insert("Id".into(), json!(id));
                node.insert("Arn".into(), json!(root.arn()));
                node.insert("Name".into(), json!(root.name()));
                node.insert("PolicyIds".into(), json!(walk.attached(&id).await.map_err(fail)?));
                node.insert("Children".into(), Value::Array(walk.children(id).await.map_err(fail)?));
                // The root's policy types as `list-roots` prints them, less a type the API said
                // is not enabled (PolicyTypeNotEnabledException) while walking: keyproof reads
                // a type that is not listed as not enabled.
                let types: Vec<Value> = root
                    .policy_types()
                    .iter()
                    .filter(|t| t.r#type().is_none_or(|ty| !walk.not_enabled.contains(ty)))
                    .map(|t| json!({"Type": t.r#type().map(|x| x.as_str()), "Status": t.status().map(|x| x.as_str())}))
                    .collect();
                node.insert("PolicyTypes".into(), Value::Array(types));
                root_json.push(Value::Object(node));
            }
        }
        let mut policies = Vec::new();
        for id in walk.policies.clone() {
            let p = client.describe_policy().policy_id(&id).send().await.map_err(|e| fail(describe(&e)))?;
            let Some(p) = p.policy() else {
                continue;
            };
            let summary = p.policy_summary().map(|s| {
                json!({"Id": s.id(), "Arn": s.arn(), "Name": s.name(), "Description": s.description(),
                       "Type": s.r#type().map(|t| t.as_str()), "AwsManaged": s.aws_managed()})
            });
            policies.push(json!({"PolicySummary": summary, "Content": p.content()}));
        }
        let id = o.id().unwrap_or_default().to_string();
        let json = json!({
            "Organization": {"Id": id, "Arn": o.arn(), "FeatureSet": o.feature_set().map(|f| f.as_str()),
                             "MasterAccountId": o.master_account_id(), "MasterAccountArn": o.master_account_arn()},
            "Roots": root_json,
            "Policies": policies,
        });
        Ok(Some(Org { id, json, accounts: walk.accounts }))
    }

    struct Walk<'c> {
        client: &'c Client,
        types: Vec<PolicyType>,
        /// Types the API answered `PolicyTypeNotEnabledException` for.
        not_enabled: BTreeSet<PolicyType>,
        policies: BTreeSet<String>,
        accounts: Vec<OrgAccount>,
    }

    type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

    impl Walk<'_> {
        async fn attached(&mut self, target: &str) -> Result<Vec<String>, String> {
            let mut ids = Vec::new();
            for t in self.types.clone() {
                if self.not_enabled.contains(&t) {
                    continue;
                }
                let pages = match self
                    .client
                    .list_policies_for_target()
                    .target_id(target)
                    .filter(t.clone())
                    .into_paginator()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                {
                    Ok(p) => p,
                    Err(e) if code(&e).as_deref() == Some("PolicyTypeNotEnabledException") => {
                        self.not_enabled.insert(t);
                        continue;
                    }
                    Err(e) => return Err(format!("ListPoliciesForTarget {target}: {}", describe(&e))),
                };
                for page in pages {
                    for p in page.policies() {
                        if let Some(id) = p.id() {
                            ids.push(id.to_string());
                            self.policies.insert(id.to_string());
                        }
                    }
                }
            }
            Ok(ids)
        }

        fn children(&mut self, parent: String) -> Boxed<'_, Vec<Value>> {
            Box::pin(async move {
                let mut out = Vec::new();
                let ous = self
                    .client
                    .list_organizational_units_for_parent()
                    .parent_id(&parent)
                    .into_paginator()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(|e| format!("ListOrganizationalUnitsForParent {parent}: {}", describe(&e)))?;
                for ou in ous.iter().flat_map(|p| p.organizational_units()) {
                    let id = ou.id().unwrap_or_default().to_string();
                    let policy_ids = self.attached(&id).await?;
                    let children = self.children(id.clone()).await?;
                    out.push(json!({
                        "OrganizationalUnit": {"Id": id, "Arn": ou.arn(), "Name": ou.name()},
                        "PolicyIds": policy_ids,
                        "Children": children,
                    }));
                }
                let accounts = self
                    .client
                    .list_accounts_for_parent()
                    .parent_id(&parent)
                    .into_paginator()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(|e| format!("ListAccountsForParent {parent}: {}", describe(&e)))?;
                for a in accounts.iter().flat_map(|p| p.accounts()) {
                    let id = a.id().unwrap_or_default().to_string();
                    let status = a.status().map(|s| s.as_str().to_string());
                    let active = status.as_deref().is_none_or(|s| s == "ACTIVE");
                    self.accounts.push(OrgAccount { id: id.clone(), active });
                    let policy_ids = self.attached(&id).await?;
                    out.push(json!({
                        "Account": {"Id": id, "Arn": a.arn(), "Name": a.name(), "Email": a.email(), "Status": status},
                        "PolicyIds": policy_ids,
                    }));
                }
                Ok(out)
            })
        }
    }
}

mod account {
    //! One account: its IAM, and its keys in every region.

    use super::*;

    pub struct Outcome {
        pub account: String,
        pub iam: Option<Value>,
        /// `<region>/<key-id>.json` -> key file.
        pub keys: Vec<(String, Value)>,
        /// Why (part of) the account could not be collected.
        pub failures: Vec<String>,
        pub notes: Vec<String>,
    }

    /// The account's configuration: the caller's own, or the assumed role's credentials.
    async fn config(ctx: &Ctx, account: &str) -> Result<SdkConfig, String> {
        if account == ctx.caller_account {
            return Ok(ctx.base.clone());
        }
        let arn = format!("arn:{}:iam::{account}:role/{}", ctx.partition, ctx.role_name);
        let sts = aws_sdk_sts::Client::new(&ctx.base);
        let out = sts
            .assume_role()
            .role_arn(&arn)
            .role_session_name("keyproof-collect")
            .send()
            .await
            .map_err(|e| format!("cannot assume {arn}: {}", describe(&e)))?;
        let c = out.credentials().ok_or_else(|| format!("AssumeRole {arn} returned no credentials"))?;
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "keyproof-collect-assume-role",
        );
        Ok(ctx
            .base
            .clone()
            .into_builder()
            .credentials_provider(aws_sdk_kms::config::SharedCredentialsProvider::new(creds))
            .build())
    }

    pub async fn collect(ctx: Arc<Ctx>, account: String) -> Outcome {
        let mut out =
            Outcome { account: account.clone(), iam: None, keys: Vec::new(), failures: Vec::new(), notes: Vec::new() };
        let config = {
            let _permit = ctx.limit.acquire().await;
            config(&ctx, &account).await
        };
        let config = match config {
            Ok(c) => c,
            Err(reason) => {
                out.failures.push(reason);
                return out;
            }
        };
        {
            let _permit = ctx.limit.acquire().await;
            match iam(&config).await {
                Ok(v) => out.iam = Some(v),
                Err(e) => out.failures.push(format!("GetAccountAuthorizationDetails: {e}")),
            }
            ctx.step(format!("{account}: iam"));
        }
        let mut set = tokio::task::JoinSet::new();
        for region in ctx.regions.clone() {
            let config = config.clone();
            let limit = ctx.limit.clone();
            let ctx = ctx.clone();
            let account = account.clone();
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let r = keys(&config, &region).await;
                ctx.step(format!("{account}: kms {region}"));
                (region, r)
            });
        }
        let mut regions = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(r) => regions.push(r),
                Err(e) => out.failures.push(format!("a KMS task failed: {e}")),
            }
        }
        regions.sort_by(|a, b| a.0.cmp(&b.0));
        for (region, r) in regions {
            match r {
                Ok(region_keys) => {
                    out.notes.extend(region_keys.notes);
                    out.keys.extend(region_keys.files.into_iter().map(|(id, v)| (format!("{region}/{id}.json"), v)));
                }
                Err(KmsFailure::NotEnabled(why)) => {
                    out.notes.push(format!("account {account}: region {region} skipped, not enabled ({why})"))
                }
                Err(KmsFailure::Other(why)) => out.failures.push(format!("kms in {region}: {why}")),
            }
        }
        out
    }

    async fn iam(config: &SdkConfig) -> Result<Value, String> {
        let client = aws_sdk_iam::Client::new(config);
        let pages = client
            .get_account_authorization_details()
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| describe(&e))?;
        let mut users = Vec::new();
        let mut groups = Vec::new();
        let mut roles = Vec::new();
        let mut policies = Vec::new();
        for p in &pages {
            users.extend(p.user_detail_list().iter().map(shape::user));
            groups.extend(p.group_detail_list().iter().map(shape::group));
            roles.extend(p.role_detail_list().iter().map(shape::role));
            policies.extend(p.policies().iter().map(shape::managed_policy));
        }
        Ok(json!({
            "UserDetailList": users,
            "GroupDetailList": groups,
            "RoleDetailList": roles,
            "Policies": policies,
        }))
    }

    pub enum KmsFailure {
        /// The region is not enabled for the account (opt-in regions): it holds no key.
        NotEnabled(String),
        Other(String),
    }

    pub struct RegionKeys {
        /// key id -> key file.
        files: Vec<(String, Value)>,
        notes: Vec<String>,
    }

    /// The error codes KMS answers in a region that the account has not enabled.
    fn not_enabled(code: Option<&str>) -> bool {
        matches!(code, Some("UnrecognizedClientException" | "InvalidClientTokenId" | "OptInRequired" | "AuthFailure"))
    }

    async fn keys(config: &SdkConfig, region: &str) -> Result<RegionKeys, KmsFailure> {
        let conf = aws_sdk_kms::config::Builder::from(config).region(Region::new(region.to_string())).build();
        let client = aws_sdk_kms::Client::from_conf(conf);
        let other = |what: &str, e: String| KmsFailure::Other(format!("{what}: {e}"));
        let key_pages = match client.list_keys().into_paginator().send().collect::<Result<Vec<_>, _>>().await {
            Ok(p) => p,
            Err(e) if not_enabled(code(&e).as_deref()) => return Err(KmsFailure::NotEnabled(describe(&e))),
            Err(e) => return Err(other("ListKeys", describe(&e))),
        };
        let alias_pages = client
            .list_aliases()
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| other("ListAliases", describe(&e)))?;
        let mut aliases: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for a in alias_pages.iter().flat_map(|p| p.aliases()) {
            if let Some(target) = a.target_key_id() {
                aliases.entry(target.to_string()).or_default().push(shape::alias(a));
            }
        }
        let mut out = RegionKeys { files: Vec::new(), notes: Vec::new() };
        for k in key_pages.iter().flat_map(|p| p.keys()) {
            let Some(key_id) = k.key_id() else {
                continue;
            };
            let md = client
                .describe_key()
                .key_id(key_id)
                .send()
                .await
                .map_err(|e| other(&format!("DescribeKey {key_id}"), describe(&e)))?;
            let Some(md) = md.key_metadata() else {
                continue;
            };
            let policy = client
                .get_key_policy()
                .key_id(key_id)
                .policy_name("default")
                .send()
                .await
                .map_err(|e| other(&format!("GetKeyPolicy {key_id}"), describe(&e)))?;
            let grant_pages = client
                .list_grants()
                .key_id(key_id)
                .into_paginator()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| other(&format!("ListGrants {key_id}"), describe(&e)))?;
            let mut grants = Vec::new();
            for g in grant_pages.iter().flat_map(|p| p.grants()) {
                grants.push(shape::grant(g));
                out.notes.extend(shape::constraint_notes(g));
            }
            // Rotation and tags do not exist for every kind of key (asymmetric, HMAC, imported,
            // pending deletion): their absence is recorded by leaving the field out.
            let rotation = match client.get_key_rotation_status().key_id(key_id).send().await {
                Ok(r) => Some(Value::Bool(r.key_rotation_enabled())),
                Err(e)
                    if matches!(
                        code(&e).as_deref(),
                        Some("UnsupportedOperationException" | "KMSInvalidStateException")
                    ) =>
                {
                    None
                }
                Err(e) => return Err(other(&format!("GetKeyRotationStatus {key_id}"), describe(&e))),
            };
            let tags = match client
                .list_resource_tags()
                .key_id(key_id)
                .into_paginator()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
            {
                Ok(pages) => {
                    let all: Vec<_> = pages.iter().flat_map(|p| p.tags()).cloned().collect();
                    shape::kms_tags(&all)
                }
                Err(e) => return Err(other(&format!("ListResourceTags {key_id}"), describe(&e))),
            };
            let mut file = Map::new();
            file.insert("KeyMetadata".into(), shape::key_metadata(md));
            file.insert("Policy".into(), json!(policy.policy()));
            file.insert("Grants".into(), Value::Array(grants));
            file.insert("Aliases".into(), Value::Array(aliases.remove(md.key_id()).unwrap_or_default()));
            if let Some(r) = rotation {
                file.insert("KeyRotationEnabled".into(), r);
            }
            file.insert("Tags".into(), tags);
            out.files.push((md.key_id().to_string(), Value::Object(file)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_snapshot_is_renamed_into_place_and_never_merged() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("snap");
        let mut files = Files::new();
        files.insert("accounts/111122223333/not-collected.json".into(), json!({"Reason": "test"}));
        write(&out, &files).unwrap();
        assert!(out.join("accounts/111122223333/not-collected.json").is_file());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("snap")], "no temporary folder is left");
        assert!(matches!(write(&out, &files), Err(CollectError::OutExists { .. })));
        // An empty folder is replaced.
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        write(&empty, &files).unwrap();
        assert!(empty.join("accounts/111122223333/not-collected.json").is_file());
    }
}
