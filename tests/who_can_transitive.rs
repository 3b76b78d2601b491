//! `keyproof who-can ACTION KEY --transitive`, through the CLI: the JSON shape, the text output
//! hop by hop, the exit codes (a search cut by --max-hops is unknown), the pictures, and the
//! formats only --transitive takes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use assert_cmd::Command;
use serde_json::Value;

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/scenarios/transitive");

fn keyproof(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keyproof"))
        .env("NO_COLOR", "1")
        .args(["who-can", "kms:Decrypt", "alias/prod-data", "--snapshot", SCENARIO])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn json_lists_paths_with_their_hops() {
    let (code, out, err) = keyproof(&["--transitive", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["max_hops"], 4);
    assert_eq!(v["truncated"], false);
    let principals = v["principals"].as_array().unwrap();
    let ops = principals.iter().find(|p| p["principal"] == "arn:aws:iam::240000000004:user/ops").unwrap();
    assert_eq!(ops["reach"], "transitive");
    let path = ops["path"].as_array().unwrap();
    assert_eq!(path.len(), 2);
    assert_eq!(path[0]["from"], "arn:aws:iam::240000000004:user/ops");
    assert_eq!(path[0]["to"], "arn:aws:iam::250000000005:role/Bridge");
    assert_eq!(path[0]["edge"], "assume-role");
    assert!(path[0]["via"][0]["text"].as_str().unwrap().contains("inline policy AssumeBridge"));
    assert_eq!(path[1]["to"], "arn:aws:iam::230000000003:role/App");
    assert!(path[1]["conditions"].as_array().unwrap().is_empty());
    let app = principals.iter().find(|p| p["principal"] == "arn:aws:iam::230000000003:role/App").unwrap();
    assert_eq!(app["reach"], "direct");
    assert_eq!(app["path"], Value::Array(Vec::new()));
    let grant = principals.iter().find(|p| p["principal"] == "arn:aws:iam::220000000002:role/SharedCi").unwrap();
    assert_eq!(grant["path"][0]["edge"], "create-grant");
    assert_eq!(grant["path"][0]["request"]["context"]["kms:GrantOperations"][0], "Decrypt");
}

#[test]
fn text_shows_each_hop() {
    let (code, out, _) = keyproof(&["--transitive"]);
    assert_eq!(code, 0);
    assert!(out.contains(
        "  arn:aws:iam::240000000004:user/ops (transitive)\n    1. arn:aws:iam::240000000004:user/ops --assume-role--> arn:aws:iam::250000000005:role/Bridge\n"
    ), "{out}");
    assert!(out.contains(
        "    2. arn:aws:iam::250000000005:role/Bridge --assume-role--> arn:aws:iam::230000000003:role/App\n"
    ));
    assert!(out.contains("    then arn:aws:iam::230000000003:role/App performs kms:Decrypt\n"));
    assert!(out.contains("         only with sts:ExternalId = ext-4711\n"), "{out}");
}

#[test]
fn a_search_cut_by_max_hops_is_unknown() {
    let (code, out, _) = keyproof(&["--transitive", "--max-hops", "1", "--format", "json"]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["truncated"], true);
    assert_eq!(v["max_hops"], 1);
    assert!(v["unknown"][0].as_str().unwrap().contains("--max-hops 1"));
    let (code, out, _) = keyproof(&["--transitive", "--max-hops", "1"]);
    assert_eq!(code, 2);
    assert!(out.contains("truncated: the search stopped at --max-hops 1"), "{out}");
}

#[test]
fn pictures_need_transitive() {
    let (code, out, _) = keyproof(&["--transitive", "--format", "mermaid"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("flowchart LR\n"), "{out}");
    let (code, out, _) = keyproof(&["--transitive", "--format", "dot"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("digraph {"), "{out}");
    let (code, _, err) = keyproof(&["--format", "dot"]);
    assert_eq!(code, 2);
    assert!(err.contains("use them with `who-can ... --transitive`"), "{err}");
}

/// An edge whose answer depends on a value the caller sets that keyproof cannot pick is
/// `unknown` (exit 2), never dropped.
#[test]
fn an_undecided_edge_is_unknown() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/scenarios/transitive-undecided");
    let out = Command::new(env!("CARGO_BIN_EXE_keyproof"))
        .args(["who-can", "kms:Decrypt", "alias/mfa-data", "--snapshot", dir, "--transitive"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "undecided: arn:aws:iam::420000000002:user/alice: the edge to arn:aws:iam::410000000001:role/App may exist"
        ),
        "{text}"
    );
}
