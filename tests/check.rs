//! `keyproof check` on the demo: every property's verdict is pinned, and counterexamples name
//! the principals a security reviewer would expect.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed check panics and says what failed"
)]

use assert_cmd::Command;
use serde_json::Value;

fn check(args: &[&str]) -> (i32, Value) {
    let out = Command::cargo_bin("keyproof").unwrap().args(args).output().unwrap();
    let json: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), json)
}

fn result<'v>(json: &'v Value, name: &str) -> &'v Value {
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["property"] == name)
        .unwrap_or_else(|| panic!("no result for {name}"))
}

fn violators(r: &Value) -> Vec<String> {
    r["violations"]
        .as_array()
        .map(|v| v.iter().map(|x| x["principal"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn demo_properties_have_their_expected_verdicts() {
    let (code, json) = check(&["check", "corpus/central-kms/properties.kp", "--format", "json"]);
    assert_eq!(code, 1, "a violated property exits 1");
    let expected = [
        ("prod_only_decrypt", "violated"),
        ("no_external_access", "violated"),
        ("separation_of_duties", "violated"),
        ("s3_key_only_via_s3", "violated"),
        ("deletion_by_key_admin_only", "violated"),
        ("sandbox_cannot_use_ebs_key", "proved"),
        ("workloads_cannot_change_key_policies", "proved"),
        ("dev_cannot_use_mrk_replica", "violated"),
        ("dev_cannot_use_mrk_primary", "proved"),
        ("no_external_access_but_services", "proved"),
        ("dev_cannot_decrypt_s3_prod_key", "proved"),
    ];
    for (name, status) in expected {
        assert_eq!(result(&json, name)["status"], status, "{name}");
    }
    assert_eq!(json["results"].as_array().unwrap().len(), expected.len());
}

#[test]
fn counterexamples_name_the_misconfigurations() {
    let (_, json) = check(&["check", "corpus/central-kms/properties.kp", "--format", "json"]);
    // The forgotten grant lets the Test account's AppRole decrypt with the prod S3 key.
    let prod = result(&json, "prod_only_decrypt");
    assert!(violators(prod).contains(&"arn:aws:iam::555566667777:role/AppRole".to_string()), "{prod}");
    assert!(!violators(prod).iter().any(|p| p.contains("444455556666")), "Prod principals are allowed by the property");
    // The drifted replica lets the Dev account decrypt; the primary does not.
    let replica = result(&json, "dev_cannot_use_mrk_replica");
    assert_eq!(replica["counterexample"]["principal"], "arn:aws:iam::666677778888:role/AppRole");
    assert_eq!(replica["counterexample"]["action"], "kms:Decrypt");
    let because: Vec<&str> =
        replica["because"].as_array().unwrap().iter().filter_map(|b| b["statement"].as_str()).collect();
    assert!(because.contains(&"AllowUseFromProdAndTestOUs"), "{because:?}");
    // Without kms:ViaService, the security account's root can decrypt with the S3 key.
    let via = result(&json, "s3_key_only_via_s3");
    assert!(via["counterexample"]["context"]
        .get("kms:ViaService")
        .is_none_or(|v| !v[0].as_str().unwrap().starts_with("s3.")));
    // Separation of duties: the counterexample has both requests, replayed.
    let sod = result(&json, "separation_of_duties");
    let actions: Vec<&str> =
        sod["requests"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["kms:PutKeyPolicy", "kms:Decrypt"]);
    for r in sod["requests"].as_array().unwrap() {
        assert_eq!(r["decision"], "allow");
    }
}

#[test]
fn all_proved_exits_zero_and_text_summarises() {
    let dir = std::env::temp_dir().join(format!("kp-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ok.kp");
    std::fs::write(&file, "property sandbox {\n  forall principal in ou \"Root/Sandbox\":\n    not can(principal, kms:*, key \"alias/ebs-prod-key\")\n}\n").unwrap();
    let out = Command::cargo_bin("keyproof").unwrap().args(["check", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("proved") && text.contains("1 proved, 0 violated, 0 vacuous, 0 unknown"), "{text}");
}

#[test]
fn vacuous_when_the_quantified_set_is_empty() {
    let dir = std::env::temp_dir().join(format!("kp-vac-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vac.kp");
    std::fs::write(&file, "property none {\n  forall principal, key in region \"eu-north-1\":\n    not can(principal, kms:Decrypt, key)\n}\n").unwrap();
    let (code, json) = check(&["check", file.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(result(&json, "none")["status"], "vacuous");
}

#[test]
fn property_errors_point_at_line_and_column() {
    let dir = std::env::temp_dir().join(format!("kp-err-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.kp");
    std::fs::write(
        &file,
        "property p {\n  forall principal:\n    can(principal, kms:Decrypt, key \"alias/nope\")\n}\n",
    )
    .unwrap();
    let out = Command::cargo_bin("keyproof")
        .unwrap()
        .args(["check", file.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("bad.kp:3:37") && err.contains("alias/nope"), "{err}");
}

#[test]
fn sarif_lists_violations_at_their_property() {
    let (code, json) = check(&["check", "corpus/central-kms/properties.kp", "--format", "sarif"]);
    assert_eq!(code, 1);
    assert_eq!(json["version"], "2.1.0");
    let results = json["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    let first = &results[0];
    assert_eq!(first["ruleId"], "prod_only_decrypt");
    assert_eq!(first["level"], "error");
    assert_eq!(first["locations"][0]["physicalLocation"]["region"]["startLine"], 6);
    assert!(first["relatedLocations"].as_array().unwrap().iter().all(|l| l["physicalLocation"]["artifactLocation"]
        ["uri"]
        .as_str()
        .unwrap()
        .starts_with("corpus/central-kms/accounts/")));
    // Region numbers: the property's line, and every related place a full region.
    let region = &first["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startColumn"], 1);
    assert!(region["endLine"].as_u64() > region["startLine"].as_u64(), "{region}");
    assert_eq!(
        first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "corpus/central-kms/properties.kp"
    );
    for l in first["relatedLocations"].as_array().unwrap() {
        let r = &l["physicalLocation"]["region"];
        assert!(r["startLine"].as_u64().unwrap() >= 1 && r["endLine"].as_u64() >= r["startLine"].as_u64(), "{l}");
    }
}

#[test]
fn who_can_lists_the_prod_s3_key_users() {
    let out = Command::cargo_bin("keyproof")
        .unwrap()
        .args(["who-can", "kms:Decrypt", "alias/s3-prod-key", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut principals: Vec<&str> =
        json["principals"].as_array().unwrap().iter().map(|p| p["principal"].as_str().unwrap()).collect();
    principals.sort();
    assert_eq!(
        principals,
        [
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::444455556666:role/AppRole",
            "arn:aws:iam::444455556666:role/app/BatchRole",
            "arn:aws:iam::444455556666:root",
            "arn:aws:iam::555566667777:role/AppRole",
            // Federated users (GetFederationToken) of the accounts the key policy delegates to:
            // their permissions come from a session policy the snapshot does not hold.
            "arn:aws:sts::111122223333:federated-user/--",
            "arn:aws:sts::444455556666:federated-user/--",
        ]
    );
    assert_eq!(json["public"], false);
    let app = json["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principal"] == "arn:aws:iam::444455556666:role/AppRole")
        .unwrap();
    let c = &app["conditions"][0];
    assert_eq!(c["text"], "only with kms:ViaService = s3.us-east-1.amazonaws.com");
    assert_eq!((c["key"].as_str(), c["requires"].as_str()), (Some("kms:ViaService"), Some("equals")));
    assert_eq!(c["values"], serde_json::json!(["s3.us-east-1.amazonaws.com"]));
}

/// Runs `keyproof ARGS…` and returns the exit code and stdout.
fn run(args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("keyproof").unwrap().args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn scenario(name: &str) -> String {
    format!("{}/corpus/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

const PARTNER: &str = "arn:aws:iam::999900000001:role/Partner";
const WORKLOAD_APP: &str = "arn:aws:iam::222200000001:role/AppRole";

/// Issue 9: on an organization that has not enabled RCPs, and on one whose snapshot lists
/// RCPFullAWSAccess only at the root, who-can, check, lint and diff give AWS's answers (the
/// evaluator's are pinned in the scenarios' cases.toml).
#[test]
fn organization_policy_types_give_aws_answers_in_every_command() {
    let no_rcps = scenario("org-without-rcps");
    let root_only = scenario("rcp-full-access-at-root-only");
    // who-can: without RCPs the outside partner is let in by the key policy; with the implied
    // RCPFullAWSAccess only the perimeter RCP's Deny decides, and it keeps the partner out.
    let who = |snap: &str| {
        let (code, out) = run(&["who-can", "kms:Decrypt", "alias/shared", "--snapshot", snap, "--format", "json"]);
        assert_eq!(code, 0, "{out}");
        let v: Value = serde_json::from_str(&out).unwrap();
        v["principals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["principal"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let open = who(&no_rcps);
    assert!(open.iter().any(|p| p == PARTNER) && open.iter().any(|p| p == WORKLOAD_APP), "{open:?}");
    let perimeter = who(&root_only);
    assert!(perimeter.iter().any(|p| p == WORKLOAD_APP), "{perimeter:?}");
    assert!(!perimeter.iter().any(|p| p.contains("999900000001")), "{perimeter:?}");

    // check
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("org.kp");
    std::fs::write(
        &props,
        format!(
            "property partner_decrypts {{ can(\"{PARTNER}\", kms:Decrypt, key \"alias/shared\") }}\n\
             property workload_decrypts {{ can(\"{WORKLOAD_APP}\", kms:Decrypt, key \"alias/shared\") }}\n\
             property only_org_decrypts {{ forall principal, key: can(principal, kms:Decrypt, key) implies principal in org }}\n"
        ),
    )
    .unwrap();
    let props = props.to_str().unwrap();
    let (code, v) = check(&["check", props, "--snapshot", &no_rcps, "--format", "json"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(result(&v, "partner_decrypts")["status"], "proved", "{v}");
    assert_eq!(result(&v, "workload_decrypts")["status"], "proved", "{v}");
    assert_eq!(result(&v, "only_org_decrypts")["status"], "violated", "{v}");
    let (code, v) = check(&["check", props, "--snapshot", &root_only, "--format", "json"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(result(&v, "partner_decrypts")["status"], "violated", "{v}");
    assert_eq!(result(&v, "workload_decrypts")["status"], "proved", "{v}");
    assert_eq!(result(&v, "only_org_decrypts")["status"], "proved", "{v}");

    // lint: the key administrators can call PutKeyPolicy, so no KP007 lockout finding.
    for snap in [&no_rcps, &root_only] {
        let (_, out) = run(&["lint", "--snapshot", snap, "--format", "json"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        let codes: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
        assert!(!codes.contains(&"KP007"), "{snap}: {codes:?}");
    }

    // diff: enabling RCPs with the perimeter takes the partner's access away, and adds none.
    let (code, out) = run(&["diff", &no_rcps, &root_only, "--format", "json"]);
    assert_eq!(code, 0, "only removals: {out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["added"], Value::Array(vec![]), "{out}");
    let removed: Vec<&str> = v["removed"].as_array().unwrap().iter().map(|c| c["summary"].as_str().unwrap()).collect();
    assert_eq!(
        removed,
        ["every principal of account 999900000001 (2 in the snapshot, and its federated users) can no longer kms:Decrypt, kms:DescribeKey, kms:Encrypt alias/shared"],
        "only the outside account loses access"
    );
}

/// Issue 9: a properties file with no property cannot pass by accident.
#[test]
fn an_empty_properties_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("empty.kp");
    std::fs::write(&props, "# only a comment\n").unwrap();
    let out = Command::cargo_bin("keyproof").unwrap().args(["check", props.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("holds no property: a check of nothing would pass"), "{stderr}");
}

/// Issue 9: an antecedent that no principal satisfies (an OU without accounts) makes the
/// property vacuous, whatever its consequent.
#[test]
fn an_antecedent_nobody_satisfies_is_vacuous() {
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("vacuous.kp");
    std::fs::write(
        &props,
        "property workloads { forall principal: principal in ou \"Root/Workloads\" implies not can(principal, kms:Decrypt, key \"alias/shared\") }\n\
         property empty_ou { forall principal: principal in ou \"Root/Sandbox\" implies not can(principal, kms:Decrypt, key \"alias/shared\") }\n\
         property empty_ou_binder { forall principal in ou \"Root/Sandbox\": not can(principal, kms:Decrypt, key \"alias/shared\") }\n",
    )
    .unwrap();
    let snap = scenario("org-without-rcps");
    let (_, v) = check(&["check", props.to_str().unwrap(), "--snapshot", &snap, "--format", "json"]);
    // Workloads holds 222200000001, whose AppRole can decrypt: a real violation.
    assert_eq!(result(&v, "workloads")["status"], "violated", "{v}");
    // Root/Sandbox holds no account: vacuous in the body and in the binder alike.
    assert_eq!(result(&v, "empty_ou")["status"], "vacuous", "{v}");
    assert_eq!(result(&v, "empty_ou_binder")["status"], "vacuous", "{v}");
}

/// Issue 9: a property about one named principal reports that principal as its counterexample
/// and in "violated by", with the evaluator's reason for denying the request.
#[test]
fn a_fixed_principal_property_names_its_principal() {
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("fixed.kp");
    std::fs::write(
        &props,
        "property dev_app_decrypts_s3 { can(\"arn:aws:iam::666677778888:role/AppRole\", kms:Decrypt, key \"alias/s3-prod-key\") }\n",
    )
    .unwrap();
    let demo = format!("{}/corpus/central-kms", env!("CARGO_MANIFEST_DIR"));
    let (code, v) = check(&["check", props.to_str().unwrap(), "--snapshot", &demo, "--format", "json"]);
    assert_eq!(code, 1, "{v}");
    let r = result(&v, "dev_app_decrypts_s3");
    assert_eq!(r["status"], "violated");
    assert_eq!(r["counterexample"]["principal"], "arn:aws:iam::666677778888:role/AppRole", "{r}");
    assert_eq!(violators(r), ["arn:aws:iam::666677778888:role/AppRole"]);
    let denied = &r["denied"][0];
    assert_eq!(denied["decision"], "implicit-deny", "{r}");
    assert_eq!(denied["action"], "kms:Decrypt");
    assert_eq!(denied["key"], "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321");
    assert_eq!(denied["because"][0]["outcome"], "missing", "{r}");
}

/// `--shard I/N`: the shards' answers together are the whole answer — every property's
/// violations, instance counts and verdict.
#[test]
fn shards_together_are_the_whole_answer() {
    let props = "corpus/central-kms/properties.kp";
    let (_, whole) = check(&["check", props, "--format", "json"]);
    let shards: Vec<Value> =
        (1..=3).map(|i| check(&["check", props, "--format", "json", "--shard", &format!("{i}/3")]).1).collect();
    for w in whole["results"].as_array().unwrap() {
        let name = w["property"].as_str().unwrap();
        let parts: Vec<&Value> = shards.iter().map(|s| result(s, name)).collect();
        let instances: u64 = parts.iter().map(|p| p["instances"].as_u64().unwrap()).sum();
        assert_eq!(instances, w["instances"].as_u64().unwrap(), "{name}");
        let pairs = |r: &Value| -> Vec<(String, String)> {
            let mut v: Vec<(String, String)> = r["violations"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| (x["principal"].as_str().unwrap().to_string(), x["key"].as_str().unwrap().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        let mut union: Vec<(String, String)> = parts.iter().flat_map(|p| pairs(p)).collect();
        union.sort();
        assert_eq!(union, pairs(w), "{name}");
        let statuses: Vec<&str> = parts.iter().map(|p| p["status"].as_str().unwrap()).collect();
        let combined = if statuses.contains(&"violated") {
            "violated"
        } else if statuses.contains(&"unknown") {
            "unknown"
        } else if statuses.contains(&"proved") {
            "proved"
        } else {
            "vacuous"
        };
        assert_eq!(combined, w["status"], "{name}: {statuses:?}");
    }
    let out = Command::cargo_bin("keyproof").unwrap().args(["check", props, "--shard", "4/3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a shard outside 1..=N is a usage error");
}

/// Issue 10: who-can's `via`, check's `because`, lint's findings and diff's `because` cite the
/// same statements for the same request (Dev's AppRole decrypting with the drifted replica).
#[test]
fn every_command_cites_the_same_statements() {
    let replica = "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
    let app = "arn:aws:iam::666677778888:role/AppRole";
    // The same citation: its text and its structured parts (layer, policy, statement, and the
    // location object with file, line, column, pointers and the statement's sid and index).
    let cite = |b: &Value| {
        let what = match (b["policy"].as_str(), b["statement"].as_str()) {
            (Some(p), Some(s)) => format!("{p}, statement {s}"),
            (Some(p), None) => p.to_string(),
            _ => b["detail"].as_str().unwrap().to_string(),
        };
        let l = &b["location"];
        assert_eq!(b["text"].as_str().unwrap(), format!("{what} ({})", display(l)), "{b}");
        assert!(l["json_pointer"].as_str().unwrap().starts_with('/'), "{b}");
        format!("{} | {} | {} | {}", b["text"].as_str().unwrap(), b["layer"], b["policy"], l)
    };
    // check
    let (_, json) = check(&["check", "corpus/central-kms/properties.kp", "--format", "json"]);
    let r = result(&json, "dev_cannot_use_mrk_replica");
    assert_eq!(r["counterexample"]["principal"], app);
    assert_eq!(r["counterexample"]["context"], serde_json::json!({}));
    let from_check: Vec<String> = r["because"].as_array().unwrap().iter().map(cite).collect();
    assert_eq!(from_check.len(), 2, "{from_check:?}");
    // who-can
    let out = Command::cargo_bin("keyproof")
        .unwrap()
        .args(["who-can", "kms:Decrypt", replica, "--format", "json"])
        .output()
        .unwrap();
    let wc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = wc["principals"].as_array().unwrap().iter().find(|p| p["principal"] == app).unwrap();
    assert_eq!(entry["example_context"], serde_json::json!({}));
    let from_who_can: Vec<String> = entry["via"].as_array().unwrap().iter().map(cite).collect();
    assert_eq!(from_who_can, from_check);
    // lint (KP011, replica drift)
    let out = Command::cargo_bin("keyproof")
        .unwrap()
        .args(["lint", "--config", "corpus/central-kms/keyproof.toml", "--format", "json"])
        .output()
        .unwrap();
    let lint: Value = serde_json::from_slice(&out.stdout).unwrap();
    let request = lint["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["requests"].as_array().into_iter().flatten())
        .find(|q| q["principal"] == app && q["action"] == "kms:Decrypt" && q["key"] == replica)
        .unwrap();
    assert_eq!(request["context"], serde_json::json!({}));
    let from_lint: Vec<String> = request["because"].as_array().unwrap().iter().map(cite).collect();
    assert_eq!(from_lint, from_check);
    // diff: before, the replica's policy does not have the drifted statement.
    let before = std::env::temp_dir().join(format!("kp-cite-before-{}", std::process::id()));
    copy_dir(std::path::Path::new("corpus/central-kms"), &before);
    let file = before.join("accounts/111122223333/kms/us-west-2/mrk-1234abcd12ab34cd56ef1234567890ab.json");
    let mut key: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut policy: Value = serde_json::from_str(key["Policy"].as_str().unwrap()).unwrap();
    policy["Statement"].as_array_mut().unwrap().retain(|s| s["Sid"] != "AllowUseFromProdAndTestOUs");
    key["Policy"] = Value::String(policy.to_string());
    std::fs::write(&file, serde_json::to_string_pretty(&key).unwrap()).unwrap();
    let out = Command::cargo_bin("keyproof")
        .unwrap()
        .args(["diff", before.to_str().unwrap(), "corpus/central-kms", "--format", "json"])
        .output()
        .unwrap();
    let diff: Value = serde_json::from_slice(&out.stdout).unwrap();
    let class = diff["added"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["example"]["principal"] == app && c["example"]["action"] == "kms:Decrypt" && c["key"] == replica)
        .unwrap_or_else(|| panic!("no added class for {app} on the replica: {diff}"));
    assert_eq!(class["example"]["context"], serde_json::json!({}));
    let mut from_diff: Vec<String> = class["because"].as_array().unwrap().iter().map(cite).collect();
    from_diff.sort();
    let mut sorted_check = from_check.clone();
    sorted_check.sort();
    assert_eq!(from_diff, sorted_check);
    let _ = std::fs::remove_dir_all(&before);
}

/// A location object's text form (`file:line:column`, or `file → Element:line:column`).
fn display(l: &Value) -> String {
    match l["embedded"].as_object() {
        Some(e) => format!(
            "{} → {}:{}:{}",
            l["file"].as_str().unwrap(),
            e["element"].as_str().unwrap(),
            e["line"],
            e["column"]
        ),
        None => format!("{}:{}:{}", l["file"].as_str().unwrap(), l["line"], l["column"]),
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A `"*"` statement that lets in every account whose id starts with 1111 lets in accounts the
/// snapshot never names: "any other account" must not be proved unable to decrypt (its stand-in
/// account id matches no such pattern, so the id is a free choice there).
#[test]
fn an_account_id_pattern_covers_accounts_the_snapshot_never_names() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap");
    copy_dir(std::path::Path::new(&scenario("org-without-rcps")), &snap);
    let key = snap.join("accounts/111100000001/kms/us-east-1/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdmins", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111100000001:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Accounts1111", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringLike": {"aws:PrincipalAccount": "1111*"}}}]});
    v["Policy"] = Value::String(policy.to_string());
    std::fs::write(&key, v.to_string()).unwrap();
    let props = dir.path().join("p.kp");
    std::fs::write(
        &props,
        "property only_org { forall principal: can(principal, kms:Decrypt, key \"alias/shared\") implies principal in org }\n",
    )
    .unwrap();
    let (code, v) =
        check(&["check", props.to_str().unwrap(), "--snapshot", snap.to_str().unwrap(), "--format", "json"]);
    let r = result(&v, "only_org");
    assert_eq!(r["status"], "unknown", "{v}");
    assert_ne!(code, 0, "{v}");
}

/// `lint --shard I/N`: the shards' findings together are the whole run's.
#[test]
fn lint_shards_together_are_the_whole_run() {
    let lint = |shard: Option<&str>| -> Vec<String> {
        let mut args = vec!["lint", "--config", "corpus/central-kms/keyproof.toml", "--format", "json"];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        let out = Command::cargo_bin("keyproof").unwrap().args(&args).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut f: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["code"].as_str().unwrap(), f["fingerprint"].as_str().unwrap()))
            .collect();
        f.sort();
        f
    };
    let whole = lint(None);
    assert!(whole.len() > 5, "{whole:?}");
    let mut union: Vec<String> = ["1/2", "2/2"].iter().flat_map(|s| lint(Some(s))).collect();
    union.sort();
    assert_eq!(union, whole);
}
