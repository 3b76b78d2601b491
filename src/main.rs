//! keyproof: a thin binary over the library crates. It parses the command line, runs one
//! command, prints, and picks the exit code: 0 = allowed / proved / no finding, 1 = denied /
//! violated / a finding, 2 = an error or an unknown result.

mod cli;
mod err;
mod explain;
mod output;
mod snapshot_arg;

use clap::Parser;
use cli::{Cli, Command, Format};

fn main() {
    let cli = Cli::parse();
    let format = match &cli.command {
        Command::Explain(a) => a.snapshot.format,
    };
    let result = match &cli.command {
        Command::Explain(args) => explain::run(args),
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
                let _ = output::emit(&format!("{{\"error\": {out}}}\n"));
            }
        }
        Format::Text => {
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
