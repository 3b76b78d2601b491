//! `keyproof who-can ACTION KEY`.

use crate::cli::{Format, WhoCanArgs};
use crate::err::CliError;
use crate::output::emit;
use keyproof_model::reference::Reference;
use keyproof_model::ModelError;
use keyproof_solver::query::Prover;
use keyproof_solver::who_can::who_can;
use std::fmt::Write as _;

pub fn run(args: &WhoCanArgs) -> Result<i32, CliError> {
    let (snapshot, plan) = crate::plan::load(args.snapshot.snapshot.as_deref(), &args.snapshot.plan)?;
    let action = Reference::get()
        .action(&args.action)
        .filter(|a| a.on_key && args.action.to_ascii_lowercase().starts_with("kms:"))
        .ok_or_else(|| ModelError::InvalidAction { action: args.action.clone() })?;
    let key = snapshot.key(&args.key)?;
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
    }
    Ok(crate::plan::exit(if answer.unknown.is_empty() { 0 } else { 2 }, &plan))
}
