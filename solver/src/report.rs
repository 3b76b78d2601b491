//! The report of `check` as data: what the JSON output is, built from the results (the CLI adds
//! the snapshot's metadata, the schema and the exit code, and renders text, SARIF and Markdown
//! from the results themselves).

use crate::check::{PropertyResult, Status};
use crate::query::Witness;
use crate::transitive::Hop;
use keyproof_model::eval::{Cited, Decision, Layer, Outcome, TraceEntry, Verdict};
use keyproof_model::snapshot::Snapshot;
use keyproof_parser::Location;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One property's verdict, and for a violation the counterexample, the statements that let it
/// through, every replayed request and the violating instances.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyReport {
    pub property: String,
    pub status: Status,
    pub instances: usize,
    /// Why the result is unknown or vacuous.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<CounterexampleReport>,
    /// What allows the counterexample's first request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<Vec<Citation>>,
    /// Each `can_reach` that is true at the counterexample: the whole path, every hop replayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<crate::check::ReachPath>>,
    /// One replayed request per `can` that is true at the counterexample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<Vec<RequestReport>>,
    /// For each `can` that is false at the counterexample: why the evaluator denies it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied: Option<Vec<Denial>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<Violation>>,
}

/// The counterexample: a request, a path, or (for a property with neither) the instance.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CounterexampleReport {
    Request {
        principal: String,
        description: String,
        action: String,
        key: String,
        context: BTreeMap<String, Vec<String>>,
        assumptions: Vec<String>,
    },
    Path {
        principal: String,
        description: String,
        action: String,
        key: String,
        path: Vec<Hop>,
    },
    Instance {
        principal: String,
        description: String,
        key: String,
    },
}

/// A statement or grant a report cites ([`Decision::because`]), with the real file it is in.
#[derive(Debug, Clone, Serialize)]
pub struct Citation {
    #[serde(flatten)]
    pub cited: Cited,
    /// The file (for an embedded document, the file that holds it).
    pub file: Option<String>,
}

/// A replayed request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestReport {
    pub principal: String,
    pub action: String,
    pub key: String,
    pub context: BTreeMap<String, Vec<String>>,
    pub decision: Verdict,
    pub assumptions: Vec<String>,
    pub because: Vec<Citation>,
}

/// A request the property needed and no context allows, with the entries that deny it.
#[derive(Debug, Clone, Serialize)]
pub struct Denial {
    pub principal: String,
    pub action: String,
    pub key: String,
    pub decision: Verdict,
    pub because: Vec<DenialEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DenialEntry {
    pub layer: Layer,
    pub outcome: Outcome,
    pub policy: Option<String>,
    pub statement: Option<String>,
    pub location: Option<Arc<Location>>,
    pub detail: String,
}

/// A violating instance.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    pub principal: String,
    pub description: String,
    pub key: String,
}

/// The entries a report cites for a decision ([`Decision::because`]), each with its file.
pub fn citations(snapshot: &Snapshot, d: &Decision) -> Vec<Citation> {
    cite_all(snapshot, d.because())
}

/// Trace entries as citations, each with the real file it is in (of `snapshot`'s sources).
fn cite_all<'t>(snapshot: &Snapshot, entries: impl IntoIterator<Item = &'t TraceEntry>) -> Vec<Citation> {
    entries
        .into_iter()
        .map(|t| Citation {
            cited: t.cite(),
            file: t.span.map(|s| snapshot.sources.name(snapshot.sources.outermost(s).source).to_string()),
        })
        .collect()
}

fn request(snapshot: &Snapshot, w: &Witness) -> RequestReport {
    RequestReport {
        principal: w.request.principal.clone(),
        action: w.request.action.clone(),
        key: w.request.key.clone(),
        context: w.request.context.clone(),
        decision: w.decision.decision,
        assumptions: w.assumptions.clone(),
        because: citations(snapshot, &w.decision),
    }
}

fn denial(d: &Decision) -> Denial {
    Denial {
        principal: d.principal.clone(),
        action: d.action.clone(),
        key: d.key.clone(),
        decision: d.decision,
        because: d
            .because()
            .iter()
            .map(|t| DenialEntry {
                layer: t.layer,
                outcome: t.outcome,
                policy: t.policy.clone(),
                statement: t.statement.clone(),
                location: t.location.clone(),
                detail: t.detail.clone(),
            })
            .collect(),
    }
}

