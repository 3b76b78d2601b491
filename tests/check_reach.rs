//! `can_reach` in `keyproof check`, through the CLI, on the transitive scenario: a property
//! violated through a path carries the whole path (JSON and text), one the grant conditions
//! keep is proved, and a search cut by --max-hops is `unknown`, never proved.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use assert_cmd::Command;
use serde_json::Value;

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/scenarios/transitive");
const PROPERTIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/scenarios/transitive/reach.kp");
const KEY: &str = "arn:aws:kms:us-east-1:210000000001:key/7a1c0e55-2b3d-4f60-8a9b-0c1d2e3f4a5b";

fn check(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keyproof"))
        .env("NO_COLOR", "1")
        .args(["check", PROPERTIES, "--snapshot", SCENARIO])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn result<'v>(v: &'v Value, name: &str) -> &'v Value {
    v["results"].as_array().unwrap().iter().find(|r| r["property"] == name).unwrap()
}

fn hops(path: &Value) -> Vec<(String, String, String)> {
    path.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (h["edge"].as_str().unwrap().into(), h["from"].as_str().unwrap().into(), h["to"].as_str().unwrap().into())
        })
        .collect()
}

#[test]
fn a_property_violated_through_a_path_carries_the_whole_path() {
    let (code, out, err) = check(&["--format", "json"]);
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let ops = result(&v, "ops_cannot_reach_decrypt");
    assert_eq!(ops["status"], "violated");
    let ce = &ops["counterexample"];
    assert_eq!(ce["principal"], "arn:aws:iam::240000000004:user/ops");
    assert_eq!(ce["action"], "kms:Decrypt");
    assert_eq!(ce["key"], KEY);
    assert_eq!(
        hops(&ce["path"]),
        vec![
            (
                "assume-role".into(),
                "arn:aws:iam::240000000004:user/ops".into(),
                "arn:aws:iam::250000000005:role/Bridge".into()
            ),
            (
                "assume-role".into(),
                "arn:aws:iam::250000000005:role/Bridge".into(),
                "arn:aws:iam::230000000003:role/App".into()
            ),
        ]
    );
    let paths = ops["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0]["final_principal"], "arn:aws:iam::230000000003:role/App");
    assert_eq!(paths[0]["reach"], "transitive");
    // Each hop carries the request it replays and the statements that allow it.
    let first = &paths[0]["path"][0];
    assert_eq!(first["request"]["action"], "sts:AssumeRole");
    assert!(first["via"][1]["text"].as_str().unwrap().contains("statement FromDev"), "{first}");

    // The dev account: three principals reach Decrypt, each only through a path.
    let dev = result(&v, "nobody_in_dev_account_reaches_decrypt");
    assert_eq!(dev["status"], "violated");
    let mut who: Vec<&str> =
        dev["violations"].as_array().unwrap().iter().map(|x| x["principal"].as_str().unwrap()).collect();
    who.sort_unstable();
    assert_eq!(
        who,
        [
            "arn:aws:iam::240000000004:role/Developer",
            "arn:aws:iam::240000000004:user/contractor",
            "arn:aws:iam::240000000004:user/ops"
        ]
    );
    assert!(dev["violations"].as_array().unwrap().iter().all(|x| x["key"] == KEY), "{dev}");
    let developer = &dev["paths"][0];
    assert_eq!(developer["principal"], "arn:aws:iam::240000000004:role/Developer");
    assert_eq!(
        hops(&developer["path"]),
        vec![
            (
                "assume-role".into(),
                "arn:aws:iam::240000000004:role/Developer".into(),
                "arn:aws:iam::220000000002:role/SharedCi".into()
            ),
            ("create-grant".into(), "arn:aws:iam::220000000002:role/SharedCi".into(), KEY.into()),
        ]
    );
}

#[test]
fn properties_the_paths_do_not_break_are_proved() {
    let (_, out, err) = check(&["--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    // kms:GrantOperations keeps LimitedCi's grants to Encrypt and GenerateDataKey.
    assert_eq!(result(&v, "limited_ci_cannot_reach_decrypt")["status"], "proved", "{err}");
    // In the CI account only SharedCi reaches Decrypt (through a grant).
    let ci = result(&v, "ci_account_only_via_shared");
    assert_eq!(ci["status"], "proved", "{ci}");
    assert_eq!(ci["instances"], 4);
}

#[test]
fn text_shows_each_hop() {
    let (code, out, err) = check(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("arn:aws:iam::240000000004:user/ops can reach kms:Decrypt on"), "{out}");
    assert!(
        out.contains("1. assume-role arn:aws:iam::240000000004:user/ops → arn:aws:iam::250000000005:role/Bridge"),
        "{out}"
    );
    assert!(
        out.contains("2. assume-role arn:aws:iam::250000000005:role/Bridge → arn:aws:iam::230000000003:role/App"),
        "{out}"
    );
    assert!(out.contains("then arn:aws:iam::230000000003:role/App calls kms:Decrypt"), "{out}");
    assert!(out.contains("2 proved, 2 violated, 0 vacuous, 0 unknown"), "{out}");
}

#[test]
fn a_truncated_search_is_unknown_never_proved() {
    let (code, out, err) = check(&["--format", "json", "--max-hops", "1"]);
    assert_eq!(code, 2, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    // ops needs two hops; one is not enough to say either way.
    let ops = result(&v, "ops_cannot_reach_decrypt");
    assert_eq!(ops["status"], "unknown");
    assert!(ops["reason"].as_str().unwrap().contains("--max-hops 1"), "{ops}");
    // Proved with four hops, unknown with one: the cut search cannot prove it.
    assert_eq!(result(&v, "limited_ci_cannot_reach_decrypt")["status"], "unknown");
    // A path of one hop is still found.
    let dev = result(&v, "nobody_in_dev_account_reaches_decrypt");
    assert_eq!(dev["status"], "violated");
    assert_eq!(dev["counterexample"]["principal"], "arn:aws:iam::240000000004:user/contractor");
}

#[test]
fn sarif_names_the_path() {
    let (code, out, err) = check(&["--format", "sarif"]);
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let texts: Vec<&str> =
        v["runs"][0]["results"].as_array().unwrap().iter().map(|r| r["message"]["text"].as_str().unwrap()).collect();
    assert!(
        texts.iter().any(|t| t.starts_with("property `ops_cannot_reach_decrypt` is violated")
            && t.ends_with("through assume-role → arn:aws:iam::250000000005:role/Bridge, assume-role → arn:aws:iam::230000000003:role/App)")),
        "{texts:?}"
    );
}

/// Copies a folder (the scenario) into `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A role that trusts a SAML provider (`sts:AssumeRoleWithSAML`, an edge the search does not
/// follow) makes "cannot reach" unknown, never proved; the violated properties stay violated.
#[test]
fn an_edge_the_search_does_not_follow_makes_not_reachable_unknown() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(std::path::Path::new(SCENARIO), dir.path());
    let iam = dir.path().join("accounts/230000000003/iam.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&iam).unwrap()).unwrap();
    v["RoleDetailList"][0]["AssumeRolePolicyDocument"]["Statement"].as_array_mut().unwrap().push(serde_json::json!({
        "Effect": "Allow",
        "Principal": { "Federated": "arn:aws:iam::230000000003:saml-provider/Corp" },
        "Action": "sts:AssumeRoleWithSAML",
        "Condition": { "StringEquals": { "SAML:aud": "https://signin.aws.amazon.com/saml" } }
    }));
    std::fs::write(&iam, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyproof"))
        .env("NO_COLOR", "1")
        .args(["check", PROPERTIES, "--snapshot"])
        .arg(dir.path())
        .args(["--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let limited = result(&v, "limited_ci_cannot_reach_decrypt");
    assert_eq!(limited["status"], "unknown", "{limited}");
    assert!(
        limited["reason"].as_str().unwrap().contains("AssumeRoleWithSAML")
            && limited["reason"].as_str().unwrap().contains("role/App"),
        "{limited}"
    );
    assert_eq!(result(&v, "ops_cannot_reach_decrypt")["status"], "violated");
}
