//! `keyproof.toml`: the settings of the rules. Every field is optional; the defaults say in the
//! findings what they assumed (e.g. the security account inferred from the snapshot).
//!
//! ```toml
//! snapshot = "snapshot"                      # the snapshot folder, relative to this file
//! fail_on = "warning"                        # lint's exit code 1 from this severity (default)
//! security_accounts = ["111122223333"]
//! trusted_accounts = ["123456789012"]        # outside the organization, but trusted (KP004, KP009)
//! allowed_regions = ["us-east-1", "eu-west-1"] # residency of multi-Region replicas (KP010)
//! key_admins = ["arn:aws:iam::111122223333:role/KeyAdmin"]  # globs (KP002, KP006, KP008)
//! key_exceptions = ["alias/app-team-owned"]  # keys allowed outside the security accounts (KP001)
//! shared_key_max_accounts = 4                # KP013
//! ignore = ["KP015"]
//!
//! [zones.pci]
//! ous = ["Workloads/Prod"]                   # OU name paths or ids
//! keys = ["alias/s3-prod-key"]               # key ARNs, ids or aliases
//!
//! [rules.KP013]
//! severity = "note"
//!
//! [[suppress]]
//! rule = "KP013"
//! key = "alias/master-key-org"
//! reason = "the org-wide key is throttle-tested (SEC-142)"
//! ```

use crate::err::RulesError;
use crate::finding::Severity;
use miette::NamedSource;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The settings, as read from `keyproof.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The snapshot folder, relative to the folder of `keyproof.toml`, for `keyproof lint` run
    /// without `--snapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The lowest severity of a finding that makes `keyproof lint` exit with 1. Default:
    /// warning (a note, such as a rotation reminder, does not fail a pipeline).
    #[serde(default = "default_fail_on", alias = "fail-on")]
    pub fail_on: Severity,
    /// The accounts that own and administer the keys. Default: the account that owns most
    /// customer managed keys.
    #[serde(default)]
    pub security_accounts: Vec<String>,
    /// Accounts outside the organization that may use keys (partners, vendors).
    #[serde(default)]
    pub trusted_accounts: Vec<String>,
    /// Regions where multi-Region replicas may live. Default: KP010 does not run.
    #[serde(default)]
    pub allowed_regions: Vec<String>,
    /// ARN patterns (`*` and `?`) of the principals allowed to administer keys. Default: the
    /// roles and users a key policy names in a statement that allows `kms:PutKeyPolicy` or
    /// `kms:ScheduleKeyDeletion`, and the root user of the key's account.
    #[serde(default)]
    pub key_admins: Vec<String>,
    /// Keys (ARN, id or alias) allowed outside the security accounts: per-service exceptions
    /// (KP001).
    #[serde(default)]
    pub key_exceptions: Vec<String>,
    /// KP013: how many accounts may use one key through high-volume services.
    #[serde(default = "default_max_accounts")]
    pub shared_key_max_accounts: usize,
    /// KP013: the services whose traffic counts (service prefixes of `kms:ViaService`).
    #[serde(default = "default_services")]
    pub high_volume_services: Vec<String>,
    /// Compliance zones: keys that only principals of some OUs may use (KP012).
    #[serde(default)]
    pub zones: BTreeMap<String, Zone>,
    /// Rule codes to select (default: every rule).
    #[serde(default)]
    pub select: Vec<String>,
    /// Rule codes not to run.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Per-rule settings.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleSettings>,
    /// Findings accepted on purpose, each with its reason.
    #[serde(default)]
    pub suppress: Vec<Suppression>,
}

fn default_fail_on() -> Severity {
    Severity::Warning
}

fn default_max_accounts() -> usize {
    4
}

fn default_services() -> Vec<String> {
    vec!["s3".into(), "ec2".into(), "rds".into()]
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// OUs by name path (`Workloads/Prod`, with or without the root's name) or id.
    pub ous: Vec<String>,
    /// Keys of the zone (ARN, id, alias).
    #[serde(default)]
    pub keys: Vec<String>,
    /// Keys of the zone by tag, `key=value`.
    #[serde(default)]
    pub key_tags: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub ignore: bool,
}

/// One accepted finding: a rule on a key (ARN, id or alias), optionally for one principal.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config::default_settings()
    }
}

impl Config {
    /// The settings of an empty `keyproof.toml`.
    pub fn default_settings() -> Config {
        Config {
            snapshot: None,
            fail_on: default_fail_on(),
            security_accounts: Vec::new(),
            trusted_accounts: Vec::new(),
            allowed_regions: Vec::new(),
            key_admins: Vec::new(),
            key_exceptions: Vec::new(),
            shared_key_max_accounts: default_max_accounts(),
            high_volume_services: default_services(),
            zones: BTreeMap::new(),
            select: Vec::new(),
            ignore: Vec::new(),
            rules: BTreeMap::new(),
            suppress: Vec::new(),
        }
    }

    /// Reads `keyproof.toml`. Every rule code it names must exist, and every suppression must
    /// give its reason.
    pub fn parse(path: &str, text: &str) -> Result<Config, RulesError> {
        let src = || NamedSource::new(path, text.to_string()).with_language("toml");
        let config: Config = toml::from_str(text).map_err(|e| RulesError::ConfigSyntax {
            path: path.to_string(),
            message: e.message().to_string(),
            src: src(),
            span: e.span().map(|r| (r.start, r.end.saturating_sub(r.start)).into()),
        })?;
        let codes = config
            .select
            .iter()
            .chain(&config.ignore)
            .chain(config.rules.keys())
            .chain(config.suppress.iter().map(|s| &s.rule));
        for code in codes {
            crate::registry::find(code).ok_or_else(|| RulesError::UnknownRule { code: code.clone() })?;
        }
        for (i, s) in config.suppress.iter().enumerate() {
            if s.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                return Err(RulesError::SuppressionWithoutReason {
                    path: path.to_string(),
                    rule: s.rule.clone(),
                    src: src(),
                    span: nth_table_span(text, "[[suppress]]", i),
                });
            }
        }
        Ok(config)
    }
}

/// Where the `n`-th `[[suppress]]` header is, for the error label.
fn nth_table_span(text: &str, header: &str, n: usize) -> Option<miette::SourceSpan> {
    text.match_indices(header).nth(n).map(|(i, h)| (i, h.len()).into())
}
