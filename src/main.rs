//! keyproof: a thin binary over the library crates. It parses the command line, runs one
//! command, prints, and picks the exit code: 0 = allowed / proved / no finding, 1 = denied /
//! violated / a finding, 2 = an error or an unknown result.

mod can;
mod check;
mod cli;
mod collect;
mod config;
mod demo;
mod diff;
mod err;
mod explain;
mod lint;
mod output;
mod plan;
mod report;
mod sarif;
mod snapshot_arg;
mod who_can;

use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, Command, Format};

/// `--color` as given on the command line, read before clap parses it so that clap's own help
/// and usage errors follow it too.
fn color_flag() -> Option<output::ColorChoice> {
    let args: Vec<String> = std::env::args().collect();
    let mut found = None;
    for (i, a) in args.iter().enumerate() {
        let value = match a.strip_prefix("--color=") {
            Some(v) => Some(v),
            None if a == "--color" => args.get(i + 1).map(String::as_str),
            None => None,
        };
        match value {
            Some("always") => found = Some(output::ColorChoice::Always),
            Some("never") => found = Some(output::ColorChoice::Never),
            Some("auto") => found = Some(output::ColorChoice::Auto),
            _ => {}
        }
    }
    found
}

/// The command table with clap's own colour following `--color` and `NO_COLOR`.
pub fn command() -> clap::Command {
    let choice = match color_flag() {
        Some(output::ColorChoice::Always) => clap::ColorChoice::Always,
        Some(output::ColorChoice::Never) => clap::ColorChoice::Never,
        _ if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    };
    Cli::command().color(choice)
}

fn main() {
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            usage_error(&e);
            e.exit()
        }
    };
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => {
            usage_error(&e);
            e.exit()
        }
    };
    output::configure(cli.color, cli.quiet);
    let outputs = error_outputs(&cli.command);
    let result = config::default_snapshot(&mut cli.command).and_then(|()| match &cli.command {
        Command::Demo => demo::run(),
        Command::Explain(args) => explain::run(args),
        Command::Check(args) => check::run(args),
        Command::WhoCan(args) => who_can::run(args),
        Command::Can(args) => can::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Rules(args) => lint::run_rules(args),
        Command::Rule(args) => lint::run_rule(args),
        Command::Diff(args) => diff::run(args),
        Command::Collect(args) => collect::run(args),
        Command::Config(args) => config::run(args),
        Command::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "keyproof", &mut out);
            output::emit(&String::from_utf8_lossy(&out)).map(|()| 0).map_err(err::CliError::Output)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(err::CliError::Output)
                .and_then(|()| output::emit(&String::from_utf8_lossy(&out)).map_err(err::CliError::Output))
                .map(|()| 0)
        }
    });
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            report(&e, &outputs);
            2
        }
    };
    std::process::exit(code);
}

/// A command line clap rejects, with `--format sarif` or `--sarif/--json/--markdown FILE`: those
/// outputs still get the error (SARIF on stdout before clap's message on stderr), so that a CI
/// job with a misspelt flag uploads SARIF that says why. Help and version are not errors.
fn usage_error(e: &clap::Error) {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| -> Option<String> {
        let eq = format!("{flag}=");
        args.iter().enumerate().find_map(|(i, a)| {
            if a == flag {
                args.get(i + 1).cloned()
            } else {
                a.strip_prefix(&eq).map(str::to_string)
            }
        })
    };
    let files = report::OutputFiles {
        sarif: value("--sarif").map(std::path::PathBuf::from),
        json: value("--json").map(std::path::PathBuf::from),
        markdown: value("--markdown").map(std::path::PathBuf::from),
    };
    let stdout = if value("--format").as_deref() == Some("sarif") { report::Kind::Sarif } else { report::Kind::Text };
    if stdout == report::Kind::Text && files.sarif.is_none() && files.json.is_none() && files.markdown.is_none() {
        return;
    }
    let command = match args.iter().find(|a| !a.starts_with('-')).map(String::as_str) {
        Some("check") => "check",
        Some("lint") => "lint",
        Some("diff") => "diff",
        _ => "",
    };
    let message = e.render().to_string();
    let message = message.lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
    let error = err::CliError::Usage(message);
    let outputs = report::ErrorOutputs { command, stdout, files };
    report::write_error(&outputs, &error, &json_error(&error));
}

/// Where a command's error goes: its `--format` on stdout and its output files.
fn error_outputs(command: &Command) -> report::ErrorOutputs {
    use report::Kind;
    let files = report::OutputFiles::default();
    let (name, stdout, files) = match command {
        Command::Demo => ("demo", Kind::Text, files),
        Command::Completions(_) => ("completions", Kind::Text, files),
        Command::Man => ("man", Kind::Text, files),
        Command::Explain(a) => ("explain", format_kind(a.snapshot.format), files),
        Command::WhoCan(a) => (
            "who-can",
            format_kind(a.snapshot.format),
            report::OutputFiles { sarif: None, json: a.json.clone(), markdown: a.markdown.clone() },
        ),
        Command::Can(a) => ("can", format_kind(a.snapshot.format), files),
        Command::Check(a) => ("check", a.format.into(), a.outputs.clone()),
        Command::Lint(a) => ("lint", a.format.into(), a.outputs.clone()),
        Command::Diff(a) => ("diff", a.format.into(), a.outputs.clone()),
        Command::Rules(a) => ("rules", format_kind(a.format), files),
        Command::Rule(_) => ("rule", Kind::Text, files),
        Command::Collect(_) => ("collect", Kind::Text, files),
        Command::Config(a) => ("config", format_kind(a.format), files),
    };
    report::ErrorOutputs { command: name, stdout, files }
}

fn format_kind(f: Format) -> report::Kind {
    match f {
        Format::Text | Format::Dot | Format::Mermaid => report::Kind::Text,
        Format::Json => report::Kind::Json,
    }
}

/// Prints an error: a miette report on stderr (also when stdout gets SARIF, which no person
/// reads), a JSON object on stdout with `--format json`, SARIF on stdout with `--format sarif`;
/// and the error in every output file (SARIF, JSON, Markdown) and the job summary.
fn report(e: &err::CliError, outputs: &report::ErrorOutputs) {
    let json = json_error(e);
    match outputs.stdout {
        report::Kind::Json => {
            let _ = output::emit(&format!("{}\n", serde_json::to_string(&json).unwrap_or_default()));
        }
        report::Kind::Text | report::Kind::Sarif | report::Kind::Markdown => {
            let handler = if output::colour_stderr() {
                miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode())
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
    report::write_error(outputs, e, &json);
}

/// The JSON of an error: `{"error": miette's JSON report with each input error's location,
/// "schema", "tool"}`.
fn json_error(e: &err::CliError) -> serde_json::Value {
    let mut out = String::new();
    let handler = miette::JSONReportHandler::new();
    let mut v = match handler.render_report(&mut out, e) {
        Ok(()) => serde_json::from_str::<serde_json::Value>(&out)
            .unwrap_or_else(|_| serde_json::json!({ "message": e.to_string() })),
        Err(_) => serde_json::json!({ "message": e.to_string() }),
    };
    // miette's JSON gives byte offsets only; add each input error's `file:line:column`, which is
    // what a person or a CI annotation needs.
    if let Some(p) = report::input_error(e) {
        add_locations(&mut v, p);
    }
    report::stamp(serde_json::json!({ "error": v }))
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
