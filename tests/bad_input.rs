//! Bad input gets a clear error with file, line and column, never a panic and never a silently
//! skipped statement; the parser reports every error it finds in a file; the CLI exits with 2.
//!
//! Each broken snapshot is a folder of `corpus/bad/`, as small as the case allows. A case names
//! every error its snapshot must produce, in order, by `file:line:column` and a fragment of the
//! message; the same snapshot then goes through `keyproof explain`, whose stderr must show each
//! of those locations.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers: a failed check is a panic that says what failed")]

use assert_cmd::Command;
use keyproof_model::{ModelError, Snapshot};
use keyproof_parser::ParseError;
use std::path::{Path, PathBuf};

/// The key file most cases break.
const KEY: &str = "accounts/111122223333/kms/us-east-1/1234abcd-12ab-34cd-56ef-1234567890ab.json";
const IAM: &str = "accounts/111122223333/iam.json";
const ORG: &str = "organization.json";

fn bad(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/bad").join(case)
}

fn keyproof() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyproof"));
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Every leaf error of loading a broken snapshot, as (`file:line:column`, message).
fn load_errors(case: &str) -> Vec<(String, String)> {
    let err = match Snapshot::load(&bad(case)) {
        Ok(_) => panic!("corpus/bad/{case} loaded without an error"),
        Err(ModelError::Input(e)) => e,
        Err(other) => panic!("corpus/bad/{case}: expected an input error, got {other:?}"),
    };
    err.leaves()
        .into_iter()
        .map(|leaf| match leaf {
            ParseError::Invalid { location, message, .. } => (location.clone(), message.clone()),
            other => panic!("corpus/bad/{case}: an error without a location: {other}"),
        })
        .collect()
}

