//! `keyproof explain` on the embedded demo (`corpus/central-kms`), pinned with insta snapshots in
//! JSON and in text, with its exit codes: 0 allow, 1 deny, 2 unknown or error. The requests and
//! their decisions are cases of `corpus/central-kms/cases.toml`; the snapshots were reviewed by
//! eye against those cases.

#![expect(clippy::unwrap_used, reason = "test helpers: a failed check is a panic that says what failed")]

use assert_cmd::Command;
use serde_json::Value;
use std::io::Read as _;
use std::path::Path;
use std::process::Stdio;

const APP_ROLE: &str = "arn:aws:iam::444455556666:role/AppRole";

/// One request of the demo, with the decision `cases.toml` expects and the exit code it gives.
struct Request {
    principal: &'static str,
    action: &'static str,
    key: &'static str,
    decision: &'static str,
    exit: i32,
}

/// `prod-app-decrypts-master-key`: the key policy lets the organization in, AppRole's IAM allows.
const ALLOW: Request =
    Request { principal: APP_ROLE, action: "kms:Decrypt", key: "alias/master-key-org", decision: "allow", exit: 0 };

/// `prod-app-disables-s3-key`: an SCP denies key administration to the workloads.
const EXPLICIT_DENY: Request = Request {
    principal: APP_ROLE,
    action: "kms:DisableKey",
    key: "alias/s3-prod-key",
    decision: "explicit-deny",
    exit: 1,
};

/// `prod-app-direct-decrypt-s3-key`: the key is usable only through S3 (kms:ViaService absent).
const IMPLICIT_DENY: Request = Request {
    principal: APP_ROLE,
    action: "kms:Decrypt",
    key: "alias/s3-prod-key",
    decision: "implicit-deny",
    exit: 1,
};

/// `dev-app-creategrant-operations-not-given`: the answer depends on kms:GrantOperations.
const UNKNOWN: Request = Request {
    principal: "arn:aws:iam::666677778888:role/AppRole",
    action: "kms:CreateGrant",
    key: "alias/ebs-prod-key",
    decision: "unknown",
    exit: 2,
};

/// `partner-decrypts-master-key-rcp`: a principal of an account that is not in the snapshot;
/// the key policy names its account, but the identity-perimeter RCP denies it.
const OUTSIDE_ACCOUNT: Request = Request {
    principal: "arn:aws:iam::123456789012:role/PartnerReader",
    action: "kms:Decrypt",
    key: "alias/master-key-org",
    decision: "explicit-deny",
    exit: 1,
};

fn keyproof() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyproof"));
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Every command run without `--snapshot` says on stderr that it answers on the embedded demo
/// (issue 9: a CI job that forgot `--snapshot` must not pass on the demo's answers in silence).
const DEMO_NOTICE: &str =
    "keyproof: no --snapshot given: answering on the embedded demo organization corpus/central-kms (embedded)\n";

#[test]
fn the_demo_default_is_announced_and_a_named_snapshot_is_not() {
    let run = |extra: &[&str]| {
        let out = keyproof()
            .args(["explain", "--principal", APP_ROLE, "--action", "kms:Decrypt", "--key", "alias/s3-prod-key"])
            .args(["--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (String::from_utf8(out.stderr).unwrap(), v)
    };
    let (stderr, v) = run(&[]);
    assert_eq!(stderr, DEMO_NOTICE);
    assert_eq!(v["snapshot"]["embedded_demo"], true, "{v}");
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/central-kms");
    let (stderr, v) = run(&["--snapshot", demo]);
    assert_eq!(stderr, "", "a named snapshot with PolicyTypes has nothing to announce");
    assert_eq!(v["snapshot"]["embedded_demo"], false, "{v}");
    assert_eq!(v["snapshot"]["path"], demo, "{v}");
}

fn explain(r: &Request, format: &str) -> (i32, String, String) {
    let out = keyproof()
        .args(["explain", "--principal", r.principal, "--action", r.action, "--key", r.key, "--format", format])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), stderr)
}

/// The JSON answer: `{"decision": ..., "trace": [...]}` with the expected decision and exit code.
fn explain_json(r: &Request) -> Value {
    let (code, stdout, stderr) = explain(r, "json");
    assert_eq!(code, r.exit, "exit code of {} {} {}; stderr:\n{stderr}", r.principal, r.action, r.key);
    assert_eq!(stderr, DEMO_NOTICE, "nothing on stderr but the demo notice when the answer is printed");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["decision"], r.decision, "{stdout}");
    let trace = v["trace"].as_array().unwrap();
    assert!(!trace.is_empty(), "a decision always comes with its trace");
    for entry in trace {
        assert!(entry["layer"].is_string() && entry["outcome"].is_string() && entry["detail"].is_string(), "{entry}");
    }
    v
}

fn explain_text(r: &Request) -> String {
    let (code, stdout, stderr) = explain(r, "text");
    assert_eq!(code, r.exit, "{stderr}");
    assert_eq!(stderr, DEMO_NOTICE);
    stdout
}

