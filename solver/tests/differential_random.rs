//! Differential test (evaluator vs encoding) on random organizations and random requests: for
//! every request the evaluator accepts, `keyproof_model::decide` and
//! `keyproof_solver::fixed::decide_fixed` must agree (allow ⇔ allowed, a deny ⇔ not allowed, an
//! unknown evaluator answer ⇒ allowed for some value of the unknowns).
//!
//! The organizations come from `keyproof-testgen`; the requests mix the snapshot's principals
//! (role ARNs, role sessions, users, root users), principals of accounts outside the snapshot,
//! service principals, every kind of KMS key action, and random subsets of the request keys the
//! policies use, with values that sometimes match and sometimes do not.
//!
//! `solver/examples/soak.rs` runs the same comparison on many more seeds.

use keyproof_model::reference::{KeyClass, KeySource, Reference};
use keyproof_model::{decide, Request, Snapshot, Verdict};
use keyproof_solver::encode::context::Bounds;
use keyproof_solver::fixed::{decide_fixed, FixedAnswer};
use keyproof_testgen::{write_snapshot, Params, Summary};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;

use keyproof_testgen::{REQUEST_ACTIONS as ACTIONS, REQUEST_SERVICES as SERVICE_PRINCIPALS};

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Tally {
    pub compared: usize,
    pub rejected: usize,
    pub allow: usize,
    pub deny: usize,
    pub unknown: usize,
    pub solver_unknown: usize,
    pub disagreements: Vec<String>,
}

fn describe(request: &Request) -> String {
    serde_json::to_string(request).unwrap_or_default()
}

fn pick<'a>(rng: &mut StdRng, xs: &'a [String]) -> &'a str {
    &xs[rng.gen_range(0..xs.len())]
}

/// A session ARN for a role ARN (`arn:aws:iam::A:role/path/R` → `arn:aws:sts::A:assumed-role/R/s`).
fn session_of(role_arn: &str, session: &str) -> Option<String> {
    let account = role_arn.split(':').nth(4)?;
    let name = role_arn.rsplit('/').next()?;
    Some(format!("arn:aws:sts::{account}:assumed-role/{name}/{session}"))
}

fn random_principal(rng: &mut StdRng, s: &Summary) -> String {
    let outside = s.external_accounts.first().cloned().unwrap_or_else(|| "123456789012".to_string());
    match rng.gen_range(0..20) {
        0..=11 => {
            let p = pick(rng, &s.principals).to_string();
            // Roles are asked about through their sessions half of the time.
            if p.contains(":role/") && rng.gen_bool(0.5) {
                let session = if rng.gen_bool(0.5) { "batch-0" } else { "alice" };
                session_of(&p, session).unwrap_or(p)
            } else {
                p
            }
        }
        12 => format!("arn:aws:iam::{outside}:root"),
        13 => format!("arn:aws:iam::{outside}:role/Ext"),
        14 => format!("arn:aws:sts::{outside}:assumed-role/Ext/batch-1"),
        15 | 16 => SERVICE_PRINCIPALS[rng.gen_range(0..SERVICE_PRINCIPALS.len())].to_string(),
        17 => {
            // A principal of an organization account, collected or not.
            let a = pick(rng, &s.accounts);
            format!("arn:aws:iam::{a}:role/AppRole0")
        }
        18 => format!("arn:aws:iam::{}:root", pick(rng, &s.accounts)),
        _ => "arn:aws:iam::210987654321:user/stranger".to_string(),
    }
}

