//! `keyproof lint`, `keyproof rules` and `keyproof rule CODE` through the binary: the demo's
//! findings pinned (without and with its keyproof.toml), exit codes, and the SARIF output
//! validated against the official SARIF 2.1.0 JSON schema (vendored in tests/data, from the npm
//! package @microsoft/jest-sarif, `sarif-2.1.0-rtm.5.json`, MIT).

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers: a failed check is a panic that says what failed")]

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
    // The snapshot folder holds a keyproof.toml, which lint would find: --isolated reads none.
    let (code, out, err) = keyproof(&["lint", "--snapshot", "corpus/central-kms", "--isolated"]);
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
    assert_eq!(codes, ["KP008", "KP010", "KP011", "KP012", "KP014", "KP017"]);
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
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 18);
        for r in run["results"].as_array().unwrap() {
            let loc = &r["locations"][0]["physicalLocation"];
            let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
            assert!(
                Path::new(uri).is_file() && uri.starts_with("corpus/central-kms/"),
                "{uri} is not a snapshot file as named"
            );
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

fn sarif_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"))
            .unwrap(),
    )
    .unwrap();
    jsonschema::draft4::new(&schema).unwrap()
}

fn assert_valid_sarif(validator: &jsonschema::Validator, text: &str) -> Value {
    let sarif: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"));
    let errors: Vec<String> = validator.iter_errors(&sarif).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "SARIF does not validate: {errors:#?}");
    sarif
}

/// The environment of one run of the Action's step, the exit code it must give, and two lines of
/// the job summary.
type ActionCase<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, &'a str);

/// What one run of the Action's `run` step left behind.
struct ActionRun {
    log: String,
    outputs: String,
    sarif: String,
    summary: String,
}

/// Runs `scripts/action.sh run` (the Action's run step) as the Action does, with the built
/// keyproof first on PATH and GitHub's output and summary files in a temporary folder.
fn action_run(env: &[(&str, &str)]) -> ActionRun {
    let dir = tempfile::tempdir().unwrap();
    let (outputs, summary, sarif) =
        (dir.path().join("output"), dir.path().join("summary.md"), dir.path().join("keyproof.sarif"));
    let bin = Path::new(env!("CARGO_BIN_EXE_keyproof")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("scripts/action.sh").arg("run").current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env("PATH", path).env("GITHUB_OUTPUT", &outputs).env("GITHUB_STEP_SUMMARY", &summary);
    cmd.env("KP_SARIF", &sarif);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "the step itself succeeds; the exit code is its output");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    ActionRun {
        log: format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        outputs: read(&outputs),
        sarif: read(&sarif),
        summary: read(&summary),
    }
}

