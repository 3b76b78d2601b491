//! One run, every output: the format on stdout (`--format`), and `--sarif FILE`, `--json FILE`,
//! `--markdown FILE` written by the same run; the Markdown report is appended to
//! `$GITHUB_STEP_SUMMARY` when that is set (GitHub Actions' job summary). On an error, each
//! output is still of its format: SARIF with the error as a tool execution notification,
//! JSON with an `error` object.

use crate::err::CliError;
use crate::output::emit;
use clap::Args;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The JSON outputs' schema version: bumped when a field changes meaning or goes away.
pub const SCHEMA: u32 = 2;

/// The output files of `check`, `lint` and `diff`.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputFiles {
    /// Also write the SARIF 2.1.0 report to FILE (for GitHub code scanning), from the same run.
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,

    /// Also write the JSON report to FILE, from the same run.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write a short Markdown report (a table of the verdicts or findings) to FILE, from the
    /// same run. It is appended to $GITHUB_STEP_SUMMARY as well when that is set.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

/// One rendering of a command's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Json,
    Sarif,
    Markdown,
}

impl From<crate::cli::CheckFormat> for Kind {
    fn from(f: crate::cli::CheckFormat) -> Kind {
        match f {
            crate::cli::CheckFormat::Text => Kind::Text,
            crate::cli::CheckFormat::Json => Kind::Json,
            crate::cli::CheckFormat::Sarif => Kind::Sarif,
        }
    }
}

/// Adds `"schema"` and `"tool": {"name", "version"}` to a JSON object.
pub fn stamp(mut v: Value) -> Value {
    if let Some(obj) = v.as_object_mut() {
        obj.insert("schema".into(), json!(SCHEMA));
        obj.insert("tool".into(), json!({ "name": "keyproof", "version": env!("CARGO_PKG_VERSION") }));
    }
    v
}

/// Pretty JSON with a final newline.
pub fn pretty(v: &Value) -> Result<String, CliError> {
    Ok(format!("{}\n", serde_json::to_string_pretty(v)?))
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| CliError::Write { path: path.display().to_string(), error: e })
}

/// The job summary file of GitHub Actions, when set.
fn step_summary() -> Option<PathBuf> {
    std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn append_summary(markdown: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let Some(path) = step_summary() else { return Ok(()) };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| CliError::Write { path: path.display().to_string(), error: e })?;
    writeln!(f, "{markdown}").map_err(|e| CliError::Write { path: path.display().to_string(), error: e })
}

/// Writes the answer to stdout in `stdout`'s format and to every output file, rendering each
/// format once, and appends the Markdown report to the job summary when it is set.
pub fn write(
    stdout: Kind,
    files: &OutputFiles,
    render: impl FnMut(Kind) -> Result<String, CliError>,
) -> Result<(), CliError> {
    write_to(stdout, files, true, render)
}

/// [`write`], appending to the job summary only when `summary` (who-can appends only with
/// `--markdown FILE`: a job that asks about many keys would fill the summary).
pub fn write_to(
    stdout: Kind,
    files: &OutputFiles,
    summary: bool,
    mut render: impl FnMut(Kind) -> Result<String, CliError>,
) -> Result<(), CliError> {
    let mut cache: Vec<(Kind, String)> = Vec::new();
    let mut get = |k: Kind| -> Result<String, CliError> {
        if let Some((_, s)) = cache.iter().find(|(c, _)| *c == k) {
            return Ok(s.clone());
        }
        let s = render(k)?;
        cache.push((k, s.clone()));
        Ok(s)
    };
    emit(&get(stdout)?)?;
    for (path, kind) in [(&files.sarif, Kind::Sarif), (&files.json, Kind::Json), (&files.markdown, Kind::Markdown)] {
        if let Some(p) = path {
            write_file(p, &get(kind)?)?;
        }
    }
    if summary && step_summary().is_some() {
        append_summary(&get(Kind::Markdown)?)?;
    }
    Ok(())
}