/// A random request against a generated snapshot. Encryption context keys are sometimes spelled
/// in another case than the policies (regression: corpus/scenarios/differential-1).
///
/// Only requests AWS can send are drawn: context keys that the action never carries, and keys
/// that follow from the principal or the key, are left out (the evaluator would reject them);
/// principal tags are given only where a request may give them; `aws:SecureTransport` is always
/// `true` (KMS endpoints are HTTPS only), `aws:ViaAWSService` is true exactly when
/// `kms:ViaService` is given, and `kms:EncryptionContextKeys`, when given, lists exactly the
/// request's encryption context keys.
pub fn random_request(rng: &mut StdRng, s: &Summary) -> Request {
    let principal = random_principal(rng, s);
    let action = ACTIONS[rng.gen_range(0..ACTIONS.len())].to_string();
    let key = pick(rng, &s.keys).to_string();
    let key = if rng.gen_bool(0.1) { key.rsplit('/').next().unwrap_or(&key).to_string() } else { key };
    let reference = Reference::get();
    let Some(kms_action) = reference.action(&action) else {
        return Request { principal, action, key, context: BTreeMap::new() };
    };
    let tags_ok = principal.contains(":assumed-role/") || principal.contains(":role/");
    let mut context = BTreeMap::new();
    let derived = ["aws:ViaAWSService", "kms:EncryptionContextKeys"];
    for (name, samples) in &s.context_keys {
        if derived.iter().any(|d| d.eq_ignore_ascii_case(name)) {
            continue;
        }
        let info = match reference.classify(name, kms_action) {
            KeyClass::Known(info) => info,
            _ => continue,
        };
        let is_tag = name.to_lowercase().starts_with("aws:principaltag/");
        if (info.source == KeySource::Principal && !(is_tag && tags_ok)) || info.source == KeySource::Resource {
            continue;
        }
        let always = name.eq_ignore_ascii_case("kms:GrantOperations") && kms_action.name == "CreateGrant";
        let p = if always { 0.85 } else { 0.35 };
        if !rng.gen_bool(p) {
            continue;
        }
        let fallback = vec!["x".to_string()];
        let pool = if samples.is_empty() { &fallback } else { samples };
        let values: Vec<String> = if name.eq_ignore_ascii_case("aws:SecureTransport") {
            vec!["true".to_string()]
        } else if info.multivalued {
            let n = rng.gen_range(1..=3.min(pool.len()));
            let mut vs: Vec<String> = Vec::new();
            while vs.len() < n {
                let v = pick(rng, pool).to_string();
                if !vs.contains(&v) {
                    vs.push(v);
                }
            }
            vs
        } else {
            vec![pick(rng, pool).to_string()]
        };
        // Encryption context key names are case-insensitive: sometimes give another spelling.
        let name = match name.strip_prefix("kms:EncryptionContext:") {
            Some(k) if k != k.to_lowercase() && rng.gen_bool(0.1) => {
                format!("kms:EncryptionContext:{}", k.to_lowercase())
            }
            _ => name.clone(),
        };
        context.insert(name, values);
    }
    let via = context.keys().any(|k| k.eq_ignore_ascii_case("kms:ViaService"));
    if rng.gen_bool(0.2) && matches!(reference.classify("aws:ViaAWSService", kms_action), KeyClass::Known(_)) {
        context.insert("aws:ViaAWSService".to_string(), vec![via.to_string()]);
    }
    let ec: Vec<String> =
        context.keys().filter_map(|k| k.strip_prefix("kms:EncryptionContext:")).map(str::to_string).collect();
    if !ec.is_empty() && rng.gen_bool(0.3) {
        context.insert("kms:EncryptionContextKeys".to_string(), ec);
    }
    Request { principal, action, key, context }
}

/// Compares evaluator and encoding on `requests` random requests against the organization of
/// `params`, written under `dir`.
pub fn run_snapshot(dir: &Path, params: &Params, requests: usize, tally: &mut Tally) {
    let summary = match write_snapshot(dir, params) {
        Ok(s) => s,
        Err(e) => {
            tally.disagreements.push(format!("seed {}: cannot write the snapshot: {e}", params.seed));
            return;
        }
    };
    let snapshot = match Snapshot::load(dir) {
        Ok(s) => s,
        Err(e) => {
            tally.disagreements.push(format!("seed {}: the generated snapshot does not load: {e:?}", params.seed));
            return;
        }
    };
    let bounds = Bounds::of(&snapshot);
    let prover = keyproof_solver::query::Prover::new(&snapshot, 20_000, &[]);
    let mut rng = StdRng::seed_from_u64(params.seed ^ 0x5eed_0f2e_9e00);
    for i in 0..requests {
        let request = random_request(&mut rng, &summary);
        let d = match decide(&snapshot, &request) {
            Ok(d) => d,
            Err(e) => {
                if std::env::var_os("KEYPROOF_SHOW_REJECTED").is_some() {
                    eprintln!("rejected: {e}: {}", describe(&request));
                }
                tally.rejected += 1;
                continue;
            }
        };
        tally.compared += 1;
        let fixed = decide_fixed(&snapshot, &bounds, &request);
        match d.decision {
            Verdict::Allow => tally.allow += 1,
            Verdict::ExplicitDeny | Verdict::ImplicitDeny => tally.deny += 1,
            Verdict::Unknown => tally.unknown += 1,
        }
        if matches!(fixed, Ok(FixedAnswer::Unknown(_))) {
            tally.solver_unknown += 1;
        }
        // The prover's Rust pre-filter never rules out a request the evaluator allows.
        if matches!(d.decision, Verdict::Allow | Verdict::Unknown) {
            let filtered = keyproof_model::context::resolve_principal(&snapshot, &request.principal)
                .ok()
                .zip(keyproof_model::reference::Reference::get().action(&request.action));
            if let (Some((p, a)), Ok(k)) = (filtered, snapshot.key(&request.key)) {
                if !prover.may_be_allowed(&p, a, k) {
                    tally.disagreements.push(format!(
                        "seed {} request {i}: the pre-filter rules out a request the evaluator answers {:?}\n  request: {}",
                        params.seed,
                        d.decision,
                        describe(&request)
                    ));
                }
            }
        }
        // Allow ⇔ allowed, a deny ⇔ not allowed, unknown ⇒ allowed for some value of the unknowns.
        let agree = matches!(
            (d.decision, &fixed),
            (Verdict::Allow | Verdict::Unknown, Ok(FixedAnswer::Allowed))
                | (Verdict::ExplicitDeny | Verdict::ImplicitDeny, Ok(FixedAnswer::NotAllowed))
        );
        if !agree {
            tally.disagreements.push(format!(
                "seed {} request {i}: evaluator {:?}, encoding {:?}\n  request: {}",
                params.seed,
                d.decision,
                fixed,
                describe(&request)
            ));
        }
    }
}

