//! Every rule against its fixtures: `corpus/rules/<code>/fail/` must give at least one finding of
//! the rule and `pass/` none; the rendered findings are pinned with insta snapshots (reviewed by
//! eye). A rule without a documentation section or without fixtures fails here.

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests: a failed check is a panic that says what failed")]

use keyproof_model::Snapshot;
use keyproof_rules::registry::DOC_SECTIONS;
use keyproof_rules::{lint, Config, LintReport, Selection, RULES};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/rules")
}

fn run(dir: &Path, code: &str) -> LintReport {
    let snapshot = Snapshot::load(dir).unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
    let toml = dir.join("keyproof.toml");
    let config = if toml.is_file() {
        Config::parse(&toml.display().to_string(), &std::fs::read_to_string(&toml).unwrap()).unwrap()
    } else {
        Config::default()
    };
    lint(&snapshot, &config, &Selection { select: vec![code.to_string()], ignore: vec![] }, 10_000).unwrap()
}

/// The findings as a person reads them: message, places, replayed requests, notes.
fn render(report: &LintReport) -> String {
    let mut s = String::new();
    for f in &report.findings {
        let _ = writeln!(s, "{} [{}] {} on {}", f.code, f.severity.as_str(), f.name, f.key);
        let _ = writeln!(s, "  {}", f.message);
        for l in &f.locations {
            let _ = writeln!(s, "  at {}:{}:{} = {} ({})", l.place.file, l.place.line, l.place.column, l.place, l.what);
        }
        for r in &f.requests {
            let _ = writeln!(s, "  request: {} {} -> {}", r.principal, r.action, r.decision);
            for (k, v) in &r.context {
                let _ = writeln!(s, "    with {k} = {}", v.join(", "));
            }
            for a in &r.assumptions {
                let _ = writeln!(s, "    assuming {a}");
            }
            for b in &r.because {
                let _ = writeln!(s, "    allowed by {}", b.name());
            }
        }
        for n in &f.notes {
            let _ = writeln!(s, "  note: {n}");
        }
    }
    for u in &report.undetermined {
        let _ = writeln!(s, "undetermined: {u:?}");
    }
    s
}

#[test]
fn every_rule_fails_its_fail_fixture_and_passes_its_pass_fixture() {
    for rule in RULES {
        let dir = corpus().join(rule.code);
        let fail = run(&dir.join("fail"), rule.code);
        assert!(fail.findings.iter().any(|f| f.code == rule.code), "{}: the fail fixture gives no finding", rule.code);
        assert!(fail.undetermined.is_empty(), "{}: undetermined on the fail fixture", rule.code);
        insta::assert_snapshot!(format!("{}_fail", rule.code), render(&fail));
        let pass = run(&dir.join("pass"), rule.code);
        assert_eq!(render(&pass), "", "{}: the pass fixture gives findings", rule.code);
    }
}

#[test]
fn every_rule_has_its_doc_sections_and_fixtures() {
    for rule in RULES {
        let doc = rule.doc();
        assert!(
            doc.starts_with(&format!("# {} {}\n", rule.code, rule.name)),
            "{}: the doc must start with `# {} {}`",
            rule.code,
            rule.code,
            rule.name
        );
        assert!(!rule.summary().is_empty(), "{}: no summary sentence", rule.code);
        let mut last = 0;
        for section in DOC_SECTIONS {
            let at =
                doc.find(&format!("{section}\n")).unwrap_or_else(|| panic!("{}: no `{section}` in the doc", rule.code));
            assert!(at >= last, "{}: `{section}` is out of order", rule.code);
            last = at;
            let body = rule.section(section).unwrap();
            assert!(!body.is_empty(), "{}: `{section}` is empty", rule.code);
        }
        let refs = rule.references();
        assert!(
            !refs.is_empty() && refs.iter().all(|r| r.starts_with("https://docs.aws.amazon.com/")),
            "{}: References must list AWS documentation pages",
            rule.code
        );
        for side in ["fail", "pass"] {
            let dir = corpus().join(rule.code).join(side);
            assert!(
                dir.join("organization.json").is_file() || dir.join("accounts").is_dir(),
                "{}: no {side} fixture",
                rule.code
            );
        }
    }
}

#[test]
fn every_fixture_folder_belongs_to_a_rule() {
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(RULES.iter().any(|r| r.code == name), "corpus/rules/{name} is not a rule code");
    }
}