/// `executionSuccessful` and the exit code in a successful run's SARIF (`invocations[0]`),
/// keeping notifications already there.
pub fn with_invocation(mut sarif: Value, exit_code: i32) -> Value {
    if let Some(run) = sarif.get_mut("runs").and_then(|r| r.get_mut(0)) {
        let notifications = run
            .get("invocations")
            .and_then(|i| i.get(0))
            .and_then(|i| i.get("toolExecutionNotifications"))
            .cloned()
            .unwrap_or_else(|| json!([]));
        run["invocations"] = json!([{
            "executionSuccessful": true,
            "exitCode": exit_code,
            "toolExecutionNotifications": notifications,
        }]);
    }
    sarif
}

/// A table cell: no line breaks, `|` escaped.
pub fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

/// Where the error's outputs go: the format on stdout and the output files.
#[derive(Debug, Clone)]
pub struct ErrorOutputs {
    pub command: &'static str,
    pub stdout: Kind,
    pub files: OutputFiles,
}

/// The SARIF 2.1.0 log of a run that ended with an error: no results, `executionSuccessful:
/// false`, exit code 2, and one notification per error (each input error with its file, line
/// and column).
pub fn error_sarif(e: &CliError) -> Value {
    let mut notifications = Vec::new();
    let code = miette::Diagnostic::code(e).map(|c| c.to_string());
    match input_error(e) {
        Some(p) => {
            for leaf in p.leaves() {
                let mut n = json!({
                    "level": "error",
                    "message": { "text": leaf.to_string() },
                });
                if let Some(c) = miette::Diagnostic::code(leaf) {
                    n["descriptor"] = json!({ "id": c.to_string() });
                }
                if let keyproof_parser::ParseError::Invalid { place, .. } = leaf {
                    n["locations"] = json!([{ "physicalLocation": crate::sarif::physical_location(place) }]);
                }
                notifications.push(n);
            }
        }
        None => {
            let mut n = json!({ "level": "error", "message": { "text": e.to_string() } });
            if let Some(c) = &code {
                n["descriptor"] = json!({ "id": c });
            }
            notifications.push(n);
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "keyproof",
                "informationUri": "https://github.com/keyproof/keyproof",
                "version": env!("CARGO_PKG_VERSION"),
            } },
            "invocations": [{
                "executionSuccessful": false,
                "exitCode": 2,
                "toolExecutionNotifications": notifications,
            }],
            "results": [],
        }],
    })
}

/// The parse error inside a CLI error, if the error comes from the input files.
pub fn input_error(e: &CliError) -> Option<&keyproof_parser::ParseError> {
    match e {
        CliError::Model(keyproof_model::ModelError::Input(p)) => Some(p),
        CliError::Parse(p) => Some(p),
        CliError::Solver(keyproof_solver::err::SolverError::Property(p)) => Some(p),
        _ => None,
    }
}

/// The Markdown report of a run that ended with an error.
pub fn error_markdown(command: &str, e: &CliError) -> String {
    let mut s = if command.is_empty() {
        "### keyproof: error\n\n".to_string()
    } else {
        format!("### keyproof {command}: error\n\n")
    };
    match input_error(e) {
        Some(p) => {
            for leaf in p.leaves() {
                match leaf {
                    keyproof_parser::ParseError::Invalid { location, message, .. } => {
                        s.push_str(&format!("- `{location}`: {message}\n"));
                    }
                    other => s.push_str(&format!("- {other}\n")),
                }
            }
        }
        None => s.push_str(&format!("- {e}\n")),
    }
    s.push_str("\nExit code 2: nothing was decided.\n");
    s
}

/// Writes the error's SARIF, JSON and Markdown outputs (files, the job summary, and stdout when
/// its format is SARIF). The JSON on stdout and the text on stderr are `main`'s.
pub fn write_error(outputs: &ErrorOutputs, e: &CliError, json_error: &Value) {
    let sarif = serde_json::to_string_pretty(&error_sarif(e)).unwrap_or_default() + "\n";
    if outputs.stdout == Kind::Sarif {
        let _ = emit(&sarif);
    }
    let json = serde_json::to_string_pretty(json_error).unwrap_or_default() + "\n";
    let markdown = error_markdown(outputs.command, e);
    for (path, text) in
        [(&outputs.files.sarif, &sarif), (&outputs.files.json, &json), (&outputs.files.markdown, &markdown)]
    {
        if let Some(p) = path {
            if let Err(err) = write_file(p, text) {
                eprintln!("keyproof: {err}");
            }
        }
    }
    if let Err(err) = append_summary(&markdown) {
        eprintln!("keyproof: {err}");
    }
}
