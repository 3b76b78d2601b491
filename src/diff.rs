//! `keyproof diff BEFORE AFTER`: every access a change adds (and removes), grouped into classes,
//! each with an example request replayed through the evaluator on both sides.

use crate::cli::CheckFormat;
use crate::err::CliError;
use crate::plan::PlanArgs;
use crate::report::Kind;
use clap::Args;
use keyproof_model::Snapshot;
use keyproof_parser::overlay::OverlayReport;
use keyproof_solver::diff::{diff, group, AccessClass, Change, Diff};
use keyproof_solver::report::AccessClassReport;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The snapshot before the change.
    #[arg(value_name = "BEFORE")]
    pub before: PathBuf,

    /// The snapshot after the change. Without it, `--plan` (or `--template`, `--stackset`) gives
    /// the after-state: BEFORE with the plan or templates overlaid.
    #[arg(value_name = "AFTER", required_unless_present_any = ["plan", "template", "stackset"])]
    pub after: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,

    /// Exit with 1 when access was removed too (by default only added access fails).
    #[arg(long)]
    pub fail_on_removed: bool,

    /// Time limit of one solver query, in milliseconds; a query that runs out gives `unknown`.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u32,

    #[command(flatten)]
    pub plan: PlanArgs,

    #[command(flatten)]
    pub base: crate::cli::BaseArgs,

    #[command(flatten)]
    pub outputs: crate::report::OutputFiles,
}

pub fn run(args: &DiffArgs) -> Result<i32, CliError> {
    let (before, base) = match &args.base.base {
        Some(dir) => crate::plan::load(Some(&args.before), &crate::plan::rebased(&args.plan, dir))?,
        None => (crate::snapshot_arg::load(Some(&args.before))?, crate::plan::Overlays::default()),
    };
    let mut before_label = args.before.display().to_string();
    for r in base.all() {
        before_label.push_str(&format!(" + {}", r.file));
    }
    let after_dir = args.after.as_deref().unwrap_or(&args.before);
    let (after, plan) = crate::plan::load(Some(after_dir), &args.plan)?;
    let d = diff(&before, &after, args.timeout);
    let names = |arn: &str| key_name(&after, arn).or_else(|| key_name(&before, arn)).unwrap_or_else(|| arn.to_string());
    let classes = group(&d, &names);
    let mut after_label = after_dir.display().to_string();
    for r in plan.all() {
        after_label.push_str(&format!(" + {}", r.file));
    }
    let added = classes.iter().any(|c| c.change == Change::Added);
    let removed = classes.iter().any(|c| c.change == Change::Removed);
    let code = if !d.undecided.is_empty() {
        2
    } else if added || (args.fail_on_removed && removed) {
        1
    } else {
        0
    };
    let code = crate::plan::exit(crate::plan::exit(code, &plan), &base);
    crate::report::write(args.format.into(), &args.outputs, |kind| match kind {
        Kind::Text => Ok(render_text(&before_label, &after_label, &d, &classes, &after, &before)),
        Kind::Json => {
            let mut v = json!({
                "before": before_label,
                "after": after_label,
                "added": classes.iter().filter(|c| c.change == Change::Added).map(|c| class_json(c, &after, &before)).collect::<Vec<_>>(),
                "removed": classes.iter().filter(|c| c.change == Change::Removed).map(|c| class_json(c, &after, &before)).collect::<Vec<_>>(),
                "undecided": d.undecided,
                "pairs": d.pairs,
                "pairs_identical": d.pairs_identical,
                "exit_code": code,
            });
            if let Some(p) = &plan.plan {
                v["plan"] = crate::plan::report_json(&after, p);
            }
            if !plan.templates.is_empty() {
                v["templates"] = plan.templates.iter().map(|t| crate::plan::report_json(&after, t)).collect();
            }
            if !base.templates.is_empty() {
                v["base_templates"] = base.templates.iter().map(|t| crate::plan::report_json(&before, t)).collect();
            }
            crate::report::pretty(&crate::report::stamp(v))
        }
        Kind::Sarif => {
            let dirs = Dirs { before: &args.before, after: after_dir };
            crate::report::pretty(&crate::report::with_invocation(
                sarif(&classes, &d, &after, &before, &dirs, [&plan.all(), &base.all()]),
                code,
            ))
        }
        Kind::Markdown => Ok(render_markdown(&before_label, &after_label, &d, &classes, code)),
    })?;
    Ok(code)
}