#[test]
fn codes_are_unique_and_in_order() {
    for (i, r) in RULES.iter().enumerate() {
        assert_eq!(r.code, format!("KP{:03}", i + 1));
    }
}

#[test]
fn a_suppression_without_a_reason_is_an_error() {
    let e = Config::parse("keyproof.toml", "[[suppress]]\nrule = \"KP013\"\nkey = \"alias/x\"\n").unwrap_err();
    assert!(e.to_string().contains("has no `reason`"), "{e}");
    let e = Config::parse("keyproof.toml", "ignore = [\"KP099\"]\n").unwrap_err();
    assert_eq!(e.to_string(), "unknown rule `KP099`");
    let e = Config::parse("keyproof.toml", "security_acounts = []\n").unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
}

#[test]
fn a_suppression_with_a_reason_moves_the_finding_aside() {
    let dir = corpus().join("KP015/fail");
    let snapshot = Snapshot::load(&dir).unwrap();
    let config =
        Config::parse("keyproof.toml", "[[suppress]]\nrule = \"KP015\"\nkey = \"alias/app\"\nreason = \"HSM-backed keys rotate by re-import (SEC-7)\"\n")
            .unwrap();
    let r = lint(&snapshot, &config, &Selection { select: vec!["KP015".into()], ignore: vec![] }, 10_000).unwrap();
    assert!(r.findings.is_empty());
    assert_eq!(r.suppressed.len(), 1);
    assert_eq!(r.suppressed[0].reason, "HSM-backed keys rotate by re-import (SEC-7)");
}

