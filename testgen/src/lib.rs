//! Synthetic AWS Organizations for keyproof: a complete snapshot folder in keyproof's layout
//! (`organization.json`, `accounts/<id>/iam.json`, `accounts/<id>/kms/<region>/<key-id>.json`),
//! generated from a seed. The differential tests compare the concrete evaluator with the SMT
//! encoding on such organizations; the `keyproof-gen` binary writes large ones for benchmarks.
//!
//! The generator aims at breadth, not realism: every layer (SCPs, RCPs, key policies, identity
//! policies, boundaries, grants) and, with [`Params::conditions`], every family of condition
//! operators appears, so that random requests reach every branch of the evaluator. The same
//! parameters always give the same snapshot, byte for byte.

pub mod corpus;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Write};
use std::path::Path;

/// The size and flavour of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Accounts in the organization (the management account and the security account included).
    pub accounts: usize,
    pub roles_per_account: usize,
    pub keys: usize,
    /// Grants per key, on average (each key gets between none and twice this many).
    pub grants_per_key: usize,
    pub seed: u64,
    /// Whether policies carry conditions on request keys (every operator family).
    pub conditions: bool,
    /// The flavour of the comparison with an independent IAM simulator (`model/tests/oracle.rs`):
    /// every account's IAM collected; `NotAction` and `NotResource` in identity policies,
    /// boundaries and SCPs, `NotResource` in RCPs and key policies, more `NotPrincipal`;
    /// conditions in boundaries too. Off, the generator writes exactly what it wrote before.
    pub oracle: bool,
}

impl Params {
    /// A small organization for differential tests.
    pub fn small(seed: u64) -> Params {
        Params { accounts: 4, roles_per_account: 2, keys: 2, grants_per_key: 1, seed, conditions: true, oracle: false }
    }
}

/// What a generated snapshot holds, for writing requests against it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Role, user and root-user ARNs of the accounts whose IAM was written.
    pub principals: Vec<String>,
    /// Key ARNs.
    pub keys: Vec<String>,
    /// Every account of the organization.
    pub accounts: Vec<String>,
    /// Request condition keys the policies use, each with sample values (some match the
    /// policies' conditions, some do not). For a multivalued key each sample is one value.
    pub context_keys: Vec<(String, Vec<String>)>,
    /// Accounts outside the organization and the snapshot that key policies or grants name.
    pub external_accounts: Vec<String>,
}

const REGIONS: &[&str] = &["us-east-1", "eu-west-1"];
const USE_ACTIONS: &[&str] =
    &["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"];
const ADMIN_ACTIONS: &[&str] = &[
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
];
const GRANT_ACTIONS: &[&str] = &["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant", "kms:RetireGrant"];

/// Key actions random requests are drawn from: the ones that can be granted, the administrative
/// ones, and ones that do not work across accounts (the differential and oracle tests).
pub const REQUEST_ACTIONS: &[&str] = &[
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:RetireGrant",
    "kms:ScheduleKeyDeletion",
    "kms:PutKeyPolicy",
    "kms:DisableKey",
    "kms:GetKeyPolicy",
    "kms:TagResource",
    "kms:EnableKeyRotation",
    "kms:GenerateDataKeyPair",
];

/// Service principals random requests are drawn from.
pub const REQUEST_SERVICES: &[&str] = &["s3.amazonaws.com", "cloudtrail.amazonaws.com", "logs.amazonaws.com"];
const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
];
const TEAMS: &[&str] = &["payments", "data", "ml"];
const SERVICES: &[&str] = &["s3", "ec2", "rds", "logs"];
const EC_KEYS: &[&str] = &["Department", "Project", "team"];
const EC_VALUES: &[&str] = &["Finance", "finance", "HR", "Ledger", "payments", "data"];
const ROLE_KINDS: &[&str] = &["App", "Batch", "Data", "Ops", "Ci", "Analytics"];
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

fn pick<T: Copy>(rng: &mut StdRng, xs: &[T]) -> T {
    xs[rng.gen_range(0..xs.len())]
}

fn chars(rng: &mut StdRng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())])).collect()
}

/// A few distinct elements of `xs` (at least one), in their order.
fn some<T: Copy>(rng: &mut StdRng, xs: &[T], max: usize) -> Vec<T> {
    let n = rng.gen_range(1..=max.clamp(1, xs.len()));
    let mut idx: BTreeSet<usize> = BTreeSet::new();
    while idx.len() < n {
        idx.insert(rng.gen_range(0..xs.len()));
    }
    idx.into_iter().map(|i| xs[i]).collect()
}

fn one_or_many(values: Vec<String>) -> Value {
    if values.len() == 1 {
        Value::String(values.into_iter().next().unwrap_or_default())
    } else {
        Value::Array(values.into_iter().map(Value::String).collect())
    }
}

