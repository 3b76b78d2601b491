//! `keyproof check`: decide a properties file on a snapshot.

use crate::cli::CheckArgs;
use crate::err::CliError;
use crate::report::{self, Kind};
use keyproof_model::eval::{Decision, TraceEntry};
use keyproof_model::Snapshot;
use keyproof_parser::property::parse_properties;
use keyproof_parser::SourceMap;
use keyproof_solver::check::{check_property_reach, named_principals, PropertyResult, ReachCache, Shard, Status};
use keyproof_solver::query::{Prover, Witness};
use serde_json::{json, Value};
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
            "results": results.iter().map(|r| result_json(&snapshot, r)).collect::<Vec<_>>(),
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

/// The statements and grants that let a request through.
pub fn because(snapshot: &Snapshot, w: &Witness) -> Vec<Value> {
    cited(snapshot, &w.decision)
}

/// The entries a report cites for a decision ([`Decision::because`]).
fn cited(snapshot: &Snapshot, d: &Decision) -> Vec<Value> {
    d.because()
        .into_iter()
        .map(|t: &TraceEntry| {
            let mut v = json!(t.cite());
            v["file"] = json!(t.span.map(|s| snapshot.sources.name(snapshot.sources.outermost(s).source).to_string()));
            v
        })
        .collect()
}

fn request_json(snapshot: &Snapshot, w: &Witness) -> Value {
    json!({
        "principal": w.request.principal,
        "action": w.request.action,
        "key": w.request.key,
        "context": w.request.context,
        "decision": w.decision.decision,
        "assumptions": w.assumptions,
        "because": because(snapshot, w),
    })
}

/// A request a `can` of the property needed and no context allows: the evaluator's decision on
/// it without context, with the trace entries that deny it.
fn denial_json(d: &keyproof_model::eval::Decision) -> Value {
    json!({
        "principal": d.principal,
        "action": d.action,
        "key": d.key,
        "decision": d.decision,
        "because": d.because().iter().map(|t| json!({
            "layer": t.layer,
            "outcome": t.outcome,
            "policy": t.policy,
            "statement": t.statement,
            "location": t.location,
            "detail": t.detail,
        })).collect::<Vec<_>>(),
    })
}

pub fn result_json(snapshot: &Snapshot, r: &PropertyResult) -> Value {
    let mut v = json!({ "property": r.property, "status": r.status, "instances": r.instances });
    if let Some(reason) = &r.reason {
        v["reason"] = json!(reason);
    }
    if let Some(c) = &r.counterexample {
        if let Some(first) = c.witnesses.first() {
            v["counterexample"] = json!({
                "principal": first.request.principal,
                "description": c.member.describe(),
                "action": first.request.action,
                "key": first.request.key,
                "context": first.request.context,
                "assumptions": first.assumptions,
            });
            v["because"] = json!(because(snapshot, first));
        } else if let Some(p) = c.paths.first() {
            v["counterexample"] = json!({
                "principal": p.reached.allowed.principal,
                "description": c.member.describe(),
                "action": p.action,
                "key": p.key,
                "path": p.reached.path,
            });
        } else {
            v["counterexample"] =
                json!({ "principal": c.member.principal, "description": c.member.describe(), "key": c.key });
        }
        if !c.paths.is_empty() {
            // Each `can_reach` that is true here: the whole path, every hop replayed.
            v["paths"] = json!(c.paths);
        }
        v["requests"] = json!(c.witnesses.iter().map(|w| request_json(snapshot, w)).collect::<Vec<_>>());
        if !c.denials.is_empty() {
            v["denied"] = json!(c.denials.iter().map(denial_json).collect::<Vec<_>>());
        }
        v["violations"] = json!(r
            .violations
            .iter()
            .map(|(m, k)| json!({ "principal": m.principal, "description": m.describe(), "key": k }))
            .collect::<Vec<_>>());
    }
    v
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
                for b in because(snapshot, w) {
                    let what = match (b["policy"].as_str(), b["statement"].as_str()) {
                        (Some(p), Some(st)) => format!("{p}, statement {st}"),
                        (Some(p), None) => p.to_string(),
                        _ => b["detail"].as_str().unwrap_or_default().to_string(),
                    };
                    let _ = writeln!(
                        s,
                        "          allowed by {what}{}",
                        b["location"]["file"]
                            .as_str()
                            .map(|_| {
                                let t = b["text"].as_str().unwrap_or_default();
                                t.strip_prefix(what.as_str()).unwrap_or(t).to_string()
                            })
                            .unwrap_or_default()
                    );
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