/// A random organization in the shape of a real one, where classes of members form: a
/// security account whose keys are open to the organization (`"*"` with `aws:PrincipalOrgID`,
/// sometimes `kms:ViaService` or a resource tag), to a few accounts by name, or to the owner
/// only; workload accounts in OUs with and without an SCP that denies decryption, whose roles
/// take a handful of policy shapes (some with tags and `${aws:PrincipalTag/team}`, some reading
/// `aws:PrincipalArn`, which no class may hide); grants to single roles; and, on some seeds, an
/// SCP or RCP or key policy that reads `aws:PrincipalArn`, `aws:PrincipalAccount` or
/// `kms:CallerAccount` (then the members or the key have no class).
fn write_classes_org(dir: &Path, seed: u64) {
    use serde_json::json;
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let org = "o-classes0001";
    let security = "100000000001";
    let accounts: Vec<String> = (2..14).map(|i| format!("1000000000{i:02}")).collect();
    let write = |path: &Path, v: &serde_json::Value| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
    };
    let doc = |v: serde_json::Value| v.to_string();
    let policy = |id: &str, kind: &str, content: serde_json::Value| {
        json!({"PolicySummary": {"Id": id, "Arn": format!("arn:aws:organizations::100000000000:policy/{org}/{kind}/{id}"),
            "Name": id, "Description": id, "Type": kind, "AwsManaged": id.ends_with("FullAWSAccess")}, "Content": doc(content)})
    };
    let mut policies = vec![
        policy(
            "p-FullAWSAccess",
            "SERVICE_CONTROL_POLICY",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        ),
        policy(
            "p-RCPFullAWSAccess",
            "RESOURCE_CONTROL_POLICY",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}),
        ),
        policy(
            "p-denydev",
            "SERVICE_CONTROL_POLICY",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}),
        ),
        policy(
            "p-region",
            "SERVICE_CONTROL_POLICY",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}}}]}),
        ),
    ];
    // The perimeter RCP: by organization (blind to names), or by account list (not).
    let rcp_by_account = next(4) == 0;
    let rcp_condition = if rcp_by_account {
        json!({"StringNotEqualsIfExists": {"aws:PrincipalAccount": accounts.iter().take(6).chain([&security.to_string()]).cloned().collect::<Vec<_>>()}})
    } else {
        json!({"StringNotEqualsIfExists": {"aws:PrincipalOrgID": org}, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}})
    };
    policies.push(policy("p-perimeter", "RESOURCE_CONTROL_POLICY", json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": rcp_condition}]})));
    // An SCP that exempts a role by ARN, on the Sandbox OU only.
    policies.push(policy(
        "p-exempt",
        "SERVICE_CONTROL_POLICY",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "kms:*", "Resource": "*",
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app-0"}}}]}),
    ));
    let ous = [
        ("ou-cl01-prod", "Prod", vec!["p-FullAWSAccess", "p-RCPFullAWSAccess"]),
        ("ou-cl01-dev", "Dev", vec!["p-FullAWSAccess", "p-denydev", "p-RCPFullAWSAccess"]),
        ("ou-cl01-sandbox", "Sandbox", vec!["p-FullAWSAccess", "p-exempt", "p-RCPFullAWSAccess"]),
    ];
    let account_node = |id: &str| {
        json!({"Account": {"Id": id, "Name": format!("acct-{id}"), "Arn": format!("arn:aws:organizations::100000000000:account/{org}/{id}"),
        "Email": format!("{id}@example.com"), "Status": "ACTIVE"}, "PolicyIds": ["p-FullAWSAccess", "p-RCPFullAWSAccess"]})
    };
    let mut placed: Vec<Vec<serde_json::Value>> = vec![Vec::new(), Vec::new(), Vec::new()];
    let mut ou_of = std::collections::BTreeMap::new();
    for a in &accounts {
        // Most accounts in Prod or Dev; the Sandbox OU on a few seeds only.
        let ou = if seed % 3 == 0 { next(3) } else { next(2) } as usize;
        placed[ou].push(account_node(a));
        ou_of.insert(a.clone(), ou);
    }
    let children: Vec<serde_json::Value> = ous.iter().zip(placed).map(|((id, name, pids), accs)| {
        json!({"OrganizationalUnit": {"Id": id, "Name": name}, "PolicyIds": pids, "Children": accs})
    }).chain([account_node(security), account_node("100000000000")]).collect();
    let root_pids: Vec<&str> = if next(2) == 0 {
        vec!["p-FullAWSAccess", "p-RCPFullAWSAccess", "p-perimeter"]
    } else {
        vec!["p-FullAWSAccess", "p-region", "p-RCPFullAWSAccess", "p-perimeter"]
    };
    write(
        &dir.join("organization.json"),
        &json!({"Organization": {"Id": org, "MasterAccountId": "100000000000"},
        "Roots": [{"Id": "r-cl01", "Name": "Root", "PolicyIds": root_pids, "Children": children}], "Policies": policies}),
    );
    // Keys of the security account.
    let key_arn = |i: usize| format!("arn:aws:kms:us-east-1:{security}:key/00000000-0000-0000-0000-{i:012}");
    let n_keys = 5;
    let mut roles_named = Vec::new();
    // Roles: a few shapes, the same texts in every account.
    for (ai, a) in accounts.iter().enumerate() {
        let mut roles = Vec::new();
        for r in 0..4 {
            let shape = next(6);
            let (inline, tags, boundary) = match shape {
                0 => (
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}),
                    json!([]),
                    false,
                ),
                1 => (
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": key_arn(next(n_keys as u64) as usize)}]}),
                    json!([]),
                    false,
                ),
                2 => (
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
                    json!([]),
                    false,
                ),
                3 => (
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                    "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}]}),
                    json!([{"Key": "team", "Value": if next(2) == 0 { "red" } else { "blue" }}]),
                    false,
                ),
                4 => (
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
                    "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app-1"}}}]}),
                    json!([]),
                    false,
                ),
                _ => (
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}),
                    json!([]),
                    true,
                ),
            };
            let name = format!("app-{r}");
            let arn = format!("arn:aws:iam::{a}:role/{name}");
            if ai % 4 == 0 && r == 0 {
                roles_named.push(arn.clone());
            }
            let mut role = json!({"Path": "/", "RoleName": name, "RoleId": format!("AROA{a}{r:04}"), "Arn": arn, "CreateDate": "2025-01-01T00:00:00Z",
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{a}:root")}, "Action": "sts:AssumeRole"}]},
                "InstanceProfileList": [], "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": inline}], "AttachedManagedPolicies": [], "Tags": tags, "RoleLastUsed": {}});
            if boundary {
                role["PermissionsBoundary"] = json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": format!("arn:aws:iam::{a}:policy/Boundary")});
            }
            roles.push(role);
        }
        let boundary = json!({"PolicyName": "Boundary", "PolicyId": format!("ANPA{a}"), "Arn": format!("arn:aws:iam::{a}:policy/Boundary"), "Path": "/",
            "DefaultVersionId": "v1", "AttachmentCount": 0, "PermissionsBoundaryUsageCount": 1, "IsAttachable": true, "CreateDate": "2025-01-01T00:00:00Z", "UpdateDate": "2025-01-01T00:00:00Z",
            "PolicyVersionList": [{"Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey", "s3:*"], "Resource": "*"}]},
                "VersionId": "v1", "IsDefaultVersion": true, "CreateDate": "2025-01-01T00:00:00Z"}]});
        write(
            &dir.join(format!("accounts/{a}/iam.json")),
            &json!({"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": roles, "Policies": [boundary]}),
        );
    }
    write(
        &dir.join(format!("accounts/{security}/iam.json")),
        &json!({"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}),
    );
    for i in 0..n_keys {
        let arn = key_arn(i);
        let owner = json!({"Sid": "EnableIAMPolicies", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{security}:root")}, "Action": "kms:*", "Resource": "*"});
        let mut statements = vec![owner];
        let shape = if i == 0 { 0 } else { next(5) };
        match shape {
            0 => statements.push(json!({"Sid": "OrgUse", "Effect": "Allow", "Principal": "*", "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": org}}})),
            1 => statements.push(json!({"Sid": "OrgViaS3", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant"], "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": org, "kms:ViaService": ["s3.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com"]}}})),
            2 => statements.push(json!({"Sid": "Cross", "Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{}:root", accounts[next(12) as usize]), accounts[next(12) as usize].clone()]},
                "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"})),
            3 => statements.push(json!({"Sid": "OrgByCaller", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": org}, "StringNotEquals": {"kms:CallerAccount": accounts[0].clone()}}})),
            _ => {}
        }
        let grants: Vec<serde_json::Value> = (0..next(3)).map(|g| {
            let grantee = roles_named[next(roles_named.len() as u64) as usize].clone();
            json!({"KeyId": arn, "GrantId": format!("g-{i}{g}"), "GranteePrincipal": grantee, "IssuingAccount": format!("arn:aws:iam::{security}:root"), "Operations": ["Decrypt"]})
        }).collect();
        let tags = if next(2) == 0 { json!([{"TagKey": "team", "TagValue": "red"}]) } else { json!([]) };
        write(
            &dir.join(format!("accounts/{security}/kms/us-east-1/{}.json", arn.rsplit('/').next().unwrap())),
            &json!({
            "KeyMetadata": {"AWSAccountId": security, "KeyId": arn.rsplit('/').next().unwrap(), "Arn": arn, "CreationDate": "2025-01-01T00:00:00Z", "Enabled": true, "Description": "",
                "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": "Enabled", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER", "KeySpec": "SYMMETRIC_DEFAULT", "MultiRegion": false},
            "Policy": doc(json!({"Version": "2012-10-17", "Statement": statements})), "Grants": grants, "Tags": tags, "KeyRotationEnabled": true}),
        );
    }
}

/// The classes of members (`keyproof_solver::classes`: members whose every input to a key's
/// decision is the same up to their names are asked once, and a yes is replayed per member)
/// change no finding: on random organizations, every rule's findings — messages, places,
/// replayed requests with their contexts and cited statements, notes — and undetermined
/// questions are the same with the classes and without.
#[test]
fn grouped_lint_is_the_ungrouped_lint() {
    use keyproof_rules::lint_grouped;
    use keyproof_solver::check::Shard;
    use keyproof_testgen::{write_snapshot, Params};
    let mut hits = 0;
    let mut findings = 0;
    for seed in 0..8u64 {
        let dir = tempfile::tempdir().unwrap();
        if seed < 6 {
            write_classes_org(dir.path(), seed);
        } else {
            // The general generator too: conditions of every family, NotPrincipal, variables.
            let params = Params {
                accounts: 5,
                roles_per_account: 2,
                keys: 2,
                grants_per_key: 1,
                seed,
                conditions: true,
                oracle: false,
            };
            write_snapshot(dir.path(), &params).unwrap();
        }
        let snapshot = Snapshot::load(dir.path()).unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
        let config = Config::default();
        let all = Selection { select: vec![], ignore: vec![] };
        let with = lint_grouped(&snapshot, &config, &all, 20_000, Shard::WHOLE, true).unwrap();
        let without = lint_grouped(&snapshot, &config, &all, 20_000, Shard::WHOLE, false).unwrap();
        assert_eq!(without.class_hits, 0);
        assert_eq!(render(&with), render(&without), "seed {seed}");
        hits += with.class_hits;
        findings += with.findings.len();
    }
    eprintln!("{hits} answers from classes, {findings} findings");
    assert!(findings > 20, "{findings} findings: the test compares too little");
    assert!(hits > 200, "{hits} answers came from a class: the test does not exercise the classes");
}