/// The Markdown report: one row per class of access added or removed.
fn render_markdown(before_label: &str, after_label: &str, d: &Diff, classes: &[AccessClass], code: i32) -> String {
    use crate::report::cell;
    let mut s = format!("### keyproof diff `{}` → `{}`\n\n", cell(before_label), cell(after_label));
    if !classes.is_empty() {
        s.push_str("| change | access | example |\n|---|---|---|\n");
        for c in classes {
            let e = &c.example;
            let _ = writeln!(
                s,
                "| {} | {} | `{}` `{}` on `{}` |",
                if c.change == Change::Added { "➕ added" } else { "➖ removed" },
                cell(&c.sentence()),
                e.request.principal,
                e.request.action,
                e.request.key
            );
        }
        s.push('\n');
    }
    for u in &d.undecided {
        let _ = writeln!(s, "- undecided: `{}` `{}` on `{}`: {}", u.principal, u.action, u.key, cell(&u.reason));
    }
    let count = |c: Change| classes.iter().filter(|x| x.change == c).count();
    let _ = writeln!(
        s,
        "{} added, {} removed, {} undecided (exit code {code})",
        count(Change::Added),
        count(Change::Removed),
        d.undecided.len()
    );
    s
}

/// A key's first alias (with its region when keys of other regions share the alias), or
/// `None` when it has none (the ARN is shown then).
fn key_name(snapshot: &Snapshot, arn: &str) -> Option<String> {
    let key = snapshot.keys().iter().find(|k| k.arn == arn)?;
    let alias = key.aliases.first()?;
    let shared = snapshot.keys().iter().filter(|k| k.aliases.contains(alias)).count() > 1;
    Some(if shared { format!("{alias} ({})", key.region) } else { alias.clone() })
}

/// The snapshot whose policies allow a class's example: AFTER for added access, BEFORE for
/// removed access.
fn allowing<'s>(c: &AccessClass, after: &'s Snapshot, before: &'s Snapshot) -> &'s Snapshot {
    match c.change {
        Change::Added => after,
        Change::Removed => before,
    }
}

fn class_json(c: &AccessClass, after: &Snapshot, before: &Snapshot) -> AccessClassReport {
    AccessClassReport::new(c, allowing(c, after, before))
}

fn render_text(
    before_label: &str,
    after_label: &str,
    d: &Diff,
    classes: &[AccessClass],
    after: &Snapshot,
    before: &Snapshot,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "keyproof diff {before_label} → {after_label}");
    for change in [Change::Added, Change::Removed] {
        let list: Vec<&AccessClass> = classes.iter().filter(|c| c.change == change).collect();
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "\n{}:",
            match change {
                Change::Added => "access added",
                Change::Removed => "access removed",
            }
        );
        for c in list {
            let mark = if change == Change::Added { "+" } else { "-" };
            let _ = writeln!(s, "  {mark} {}", c.sentence());
            let e = &c.example;
            let _ = writeln!(s, "      e.g. {} {} on {}", e.request.principal, e.request.action, e.request.key);
            for (k, v) in &e.request.context {
                let _ = writeln!(s, "        with {k} = {}", v.join(", "));
            }
            let (a, b) = keyproof_solver::report::verdicts(c);
            let _ = writeln!(s, "        before: {b}; after: {a}");
            for a in &e.assumptions {
                let _ = writeln!(s, "        assuming: {a}");
            }
            let snap = allowing(c, after, before);
            let _ = snap;
            for t in c.because() {
                let _ = writeln!(
                    s,
                    "        {} by {}{}",
                    if change == Change::Added { "allowed" } else { "was allowed" },
                    t.cited(),
                    t.location.as_ref().map(|l| format!(" ({l})")).unwrap_or_default()
                );
            }
        }
    }
    for u in &d.undecided {
        let _ = writeln!(
            s,
            "\n  ? undecided ({}): {} {} on {}: {}",
            match u.change {
                Change::Added => "added",
                Change::Removed => "removed",
            },
            u.principal,
            u.action,
            u.key,
            u.reason
        );
    }
    let count = |c: Change| classes.iter().filter(|x| x.change == c).count();
    let triples = |c: Change| d.deltas.iter().filter(|x| x.change == c).count();
    let _ = writeln!(
        s,
        "\n{} added ({} principal/action/key), {} removed ({}), {} undecided; {} of {} principal/key pairs identical on both sides",
        count(Change::Added),
        triples(Change::Added),
        count(Change::Removed),
        triples(Change::Removed),
        d.undecided.len(),
        d.pairs_identical,
        d.pairs
    );
    s
}

struct Dirs<'a> {
    before: &'a Path,
    after: &'a Path,
}

fn region(snapshot: &Snapshot, span: keyproof_parser::Span) -> Value {
    let Some(f) = snapshot.sources.get(span.source) else { return json!({}) };
    let a = f.line_col(span.start);
    let b = f.line_col(span.end);
    json!({ "startLine": a.line, "startColumn": a.column, "endLine": b.line, "endColumn": b.column })
}

/// The file of a source as a path a code-scanning tool can open: a snapshot file is relative to
/// its snapshot folder; a plan file is named as given.
fn uri(snapshot: &Snapshot, dir: &Path, span: keyproof_parser::Span, overlays: &[&OverlayReport]) -> String {
    let _ = (dir, overlays);
    snapshot.sources.name(span.source).replace('\\', "/")
}

