//! `keyproof diff` on the scenarios of `corpus/diff/`: each folder holds `before/`, `after/` and
//! `expected.json`, the exact classes of access added and removed (reviewed by eye) and the exit
//! code. One test walks them all; the others pin the output formats and the exit-code rules.

#![expect(clippy::unwrap_used, reason = "test helpers: a failed check is a panic that says what failed")]

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeSet;
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

fn summaries(v: &Value, field: &str) -> BTreeSet<String> {
    v[field].as_array().unwrap().iter().map(|c| c["summary"].as_str().unwrap().to_string()).collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn diff_finds_exactly_the_expected_classes_in_every_corpus_scenario() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/diff");
    let mut seen = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let expected_file = dir.join("expected.json");
        if !expected_file.is_file() {
            continue;
        }
        seen += 1;
        let expected: Value = serde_json::from_str(&std::fs::read_to_string(&expected_file).unwrap()).unwrap();
        let before = dir.join("before");
        let after = dir.join("after");
        let (code, out, err) = run(&["diff", before.to_str().unwrap(), after.to_str().unwrap(), "--format", "json"]);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{}: {e}\n{out}\n{err}", dir.display()));
        assert_eq!(summaries(&v, "added"), strings(&expected["added"]), "added in {}", dir.display());
        assert_eq!(summaries(&v, "removed"), strings(&expected["removed"]), "removed in {}", dir.display());
        assert_eq!(v["undecided"], Value::Array(vec![]), "{}", dir.display());
        assert_eq!(i64::from(code), expected["exit"].as_i64().unwrap(), "exit code of {}", dir.display());
        // Every example was replayed: allowed on one side, denied on the other.
        for c in v["added"].as_array().unwrap() {
            assert!(matches!(c["example"]["after"].as_str(), Some("allow" | "unknown")), "{c}");
            assert!(c["example"]["before"].as_str().unwrap().contains("deny"), "{c}");
        }
        for c in v["removed"].as_array().unwrap() {
            assert_eq!(c["example"]["before"], "allow", "{c}");
            assert!(c["example"]["after"].as_str().unwrap().contains("deny"), "{c}");
        }
    }
    assert!(seen >= 2, "no scenarios found in {}", root.display());
}

