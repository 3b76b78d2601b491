//! Terraform plans as input (`--plan`), on the real plans of `corpus/terraform/<scenario>/`
//! (made offline with terraform 1.11 and the AWS provider 5.100.0 from the `.tf` files next to
//! them; the tests do not need terraform). Each scenario's `expected.json` pins what the overlay
//! applied, skipped and left unknown, the classes `diff --plan` finds, and the verdicts of
//! `check --plan` on its properties. `corpus/terraform/bad/` holds plans that must be refused.

#![expect(clippy::unwrap_used, reason = "test helpers: a failed check is a panic that says what failed")]

use assert_cmd::Command;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn keyproof() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyproof"));
    cmd.env("NO_COLOR", "1").current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = keyproof().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), stderr)
}

fn set(v: &Value, f: impl Fn(&Value) -> String) -> BTreeSet<String> {
    v.as_array().unwrap().iter().map(f).collect()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

#[test]
fn every_real_plan_gives_its_pinned_diff_and_check_results() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/terraform");
    let mut seen = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(expected) = std::fs::read_to_string(dir.join("expected.json")) else { continue };
        seen += 1;
        let expected: Value = serde_json::from_str(&expected).unwrap();
        let rel = |f: &str| format!("corpus/terraform/{}/{f}", dir.file_name().unwrap().to_str().unwrap());
        let plan = rel("plan.json");
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel("main.tf")).is_file(), "the plan's source is committed");
        let snapshot = expected["snapshot"].as_str().unwrap();

        let (code, out, err) = run(&["diff", snapshot, "--plan", &plan, "--format", "json"]);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{plan}: {e}\n{out}\n{err}"));
        let summary = |c: &Value| text(&c["summary"]);
        assert_eq!(set(&v["added"], summary), set(&expected["diff"]["added"], text), "added by {plan}");
        assert_eq!(set(&v["removed"], summary), set(&expected["diff"]["removed"], text), "removed by {plan}");
        assert_eq!(i64::from(code), expected["diff"]["exit"].as_i64().unwrap(), "diff exit code of {plan}");
        assert_eq!(v["plan"]["applied"], expected["plan"]["applied"], "{plan}");
        let message = |n: &Value| text(&n["message"]);
        assert_eq!(set(&v["plan"]["not_modelled"], message), set(&expected["plan"]["not_modelled"], text), "{plan}");
        assert_eq!(set(&v["plan"]["unknown"], message), set(&expected["plan"]["unknown"], text), "{plan}");
        // The plan's report is also shown to a person, on stderr.
        assert!(err.contains(&format!("plan {plan}:")), "{err}");

        if let Some(check) = expected.get("check") {
            let props = rel("properties.kp");
            let (code, out, err) = run(&["check", &props, "--snapshot", snapshot, "--plan", &plan, "--format", "json"]);
            let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{props}: {e}\n{out}\n{err}"));
            let got: BTreeMap<String, String> =
                v["results"].as_array().unwrap().iter().map(|r| (text(&r["property"]), text(&r["status"]))).collect();
            let want: BTreeMap<String, String> =
                check["results"].as_object().unwrap().iter().map(|(k, s)| (k.clone(), text(s))).collect();
            assert_eq!(got, want, "check --plan {plan}");
            assert_eq!(i64::from(code), check["exit"].as_i64().unwrap(), "check exit code with {plan}");
        }
    }
    assert!(seen >= 3, "no scenarios in {}", root.display());
}

#[test]
fn a_new_key_of_the_plan_has_its_determined_arn_and_answers_who_can() {
    let (code, out, err) = run(&[
        "who-can",
        "kms:Decrypt",
        "alias/reports-key",
        "--snapshot",
        "corpus/central-kms",
        "--plan",
        "corpus/terraform/central-kms-change/plan.json",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["key"], "arn:aws:kms:us-east-1:111122223333:key/tf-aws_kms_key.reports");
    let who = set(&v["principals"], |p| text(&p["principal"]));
    assert!(who.contains("arn:aws:iam::111122223333:role/ReportReader"), "{who:?}");
    assert!(!who.iter().any(|p| !p.contains(":111122223333:")), "only the security account: {who:?}");
    assert!(
        err.contains(
            "aws_kms_key.reports will be the key `arn:aws:kms:us-east-1:111122223333:key/tf-aws_kms_key.reports`"
        ),
        "{err}"
    );
    assert!(err.contains("aws_s3_bucket.reports (aws_s3_bucket): not modelled by keyproof"), "{err}");
}

#[test]
fn a_plan_for_another_account_is_placed_there() {
    // --plan-account decides where new resources go: in an account whose IAM was not collected,
    // the plan's role cannot be modelled and is reported unknown (exit 2), never dropped.
    let (code, _, err) = run(&[
        "who-can",
        "kms:Decrypt",
        "alias/ebs-prod-key",
        "--snapshot",
        "corpus/central-kms",
        "--plan",
        "corpus/terraform/central-kms-change/plan.json",
        "--plan-account",
        "123456789012",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "UNKNOWN  aws_iam_role.report_reader changes IAM in account 123456789012, whose IAM is not in the snapshot"
        ),
        "{err}"
    );
}

/// Bad plans: an error at the place in the plan, exit code 2.
#[test]
fn bad_plans_are_refused_with_their_location() {
    let cases = [
        ("format-version", "plan format version 0.1 is not supported; keyproof reads format 1.x", "corpus/terraform/bad/format-version/plan.json:2:20"),
        (
            "malformed-policy",
            "invalid JSON: EOF while parsing a list",
            "corpus/terraform/bad/malformed-policy/plan.json → aws_kms_key_policy.ebs (resource_changes[1].change.after.policy):1:140",
        ),
        (
            "unknown-key",
            "aws_kms_grant.test_app_reads_prod_ebs refers to key `arn:aws:kms:us-east-1:111122223333:key/00000000-1111-2222-3333-444444444444`, which is not in the snapshot nor created by the plan",
            "corpus/terraform/bad/unknown-key/plan.json:55:16",
        ),
    ];
    for (case, message, location) in cases {
        let plan = format!("corpus/terraform/bad/{case}/plan.json");
        for command in [vec!["who-can", "kms:Decrypt", "alias/ebs-prod-key"], vec!["diff", "corpus/central-kms"]] {
            let mut args = command.clone();
            if args[0] == "who-can" {
                args.extend(["--snapshot", "corpus/central-kms"]);
            }
            args.extend(["--plan", &plan, "--format", "json"]);
            let (code, out, _) = run(&args);
            assert_eq!(code, 2, "{case}: {out}");
            let v: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["error"]["message"], message, "{case}");
            assert_eq!(v["error"]["location"], location, "{case}");
        }
    }
}

