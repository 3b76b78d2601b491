//! KP004, KP008 and KP018 on the transitive scenario (`corpus/scenarios/transitive`): the
//! findings the transitive answer adds, each naming its path's first hop with every hop as a
//! note; the direct findings stay as they are.

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests: a failed check is a panic that says what failed")]

use keyproof_model::Snapshot;
use keyproof_rules::{lint, Config, LintReport, Selection};
use std::path::Path;

fn run(code: &str) -> LintReport {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/scenarios/transitive");
    let snapshot = Snapshot::load(&dir).unwrap_or_else(|e| panic!("{e:?}"));
    let selection = Selection { select: vec![code.to_string()], ignore: vec![] };
    lint(&snapshot, &Config::default(), &selection, 10_000).unwrap()
}

fn messages(r: &LintReport) -> Vec<(&str, &str)> {
    r.findings.iter().map(|f| (f.principal.as_deref().unwrap_or(""), f.message.as_str())).collect()
}

#[test]
fn kp004_adds_an_outside_account_that_reaches_through_two_roles() {
    let r = run("KP004");
    assert!(r.undetermined.is_empty(), "{:?}", r.undetermined);
    let m = messages(&r);
    let partner: Vec<_> = m.iter().filter(|(p, _)| p.contains("260000000006")).collect();
    assert_eq!(partner.len(), 1, "{m:?}");
    assert!(
        partner[0].1.ends_with(
            "can reach kms:Decrypt with the key through a path of 2 hop(s), first assume-role to arn:aws:iam::250000000005:role/Partner"
        ),
        "{m:?}"
    );
    let f = r.findings.iter().find(|f| f.principal.as_deref().is_some_and(|p| p.contains("260000000006"))).unwrap();
    assert!(f.notes[0].starts_with("hop 1: assume-role"), "{:?}", f.notes);
    assert!(f.notes[0].contains("sts:ExternalId"), "{:?}", f.notes);
    assert!(f.notes[1]
        .starts_with("hop 2: assume-role arn:aws:iam::250000000005:role/Partner → arn:aws:iam::230000000003:role/App"));
    // The direct finding of the vendor account stays.
    assert!(
        m.iter()
            .any(|(p, msg)| *p == "arn:aws:iam::270000000007:root" && msg.ends_with("can kms:Decrypt with the key")),
        "{m:?}"
    );
    assert_eq!(r.findings.len(), 3, "{m:?}");
}

#[test]
fn kp008_adds_a_principal_that_assumes_a_grant_creator() {
    let r = run("KP008");
    let m = messages(&r);
    assert_eq!(
        m.iter().filter(|(_, msg)| msg.contains("through a path")).copied().collect::<Vec<_>>(),
        vec![(
            "arn:aws:iam::240000000004:role/Developer",
            "arn:aws:iam::240000000004:role/Developer cannot call kms:Decrypt on the key, but reaches it through a path of 2 hops that creates a grant, first assume-role to arn:aws:iam::220000000002:role/SharedCi"
        )]
    );
    // The creators' own findings stay; SharedCi's own one-hop grant is not repeated as a path.
    assert!(m
        .iter()
        .any(|(p, msg)| *p == "arn:aws:iam::220000000002:role/SharedCi" && msg.contains("can create a grant for it")));
    assert_eq!(r.findings.len(), 3, "{m:?}");
}

#[test]
fn kp018_reports_an_iam_writer_that_reaches_put_key_policy() {
    let r = run("KP018");
    assert!(r.undetermined.is_empty(), "{:?}", r.undetermined);
    assert_eq!(
        messages(&r),
        vec![(
            "arn:aws:iam::210000000001:role/Writer2",
            "arn:aws:iam::210000000001:role/Writer2 is not one of the key's administrators but reaches kms:PutKeyPolicy through a path of 2 hop(s), first iam-write to arn:aws:iam::210000000001:role/Free"
        )]
    );
}