#[test]
fn allow_json() {
    insta::assert_json_snapshot!(explain_json(&ALLOW));
}

#[test]
fn explicit_deny_json() {
    insta::assert_json_snapshot!(explain_json(&EXPLICIT_DENY));
}

#[test]
fn implicit_deny_json() {
    insta::assert_json_snapshot!(explain_json(&IMPLICIT_DENY));
}

#[test]
fn unknown_json() {
    let v = explain_json(&UNKNOWN);
    insta::assert_json_snapshot!(v);
}

#[test]
fn outside_account_json() {
    insta::assert_json_snapshot!(explain_json(&OUTSIDE_ACCOUNT));
}

#[test]
fn allow_text() {
    let text = explain_text(&ALLOW);
    assert!(text.starts_with("decision: ALLOW\n"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn explicit_deny_text() {
    let text = explain_text(&EXPLICIT_DENY);
    assert!(text.starts_with("decision: EXPLICIT DENY\n"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn implicit_deny_text() {
    let text = explain_text(&IMPLICIT_DENY);
    assert!(text.starts_with("decision: IMPLICIT DENY\n"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn unknown_text() {
    let text = explain_text(&UNKNOWN);
    assert!(text.starts_with("decision: UNKNOWN\n"), "{text}");
    assert!(text.contains("\nunknown because:\n"), "an unknown answer says why:\n{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn outside_account_text() {
    let text = explain_text(&OUTSIDE_ACCOUNT);
    assert!(text.starts_with("decision: EXPLICIT DENY\n"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn json_error_goes_to_stdout() {
    let r = Request { key: "alias/no-such-key", ..ALLOW };
    let (code, stdout, stderr) = explain(&r, "json");
    assert_eq!(code, 2);
    assert_eq!(stderr, DEMO_NOTICE);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["error"]["message"], "no key `alias/no-such-key` in the snapshot", "{stdout}");
    assert_eq!(v["error"]["code"], "keyproof::unknown_key");
}

#[test]
fn json_error_of_a_broken_snapshot_has_every_location() {
    // Named relative to the working directory, as a user would: locations are under it.
    let snapshot = "corpus/bad/three-errors";
    let out = keyproof()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["explain", "--principal", APP_ROLE, "--action", "kms:Decrypt", "--key", "alias/bad-input-key"])
        .args(["--format", "json", "--snapshot"])
        .arg(snapshot)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = "corpus/bad/three-errors/accounts/111122223333/kms/us-east-1/1234abcd-12ab-34cd-56ef-1234567890ab.json";
    let locations: Vec<&str> =
        v["error"]["related"].as_array().unwrap().iter().map(|e| e["location"].as_str().unwrap()).collect();
    assert_eq!(locations, [format!("{key}:14:19"), format!("{key}:23:19"), format!("{key}:32:23")]);
    insta::assert_json_snapshot!(v);
}

#[test]
fn exit_codes_follow_the_decision() {
    for r in [&ALLOW, &EXPLICIT_DENY, &IMPLICIT_DENY, &UNKNOWN, &OUTSIDE_ACCOUNT] {
        let (code, _, stderr) = explain(r, "text");
        assert_eq!(code, r.exit, "{} {} {}: {stderr}", r.principal, r.action, r.key);
    }
}

/// `keyproof explain … | head -c 10`: the reader goes away before the output is written. The
/// program ends as it would have (exit code of the decision), with no panic message.
#[test]
fn broken_pipe_is_a_clean_exit() {
    for format in ["text", "json"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_keyproof"))
            .args(["explain", "--principal", APP_ROLE, "--action", "kms:Decrypt", "--key", "alias/master-key-org"])
            .args(["--format", format])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end at once: the demo takes a moment to load, so the program writes
        // into a pipe that nobody reads.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(stderr, DEMO_NOTICE, "--format {format}: nothing on stderr after a broken pipe but the demo notice");
        assert_eq!(status.code(), Some(0), "--format {format}: the exit code of the decision (allow)");
    }
}

/// The same with a reader that takes a few bytes and then closes, as `head -c 10` does.
#[test]
fn broken_pipe_after_a_partial_read() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_keyproof"))
        .args(["explain", "--principal", APP_ROLE, "--action", "kms:Decrypt", "--key", "alias/s3-prod-key"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    assert_eq!(&first, b"decision: ");
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(stderr, DEMO_NOTICE);
    assert_eq!(status.code(), Some(1), "implicit deny");
}

// ── Terminal conventions (issue 13, item 6) ──────────────────────────────────────────────────

/// Runs keyproof with stdout and stderr piped, without NO_COLOR unless given.
fn plain(args: &[&str], no_color: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyproof"));
    cmd.env_remove("NO_COLOR").args(args);
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

const ESC: char = '\u{1b}';

/// A request whose text output shows a deciding statement (a miette snippet, drawn with colour
/// when stdout gets colour) and an error for stderr.
const EXPLAIN_ALLOW: &[&str] =
    &["explain", "--principal", APP_ROLE, "--action", "kms:Decrypt", "--key", "alias/master-key-org"];
const EXPLAIN_ERROR: &[&str] =
    &["explain", "--principal", APP_ROLE, "--action", "kms:Decrypt", "--key", "alias/no-such-key"];

#[test]
fn color_always_never_and_auto_on_a_pipe() {
    let with = |flag: &[&str], base: &[&str], no_color: Option<&str>| {
        let args: Vec<&str> = flag.iter().chain(base).copied().collect();
        plain(&args, no_color)
    };
    // --color always: both streams, even piped and even with NO_COLOR set.
    let (code, out, _) = with(&["--color", "always"], EXPLAIN_ALLOW, Some("1"));
    assert_eq!(code, 0);
    assert!(out.contains(ESC), "stdout with --color always has colour:\n{out}");
    let (code, _, err) = with(&["--color=always"], EXPLAIN_ERROR, None);
    assert_eq!(code, 2);
    assert!(err.contains(ESC), "stderr with --color always has colour:\n{err}");
    // The flag is global: after the subcommand too.
    let args: Vec<&str> = EXPLAIN_ALLOW.iter().copied().chain(["--color", "always"]).collect();
    assert!(plain(&args, None).1.contains(ESC));
    // --color never and --color auto on pipes: no colour anywhere.
    for flag in [&["--color", "never"][..], &["--color", "auto"][..], &[][..]] {
        let (_, out, _) = with(flag, EXPLAIN_ALLOW, None);
        assert!(!out.contains(ESC), "{flag:?}: stdout is a pipe:\n{out}");
        let (_, _, err) = with(flag, EXPLAIN_ERROR, None);
        assert!(!err.contains(ESC), "{flag:?}: stderr is a pipe:\n{err}");
        assert!(err.contains("no key `alias/no-such-key` in the snapshot"), "{err}");
    }
}

/// Runs a shell command line under `script`, which gives it a pseudo-terminal, and returns what
/// the terminal showed (stdout and stderr of whatever was not redirected).
fn on_a_terminal(command_line: &str, no_color: Option<&str>) -> String {
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", command_line, "/dev/null"]).env_remove("NO_COLOR").stdin(Stdio::null());
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn shell_line(args: &[&str]) -> String {
    std::iter::once(env!("CARGO_BIN_EXE_keyproof"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn color_auto_is_decided_per_stream_and_an_empty_no_color_does_not_count() {
    // Both streams on the terminal: colour, with NO_COLOR unset or empty; none with NO_COLOR=1.
    let allow = shell_line(EXPLAIN_ALLOW);
    assert!(on_a_terminal(&allow, None).contains(ESC), "auto on a terminal draws with colour");
    assert!(on_a_terminal(&allow, Some("")).contains(ESC), "NO_COLOR= (empty) does not count");
    assert!(!on_a_terminal(&allow, Some("1")).contains(ESC), "NO_COLOR=1 counts");
    // stdout to a file, stderr on the terminal: the error has colour, the file has none.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.txt");
    let error = format!("{} > '{}'", shell_line(EXPLAIN_ERROR), file.display());
    let screen = on_a_terminal(&error, None);
    assert!(screen.contains("no key") && screen.contains(ESC), "stderr on a terminal has colour: {screen:?}");
    let both = format!("{} > '{}'", shell_line(EXPLAIN_ALLOW), file.display());
    on_a_terminal(&both, None);
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.starts_with("decision: ALLOW") && !written.contains(ESC), "stdout to a file: {written:?}");
    // stderr to a file, stdout on the terminal: the answer has colour, the error file none.
    let err_file = dir.path().join("err.txt");
    on_a_terminal(&format!("{} 2> '{}'", shell_line(EXPLAIN_ERROR), err_file.display()), None);
    let written = std::fs::read_to_string(&err_file).unwrap();
    assert!(written.contains("no key `alias/no-such-key`") && !written.contains(ESC), "{written:?}");
}

#[test]
fn quiet_drops_notes_but_not_answers_or_errors() {
    let (code, out, err) = plain(&["--quiet", "who-can", "kms:Decrypt", "alias/s3-prod-key"], Some("1"));
    assert_eq!(code, 0);
    assert_eq!(err, "", "no demo notice under --quiet");
    assert!(out.contains("arn:aws:iam::444455556666:role/AppRole"), "{out}");
    let (_, _, err) = plain(&["who-can", "kms:Decrypt", "alias/s3-prod-key"], Some("1"));
    assert_eq!(err, DEMO_NOTICE);
    let args: Vec<&str> = std::iter::once("-q").chain(EXPLAIN_ERROR.iter().copied()).collect();
    let (code, _, err) = plain(&args, Some("1"));
    assert_eq!(code, 2);
    assert!(err.contains("no key `alias/no-such-key` in the snapshot"), "errors are still printed: {err}");
    assert!(!err.contains("no --snapshot given"), "{err}");
}

#[test]
fn completions_and_the_man_page_are_generated() {
    for (shell, marker) in [("bash", "_keyproof()"), ("zsh", "#compdef keyproof"), ("fish", "complete -c keyproof")] {
        let (code, out, err) = plain(&["completions", shell], None);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(marker), "{shell}: {}", &out[..out.len().min(300)]);
        for sub in ["who-can", "can", "explain", "lint", "completions"] {
            assert!(out.contains(sub), "{shell} completes `{sub}`");
        }
    }
    let (code, out, _) = plain(&["completions", "tcsh"], None);
    assert_eq!(code, 2, "an unknown shell is a usage error: {out}");
    let (code, out, err) = plain(&["man"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(".TH keyproof 1"), "{}", &out[..out.len().min(300)]);
    for text in [".SH NAME", ".SH SYNOPSIS", "who\\-can", "\\-\\-color", "\\-\\-quiet"] {
        assert!(out.contains(text), "the man page has `{text}`");
    }
}

#[test]
fn misspelt_names_get_a_did_you_mean() {
    let (code, _, err) = plain(&["-q", "who-can", "kms:Decryp", "alias/s3-prod-key"], Some("1"));
    assert_eq!(code, 2);
    assert!(err.contains("`kms:Decryp` is not a KMS action (did you mean `kms:Decrypt`?)"), "{err}");
    let (code, _, err) = plain(
        &["-q", "explain", "--principal", APP_ROLE, "--action", "kms:GenerateDataKy", "--key", "alias/s3-prod-key"],
        Some("1"),
    );
    assert_eq!(code, 2);
    assert!(err.contains("(did you mean `kms:GenerateDataKey`?)"), "{err}");
    let (code, _, err) = plain(
        &["-q", "explain", "--principal", APP_ROLE, "--action", "kms:Decrypt", "--key", "alias/s3-prod-key"]
            .into_iter()
            .chain(["--context", "kms:ViaServce=s3.us-east-1.amazonaws.com"])
            .collect::<Vec<_>>(),
        Some("1"),
    );
    assert_eq!(code, 2);
    assert!(err.contains("keyproof does not know this condition key (did you mean `kms:ViaService`?)"), "{err}");
    // A StackSet target (an OU id).
    let cfn = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/central-kms/cloudformation");
    let (code, _, err) = plain(
        &[
            "-q",
            "check",
            &format!("{cfn}/properties.kp"),
            "--stackset",
            &format!("{cfn}/workload-role-stackset.yaml"),
            "--targets",
            "ou-a1b2-wkld0010",
            "--regions",
            "us-east-1",
        ],
        Some("1"),
    );
    assert_eq!(code, 2);
    assert!(err.contains("(did you mean `ou-a1b2-wkld0001`?)"), "{err}");
    // In a properties file: an account name, an OU name and an action.
    let dir = tempfile::tempdir().unwrap();
    for (body, expected) in [
        (
            "forall principal in account \"app-dve\": not can(principal, kms:Decrypt, key \"alias/s3-prod-key\")",
            "no account named `app-dve` in the snapshot (did you mean `app-dev`?)",
        ),
        (
            "forall principal: can(principal, kms:Decrypt, key \"alias/s3-prod-key\") implies principal in ou \"Root/Workloads/Prd\"",
            "no OU `Root/Workloads/Prd` in the organization (did you mean `Root/Workloads/Prod`?)",
        ),
        (
            "forall principal: can(principal, kms:Decrypt, key \"alias/s3-prod-key\") implies principal in ou \"ou-a1b2-prod0010\"",
            "no OU `ou-a1b2-prod0010` in the organization (did you mean `ou-a1b2-prod0001`?)",
        ),
        (
            "forall principal: can(principal, kms:Decrypt, key \"alias/s3-prod-key\") implies principal in ou \"ou-a1b2-nope0001\"",
            "no OU `ou-a1b2-nope0001` in the organization\n",
        ),
        (
            "forall principal: not can(principal, kms:Decryptt, key \"alias/s3-prod-key\")",
            "`kms:Decryptt` matches no KMS action on keys (did you mean `kms:Decrypt`?)",
        ),
    ] {
        let file = dir.path().join("p.kp");
        std::fs::write(&file, format!("property p {{\n  {body}\n}}\n")).unwrap();
        let (code, _, err) = plain(&["-q", "check", file.to_str().unwrap()], Some("1"));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(expected), "expected `{expected}` in:\n{err}");
        assert!(err.contains("p.kp:2:"), "located: {err}");
    }
}

#[test]
fn an_io_error_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.kp");
    let toml = dir.path().join("missing.toml");
    let plan = dir.path().join("missing.json");
    for args in [
        vec!["check", missing.to_str().unwrap()],
        vec!["lint", "--config", toml.to_str().unwrap()],
        vec!["who-can", "kms:Decrypt", "alias/s3-prod-key", "--plan", plan.to_str().unwrap()],
    ] {
        let (code, _, err) = plain(&[&["-q"][..], &args].concat(), Some("1"));
        assert_eq!(code, 2);
        assert!(err.contains("cannot read `"), "{err}");
        assert_eq!(err.matches("No such file or directory").count(), 1, "{args:?}:\n{err}");
    }
}

#[test]
fn the_demo_ends_by_pointing_to_a_file_that_exists() {
    let (code, out, err) = plain(&["demo"], Some("1"));
    assert_eq!(code, 0, "{err}");
    let last = out.lines().last().unwrap();
    let file = last.split_whitespace().find(|w| w.ends_with(".md")).unwrap_or_else(|| panic!("{last}"));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    assert!(path.is_file(), "the demo points to {file}, which does not exist");
    let text = std::fs::read_to_string(path).unwrap();
    for planted in ["payments-test-fixtures-read", "AllowUseFromProdAndTestOUs", "AllowPartnerDecryptTemporary"] {
        assert!(text.contains(planted), "{file} describes `{planted}`");
    }
    // Each planted misconfiguration is found in the demo itself (issue 13, item 8): the
    // forgotten grant (explain, who-can, check), the drifted replica (check, lint), the
    // delegation the RCP blocks (lint's note, with the RCP statement that blocks it).
    assert!(out.contains("━━ 4. lint: what do the rules find?"), "{out}");
    for found in [
        "grant 316ba155dbecc3789cd05750d5c20e809c9891e8531ae0ac3a234e520e78357a (payments-test-fixtures-read)",
        "✘ violated  dev_cannot_use_mrk_replica",
        "KP011 [warning] replica-policy-drift",
        "KP017 [note] statement-blocked-by-rcp  alias/master-key-org",
        "key policy statement AllowPartnerDecryptTemporary allows account 123456789012 kms:Decrypt, kms:DescribeKey, but can never apply",
    ] {
        assert!(out.contains(found), "the demo shows `{found}`:\n{out}");
    }
}

// ── Queries people ask (issue 13, item 5) ────────────────────────────────────────────────────

/// Runs keyproof quietly with `--format json` and parses stdout.
fn json_of(args: &[&str]) -> (i32, Value) {
    let mut all: Vec<&str> = vec!["-q"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let (code, out, err) = plain(&all, Some("1"));
    let parsed: Result<Value, String> = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}\n{err}"));
    (code, parsed.unwrap())
}

fn principals_of(answer: &Value) -> Vec<String> {
    answer["principals"].as_array().unwrap().iter().map(|p| p["principal"].as_str().unwrap().to_string()).collect()
}

const FED_111: &str = "arn:aws:sts::111122223333:federated-user/--";
const FED_444: &str = "arn:aws:sts::444455556666:federated-user/--";
const TEST_APP_ROLE: &str = "arn:aws:iam::555566667777:role/AppRole";

#[test]
fn who_can_takes_an_action_pattern_with_one_answer_per_action() {
    let (code, v) = json_of(&["who-can", "kms:Re*", "alias/s3-prod-key"]);
    assert_eq!(code, 0);
    assert_eq!(v["pattern"], "kms:Re*");
    assert_eq!(v["key"], "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321");
    assert_eq!(v["schema"], 2);
    let actions: Vec<&str> = v["actions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:ReplicateKey", "kms:RetireGrant", "kms:RevokeGrant"]
    );
    let revoke = &v["actions"][4];
    assert_eq!(
        principals_of(revoke),
        ["arn:aws:iam::111122223333:role/KeyAdmin", "arn:aws:iam::111122223333:root", FED_111]
    );
    assert_eq!(revoke["public"], false);
    // Each action's answer is the single-action answer.
    let (_, single) = json_of(&["who-can", "kms:RevokeGrant", "alias/s3-prod-key"]);
    assert_eq!(principals_of(&single), principals_of(revoke));
    assert!(single.get("actions").is_none() && single["action"] == "kms:RevokeGrant", "the plain shape is kept");

    // Text: a section per action someone can perform.
    let (code, out, _) = plain(&["-q", "who-can", "kms:Generate*", "alias/s3-prod-key"], Some("1"));
    assert_eq!(code, 0);
    assert!(out.starts_with("who can kms:Generate* on arn:aws:kms:us-east-1:111122223333:key/0987dcba-"), "{out}");
    let section =
        out.split("\nkms:GenerateDataKey\n").nth(1).unwrap().split("\nkms:GenerateDataKeyPair\n").next().unwrap();
    assert!(section.contains(&format!("    {TEST_APP_ROLE}\n      only with kms:EncryptionContext:aws:s3:arn = arn:aws:s3:::payments-test-fixtures")), "{section}");
    let mac = out.split("\nkms:GenerateMac\n").nth(1).unwrap();
    assert!(mac.contains("arn:aws:iam::111122223333:root") && !mac.contains("444455556666:role/AppRole"), "{mac}");

    let (_, v) = json_of(&["who-can", "kms:*", "alias/s3-prod-key"]);
    let all = v["actions"].as_array().unwrap();
    assert!(all.len() > 30, "every action on keys: {}", all.len());
    let disable = all.iter().find(|a| a["action"] == "kms:DisableKey").unwrap();
    assert!(
        !principals_of(disable).contains(&APP_ROLE.to_string()),
        "an SCP denies key administration to the workloads"
    );
}

#[test]
fn a_pattern_that_matches_nothing_is_an_error_with_a_did_you_mean() {
    let (code, _, err) = plain(&["-q", "who-can", "kms:Genrate*", "alias/s3-prod-key"], Some("1"));
    assert_eq!(code, 2);
    assert!(err.contains("`kms:Genrate*` matches no KMS action on keys (did you mean `kms:Generate*`?)"), "{err}");
    let (_, _, err) = plain(&["-q", "who-can", "Generate*", "alias/s3-prod-key"], Some("1"));
    assert!(err.contains("`Generate*` matches no KMS action on keys (did you mean `kms:Generate*`?)"), "{err}");
    let (code, _, err) = plain(&["-q", "who-can", "kms:Re*", "alias/s3-prod-key", "--transitive"], Some("1"));
    assert_eq!(code, 2);
    assert!(err.contains("--transitive takes one action, not the pattern `kms:Re*`"), "{err}");
    let (code, _, err) =
        plain(&["-q", "who-can", "kms:Decrypt", "alias/s3-prod-key", "--transitive", "--kind", "role"], Some("1"));
    assert_eq!(code, 2, "filters are not combined with --transitive: {err}");
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn who_can_filters_the_reported_principals() {
    let decrypt = ["who-can", "kms:Decrypt", "alias/s3-prod-key"];
    let with = |extra: &[&str]| {
        let args: Vec<&str> = decrypt.iter().chain(extra).copied().collect();
        json_of(&args)
    };
    let (code, v) = with(&["--account", "444455556666"]);
    assert_eq!(code, 0);
    assert_eq!(
        principals_of(&v),
        [APP_ROLE, "arn:aws:iam::444455556666:role/app/BatchRole", "arn:aws:iam::444455556666:root", FED_444]
    );
    // An account by name, an OU by name path or id.
    assert_eq!(principals_of(&with(&["--account", "app-test"]).1), [TEST_APP_ROLE]);
    assert_eq!(principals_of(&with(&["--ou", "Workloads/Test"]).1), [TEST_APP_ROLE]);
    let (_, workloads) = with(&["--ou", "Workloads"]);
    assert!(principals_of(&workloads).iter().all(|p| p.contains("444455556666") || p.contains("555566667777")));
    assert_eq!(principals_of(&workloads).len(), 5, "{workloads}");
    assert_eq!(
        principals_of(&with(&["--kind", "root"]).1),
        ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"]
    );
    assert_eq!(principals_of(&with(&["--kind", "federated-user"]).1), [FED_111, FED_444]);
    assert_eq!(
        principals_of(&with(&["--kind", "user", "--account", "111122223333"]).1),
        ["arn:aws:iam::111122223333:user/alice"]
    );
    assert_eq!(principals_of(&with(&["--kind", "service"]).1), Vec::<String>::new());

    let (code, _, err) =
        plain(&["-q", "who-can", "kms:Decrypt", "alias/s3-prod-key", "--ou", "Workloads/Prd"], Some("1"));
    assert_eq!(code, 2);
    assert!(err.contains("no OU `Workloads/Prd` in the organization (did you mean `Workloads/Prod`?)"), "{err}");
    let (code, _, err) =
        plain(&["-q", "who-can", "kms:Decrypt", "alias/s3-prod-key", "--account", "app-tset"], Some("1"));
    assert_eq!(code, 2);
    assert!(err.contains("no account `app-tset` in the snapshot (by id or name) (did you mean `app-test`?)"), "{err}");
    let (_, out, _) =
        plain(&["-q", "who-can", "kms:Decrypt", "alias/s3-prod-key", "--ou", "Workloads/Test"], Some("1"));
    assert!(out.starts_with("who can kms:Decrypt on arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321 (only principals of OU Workloads/Test)\n"), "{out}");
}

#[test]
fn can_lists_the_keys_and_operations_of_one_principal() {
    let ops = |v: &Value, alias: &str, region: &str| -> Vec<String> {
        let k = v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| {
                k["aliases"].as_array().unwrap().iter().any(|a| a == alias)
                    && k["key"].as_str().unwrap().contains(region)
            })
            .unwrap_or_else(|| panic!("no {alias} in {v}"));
        k["operations"].as_array().unwrap().iter().map(|o| o["action"].as_str().unwrap().to_string()).collect()
    };
    // The forgotten grant lets the Test account's AppRole use the prod S3 key.
    let (code, v) = json_of(&["can", TEST_APP_ROLE]);
    assert_eq!(code, 0);
    assert_eq!(v["schema"], 2);
    assert_eq!(v["tool"]["name"], "keyproof");
    assert_eq!(v["principal"], TEST_APP_ROLE);
    assert_eq!(v["keys"].as_array().unwrap().len(), 4, "{v}");
    assert_eq!(ops(&v, "alias/s3-prod-key", "us-east-1"), ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]);
    let s3 = v["keys"].as_array().unwrap().iter().find(|k| k["aliases"][0] == "alias/s3-prod-key").unwrap();
    let c = &s3["operations"][0]["conditions"][0];
    assert_eq!(c["text"], "only with kms:EncryptionContext:aws:s3:arn = arn:aws:s3:::payments-test-fixtures");
    assert_eq!(c["key"], "kms:EncryptionContext:aws:s3:arn");
    assert_eq!(c["requires"], "equals");
    assert_eq!(c["values"][0], "arn:aws:s3:::payments-test-fixtures");
    assert!(s3["operations"][0]["via"][0]["text"].as_str().unwrap().starts_with("grant 316ba155"), "{s3}");
    assert_eq!(s3["operations"][0]["via"][0]["layer"], "grant");

    // The Prod role: the S3 key only through S3, never key administration.
    let (code, v) = json_of(&["can", APP_ROLE]);
    assert_eq!(code, 0);
    assert_eq!(v["keys"].as_array().unwrap().len(), 5, "{v}");
    let s3 = ops(&v, "alias/s3-prod-key", "us-east-1");
    assert!(s3.contains(&"kms:Decrypt".to_string()) && !s3.contains(&"kms:DisableKey".to_string()), "{s3:?}");

    // One action, one key, a role session; text output.
    let (code, out, _) = plain(
        &[
            "-q",
            "can",
            "arn:aws:sts::444455556666:assumed-role/AppRole/app",
            "kms:Decrypt",
            "--key",
            "alias/s3-prod-key",
        ],
        Some("1"),
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("what arn:aws:sts::444455556666:assumed-role/AppRole/app can do with kms:Decrypt\n\n  arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321 (alias/s3-prod-key)\n    kms:Decrypt\n      only with kms:ViaService = s3.us-east-1.amazonaws.com\n"), "{out}");
    // A Dev role cannot use the prod S3 key at all.
    let (_, out, _) =
        plain(&["-q", "can", "arn:aws:iam::666677778888:role/AppRole", "--key", "alias/s3-prod-key"], Some("1"));
    assert!(out.ends_with("every action on keys\n  nothing\n"), "{out}");

    let (code, _, err) = plain(&["-q", "can", "arn:aws:iam::444455556666:role/AppRol"], Some("1"));
    assert_eq!(code, 2);
    assert!(err.contains("no principal `arn:aws:iam::444455556666:role/AppRol` in account 444455556666, whose IAM was collected (did you mean `arn:aws:iam::444455556666:role/AppRole`?)"), "{err}");
    let (code, _, err) = plain(&["-q", "can", "anonymous"], Some("1"));
    assert_eq!(code, 2);
    assert!(err.contains("AWS KMS accepts no anonymous request"), "{err}");
    let (code, _, err) = plain(&["-q", "can", APP_ROLE, "kms:Decryp"], Some("1"));
    assert_eq!(code, 2);
    assert!(err.contains("(did you mean `kms:Decrypt`?)"), "{err}");
}

/// Structured locations (schema 2): a key policy statement embedded in the key file's
/// one-line `Policy` string is located in the real file (line 20, the statement's `{` at
/// column 1028), inside the embedded document (39:5, `/Statement/2`) and by statement; the file
/// is named under the snapshot folder as given.
#[test]
fn explain_json_locates_an_embedded_statement() {
    let out = keyproof()
        .args([
            "explain",
            "--principal",
            "arn:aws:sts::444455556666:assumed-role/AppRole/app",
            "--action",
            "kms:Decrypt",
            "--key",
            "alias/s3-prod-key",
            "--context",
            "kms:ViaService=s3.us-east-1.amazonaws.com",
            "--format",
            "json",
            "--snapshot",
            "corpus/central-kms",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], 2);
    let t = v["trace"].as_array().unwrap().iter().find(|t| t["layer"] == "key-policy").unwrap();
    let l = &t["location"];
    assert_eq!(
        l["file"],
        "corpus/central-kms/accounts/111122223333/kms/us-east-1/0987dcba-09fe-87dc-65ba-ab0987654321.json"
    );
    assert_eq!((l["line"].as_u64(), l["column"].as_u64()), (Some(20), Some(1028)));
    assert_eq!((l["end_line"].as_u64(), l["end_column"].as_u64()), (Some(20), Some(1584)));
    assert_eq!(l["json_pointer"], "/Policy");
    assert_eq!(l["embedded"]["element"], "Policy");
    assert_eq!((l["embedded"]["line"].as_u64(), l["embedded"]["column"].as_u64()), (Some(39), Some(5)));
    assert_eq!(l["embedded"]["json_pointer"], "/Statement/2");
    assert_eq!(l["statement"]["sid"], "AllowS3UseFromProd");
    assert_eq!(l["statement"]["index"], 2);
}

// ── Text reports pinned (issue 13, item 4): each was read by eye when it was accepted ─────────

/// The text a command prints on stdout, and its exit code.
fn text_of(args: &[&str]) -> (i32, String) {
    let out = keyproof().args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn who_can_text() {
    let (code, text) = text_of(&["who-can", "kms:Decrypt", "alias/s3-prod-key", "--snapshot", "corpus/central-kms"]);
    assert_eq!(code, 0, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn check_text() {
    let (code, text) =
        text_of(&["check", "corpus/central-kms/properties.kp", "--snapshot", "corpus/central-kms", "--format", "text"]);
    assert_eq!(code, 1, "the demo's planted misconfigurations violate properties: {text}");
    insta::assert_snapshot!(text);
}

#[test]
fn diff_text() {
    let d = "corpus/diff/test-grant-on-prod-key";
    let (code, text) = text_of(&["diff", &format!("{d}/before"), &format!("{d}/after")]);
    assert_eq!(code, 1, "access is added: {text}");
    insta::assert_snapshot!(text);
}

/// A statement of a policy written on one line (as AWS returns policies) is laid out with its
/// place and which statement it is, not shown as one long line.
#[test]
fn a_one_line_statement_is_laid_out() {
    let text = explain_text(&EXPLICIT_DENY);
    assert!(
        text.contains("at corpus/central-kms/organization.json → Content of p-denykeyadmin:1:38, statement DenyKmsKeyAdministration (#0), laid out:"),
        "{text}"
    );
    assert!(text.contains("    │   \"Effect\": \"Deny\",\n"), "{text}");
    assert!(!text.contains("{\"Version\":\"2012-10-17\""), "the one line is not shown: {text}");
}

/// who-can writes its JSON and a Markdown table from the same run as its text (issue 13, item 2),
/// and on an error every output still says so.
#[test]
fn who_can_writes_every_output_from_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let (json, md) = (dir.path().join("who.json"), dir.path().join("who.md"));
    let (json_s, md_s) = (json.to_str().unwrap(), md.to_str().unwrap());
    let base = ["who-can", "kms:Decrypt", "alias/s3-prod-key", "--snapshot", "corpus/central-kms"];
    let (code, text) = text_of(&[&base[..], &["--json", json_s, "--markdown", md_s]].concat());
    assert_eq!(code, 0);
    assert!(text.starts_with("who can kms:Decrypt on arn:aws:kms:us-east-1:111122223333:key/0987dcba"), "{text}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!((v["schema"].as_u64(), v["exit_code"].as_i64()), (Some(2), Some(0)));
    let principals = v["principals"].as_array().unwrap();
    assert_eq!(principals.len(), text.matches("\n  arn:").count() + text.matches("\n  any federated user").count());
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.starts_with("### keyproof who-can `kms:Decrypt` on `arn:aws:kms:us-east-1:111122223333:key/0987dcba"));
    assert!(
        md.contains(
            "| `arn:aws:iam::444455556666:role/AppRole` | only with kms:ViaService = s3.us-east-1.amazonaws.com |  | \
             managed policy arn:aws:iam::444455556666:policy/CentralKmsUse, statement UseCentralKeys \
             (corpus/central-kms/accounts/444455556666/iam.json:124:15)<br>managed policy"
        ),
        "{md}"
    );
    assert_eq!(md.matches("\n| `").count(), principals.len(), "one row per principal: {md}");
    assert!(md.contains("\nPublic (any AWS principal): no\n") && md.ends_with("\nExit code 0.\n"), "{md}");
    // A pattern: a section per action.
    let (code, _) = text_of(&["who-can", "kms:Generate*", "alias/s3-prod-key", "--markdown", md_s]);
    assert_eq!(code, 0);
    let md = std::fs::read_to_string(dir.path().join("who.md")).unwrap();
    assert!(md.contains("\n#### `kms:GenerateDataKey`\n"), "{md}");
    // The job summary gets the table only with --markdown (a job asking about many keys would
    // fill it otherwise).
    let summary = dir.path().join("summary.md");
    let run = |extra: &[&str]| {
        let out = keyproof().args(base).args(extra).env("GITHUB_STEP_SUMMARY", &summary).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
    };
    run(&[]);
    assert!(!summary.exists(), "no --markdown, no summary");
    run(&["--markdown", md_s]);
    assert!(std::fs::read_to_string(&summary).unwrap().starts_with("### keyproof who-can `kms:Decrypt`"));
    // An error: the JSON file holds it, the exit code is 2.
    let (code, _) =
        text_of(&["who-can", "kms:Decrypt", "alias/s3-prod-key", "--snapshot", "corpus/nope", "--json", json_s]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("corpus/nope"), "{v}");
}
