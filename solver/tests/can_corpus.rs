//! `can` (one principal, every key × action) against who-can (one key × action, every
//! principal) on the demo organization: the two orders of the same questions give the same
//! answers, and the filters keep exactly the members they name.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed check panics and says what failed"
)]

use keyproof_model::Snapshot;
use keyproof_solver::can::{can, member};
use keyproof_solver::domain::Kind;
use keyproof_solver::query::{actions_matching, Prover};
use keyproof_solver::who_can::{who_can, who_can_filtered, Filter, PrincipalKind};
use std::collections::BTreeSet;
use std::path::Path;

fn demo() -> Snapshot {
    Snapshot::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/central-kms")).unwrap()
}

#[test]
fn can_and_who_can_agree_on_the_demo() {
    let snapshot = demo();
    let prover = Prover::new(&snapshot, 20_000, &[]);
    let actions = actions_matching("kms:*");
    let keys: Vec<_> = snapshot.keys.iter().collect();
    // (principal, key, action) the one way and the other.
    let mut by_who_can = BTreeSet::new();
    for key in &keys {
        for a in &actions {
            for p in who_can(&prover, prover.members(), a, key).unwrap().principals {
                if p.kind == "snapshot" {
                    by_who_can.insert((p.principal, key.arn.clone(), format!("kms:{}", a.name)));
                }
            }
        }
    }
    let mut by_can = BTreeSet::new();
    for m in prover.members().iter().filter(|m| m.kind == Kind::Snapshot) {
        let answer = can(&prover, m, &actions, &keys).unwrap();
        assert!(answer.unknown.is_empty(), "{:?}", answer.unknown);
        for k in answer.keys {
            for op in k.operations {
                by_can.insert((m.principal.clone(), k.key.clone(), op.action));
            }
        }
    }
    assert_eq!(by_can, by_who_can);
    assert!(by_can.len() > 100, "the demo grants much: {}", by_can.len());
}

#[test]
fn a_role_session_is_its_roles_member_and_an_unknown_role_is_an_error() {
    let snapshot = demo();
    let session = "arn:aws:sts::555566667777:assumed-role/AppRole/tests";
    let prover = Prover::new(&snapshot, 20_000, &[session.to_string()]);
    let m = member(&prover, session).unwrap();
    assert_eq!((m.kind.clone(), m.account.as_deref()), (Kind::Snapshot, Some("555566667777")));
    let key = snapshot.key("alias/s3-prod-key").unwrap();
    let answer = can(&prover, &m, &actions_matching("kms:Decrypt"), &[key]).unwrap();
    let ops = &answer.keys[0].operations;
    assert_eq!(ops[0].action, "kms:Decrypt");
    let texts: Vec<&str> = ops[0].conditions.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["only with kms:EncryptionContext:aws:s3:arn = arn:aws:s3:::payments-test-fixtures"]);
    assert_eq!(
        (ops[0].conditions[0].key.as_str(), ops[0].conditions[0].requires, ops[0].conditions[0].values.as_slice()),
        ("kms:EncryptionContext:aws:s3:arn", "equals", ["arn:aws:s3:::payments-test-fixtures".to_string()].as_slice())
    );
    assert!(member(&prover, "arn:aws:iam::555566667777:role/NoSuchRole").is_err());
}

#[test]
fn filters_keep_the_members_they_name_with_their_unfiltered_answers() {
    let snapshot = demo();
    let prover = Prover::new(&snapshot, 20_000, &[]);
    let key = snapshot.key("alias/master-key-org").unwrap();
    let decrypt = actions_matching("kms:Decrypt")[0];
    let all = who_can(&prover, prover.members(), decrypt, key).unwrap();
    let org = snapshot.org.as_ref().unwrap();
    let cases = [
        Filter { account: Some("666677778888".into()), ..Filter::default() },
        Filter { ou: org.find_ou("Workloads"), ..Filter::default() },
        Filter { kind: Some(PrincipalKind::Role), ..Filter::default() },
        Filter { kind: Some(PrincipalKind::Root), ou: org.find_ou("Workloads/Prod"), ..Filter::default() },
    ];
    let expected: [&[&str]; 4] = [
        &[
            "arn:aws:iam::666677778888:role/AppRole",
            "arn:aws:iam::666677778888:root",
            "arn:aws:sts::666677778888:federated-user/--",
        ],
        &[
            "arn:aws:iam::444455556666:role/AppRole",
            "arn:aws:iam::444455556666:root",
            "arn:aws:iam::555566667777:role/AppRole",
            "arn:aws:iam::555566667777:root",
            "arn:aws:iam::666677778888:role/AppRole",
            "arn:aws:iam::666677778888:root",
            "arn:aws:sts::444455556666:federated-user/--",
            "arn:aws:sts::555566667777:federated-user/--",
            "arn:aws:sts::666677778888:federated-user/--",
        ],
        &[
            "arn:aws:iam::111122223333:role/SecurityAudit",
            "arn:aws:iam::111122223333:role/aws-service-role/mrk.kms.amazonaws.com/AWSServiceRoleForKeyManagementServiceMultiRegionKeys",
            "arn:aws:iam::444455556666:role/AppRole",
            "arn:aws:iam::555566667777:role/AppRole",
            "arn:aws:iam::666677778888:role/AppRole",
            "arn:aws:iam::777788889999:role/SandboxDev",
            "arn:aws:iam::999988887777:role/OrgAdmin",
        ],
        &["arn:aws:iam::444455556666:root"],
    ];
    for (filter, want) in cases.iter().zip(expected) {
        let got = who_can_filtered(&prover, prover.members(), decrypt, key, filter).unwrap();
        let names: Vec<&str> = got.principals.iter().map(|p| p.principal.as_str()).collect();
        assert_eq!(names, want, "{filter:?}");
        for p in &got.principals {
            let same = all.principals.iter().find(|q| q.principal == p.principal).unwrap();
            assert_eq!((&p.conditions, &p.via), (&same.conditions, &same.via));
        }
        assert_eq!(got.public, all.public);
    }
}
