//! `keyproof can PRINCIPAL [ACTION] [--key KEY]`: which keys the principal can use, with which
//! actions, under which conditions (the reverse of who-can).

use crate::cli::{CanArgs, Format};
use crate::err::CliError;
use crate::output::emit;
use keyproof_model::snapshot::Key;
use keyproof_model::ModelError;
use keyproof_solver::can::{can, member, CanAnswer, Operation};
use keyproof_solver::query::{actions_matching, Prover};
use std::fmt::Write as _;

pub fn run(args: &CanArgs) -> Result<i32, CliError> {
    let (snapshot, plan) = crate::plan::load(args.snapshot.snapshot.as_deref(), &args.snapshot.plan)?;
    let actions = match &args.action {
        Some(a) => crate::who_can::actions(a)?.0,
        None => actions_matching("kms:*"),
    };
    let keys: Vec<&Key> = match &args.key {
        Some(k) => vec![snapshot.key(k)?],
        None => snapshot.keys.iter().collect(),
    };
    if matches!(args.snapshot.format, Format::Dot | Format::Mermaid) {
        return Err(crate::who_can::graph_only());
    }
    // KMS takes signed requests only ("Requests must be signed by using an access key ID and a
    // secret access key", https://docs.aws.amazon.com/kms/latest/APIReference/Welcome.html), and
    // no quantifier ranges over anonymous callers.
    if keyproof_model::principal::PrincipalRef::parse(&args.principal)
        .is_ok_and(|r| r == keyproof_model::principal::PrincipalRef::Anonymous)
    {
        return Err(CliError::Usage(
            "`can` takes a principal that signs its requests (AWS KMS accepts no anonymous request): \
             use `explain --principal anonymous` for one request"
                .into(),
        ));
    }
    // The principal joins the domain as a property's literal does: its account is then one the
    // snapshot names, and a session of a collected role is a member of its own.
    let extra = [args.principal.clone()];
    let prover = Prover::new(&snapshot, args.timeout, &extra);
    let member = member(&prover, &args.principal).map_err(|e| unknown_principal(&prover, &args.principal, e))?;
    let answer = can(&prover, &member, &actions, &keys).map_err(CliError::Internal)?;
    if std::env::var_os("KEYPROOF_STATS").is_some() {
        eprintln!("keyproof: {}", prover.stats());
    }
    match args.snapshot.format {
        Format::Json => {
            let mut v = serde_json::to_value(&answer)?;
            v["snapshot"] = crate::snapshot_arg::metadata(&snapshot, args.snapshot.snapshot.as_deref());
            emit(&crate::report::pretty(&crate::report::stamp(v))?)?
        }
        Format::Text => emit(&render_text(&answer, args.action.as_deref()))?,
        Format::Dot | Format::Mermaid => return Err(crate::who_can::graph_only()),
    }
    Ok(crate::plan::exit(if answer.unknown.is_empty() { 0 } else { 2 }, &plan))
}

/// A principal the snapshot does not hold, with the closest one it does.
fn unknown_principal(prover: &Prover<'_>, text: &str, e: ModelError) -> CliError {
    let names = prover.members().iter().filter(|m| !m.is_representative()).map(|m| m.principal.as_str());
    let hint = keyproof_model::suggest::did_you_mean(text, names);
    CliError::NotFound { message: format!("{e}{hint}") }
}

/// Key by key, the operations grouped by what they need (conditions, assumptions and the
/// statements that allow them), so that `kms:*` gives one block per way in.
fn render_text(answer: &CanAnswer, action: Option<&str>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "what {} can do with {}", answer.principal, action.unwrap_or("every action on keys"));
    if answer.keys.is_empty() {
        let _ = writeln!(s, "  nothing");
    }
    for k in &answer.keys {
        let aliases = if k.aliases.is_empty() { String::new() } else { format!(" ({})", k.aliases.join(", ")) };
        let _ = writeln!(s, "\n  {}{aliases}", k.key);
        let mut groups: Vec<(&Operation, Vec<&str>)> = Vec::new();
        for op in &k.operations {
            match groups.iter_mut().find(|(first, _)| {
                first.conditions == op.conditions && first.via == op.via && first.assumptions == op.assumptions
            }) {
                Some((_, names)) => names.push(&op.action),
                None => groups.push((op, vec![&op.action])),
            }
        }
        for (op, names) in groups {
            let _ = writeln!(s, "    {}", names.join(", "));
            for c in &op.conditions {
                let _ = writeln!(s, "      {c}");
            }
            for a in &op.assumptions {
                let _ = writeln!(s, "      assuming: {a}");
            }
            for v in &op.via {
                let _ = writeln!(s, "      via {v}");
            }
        }
    }
    for u in &answer.unknown {
        let _ = writeln!(s, "undecided: {u}");
    }
    s
}