/// The Terraform resource address in an embedded source's name (`plan.json → aws_kms_grant.x (…)`).
fn terraform_address(snapshot: &Snapshot, span: keyproof_parser::Span) -> Option<String> {
    let name = snapshot.sources.name(span.source);
    let (_, rest) = name.split_once(" → ")?;
    let address = rest.split(' ').next()?;
    address
        .starts_with("aws_")
        .then(|| address.to_string())
        .or_else(|| address.starts_with("module.").then(|| address.to_string()))
}

fn sarif(
    classes: &[AccessClass],
    d: &Diff,
    after: &Snapshot,
    before: &Snapshot,
    dirs: &Dirs<'_>,
    [after_overlays, before_overlays]: [&[&OverlayReport]; 2],
) -> Value {
    let rules = json!([
        { "id": "keyproof/access-added", "name": "AccessAdded",
          "shortDescription": { "text": "The change lets principals perform KMS actions they could not perform before" },
          "help": { "text": "keyproof diff found a request that the state after the change allows and the state before does not; the example was replayed through the evaluator on both sides." } },
        { "id": "keyproof/access-removed", "name": "AccessRemoved",
          "shortDescription": { "text": "The change takes away KMS access that principals had" },
          "help": { "text": "keyproof diff found a request that the state before the change allows and the state after does not." } },
        { "id": "keyproof/undecided", "name": "Undecided",
          "shortDescription": { "text": "keyproof could not decide whether the change adds or removes this access" },
          "help": { "text": "The reason is in the message; an undecided question is never a pass." } },
    ]);
    let mut results = Vec::new();
    for c in classes {
        let snap = allowing(c, after, before);
        let dir = if c.change == Change::Added { dirs.after } else { dirs.before };
        let plan_here: &[&OverlayReport] = if c.change == Change::Added { after_overlays } else { before_overlays };
        let e = &c.example;
        let mut locations = Vec::new();
        let mut logical = Vec::new();
        for t in c.because() {
            let Some(span) = t.span else { continue };
            let outer = snap.sources.outermost(span);
            locations.push(json!({
                "physicalLocation": {
                    "artifactLocation": { "uri": uri(snap, dir, outer, plan_here) },
                    "region": region(snap, outer),
                },
                "message": { "text": t.cited() },
            }));
            // The Terraform address: of the embedded policy's source, or the id of a grant the
            // plan creates (named after its resource).
            let address = terraform_address(snap, span).or_else(|| {
                (t.layer == keyproof_model::eval::Layer::Grant && !plan_here.is_empty())
                    .then(|| {
                        t.policy
                            .as_deref()?
                            .split_whitespace()
                            .find(|w| w.starts_with("aws_kms_grant."))
                            .map(str::to_string)
                    })
                    .flatten()
            });
            if let Some(a) = address {
                let entry = json!({ "fullyQualifiedName": a, "kind": "resource" });
                if !logical.contains(&entry) {
                    logical.push(entry);
                }
            }
        }
        if locations.is_empty() {
            if let Some(k) = snap.keys().iter().find(|k| k.arn == c.key) {
                let outer = snap.sources.outermost(k.span);
                locations.push(json!({
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(snap, dir, outer, plan_here) },
                        "region": region(snap, outer),
                    },
                }));
            }
        }
        let mut location = locations.first().cloned().unwrap_or_else(|| json!({}));
        if !logical.is_empty() {
            location["logicalLocations"] = json!(logical);
        }
        let mut text =
            format!("{} (e.g. {} {} on {}", c.sentence(), e.request.principal, e.request.action, e.request.key);
        for (k, v) in &e.request.context {
            let _ = write!(text, ", {k} = {}", v.join(", "));
        }
        text.push(')');
        results.push(json!({
            "ruleId": if c.change == Change::Added { "keyproof/access-added" } else { "keyproof/access-removed" },
            "level": if c.change == Change::Added { "error" } else { "warning" },
            "message": { "text": text },
            "locations": [location],
            "relatedLocations": locations.iter().skip(1).enumerate().map(|(i, l)| { let mut l = l.clone(); l["id"] = json!(i); l }).collect::<Vec<_>>(),
            "partialFingerprints": { "keyproofDiff/v1": format!("{:?}:{}:{}:{}", c.change, c.key, c.who, c.actions.join(",")) },
        }));
    }
    for u in &d.undecided {
        results.push(json!({
            "ruleId": "keyproof/undecided",
            "level": "warning",
            "message": { "text": format!("{} {} on {}: {}", u.principal, u.action, u.key, u.reason) },
            "locations": [],
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "keyproof", "informationUri": "https://github.com/keyproof/keyproof", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }],
    })
}
