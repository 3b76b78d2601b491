//! `keyproof lint`, `keyproof rules` and `keyproof rule CODE`: the built-in rules of
//! `keyproof-rules` on a snapshot, with the settings of `keyproof.toml`.

use crate::cli::{CheckFormat, Format};
use crate::err::CliError;
use crate::output::emit;
use crate::report::Kind;
use clap::{Args, ValueEnum};
use keyproof_rules::{LintReport, Selection, Severity, RULES};
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct LintArgs {
    /// The snapshot folder. Default: the embedded demo organization corpus/central-kms.
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,

    /// The settings (security accounts, trusted accounts, allowed regions, compliance zones,
    /// thresholds, severities, suppressions, fail_on, snapshot): `--config`, or the keyproof.toml
    /// found from the snapshot folder or the current folder up (`keyproof config` shows which).
    #[command(flatten)]
    pub config: crate::config::ConfigArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,

    /// Run only these rules (comma-separated codes, e.g. KP004,KP005).
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub select: Vec<String>,

    /// Do not run these rules (comma-separated codes).
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub ignore: Vec<String>,

    /// The lowest severity that makes the exit code 1. Default: keyproof.toml's `fail_on`, else
    /// warning.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// Time limit of one solver query, in milliseconds; a query that runs out is reported as
    /// undetermined.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u32,

    /// Report only on the keys of shard I of N (a stable partition by key ARN, as for `check`):
    /// the shards' findings together are the whole run's.
    #[arg(long, value_name = "I/N", value_parser = keyproof_solver::check::Shard::parse)]
    pub shard: Option<keyproof_solver::check::Shard>,

    #[command(flatten)]
    pub plan: crate::plan::PlanArgs,

    #[command(flatten)]
    pub outputs: crate::report::OutputFiles,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Note,
    Warning,
    Error,
}

impl FailOn {
    pub fn severity(self) -> Severity {
        match self {
            FailOn::Note => Severity::Note,
            FailOn::Warning => Severity::Warning,
            FailOn::Error => Severity::Error,
        }
    }
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct RuleArgs {
    /// The rule's code (KP004) or name (external-access).
    #[arg(value_name = "CODE")]
    pub code: String,
}

/// Exit codes: 2 when a question was undetermined (as for `check`), else 1 when a finding is at or
/// above `--fail-on`, else 0.
pub fn run(args: &LintArgs) -> Result<i32, CliError> {
    let resolved = crate::config::resolve(&args.config, args.snapshot.as_deref())?;
    let dir = args.snapshot.clone().or_else(|| resolved.snapshot());
    let config = &resolved.config;
    let (snapshot, plan) = crate::plan::load(dir.as_deref(), &args.plan)?;
    let selection = Selection { select: args.select.clone(), ignore: args.ignore.clone() };
    let shard = args.shard.unwrap_or(keyproof_solver::check::Shard::WHOLE);
    let report = keyproof_rules::lint_shard(&snapshot, config, &selection, args.timeout, shard)?;
    if std::env::var_os("KEYPROOF_STATS").is_some() {
        for line in &report.stats {
            eprintln!("keyproof: {line}");
        }
    }
    let fail = crate::config::fail_on(args.fail_on, &resolved);
    let code = if !report.undetermined.is_empty() {
        2
    } else if report.findings.iter().any(|f| f.severity >= fail) {
        1
    } else {
        0
    };
    let code = crate::plan::exit(code, &plan);
    crate::report::write(args.format.into(), &args.outputs, |kind| match kind {
        Kind::Text => Ok(render_text(&report)),
        Kind::Json => {
            // Written straight from the report (a lint of a large organization is tens of MB of
            // JSON: no `Value` tree of it is built).
            #[derive(serde::Serialize)]
            struct Out<'a> {
                #[serde(flatten)]
                report: &'a LintReport,
                snapshot: serde_json::Value,
                exit_code: i32,
                schema: u32,
                tool: serde_json::Value,
            }
            let out = Out {
                report: &report,
                snapshot: crate::snapshot_arg::metadata(&snapshot, dir.as_deref()),
                exit_code: code,
                schema: crate::report::SCHEMA,
                tool: json!({ "name": "keyproof", "version": env!("CARGO_PKG_VERSION") }),
            };
            Ok(format!("{}\n", serde_json::to_string_pretty(&out)?))
        }
        Kind::Sarif => crate::report::pretty(&crate::report::with_invocation(
            crate::sarif::with_snapshot(
                crate::sarif::lint_report(&report),
                crate::snapshot_arg::metadata(&snapshot, dir.as_deref()),
            ),
            code,
        )),
        Kind::Markdown => Ok(render_markdown(&report, code)),
    })?;
    Ok(code)
}