impl PropertyReport {
    pub fn new(snapshot: &Snapshot, r: &PropertyResult) -> PropertyReport {
        let mut report = PropertyReport {
            property: r.property.clone(),
            status: r.status,
            instances: r.instances,
            reason: r.reason.clone(),
            counterexample: None,
            because: None,
            paths: None,
            requests: None,
            denied: None,
            violations: None,
        };
        let Some(c) = &r.counterexample else { return report };
        let description = c.member.describe();
        let requests: Vec<RequestReport> = c.witnesses.iter().map(|w| request(snapshot, w)).collect();
        report.counterexample = Some(if let Some(first) = c.witnesses.first() {
            // The first request's citations, as its entry in `requests` has them.
            report.because = requests.first().map(|r| r.because.clone());
            CounterexampleReport::Request {
                principal: first.request.principal.clone(),
                description,
                action: first.request.action.clone(),
                key: first.request.key.clone(),
                context: first.request.context.clone(),
                assumptions: first.assumptions.clone(),
            }
        } else if let Some(p) = c.paths.first() {
            CounterexampleReport::Path {
                principal: p.reached.allowed.principal.clone(),
                description,
                action: p.action.clone(),
                key: p.key.clone(),
                path: p.reached.path.clone(),
            }
        } else {
            CounterexampleReport::Instance { principal: c.member.principal.clone(), description, key: c.key.clone() }
        });
        if !c.paths.is_empty() {
            report.paths = Some(c.paths.clone());
        }
        report.requests = Some(requests);
        if !c.denials.is_empty() {
            report.denied = Some(c.denials.iter().map(denial).collect());
        }
        report.violations = Some(
            r.violations
                .iter()
                .map(|(m, k)| Violation { principal: m.principal.clone(), description: m.describe(), key: k.clone() })
                .collect(),
        );
        report
    }
}

/// A class of access a change adds or removes, as `diff`'s JSON gives it: who, which actions on
/// which key, one confirmed example with its verdict on both sides, and what allows it.
#[derive(Debug, Clone, Serialize)]
pub struct AccessClassReport {
    /// The class as a sentence ("… can now kms:Decrypt alias/s3-prod-key").
    pub summary: String,
    pub who: String,
    pub principals: Vec<String>,
    pub key: String,
    pub key_name: String,
    pub actions: Vec<String>,
    pub example: ExampleReport,
    /// On the side that allows the example; what the change brought first.
    pub because: Vec<Citation>,
}

/// A class's example request, with the evaluator's verdict after and before the change.
#[derive(Debug, Clone, Serialize)]
pub struct ExampleReport {
    pub principal: String,
    pub action: String,
    pub key: String,
    pub context: BTreeMap<String, Vec<String>>,
    pub after: String,
    pub before: String,
    pub assumptions: Vec<String>,
}

impl AccessClassReport {
    /// `allowing` is the snapshot whose policies allow the example: the one after the change for
    /// added access, before it for removed access.
    pub fn new(c: &crate::diff::AccessClass, allowing: &Snapshot) -> AccessClassReport {
        let e = &c.example;
        let (after, before) = verdicts(c);
        AccessClassReport {
            summary: c.sentence(),
            who: c.who.clone(),
            principals: c.principals.clone(),
            key: c.key.clone(),
            key_name: c.key_name.clone(),
            actions: c.actions.clone(),
            example: ExampleReport {
                principal: e.request.principal.clone(),
                action: e.request.action.clone(),
                key: e.request.key.clone(),
                context: e.request.context.clone(),
                after,
                before,
                assumptions: e.assumptions.clone(),
            },
            because: cite_all(allowing, c.because()),
        }
    }
}

/// The example's decision after and before the change.
pub fn verdicts(c: &crate::diff::AccessClass) -> (String, String) {
    let allowed = c.example.allowed.decision.as_str().to_string();
    let other = match &c.example.other {
        Ok(d) => d.decision.as_str().to_string(),
        Err(why) => format!("implicit-deny ({why})"),
    };
    match c.change {
        crate::diff::Change::Added => (allowed, other),
        crate::diff::Change::Removed => (other, allowed),
    }
}
