//! SARIF 2.1.0 output (the format GitHub code scanning reads): one result per violated or
//! unknown property, located at the property in its file, with the statements that let the
//! counterexample through as related locations in the snapshot.

use keyproof_model::Snapshot;
use keyproof_parser::SourceMap;
use keyproof_solver::check::{PropertyResult, Status};
use serde_json::{json, Value};
use std::path::Path;

fn region(sources: &SourceMap, span: keyproof_parser::Span) -> Value {
    let Some(f) = sources.get(span.source) else { return json!({}) };
    let a = f.line_col(span.start);
    let b = f.line_col(span.end);
    json!({ "startLine": a.line, "startColumn": a.column, "endLine": b.line, "endColumn": b.column })
}

pub fn check_report(snapshot: &Snapshot, sources: &SourceMap, file: &Path, results: &[PropertyResult]) -> Value {
    let rules: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "id": r.property,
                "name": r.property,
                "shortDescription": { "text": format!("keyproof property {}", r.property) },
                "help": { "text": "A property of the properties file, decided over every principal and key it quantifies." },
            })
        })
        .collect();
    let mut out = Vec::new();
    for r in results.iter().filter(|r| matches!(r.status, Status::Violated | Status::Unknown)) {
        let text = match (&r.status, &r.counterexample, &r.reason) {
            (Status::Violated, Some(c), _) => {
                let req = c
                    .witnesses
                    .first()
                    .map(|w| format!(" ({} {} on {})", w.request.principal, w.request.action, w.request.key))
                    .unwrap_or_default();
                format!("property `{}` is violated: {}{req}", r.property, c.member.describe())
            }
            (_, _, Some(reason)) => format!("property `{}` is undecided: {reason}", r.property),
            _ => format!("property `{}`", r.property),
        };
        let related: Vec<Value> = r
            .counterexample
            .iter()
            .flat_map(|c| c.witnesses.iter())
            .flat_map(|w| w.decision.deciding())
            .filter(|t| t.outcome == keyproof_model::eval::Outcome::Allows)
            .filter_map(|t| t.span)
            .enumerate()
            .map(|(i, span)| {
                let outer = snapshot.sources.outermost(span);
                json!({
                    "id": i,
                    "physicalLocation": {
                        "artifactLocation": { "uri": snapshot.sources.name(outer.source), "uriBaseId": "SNAPSHOT" },
                        "region": region(&snapshot.sources, outer),
                    },
                    "message": { "text": "allows the counterexample" },
                })
            })
            .collect();
        out.push(json!({
            "ruleId": r.property,
            "level": if r.status == Status::Violated { "error" } else { "warning" },
            "message": { "text": text },
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": { "uri": file.display().to_string() },
                    "region": region(sources, r.span),
                }
            }],
            "relatedLocations": related,
            "partialFingerprints": { "keyproofProperty/v1": format!("{}:{}", r.property, r.counterexample.as_ref().map(|c| c.member.principal.clone()).unwrap_or_default()) },
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "keyproof", "informationUri": "https://github.com/keyproof/keyproof", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": out,
        }],
    })
}