#[test]
fn a_policy_known_only_after_apply_is_unknown_not_nothing() {
    let plan = "corpus/terraform/bad/policy-known-after-apply/plan.json";
    let (code, out, err) = run(&["diff", "corpus/central-kms", "--plan", plan, "--format", "json"]);
    assert_eq!(code, 2, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let unknown = set(&v["plan"]["unknown"], |n| text(&n["message"]));
    assert_eq!(
        unknown,
        BTreeSet::from([
            "the policy of aws_iam_role_policy.app_extra is known only after apply: what it allows cannot be decided"
                .to_string()
        ])
    );
    let (code, _, _) = run(&[
        "check",
        "corpus/terraform/test-grant-on-prod-key/properties.kp",
        "--snapshot",
        "corpus/central-kms",
        "--plan",
        plan,
    ]);
    assert_eq!(code, 2);
}

#[test]
fn lint_reads_the_plan_too() {
    // --isolated: the built-in settings, not the demo's keyproof.toml.
    let (code, out, err) = run(&[
        "lint",
        "--isolated",
        "--snapshot",
        "corpus/central-kms",
        "--plan",
        "corpus/terraform/central-kms-change/plan.json",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let on_new_key: BTreeSet<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["key"] == "arn:aws:kms:us-east-1:111122223333:key/tf-aws_kms_key.reports")
        .map(|f| text(&f["code"]))
        .collect();
    assert!(on_new_key.contains("KP006"), "the plan's new key is linted: {on_new_key:?}");
}

/// A plan of `aws_organizations_organization` (unchanged, as `terraform plan` shows it): its
/// `enabled_policy_types` are the root's `PolicyTypes`.
fn organization_plan(types: &[&str]) -> String {
    let org = serde_json::json!({
        "arn": "arn:aws:organizations::999988887777:organization/o-a1b2c3d4e5",
        "id": "o-a1b2c3d4e5",
        "feature_set": "ALL",
        "enabled_policy_types": types,
    });
    serde_json::json!({
        "format_version": "1.2",
        "terraform_version": "1.11.0",
        "resource_changes": [{
            "address": "aws_organizations_organization.this",
            "mode": "managed",
            "type": "aws_organizations_organization",
            "name": "this",
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": { "actions": ["no-op"], "before": org, "after": org, "after_unknown": {} }
        }],
        "configuration": { "provider_config": { "aws": { "name": "aws", "expressions": {
            "region": { "constant_value": "us-east-1" },
            "allowed_account_ids": { "constant_value": ["999988887777"] }
        } } } }
    })
    .to_string()
}

#[test]
fn issue_9_enabled_policy_types_of_the_plan_decide_whether_rcps_apply() {
    let dir = tempfile::tempdir().unwrap();
    let explain = |types: &[&str]| -> (String, Value) {
        let plan = dir.path().join(format!("org-{}.json", types.len()));
        std::fs::write(&plan, organization_plan(types)).unwrap();
        let plan = plan.display().to_string();
        let (_, out, err) = run(&[
            "explain",
            "--principal",
            "arn:aws:iam::123456789012:role/PartnerReader",
            "--action",
            "kms:Decrypt",
            "--key",
            "alias/master-key-org",
            "--snapshot",
            "corpus/central-kms",
            "--plan",
            &plan,
            "--format",
            "json",
        ]);
        (err, serde_json::from_str(&out).unwrap())
    };
    // Both types enabled: the identity-perimeter RCP denies the partner, as in the snapshot.
    let (err, v) = explain(&["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"]);
    assert_eq!(v["decision"], "explicit-deny", "{err}");
    assert!(err.contains("applied  aws_organizations_organization.this: enabled policy types: SERVICE_CONTROL_POLICY, RESOURCE_CONTROL_POLICY"), "{err}");
    // RCPs not enabled: no RCP applies, and the RCP layer does not deny.
    let (err, v) = explain(&["SERVICE_CONTROL_POLICY"]);
    assert_ne!(v["decision"], "explicit-deny", "{err}");
    assert!(!v["trace"].as_array().unwrap().iter().any(|t| t["layer"] == "rcp" && t["effect"] == "deny"), "{v}");
}
