//! The registry: one table of every rule, with its stable code, its name (the bad pattern it
//! catches), its default severity and its check. A rule's documentation is the `//!` comment at
//! the top of its file, read from the source at compile time, so that `keyproof rule CODE` prints
//! exactly what the code documents.

use crate::context::LintContext;
use crate::err::RulesError;
use crate::finding::{Finding, Severity};
use crate::rules::*;

pub type Check = fn(&LintContext<'_>) -> Result<Vec<Finding>, RulesError>;

pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// The rule's source file; its `//!` lines are its documentation.
    source: &'static str,
    pub check: Check,
}

/// The sections every rule's documentation has, in this order.
pub const DOC_SECTIONS: [&str; 5] =
    ["## What it finds", "## Why it matters", "## Example", "## How to fix", "## References"];

macro_rules! rule {
    ($code:literal, $name:literal, $sev:ident, $module:ident) => {
        Rule {
            code: $code,
            name: $name,
            severity: Severity::$sev,
            source: include_str!(concat!("rules/", stringify!($module), ".rs")),
            check: $module::check,
        }
    };
}

pub static RULES: &[Rule] = &[
    rule!("KP001", "key-outside-security-account", Warning, kp001_key_outside_security_account),
    rule!("KP002", "key-admin-can-use-key", Warning, kp002_key_admin_can_use_key),
    rule!("KP003", "workload-can-administer-key", Error, kp003_workload_can_administer_key),
    rule!("KP004", "external-access", Error, kp004_external_access),
    rule!("KP005", "public-key", Error, kp005_public_key),
    rule!("KP006", "key-deletion-outside-security", Error, kp006_key_deletion_outside_security),
    rule!("KP007", "key-policy-lockout", Error, kp007_key_policy_lockout),
    rule!("KP008", "grant-escalation", Warning, kp008_grant_escalation),
    rule!("KP009", "grant-to-unknown-or-external-principal", Warning, kp009_grant_to_unknown_or_external_principal),
    rule!("KP010", "replica-outside-allowed-regions", Error, kp010_replica_outside_allowed_regions),
    rule!("KP011", "replica-policy-drift", Warning, kp011_replica_policy_drift),
    rule!("KP012", "compliance-zone-crossing", Error, kp012_compliance_zone_crossing),
    rule!("KP013", "shared-key-throttling-risk", Note, kp013_shared_key_throttling_risk),
    rule!(
        "KP014",
        "service-principal-without-source-condition",
        Warning,
        kp014_service_principal_without_source_condition
    ),
    rule!("KP015", "rotation-disabled", Note, kp015_rotation_disabled),
    rule!("KP016", "broad-account-delegation", Warning, kp016_broad_account_delegation),
    rule!("KP017", "statement-blocked-by-rcp", Note, kp017_statement_blocked_by_rcp),
    rule!("KP018", "key-administration-reachable", Warning, kp018_key_administration_reachable),
];

/// A rule by code (case-insensitive) or by name.
pub fn find(code: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code.eq_ignore_ascii_case(code) || r.name == code)
}

impl Rule {
    /// The rule's documentation, in Markdown.
    pub fn doc(&self) -> String {
        let mut out = String::new();
        for line in self.source.lines() {
            let Some(rest) = line.strip_prefix("//!") else {
                if !out.is_empty() {
                    break;
                }
                continue;
            };
            out.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            out.push('\n');
        }
        out
    }

    /// The one-sentence summary: the first paragraph after the title.
    pub fn summary(&self) -> String {
        let doc = self.doc();
        doc.split("\n\n").nth(1).map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_default()
    }

    /// One section of the documentation, without its heading (`"## How to fix"`).
    pub fn section(&self, heading: &str) -> Option<String> {
        let doc = self.doc();
        let start = doc.find(&format!("{heading}\n"))? + heading.len() + 1;
        let rest = &doc[start..];
        let end = rest.find("\n## ").map_or(rest.len(), |i| i + 1);
        Some(rest[..end].trim().to_string())
    }

    /// The AWS documentation pages the rule cites.
    pub fn references(&self) -> Vec<String> {
        self.section("## References")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- "))
            .map(str::to_string)
            .collect()
    }
}