/// The small organization of one seed: 3–5 accounts, 2–3 roles, 2–3 keys, 0–3 grants per key.
pub fn small_params(seed: u64) -> Params {
    let mut rng = StdRng::seed_from_u64(seed);
    Params {
        accounts: rng.gen_range(3..=5),
        roles_per_account: rng.gen_range(2..=3),
        keys: rng.gen_range(2..=3),
        grants_per_key: rng.gen_range(0..=1),
        seed,
        conditions: true,
        oracle: false,
    }
}

/// Runs the comparison on every seed, `requests` requests each, in temporary folders.
pub fn run_seeds(seeds: impl IntoIterator<Item = u64>, requests: usize) -> Tally {
    let mut tally = Tally::default();
    for seed in seeds {
        let Ok(dir) = tempfile::tempdir() else {
            tally.disagreements.push("cannot create a temporary folder".into());
            return tally;
        };
        run_snapshot(dir.path(), &small_params(seed), requests, &mut tally);
    }
    tally
}

#[test]
fn encoding_agrees_with_the_evaluator_on_random_requests() {
    let start = std::time::Instant::now();
    let tally = run_seeds(0..150, 50);
    println!(
        "differential_random: {} compared ({} allow, {} deny, {} unknown; {} solver unknown), {} rejected, {} disagreements, in {:.1?}",
        tally.compared,
        tally.allow,
        tally.deny,
        tally.unknown,
        tally.solver_unknown,
        tally.rejected,
        tally.disagreements.len(),
        start.elapsed()
    );
    assert!(tally.compared >= 2000, "only {} requests compared", tally.compared);
    assert!(tally.rejected * 4 < tally.compared, "{} requests rejected, {} compared", tally.rejected, tally.compared);
    assert!(tally.allow > 50 && tally.deny > 50, "too one-sided: {tally:?}");
    assert!(
        tally.disagreements.is_empty(),
        "{} disagreements:\n{}",
        tally.disagreements.len(),
        tally.disagreements.join("\n")
    );
}

/// The equivalence classes of the prover (one solver question per class of identical encoded
/// questions, the witness read back and replayed per member) change no answer: on random
/// organizations, who-can on every key for a few actions is the same, entry for entry (examples,
/// conditions and cited statements included), with grouping on and off.
#[test]
fn grouped_answers_are_the_ungrouped_answers() {
    let actions = ["kms:Decrypt", "kms:PutKeyPolicy", "kms:CreateGrant"];
    let mut compared = 0;
    let mut shared = 0;
    for seed in 0..12u64 {
        let dir = tempfile::tempdir().unwrap();
        let params = Params {
            accounts: 4,
            roles_per_account: 3,
            keys: 2,
            grants_per_key: 1,
            seed,
            conditions: true,
            oracle: false,
        };
        write_snapshot(dir.path(), &params).unwrap();
        let snapshot = Snapshot::load(dir.path()).unwrap();
        let grouped = keyproof_solver::query::Prover::new(&snapshot, 20_000, &[]);
        let mut ungrouped = keyproof_solver::query::Prover::new(&snapshot, 20_000, &[]);
        ungrouped.grouping = false;
        for key in snapshot.keys() {
            for action in actions {
                let a = Reference::get().action(action).unwrap();
                let with = keyproof_solver::who_can::who_can(&grouped, grouped.members(), a, key).unwrap();
                let without = keyproof_solver::who_can::who_can(&ungrouped, ungrouped.members(), a, key).unwrap();
                assert_eq!(
                    serde_json::to_string_pretty(&with).unwrap(),
                    serde_json::to_string_pretty(&without).unwrap(),
                    "seed {seed}, {action} on {}",
                    key.arn
                );
                compared += 1;
            }
        }
        let (asked, solved) = grouped.solver_questions();
        shared += asked - solved;
    }
    assert!(compared >= 60, "{compared}");
    assert!(shared > 0, "no question was shared by a class: the test does not exercise the grouping");
}

