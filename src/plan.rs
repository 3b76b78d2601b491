//! `--plan plan.json`, `--template T.yaml` and `--stackset T.yaml --targets OU`: a Terraform plan
//! and CloudFormation templates overlaid on the snapshot (after = snapshot + overlays), for every
//! command that reads a snapshot. The overlays themselves are `keyproof_parser::overlay`.

use crate::err::CliError;
use crate::snapshot_arg;
use clap::Args;
use keyproof_model::Snapshot;
use keyproof_parser::overlay::cloudformation::{
    apply_template, parameter_flag, read_parameters_file, read_template_file, targets_flag, Deployment,
};
use keyproof_parser::overlay::OverlayReport;
use keyproof_parser::snapshot::{read_snapshot, SnapshotFiles};
use keyproof_parser::terraform::{apply_plan, read_plan_file, PlanOptions};
use keyproof_parser::Spanned;
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

    #[command(flatten)]
    pub templates: crate::cli::TemplateArgs,
}

/// The reports of the overlays a command applied.
#[derive(Debug, Default)]
pub struct Overlays {
    /// The Terraform plan's.
    pub plan: Option<OverlayReport>,
    /// One per CloudFormation template or StackSet.
    pub templates: Vec<OverlayReport>,
}

impl Overlays {
    pub fn all(&self) -> Vec<&OverlayReport> {
        self.plan.iter().chain(&self.templates).collect()
    }
}

/// Loads the snapshot a command names (or the embedded demo), with the plan and templates
/// overlaid when given. Each overlay's report is printed on stderr: what it changed, what
/// keyproof determined, what it does not model, and what stays unknown.
pub fn load(dir: Option<&Path>, plan: &PlanArgs) -> Result<(Snapshot, Overlays), CliError> {
    let t = &plan.templates;
    if plan.plan.is_none() && t.template.is_empty() && t.stackset.is_none() {
        return Ok((snapshot_arg::load(dir)?, Overlays::default()));
    }
    let files = match dir {
        Some(d) => {
            if !d.is_dir() {
                // The same message as without an overlay.
                return Ok((snapshot_arg::load(Some(d))?, Overlays::default()));
            }
            SnapshotFiles::Dir(d.to_path_buf())
        }
        None => snapshot_arg::embedded(),
    };
    let mut sources = snapshot_arg::sources_for(dir);
    let mut raw = read_snapshot(&files, &mut sources)?;
    let mut overlays = Overlays::default();
    if let Some(plan_path) = &plan.plan {
        let (_, json) = read_plan_file(plan_path, &mut sources)?;
        let options = PlanOptions { account: plan.plan_account.clone(), region: plan.plan_region.clone() };
        overlays.plan = Some(apply_plan(&mut raw, &mut sources, &json, &options)?);
    }
    if !t.template.is_empty() || t.stackset.is_some() {
        let mut params = match &t.parameters {
            Some(p) => read_parameters_file(p, &mut sources)?,
            None => Vec::new(),
        };
        for p in &t.parameter {
            params.push(parameter_flag(&mut sources, p)?);
        }
        for path in &t.template {
            let (Some(account), Some(region)) = (&t.template_account, &t.template_region) else {
                return Err(CliError::Usage(format!(
                    "--template {} needs --template-account ACCOUNT_ID and --template-region REGION (where the stack is deployed)",
                    path.display()
                )));
            };
            let stack_name = t.stack_name.clone().unwrap_or_else(|| stem(path));
            let json = read_template_file(path, &mut sources)?;
            let deployment = Deployment::Stack { account: account.clone(), region: region.clone(), stack_name };
            overlays.templates.push(apply_template(&mut raw, &mut sources, json, &params, &deployment)?);
        }
        if let Some(path) = &t.stackset {
            let regions: Vec<String> = match (&t.regions, &t.template_region) {
                (Some(r), _) => r.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
                (None, Some(r)) => vec![r.clone()],
                (None, None) => {
                    return Err(CliError::Usage(format!(
                        "--stackset {} needs --regions REGION[,REGION...] (or --template-region)",
                        path.display()
                    )))
                }
            };
            let targets = targets_flag(&mut sources, t.targets.as_deref().unwrap_or_default());
            let json = read_template_file(path, &mut sources)?;
            let deployment = Deployment::StackSet { name: stem(path), targets, regions };
            overlays.templates.push(apply_template(&mut raw, &mut sources, json, &params, &deployment)?);
        }
    }
    let snapshot = Snapshot::from_raw(raw, sources)?;
    snapshot_arg::announce(&snapshot, dir.is_none());
    for r in overlays.all() {
        crate::output::note(&render(&snapshot, r));
    }
    Ok((snapshot, overlays))
}

/// The same overlay flags with the templates as they are in a checkout of the base branch: each
/// template and StackSet path read under `base` (dropped when `base` does not have it), the
/// parameters file too when `base` has it. A plan describes one side only, so it is not taken.
pub fn rebased(args: &PlanArgs, base: &Path) -> PlanArgs {
    let mut out = args.clone();
    out.plan = None;
    out.plan_account = None;
    out.plan_region = None;
    let t = &mut out.templates;
    let under = |p: &Path| Some(base.join(p)).filter(|b| b.is_file());
    t.template = t.template.iter().filter_map(|p| under(p)).collect();
    t.stackset = t.stackset.as_deref().and_then(under);
    if let Some(p) = t.parameters.as_deref().and_then(under) {
        t.parameters = Some(p);
    }
    out
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(|| "stack".to_string(), |s| s.to_string_lossy().into_owned())
}

/// The exit code with the overlays' unknown values counted: they make any answer undecided.
pub fn exit(code: i32, overlays: &Overlays) -> i32 {
    if overlays.all().iter().any(|r| !r.unknown.is_empty()) {
        2
    } else {
        code
    }
}

fn located(snapshot: &Snapshot, s: &Spanned<String>) -> String {
    format!("{} ({})", s.value, snapshot.sources.location(s.span))
}

/// The report as text.
pub fn render(snapshot: &Snapshot, r: &OverlayReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} {}: {} change(s) overlaid on the snapshot", r.input, r.file, r.applied.len());
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
pub fn report_json(snapshot: &Snapshot, r: &OverlayReport) -> Value {
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
