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
use std::path::Path;

#[test]
fn encoding_agrees_with_the_evaluator_on_every_corpus_case() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let mut disagreements = Vec::new();
    let mut n = 0;
    for folder in keyproof_testgen::corpus::read(&root).unwrap() {
        let snapshot = Snapshot::load(&folder.dir).unwrap();
        let bounds = Bounds::of(&snapshot);
        for case in &folder.cases {
            let request = Request {
                principal: case.principal.clone(),
                action: case.action.clone(),
                key: case.key.clone(),
                context: case.context.clone(),
            };
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
                disagreements
                    .push(format!("{}/{}: evaluator {:?}, encoding {:?}", folder.rel, case.name, d.decision, s));
            }
        }
    }
    assert!(n > 200, "{n} cases");
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}
