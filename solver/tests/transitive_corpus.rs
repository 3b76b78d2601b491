//! `who-can --transitive` on the scenarios with expected transitive answers
//! (`corpus/scenarios/**/transitive.toml`): the principals listed are exactly the expected ones,
//! each with its expected shortest path, and every hop of every path — and the last principal's
//! own request — replays through the evaluator.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed check panics and says what failed"
)]

use keyproof_model::context::{is_outside_reason, resolve_principal, Request};
use keyproof_model::eval::edges::{decide_assume_outside_role, decide_assume_role, decide_iam_write, OtherRequest};
use keyproof_model::eval::{Decision, Verdict};
use keyproof_model::reference::Reference;
use keyproof_model::{decide, Snapshot};
use keyproof_solver::transitive::{
    replay_path, to_dot, to_mermaid, transitive, with_allow_all, with_grants, with_open_key_policy, EdgeKind, Hop,
    Reached, Transitive,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct File {
    question: Vec<Question>,
}

#[derive(Debug, Deserialize)]
struct Question {
    name: String,
    action: String,
    key: String,
    max_hops: usize,
    truncated: bool,
    #[serde(default)]
    absent: Vec<String>,
    /// Beginnings of the `unknown` lines the answer must have (besides a truncation's).
    #[serde(default)]
    unknown: Vec<String>,
    #[serde(default)]
    reach: Vec<Expected>,
}

#[derive(Debug, Deserialize)]
struct Expected {
    principal: String,
    path: Vec<String>,
    #[serde(default)]
    conditions: Vec<String>,
}

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/scenarios");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("transitive.toml").is_file())
        .collect();
    out.sort();
    out
}

fn answer(snapshot: &Snapshot, q: &Question) -> Transitive {
    let action = Reference::get().action(&q.action).unwrap();
    let key = snapshot.key(&q.key).unwrap();
    transitive(snapshot, 20_000, action, &key.arn, q.max_hops).unwrap()
}

fn e_principal(p: &Reached) -> &str {
    &p.allowed.description
}

fn named(p: &Reached, name: &str) -> bool {
    p.allowed.principal == name || p.allowed.description == name
}

/// An allow, or an `unknown` that depends only on the world outside the snapshot (what the
/// hop's assumptions say).
fn allowed(d: &Decision, what: &str) {
    let ok = d.decision == Verdict::Allow
        || (d.decision == Verdict::Unknown && !d.unknown.is_empty() && d.unknown.iter().all(|r| is_outside_reason(r)));
    assert!(ok, "{what}: the evaluator says {} ({:?})", d.decision.as_str(), d.unknown);
}

/// Replays one hop; returns the principal that acts after it.
fn replay_hop(snapshot: &Snapshot, key_region: &str, h: &Hop, what: &str) -> String {
    let p = resolve_principal(snapshot, &h.request.principal).unwrap();
    match h.edge {
        EdgeKind::AssumeRole => {
            assert_eq!(h.request.action, "sts:AssumeRole", "{what}");
            let account = h.request.key.split(':').nth(4).unwrap();
            let name = h.request.key.rsplit('/').next().unwrap();
            assert!(h.request.key.starts_with("arn:aws:iam::"), "{what}: {}", h.request.key);
            if h.to != h.request.key {
                // A session of the role: the caller picks its name.
                let session = h.to.rsplit('/').next().unwrap();
                assert_eq!(h.request.context["sts:RoleSessionName"], vec![session.to_string()], "{what}");
            }
            let d = match snapshot.account(account).filter(|a| a.collected) {
                Some(a) => {
                    let role = a.role(name).unwrap();
                    decide_assume_role(snapshot, &p, role, key_region, &h.request.context, &[]).unwrap()
                }
                // A role of an account that was not collected: its trust policy is an assumption.
                None => {
                    let req = OtherRequest {
                        action: "sts:AssumeRole",
                        resource: &h.request.key,
                        resource_account: account,
                        region: key_region,
                        context: &h.request.context,
                        open: &[],
                    };
                    decide_assume_outside_role(snapshot, &p, &req).unwrap()
                }
            };
            allowed(&d, what);
            h.to.clone()
        }
        EdgeKind::IamWrite => {
            let account = h.request.key.split(':').nth(4).unwrap().to_string();
            let req = OtherRequest {
                action: &h.request.action,
                resource: &h.request.key,
                resource_account: &account,
                region: key_region,
                context: &h.request.context,
                open: &[],
            };
            allowed(&decide_iam_write(snapshot, &p, &req).unwrap(), what);
            if h.request.action == "iam:UpdateAssumeRolePolicy" {
                h.to.clone()
            } else {
                h.from.clone()
            }
        }
        EdgeKind::CreateGrant | EdgeKind::PutKeyPolicy => {
            allowed(&decide(snapshot, &h.request).unwrap(), what);
            h.from.clone()
        }
    }
}