#[test]
fn a_snapshot_diffed_with_itself_has_no_change_and_needs_no_solver() {
    let (code, out, _) = run(&["diff", "corpus/central-kms", "corpus/central-kms", "--format", "json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["added"], Value::Array(vec![]));
    assert_eq!(v["removed"], Value::Array(vec![]));
    assert_eq!(v["pairs"], v["pairs_identical"], "Rust shows every pair identical");
}

#[test]
fn removed_access_fails_only_with_the_flag() {
    // Swapping the classes scenario makes its additions removals and its removal an addition.
    let d = "corpus/diff/classes";
    let (code, _, _) = run(&["diff", &format!("{d}/after"), &format!("{d}/after"), "--fail-on-removed"]);
    assert_eq!(code, 0);
    let (code, out, _) = run(&["diff", &format!("{d}/after"), &format!("{d}/before"), "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summaries(&v, "added").len(), 1);
    assert_eq!(summaries(&v, "removed").len(), 5);
    assert_eq!(code, 1);
    let sg = "corpus/terraform/scp-region-deny/plan.json";
    let (code, _, _) = run(&["diff", "corpus/central-kms", "--plan", sg]);
    assert_eq!(code, 0, "only removals: no failure by default");
    let (code, _, _) = run(&["diff", "corpus/central-kms", "--plan", sg, "--fail-on-removed"]);
    assert_eq!(code, 1);
}

#[test]
fn sarif_points_at_the_grant_that_adds_the_access() {
    let d = "corpus/diff/test-grant-on-prod-key";
    let (code, out, _) = run(&["diff", &format!("{d}/before"), &format!("{d}/after"), "--format", "sarif"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r["ruleId"], "keyproof/access-added");
    assert_eq!(r["level"], "error");
    let loc = &r["locations"][0]["physicalLocation"];
    assert_eq!(
        loc["artifactLocation"]["uri"],
        "corpus/diff/test-grant-on-prod-key/after/accounts/111122223333/kms/us-east-1/6f1e2d3c-4b5a-4698-8776-5a4b3c2d1e0f.json"
    );
    assert_eq!(loc["region"]["startLine"], 39, "the added grant's line");
    assert!(r["message"]["text"].as_str().unwrap().contains("can now kms:Decrypt, kms:DescribeKey alias/ebs-prod-key"));
}

#[test]
fn sarif_from_a_plan_points_at_the_plan_file_and_the_terraform_address() {
    let (code, out, _) = run(&[
        "diff",
        "corpus/central-kms",
        "--plan",
        "corpus/terraform/central-kms-change/plan.json",
        "--format",
        "sarif",
    ]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    let reader = results
        .iter()
        .find(|r| {
            r["message"]["text"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:iam::111122223333:role/ReportReader can now kms:Decrypt alias/s3-prod-key")
        })
        .unwrap();
    let loc = &reader["locations"][0];
    assert_eq!(loc["physicalLocation"]["artifactLocation"]["uri"], "corpus/terraform/central-kms-change/plan.json");
    assert_eq!(loc["logicalLocations"][0]["fullyQualifiedName"], "aws_iam_role_policy.report_reader_kms");
    let grant = results
        .iter()
        .find(|r| {
            r["message"]["text"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:iam::555566667777:role/AppRole can now kms:Decrypt alias/s3-prod-key")
        })
        .unwrap();
    let loc = &grant["locations"][0];
    assert_eq!(loc["physicalLocation"]["artifactLocation"]["uri"], "corpus/terraform/central-kms-change/plan.json");
    assert_eq!(loc["physicalLocation"]["region"]["startLine"], 240, "the grant's resource change");
    assert_eq!(loc["logicalLocations"][0]["fullyQualifiedName"], "aws_kms_grant.test_app_on_prod_s3");
}

/// `docs/ci.md` runs as written: every ```console block starts with `$ keyproof …`, shows the
/// output (all of it, or the lines it shows in order when it has a `…` line) and ends with
/// `[exit code N]`.
#[test]
fn the_commands_of_docs_ci_md_run_as_written() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci.md")).unwrap();
    let mut blocks = 0;
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```console\n") {
        let body = &rest[start + "```console\n".len()..];
        let end = body.find("```").unwrap();
        let block = &body[..end];
        rest = &body[end + 3..];
        let mut lines: Vec<&str> = block.lines().collect();
        let command = lines.remove(0).strip_prefix("$ keyproof ").unwrap();
        let exit_line = lines.pop().unwrap();
        let want_code: i32 =
            exit_line.strip_prefix("[exit code ").and_then(|s| s.strip_suffix(']')).unwrap().parse().unwrap();
        let args: Vec<&str> = command.split_whitespace().collect();
        let (code, out, err) = run(&args);
        assert_eq!(code, want_code, "`keyproof {command}`\n{out}\n{err}");
        if lines.contains(&"…") {
            let mut from = 0;
            for l in lines.iter().filter(|l| **l != "…") {
                let at =
                    out[from..].find(l).unwrap_or_else(|| panic!("`{l}` not in the output of `{command}`:\n{out}"));
                from += at + l.len();
            }
        } else {
            assert_eq!(out.trim_end(), lines.join("\n").trim_end(), "output of `keyproof {command}`");
        }
        blocks += 1;
    }
    assert!(blocks >= 2);
}

#[test]
fn diff_sarif_validates_against_the_sarif_2_1_0_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft4::new(&schema).unwrap();
    for args in [
        vec!["diff", "corpus/diff/classes/before", "corpus/diff/classes/after", "--format", "sarif"],
        vec![
            "diff",
            "corpus/central-kms",
            "--plan",
            "corpus/terraform/central-kms-change/plan.json",
            "--format",
            "sarif",
        ],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 1, "{err}");
        let sarif: Value = serde_json::from_str(&out).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&sarif).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "SARIF does not validate: {errors:#?}");
    }
}