/// The Markdown report: one row per finding.
fn render_markdown(report: &LintReport, code: i32) -> String {
    use crate::report::cell;
    let mut s = String::from("### keyproof lint\n\n");
    if !report.findings.is_empty() {
        s.push_str("| rule | severity | key | finding |\n|---|---|---|---|\n");
        for f in &report.findings {
            let key = f.alias.clone().unwrap_or_else(|| f.key.clone());
            let _ = writeln!(
                s,
                "| {} {} | {} | `{}` | {} |",
                f.code,
                cell(f.name),
                f.severity.as_str(),
                cell(&key),
                cell(&f.message)
            );
        }
        s.push('\n');
    }
    for u in &report.undetermined {
        let _ = writeln!(
            s,
            "- undetermined {}: `{}` `{}` on `{}`: {}",
            u.rule,
            u.principal,
            u.action,
            u.key,
            cell(&u.reason)
        );
    }
    let count = |sev: Severity| report.findings.iter().filter(|f| f.severity == sev).count();
    let _ = writeln!(
        s,
        "{} findings ({} error, {} warning, {} note), {} suppressed, {} undetermined (exit code {code})",
        report.findings.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note),
        report.suppressed.len(),
        report.undetermined.len(),
    );
    s
}

fn render_text(report: &LintReport) -> String {
    let mut s = String::new();
    for f in &report.findings {
        let key = match &f.alias {
            Some(a) => format!("{a} ({})", f.key),
            None => f.key.clone(),
        };
        let _ = writeln!(s, "{} [{}] {}  {key}", f.code, f.severity.as_str(), f.name);
        let _ = writeln!(s, "  {}", f.message);
        for l in &f.locations {
            let _ = writeln!(s, "  --> {} ({})", l.place, l.what);
        }
        for r in &f.requests {
            let _ = writeln!(s, "  request: {} {} on {} -> {}", r.principal, r.action, r.key, r.decision);
            for (k, v) in &r.context {
                let _ = writeln!(s, "    with {k} = {}", v.join(", "));
            }
            for a in &r.assumptions {
                let _ = writeln!(s, "    assuming: {a}");
            }
            for b in &r.because {
                let at = b.location.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
                let _ = writeln!(s, "    allowed by {}{at}", b.name());
            }
        }
        for n in &f.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        let _ = writeln!(s);
    }
    for sup in &report.suppressed {
        let _ = writeln!(s, "suppressed {} on {}: {}", sup.finding.code, sup.finding.key, sup.reason);
    }
    for u in &report.undetermined {
        let _ = writeln!(s, "undetermined {}: {} {} on {}: {}", u.rule, u.principal, u.action, u.key, u.reason);
    }
    for k in &report.skipped {
        let _ = writeln!(s, "not checked: {k}");
    }
    let count = |sev: Severity| report.findings.iter().filter(|f| f.severity == sev).count();
    let _ = writeln!(
        s,
        "{} findings ({} error, {} warning, {} note), {} suppressed, {} undetermined; rules run: {}",
        report.findings.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note),
        report.suppressed.len(),
        report.undetermined.len(),
        report.rules.join(" ")
    );
    s
}

/// `keyproof rules`: the table of rules.
pub fn run_rules(args: &RulesArgs) -> Result<i32, CliError> {
    let out = match args.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(
                &RULES
                    .iter()
                    .map(|r| json!({
                        "code": r.code,
                        "name": r.name,
                        "severity": r.severity,
                        "summary": r.summary(),
                    }))
                    .collect::<Vec<_>>()
            )?
        ),
        Format::Dot | Format::Mermaid => return Err(crate::who_can::graph_only()),
        Format::Text => {
            let mut s = String::new();
            for r in RULES {
                let _ = writeln!(s, "{}  {:<7}  {:<43}  {}", r.code, r.severity.as_str(), r.name, r.summary());
            }
            s
        }
    };
    emit(&out)?;
    Ok(0)
}

/// `keyproof rule CODE`: the rule's documentation.
pub fn run_rule(args: &RuleArgs) -> Result<i32, CliError> {
    let rule = keyproof_rules::find(&args.code)
        .ok_or_else(|| keyproof_rules::RulesError::UnknownRule { code: args.code.clone() })?;
    emit(&format!("{}\n(default severity: {})\n", rule.doc(), rule.severity.as_str()))?;
    Ok(0)
}
