//! Differential test (evaluator vs encoding) on every corpus case: the encoding with the case's
//! context pinned must be satisfiable exactly when the evaluator allows, and satisfiable whenever
//! the evaluator's answer is unknown.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed check panics and says what failed"
)]

use keyproof_model::{decide, Request, Snapshot, Verdict};
use keyproof_solver::encode::context::Bounds;
use keyproof_solver::fixed::{decide_fixed, FixedAnswer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn values(v: &toml::Value) -> Vec<String> {
    match v {
        toml::Value::Array(items) => items.iter().flat_map(values).collect(),
        toml::Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

fn folders(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d.join("cases.toml").is_file() {
            out.push(d.clone());
        }
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() && e.file_name() != "accounts" {
                stack.push(e.path());
            }
        }
    }
    out
}

#[test]
fn encoding_agrees_with_the_evaluator_on_every_corpus_case() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let mut disagreements = Vec::new();
    let mut n = 0;
    for folder in folders(&root) {
        let snapshot = Snapshot::load(&folder).unwrap();
        let bounds = Bounds::of(&snapshot);
        let text = std::fs::read_to_string(folder.join("cases.toml")).unwrap();
        let doc: toml::Value = toml::from_str(&text).unwrap();
        for case in doc.get("case").and_then(|c| c.as_array()).cloned().unwrap_or_default() {
            let get = |k: &str| case.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let context: BTreeMap<String, Vec<String>> = case
                .get("context")
                .and_then(|c| c.as_table())
                .map(|t| t.iter().map(|(k, v)| (k.clone(), values(v))).collect())
                .unwrap_or_default();
            let request = Request { principal: get("principal"), action: get("action"), key: get("key"), context };
            let Ok(d) = decide(&snapshot, &request) else { continue };
            n += 1;
            let s = decide_fixed(&snapshot, &bounds, &request).unwrap();
            // Allow ⇔ allowed, a deny ⇔ not allowed, unknown ⇒ allowed for some unknown value.
            let agree = matches!(
                (d.decision, &s),
                (Verdict::Allow | Verdict::Unknown, FixedAnswer::Allowed)
                    | (Verdict::ExplicitDeny | Verdict::ImplicitDeny, FixedAnswer::NotAllowed)
            );
            if !agree {
                disagreements.push(format!(
                    "{}/{}: evaluator {:?}, encoding {:?}",
                    folder.display(),
                    get("name"),
                    d.decision,
                    s
                ));
            }
        }
    }
    assert!(n > 200, "{n} cases");
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}
