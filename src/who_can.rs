//! `keyproof who-can ACTION KEY`.

use crate::cli::{Format, WhoCanArgs};
use crate::err::CliError;
use crate::output::emit;
use keyproof_model::eval::edges::check_trust_principals;
use keyproof_model::reference::Reference;
use keyproof_model::ModelError;
use keyproof_solver::query::Prover;
use keyproof_solver::transitive::{to_dot, to_mermaid, transitive};
use keyproof_solver::who_can::who_can;
use std::fmt::Write as _;

pub fn run(args: &WhoCanArgs) -> Result<i32, CliError> {
    let (snapshot, plan) = crate::plan::load(args.snapshot.snapshot.as_deref(), &args.snapshot.plan)?;
    let action = Reference::get()
        .action(&args.action)
        .filter(|a| a.on_key && args.action.to_ascii_lowercase().starts_with("kms:"))
        .ok_or_else(|| ModelError::InvalidAction { action: args.action.clone() })?;
    let key = snapshot.key(&args.key)?;
    if args.transitive {
        return run_transitive(args, &snapshot, action, &key.arn.clone(), &plan);
    }
    if matches!(args.snapshot.format, Format::Dot | Format::Mermaid) {
        return Err(graph_only());
    }
    let prover = Prover::new(&snapshot, args.timeout, &[]);
    let answer = who_can(&prover, prover.members(), action, key).map_err(CliError::Internal)?;
    if std::env::var_os("KEYPROOF_STATS").is_some() {
        eprintln!("keyproof: {}", prover.stats());
    }
    match args.snapshot.format {
        Format::Json => {
            let mut v = serde_json::to_value(&answer)?;
            v["snapshot"] = crate::snapshot_arg::metadata(&snapshot, args.snapshot.snapshot.as_deref());
            emit(&crate::report::pretty(&crate::report::stamp(v))?)?
        }
        Format::Text => {
            let mut s = String::new();
            let _ = writeln!(s, "who can {} on {}", answer.action, answer.key);
            if answer.principals.is_empty() {
                let _ = writeln!(s, "  nobody");
            }
            for p in &answer.principals {
                let _ = writeln!(s, "\n  {}", p.description);
                if p.principal != p.description {
                    let _ = writeln!(s, "    e.g. {}", p.principal);
                }
                for c in &p.conditions {
                    let _ = writeln!(s, "    {c}");
                }
                for a in &p.assumptions {
                    let _ = writeln!(s, "    assuming: {a}");
                }
                for v in &p.via {
                    let _ = writeln!(s, "    via {v}");
                }
            }
            if !answer.accounts.is_empty() {
                let _ = writeln!(
                    s,
                    "\naccounts outside the snapshot the key is delegated to: {}",
                    answer.accounts.join(", ")
                );
            }
            let _ = writeln!(s, "\npublic (any AWS principal): {}", if answer.public { "YES" } else { "no" });
            for u in &answer.unknown {
                let _ = writeln!(s, "undecided: {u}");
            }
            emit(&s)?;
        }
        Format::Dot | Format::Mermaid => return Err(graph_only()),
    }
    Ok(crate::plan::exit(if answer.unknown.is_empty() { 0 } else { 2 }, &plan))
}

/// `--format dot` and `--format mermaid` draw the transitive answer only.
pub fn graph_only() -> CliError {
    CliError::Usage("--format dot and --format mermaid draw paths: use them with `who-can ... --transitive`".into())
}

fn run_transitive(
    args: &WhoCanArgs,
    snapshot: &keyproof_model::Snapshot,
    action: &'static keyproof_model::reference::KmsAction,
    key: &str,
    plan: &crate::plan::Overlays,
) -> Result<i32, CliError> {
    check_trust_principals(snapshot)?;
    let answer = transitive(snapshot, args.timeout, action, key, args.max_hops).map_err(CliError::Internal)?;
    match args.snapshot.format {
        Format::Json => {
            let mut v = serde_json::to_value(&answer)?;
            v["snapshot"] = crate::snapshot_arg::metadata(snapshot, args.snapshot.snapshot.as_deref());
            emit(&format!("{}\n", serde_json::to_string_pretty(&v)?))?
        }
        Format::Dot => emit(&to_dot(&answer))?,
        Format::Mermaid => emit(&to_mermaid(&answer))?,
        Format::Text => {
            let mut s = String::new();
            let _ = writeln!(
                s,
                "who can {} on {}, directly or through at most {} hops",
                answer.action, answer.key, answer.max_hops
            );
            if answer.principals.is_empty() {
                let _ = writeln!(
                    s,
                    "  {}",
                    if answer.unknown.is_empty() { "nobody" } else { "nobody known (see undecided)" }
                );
            }
            for p in &answer.principals {
                let _ = writeln!(s, "\n  {} ({})", p.allowed.description, p.reach);
                for (i, h) in p.path.iter().enumerate() {
                    let _ = writeln!(s, "    {}. {} --{}--> {}", i + 1, h.from, h.edge.as_str(), h.to);
                    for c in &h.conditions {
                        let _ = writeln!(s, "         {c}");
                    }
                    for v in &h.via {
                        let _ = writeln!(s, "         via {v}");
                    }
                }
                if !p.path.is_empty() {
                    let _ = writeln!(s, "    then {} performs {}", p.final_principal, answer.action);
                }
                for c in &p.allowed.conditions {
                    let _ = writeln!(s, "    {c}");
                }
                for a in &p.allowed.assumptions {
                    let _ = writeln!(s, "    assuming: {a}");
                }
                for v in &p.allowed.via {
                    let _ = writeln!(s, "    via {v}");
                }
            }
            let _ = writeln!(s, "\npublic (any AWS principal): {}", if answer.public { "YES" } else { "no" });
            if answer.truncated {
                let _ = writeln!(s, "truncated: the search stopped at --max-hops {}", answer.max_hops);
            }
            for u in &answer.unknown {
                let _ = writeln!(s, "undecided: {u}");
            }
            emit(&s)?;
        }
    }
    Ok(crate::plan::exit(if answer.unknown.is_empty() && !answer.truncated { 0 } else { 2 }, plan))
}