/// `check` with the principals grouped into classes per key (those no `can` gate of the key
/// admits, by their principal-only atoms) gives the answer of every instance decided on its own:
/// the same status, instance count, violations in order and counterexample.
#[test]
fn grouped_check_is_the_ungrouped_check() {
    let properties = r#"
property no_outside_decrypt {
  forall principal, key:
    can(principal, kms:Decrypt, key) implies principal in org
}
property separation {
  forall principal, key:
    not (can(principal, kms:PutKeyPolicy, key) and can(principal, kms:Decrypt, key))
}
property roots_only_administer {
  forall principal, key:
    can(principal, kms:PutKeyPolicy, key) implies principal like "arn:aws:iam::*:root"
}
property nobody_grants {
  forall principal in org, key:
    not can(principal, kms:CreateGrant, key) or principal like "*role/role-0*"
}
property everyone_is_in_org {
  forall principal, key:
    principal in org or not (key in org)
}
"#;
    let mut grouped_instances = 0;
    let mut violated = 0;
    let mut saved = 0;
    for seed in 0..8u64 {
        let dir = tempfile::tempdir().unwrap();
        let params = Params {
            accounts: 5,
            roles_per_account: 3,
            keys: 3,
            grants_per_key: 1,
            seed,
            conditions: true,
            oracle: false,
        };
        write_snapshot(dir.path(), &params).unwrap();
        let snapshot = Snapshot::load(dir.path()).unwrap();
        let mut sources = snapshot.sources.clone();
        let file =
            keyproof_parser::property::parse_properties(&mut sources, "grouping.kp", properties.to_string()).unwrap();
        let grouped = keyproof_solver::query::Prover::new(&snapshot, 20_000, &[]);
        let mut ungrouped = keyproof_solver::query::Prover::new(&snapshot, 20_000, &[]);
        ungrouped.grouping = false;
        for prop in &file.properties {
            let run = |prover: &keyproof_solver::query::Prover<'_>| {
                let r = keyproof_solver::check::check_property(prover, &sources, prop, prover.members()).unwrap();
                let ce = r.counterexample.as_ref().map(|c| {
                    (
                        c.member.principal.clone(),
                        c.key.clone(),
                        c.witnesses.iter().map(|w| w.request.clone()).collect::<Vec<_>>(),
                    )
                });
                let violations: Vec<(String, String)> =
                    r.violations.iter().map(|(m, k)| (m.principal.clone(), k.clone())).collect();
                ((format!("{:?}", r.status), r.instances, violations, ce, r.reason.clone()), r.evaluated)
            };
            let (with, evaluated) = run(&grouped);
            let (without, all) = run(&ungrouped);
            assert_eq!(with, without, "seed {seed}, property {}", prop.name.value);
            assert_eq!(all, with.1, "ungrouped, every instance is evaluated");
            grouped_instances += with.1;
            saved += all - evaluated;
            if with.0 == "Violated" {
                violated += 1;
            }
        }
    }
    assert!(grouped_instances > 1000, "{grouped_instances}");
    assert!(violated > 0, "no property was violated: the test does not compare counterexamples");
    assert!(
        saved > grouped_instances / 4,
        "the classes saved {saved} of {grouped_instances} evaluations: the test does not exercise them"
    );
}

/// Actions that never carry an encryption context (DescribeKey, GetPublicKey, Sign, RetireGrant…)
/// get none from the encoding either: a `ForAllValues` condition on `kms:EncryptionContextKeys`
/// or a grant constraint once let the solver invent `kms:EncryptionContext:*` entries that the
/// evaluator rejects ("the solver's request does not load", an internal error in lint).
#[test]
fn requests_without_encryption_context_get_none() {
    let actions = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:RetireGrant", "kms:CreateGrant"];
    let mut asked = 0;
    for seed in 0..6u64 {
        let dir = tempfile::tempdir().unwrap();
        let params = Params {
            accounts: 6,
            roles_per_account: 4,
            keys: 8,
            grants_per_key: 4,
            seed,
            conditions: true,
            oracle: false,
        };
        write_snapshot(dir.path(), &params).unwrap();
        let snapshot = Snapshot::load(dir.path()).unwrap();
        let prover = keyproof_solver::query::Prover::new(&snapshot, 20_000, &[]);
        for key in snapshot.keys() {
            for action in actions {
                let a = Reference::get().action(action).unwrap();
                if let Err(e) = keyproof_solver::who_can::who_can(&prover, prover.members(), a, key) {
                    panic!("seed {seed}, {action} on {}: {e}", key.arn);
                }
                asked += 1;
            }
        }
    }
    assert!(asked >= 200, "{asked}");
}
