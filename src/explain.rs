//! `keyproof explain`: one request, decided by the concrete evaluator, with its trace.

use crate::cli::{ExplainArgs, Format};
use crate::err::CliError;
use crate::output::{colour_stdout, emit};
use keyproof_model::eval::{Layer, Outcome, TraceEntry};
use keyproof_model::{decide, Decision, Request, Snapshot, Verdict};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, SourceSpan};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use thiserror::Error;

/// Parses `--context KEY=VALUE` entries; a repeated key collects several values.
pub fn parse_context(entries: &[String]) -> Result<BTreeMap<String, Vec<String>>, CliError> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in entries {
        let (k, v) = e.split_once('=').ok_or_else(|| CliError::ContextSyntax { entry: e.clone() })?;
        if k.trim().is_empty() {
            return Err(CliError::ContextSyntax { entry: e.clone() });
        }
        out.entry(k.trim().to_string()).or_default().push(v.to_string());
    }
    Ok(out)
}

/// Runs the command and returns its exit code.
pub fn run(args: &ExplainArgs) -> Result<i32, CliError> {
    let (snapshot, plan) = crate::plan::load(args.snapshot.snapshot.as_deref(), &args.snapshot.plan)?;
    let request = Request {
        principal: args.principal.clone(),
        action: args.action.clone(),
        key: args.key.clone(),
        context: parse_context(&args.context)?,
    };
    let decision = decide(&snapshot, &request)?;
    match args.snapshot.format {
        Format::Json => {
            let mut v = serde_json::to_value(&decision)?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("not_modelled".into(), not_modelled(&snapshot).into());
                obj.insert(
                    "snapshot".into(),
                    crate::snapshot_arg::metadata(&snapshot, args.snapshot.snapshot.as_deref()),
                );
            }
            emit(&crate::report::pretty(&crate::report::stamp(v))?)?;
        }
        Format::Text => emit(&render_text(&snapshot, &decision))?,
        Format::Dot | Format::Mermaid => return Err(crate::who_can::graph_only()),
    }
    let code = match decision.decision {
        Verdict::Allow => 0,
        Verdict::ExplicitDeny | Verdict::ImplicitDeny => 1,
        Verdict::Unknown => 2,
    };
    Ok(crate::plan::exit(code, &plan))
}

fn not_modelled(snapshot: &Snapshot) -> Vec<String> {
    snapshot.not_modelled.iter().map(|n| format!("{} ({})", n.value, snapshot.sources.location(n.span))).collect()
}

fn layer_name(l: Layer) -> &'static str {
    match l {
        Layer::Request => "request",
        Layer::Rcp => "RCP",
        Layer::Scp => "SCP",
        Layer::KeyPolicy => "key policy",
        Layer::Identity => "identity",
        Layer::Boundary => "boundary",
        Layer::Grant => "grant",
        Layer::Trust => "trust policy",
    }
}

fn outcome_mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Allows => "✔ allows",
        Outcome::Denies => "✘ denies",
        Outcome::MayAllow => "? may allow",
        Outcome::MayDeny => "? may deny",
        Outcome::Missing => "· missing",
        Outcome::Exempt => "– exempt",
        Outcome::Ineffective => "· no effect",
        Outcome::Info => "i note",
    }
}

/// A statement shown in its policy text.
#[derive(Debug, Error, Diagnostic)]
#[error("{title}")]
#[diagnostic(severity(Advice))]
struct Snippet {
    title: String,
    #[source_code]
    src: keyproof_parser::source::Excerpt,
    #[label("{label}")]
    at: SourceSpan,
    label: String,
}

fn snippet(snapshot: &Snapshot, e: &TraceEntry) -> Option<String> {
    let span = e.span?;
    let title = format!("{} {}", layer_name(e.layer), outcome_mark(e.outcome));
    let (src, at) = snapshot.sources.excerpt(span);
    let text = snapshot.sources.slice(span);
    // Laid out only when it is JSON (a statement of a CloudFormation YAML template is shown as
    // written).
    let one_line = src.is_cut() || (text.len() > 80 && !text.contains('\n'));
    if one_line && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
        return Some(pretty_statement(snapshot, e, span, text, &title));
    }
    let theme = if colour_stdout() { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
    let d = Snippet { title, src, at, label: e.detail.clone() };
    let mut out = String::new();
    handler.render_report(&mut out, &d).ok()?;
    Some(out)
}

/// A statement written on one line (a policy collected from AWS is one line): its place, which
/// statement it is, and its text laid out.
fn pretty_statement(
    snapshot: &Snapshot,
    e: &TraceEntry,
    span: keyproof_parser::Span,
    text: &str,
    title: &str,
) -> String {
    let loc = snapshot.sources.locate_statement(span, e.statement.as_deref());
    let mut s = String::new();
    let _ = writeln!(s, "  ☞ {title}");
    let _ = writeln!(s, "    at {loc}{}, laid out:", statement_words(&loc));
    for line in keyproof_parser::json::pretty(text).lines() {
        let _ = writeln!(s, "    │ {line}");
    }
    let _ = writeln!(s, "    ╰── {}", e.detail);
    s
}

/// `, statement Sid (#index)` of a place that is a statement.
fn statement_words(loc: &keyproof_parser::Location) -> String {
    match &loc.statement {
        Some(st) => match &st.sid {
            Some(sid) => format!(", statement {sid} (#{})", st.index),
            None => format!(", statement #{}", st.index),
        },
        None => String::new(),
    }
}

/// The text a person reads: the decision, then every trace entry, with the deciding statements
/// shown in their policy text.
pub fn render_text(snapshot: &Snapshot, d: &Decision) -> String {
    let mut s = String::new();
    let verdict = match d.decision {
        Verdict::Allow => "ALLOW",
        Verdict::ExplicitDeny => "EXPLICIT DENY",
        Verdict::ImplicitDeny => "IMPLICIT DENY",
        Verdict::Unknown => "UNKNOWN",
    };
    let _ = writeln!(s, "decision: {verdict}");
    let _ = writeln!(s, "  principal  {}", d.principal);
    let _ = writeln!(s, "  action     {}", d.action);
    let _ = writeln!(s, "  key        {}", d.key);
    if !d.unknown.is_empty() {
        let _ = writeln!(s, "\nunknown because:");
        for u in &d.unknown {
            let _ = writeln!(s, "  - {u}");
        }
    }
    let _ = writeln!(s, "\ntrace:");
    for e in &d.trace {
        let what = match (&e.policy, &e.statement) {
            (Some(p), Some(st)) => format!("{p}, statement {st}"),
            (Some(p), None) => p.clone(),
            _ => String::new(),
        };
        if what.is_empty() {
            // A note of a layer as a whole: its message is its summary.
            let _ = writeln!(s, "  [{:<10}] {:<12} {}", layer_name(e.layer), outcome_mark(e.outcome), e.detail);
        } else {
            let _ = writeln!(s, "  [{:<10}] {:<12} {}", layer_name(e.layer), outcome_mark(e.outcome), what);
            let _ = writeln!(s, "               {}", e.detail);
        }
        if let Some(loc) = &e.location {
            let _ = writeln!(s, "               at {loc}");
        }
    }
    let deciding: Vec<&TraceEntry> = d.deciding().into_iter().filter(|e| e.span.is_some()).collect();
    if !deciding.is_empty() {
        let _ = writeln!(s, "\nthe statements that decide:");
        for e in deciding {
            if let Some(text) = snippet(snapshot, e) {
                s.push_str(&text);
            }
        }
    }
    for n in not_modelled(snapshot) {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