/// The output of `keyproof explain` on a snapshot (any request: loading fails first).
fn explain_on(snapshot: &Path) -> (Option<i32>, String, String) {
    let out = keyproof()
        .args(["explain", "--principal", "arn:aws:iam::111122223333:root", "--action", "kms:Decrypt"])
        .args(["--key", "alias/bad-input-key", "--snapshot"])
        .arg(snapshot)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Loads `corpus/bad/<case>` and checks that it fails with exactly the `expected` errors, in
/// order, each at its `file:line:column` with a message containing the fragment; then checks
/// that the CLI exits with 2 and shows every location on stderr.
fn check(case: &str, expected: &[(&str, &str)]) {
    let found = load_errors(case);
    let want: Vec<(String, String)> = expected.iter().map(|(l, m)| (l.to_string(), m.to_string())).collect();
    assert_eq!(found.len(), want.len(), "corpus/bad/{case}: expected {want:#?}, found {found:#?}");
    for ((loc, msg), (want_loc, want_msg)) in found.iter().zip(&want) {
        assert_eq!(loc, want_loc, "corpus/bad/{case}: location of `{msg}`");
        assert!(msg.contains(want_msg.as_str()), "corpus/bad/{case}: `{msg}` does not contain `{want_msg}`");
    }

    let (code, stdout, stderr) = explain_on(&bad(case));
    assert_eq!(code, Some(2), "corpus/bad/{case}: exit code; stderr:\n{stderr}");
    assert_eq!(stdout, "", "corpus/bad/{case}: an error prints nothing on stdout in text mode");
    assert!(!stderr.contains("panicked"), "corpus/bad/{case}: the CLI panicked:\n{stderr}");
    for (loc, _) in &want {
        // miette's header shows `[file:line:column]`, the file under the snapshot folder as
        // given (here an absolute path).
        let shown = format!("[{}/{loc}]", bad(case).display());
        assert!(stderr.contains(&shown), "corpus/bad/{case}: stderr does not show `{loc}`:\n{stderr}");
    }
}

fn at(file: &str, line_col: &str) -> String {
    format!("{file}:{line_col}")
}

#[test]
fn key_file_without_policy() {
    check("missing-policy", &[(&at(KEY, "1:1"), "the key file has no `Policy`")]);
}

#[test]
fn malformed_json_points_at_the_token_after_the_missing_comma() {
    // `"Effect": "Allow"` ends line 14 without a comma; the error is at the next member.
    check("malformed-json", &[(&at(KEY, "15:9"), "invalid JSON: expected `,` or `}`")]);
}

#[test]
fn action_of_the_wrong_type() {
    check(
        "wrong-type-action",
        &[(&at(KEY, "16:19"), "`Action` must be a string or a list of strings, found a number")],
    );
}

#[test]
fn unknown_statement_element() {
    // `Actions` is not an element. (The key policy statement it leaves without an action is
    // also reported, as a note: AWS accepts such a statement, which has no effect.)
    check("unknown-statement-element", &[(&at(KEY, "16:9"), "unknown statement element `Actions`")]);
}

/// A key policy statement without `Resource` is accepted by AWS and has no effect (KDG
/// key-policy-overview): keyproof loads it and reports it as a note, with its location, so that
/// a Deny that lost its `Resource` never vanishes in silence.
#[test]
fn statement_without_resource_loads_with_a_note() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/notes/statement-without-resource");
    let snapshot = Snapshot::load(&dir).unwrap();
    let notes: Vec<&str> = snapshot.not_modelled.iter().map(|n| n.value.as_str()).collect();
    let locations: Vec<String> = snapshot.not_modelled.iter().map(|n| snapshot.sources.location(n.span)).collect();
    assert_eq!(locations, [format!("{KEY}:19:7")]);
    assert!(
        notes.iter().any(|n| n.contains("has no `Resource` or `NotResource`: AWS accepts it, but it has no effect")),
        "{notes:?}"
    );
    let out = keyproof()
        .args([
            "explain",
            "--snapshot",
            dir.to_str().unwrap(),
            "--principal",
            "arn:aws:iam::111122223333:root",
            "--action",
            "kms:Decrypt",
            "--key",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("note: a statement of a key policy has no `Resource`"), "{text}");
}

#[test]
fn invalid_effect() {
    check("invalid-effect", &[(&at(KEY, "14:19"), "invalid `Effect` `Permit`")]);
}

#[test]
fn unknown_condition_operator() {
    check("unknown-condition-operator", &[(&at(KEY, "18:23"), "unknown condition operator `StringEqualz`")]);
}

#[test]
fn null_if_exists_is_not_an_operator() {
    check("null-if-exists", &[(&at(KEY, "18:23"), "`NullIfExists` is not an operator")]);
}

#[test]
fn partial_wildcard_principal() {
    check(
        "partial-wildcard-principal",
        &[(&at(KEY, "15:30"), "wildcards are not allowed in a principal (`arn:aws:iam::*:root`)")],
    );
}

#[test]
fn role_of_another_account_in_iam_json() {
    check(
        "account-mismatch-role",
        &[(&at(IAM, "9:14"), "role `arn:aws:iam::999999999999:role/Stray` is not in account 111122223333")],
    );
}

#[test]
fn key_of_another_account() {
    check(
        "account-mismatch-key",
        &[
            (&at(KEY, "5:21"), "key of account 999999999999 stored under accounts/111122223333"),
            (&at(KEY, "4:12"), "does not match its folder"),
        ],
    );
}

#[test]
fn grant_on_an_unknown_key() {
    check(
        "grant-on-unknown-key",
        &[(
            &at(KEY, "24:16"),
            "is for key `arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000`",
        )],
    );
}

#[test]
fn key_file_named_after_another_key_id() {
    check(
        "key-file-name-mismatch",
        &[(
            "accounts/111122223333/kms/us-east-1/abcd1234-0000-0000-0000-000000000000.json:3:14",
            "key `1234abcd-12ab-34cd-56ef-1234567890ab` stored in `abcd1234-0000-0000-0000-000000000000.json`",
        )],
    );
}

#[test]
fn attached_managed_policy_missing_from_policies() {
    check(
        "managed-policy-missing",
        &[(
            &at(IAM, "13:48"),
            "managed policy `arn:aws:iam::111122223333:policy/Missing` is not in the `Policies` list",
        )],
    );
}

#[test]
fn user_in_a_group_that_does_not_exist() {
    check(
        "unknown-group",
        &[(&at(IAM, "8:21"), "user `alice` is in group `Admins`, which is not in `GroupDetailList`")],
    );
}

#[test]
fn scp_attached_but_not_defined() {
    check(
        "scp-not-in-policies",
        &[(&at(ORG, "9:98"), "policy `p-missing1` is attached here but not defined in `Policies`")],
    );
}

#[test]
fn customer_rcp_with_an_allow_statement() {
    // AWS rejects an RCP with Allow (customer RCPs are Deny-only; RCPFullAWSAccess is the one
    // allowing RCP): reading it as an allow, or ignoring it, would both be guesses.
    check(
        "rcp-with-allow",
        &[(
            "organization.json → Content of p-allowpartner:1:38",
            "RCP `p-allowpartner` has an Allow statement: customer RCPs may only deny",
        )],
    );
}

#[test]
fn policy_type_with_an_unknown_status() {
    check("policy-type-unknown-status", &[(&at(ORG, "7:68"), "`ON` is not a policy type status")]);
}

#[test]
fn policy_type_notes_are_located() {
    // An unknown policy type, RCPs listed while their type is not enabled, and an OU where no
    // SCP allows KMS: each a note at its place, and the snapshot loads.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/notes/policy-types");
    let snapshot = Snapshot::load(&dir).unwrap();
    let not_modelled: Vec<(String, &str)> =
        snapshot.not_modelled.iter().map(|n| (snapshot.sources.location(n.span), n.value.as_str())).collect();
    assert_eq!(
        not_modelled,
        [(
            "organization.json:7:89".to_string(),
            "policy type `SHINY_NEW_POLICY` is not one keyproof knows; it is taken not to affect KMS authorization"
        )]
    );
    let notes: Vec<(String, &str)> =
        snapshot.notes.iter().map(|n| (snapshot.sources.location(n.span), n.value.as_str())).collect();
    assert_eq!(
        notes,
        [
            (
                "organization.json:4:5".to_string(),
                "RCPs are attached, but the RCP policy type is not enabled in the root's PolicyTypes: they have no effect"
            ),
            (
                "organization.json:10:9".to_string(),
                "no SCP attached at OU Root/ReadOnly allows any kms: action: every principal below is denied KMS (is an attached SCP such as FullAWSAccess missing from the snapshot?)"
            ),
        ]
    );
    let org = snapshot.org.as_ref().unwrap();
    assert_eq!(org.scp_state, keyproof_model::org::TypeState::Enabled);
    assert_eq!(org.rcp_state, keyproof_model::org::TypeState::NotEnabled);
}

#[test]
fn scp_with_a_principal() {
    // The SCP is a JSON string: the location is in the embedded document, named after it.
    check(
        "scp-with-principal",
        &[("organization.json → Content of p-denydelete:1:67", "a service control policy cannot have a `Principal`")],
    );
}

/// The same error in SARIF (a CI job's error notification): located in the real file, at the
/// place inside the JSON string that holds the SCP (each `\"` there is two characters).
#[test]
fn an_error_in_an_embedded_policy_has_its_place_in_the_real_file_in_sarif() {
    let dir = bad("scp-with-principal");
    let out = keyproof().args(["lint", "--snapshot", dir.to_str().unwrap(), "--format", "sarif"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = &sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0];
    assert_eq!(n["message"]["text"], "a service control policy cannot have a `Principal`");
    let place = &n["locations"][0]["physicalLocation"];
    assert!(place["artifactLocation"]["uri"].as_str().unwrap().ends_with("scp-with-principal/organization.json"));
    // Decoded column 67 of the document, as a column of line 20 of the file.
    let text = std::fs::read_to_string(dir.join(ORG)).unwrap();
    let line = text.lines().nth(19).unwrap();
    let open = line.find("\"Content\": \"").unwrap() + "\"Content\": \"".len();
    let decoded: String = serde_json::from_str(&line[open - 1..line.trim_end_matches(',').len()]).unwrap();
    let raw_prefix: usize = decoded.chars().take(66).map(|c| if c == '"' { 2 } else { 1 }).sum();
    assert_eq!(place["region"]["startLine"], 20);
    assert_eq!(place["region"]["startColumn"], open + raw_prefix + 1, "{line}");
}

#[test]
fn url_encoded_document_is_reported_in_its_decoded_text() {
    // The inline policy is URL-encoded, as the IAM API returns it; line and column are those of
    // the decoded document, which the error shows.
    check(
        "url-encoded-malformed",
        &[("accounts/111122223333/iam.json → PolicyDocument of UseKeys:1:72", "invalid JSON: expected `,` or `}`")],
    );
    let (_, _, stderr) = explain_on(&bad("url-encoded-malformed"));
    assert!(stderr.contains(r#""Effect":"Allow" "Action":"kms:Decrypt""#), "the decoded text is shown:\n{stderr}");
}

#[test]
fn every_error_in_a_file_is_reported() {
    check(
        "three-errors",
        &[
            (&at(KEY, "14:19"), "invalid `Effect` `Permit`"),
            (&at(KEY, "23:19"), "`Action` must be a string or a list of strings, found a number"),
            (&at(KEY, "32:23"), "unknown condition operator `StringEqualz`"),
        ],
    );
    let (_, _, stderr) = explain_on(&bad("three-errors"));
    assert!(stderr.contains(&format!("3 errors in `{KEY}`")), "{stderr}");
}

#[test]
fn every_bad_snapshot_has_a_test() {
    // A folder added to corpus/bad without a case here would prove nothing.
    let tested = [
        "account-mismatch-key",
        "account-mismatch-role",
        "byte-order-mark",
        "grant-on-unknown-key",
        "invalid-effect",
        "key-file-name-mismatch",
        "malformed-json",
        "managed-policy-missing",
        "missing-policy",
        "null-if-exists",
        "partial-wildcard-principal",
        "policy-type-unknown-status",
        "rcp-with-allow",
        "scp-not-in-policies",
        "scp-with-principal",
        "three-errors",
        "unknown-condition-operator",
        "unknown-group",
        "unknown-statement-element",
        "url-encoded-malformed",
        "wrong-type-action",
    ];
    let mut folders: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders, tested);
}

// Request errors, on the embedded demo: each exits with 2 and says what is wrong.

/// Runs `keyproof explain` on the demo and returns (exit code, stderr).
fn explain_demo(principal: &str, action: &str, key: &str, context: &[&str]) -> (Option<i32>, String) {
    let mut cmd = keyproof();
    cmd.args(["explain", "--principal", principal, "--action", action, "--key", key]);
    for c in context {
        cmd.args(["--context", c]);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "the CLI panicked:\n{stderr}");
    assert!(out.stdout.is_empty(), "an error prints nothing on stdout in text mode");
    (out.status.code(), stderr)
}

const APP_ROLE: &str = "arn:aws:iam::444455556666:role/AppRole";

fn assert_request_error(principal: &str, action: &str, key: &str, context: &[&str], fragments: &[&str]) {
    let (code, stderr) = explain_demo(principal, action, key, context);
    assert_eq!(code, Some(2), "{stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "stderr does not contain `{f}`:\n{stderr}");
    }
}

#[test]
fn snapshot_folder_that_does_not_exist() {
    let missing = bad("no-such-snapshot");
    let (code, stdout, stderr) = explain_on(&missing);
    assert_eq!(code, Some(2));
    assert_eq!(stdout, "");
    assert!(stderr.contains(&format!("snapshot folder `{}` does not exist", missing.display())), "{stderr}");
    assert!(stderr.contains("--snapshot DIR"), "the help says what a snapshot is:\n{stderr}");
}

#[test]
fn unknown_key() {
    assert_request_error(
        APP_ROLE,
        "kms:Decrypt",
        "alias/no-such-key",
        &[],
        &["no key `alias/no-such-key` in the snapshot"],
    );
}

#[test]
fn alias_of_a_multi_region_key_in_two_regions_is_ambiguous() {
    assert_request_error(
        APP_ROLE,
        "kms:Decrypt",
        "alias/app-data-mrk",
        &[],
        &[
            "`alias/app-data-mrk` names more than one key",
            "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:aws:kms:us-west-2:111122223333:key/mrk-",
            "name the key by its ARN",
        ],
    );
}

#[test]
fn invalid_actions() {
    assert_request_error(
        APP_ROLE,
        "kms:Decrypted",
        "alias/master-key-org",
        &[],
        &["`kms:Decrypted` is not a KMS action"],
    );
    assert_request_error(
        APP_ROLE,
        "s3:GetObject",
        "alias/master-key-org",
        &[],
        &["`s3:GetObject` is not a KMS action"],
    );
}

#[test]
fn action_that_does_not_act_on_a_key() {
    assert_request_error(
        APP_ROLE,
        "kms:CreateKey",
        "alias/master-key-org",
        &[],
        &["`kms:CreateKey` does not act on a KMS key"],
    );
}

#[test]
fn invalid_principal() {
    assert_request_error("bob", "kms:Decrypt", "alias/master-key-org", &[], &["`bob` is not a principal"]);
}

#[test]
fn principal_missing_from_a_collected_account() {
    assert_request_error(
        "arn:aws:iam::444455556666:role/NoSuchRole",
        "kms:Decrypt",
        "alias/master-key-org",
        &[],
        &["no principal `arn:aws:iam::444455556666:role/NoSuchRole` in account 444455556666"],
    );
}

#[test]
fn context_without_equals_sign() {
    assert_request_error(
        APP_ROLE,
        "kms:Decrypt",
        "alias/master-key-org",
        &["novalue"],
        &["invalid `--context novalue`: expected KEY=VALUE"],
    );
    assert_request_error(
        APP_ROLE,
        "kms:Decrypt",
        "alias/master-key-org",
        &["=x"],
        &["invalid `--context =x`: expected KEY=VALUE"],
    );
}

#[test]
fn context_key_that_follows_from_the_principal() {
    assert_request_error(
        APP_ROLE,
        "kms:Decrypt",
        "alias/master-key-org",
        &["aws:PrincipalArn=arn:aws:iam::444455556666:role/Other"],
        &["invalid context entry `aws:PrincipalArn`", "follows from the principal"],
    );
}

#[test]
fn misspelt_context_key() {
    assert_request_error(
        APP_ROLE,
        "kms:Decrypt",
        "alias/master-key-org",
        &["kms:ViaServce=s3.us-east-1.amazonaws.com"],
        &["invalid context entry `kms:ViaServce`", "does not know this condition key"],
    );
}

#[test]
fn a_byte_order_mark_is_named_as_such() {
    // The key file is valid JSON after its first three bytes, EF BB BF (what Windows
    // PowerShell 5's `Out-File` writes).
    check("byte-order-mark", &[(&at(KEY, "1:1"), "invalid JSON: the file starts with a UTF-8 byte order mark (BOM)")]);
    let (_, _, stderr) = explain_on(&bad("byte-order-mark"));
    assert!(stderr.contains("save the file as UTF-8 without BOM"), "{stderr}");
}
