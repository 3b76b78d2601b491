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
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct Cases {
    #[serde(default, rename = "case")]
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    principal: String,
    action: String,
    key: String,
    #[serde(default)]
    context: BTreeMap<String, toml::Value>,
    expect: String,
    #[serde(default)]
    covers: Vec<String>,
    #[serde(default)]
    why: String,
}

fn values(v: &toml::Value) -> Vec<String> {
    match v {
        toml::Value::Array(items) => items.iter().flat_map(values).collect(),
        toml::Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

fn case_folders(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("cases.toml").is_file() {
            out.push(dir.clone());
        }
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() && p.file_name().is_some_and(|n| n != "accounts") {
                    stack.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_corpus_case_gets_its_expected_decision() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut failures = Vec::new();
    let mut total = 0;
    let folders = case_folders(&root);
    assert!(folders.len() >= 9, "expected the demo and the scenario folders, found {folders:?}");
    for folder in folders {
        let snapshot = Snapshot::load(&folder).unwrap_or_else(|e| panic!("{}: {e:?}", folder.display()));
        let text = std::fs::read_to_string(folder.join("cases.toml")).unwrap();
        let cases: Cases = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
        for c in cases.cases {
            total += 1;
            let request = Request {
                principal: c.principal.clone(),
                action: c.action.clone(),
                key: c.key.clone(),
                context: c.context.iter().map(|(k, v)| (k.clone(), values(v))).collect(),
            };
            let rel = folder.strip_prefix(&root).unwrap().display().to_string();
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut out = Vec::new();
    for folder in case_folders(&root) {
        let snapshot = std::rc::Rc::new(Snapshot::load(&folder).unwrap());
        let cases: Cases = toml::from_str(&std::fs::read_to_string(folder.join("cases.toml")).unwrap()).unwrap();
        let rel = folder.strip_prefix(&root).unwrap().display().to_string();
        for c in cases.cases {
            let request = Request {
                principal: c.principal.clone(),
                action: c.action.clone(),
                key: c.key.clone(),
                context: c.context.iter().map(|(k, v)| (k.clone(), values(v))).collect(),
            };
            out.push((rel.clone(), snapshot.clone(), c.name, request, c.expect));
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
