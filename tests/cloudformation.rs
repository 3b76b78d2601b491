//! CloudFormation templates and StackSets as input (`--template`, `--stackset`), on the templates
//! of `corpus/central-kms/cloudformation/`: a central key with its policy (`central-key.yaml`), a
//! workload role StackSet (`workload-role-stackset.yaml`) and an SCP (`scp.yaml`). Overlaid on
//! the demo snapshot, they must give the same answers as `after-by-hand/`, the demo snapshot
//! with the same change written by hand in the AWS CLI's shapes, for explain, who-can, check
//! and diff. `unknown/` holds templates whose effect is known only at deployment (exit 2, with the
//! place), `bad/` templates that must be refused with every error located.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers: a failed check is a panic that says what failed")]

use assert_cmd::Command;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const DIR: &str = "corpus/central-kms/cloudformation";
const BY_HAND: &str = "corpus/central-kms/cloudformation/after-by-hand";

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

fn json(args: &[&str]) -> (i32, Value, String) {
    let (code, out, err) = run(args);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}\n{err}"));
    (code, v, err)
}

/// The change as templates: the central key and the SCP as stacks, the role as a StackSet on the
/// Workloads OU.
fn overlay() -> Vec<String> {
    [
        "--template",
        &format!("{DIR}/central-key.yaml"),
        "--template",
        &format!("{DIR}/scp.yaml"),
        "--template-account",
        "111122223333",
        "--template-region",
        "us-east-1",
        "--stackset",
        &format!("{DIR}/workload-role-stackset.yaml"),
        "--targets",
        "ou-a1b2-wkld0001",
        "--regions",
        "us-east-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn with_overlay(args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.extend(overlay());
    v
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn explain_gives_the_same_decisions_as_the_snapshot_edited_by_hand() {
    let requests = [
        ("arn:aws:iam::555566667777:role/ReportsReader", "kms:Decrypt", "alias/reports-key", "allow"),
        ("arn:aws:iam::444455556666:role/ReportsReader", "kms:Decrypt", "alias/reports-key", "allow"),
        ("arn:aws:iam::444455556666:role/AppRole", "kms:Decrypt", "alias/reports-key", "implicit-deny"),
        ("arn:aws:iam::111122223333:role/KeyAdmin", "kms:ScheduleKeyDeletion", "alias/reports-key", "allow"),
        ("arn:aws:iam::111122223333:user/alice", "kms:ScheduleKeyDeletion", "alias/reports-key", "explicit-deny"),
        ("arn:aws:iam::777788889999:root", "kms:Decrypt", "alias/reports-key", "implicit-deny"),
    ];
    for (principal, action, key, want) in requests {
        let base = ["explain", "--principal", principal, "--action", action, "--key", key, "--format", "json"];
        let (_, by_hand, _) = json(&[&base[..], &["--snapshot", BY_HAND]].concat());
        let args = with_overlay(&[&base[..], &["--snapshot", "corpus/central-kms"]].concat());
        let (_, overlaid, _) = json(&strs(&args));
        assert_eq!(by_hand["decision"], want, "{principal} {action} by hand");
        assert_eq!(overlaid["decision"], want, "{principal} {action} from the templates");
        let layers = |v: &Value| -> Vec<String> {
            v["trace"].as_array().unwrap().iter().map(|t| format!("{} {}", t["layer"], t["effect"])).collect()
        };
        assert_eq!(layers(&overlaid), layers(&by_hand), "{principal} {action}: the trace's layers");
    }
}

#[test]
fn who_can_gives_the_same_principals_as_the_snapshot_edited_by_hand() {
    for action in ["kms:Decrypt", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"] {
        let base = ["who-can", action, "alias/reports-key", "--format", "json"];
        let (_, by_hand, _) = json(&[&base[..], &["--snapshot", BY_HAND]].concat());
        let (code, overlaid, err) =
            json(&strs(&with_overlay(&[&base[..], &["--snapshot", "corpus/central-kms"]].concat())));
        assert_eq!(code, 0, "{err}");
        let principals = |v: &Value| -> BTreeSet<String> {
            v["principals"].as_array().unwrap().iter().map(|p| p["principal"].as_str().unwrap().to_string()).collect()
        };
        assert_eq!(principals(&overlaid), principals(&by_hand), "who can {action}");
        assert_eq!(overlaid["accounts"], by_hand["accounts"], "who can {action}");
        assert_eq!(overlaid["public"], by_hand["public"], "who can {action}");
    }
    let (_, v, _) = json(&strs(&with_overlay(&[
        "who-can",
        "kms:Decrypt",
        "alias/reports-key",
        "--format",
        "json",
        "--snapshot",
        "corpus/central-kms",
    ])));
    let principals: BTreeSet<&str> =
        v["principals"].as_array().unwrap().iter().map(|p| p["principal"].as_str().unwrap()).collect();
    assert_eq!(
        principals,
        BTreeSet::from([
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::444455556666:role/ReportsReader",
            "arn:aws:iam::555566667777:role/ReportsReader",
            "arn:aws:iam::666677778888:role/ReportsReader",
            // A federated user of the security account (GetFederationToken by alice, whose
            // policies allow decrypting with the account's keys).
            "arn:aws:sts::111122223333:federated-user/--",
        ])
    );
}

#[test]
fn check_catches_the_stackset_that_reaches_test_and_dev() {
    let props = format!("{DIR}/properties.kp");
    let statuses = |v: &Value| -> BTreeMap<String, String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["property"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
            .collect()
    };
    let (hand_code, by_hand, _) = json(&["check", &props, "--snapshot", BY_HAND, "--format", "json"]);
    let (code, overlaid, err) =
        json(&strs(&with_overlay(&["check", &props, "--snapshot", "corpus/central-kms", "--format", "json"])));
    assert_eq!(statuses(&overlaid), statuses(&by_hand));
    assert_eq!((code, hand_code), (1, 1), "{err}");
    assert_eq!(
        statuses(&overlaid),
        BTreeMap::from([
            ("only_prod_reads_reports".to_string(), "violated".to_string()),
            ("reports_key_stays_in_org".to_string(), "proved".to_string()),
            ("reports_key_deletion_by_key_admin_only".to_string(), "proved".to_string()),
        ])
    );
    // The counterexample is a StackSet instance outside Prod, located in the template.
    let violated = overlaid["results"].as_array().unwrap().iter().find(|r| r["status"] == "violated").unwrap();
    let who = violated["counterexample"]["principal"].as_str().unwrap();
    assert!(
        who == "arn:aws:iam::555566667777:role/ReportsReader" || who == "arn:aws:iam::666677778888:role/ReportsReader",
        "{who}"
    );
    // Targeting the Prod OU only, the property holds.
    let mut args = vec!["check", &props, "--snapshot", "corpus/central-kms", "--format", "json"];
    let central = format!("{DIR}/central-key.yaml");
    let stackset = format!("{DIR}/workload-role-stackset.yaml");
    args.extend(["--template", &central, "--template-account", "111122223333", "--template-region", "us-east-1"]);
    args.extend(["--stackset", &stackset, "--targets", "ou-a1b2-prod0001", "--regions", "us-east-1"]);
    let (_, v, _) = json(&args);
    assert_eq!(statuses(&v)["only_prod_reads_reports"], "proved");
}

#[test]
fn diff_finds_the_same_access_as_the_snapshot_edited_by_hand() {
    let summaries = |v: &Value, side: &str| -> BTreeSet<String> {
        v[side].as_array().unwrap().iter().map(|c| c["summary"].as_str().unwrap().to_string()).collect()
    };
    let (hand_code, by_hand, _) = json(&["diff", "corpus/central-kms", BY_HAND, "--format", "json"]);
    let (code, overlaid, err) = json(&strs(&with_overlay(&["diff", "corpus/central-kms", "--format", "json"])));
    assert_eq!(summaries(&overlaid, "added"), summaries(&by_hand, "added"));
    assert_eq!(summaries(&overlaid, "removed"), summaries(&by_hand, "removed"));
    assert_eq!((code, hand_code), (1, 1));
    assert!(summaries(&overlaid, "added").contains(
        "arn:aws:iam::666677778888:role/ReportsReader can now kms:Decrypt, kms:DescribeKey alias/reports-key"
    ));
    // The templates' reports: what was applied, skipped and determined, located in the YAML.
    let templates = overlaid["templates"].as_array().unwrap();
    assert_eq!(templates.len(), 3);
    assert_eq!(
        templates[0]["applied"],
        serde_json::json!([
            "Resources.ReportsKey (AWS::KMS::Key): create",
            "Resources.ReportsKeyAlias (AWS::KMS::Alias): create"
        ])
    );
    assert_eq!(templates[0]["not_modelled"][0]["location"], format!("{DIR}/central-key.yaml:93:5"));
    assert_eq!(
        templates[2]["applied"],
        serde_json::json!([
            "444455556666/us-east-1: Resources.ReportsReader (AWS::IAM::Role): create",
            "555566667777/us-east-1: Resources.ReportsReader (AWS::IAM::Role): create",
            "666677778888/us-east-1: Resources.ReportsReader (AWS::IAM::Role): create"
        ])
    );
    assert!(err.contains(&format!("stackset {DIR}/workload-role-stackset.yaml: 3 change(s)")), "{err}");
}

#[test]
fn findings_point_at_the_template_line_and_column() {
    let (_, out, _) =
        run(&strs(&with_overlay(&["who-can", "kms:Decrypt", "alias/reports-key", "--snapshot", "corpus/central-kms"])));
    assert!(out.contains(&format!("statement WorkloadReadersDecrypt ({DIR}/central-key.yaml:58:13)")), "{out}");
    assert!(out.contains(&format!("statement #0 ({DIR}/workload-role-stackset.yaml:33:17)")), "{out}");
}

#[test]
fn values_known_only_at_deployment_give_exit_2_with_their_place() {
    let cases = [
        ("import-value", "Resources.Key.Properties.KeyPolicy: `Fn::ImportValue` reads another stack's export, which is known only at deployment", "import-value.yaml:11:20"),
        ("getatt-unknown-attribute", "Resources.Key.Properties.KeyPolicy: the unique id of `Reader` is made by AWS at deployment", "getatt-unknown-attribute.yaml:25:29"),
        ("transform", "the template uses the transform AWS::Serverless-2016-10-31: a macro rewrites the template at deployment, so what it deploys is not known", "transform.yaml:2:12"),
        ("condition", "Resources.Key (AWS::KMS::Key) exists only if condition SharedIsOn holds: `Fn::ImportValue` reads another stack's export, which is known only at deployment", "condition.yaml:3:24"),
        ("aws-managed-policy", "the AWS managed policy `arn:aws:iam::aws:policy/AdministratorAccess` is attached, but its text is not in the snapshot", "aws-managed-policy.yaml:7:27"),
        ("ssm-parameter", "Resources.Reader: parameter `ReaderName` is read from SSM Parameter Store (`/keys/reader-role`) at deployment", "ssm-parameter.yaml:5:14"),
    ];
    for (name, message, place) in cases {
        let template = format!("{DIR}/unknown/{name}.yaml");
        let (code, v, err) = json(&[
            "diff",
            "corpus/central-kms",
            "--template",
            &template,
            "--template-account",
            "111122223333",
            "--template-region",
            "us-east-1",
            "--format",
            "json",
        ]);
        assert_eq!(code, 2, "{name}: {err}");
        let unknown = &v["templates"][0]["unknown"][0];
        assert_eq!(unknown["message"], message, "{name}");
        assert_eq!(unknown["location"], format!("{DIR}/unknown/{place}"), "{name}");
        assert!(err.contains("UNKNOWN"), "{err}");
    }
}

#[test]
fn a_bad_template_is_refused_with_every_error_located() {
    let template = format!("{DIR}/bad/every-error.yaml");
    let (code, v, _) = json(&[
        "who-can",
        "kms:Decrypt",
        "alias/s3-prod-key",
        "--template",
        &template,
        "--template-account",
        "111122223333",
        "--template-region",
        "us-east-1",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2);
    let found: BTreeSet<(String, String)> = v["error"]["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["message"].as_str().unwrap().to_string(), e["location"].as_str().unwrap().to_string()))
        .collect();
    let at = |l: &str| format!("{template}:{l}");
    assert_eq!(
        found,
        BTreeSet::from([
            ("unknown intrinsic function tag `!Frobnicate`".to_string(), at("25:13")),
            ("parameter `Env` has no Default and no value was given".to_string(), at("3:3")),
            ("circular dependency: A → B → A".to_string(), at("21:16")),
            ("circular dependency: D → E → D".to_string(), at("41:60")),
            ("`Propertes` is not a resource attribute".to_string(), at("44:5")),
            ("`KeyPolicyy` is not a property of AWS::KMS::Key".to_string(), at("46:7")),
            (
                "`Ref` to `Missing`, which is neither a parameter nor a resource of the template".to_string(),
                at("13:30")
            ),
        ])
    );
    // A parameter of the wrong type is located on the command line.
    let (code, v, _) = json(&[
        "who-can",
        "kms:Decrypt",
        "alias/s3-prod-key",
        "--template",
        &template,
        "--template-account",
        "111122223333",
        "--template-region",
        "us-east-1",
        "--parameter",
        "Env=abc",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2);
    let messages: Vec<&str> =
        v["error"]["related"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert!(messages.contains(&"parameter `Env` is a Number, but `abc` is not a number"), "{messages:?}");
    // Malformed YAML.
    let malformed = format!("{DIR}/bad/malformed.yaml");
    let (code, v, _) = json(&[
        "who-can",
        "kms:Decrypt",
        "alias/s3-prod-key",
        "--template",
        &malformed,
        "--template-account",
        "111122223333",
        "--template-region",
        "us-east-1",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["location"], format!("{malformed}:5:1"));
}

#[test]
fn a_stackset_target_that_is_not_an_ou_of_the_snapshot_is_located() {
    let stackset = format!("{DIR}/workload-role-stackset.yaml");
    for (targets, message) in [
        ("ou-a1b2-nope0001", "`ou-a1b2-nope0001` is not an OU of the snapshot's organization"),
        ("444455556666", "`444455556666` is an account; a service-managed StackSet deploys to OUs (or the root)"),
    ] {
        let (code, v, _) = json(&[
            "who-can",
            "kms:Decrypt",
            "alias/s3-prod-key",
            "--stackset",
            &stackset,
            "--targets",
            targets,
            "--regions",
            "us-east-1",
            "--format",
            "json",
        ]);
        assert_eq!(code, 2);
        assert_eq!(v["error"]["message"], message);
        assert_eq!(v["error"]["location"], format!("--targets {targets}:1:1"));
    }
    // The root: every member account, never the management account (999988887777).
    let (_, v, _) = json(&[
        "diff",
        "corpus/central-kms",
        "--stackset",
        &stackset,
        "--targets",
        "r-a1b2",
        "--regions",
        "us-east-1,eu-west-1",
        "--format",
        "json",
    ]);
    let applied: Vec<&str> =
        v["templates"][0]["applied"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(applied.len(), 10, "5 member accounts × 2 regions: {applied:?}");
    assert!(!applied.iter().any(|a| a.starts_with("999988887777")), "{applied:?}");
}

#[test]
fn a_json_template_with_its_policy_as_a_json_string_gives_the_same_answers() {
    let ask = |template: &str| -> BTreeSet<String> {
        let path = format!("{DIR}/{template}");
        let (code, v, err) = json(&[
            "who-can",
            "kms:Decrypt",
            "alias/reports-key",
            "--snapshot",
            "corpus/central-kms",
            "--template",
            &path,
            "--template-account",
            "111122223333",
            "--template-region",
            "us-east-1",
            "--stack-name",
            "central-key",
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "{err}");
        v["principals"].as_array().unwrap().iter().map(|p| p["principal"].as_str().unwrap().to_string()).collect()
    };
    let from_json = ask("central-key.json");
    assert_eq!(from_json, ask("central-key.yaml"));
    assert!(from_json.contains("arn:aws:iam::111122223333:user/alice"), "{from_json:?}");
    // The embedded policy's errors point into the string, inside the template.
    let (_, out, _) = run(&[
        "who-can",
        "kms:Decrypt",
        "alias/reports-key",
        "--snapshot",
        "corpus/central-kms",
        "--template",
        &format!("{DIR}/central-key.json"),
        "--template-account",
        "111122223333",
        "--template-region",
        "us-east-1",
    ]);
    assert!(out.contains("statement EnableIamPolicies"), "{out}");
}

#[test]
fn lint_finds_what_a_template_creates_at_its_place() {
    let template = format!("{DIR}/lint/rotation-off.yaml");
    // --isolated: the built-in settings, not the demo's keyproof.toml (whose key_admins would
    // change which grants and deletions count as open).
    let (code, v, err) = json(&[
        "lint",
        "--isolated",
        "--snapshot",
        "corpus/central-kms",
        "--template",
        &template,
        "--template-account",
        "111122223333",
        "--template-region",
        "us-east-1",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{err}");
    let on_new_key: BTreeMap<String, String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["key"] == "arn:aws:kms:us-east-1:111122223333:key/cfn-rotation-off-ScratchKey")
        .map(|f| {
            let l = &f["locations"][0];
            (
                f["code"].as_str().unwrap().to_string(),
                format!("{}:{}:{}", l["file"].as_str().unwrap(), l["line"], l["column"]),
            )
        })
        .collect();
    // Rotation off, and AWS's default key policy (the account's IAM decides, so deletion and
    // grants are open to it).
    assert_eq!(on_new_key.get("KP015"), Some(&format!("{template}:5:5")), "{on_new_key:?}");
    assert!(on_new_key.contains_key("KP006"), "{on_new_key:?}");
}

/// `diff --base DIR`: the snapshot with main's templates (read under DIR) against the snapshot
/// with the pull request's. A key both sides create has the same placeholder ARN on both, so an
/// unchanged template adds nothing.
#[test]
fn diff_with_a_base_checkout_compares_mains_templates_with_the_pull_requests() {
    let base = tempfile::tempdir().unwrap();
    let copy = |files: &[&str]| {
        let dir = base.path().join(DIR);
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            std::fs::copy(format!("{}/{DIR}/{f}", env!("CARGO_MANIFEST_DIR")), dir.join(f)).unwrap();
        }
    };
    let diff = || {
        let mut args = vec!["diff".to_string(), "corpus/central-kms".to_string(), "--base".to_string()];
        args.push(base.path().display().to_string());
        args.extend(overlay());
        args.extend(["--format".to_string(), "json".to_string()]);
        json(&strs(&args))
    };
    let summaries = |v: &Value, side: &str| -> Vec<String> {
        v[side].as_array().unwrap().iter().map(|c| c["summary"].as_str().unwrap().to_string()).collect()
    };
    // Main has the key and the StackSet; the pull request adds the SCP: access is only removed.
    copy(&["central-key.yaml", "workload-role-stackset.yaml"]);
    let (code, v, err) = diff();
    assert_eq!(code, 0, "{err}");
    assert_eq!(summaries(&v, "added"), Vec::<String>::new());
    assert!(summaries(&v, "removed").contains(
        &"2 principals of account 111122223333 (arn:aws:iam::111122223333:root, its federated users) can no longer kms:DisableKey, kms:ScheduleKeyDeletion alias/reports-key".to_string()
    ), "{:?}", summaries(&v, "removed"));
    assert_eq!(v["base_templates"].as_array().unwrap().len(), 2);
    assert!(v["before"].as_str().unwrap().contains("central-key.yaml"), "{}", v["before"]);
    // Main has the key only; the StackSet is new: its roles' access is added.
    std::fs::remove_file(base.path().join(DIR).join("workload-role-stackset.yaml")).unwrap();
    let (code, v, _) = diff();
    assert_eq!(code, 1);
    assert!(summaries(&v, "added").contains(
        &"arn:aws:iam::555566667777:role/ReportsReader can now kms:Decrypt, kms:DescribeKey alias/reports-key"
            .to_string()
    ));
}

/// A statement of a YAML template written on one line (flow style) is shown as written in
/// explain's "statements that decide", never laid out as JSON (which would garble it).
#[test]
fn a_one_line_yaml_statement_is_shown_as_written() {
    let text = std::fs::read_to_string(format!("{DIR}/central-key.yaml")).unwrap();
    let block = "          - Sid: EnableIamPolicies\n            Effect: Allow\n            Principal:\n              AWS: !Sub \"arn:${AWS::Partition}:iam::${AWS::AccountId}:root\"\n            Action: \"kms:*\"\n            Resource: \"*\"\n";
    assert!(text.contains(block), "the template's statement is as this test expects");
    let flow = "          - {Sid: EnableIamPolicies, Effect: Allow, Principal: {AWS: !Sub \"arn:${AWS::Partition}:iam::${AWS::AccountId}:root\"}, Action: \"kms:*\", Resource: \"*\"}\n";
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("central-key.yaml");
    std::fs::write(&template, text.replace(block, flow)).unwrap();
    let (code, out, err) = run(&[
        "explain",
        "--principal",
        "arn:aws:iam::111122223333:root",
        "--action",
        "kms:Decrypt",
        "--key",
        "alias/reports-key",
        "--snapshot",
        "corpus/central-kms",
        "--template",
        template.to_str().unwrap(),
        "--template-account",
        "111122223333",
        "--template-region",
        "us-east-1",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("statement EnableIamPolicies"), "{out}");
    assert!(out.contains("{Sid: EnableIamPolicies, Effect: Allow, Principal: {AWS: !Sub"), "shown as written: {out}");
    assert!(!out.contains("laid out"), "{out}");
}
