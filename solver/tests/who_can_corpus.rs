//! who-can against the evaluator, principal by principal, on every corpus scenario: every
//! principal listed has a request the evaluator allows; every corpus case the evaluator allows
//! names a principal who-can lists.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed check panics and says what failed"
)]

use keyproof_model::context::Request;
use keyproof_model::reference::Reference;
use keyproof_model::{decide, Snapshot, Verdict};
use keyproof_solver::query::Prover;
use keyproof_solver::who_can::who_can;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// A corpus case: its name, its request, its expected decision.
type Case = (String, Request, String);

#[test]
fn who_can_matches_the_evaluator_principal_by_principal() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let mut problems = Vec::new();
    let mut compared = 0;
    for folder in keyproof_testgen::corpus::read(&root).unwrap() {
        let snapshot = Snapshot::load(&folder.dir).unwrap();
        let prover = Prover::new(&snapshot, 20_000, &[]);
        let domain = prover.domain(&[]);
        // (action, key ARN) → cases
        let mut groups: HashMap<(String, String), Vec<Case>> = HashMap::new();
        for case in &folder.cases {
            let Ok(key) = snapshot.key(&case.key) else { continue };
            let request = Request {
                principal: case.principal.clone(),
                action: case.action.clone(),
                key: case.key.clone(),
                context: case.context.clone(),
            };
            groups.entry((case.action.clone(), key.arn.clone())).or_default().push((
                case.name.clone(),
                request,
                case.expect.clone(),
            ));
        }
        for ((action, key_arn), cases) in groups {
            let Some(a) = Reference::get().action(&action).filter(|a| a.on_key) else { continue };
            let key = snapshot.key(&key_arn).unwrap();
            let answer = who_can(&prover, &domain, a, key).unwrap();
            // Every listed principal replays to an allow (or an allow that depends only on the
            // world outside the snapshot).
            let listed: BTreeSet<String> = answer.principals.iter().map(|p| p.principal.clone()).collect();
            for p in &answer.principals {
                let request = Request {
                    principal: p.principal.clone(),
                    action: action.clone(),
                    key: key_arn.clone(),
                    context: p.example_context.clone(),
                };
                let d = decide(&snapshot, &request).unwrap();
                let ok = d.decision == Verdict::Allow || (d.decision == Verdict::Unknown && !p.assumptions.is_empty());
                if !ok {
                    problems.push(format!(
                        "{}: who-can lists {} for {action} but the evaluator says {:?}",
                        folder.rel, p.principal, d.decision
                    ));
                }
                compared += 1;
            }
            // Every allowed corpus case's principal is listed (a role session as its role).
            for (name, request, expect) in &cases {
                if expect != "allow" {
                    continue;
                }
                let principal = keyproof_model::context::resolve_principal(&snapshot, &request.principal).unwrap();
                let as_listed = principal.principal_arn.clone().unwrap_or_else(|| request.principal.clone());
                let found = listed.contains(&request.principal)
                    || listed.contains(&as_listed)
                    || answer.principals.iter().any(|p| p.principal == principal.r.arn());
                compared += 1;
                if !found {
                    problems.push(format!(
                        "{}/{name}: {} is allowed {action} but who-can does not list it ({listed:?})",
                        folder.rel, request.principal
                    ));
                }
            }
        }
    }
    assert!(compared > 100, "{compared}");
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// Federated-user representatives of accounts that no policy can tell apart share one question
/// (its account id abstracted, the model rewritten per account); where an SCP's pattern reads the
/// account id (`arn:aws:sts::4444*:…`), they do not, and the answers differ.
#[test]
fn federated_users_are_grouped_only_where_no_policy_reads_the_account() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/scenarios/federated-account-classes");
    let snapshot = Snapshot::load(&dir).unwrap();
    let key = snapshot.key("alias/org").unwrap();
    let decrypt = Reference::get().action("kms:Decrypt").unwrap();
    let grouped = Prover::new(&snapshot, 20_000, &[]);
    let mut ungrouped = Prover::new(&snapshot, 20_000, &[]);
    ungrouped.grouping = false;
    let with = who_can(&grouped, grouped.members(), decrypt, key).unwrap();
    let without = who_can(&ungrouped, ungrouped.members(), decrypt, key).unwrap();
    let federated = |w: &keyproof_solver::who_can::WhoCan| -> Vec<(String, String)> {
        w.principals
            .iter()
            .filter(|p| p.kind == "federated-user")
            .map(|p| (p.account.clone().unwrap(), p.principal.clone()))
            .collect()
    };
    let accounts: Vec<String> = federated(&with).into_iter().map(|(a, _)| a).collect();
    assert_eq!(accounts, ["100000000001", "333300000001", "555500000001", "777700000001", "888800000001"]);
    for (account, name) in federated(&with) {
        let prefix = format!("arn:aws:sts::{account}:federated-user/");
        assert!(name.starts_with(&prefix), "{name} is not a federated user of {account}");
        if account != "100000000001" && account != "333300000001" {
            assert!(!name[prefix.len()..].starts_with("ci-"), "{name}: the SCP denies ci-* names");
        }
    }
    assert_eq!(accounts, federated(&without).into_iter().map(|(a, _)| a).collect::<Vec<_>>());
    assert!(grouped.shared_across_accounts() >= 1, "the Sandbox accounts' representatives share no question");
    assert_eq!(ungrouped.shared_across_accounts(), 0);
}