/// Every hop replays, each starts where the previous one left the caller, and the last
/// principal's own request replays on the snapshot the path leads to (with the grant it
/// created, the key policy it wrote, or the identity policies it wrote).
fn replay(snapshot: &Snapshot, t: &Transitive, q: &Question, p: &Reached) {
    let key = snapshot.key(&t.key).unwrap();
    // A representative ("any principal of account A") acts under the names its witnesses chose.
    let rep = matches!(p.allowed.kind, "account" | "any-account" | "federated-user");
    let mut actor = p.allowed.principal.clone();
    let mut after = snapshot.clone();
    for (i, h) in p.path.iter().enumerate() {
        let what = format!("{}: {} hop {}", q.name, p.allowed.description, i + 1);
        assert_eq!(h.from, actor, "{what}: the hop does not start where the path is");
        if !(rep && actor == p.allowed.principal) {
            assert_eq!(h.request.principal, h.from, "{what}");
        }
        actor = replay_hop(snapshot, &key.region, h, &what);
        match h.edge {
            EdgeKind::CreateGrant => {
                let grantee = h.request.context.get("kms:GranteePrincipal").and_then(|v| v.first()).unwrap();
                let ops = &h.request.context["kms:GrantOperations"];
                assert_eq!(ops, &vec![Reference::get().action(&q.action).unwrap().name.clone()], "{what}");
                after = with_grants(&after, &t.key, std::slice::from_ref(grantee), &ops[0]);
            }
            EdgeKind::PutKeyPolicy => after = with_open_key_policy(&after, &t.key).unwrap(),
            EdgeKind::IamWrite if h.request.action != "iam:UpdateAssumeRolePolicy" => {
                after = with_allow_all(&after).unwrap()
            }
            _ => {}
        }
    }
    let stand_in = rep && actor == p.allowed.principal;
    if !p.path.is_empty() && !stand_in {
        assert_eq!(p.final_principal, actor, "{}: {}", q.name, p.allowed.description);
    }
    let last = Request {
        principal: p.final_principal.clone(),
        action: q.action.clone(),
        key: t.key.clone(),
        context: p.allowed.example_context.clone(),
    };
    allowed(&decide(&after, &last).unwrap(), &format!("{}: {} final request", q.name, p.allowed.description));
}

#[test]
fn transitive_answers_match_the_scenarios_and_every_hop_replays() {
    let dirs = scenarios();
    assert!(!dirs.is_empty(), "no corpus/scenarios/*/transitive.toml");
    let mut compared = 0;
    for dir in dirs {
        let file: File = toml::from_str(&std::fs::read_to_string(dir.join("transitive.toml")).unwrap()).unwrap();
        let snapshot = Snapshot::load(&dir).unwrap();
        for q in &file.question {
            let t = answer(&snapshot, q);
            assert_eq!(t.max_hops, q.max_hops, "{}", q.name);
            assert_eq!(t.truncated, q.truncated, "{}: truncated", q.name);
            assert_eq!(
                t.truncated || !q.unknown.is_empty(),
                !t.unknown.is_empty(),
                "{}: unknown {:?}",
                q.name,
                t.unknown
            );
            for u in &q.unknown {
                assert!(
                    t.unknown.iter().any(|l| l.starts_with(u.as_str())),
                    "{}: no unknown {u:?} in {:?}",
                    q.name,
                    t.unknown
                );
            }
            assert_eq!(t.unknown.len(), q.unknown.len() + usize::from(t.truncated), "{}: {:?}", q.name, t.unknown);
            for e in &q.reach {
                let Some(p) = t.principals.iter().find(|p| named(p, &e.principal)) else {
                    panic!("{}: {} is not listed", q.name, e.principal)
                };
                let got: Vec<String> = p.path.iter().map(|h| format!("{} {}", h.edge.as_str(), h.to)).collect();
                assert_eq!(got.len(), e.path.len(), "{}: {}: path {got:?}", q.name, e.principal);
                for (g, want) in got.iter().zip(&e.path) {
                    let ok = match want.strip_suffix('*') {
                        Some(prefix) => g.starts_with(prefix),
                        None => g == want,
                    };
                    assert!(ok, "{}: {}: path {got:?}, expected {:?}", q.name, e.principal, e.path);
                }
                assert_eq!(p.reach, if e.path.is_empty() { "direct" } else { "transitive" }, "{}", q.name);
                let conditions: Vec<&String> = p.path.iter().flat_map(|h| &h.conditions).map(|c| &c.text).collect();
                for c in &e.conditions {
                    assert!(conditions.contains(&c), "{}: {}: conditions {conditions:?}", q.name, e.principal);
                }
                replay(&snapshot, &t, q, p);
                // The library's replay (what `can_reach` counterexamples use) agrees.
                if let Err(e) = replay_path(&snapshot, &t, p) {
                    panic!("{}: {}: replay_path: {e}", q.name, e_principal(p));
                }
                compared += 1;
            }
            for p in &t.principals {
                assert!(
                    q.reach.iter().any(|e| named(p, &e.principal)),
                    "{}: {} ({}) is listed but not expected",
                    q.name,
                    p.allowed.description,
                    p.allowed.principal
                );
            }
            for a in &q.absent {
                assert!(!t.principals.iter().any(|p| named(p, a)), "{}: {a} must not be listed", q.name);
            }
        }
    }
    assert!(compared >= 20, "only {compared} principals compared");
}