#[test]
fn the_action_runs_each_command_once_with_every_output() {
    let validator = sarif_validator();
    let cases: [ActionCase<'_>; 4] = [
        (
            &[("KP_COMMAND", "lint"), ("KP_SNAPSHOT", "corpus/central-kms")],
            "exit-code=1",
            "### keyproof lint",
            "| KP014 ",
        ),
        (
            &[
                ("KP_COMMAND", "check"),
                ("KP_SNAPSHOT", "corpus/central-kms"),
                ("KP_PROPERTIES", "corpus/central-kms/properties.kp"),
            ],
            "exit-code=1",
            "### keyproof check `corpus/central-kms/properties.kp`",
            "| `prod_only_decrypt` | ✘ violated |",
        ),
        (
            &[
                ("KP_COMMAND", "diff"),
                ("KP_SNAPSHOT", "corpus/diff/test-grant-on-prod-key/before"),
                ("KP_AFTER", "corpus/diff/test-grant-on-prod-key/after"),
            ],
            "exit-code=1",
            "### keyproof diff `corpus/diff/test-grant-on-prod-key/before`",
            "| ➕ added |",
        ),
        (
            &[("KP_COMMAND", "diff"), ("KP_SNAPSHOT", "corpus/central-kms"), ("KP_AFTER", "corpus/central-kms")],
            "exit-code=0",
            "0 added, 0 removed, 0 undecided (exit code 0)",
            "### keyproof diff",
        ),
    ];
    for (env, exit, heading, row) in cases {
        let run = action_run(env);
        assert_eq!(run.log.matches("::group::keyproof").count(), 1, "one run:\n{}", run.log);
        assert!(run.log.contains(" --sarif "), "{}", run.log);
        assert_eq!(run.outputs.trim(), exit, "{}", run.log);
        let sarif = assert_valid_sarif(&validator, &run.sarif);
        assert_eq!(sarif["runs"][0]["invocations"][0]["executionSuccessful"], true);
        assert_eq!(
            run.outputs.trim().strip_prefix("exit-code=").unwrap(),
            sarif["runs"][0]["invocations"][0]["exitCode"].to_string()
        );
        assert!(run.summary.contains(heading) && run.summary.contains(row), "{env:?}: summary:\n{}", run.summary);
    }
    // The text report is in the log (the one run's stdout).
    let run = action_run(&[("KP_COMMAND", "lint"), ("KP_SNAPSHOT", "corpus/central-kms")]);
    assert!(run.log.contains("KP014 [warning] service-principal-without-source-condition"), "{}", run.log);
    // An error: still SARIF (the error as a notification), exit code 2, the error in the log
    // and in the summary.
    for env in [
        &[("KP_COMMAND", "lint"), ("KP_SNAPSHOT", "corpus/no-such-snapshot")][..],
        &[("KP_COMMAND", "check"), ("KP_SNAPSHOT", "corpus/central-kms"), ("KP_PROPERTIES", "no-such.kp")][..],
        &[("KP_COMMAND", "lint"), ("KP_SNAPSHOT", "corpus/bad/three-errors")][..],
        // A flag clap rejects (a typo in the Action's `args`).
        &[("KP_COMMAND", "lint"), ("KP_SNAPSHOT", "corpus/central-kms"), ("KP_ARGS", "--fail-on-typo")][..],
    ] {
        let run = action_run(env);
        assert_eq!(run.outputs.trim(), "exit-code=2", "{}", run.log);
        let sarif = assert_valid_sarif(&validator, &run.sarif);
        let invocation = &sarif["runs"][0]["invocations"][0];
        assert_eq!(invocation["executionSuccessful"], false);
        assert_eq!(invocation["exitCode"], 2);
        let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
        assert!(!notes.is_empty() && notes.iter().all(|n| n["level"] == "error"), "{notes:#?}");
        assert_eq!(sarif["runs"][0]["results"], Value::Array(vec![]));
        assert!(run.summary.contains("error"), "{}", run.summary);
        assert!(run.log.contains("::error::keyproof"), "{}", run.log);
    }
    // The broken snapshot's three errors, each located.
    let run = action_run(&[("KP_COMMAND", "lint"), ("KP_SNAPSHOT", "corpus/bad/three-errors")]);
    let sarif: Value = serde_json::from_str(&run.sarif).unwrap();
    let lines: Vec<u64> = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [14, 23, 32]);
    // summary: false leaves the job summary alone.
    let run = action_run(&[("KP_COMMAND", "lint"), ("KP_SNAPSHOT", "corpus/central-kms"), ("KP_SUMMARY", "false")]);
    assert_eq!(run.summary, "");
}