fn strs(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

#[derive(Debug, Clone)]
struct RolePlan {
    arn: String,
    name: String,
}

#[derive(Debug, Clone)]
struct AccountPlan {
    id: String,
    name: String,
    /// Index into the OU list; `None` = directly under the root.
    ou: Option<usize>,
    /// Whether `iam.json` is written (otherwise the account is open world).
    collected: bool,
    roles: Vec<RolePlan>,
    users: Vec<String>,
}

#[derive(Debug, Clone)]
struct KeyPlan {
    account: String,
    region: &'static str,
    id: String,
    arn: String,
}

#[derive(Debug, Clone)]
struct OuPlan {
    id: String,
    name: &'static str,
    parent: Option<usize>,
}

/// The generator's state: the random source, the plan of the organization and the request keys
/// used so far with their sample values.
struct Gen {
    rng: StdRng,
    p: Params,
    org_id: String,
    root_id: String,
    ous: Vec<OuPlan>,
    accounts: Vec<AccountPlan>,
    keys: Vec<KeyPlan>,
    management: String,
    security: String,
    /// An account outside the organization and the snapshot, named by some key policies.
    external: String,
    context: BTreeMap<String, BTreeSet<String>>,
}

impl Gen {
    fn new(p: &Params) -> Gen {
        let mut rng = StdRng::seed_from_u64(p.seed);
        let org_id = format!("o-{}", chars(&mut rng, LOWER, 10));
        let root_suffix = chars(&mut rng, LOWER, 4);
        let root_id = format!("r-{root_suffix}");
        let ou_names: [(&str, Option<usize>); 5] =
            [("Security", None), ("Workloads", None), ("Prod", Some(1)), ("Dev", Some(1)), ("Sandbox", None)];
        let ous = ou_names
            .iter()
            .map(|(name, parent)| OuPlan {
                id: format!("ou-{root_suffix}-{}", chars(&mut rng, LOWER, 8)),
                name,
                parent: *parent,
            })
            .collect();
        let n = p.accounts.max(1);
        let base: u64 = rng.gen_range(100_000..900_000) * 1_000_000;
        let mut accounts = Vec::with_capacity(n);
        for i in 0..n {
            let id = format!("{:012}", base + (i as u64) * 7_919 + 11);
            let (name, ou) = match i {
                0 => ("management".to_string(), None),
                1 => ("security".to_string(), Some(0)),
                _ => {
                    let ou = pick(&mut rng, &[2usize, 2, 3, 4]);
                    (format!("{}-{i}", ous_name(ou)), Some(ou))
                }
            };
            // Some workload accounts are not collected: their principals are open world.
            let collected = i < 2 || p.oracle || !rng.gen_bool(0.1);
            accounts.push(AccountPlan { id, name, ou, collected, roles: Vec::new(), users: Vec::new() });
        }
        let management = accounts[0].id.clone();
        let security = accounts.get(1).map_or_else(|| management.clone(), |a| a.id.clone());
        let external = format!("{:012}", base + 999_999 - 17);
        Gen {
            rng,
            p: p.clone(),
            org_id,
            root_id,
            ous,
            accounts,
            keys: Vec::new(),
            management,
            security,
            external,
            context: BTreeMap::new(),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn sample(&mut self, key: &str, values: &[&str]) {
        let e = self.context.entry(key.to_string()).or_default();
        e.extend(values.iter().map(|v| v.to_string()));
    }

    fn workload_accounts(&self) -> Vec<usize> {
        (2..self.accounts.len()).collect()
    }

    fn random_account(&mut self) -> String {
        let n = self.accounts.len();
        self.accounts[self.rng.gen_range(0..n)].id.clone()
    }

    /// A role ARN of some account (possibly of an account whose IAM is not collected).
    fn random_role(&mut self) -> Option<String> {
        let n = self.accounts.len();
        let a = &self.accounts[self.rng.gen_range(0..n)];
        if a.roles.is_empty() {
            return None;
        }
        let r = &a.roles[self.rng.gen_range(0..a.roles.len())];
        Some(r.arn.clone())
    }

    fn plan(&mut self) {
        let roles = self.p.roles_per_account;
        for ai in 0..self.accounts.len() {
            let id = self.accounts[ai].id.clone();
            let mut plans = Vec::new();
            if ai == 1 || self.accounts.len() == 1 {
                plans.push(RolePlan { arn: format!("arn:aws:iam::{id}:role/KeyAdmin"), name: "KeyAdmin".into() });
            }
            for r in 0..roles {
                let kind = ROLE_KINDS[r % ROLE_KINDS.len()];
                let name = format!("{kind}Role{r}");
                let path = if r % 3 == 1 { "/app/" } else { "/" };
                plans.push(RolePlan { arn: format!("arn:aws:iam::{id}:role{path}{name}"), name });
            }
            let users = if ai % 2 == 0 { vec![format!("arn:aws:iam::{id}:user/alice")] } else { vec![] };
            self.accounts[ai].roles = plans;
            self.accounts[ai].users = users;
        }
        for k in 0..self.p.keys {
            // Keys live mostly in the security account.
            let account = if self.accounts.len() > 2 && self.chance(0.15) {
                let w = self.workload_accounts();
                self.accounts[pick(&mut self.rng, &w)].id.clone()
            } else {
                self.security.clone()
            };
            let region = if k % 4 == 3 { REGIONS[1] } else { REGIONS[0] };
            let id = format!(
                "{}-{}-4{}-{}-{}",
                chars(&mut self.rng, HEX, 8),
                chars(&mut self.rng, HEX, 4),
                chars(&mut self.rng, HEX, 3),
                chars(&mut self.rng, HEX, 4),
                chars(&mut self.rng, HEX, 12)
            );
            let arn = format!("arn:aws:kms:{region}:{account}:key/{id}");
            self.keys.push(KeyPlan { account, region, id, arn });
        }
    }

    // ----- conditions -------------------------------------------------------------------------

    /// One condition on a request key: `(operator, key, values)`. Records the key with sample
    /// values that match and values that do not.
    fn request_condition(&mut self, for_deny: bool) -> (String, String, Vec<String>) {
        let choice = if self.p.oracle { self.rng.gen_range(0..23) } else { self.rng.gen_range(0..20) };
        let sec = self.security.clone();
        match choice {
            20 => {
                // A set operator with IfExists, on a key that is often absent (not the encryption
                // context's keys, which the oracle sees without their values).
                if self.chance(0.5) {
                    self.sample("kms:GrantOperations", GRANT_OPERATIONS);
                    let op = "ForAllValues:StringEqualsIfExists";
                    (op.into(), "kms:GrantOperations".into(), strs(&["Decrypt", "Encrypt", "DescribeKey"]))
                } else {
                    let op = "ForAnyValue:StringLikeIfExists";
                    let ou = self.rng.gen_range(0..self.ous.len());
                    let path = format!("{}*", self.ou_path(ou));
                    (op.into(), "aws:PrincipalOrgPaths".into(), vec![path])
                }
            }
            21 => {
                // A single-valued operator on a multivalued key.
                let op = pick(&mut self.rng, &["StringLike", "StringNotLike"]);
                let ou = self.rng.gen_range(0..self.ous.len());
                let path = format!("{}*", self.ou_path(ou));
                (op.into(), "aws:PrincipalOrgPaths".into(), vec![path])
            }
            22 => {
                self.sample("aws:PrincipalTag/team", TEAMS);
                let op = pick(&mut self.rng, &["StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "ArnNotLike"]);
                if op == "ArnNotLike" {
                    (op.into(), "aws:PrincipalArn".into(), vec!["arn:aws:iam::*:role/*Role*".into()])
                } else {
                    (op.into(), "aws:PrincipalTag/team".into(), vec![pick(&mut self.rng, TEAMS).to_uppercase()])
                }
            }
            0 => {
                let svc = pick(&mut self.rng, SERVICES);
                let region = pick(&mut self.rng, REGIONS);
                let v = format!("{svc}.{region}.amazonaws.com");
                self.sample("kms:ViaService", &[&v, "s3.us-east-1.amazonaws.com", "ec2.eu-west-1.amazonaws.com"]);
                ("StringEquals".into(), "kms:ViaService".into(), vec![v])
            }
            1 => {
                let svc = pick(&mut self.rng, SERVICES);
                self.sample("kms:ViaService", &["rds.us-east-1.amazonaws.com", "logs.eu-west-1.amazonaws.com"]);
                let op = if self.chance(0.5) { "StringLike" } else { "StringNotLike" };
                (op.into(), "kms:ViaService".into(), vec![format!("{svc}.*.amazonaws.com")])
            }
            2 | 3 => {
                let k = pick(&mut self.rng, EC_KEYS);
                let key = format!("kms:EncryptionContext:{k}");
                let op = pick(
                    &mut self.rng,
                    &["StringEquals", "StringEqualsIgnoreCase", "StringLike", "StringNotLike", "StringNotEquals"],
                );
                let v = match op {
                    "StringLike" | "StringNotLike" => pick(&mut self.rng, &["Fin*", "?R", "*a*", "Ledg?r"]).to_string(),
                    _ => pick(&mut self.rng, EC_VALUES).to_string(),
                };
                self.sample(&key, EC_VALUES);
                (op.into(), key, vec![v])
            }
            4 => {
                let key = "kms:EncryptionContext:aws:s3:arn".to_string();
                let acct = self.random_account();
                self.sample(
                    &key,
                    &[&format!("arn:aws:s3:::{acct}-logs"), "arn:aws:s3:::bucket-a", "arn:aws:s3:::other"],
                );
                if self.chance(0.5) {
                    ("StringLike".into(), key, vec!["arn:aws:s3:::bucket-*".into()])
                } else {
                    // A policy variable: the bucket is named after the caller's account.
                    ("StringLike".into(), key, vec!["arn:aws:s3:::${aws:PrincipalAccount}-*".into()])
                }
            }
            5 => {
                self.sample("kms:EncryptionContextKeys", &["Department", "Project", "team", "aws:s3:arn", "Stage"]);
                let set = pick(&mut self.rng, &["ForAnyValue:StringEquals", "ForAllValues:StringLike"]);
                let vals = if set.starts_with("ForAll") {
                    strs(&["Department", "Project", "aws:*"])
                } else {
                    vec![pick(&mut self.rng, EC_KEYS).to_string()]
                };
                (set.into(), "kms:EncryptionContextKeys".into(), vals)
            }
            6 => {
                self.sample("aws:SourceIp", &["10.1.2.3", "192.0.2.7", "203.0.113.9", "2001:db8::1", "2001:db9::5"]);
                let op = if self.chance(0.6) { "IpAddress" } else { "NotIpAddress" };
                let vals = some(&mut self.rng, &["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32", "203.0.113.9"], 2);
                (op.into(), "aws:SourceIp".into(), strs(&vals))
            }
            7 => {
                self.sample("aws:MultiFactorAuthAge", &["100", "3600", "7200", "0"]);
                let op = pick(
                    &mut self.rng,
                    &["NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericEquals"],
                );
                (op.into(), "aws:MultiFactorAuthAge".into(), vec!["3600".into()])
            }
            8 => {
                self.sample(
                    "aws:CurrentTime",
                    &["2025-06-01T12:00:00Z", "2031-01-01T00:00:00Z", "2023-01-01T00:00:00Z", "2030-01-01T00:00:00Z"],
                );
                let op = pick(
                    &mut self.rng,
                    &["DateLessThan", "DateGreaterThan", "DateLessThanEquals", "DateGreaterThanEquals", "DateEquals"],
                );
                let v = pick(&mut self.rng, &["2030-01-01T00:00:00Z", "2024-01-01T00:00:00Z"]);
                (op.into(), "aws:CurrentTime".into(), vec![v.into()])
            }
            9 => {
                self.sample("aws:SecureTransport", &["true", "false"]);
                let v = if for_deny { "false" } else { "true" };
                ("Bool".into(), "aws:SecureTransport".into(), vec![v.into()])
            }
            10 => {
                self.sample("aws:ViaAWSService", &["true", "false"]);
                self.sample("kms:ViaService", &["s3.us-east-1.amazonaws.com"]);
                let v = pick(&mut self.rng, &["true", "false"]);
                ("Bool".into(), "aws:ViaAWSService".into(), vec![v.into()])
            }
            11 => {
                let key =
                    pick(&mut self.rng, &["kms:ViaService", "aws:SourceVpce", "kms:EncryptionContext:Department"]);
                self.sample(key, &[]);
                let v = pick(&mut self.rng, &["true", "false"]);
                ("Null".into(), key.into(), vec![v.into()])
            }
            12 => {
                self.sample("aws:SourceVpce", &["vpce-1a2b3c4d", "vpce-0000ffff"]);
                let op = pick(&mut self.rng, &["StringEqualsIfExists", "StringNotEqualsIfExists", "StringEquals"]);
                (op.into(), "aws:SourceVpce".into(), vec!["vpce-1a2b3c4d".into()])
            }
            13 => {
                let op = pick(&mut self.rng, &["StringEquals", "StringNotEquals"]);
                let accounts = vec![sec, self.random_account()];
                (op.into(), "kms:CallerAccount".into(), accounts)
            }
            14 => {
                let op = pick(&mut self.rng, &["ArnLike", "ArnNotLike", "ArnEquals"]);
                let v = pick(
                    &mut self.rng,
                    &["arn:aws:iam::*:role/app/*", "arn:aws:iam::*:role/Data*", "arn:aws:iam::*:user/alice"],
                );
                (op.into(), "aws:PrincipalArn".into(), vec![v.into()])
            }
            15 => {
                // A policy variable: the encryption context names the caller's team.
                self.sample("kms:EncryptionContext:team", TEAMS);
                self.sample("aws:PrincipalTag/team", TEAMS);
                let op = pick(&mut self.rng, &["StringEquals", "StringLike"]);
                (op.into(), "kms:EncryptionContext:team".into(), vec!["${aws:PrincipalTag/team}".into()])
            }
            16 => {
                self.sample("aws:SourceIp", &["10.9.9.9", "2001:db8::abcd"]);
                let op = pick(&mut self.rng, &["IpAddressIfExists", "NotIpAddressIfExists"]);
                (op.into(), "aws:SourceIp".into(), vec!["10.0.0.0/8".into(), "2001:db8::/48".into()])
            }
            17 => {
                self.sample("aws:MultiFactorAuthPresent", &["true", "false"]);
                let op = pick(&mut self.rng, &["Bool", "BoolIfExists"]);
                let v = if for_deny { "false" } else { "true" };
                (op.into(), "aws:MultiFactorAuthPresent".into(), vec![v.into()])
            }
            18 => {
                let key = "kms:EncryptionContext:Project".to_string();
                self.sample(&key, &["Ledger", "ledger", "Atlas"]);
                let op = pick(
                    &mut self.rng,
                    &["StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "ForAnyValue:StringLike"],
                );
                (op.into(), key, vec!["LEDGER".into(), "atlas".into()])
            }
            _ => {
                self.sample("aws:PrincipalTag/team", TEAMS);
                let op = pick(&mut self.rng, &["StringEquals", "StringNotEquals", "StringLike"]);
                let v = pick(&mut self.rng, TEAMS);
                (op.into(), "aws:PrincipalTag/team".into(), vec![v.into()])
            }
        }
    }

    /// The `Condition` element of a statement: up to `max` request-key conditions (none when
    /// conditions are off), merged per operator.
    fn conditions(&mut self, max: usize, for_deny: bool) -> Option<Value> {
        if !self.p.conditions || max == 0 {
            return None;
        }
        let n = self.rng.gen_range(0..=max);
        if n == 0 {
            return None;
        }
        let mut ops: Map<String, Value> = Map::new();
        for _ in 0..n {
            let (op, key, values) = self.request_condition(for_deny);
            let entry = ops.entry(op).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(key, one_or_many(values));
            }
        }
        Some(Value::Object(ops))
    }

    fn org_condition(&mut self) -> Value {
        if self.chance(0.5) {
            json!({"StringEquals": {"aws:PrincipalOrgID": self.org_id}})
        } else {
            let ou = self.rng.gen_range(0..self.ous.len());
            let path = self.ou_path(ou);
            let op = pick(&mut self.rng, &["ForAnyValue:StringLike", "ForAnyValue:StringEquals"]);
            let v = if op.ends_with("Like") { format!("{path}*") } else { path };
            json!({ op: {"aws:PrincipalOrgPaths": v} })
        }
    }

    /// `o-…/r-…/ou-…/…/`, the `aws:PrincipalOrgPaths` form of an OU.
    fn ou_path(&self, ou: usize) -> String {
        let mut chain = vec![ou];
        let mut cur = self.ous[ou].parent;
        while let Some(p) = cur {
            chain.push(p);
            cur = self.ous[p].parent;
        }
        chain.reverse();
        let mut s = format!("{}/{}/", self.org_id, self.root_id);
        for c in chain {
            s.push_str(&self.ous[c].id);
            s.push('/');
        }
        s
    }

    fn statement(
        &mut self,
        sid: &str,
        effect: &str,
        principal: Option<Value>,
        actions: Vec<String>,
        resource: Value,
        condition: Option<Value>,
    ) -> Value {
        let mut s = Map::new();
        s.insert("Sid".into(), Value::String(sid.into()));
        s.insert("Effect".into(), Value::String(effect.into()));
        if let Some(p) = principal {
            s.insert("Principal".into(), p);
        }
        s.insert("Action".into(), one_or_many(actions));
        s.insert("Resource".into(), resource);
        if let Some(c) = condition {
            s.insert("Condition".into(), c);
        }
        Value::Object(s)
    }

    // ----- organization -----------------------------------------------------------------------

    fn organization(&mut self) -> Value {
        let scp = |id: &str, name: &str, doc: Value| {
            json!({"PolicySummary": {"Id": id, "Name": name, "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": false},
                   "Content": doc.to_string()})
        };
        let rcp = |id: &str, name: &str, doc: Value| {
            json!({"PolicySummary": {"Id": id, "Name": name, "Type": "RESOURCE_CONTROL_POLICY", "AwsManaged": false},
                   "Content": doc.to_string()})
        };
        let mut policies = vec![
            json!({"PolicySummary": {"Id": "p-FullAWSAccess", "Name": "FullAWSAccess", "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": true},
                   "Content": json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).to_string()}),
            json!({"PolicySummary": {"Id": "p-RCPFullAWSAccess", "Name": "RCPFullAWSAccess", "Type": "RESOURCE_CONTROL_POLICY", "AwsManaged": true},
                   "Content": json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}).to_string()}),
            scp(
                "p-denykeyadmin",
                "DenyKmsKeyAdministration",
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyKeyAdmin", "Effect": "Deny",
                    "Action": ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"], "Resource": "*"}]}),
            ),
            scp(
                "p-regions",
                "KmsApprovedRegions",
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyOutsideRegions", "Effect": "Deny", "Action": "kms:*",
                    "Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}}}]}),
            ),
            // An allow-list SCP: only key use, no administration.
            scp(
                "p-kmsuseonly",
                "KmsUseOnly",
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "AllowUse", "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant", "s3:*"], "Resource": "*"}]}),
            ),
            rcp(
                "p-perimeter",
                "KmsIdentityPerimeter",
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "EnforceOrgIdentityPerimeter", "Effect": "Deny", "Principal": "*",
                    "Action": "kms:*", "Resource": "*", "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": self.org_id},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}]}),
            ),
        ];
        let mut scp_cond = json!(null);
        let mut rcp_cond = json!(null);
        if self.p.conditions {
            scp_cond = self
                .conditions(1, true)
                .unwrap_or_else(|| json!({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}));
            self.sample("aws:MultiFactorAuthPresent", &["true", "false"]);
            rcp_cond = self.conditions(1, true).unwrap_or_else(|| json!({"Bool": {"aws:SecureTransport": "false"}}));
            self.sample("aws:SecureTransport", &["true", "false"]);
        }
        if !scp_cond.is_null() {
            policies.push(scp(
                "p-conditionaldeny",
                "ConditionalKmsDeny",
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "ConditionalDeny", "Effect": "Deny",
                    "Action": ["kms:Decrypt", "kms:CreateGrant", "kms:ReEncrypt*"], "Resource": "*", "Condition": scp_cond}]}),
            ));
            policies.push(rcp(
                "p-rcpconditionaldeny",
                "RcpConditionalDeny",
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "RcpConditionalDeny", "Effect": "Deny", "Principal": "*",
                    "Action": ["kms:Encrypt", "kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*", "Condition": rcp_cond}]}),
            ));
        }
        let oracle = self.p.oracle;
        if oracle {
            let deny_cond = self
                .conditions(1, true)
                .unwrap_or_else(|| json!({"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}));
            policies.push(scp(
                "p-allbutadmin",
                "AllButKeyAdministration",
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "AllButAdmin", "Effect": "Allow",
                    "NotAction": ["kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:Disable*"], "Resource": "*"}]}),
            ));
            policies.push(scp(
                "p-onlysecuritykeys",
                "UseOnlySecurityAccountKeys",
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyOtherKeys", "Effect": "Deny",
                    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"], "NotResource": format!("arn:aws:kms:*:{}:key/*", self.security)}]}),
            ));
            policies.push(scp(
                "p-denyallbutuse",
                "DenyAllButUseUnder",
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyAllButUse", "Effect": "Deny",
                    "NotAction": ["kms:Decrypt", "kms:Encrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:ListGrants", "s3:*"],
                    "Resource": "*", "Condition": deny_cond}]}),
            ));
            let rcp_cond = self
                .conditions(1, true)
                .unwrap_or_else(|| json!({"StringNotEqualsIfExists": {"aws:PrincipalOrgID": self.org_id}}));
            policies.push(rcp(
                "p-rcpregion",
                "RcpKeysOutsideUsEast1",
                json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyOutsideUsEast1", "Effect": "Deny", "Principal": "*",
                    "Action": ["kms:Decrypt", "kms:ScheduleKeyDeletion", "kms:CreateGrant"], "NotResource": "arn:aws:kms:us-east-1:*:key/*", "Condition": rcp_cond}]}),
            ));
        }
        // Attachments: FullAWSAccess and RCPFullAWSAccess at every level, with some exceptions
        // that leave a level allowed only by KmsUseOnly, plus the deny policies.
        let attach = |g: &mut Gen, level_deny: bool| -> Vec<String> {
            let mut ids = Vec::new();
            if g.chance(0.9) {
                ids.push("p-FullAWSAccess".to_string());
            } else {
                ids.push("p-kmsuseonly".to_string());
            }
            if oracle {
                for (id, p) in [
                    ("p-allbutadmin", 0.15),
                    ("p-onlysecuritykeys", 0.15),
                    ("p-denyallbutuse", 0.15),
                    ("p-rcpregion", 0.2),
                ] {
                    if g.chance(p) {
                        ids.push(id.to_string());
                    }
                }
            }
            if g.chance(0.95) {
                ids.push("p-RCPFullAWSAccess".to_string());
            }
            if level_deny {
                for (id, p) in [
                    ("p-denykeyadmin", 0.3),
                    ("p-regions", 0.2),
                    ("p-conditionaldeny", 0.3),
                    ("p-rcpconditionaldeny", 0.3),
                    ("p-perimeter", 0.3),
                ] {
                    if g.chance(p) && (!id.contains("conditional") || !scp_cond.is_null()) {
                        ids.push(id.to_string());
                    }
                }
            }
            ids
        };
        let mut root_ids = vec!["p-FullAWSAccess".to_string(), "p-RCPFullAWSAccess".to_string()];
        if self.chance(0.5) {
            root_ids.push("p-perimeter".into());
        }
        let ou_attach: Vec<Vec<String>> = (0..self.ous.len()).map(|_| attach(self, true)).collect();
        let acct_attach: Vec<Vec<String>> = (0..self.accounts.len()).map(|_| attach(self, false)).collect();
        let account_node = |g: &Gen, i: usize| json!({"Account": {"Id": g.accounts[i].id, "Name": g.accounts[i].name}, "PolicyIds": acct_attach[i]});
        fn ou_node(g: &Gen, ou: usize, ou_attach: &[Vec<String>], accounts: &dyn Fn(&Gen, usize) -> Value) -> Value {
            let mut children: Vec<Value> = Vec::new();
            for (j, o) in g.ous.iter().enumerate() {
                if o.parent == Some(ou) {
                    children.push(ou_node(g, j, ou_attach, accounts));
                }
            }
            for (i, a) in g.accounts.iter().enumerate() {
                if a.ou == Some(ou) {
                    children.push(accounts(g, i));
                }
            }
            json!({"OrganizationalUnit": {"Id": g.ous[ou].id, "Name": g.ous[ou].name}, "PolicyIds": ou_attach[ou], "Children": children})
        }
        let mut children: Vec<Value> = Vec::new();
        for (i, a) in self.accounts.iter().enumerate() {
            if a.ou.is_none() {
                children.push(account_node(self, i));
            }
        }
        for (j, o) in self.ous.iter().enumerate() {
            if o.parent.is_none() {
                children.push(ou_node(self, j, &ou_attach, &account_node));
            }
        }
        // The root's policy types, as list-roots prints them: mostly both enabled, sometimes no
        // RCPs (most real organizations), neither, a type in transition, or not said at all
        // (inferred from what is attached).
        let enabled = |t: &str, status: &str| json!({"Type": t, "Status": status});
        let types = match self.rng.gen_range(0..10) {
            0 => None,
            1 => Some(json!([enabled("SERVICE_CONTROL_POLICY", "ENABLED")])),
            2 => Some(json!([])),
            3 => Some(json!([
                enabled("SERVICE_CONTROL_POLICY", "ENABLED"),
                enabled("RESOURCE_CONTROL_POLICY", "PENDING_ENABLE")
            ])),
            _ => Some(json!([
                enabled("SERVICE_CONTROL_POLICY", "ENABLED"),
                enabled("RESOURCE_CONTROL_POLICY", "ENABLED")
            ])),
        };
        let mut root = json!({"Id": self.root_id, "Name": "Root", "PolicyIds": root_ids, "Children": children});
        if let Some(t) = types {
            root["PolicyTypes"] = t;
        }
        let policies: Vec<Value> = if self.p.oracle {
            policies
                .into_iter()
                .map(|mut p| {
                    let managed = p["PolicySummary"]["AwsManaged"] == true;
                    if let Some(doc) = p["Content"].as_str().and_then(|c| serde_json::from_str::<Value>(c).ok()) {
                        if !managed {
                            p["Content"] = Value::String(self.vary_case(doc).to_string());
                        }
                    }
                    p
                })
                .collect()
        } else {
            policies
        };
        json!({
            "Organization": {"Id": self.org_id, "MasterAccountId": self.management},
            "Roots": [root],
            "Policies": policies,
        })
    }

    // ----- IAM ----------------------------------------------------------------------------------

    fn key_resource(&mut self) -> Value {
        match self.rng.gen_range(0..4) {
            0 => Value::String("*".into()),
            1 => Value::String(format!("arn:aws:kms:*:{}:key/*", self.security)),
            2 if !self.keys.is_empty() => {
                let k = &self.keys[self.rng.gen_range(0..self.keys.len())];
                Value::String(k.arn.clone())
            }
            _ => Value::String(format!("arn:aws:kms:us-east-1:{}:key/*", self.security)),
        }
    }

    fn identity_policy(&mut self, label: &str) -> Value {
        let mut statements = Vec::new();
        let n = self.rng.gen_range(1..=2);
        for i in 0..n {
            let actions = match self.rng.gen_range(0..5) {
                0 => vec!["kms:*".to_string()],
                1 => strs(&some(&mut self.rng, GRANT_ACTIONS, 2)),
                2 => strs(&some(&mut self.rng, ADMIN_ACTIONS, 3)),
                _ => strs(&some(&mut self.rng, USE_ACTIONS, 3)),
            };
            let resource = self.key_resource();
            let cond = self.conditions(1, false);
            statements.push(self.statement(&format!("{label}{i}"), "Allow", None, actions, resource, cond));
        }
        if self.chance(0.2) {
            let actions = strs(&some(&mut self.rng, &["kms:Decrypt", "kms:ScheduleKeyDeletion", "kms:CreateGrant"], 2));
            let cond = self.conditions(1, true);
            statements.push(self.statement(&format!("{label}Deny"), "Deny", None, actions, json!("*"), cond));
        }
        if self.p.oracle {
            statements.extend(self.negated_identity_statements(label));
        }
        let doc = json!({"Version": "2012-10-17", "Statement": statements});
        self.vary_case(doc)
    }

    /// Oracle flavour: some action names and condition key names in another case (both are
    /// case-insensitive: IAM UG reference_policies_elements_action, reference_policies_elements_condition).
    /// Tag keys and encryption context keys keep their case.
    fn vary_case(&mut self, mut doc: Value) -> Value {
        if !self.p.oracle {
            return doc;
        }
        let Some(statements) = doc.get_mut("Statement").and_then(Value::as_array_mut) else { return doc };
        for st in statements {
            let Value::Object(m) = st else { continue };
            for el in ["Action", "NotAction"] {
                let flip = self.chance(0.2);
                let upper = self.chance(0.5);
                match m.get_mut(el) {
                    Some(Value::String(a)) if flip => *a = if upper { a.to_uppercase() } else { a.to_lowercase() },
                    Some(Value::Array(xs)) if flip => {
                        for a in xs.iter_mut() {
                            if let Value::String(t) = a {
                                *t = if upper { t.to_uppercase() } else { t.to_lowercase() };
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Some(Value::Object(ops)) = m.get_mut("Condition") {
                for keys in ops.values_mut() {
                    let Value::Object(km) = keys else { continue };
                    let names: Vec<String> = km.keys().cloned().collect();
                    for name in names {
                        if name.contains('/') || name.to_lowercase().starts_with("kms:encryptioncontext:") {
                            continue;
                        }
                        if self.chance(0.2) {
                            if let Some(v) = km.remove(&name) {
                                km.insert(name.to_lowercase(), v);
                            }
                        }
                    }
                }
            }
        }
        doc
    }

    /// `NotAction` / `NotResource` statements for an identity policy (oracle flavour).
    fn negated_identity_statements(&mut self, label: &str) -> Vec<Value> {
        let mut out = Vec::new();
        if self.chance(0.3) {
            // Everything but key administration.
            let not =
                strs(&some(&mut self.rng, &["kms:ScheduleKeyDeletion", "kms:Put*", "kms:Disable*", "kms:Create*"], 3));
            let cond = self.conditions(1, false);
            let mut st = json!({"Sid": format!("{label}AllButAdmin"), "Effect": "Allow", "NotAction": not, "Resource": self.key_resource()});
            if let (Some(c), Value::Object(m)) = (cond, &mut st) {
                m.insert("Condition".into(), c);
            }
            out.push(st);
        }
        if self.chance(0.3) {
            // Every key but one (or but the keys of another region).
            let not = self.other_keys();
            let actions = strs(&some(&mut self.rng, USE_ACTIONS, 3));
            out.push(
                json!({"Sid": format!("{label}NotThatKey"), "Effect": "Allow", "Action": actions, "NotResource": not}),
            );
        }
        if self.chance(0.2) {
            let not = self.other_keys();
            let actions = strs(&some(&mut self.rng, &["kms:Decrypt", "kms:Encrypt", "kms:DescribeKey"], 2));
            out.push(json!({"Sid": format!("{label}DenyElsewhere"), "Effect": "Deny", "Action": actions, "NotResource": not}));
        }
        out
    }

    /// A `NotResource` value: one key of the organization, or every key of a region.
    fn other_keys(&mut self) -> Value {
        if !self.keys.is_empty() && self.chance(0.6) {
            let k = &self.keys[self.rng.gen_range(0..self.keys.len())];
            Value::String(k.arn.clone())
        } else {
            Value::String(format!("arn:aws:kms:{}:*:key/*", pick(&mut self.rng, REGIONS)))
        }
    }

    fn managed(&self, account: &str, name: &str, doc: Value) -> Value {
        json!({
            "PolicyName": name, "PolicyId": format!("ANPA{}", name.to_uppercase()), "Arn": format!("arn:aws:iam::{account}:policy/{name}"),
            "Path": "/", "DefaultVersionId": "v1", "AttachmentCount": 1, "PermissionsBoundaryUsageCount": 0, "IsAttachable": true,
            "CreateDate": "2024-03-12T10:15:30+00:00", "UpdateDate": "2024-03-12T10:15:30+00:00",
            "PolicyVersionList": [{"Document": doc, "VersionId": "v1", "IsDefaultVersion": true, "CreateDate": "2024-03-12T10:15:30+00:00"}]
        })
    }

    fn iam(&mut self, ai: usize) -> Value {
        let id = self.accounts[ai].id.clone();
        let use_doc = self.identity_policy("CentralKmsUse");
        let boundary_actions = strs(&some(&mut self.rng, USE_ACTIONS, 4));
        let mut boundary_stmt =
            vec![json!({"Sid": "Ceiling", "Effect": "Allow", "Action": boundary_actions, "Resource": "*"})];
        if self.chance(0.5) {
            boundary_stmt.push(json!({"Sid": "Grants", "Effect": "Allow", "Action": ["kms:CreateGrant", "kms:ListGrants"], "Resource": "*"}));
        }
        if self.p.oracle {
            if let Some(c) = self.conditions(1, false) {
                if let Some(Value::Object(m)) = boundary_stmt.first_mut() {
                    m.insert("Condition".into(), c);
                }
            }
            if self.chance(0.4) {
                let not = strs(&some(
                    &mut self.rng,
                    &["kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:Disable*", "kms:Decrypt"],
                    2,
                ));
                boundary_stmt.push(
                    json!({"Sid": "AllButSome", "Effect": "Allow", "NotAction": not, "Resource": self.key_resource()}),
                );
            }
            if self.chance(0.3) {
                let not = self.other_keys();
                boundary_stmt
                    .push(json!({"Sid": "DenyOtherKeys", "Effect": "Deny", "Action": "kms:*", "NotResource": not}));
            }
        }
        let boundary_doc = json!({"Version": "2012-10-17", "Statement": boundary_stmt});
        let boundary_doc = self.vary_case(boundary_doc);
        let group_doc = self.identity_policy("OpsGroup");
        let policies = vec![
            self.managed(&id, "CentralKmsUse", use_doc),
            self.managed(&id, "WorkloadBoundary", boundary_doc),
            self.managed(&id, "KmsOps", group_doc),
        ];
        let mut policies = policies;
        if self.p.oracle {
            // Older versions that are not the default: they must not count (IAM UG
            // access_policies_managed-versioning).
            for p in policies.iter_mut() {
                if let Some(Value::Array(versions)) = p.get_mut("PolicyVersionList") {
                    versions.push(json!({"Document": {"Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]},
                        "VersionId": "v0", "IsDefaultVersion": false, "CreateDate": "2023-01-01T00:00:00+00:00"}));
                }
            }
        }
        let mut roles = Vec::new();
        let plans = self.accounts[ai].roles.clone();
        for (ri, r) in plans.iter().enumerate() {
            let path = r
                .arn
                .split(":role")
                .nth(1)
                .and_then(|s| s.rsplit_once('/'))
                .map_or("/".to_string(), |(p, _)| format!("{p}/"));
            let mut attached = Vec::new();
            let mut inline = Vec::new();
            if r.name == "KeyAdmin" {
                attached.push(json!({"PolicyName": "KmsOps", "PolicyArn": format!("arn:aws:iam::{id}:policy/KmsOps")}));
            } else {
                if self.chance(0.6) {
                    attached.push(
                        json!({"PolicyName": "CentralKmsUse", "PolicyArn": format!("arn:aws:iam::{id}:policy/CentralKmsUse")}),
                    );
                }
                if self.chance(0.6) {
                    let doc = self.identity_policy("Inline");
                    inline.push(json!({"PolicyName": format!("Inline{ri}"), "PolicyDocument": doc}));
                }
            }
            // Half of the roles accept session tags, so that requests may give `aws:PrincipalTag/*`.
            let trust_actions =
                if self.chance(0.5) { json!(["sts:AssumeRole", "sts:TagSession"]) } else { json!("sts:AssumeRole") };
            let mut role = json!({
                "Path": path, "RoleName": r.name, "RoleId": format!("AROA{}{:04}", &id[..8], ri), "Arn": r.arn,
                "CreateDate": "2024-03-12T10:15:30+00:00",
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"}, "Action": trust_actions}]},
                "InstanceProfileList": [], "RolePolicyList": inline, "AttachedManagedPolicies": attached,
                "Tags": [{"Key": "team", "Value": pick(&mut self.rng, TEAMS)}, {"Key": "env", "Value": pick(&mut self.rng, &["prod", "dev"])}],
                "RoleLastUsed": {}
            });
            if r.name != "KeyAdmin" && self.chance(0.4) {
                if let Value::Object(m) = &mut role {
                    m.insert(
                        "PermissionsBoundary".into(),
                        json!({"PermissionsBoundaryType": "Policy",
                               "PermissionsBoundaryArn": format!("arn:aws:iam::{id}:policy/WorkloadBoundary")}),
                    );
                }
            }
            roles.push(role);
        }
        let mut users = Vec::new();
        let mut groups = Vec::new();
        if !self.accounts[ai].users.is_empty() {
            let group_inline: Vec<Value> = if self.p.oracle && self.chance(0.5) {
                vec![json!({"PolicyName": "GroupInline", "PolicyDocument": self.identity_policy("GroupInline")})]
            } else {
                Vec::new()
            };
            groups.push(json!({"Path": "/", "GroupName": "KmsOperators", "GroupId": format!("AGPA{}0001", &id[..8]),
                "Arn": format!("arn:aws:iam::{id}:group/KmsOperators"), "CreateDate": "2024-03-12T10:15:30+00:00",
                "GroupPolicyList": group_inline, "AttachedManagedPolicies": [{"PolicyName": "KmsOps", "PolicyArn": format!("arn:aws:iam::{id}:policy/KmsOps")}]}));
            for (ui, arn) in self.accounts[ai].users.clone().iter().enumerate() {
                let name = arn.rsplit('/').next().unwrap_or("alice");
                let mut user = json!({"Path": "/", "UserName": name, "UserId": format!("AIDA{}{:04}", &id[..8], ui), "Arn": arn,
                    "CreateDate": "2024-03-12T10:15:30+00:00", "GroupList": ["KmsOperators"], "UserPolicyList": [],
                    "AttachedManagedPolicies": [], "Tags": [{"Key": "team", "Value": pick(&mut self.rng, TEAMS)}]});
                if self.p.oracle && self.chance(0.4) {
                    if let Value::Object(m) = &mut user {
                        m.insert(
                            "PermissionsBoundary".into(),
                            json!({"PermissionsBoundaryType": "Policy",
                                   "PermissionsBoundaryArn": format!("arn:aws:iam::{id}:policy/WorkloadBoundary")}),
                        );
                    }
                }
                users.push(user);
            }
        }
        json!({"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": roles, "Policies": policies})
    }

    // ----- keys ---------------------------------------------------------------------------------

    fn key_policy(&mut self, k: &KeyPlan) -> Value {
        let owner = k.account.clone();
        let mut st = Vec::new();
        if self.chance(0.9) {
            st.push(self.statement(
                "Enable IAM User Permissions",
                "Allow",
                Some(json!({"AWS": format!("arn:aws:iam::{owner}:root")})),
                vec!["kms:*".into()],
                json!("*"),
                None,
            ));
        }
        if owner == self.security {
            st.push(self.statement(
                "Allow access for Key Administrators",
                "Allow",
                Some(json!({"AWS": format!("arn:aws:iam::{owner}:role/KeyAdmin")})),
                strs(ADMIN_ACTIONS),
                json!("*"),
                None,
            ));
        }
        // Cross-account use: account roots (ARN or bare id) and role ARNs.
        let n = self.rng.gen_range(0..=3);
        for i in 0..n {
            let mut names: Vec<String> = Vec::new();
            for _ in 0..self.rng.gen_range(1..=3) {
                let v = match self.rng.gen_range(0..4) {
                    0 => self.random_account(),
                    1 => format!("arn:aws:iam::{}:root", self.random_account()),
                    _ => self.random_role().unwrap_or_else(|| format!("arn:aws:iam::{}:root", self.external)),
                };
                if !names.contains(&v) {
                    names.push(v);
                }
            }
            let actions = if self.chance(0.2) {
                strs(&some(&mut self.rng, GRANT_ACTIONS, 2))
            } else {
                strs(&some(&mut self.rng, USE_ACTIONS, 4))
            };
            let cond = self.conditions(2, false);
            st.push(self.statement(
                &format!("CrossAccountUse{i}"),
                "Allow",
                Some(json!({"AWS": one_or_many(names)})),
                actions,
                json!("*"),
                cond,
            ));
        }
        if self.chance(0.5) {
            let mut cond = self.org_condition();
            if let (Some(Value::Object(extra)), Value::Object(c)) = (self.conditions(1, false), &mut cond) {
                for (op, v) in extra {
                    c.entry(op).or_insert(v);
                }
            }
            let actions = strs(&some(&mut self.rng, USE_ACTIONS, 3));
            let principal = if self.chance(0.5) { json!("*") } else { json!({"AWS": "*"}) };
            st.push(self.statement("AllowOrganization", "Allow", Some(principal), actions, json!("*"), Some(cond)));
        }
        if self.chance(0.3) {
            st.push(self.statement(
                "AllowPartner",
                "Allow",
                Some(json!({"AWS": format!("arn:aws:iam::{}:root", self.external)})),
                strs(&["kms:Decrypt", "kms:DescribeKey"]),
                json!("*"),
                None,
            ));
        }
        if self.chance(0.3) {
            let svc = format!("{}.amazonaws.com", pick(&mut self.rng, &["cloudtrail", "logs", "s3"]));
            let cond = json!({"StringLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::bucket-*"}});
            self.sample("kms:EncryptionContext:aws:s3:arn", &["arn:aws:s3:::bucket-x", "arn:aws:s3:::private"]);
            let c = if self.p.conditions { Some(cond) } else { None };
            st.push(self.statement(
                "AllowService",
                "Allow",
                Some(json!({"Service": svc})),
                strs(&["kms:GenerateDataKey*", "kms:Decrypt"]),
                json!("*"),
                c,
            ));
        }
        if self.chance(0.3) {
            // CreateGrant for AWS resources only, limited to some operations.
            let mut cond = json!({"Bool": {"kms:GrantIsForAWSResource": "true"}});
            if self.p.conditions {
                let ops = strs(&some(&mut self.rng, &GRANT_OPERATIONS[..6], 3));
                cond = json!({"ForAllValues:StringEquals": {"kms:GrantOperations": ops}});
                self.sample("kms:GrantOperations", GRANT_OPERATIONS);
            }
            self.sample("kms:GrantIsForAWSResource", &["true", "false"]);
            let who = format!("arn:aws:iam::{}:root", self.random_account());
            st.push(self.statement(
                "AllowGrants",
                "Allow",
                Some(json!({"AWS": who})),
                strs(&["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]),
                json!("*"),
                Some(cond),
            ));
        }
        if self.chance(0.35) {
            // Explicit denies: on everyone under a condition, or on everyone but some principals.
            let cond = self.conditions(1, true);
            let actions =
                strs(&some(&mut self.rng, &["kms:Decrypt", "kms:Encrypt", "kms:CreateGrant", "kms:ReEncrypt*"], 2));
            if self.chance(0.3) {
                let keep = self.random_role().unwrap_or_else(|| format!("arn:aws:iam::{owner}:root"));
                let mut s = json!({"Sid": "DenyAllBut", "Effect": "Deny",
                    "NotPrincipal": {"AWS": [keep, format!("arn:aws:iam::{owner}:root")]}, "Action": actions, "Resource": "*"});
                if let (Some(c), Value::Object(m)) = (cond, &mut s) {
                    m.insert("Condition".into(), c);
                }
                st.push(s);
            } else if let Some(c) = cond {
                st.push(self.statement("ConditionalDeny", "Deny", Some(json!("*")), actions, json!("*"), Some(c)));
            } else {
                let who = self.random_role().unwrap_or_else(|| format!("arn:aws:iam::{}:root", self.external));
                st.push(self.statement("DenyOne", "Deny", Some(json!({"AWS": who})), actions, json!("*"), None));
            }
        }
        if self.chance(0.15) {
            // NotAction: everything but administration, to the organization.
            let cond = json!({"StringEquals": {"aws:PrincipalOrgID": self.org_id}});
            st.push(json!({"Sid": "AllButAdmin", "Effect": "Allow", "Principal": {"AWS": "*"},
                "NotAction": ["kms:Create*", "kms:Put*", "kms:Delete*", "kms:ScheduleKeyDeletion", "kms:Disable*"], "Resource": "*", "Condition": cond}));
        }
        if self.p.oracle {
            self.negated_key_statements(k, &mut st);
        }
        let doc = json!({"Version": "2012-10-17", "Id": format!("key-policy-{}", &k.id[..8]), "Statement": st});
        self.vary_case(doc)
    }

    /// `NotResource`, `NotAction` and `NotPrincipal` statements for a key policy (oracle flavour).
    fn negated_key_statements(&mut self, k: &KeyPlan, st: &mut Vec<Value>) {
        let owner = k.account.clone();
        if self.chance(0.4) {
            // Principals named exactly: a user and a role session (which a permissions boundary
            // does not limit, unlike a role ARN).
            let mut names = Vec::new();
            let n = self.accounts.len();
            let a = &self.accounts[self.rng.gen_range(0..n)];
            if let Some(u) = a.users.first() {
                names.push(u.clone());
            }
            if let Some(role) = self.random_role() {
                let (acct, name) = role_parts(&role);
                names.push(format!(
                    "arn:aws:sts::{acct}:assumed-role/{name}/{}",
                    pick(&mut self.rng, &["batch-0", "alice"])
                ));
            }
            if !names.is_empty() {
                let actions = strs(&some(&mut self.rng, USE_ACTIONS, 3));
                let cond = self.conditions(1, false);
                st.push(self.statement(
                    "NamedPrincipals",
                    "Allow",
                    Some(json!({"AWS": one_or_many(names)})),
                    actions,
                    json!("*"),
                    cond,
                ));
            }
        }
        if self.chance(0.3) {
            // A NotResource that names another key: the statement covers this one.
            let not = self.other_keys();
            let who =
                if self.chance(0.5) { format!("arn:aws:iam::{}:root", self.random_account()) } else { "*".to_string() };
            let actions = strs(&some(&mut self.rng, USE_ACTIONS, 3));
            let cond = self.conditions(1, false);
            let mut s = json!({"Sid": "NotResourceUse", "Effect": "Allow", "Principal": {"AWS": who}, "Action": actions, "NotResource": not});
            if let (Some(c), Value::Object(m)) = (cond, &mut s) {
                m.insert("Condition".into(), c);
            }
            st.push(s);
        }
        if self.chance(0.3) {
            // Deny everyone but a role (its session, role and account all listed, as the IAM
            // guide recommends) or but an account.
            let mut keep: Vec<String> = vec![format!("arn:aws:iam::{owner}:root")];
            if let Some(role) = self.random_role() {
                let (acct, name) = role_parts(&role);
                keep.push(format!("arn:aws:iam::{acct}:root"));
                keep.push(role);
                if self.chance(0.5) {
                    keep.push(format!("arn:aws:sts::{acct}:assumed-role/{name}/batch-0"));
                }
            }
            keep.dedup();
            let actions = strs(&some(
                &mut self.rng,
                &["kms:Decrypt", "kms:ScheduleKeyDeletion", "kms:DescribeKey", "kms:Encrypt"],
                2,
            ));
            let cond = self.conditions(1, true);
            let mut s = json!({"Sid": "DenyAllButListed", "Effect": "Deny", "NotPrincipal": {"AWS": keep}, "Action": actions, "Resource": "*"});
            if let (Some(c), Value::Object(m)) = (cond, &mut s) {
                m.insert("Condition".into(), c);
            }
            st.push(s);
        }
        if self.chance(0.25) {
            let not = strs(&some(
                &mut self.rng,
                &["kms:Decrypt", "kms:Encrypt", "kms:DescribeKey", "kms:GenerateDataKey*"],
                3,
            ));
            let cond = self.conditions(1, true);
            let mut s =
                json!({"Sid": "DenyAllButUse", "Effect": "Deny", "Principal": "*", "NotAction": not, "Resource": "*"});
            if let (Some(c), Value::Object(m)) =
                (cond.or_else(|| Some(json!({"StringNotEquals": {"aws:PrincipalAccount": owner}}))), &mut s)
            {
                m.insert("Condition".into(), c);
            }
            st.push(s);
        }
    }

    fn grant(&mut self, k: &KeyPlan, gi: usize) -> Value {
        let grantee = match self.rng.gen_range(0..6) {
            0 => format!("arn:aws:iam::{}:root", self.random_account()),
            1 => {
                let role = self.random_role().unwrap_or_else(|| format!("arn:aws:iam::{}:role/Ext", self.external));
                // A session of the role: `arn:aws:sts::A:assumed-role/Name/session`.
                let (acct, name) = role_parts(&role);
                format!("arn:aws:sts::{acct}:assumed-role/{name}/batch-{gi}")
            }
            2 => format!("{}.amazonaws.com", pick(&mut self.rng, SERVICES)),
            3 => format!("arn:aws:iam::{}:role/Ext", self.external),
            _ => self.random_role().unwrap_or_else(|| format!("arn:aws:iam::{}:root", self.security)),
        };
        let ops = strs(&some(&mut self.rng, GRANT_OPERATIONS, 4));
        let mut g = Map::new();
        g.insert("KeyId".into(), json!(k.arn));
        g.insert("GrantId".into(), json!(chars(&mut self.rng, HEX, 64)));
        g.insert("Name".into(), json!(format!("grant-{gi}")));
        g.insert("CreationDate".into(), json!("2024-11-05T14:22:10+00:00"));
        g.insert("GranteePrincipal".into(), json!(grantee));
        g.insert("IssuingAccount".into(), json!(format!("arn:aws:iam::{}:root", k.account)));
        g.insert("Operations".into(), json!(ops));
        if self.chance(0.3) {
            let who = self.random_role().unwrap_or_else(|| format!("arn:aws:iam::{}:root", self.security));
            g.insert("RetiringPrincipal".into(), json!(who));
        }
        if self.chance(0.5) {
            let mut ec = Map::new();
            for kname in some(&mut self.rng, &EC_KEYS[..2], 2) {
                let v = pick(&mut self.rng, EC_VALUES);
                ec.insert(kname.to_string(), json!(v));
                self.sample(&format!("kms:EncryptionContext:{kname}"), &[v, "Other"]);
            }
            let kind = if self.chance(0.5) { "EncryptionContextEquals" } else { "EncryptionContextSubset" };
            g.insert("Constraints".into(), json!({ kind: ec }));
        }
        Value::Object(g)
    }

    fn key_file(&mut self, ki: usize) -> Value {
        let k = self.keys[ki].clone();
        let policy = self.key_policy(&k);
        let max = self.p.grants_per_key * 2;
        let n = if max == 0 { 0 } else { self.rng.gen_range(0..=max) };
        let grants: Vec<Value> = (0..n).map(|gi| self.grant(&k, gi)).collect();
        let mut aliases = vec![json!({"AliasName": format!("alias/key-{ki}"),
            "AliasArn": format!("arn:aws:kms:{}:{}:alias/key-{ki}", k.region, k.account), "TargetKeyId": k.id})];
        if self.chance(0.3) {
            let svc = pick(&mut self.rng, SERVICES);
            aliases.push(json!({"AliasName": format!("alias/{svc}-key-{ki}"),
                "AliasArn": format!("arn:aws:kms:{}:{}:alias/{svc}-key-{ki}", k.region, k.account), "TargetKeyId": k.id}));
        }
        json!({
            "KeyMetadata": {
                "AWSAccountId": k.account, "KeyId": k.id, "Arn": k.arn, "CreationDate": "2023-06-01T08:00:00.000000+00:00",
                "Enabled": true, "Description": format!("synthetic key {ki}"), "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": "Enabled",
                "Origin": "AWS_KMS", "KeyManager": "CUSTOMER", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
                "KeySpec": "SYMMETRIC_DEFAULT", "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": false
            },
            "Policy": serde_json::to_string_pretty(&policy).unwrap_or_default(),
            "Grants": grants,
            "Aliases": aliases,
            "KeyRotationEnabled": true,
            "Tags": [{"TagKey": "owner", "TagValue": "security"}]
        })
    }
}

fn ous_name(ou: usize) -> &'static str {
    match ou {
        2 => "prod",
        3 => "dev",
        _ => "sandbox",
    }
}

/// `(account, role name)` of a role ARN.
fn role_parts(arn: &str) -> (String, String) {
    let account = arn.split(':').nth(4).unwrap_or_default().to_string();
    let name = arn.rsplit('/').next().unwrap_or_default().to_string();
    (account, name)
}

fn write_json(path: &Path, v: &Value) -> std::io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer_pretty(&mut w, v)?;
    w.write_all(b"\n")?;
    w.flush()
}

/// Writes a complete snapshot folder for `p` into `dir` (created if needed) and says what it
/// holds. The same parameters always write the same files.
pub fn write_snapshot(dir: &Path, p: &Params) -> std::io::Result<Summary> {
    let mut g = Gen::new(p);
    g.plan();
    std::fs::create_dir_all(dir)?;
    let org = g.organization();
    write_json(&dir.join("organization.json"), &org)?;
    let mut summary = Summary::default();
    for ai in 0..g.accounts.len() {
        let adir = dir.join("accounts").join(&g.accounts[ai].id);
        std::fs::create_dir_all(&adir)?;
        summary.accounts.push(g.accounts[ai].id.clone());
        if g.accounts[ai].collected {
            let iam = g.iam(ai);
            write_json(&adir.join("iam.json"), &iam)?;
            let a = &g.accounts[ai];
            summary.principals.push(format!("arn:aws:iam::{}:root", a.id));
            summary.principals.extend(a.roles.iter().map(|r| r.arn.clone()));
            summary.principals.extend(a.users.iter().cloned());
        }
    }
    for ki in 0..g.keys.len() {
        let k = g.keys[ki].clone();
        let kdir = dir.join("accounts").join(&k.account).join("kms").join(k.region);
        std::fs::create_dir_all(&kdir)?;
        let file = g.key_file(ki);
        write_json(&kdir.join(format!("{}.json", k.id)), &file)?;
        summary.keys.push(k.arn);
    }
    summary.external_accounts = vec![g.external.clone()];
    summary.context_keys = g.context.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_writes_the_same_snapshot() {
        let base = std::env::temp_dir().join(format!("keyproof-testgen-{}", std::process::id()));
        let p = Params::small(7);
        let a = write_snapshot(&base.join("a"), &p).unwrap();
        let b = write_snapshot(&base.join("b"), &p).unwrap();
        assert_eq!(a, b);
        let read = |d: &Path| std::fs::read_to_string(d.join("organization.json")).unwrap();
        assert_eq!(read(&base.join("a")), read(&base.join("b")));
        assert_eq!(a.keys.len(), 2);
        assert_eq!(a.accounts.len(), 4);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
