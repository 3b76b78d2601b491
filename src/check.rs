//! `keyproof check`: decide a properties file on a snapshot.

use crate::cli::CheckArgs;
use crate::err::CliError;
use crate::report::{self, Kind};
use keyproof_model::Snapshot;
use keyproof_parser::property::parse_properties;
use keyproof_parser::SourceMap;
use keyproof_solver::check::{check_property_reach, named_principals, PropertyResult, ReachCache, Shard, Status};
use keyproof_solver::query::Prover;
use keyproof_solver::report::PropertyReport;
use serde_json::json;
use std::fmt::Write as _;

pub fn run(args: &CheckArgs) -> Result<i32, CliError> {
    let text = std::fs::read_to_string(&args.properties)
        .map_err(|e| CliError::Read { path: args.properties.display().to_string(), error: e })?;
    let mut sources = SourceMap::new();
    let file = parse_properties(&mut sources, &args.properties.display().to_string(), text)?;
    if file.properties.is_empty() {
        // A check of nothing would pass: a CI job pointed at the wrong file must not go green.
        return Err(CliError::NoProperties { path: args.properties.display().to_string() });
    }
    let (snapshot, plan) = crate::plan::load(args.snapshot.as_deref(), &args.plan)?;
    let extra = named_principals(&file.properties);
    let prover = Prover::new(&snapshot, args.timeout, &extra);
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let reach = ReachCache::new(args.max_hops, extra.clone());
    let mut results = Vec::new();
    for p in &file.properties {
        results.push(check_property_reach(&prover, &sources, p, prover.members(), shard, &reach)?);
    }
    if std::env::var_os("KEYPROOF_STATS").is_some() {
        eprintln!("keyproof: {}", prover.stats());
    }
    let code = if results.iter().any(|r| r.status == Status::Unknown) {
        2
    } else if results.iter().any(|r| r.status == Status::Violated) {
        1
    } else {
        0
    };
    let code = crate::plan::exit(code, &plan);
    report::write(args.format.into(), &args.outputs, |kind| match kind {
        Kind::Text => Ok(render_text(&snapshot, &results)),
        Kind::Json => report::pretty(&report::stamp(json!({
            "results": results.iter().map(|r| PropertyReport::new(&snapshot, r)).collect::<Vec<_>>(),
            "snapshot": crate::snapshot_arg::metadata(&snapshot, args.snapshot.as_deref()),
            "exit_code": code,
        }))),
        Kind::Sarif => report::pretty(&report::with_invocation(
            crate::sarif::with_snapshot(
                crate::sarif::check_report(&sources, &results),
                crate::snapshot_arg::metadata(&snapshot, args.snapshot.as_deref()),
            ),
            code,
        )),
        Kind::Markdown => Ok(render_markdown(&args.properties.display().to_string(), &results, code)),
    })?;
    Ok(code)
}

/// The Markdown report: one row per property.
fn render_markdown(file: &str, results: &[PropertyResult], code: i32) -> String {
    let mut s = format!(
        "### keyproof check `{}`\n\n| property | verdict | instances | detail |\n|---|---|---|---|\n",
        report::cell(file)
    );
    for r in results {
        let verdict = match r.status {
            Status::Proved => "✔ proved",
            Status::Violated => "✘ violated",
            Status::Vacuous => "○ vacuous",
            Status::Unknown => "? unknown",
        };
        let detail = match (&r.counterexample, &r.reason) {
            (Some(c), _) => {
                let pairs = if r.violations.len() > 1 {
                    format!(" ({} principal/key pairs)", r.violations.len())
                } else {
                    String::new()
                };
                match c.witnesses.first() {
                    Some(w) => {
                        format!("`{}` can `{}` on `{}`{pairs}", w.request.principal, w.request.action, w.request.key)
                    }
                    None => match c.paths.first() {
                        Some(p) => format!(
                            "`{}` can reach `{}` on `{}` ({} hops){pairs}",
                            p.reached.allowed.principal,
                            p.action,
                            p.key,
                            p.reached.path.len()
                        ),
                        None => format!("{}{pairs}", c.member.describe()),
                    },
                }
            }
            (None, Some(reason)) => reason.clone(),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            s,
            "| `{}` | {verdict} | {} | {} |",
            report::cell(&r.property),
            r.instances,
            report::cell(&detail)
        );
    }
    let count = |st: Status| results.iter().filter(|r| r.status == st).count();
    let _ = writeln!(
        s,
        "\n{} proved, {} violated, {} vacuous, {} unknown (exit code {code})",
        count(Status::Proved),
        count(Status::Violated),
        count(Status::Vacuous),
        count(Status::Unknown)
    );
    s
}

