//! Walks every corpus folder that has a `cases.toml` and checks each case against the concrete
//! evaluator. A case names the layers and operator families it pins (`covers`), so that removing
//! a layer from the evaluator makes cases fail.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed check panics and says what failed"
)]

use keyproof_model::eval::{decide_with, Knockout};
use keyproof_model::{decide, Request, Snapshot};
use std::path::Path;

fn corpus() -> Vec<keyproof_testgen::corpus::Folder> {
    keyproof_testgen::corpus::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")).unwrap()
}

fn request(c: &keyproof_testgen::corpus::Case) -> Request {
    Request { principal: c.principal.clone(), action: c.action.clone(), key: c.key.clone(), context: c.context.clone() }
}

#[test]
fn every_corpus_case_gets_its_expected_decision() {
    let mut failures = Vec::new();
    let mut total = 0;
    let folders = corpus();
    assert!(folders.len() >= 9, "expected the demo and the scenario folders, found {}", folders.len());
    for folder in folders {
        let snapshot = Snapshot::load(&folder.dir).unwrap_or_else(|e| panic!("{}: {e:?}", folder.rel));
        let rel = &folder.rel;
        for c in &folder.cases {
            total += 1;
            let request = request(c);
            match decide(&snapshot, &request) {
                Ok(d) if d.decision.as_str() == c.expect => {}
                Ok(d) => failures.push(format!(
                    "{rel}/{}: expected {}, got {} (covers {:?}; {})\n    trace: {:?}\n    unknown: {:?}",
                    c.name,
                    c.expect,
                    d.decision.as_str(),
                    c.covers,
                    c.why,
                    d.trace
                        .iter()
                        .map(|t| format!(
                            "{:?}/{:?} {} {}",
                            t.layer,
                            t.outcome,
                            t.statement.clone().unwrap_or_default(),
                            t.detail
                        ))
                        .collect::<Vec<_>>(),
                    d.unknown
                )),
                Err(e) => failures.push(format!("{rel}/{}: error {e}", c.name)),
            }
        }
    }
    assert!(total >= 60, "at least 60 corpus cases, found {total}");
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
}

/// Every corpus case with its snapshot, as (folder, snapshot, name, request, expected).
fn all_cases() -> Vec<(String, std::rc::Rc<Snapshot>, String, Request, String)> {
    let mut out = Vec::new();
    for folder in corpus() {
        let snapshot = std::rc::Rc::new(Snapshot::load(&folder.dir).unwrap());
        for c in &folder.cases {
            out.push((folder.rel.clone(), snapshot.clone(), c.name.clone(), request(c), c.expect.clone()));
        }
    }
    out
}

/// Each rule of the semantics is pinned: with it switched off, some corpus case gets a wrong
/// decision. A rule no case needs would be untested.
#[test]
fn removing_any_layer_breaks_some_corpus_case() {
    let cases = all_cases();
    let mut untested = Vec::new();
    for k in Knockout::ALL {
        let broken: Vec<String> = cases
            .iter()
            .filter(|(_, snap, _, req, expect)| {
                decide_with(snap, req, Some(k)).map(|d| d.decision.as_str() != expect).unwrap_or(true)
            })
            .map(|(folder, _, name, _, _)| format!("{folder}/{name}"))
            .collect();
        if broken.is_empty() {
            untested.push(format!("{k:?}"));
        }
    }
    assert!(untested.is_empty(), "no corpus case fails when these rules are switched off: {untested:?}");
}
