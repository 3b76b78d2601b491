//! `keyproof lint`, `keyproof rules` and `keyproof rule CODE` through the binary: the demo's
//! findings pinned (without and with its keyproof.toml), exit codes, and the SARIF output
//! validated against the official SARIF 2.1.0 JSON schema (vendored in tests/data, from the npm
//! package @microsoft/jest-sarif, `sarif-2.1.0-rtm.5.json`, MIT).

#![expect(clippy::unwrap_used, reason = "test helpers: a failed check is a panic that says what failed")]

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn keyproof(args: &[&str]) -> (i32, String, String) {
    let out =
        Command::cargo_bin("keyproof").unwrap().current_dir(env!("CARGO_MANIFEST_DIR")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const DEMO_CONFIG: &str = "corpus/central-kms/keyproof.toml";

#[test]
fn lint_demo_without_settings() {
    let (code, out, err) = keyproof(&["lint", "--snapshot", "corpus/central-kms"]);
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!("lint_demo_text", out);
}

#[test]
fn lint_demo_with_its_settings() {
    let (code, out, err) = keyproof(&["lint", "--snapshot", "corpus/central-kms", "--config", DEMO_CONFIG]);
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!("lint_demo_config_text", out);
}

#[test]
fn lint_demo_json_lists_findings_by_code() {
    let (code, out, _) = keyproof(&["lint", "--config", DEMO_CONFIG, "--format", "json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut codes: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    codes.dedup();
    assert_eq!(codes, ["KP008", "KP010", "KP011", "KP012", "KP014"]);
    assert_eq!(v["suppressed"][0]["finding"]["code"], "KP013");
    assert_eq!(v["undetermined"], Value::Array(vec![]));
}

#[test]
fn fail_on_and_select_pick_the_exit_code() {
    assert_eq!(keyproof(&["lint", "--select", "KP014", "--fail-on", "error"]).0, 0);
    assert_eq!(keyproof(&["lint", "--select", "KP014", "--fail-on", "warning"]).0, 1);
    assert_eq!(keyproof(&["lint", "--select", "KP004,KP005"]).0, 0);
    assert_eq!(keyproof(&["lint", "--ignore", "KP008,KP011,KP013,KP014"]).0, 0);
    let (code, _, err) = keyproof(&["lint", "--select", "KP099"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown rule `KP099`"), "{err}");
}

#[test]
fn a_suppression_without_a_reason_is_an_error() {
    let dir = std::env::temp_dir().join(format!("keyproof-lint-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keyproof.toml");
    std::fs::write(&path, "[[suppress]]\nrule = \"KP013\"\nkey = \"alias/master-key-org\"\n").unwrap();
    let (code, _, err) = keyproof(&["lint", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("has no `reason`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_sarif_validates_against_the_sarif_2_1_0_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft4::new(&schema).unwrap();
    for args in [
        vec!["lint", "--snapshot", "corpus/central-kms", "--format", "sarif"],
        vec!["lint", "--snapshot", "corpus/central-kms", "--config", DEMO_CONFIG, "--format", "sarif"],
    ] {
        let (code, out, err) = keyproof(&args);
        assert_eq!(code, 1, "{err}");
        let sarif: Value = serde_json::from_str(&out).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&sarif).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "SARIF does not validate: {errors:#?}");
        let run = &sarif["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 16);
        for r in run["results"].as_array().unwrap() {
            let loc = &r["locations"][0]["physicalLocation"];
            let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
            assert!(Path::new("corpus/central-kms").join(uri).is_file(), "{uri} is not a snapshot file");
            assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
            assert!(r["partialFingerprints"]["keyproofFinding/v1"].is_string());
        }
    }
}

#[test]
fn rules_lists_every_rule_and_rule_prints_its_doc() {
    let (code, out, _) = keyproof(&["rules"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("rules_text", out);
    let (code, out, _) = keyproof(&["rule", "KP004"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("# KP004 external-access\n"), "{out}");
    for section in ["## What it finds", "## Why it matters", "## Example", "## How to fix", "## References"] {
        assert!(out.contains(section), "{section}");
    }
    assert_eq!(keyproof(&["rule", "KP404"]).0, 2);
}