#[test]
fn the_action_cache_key_is_the_version_and_a_hash_of_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("output");
    let status = std::process::Command::new("bash")
        .args(["scripts/action.sh", "cache-key"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GITHUB_OUTPUT", &out)
        .env("RUNNER_OS", "Linux")
        .env_remove("GITHUB_ACTION_PATH")
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    let key = text.lines().find_map(|l| l.strip_prefix("key=")).unwrap();
    let prefix = format!("keyproof-Linux-v{}-", env!("CARGO_PKG_VERSION"));
    let hash = key.strip_prefix(&prefix).unwrap_or_else(|| panic!("{key}"));
    assert_eq!(hash.len(), 16);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
    assert!(text.contains(&format!("restore={prefix}\n")), "{text}");
    // action.yml calls the script for both steps, and no longer installs libclang.
    let action = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    assert!(action.contains("scripts/action.sh\" cache-key") && action.contains("scripts/action.sh\" run"));
    assert!(!action.contains("libclang"));
    assert!(action.contains("key: ${{ steps.cache-key.outputs.key }}"));
}

#[test]
fn every_output_of_one_run_and_sarif_on_stdout_on_an_error() {
    let validator = sarif_validator();
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let (code, out, err) = keyproof(&[
        "lint",
        "--snapshot",
        "corpus/central-kms",
        "--format",
        "text",
        "--sarif",
        &p("l.sarif"),
        "--json",
        &p("l.json"),
        "--markdown",
        &p("l.md"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("KP014 [warning]"), "{out}");
    assert_valid_sarif(&validator, &std::fs::read_to_string(p("l.sarif")).unwrap());
    let json: Value = serde_json::from_str(&std::fs::read_to_string(p("l.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], 2);
    assert_eq!(json["tool"]["name"], "keyproof");
    assert_eq!(json["tool"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["exit_code"], 1);
    let md = std::fs::read_to_string(p("l.md")).unwrap();
    assert!(md.starts_with("### keyproof lint\n\n| rule | severity | key | finding |\n"), "{md}");
    // --format sarif on an error: SARIF on stdout, exit code 2.
    let (code, out, err) = keyproof(&["lint", "--snapshot", "corpus/no-such-snapshot", "--format", "sarif"]);
    assert_eq!(code, 2);
    let sarif = assert_valid_sarif(&validator, &out);
    assert_eq!(sarif["runs"][0]["invocations"][0]["executionSuccessful"], false);
    assert!(
        sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("corpus/no-such-snapshot"),
        "{out}"
    );
    assert!(err.contains("corpus/no-such-snapshot"), "the error is said on stderr too: {err}");
    // A command line clap rejects, with --format sarif: SARIF on stdout too, clap's usage on stderr.
    let (code, out, err) = keyproof(&["lint", "--format", "sarif", "--no-such-flag"]);
    assert_eq!(code, 2);
    let sarif = assert_valid_sarif(&validator, &out);
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"],
        "unexpected argument '--no-such-flag' found"
    );
    assert!(err.contains("Usage: keyproof lint"), "{err}");
    // JSON errors and answers carry the schema and the tool.
    let (code, out, _) = keyproof(&["lint", "--snapshot", "corpus/no-such-snapshot", "--format", "json"]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["schema"].as_u64(), v["tool"]["name"].as_str()), (Some(2), Some("keyproof")), "{v}");
    for args in [
        &["who-can", "kms:Decrypt", "alias/s3-prod-key", "--format", "json"][..],
        &[
            "explain",
            "--principal",
            "s3.amazonaws.com",
            "--action",
            "kms:Decrypt",
            "--key",
            "alias/s3-prod-key",
            "--format",
            "json",
        ][..],
        &["check", "corpus/central-kms/properties.kp", "--format", "json"][..],
    ] {
        let (_, out, _) = keyproof(args);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (v["schema"].as_u64(), v["tool"]["version"].as_str()),
            (Some(2), Some(env!("CARGO_PKG_VERSION"))),
            "{args:?}"
        );
    }
}

// ── keyproof.toml discovery and `keyproof config` (issue 13, item 3) ─────────────────────────

/// Runs keyproof in `dir`.
fn keyproof_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("keyproof").unwrap().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn counts(json: &str) -> (usize, usize) {
    let v: Value = serde_json::from_str(json).unwrap();
    (v["findings"].as_array().unwrap().len(), v["suppressed"].as_array().unwrap().len())
}

#[test]
fn keyproof_toml_is_found_from_the_snapshot_folder_and_from_the_current_folder_up() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The symptom: 7 findings from inside the folder, 5 from the repository root. Now the
    // file in the snapshot folder is found both ways.
    let (code, from_root, err) = keyproof(&["lint", "--snapshot", "corpus/central-kms", "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    let (code, from_inside, err) =
        keyproof_in(&root.join("corpus/central-kms"), &["lint", "--snapshot", ".", "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(counts(&from_root), (8, 1), "the demo's settings: KP010 and KP012 run, KP013 is suppressed");
    assert_eq!(counts(&from_inside), (8, 1));
    let (_, isolated, _) = keyproof(&["lint", "--snapshot", "corpus/central-kms", "--isolated", "--format", "json"]);
    assert_eq!(counts(&isolated), (6, 0), "the built-in settings");

    // Upward from the current folder, for a snapshot folder that has none.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keyproof.toml"), "fail_on = \"error\"\nselect = [\"KP014\"]\n").unwrap();
    let sub = dir.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    let before = root.join("corpus/diff/test-grant-on-prod-key/before");
    let before = before.to_str().unwrap();
    let (code, out, err) = keyproof_in(&sub, &["lint", "--snapshot", before]);
    assert_eq!(code, 0, "KP014 is a warning and the file says fail_on = error:\n{out}{err}");
    assert!(out.contains("KP014 [warning]") && out.contains("rules run: KP014\n"), "{out}");
    assert_eq!(keyproof_in(&sub, &["lint", "--snapshot", before, "--fail-on", "warning"]).0, 1, "the flag wins");
    // --config names one; a missing one is an error, not the defaults.
    let elsewhere = dir.path().join("elsewhere.toml");
    std::fs::write(&elsewhere, "select = [\"KP013\"]\n").unwrap();
    let (code, out, _) = keyproof_in(&sub, &["lint", "--snapshot", before, "--config", elsewhere.to_str().unwrap()]);
    assert!(out.contains("rules run: KP013\n"), "{out}");
    assert_eq!(code, 0, "KP013 is a note, below the default fail_on (warning):\n{out}");
    assert_eq!(keyproof_in(&sub, &["lint", "--snapshot", before, "--config", "nope.toml"]).0, 2);

    // The file names the snapshot (relative to its folder).
    std::fs::write(dir.path().join("keyproof.toml"), "snapshot = \"demo\"\n").unwrap();
    let demo = dir.path().join("demo");
    std::fs::create_dir_all(demo.join("accounts")).unwrap();
    std::fs::copy(root.join("corpus/central-kms/organization.json"), demo.join("organization.json")).unwrap();
    let (code, out, err) = keyproof_in(&sub, &["lint", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["snapshot"]["embedded_demo"], false, "{v}");
    assert!(v["snapshot"]["path"].as_str().unwrap().ends_with("demo"), "{v}");
}

/// `snapshot` in keyproof.toml is read by every command that answers on one snapshot, not only
/// by `lint` (issue 13, item 3); the flag still wins, and without a file it is the demo.
#[test]
fn every_command_takes_the_snapshot_keyproof_toml_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let corpus = root.join("corpus/central-kms");
    let corpus = corpus.to_str().unwrap();
    std::fs::write(dir.path().join("keyproof.toml"), format!("snapshot = {corpus:?}\n")).unwrap();
    let sub = dir.path().join("ci");
    std::fs::create_dir_all(&sub).unwrap();
    let properties = root.join("corpus/central-kms/properties.kp");
    let explain =
        ["explain", "--principal", "s3.amazonaws.com", "--action", "kms:Decrypt", "--key", "alias/s3-prod-key"];
    let commands: [Vec<&str>; 4] = [
        vec!["who-can", "kms:Decrypt", "alias/s3-prod-key"],
        explain.to_vec(),
        vec!["check", properties.to_str().unwrap()],
        vec!["can", "arn:aws:iam::444455556666:role/AppRole", "kms:Decrypt"],
    ];
    for args in &commands {
        let mut args = args.clone();
        args.extend(["--format", "json"]);
        let (_, out, err) = keyproof_in(&sub, &args);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}{err}"));
        assert_eq!(v["snapshot"]["embedded_demo"], false, "{args:?}: {v}");
        assert_eq!(v["snapshot"]["path"], corpus, "{args:?}");
        let file = dir.path().join("keyproof.toml");
        let said = format!("keyproof: no --snapshot given: the snapshot {corpus} that {} names", file.display());
        assert!(err.contains(&said), "{args:?}: {err}");
        assert!(!err.contains("embedded demo"), "{args:?}: {err}");
        // The flag wins.
        let before = root.join("corpus/diff/test-grant-on-prod-key/before");
        let mut flagged = args.clone();
        flagged.extend(["--snapshot", before.to_str().unwrap()]);
        let (_, out, err) = keyproof_in(&sub, &flagged);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{flagged:?}: {e}\n{out}{err}"));
        assert_eq!(v["snapshot"]["path"], before.to_str().unwrap(), "{flagged:?}");
        assert!(!err.contains("keyproof.toml names"), "{err}");
    }
    // Lint's own settings are lint's: a rule this version does not know does not stop who-can
    // (lint refuses it); a `snapshot` that is not a string is refused with its place.
    std::fs::write(dir.path().join("keyproof.toml"), format!("snapshot = {corpus:?}\nselect = [\"KP999\"]\n")).unwrap();
    let (code, out, err) = keyproof_in(&sub, &["who-can", "kms:Decrypt", "alias/s3-prod-key", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(keyproof_in(&sub, &["lint"]).0, 2, "lint checks its settings");
    std::fs::write(dir.path().join("keyproof.toml"), "snapshot = 3\n").unwrap();
    let (code, _, err) = keyproof_in(&sub, &["who-can", "kms:Decrypt", "alias/s3-prod-key"]);
    assert_eq!(code, 2);
    assert!(err.contains("keyproof.toml:1:12"), "{err}");
}

#[test]
fn the_default_fail_on_is_warning() {
    // KP013 alone finds a note on the demo: not a failure unless asked.
    let (code, out, _) = keyproof(&["lint", "--isolated", "--select", "KP013"]);
    assert!(out.contains("KP013 [note]"), "{out}");
    assert_eq!(code, 0);
    assert_eq!(keyproof(&["lint", "--isolated", "--select", "KP013", "--fail-on", "note"]).0, 1);
}

#[test]
fn config_prints_each_setting_and_where_it_came_from() {
    let (code, out, err) = keyproof(&["config", "--snapshot", "corpus/central-kms", "--fail-on", "error"]);
    assert_eq!(code, 0, "{err}");
    let line = |key: &str| {
        out.lines().find(|l| l.starts_with(&format!("{key} = "))).unwrap_or_else(|| panic!("{key}:\n{out}"))
    };
    assert!(
        out.starts_with("# keyproof.toml: corpus/central-kms/keyproof.toml (found from the snapshot folder)\n"),
        "{out}"
    );
    assert!(line("snapshot").ends_with("# --snapshot"), "{out}");
    assert!(line("fail_on").starts_with("fail_on = \"error\"") && line("fail_on").ends_with("# --fail-on"), "{out}");
    assert!(line("security_accounts").starts_with("security_accounts = [\"111122223333\"]"), "{out}");
    assert!(line("security_accounts").ends_with("# corpus/central-kms/keyproof.toml"), "{out}");
    assert!(line("shared_key_max_accounts").ends_with("# default"), "{out}");
    let (code, out, _) = keyproof(&["config", "--isolated", "--format", "json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["file"], Value::Null);
    assert_eq!(v["settings"]["fail_on"]["value"], "warning");
    assert_eq!(v["settings"]["fail_on"]["from"], "default");
    assert_eq!(v["settings"]["snapshot"]["value"], "corpus/central-kms (embedded)");
    assert_eq!(v["schema"], 2);
}

#[test]
fn the_demo_delegation_the_rcp_blocks_is_noted_with_its_reason() {
    let (code, out, err) =
        keyproof(&["lint", "--snapshot", "corpus/central-kms", "--select", "KP017", "--format", "json"]);
    assert_eq!(code, 0, "a note does not fail (fail_on = warning): {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{v:#}");
    let f = &findings[0];
    assert_eq!(f["severity"], "note");
    assert_eq!(f["alias"], "alias/master-key-org");
    assert_eq!(
        f["message"],
        "key policy statement AllowPartnerDecryptTemporary allows account 123456789012 kms:Decrypt, kms:DescribeKey, \
         but can never apply: RCP KmsIdentityPerimeter (p-rcpidentityperimeter) at Root, statement \
         EnforceOrgIdentityPerimeter denies every such request"
    );
    let whats: Vec<&str> = f["locations"].as_array().unwrap().iter().map(|l| l["what"].as_str().unwrap()).collect();
    assert_eq!(whats[0], "key policy statement AllowPartnerDecryptTemporary");
    assert!(whats[1].ends_with("statement EnforceOrgIdentityPerimeter (the RCP that blocks it)"), "{whats:?}");
    assert_eq!(f["locations"][1]["file"], "corpus/central-kms/organization.json");
}
