//! `keyproof who-can ACTION KEY`.

use crate::cli::{Format, WhoCanArgs};
use crate::err::CliError;
use crate::output::emit;
use crate::report::Kind;
use clap::ValueEnum as _;
use keyproof_model::eval::edges::check_trust_principals;
use keyproof_model::reference::KmsAction;
use keyproof_model::reference::Reference;
use keyproof_model::ModelError;
use keyproof_solver::query::{actions_matching, Prover};
use keyproof_solver::transitive::{to_dot, to_mermaid, transitive};
use keyproof_solver::who_can::{who_can_each, Filter, WhoCan};
use std::fmt::Write as _;

/// The actions an ACTION argument names: one action on keys, or every action on keys a pattern
/// (`kms:*`, `kms:Generate*`) covers. `true` when it is a pattern.
pub fn actions(text: &str) -> Result<(Vec<&'static KmsAction>, bool), CliError> {
    if text.contains(['*', '?']) {
        let found = actions_matching(text);
        if found.is_empty() {
            return Err(CliError::NotFound {
                message: format!(
                    "`{text}` matches no KMS action on keys{}",
                    keyproof_model::suggest::action_pattern(text)
                ),
            });
        }
        return Ok((found, true));
    }
    let action = Reference::get()
        .action(text)
        .filter(|a| a.on_key && text.to_ascii_lowercase().starts_with("kms:"))
        .ok_or_else(|| ModelError::InvalidAction { action: text.to_string() })?;
    Ok((vec![action], false))
}

/// `--account`, `--ou` and `--kind`, resolved in the snapshot.
fn filter(args: &WhoCanArgs, prover: &Prover<'_>) -> Result<Filter, CliError> {
    let snapshot = prover.snapshot;
    let account = match &args.account {
        None => None,
        Some(text) if snapshot.account(text).is_some() || prover.mentioned().contains(text) => Some(text.clone()),
        Some(text) => match snapshot.accounts.values().find(|a| a.name.as_deref() == Some(text.as_str())) {
            Some(a) => Some(a.id.clone()),
            None => {
                let known: Vec<String> = snapshot
                    .accounts
                    .values()
                    .flat_map(|a| a.name.iter().cloned().chain([a.id.clone()]))
                    .chain(prover.mentioned().iter().cloned())
                    .collect();
                let hint = keyproof_model::suggest::did_you_mean(text, known.iter().map(String::as_str));
                return Err(CliError::NotFound {
                    message: format!("no account `{text}` in the snapshot (by id or name){hint}"),
                });
            }
        },
    };
    let ou = match &args.ou {
        None => None,
        Some(text) => {
            let org = snapshot.org.as_ref().ok_or_else(|| CliError::NotFound {
                message: format!("no OU `{text}`: the snapshot has no organization"),
            })?;
            Some(org.find_ou(text).ok_or_else(|| CliError::NotFound {
                message: format!("no OU `{text}` in the organization{}", keyproof_model::suggest::ou(text, org)),
            })?)
        }
    };
    Ok(Filter { account, ou, kind: args.kind.map(Into::into) })
}

/// What the filter keeps, for the text header.
fn filter_note(args: &WhoCanArgs) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &args.account {
        parts.push(format!("account {a}"));
    }
    if let Some(o) = &args.ou {
        parts.push(format!("OU {o}"));
    }
    if let Some(k) = args.kind {
        parts.push(format!("kind {}", k.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" (only principals of {})", parts.join(", "))
    }
}

pub fn run(args: &WhoCanArgs) -> Result<i32, CliError> {
    let (snapshot, plan) = crate::plan::load(args.snapshot.snapshot.as_deref(), &args.snapshot.plan)?;
    let (actions, pattern) = actions(&args.action)?;
    let key = snapshot.key(&args.key)?;
    if args.transitive {
        if pattern {
            return Err(CliError::Usage(format!(
                "--transitive takes one action, not the pattern `{}`: ask once per action",
                args.action
            )));
        }
        return run_transitive(args, &snapshot, actions[0], &key.arn.clone(), &plan);
    }
    if matches!(args.snapshot.format, Format::Dot | Format::Mermaid) {
        return Err(graph_only());
    }
    let prover = Prover::new(&snapshot, args.timeout, &[]);
    let filter = filter(args, &prover)?;
    let answers = who_can_each(&prover, prover.members(), &actions, key, &filter).map_err(CliError::Internal)?;
    if std::env::var_os("KEYPROOF_STATS").is_some() {
        eprintln!("keyproof: {}", prover.stats());
    }
    let undecided = answers.iter().any(|a| !a.unknown.is_empty());
    let code = crate::plan::exit(if undecided { 2 } else { 0 }, &plan);
    let stdout = if args.snapshot.format == Format::Json { Kind::Json } else { Kind::Text };
    let files = crate::report::OutputFiles { sarif: None, json: args.json.clone(), markdown: args.markdown.clone() };
    crate::report::write_to(stdout, &files, args.markdown.is_some(), |kind| match kind {
        Kind::Json => {
            let mut v = if pattern {
                serde_json::json!({ "key": key.arn, "pattern": args.action, "actions": answers })
            } else {
                serde_json::to_value(&answers[0])?
            };
            v["snapshot"] = crate::snapshot_arg::metadata(&snapshot, args.snapshot.snapshot.as_deref());
            v["exit_code"] = code.into();
            crate::report::pretty(&crate::report::stamp(v))
        }
        Kind::Markdown => Ok(render_markdown(args, &key.arn, &answers, pattern, code)),
        Kind::Text | Kind::Sarif => Ok(render_text(args, &answers, &key.arn, pattern)),
    })?;
    Ok(code)
}

