//! SARIF 2.1.0 output (the format GitHub code scanning reads): one result per violated or
//! unknown property, located at the property in its file, with the statements that let the
//! counterexample through as related locations in the snapshot.

use keyproof_parser::SourceMap;
use keyproof_solver::check::{PropertyResult, Status};
use serde_json::{json, Value};

pub fn check_report(sources: &SourceMap, results: &[PropertyResult]) -> Value {
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
                    .or_else(|| {
                        // A `can_reach` counterexample: its path, hop by hop.
                        c.paths.first().map(|p| {
                            let hops: Vec<String> =
                                p.reached.path.iter().map(|h| format!("{} → {}", h.edge.as_str(), h.to)).collect();
                            format!(" (reaches {} on {} through {})", p.action, p.key, hops.join(", "))
                        })
                    })
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
            .flat_map(|w| w.decision.because())
            .filter_map(|t| t.location.as_ref())
            .enumerate()
            .map(|(i, l)| {
                json!({
                    "id": i,
                    "physicalLocation": physical_location(l),
                    "message": { "text": "allows the counterexample" },
                })
            })
            .collect();
        out.push(json!({
            "ruleId": r.property,
            "level": if r.status == Status::Violated { "error" } else { "warning" },
            "message": { "text": text },
            "locations": [{ "physicalLocation": physical_location(&sources.locate(r.span)) }],
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

/// The SARIF level of a rule severity (the names are the same).
fn level(s: keyproof_rules::Severity) -> &'static str {
    s.as_str()
}

/// GitHub code scanning's `security-severity` (0–10) for a level.
fn security_severity(s: keyproof_rules::Severity) -> &'static str {
    match s {
        keyproof_rules::Severity::Error => "8.0",
        keyproof_rules::Severity::Warning => "5.0",
        keyproof_rules::Severity::Note => "2.0",
    }
}

/// A stable hash (FNV-1a, 64 bits) of a finding's fingerprint, for `partialFingerprints`.
fn fingerprint_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The one SARIF `physicalLocation` of every command (check, diff, lint, errors): the file as
/// the user named it (relative to where the command ran, or absolute as given) and the region
/// in the real file.
pub fn physical_location(l: &keyproof_parser::Location) -> Value {
    json!({
        "artifactLocation": { "uri": l.file.replace('\\', "/") },
        "region": {
            "startLine": l.line,
            "startColumn": l.column,
            "endLine": l.end_line.max(l.line),
            "endColumn": if l.end_line > l.line { l.end_column } else { l.end_column.max(l.column) },
        },
    })
}

fn lint_location(l: &keyproof_rules::finding::Location, id: Option<usize>) -> Value {
    let mut v = json!({
        "physicalLocation": physical_location(&l.place),
        "message": { "text": format!("{} ({})", l.what, l.place) },
    });
    if let Some(i) = id {
        v["id"] = json!(i);
    }
    v
}

fn lint_result(f: &keyproof_rules::Finding, suppression: Option<&str>) -> Value {
    let rule_index = keyproof_rules::RULES.iter().position(|r| r.code == f.code).unwrap_or(0);
    let mut text = f.message.clone();
    if let Some(r) = f.requests.first() {
        text.push_str(&format!(" — replayed request: {} {} on {} ({})", r.principal, r.action, r.key, r.decision));
    }
    let mut v = json!({
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": text },
        "locations": f.locations.first().map(|l| vec![lint_location(l, None)]).unwrap_or_default(),
        "relatedLocations": f.locations.iter().skip(1).enumerate().map(|(i, l)| lint_location(l, Some(i))).collect::<Vec<_>>(),
        "partialFingerprints": { "keyproofFinding/v1": fingerprint_hash(&f.fingerprint) },
        "properties": {
            "key": f.key,
            "principal": f.principal,
            "requests": f.requests,
            "notes": f.notes,
        },
    });
    if let Some(reason) = suppression {
        v["suppressions"] = json!([{ "kind": "external", "justification": reason }]);
    }
    v
}

/// SARIF 2.1.0 of `keyproof lint`: every rule's metadata with its help, one result per finding
/// located at the statement or grant (for a key policy, at the `Policy` string of the key file:
/// GitHub shows lines of real files), suppressed findings with their justification, and the
/// undetermined questions as notifications.
pub fn lint_report(report: &keyproof_rules::LintReport) -> Value {
    let rules: Vec<Value> = keyproof_rules::RULES
        .iter()
        .map(|r| {
            let mut v = json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": { "text": r.summary() },
                "fullDescription": { "text": r.section("## What it finds").unwrap_or_else(|| r.summary()) },
                "help": { "text": r.doc(), "markdown": r.doc() },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": {
                    "tags": ["security", "kms"],
                    "security-severity": security_severity(r.severity),
                },
            });
            if let Some(uri) = r.references().first() {
                v["helpUri"] = json!(uri);
            }
            v
        })
        .collect();
    let mut results: Vec<Value> = report.findings.iter().map(|f| lint_result(f, None)).collect();
    results.extend(report.suppressed.iter().map(|s| lint_result(&s.finding, Some(&s.reason))));
    let notifications: Vec<Value> = report
        .undetermined
        .iter()
        .map(|u| {
            json!({
                "level": "warning",
                "message": { "text": format!("{}: undetermined: {} {} on {}: {}", u.rule, u.principal, u.action, u.key, u.reason) },
            })
        })
        .chain(report.skipped.iter().map(|s| json!({ "level": "note", "message": { "text": format!("not checked: {s}") } })))
        .collect();
    let run = json!({
        "tool": { "driver": {
            "name": "keyproof",
            "informationUri": "https://github.com/keyproof/keyproof",
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        } },
        "invocations": [{ "executionSuccessful": true, "toolExecutionNotifications": notifications }],
        "results": results,
    });
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    })
}

/// The snapshot a run answered on (its folder, or the embedded demo, and its notes), in the run's
/// property bag (SARIF 2.1.0 §3.8).
pub fn with_snapshot(mut sarif: Value, snapshot: Value) -> Value {
    if let Some(run) = sarif.get_mut("runs").and_then(|r| r.get_mut(0)) {
        run["properties"] = json!({ "snapshot": snapshot });
    }
    sarif
}
