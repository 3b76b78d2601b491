//! `--plan plan.json`: a Terraform plan overlaid on the snapshot (after = snapshot + plan), for
//! every command that reads a snapshot. The overlay itself is `keyproof_parser::terraform`.

use crate::err::CliError;
use crate::snapshot_arg;
use clap::Args;
use keyproof_model::Snapshot;
use keyproof_parser::snapshot::{read_snapshot, SnapshotFiles};
use keyproof_parser::terraform::{apply_plan, read_plan_file, PlanOptions, PlanReport};
use keyproof_parser::{SourceMap, Spanned};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Args)]
pub struct PlanArgs {
    /// A Terraform plan to overlay on the snapshot: the output of `terraform show -json PLANFILE`
    /// (format 1.x). Answers are then for the state after the plan is applied.
    #[arg(long, value_name = "PLAN.json")]
    pub plan: Option<PathBuf>,

    /// The AWS account the plan's provider deploys to, when the provider configuration does not
    /// say it (allowed_account_ids or assume_role).
    #[arg(long, value_name = "ACCOUNT_ID", requires = "plan")]
    pub plan_account: Option<String>,

    /// The region the plan's provider deploys to, when the provider configuration does not say.
    #[arg(long, value_name = "REGION", requires = "plan")]
    pub plan_region: Option<String>,
}

/// Loads the snapshot a command names (or the embedded demo), with the plan overlaid when one
/// is given. The plan's report is printed on stderr: what it changed, what keyproof determined,
/// what it does not model, and what stays unknown.
pub fn load(dir: Option<&Path>, plan: &PlanArgs) -> Result<(Snapshot, Option<PlanReport>), CliError> {
    let Some(plan_path) = &plan.plan else {
        return Ok((snapshot_arg::load(dir)?, None));
    };
    let files = match dir {
        Some(d) => {
            if !d.is_dir() {
                // The same message as without a plan.
                return Ok((snapshot_arg::load(Some(d))?, None));
            }
            SnapshotFiles::Dir(d.to_path_buf())
        }
        None => snapshot_arg::embedded(),
    };
    let mut sources = SourceMap::new();
    let mut raw = read_snapshot(&files, &mut sources)?;
    let (_, json) = read_plan_file(plan_path, &mut sources)?;
    let options = PlanOptions { account: plan.plan_account.clone(), region: plan.plan_region.clone() };
    let report = apply_plan(&mut raw, &mut sources, &json, &options)?;
    let snapshot = Snapshot::from_raw(&raw, sources)?;
    snapshot_arg::announce(&snapshot, dir.is_none());
    eprint!("{}", render(&snapshot, &report));
    Ok((snapshot, Some(report)))
}

/// The exit code with the plan's unknown values counted: they make any answer undecided.
pub fn exit(code: i32, report: &Option<PlanReport>) -> i32 {
    match report {
        Some(r) if !r.unknown.is_empty() => 2,
        _ => code,
    }
}

fn located(snapshot: &Snapshot, s: &Spanned<String>) -> String {
    format!("{} ({})", s.value, snapshot.sources.location(s.span))
}

/// The report as text.
pub fn render(snapshot: &Snapshot, r: &PlanReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "plan {}: {} change(s) overlaid on the snapshot", r.file, r.applied.len());
    for a in &r.applied {
        let _ = writeln!(s, "  applied  {a}");
    }
    for d in &r.determined {
        let _ = writeln!(s, "  note     {}", d.value);
    }
    for n in &r.not_modelled {
        let _ = writeln!(s, "  skipped  {}", located(snapshot, n));
    }
    for u in &r.unknown {
        let _ = writeln!(s, "  UNKNOWN  {}", located(snapshot, u));
    }
    if !r.unknown.is_empty() {
        let _ = writeln!(s, "  the answers below do not cover the unknown values above (exit code 2)");
    }
    s
}

/// The report as JSON.
pub fn report_json(snapshot: &Snapshot, r: &PlanReport) -> Value {
    let list = |v: &[Spanned<String>]| -> Vec<Value> {
        v.iter().map(|x| json!({ "message": x.value, "location": snapshot.sources.location(x.span) })).collect()
    };
    json!({
        "file": r.file,
        "applied": r.applied,
        "determined": list(&r.determined),
        "not_modelled": list(&r.not_modelled),
        "unknown": list(&r.unknown),
    })
}