/// The text answer: each principal with its conditions, assumptions and the statements that
/// allow it (a section per action for a pattern), the outside accounts, whether it is public.
fn render_text(args: &WhoCanArgs, answers: &[WhoCan], key: &str, pattern: bool) -> String {
    let note = filter_note(args);
    let mut s = String::new();
    if pattern {
        let _ = writeln!(s, "who can {} on {key}{note}", args.action);
        let nobody: Vec<&str> = answers.iter().filter(|a| a.principals.is_empty()).map(|a| a.action.as_str()).collect();
        for a in answers.iter().filter(|a| !a.principals.is_empty()) {
            let _ = writeln!(s, "\n{}", a.action);
            render_principals(&mut s, a, "  ");
        }
        if !nobody.is_empty() {
            let _ = writeln!(s, "\nnobody can: {}", nobody.join(", "));
        }
    } else {
        let _ = writeln!(s, "who can {} on {}{note}", answers[0].action, answers[0].key);
        if answers[0].principals.is_empty() {
            let _ = writeln!(s, "  nobody");
        }
        render_principals(&mut s, &answers[0], "");
    }
    let accounts = outside_accounts(answers);
    if !accounts.is_empty() {
        let _ = writeln!(s, "\naccounts outside the snapshot the key is delegated to: {}", accounts.join(", "));
    }
    let _ = writeln!(s, "\npublic (any AWS principal): {}", public_words(answers, pattern));
    for a in answers {
        for u in &a.unknown {
            if pattern {
                let _ = writeln!(s, "undecided: {}: {u}", a.action);
            } else {
                let _ = writeln!(s, "undecided: {u}");
            }
        }
    }
    s
}

/// The accounts outside the snapshot that the key is delegated to, over every action asked.
fn outside_accounts(answers: &[WhoCan]) -> Vec<&str> {
    let mut accounts: Vec<&str> = answers.iter().flat_map(|a| a.accounts.iter().map(String::as_str)).collect();
    accounts.sort_unstable();
    accounts.dedup();
    accounts
}

fn public_words(answers: &[WhoCan], pattern: bool) -> String {
    let public: Vec<&str> = answers.iter().filter(|a| a.public).map(|a| a.action.as_str()).collect();
    match (public.is_empty(), pattern) {
        (true, _) => "no".to_string(),
        (false, false) => "YES".to_string(),
        (false, true) => format!("YES ({})", public.join(", ")),
    }
}

/// The Markdown report (`--markdown FILE`, the job summary): a table of the principals per
/// action, with the context each needs and the statements that allow it.
fn render_markdown(args: &WhoCanArgs, key: &str, answers: &[WhoCan], pattern: bool, code: i32) -> String {
    use crate::report::cell;
    let mut s =
        format!("### keyproof who-can `{}` on `{}`{}\n", cell(&args.action), cell(key), cell(&filter_note(args)));
    for a in answers {
        if pattern {
            let _ = write!(s, "\n#### `{}`\n", a.action);
        }
        if a.principals.is_empty() {
            s.push_str("\nnobody\n");
            continue;
        }
        s.push_str("\n| principal | conditions | assuming | via |\n|---|---|---|---|\n");
        for p in &a.principals {
            let mut who = format!("`{}`", cell(&p.description));
            if p.principal != p.description {
                let _ = write!(who, " (e.g. `{}`)", cell(&p.principal));
            }
            let join = |items: Vec<String>| items.iter().map(|i| cell(i)).collect::<Vec<_>>().join("<br>");
            let _ = writeln!(
                s,
                "| {who} | {} | {} | {} |",
                join(p.conditions.iter().map(ToString::to_string).collect()),
                join(p.assumptions.clone()),
                join(p.via.iter().map(ToString::to_string).collect()),
            );
        }
    }
    let accounts = outside_accounts(answers);
    if !accounts.is_empty() {
        let _ = writeln!(s, "\nAccounts outside the snapshot the key is delegated to: {}", accounts.join(", "));
    }
    let _ = writeln!(s, "\nPublic (any AWS principal): {}", public_words(answers, pattern));
    for a in answers {
        for u in &a.unknown {
            let _ = writeln!(s, "\nUndecided ({}): {}", a.action, cell(u));
        }
    }
    let _ = writeln!(s, "\nExit code {code}.");
    s
}

/// One answer's principals, each with its conditions, assumptions and the statements that
/// allow it, indented by `indent`.
fn render_principals(s: &mut String, answer: &WhoCan, indent: &str) {
    for p in &answer.principals {
        let _ = writeln!(s, "\n{indent}  {}", p.description);
        if p.principal != p.description {
            let _ = writeln!(s, "{indent}    e.g. {}", p.principal);
        }
        for c in &p.conditions {
            let _ = writeln!(s, "{indent}    {c}");
        }
        for a in &p.assumptions {
            let _ = writeln!(s, "{indent}    assuming: {a}");
        }
        for v in &p.via {
            let _ = writeln!(s, "{indent}    via {v}");
        }
    }
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