/// The pictures of the decrypt answer, pinned.
#[test]
fn dot_and_mermaid_pictures_are_pinned() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/scenarios/transitive");
    let snapshot = Snapshot::load(&dir).unwrap();
    let q = Question {
        name: "decrypt".into(),
        action: "kms:Decrypt".into(),
        key: "alias/prod-data".into(),
        max_hops: 4,
        truncated: false,
        absent: Vec::new(),
        unknown: Vec::new(),
        reach: Vec::new(),
    };
    let t = answer(&snapshot, &q);
    insta::assert_snapshot!("transitive_decrypt_dot", to_dot(&t));
    insta::assert_snapshot!("transitive_decrypt_mermaid", to_mermaid(&t));
}

/// The DOT output renders with Graphviz. A missing `dot` fails the test: the setup script
/// installs it.
#[test]
fn the_dot_output_renders_with_graphviz() {
    use std::io::Write as _;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/scenarios/transitive");
    let snapshot = Snapshot::load(&dir).unwrap();
    let q = Question {
        name: "decrypt".into(),
        action: "kms:Decrypt".into(),
        key: "alias/prod-data".into(),
        max_hops: 4,
        truncated: false,
        absent: Vec::new(),
        unknown: Vec::new(),
        reach: Vec::new(),
    };
    let dot = to_dot(&answer(&snapshot, &q));
    let mut child = match std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("Graphviz `dot` is not installed ({e}): run `./scripts/setup --test-tools`"),
    };
    child.stdin.take().unwrap().write_all(dot.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dot failed: {}", String::from_utf8_lossy(&out.stderr));
    let svg = String::from_utf8_lossy(&out.stdout);
    assert!(svg.contains("<svg"), "no SVG");
    assert!(svg.contains("role/Bridge") && svg.contains("assume&#45;role"), "the SVG lacks the chain: {svg}");
}

/// A trust policy naming something that is not an AWS principal is an error at its location.
#[test]
fn an_invalid_trust_principal_is_a_located_error() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/scenarios/transitive");
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&src, tmp.path());
    let iam = tmp.path().join("accounts/250000000005/iam.json");
    let text = std::fs::read_to_string(&iam).unwrap();
    let bad = text.replacen("\"arn:aws:iam::260000000006:root\"", "\"partner-account\"", 1);
    assert_ne!(bad, text);
    std::fs::write(&iam, bad).unwrap();
    let snapshot = Snapshot::load(tmp.path()).unwrap();
    match keyproof_model::eval::edges::check_trust_principals(&snapshot) {
        Err(keyproof_model::ModelError::Input(keyproof_parser::ParseError::Invalid { location, message, .. })) => {
            assert_eq!(location, "accounts/250000000005/iam.json:106:22");
            assert!(message.contains("`partner-account`, which is not an AWS principal"), "{message}");
        }
        other => panic!("expected a located error, got {other:?}"),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
