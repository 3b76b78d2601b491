//! keyproof: a thin binary over the library crates. It parses the command line, runs one
//! command, prints, and picks the exit code: 0 = allowed / proved / no finding, 1 = denied /
//! violated / a finding, 2 = an error or an unknown result.

mod check;
mod cli;
mod collect;
mod demo;
mod diff;
mod err;
mod explain;
mod lint;
mod output;
mod plan;
mod sarif;
mod snapshot_arg;
mod who_can;

use clap::Parser;
use cli::{Cli, Command, Format};

fn main() {
    let cli = Cli::parse();
    let format = match &cli.command {
        Command::Demo => Format::Text,
        Command::Explain(a) => a.snapshot.format,
        Command::WhoCan(a) => a.snapshot.format,
        Command::Check(a) => match a.format {
            cli::CheckFormat::Text => Format::Text,
            cli::CheckFormat::Json | cli::CheckFormat::Sarif => Format::Json,
        },
        Command::Lint(a) => match a.format {
            cli::CheckFormat::Text => Format::Text,
            cli::CheckFormat::Json | cli::CheckFormat::Sarif => Format::Json,
        },
        Command::Rules(a) => a.format,
        Command::Rule(_) => Format::Text,
        Command::Collect(_) => Format::Text,
        Command::Diff(a) => match a.format {
            cli::CheckFormat::Text => Format::Text,
            cli::CheckFormat::Json | cli::CheckFormat::Sarif => Format::Json,
        },
    };
    let result = match &cli.command {
        Command::Demo => demo::run(),
        Command::Explain(args) => explain::run(args),
        Command::Check(args) => check::run(args),
        Command::WhoCan(args) => who_can::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Rules(args) => lint::run_rules(args),
        Command::Rule(args) => lint::run_rule(args),
        Command::Diff(args) => diff::run(args),
        Command::Collect(args) => collect::run(args),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            report(&e, format);
            2
        }
    };
    std::process::exit(code);
}

/// Prints an error: a miette report on stderr, or a JSON object on stdout with `--format json`.
fn report(e: &err::CliError, format: Format) {
    match format {
        Format::Json => {
            let mut out = String::new();
            let handler = miette::JSONReportHandler::new();
            if handler.render_report(&mut out, e).is_ok() {
                // miette's JSON gives byte offsets only; add each input error's
                // `file:line:column`, which is what a person or a CI annotation needs.
                let text = match (serde_json::from_str::<serde_json::Value>(&out), input_error(e)) {
                    (Ok(mut v), Some(p)) => {
                        add_locations(&mut v, p);
                        serde_json::to_string(&v).unwrap_or(out)
                    }
                    _ => out,
                };
                let _ = output::emit(&format!("{{\"error\": {text}}}\n"));
            }
        }
        Format::Text | Format::Dot | Format::Mermaid => {
            let handler = if output::colour() {
                miette::GraphicalReportHandler::new()
            } else {
                miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            };
            let mut out = String::new();
            if handler.render_report(&mut out, e).is_ok() {
                eprint!("{out}");
            } else {
                eprintln!("error: {e}");
            }
        }
    }
}

/// The parse error inside a CLI error, if the error comes from the input files.
fn input_error(e: &err::CliError) -> Option<&keyproof_parser::ParseError> {
    match e {
        err::CliError::Model(keyproof_model::ModelError::Input(p)) => Some(p),
        err::CliError::Parse(p) => Some(p),
        _ => None,
    }
}

/// Adds `"location": "file:line:column"` to every node of miette's JSON report that stands for
/// an error at a place in a file. The report nests `related` errors in the order of
/// [`ParseError::Several`]'s list, so the two trees are walked together.
fn add_locations(node: &mut serde_json::Value, e: &keyproof_parser::ParseError) {
    use keyproof_parser::ParseError;
    match e {
        ParseError::Invalid { location, .. } => {
            if let Some(obj) = node.as_object_mut() {
                obj.insert("location".into(), location.clone().into());
            }
        }
        ParseError::Several { errors, .. } => {
            if let Some(related) = node.get_mut("related").and_then(|r| r.as_array_mut()) {
                for (child, inner) in related.iter_mut().zip(errors) {
                    add_locations(child, inner);
                }
            }
        }
        ParseError::Io { .. } | ParseError::Snapshot { .. } => {}
    }
}