fn render_text(snapshot: &Snapshot, results: &[PropertyResult]) -> String {
    let mut s = String::new();
    for r in results {
        let mark = match r.status {
            Status::Proved => "✔ proved  ",
            Status::Violated => "✘ violated",
            Status::Vacuous => "○ vacuous ",
            Status::Unknown => "? unknown ",
        };
        let _ = writeln!(s, "{mark}  {}  ({} instances)", r.property, r.instances);
        if let Some(reason) = &r.reason {
            let _ = writeln!(s, "      because: {reason}");
        }
        if let Some(c) = &r.counterexample {
            if r.violations.len() > 1 {
                let _ = writeln!(s, "      violated by {} principal/key pairs:", r.violations.len());
                for (m, k) in &r.violations {
                    let _ = writeln!(s, "        - {} on {k}", m.describe());
                }
            }
            let _ = writeln!(s, "      counterexample: {}", c.member.describe());
            for d in &c.denials {
                let _ =
                    writeln!(s, "        {} cannot {} on {}: {}", d.principal, d.action, d.key, d.decision.as_str());
                for t in d.because() {
                    let what = match (&t.policy, &t.statement) {
                        (Some(p), Some(st)) => format!("{p}, statement {st}: "),
                        (Some(p), None) => format!("{p}: "),
                        _ => String::new(),
                    };
                    let at = t.location.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
                    let _ = writeln!(s, "          {what}{}{at}", t.detail);
                }
            }
            for p in &c.paths {
                let r = &p.reached;
                let how = match r.path.len() {
                    0 => "directly".to_string(),
                    1 => "in 1 hop".to_string(),
                    n => format!("in {n} hops"),
                };
                let _ = writeln!(s, "        {} can reach {} on {} {how}", r.allowed.description, p.action, p.key);
                for (i, h) in r.path.iter().enumerate() {
                    let _ = writeln!(s, "          {}. {} {} → {}", i + 1, h.edge.as_str(), h.from, h.to);
                    for v in &h.via {
                        let _ = writeln!(s, "             allowed by {v}");
                    }
                    for cond in &h.conditions {
                        let _ = writeln!(s, "             {cond}");
                    }
                    for a in &h.assumptions {
                        let _ = writeln!(s, "             assuming: {a}");
                    }
                }
                let _ = writeln!(s, "          then {} calls {} on {}", r.final_principal, p.action, p.key);
                for v in &r.allowed.via {
                    let _ = writeln!(s, "             allowed by {v}");
                }
            }
            for w in &c.witnesses {
                let _ = writeln!(s, "        {} can {} on {}", w.request.principal, w.request.action, w.request.key);
                for (k, v) in &w.request.context {
                    let _ = writeln!(s, "          with {k} = {}", v.join(", "));
                }
                for a in &w.assumptions {
                    let _ = writeln!(s, "          assuming: {a}");
                }
                for b in keyproof_solver::report::citations(snapshot, &w.decision) {
                    // `text` is the name and then the place: ` (file:line:column)`.
                    let what = b.cited.name();
                    let at = match &b.cited.location {
                        Some(_) => b.cited.text.strip_prefix(what.as_str()).unwrap_or(&b.cited.text).to_string(),
                        None => String::new(),
                    };
                    let _ = writeln!(s, "          allowed by {what}{at}");
                }
            }
        }
    }
    let count = |st: Status| results.iter().filter(|r| r.status == st).count();
    let _ = writeln!(
        s,
        "\n{} proved, {} violated, {} vacuous, {} unknown",
        count(Status::Proved),
        count(Status::Violated),
        count(Status::Vacuous),
        count(Status::Unknown)
    );
    s
}
