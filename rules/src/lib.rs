//! keyproof's built-in rules (`keyproof lint`): the practices of a centralized KMS setup, one
//! rule per file, each decided by the prover where it is about access (a finding comes with a
//! request replayed through the concrete evaluator), or read from the model where it is about
//! configuration (key ownership, regions, statement shape, rotation).
//!
//! Architecture Invariant: nothing here prints or exits; the CLI renders a [`LintReport`].

pub mod config;
pub mod context;
pub mod err;
pub mod finding;
pub mod registry;
pub mod rules;

pub use config::Config;
pub use context::{LintContext, Undetermined};
pub use err::RulesError;
pub use finding::{Finding, Severity};
pub use registry::{find, Rule, RULES};

use keyproof_model::wildcard::glob;
use keyproof_model::Snapshot;
use keyproof_solver::check::Shard;
use serde::Serialize;

/// Which rules run: `select` (empty = every rule) minus `ignore`, from the command line and the
/// settings.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub select: Vec<String>,
    pub ignore: Vec<String>,
}

/// A finding accepted by a `[[suppress]]` entry.
#[derive(Debug, Clone, Serialize)]
pub struct Suppressed {
    pub finding: Finding,
    pub reason: String,
}

/// Everything `keyproof lint` found.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    pub rules: Vec<&'static str>,
    pub findings: Vec<Finding>,
    pub suppressed: Vec<Suppressed>,
    /// Access questions the prover could not decide: never a silent pass.
    pub undetermined: Vec<Undetermined>,
    /// What the rules did not check, and why (a setting or an input is missing).
    pub skipped: Vec<String>,
    /// How the run went: each rule's time, and the prover's counts (shown with
    /// `KEYPROOF_STATS=1`; not part of the JSON report).
    #[serde(skip)]
    pub stats: Vec<String>,
    /// How many answers were taken from a class of members rather than asked.
    #[serde(skip)]
    pub class_hits: usize,
}

/// Runs the selected rules on a snapshot.
pub fn lint(
    snapshot: &Snapshot,
    config: &Config,
    selection: &Selection,
    timeout_ms: u32,
) -> Result<LintReport, RulesError> {
    lint_shard(snapshot, config, selection, timeout_ms, Shard::WHOLE)
}

/// [`lint`] reporting only on the keys of one shard (`--shard I/N`): the shards' findings
/// together are the whole run's.
pub fn lint_shard(
    snapshot: &Snapshot,
    config: &Config,
    selection: &Selection,
    timeout_ms: u32,
    shard: Shard,
) -> Result<LintReport, RulesError> {
    lint_grouped(snapshot, config, selection, timeout_ms, shard, true)
}

/// [`lint_shard`], with the classes of members ([`keyproof_solver::classes`]) on or off: the
/// answers are the same either way (the differential test `grouped_lint_is_the_ungrouped_lint`).
pub fn lint_grouped(
    snapshot: &Snapshot,
    config: &Config,
    selection: &Selection,
    timeout_ms: u32,
    shard: Shard,
    grouping: bool,
) -> Result<LintReport, RulesError> {
    let select: Vec<&String> =
        if selection.select.is_empty() { config.select.iter().collect() } else { selection.select.iter().collect() };
    let mut chosen = Vec::new();
    for code in select.iter().chain(selection.ignore.iter().collect::<Vec<_>>().iter()) {
        find(code).ok_or_else(|| RulesError::UnknownRule { code: (*code).clone() })?;
    }
    for rule in RULES {
        let selected = select.is_empty() || select.iter().any(|c| find(c).is_some_and(|r| r.code == rule.code));
        let ignored =
            selection.ignore.iter().chain(&config.ignore).any(|c| find(c).is_some_and(|r| r.code == rule.code))
                || config.rules.get(rule.code).is_some_and(|s| s.ignore);
        if selected && !ignored {
            chosen.push(rule);
        }
    }
    let mut ctx = LintContext::new(snapshot, config, timeout_ms);
    ctx.shard = shard;
    ctx.grouping = grouping;
    let mut report = LintReport {
        rules: chosen.iter().map(|r| r.code).collect(),
        findings: Vec::new(),
        suppressed: Vec::new(),
        undetermined: Vec::new(),
        skipped: Vec::new(),
        stats: Vec::new(),
        class_hits: 0,
    };
    for rule in &chosen {
        if rule.code == "KP010" && config.allowed_regions.is_empty() {
            ctx.skipped("KP010", "no `allowed_regions` in keyproof.toml".into());
        }
        if rule.code == "KP012" && config.zones.is_empty() {
            ctx.skipped("KP012", "no `[zones.NAME]` in keyproof.toml".into());
        }
        let severity = config.rules.get(rule.code).and_then(|s| s.severity).unwrap_or(rule.severity);
        let started = std::time::Instant::now();
        let found = (rule.check)(&ctx)?;
        report.stats.push(format!("{}: {} findings in {:.2?}", rule.code, found.len(), started.elapsed()));
        for mut f in found {
            f.name = rule.name;
            f.severity = severity;
            match suppression(&ctx, config, &f) {
                Some(reason) => report.suppressed.push(Suppressed { finding: f, reason }),
                None => report.findings.push(f),
            }
        }
    }
    report.findings.sort_by(|a, b| (a.code, &a.key, &a.fingerprint).cmp(&(b.code, &b.key, &b.fingerprint)));
    report.stats.push(ctx.prover.stats());
    report.class_hits = ctx.class_hits();
    report.stats.push(format!("{} answers taken from a class of members", report.class_hits));
    report.undetermined = ctx.undetermined();
    report.skipped = ctx.skipped_list().into_iter().map(|(r, why)| format!("{r}: {why}")).collect();
    Ok(report)
}

/// The reason of the first suppression that matches a finding.
fn suppression(ctx: &LintContext<'_>, config: &Config, f: &Finding) -> Option<String> {
    let key = snapshot_key(ctx.snapshot, &f.key)?;
    config
        .suppress
        .iter()
        .find(|s| {
            find(&s.rule).is_some_and(|r| r.code == f.code)
                && s.key.as_deref().is_none_or(|sel| ctx.selects(sel, key))
                && s.principal.as_deref().is_none_or(|p| f.principal.as_deref().is_some_and(|fp| glob(p, fp, false)))
        })
        .and_then(|s| s.reason.clone())
}

fn snapshot_key<'s>(snapshot: &'s Snapshot, arn: &str) -> Option<&'s keyproof_model::snapshot::Key> {
    snapshot.keys().iter().find(|k| k.arn == arn)
}
