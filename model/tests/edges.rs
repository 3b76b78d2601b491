//! `eval::edges`: sts:AssumeRole and the IAM writes decided by the evaluator's layers, on the
//! scenario corpus/scenarios/transitive.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use keyproof_model::context::resolve_principal;
use keyproof_model::eval::edges::{decide_assume_role, decide_iam_write, OtherRequest};
use keyproof_model::eval::{Decision, Layer, Verdict};
use keyproof_model::Snapshot;
use std::collections::BTreeMap;
use std::path::Path;

fn snapshot() -> Snapshot {
    Snapshot::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/scenarios/transitive")).unwrap()
}

fn assume(s: &Snapshot, caller: &str, role: &str, context: &[(&str, &str)], open: &[&str]) -> Decision {
    let p = resolve_principal(s, caller).unwrap();
    let account = role.split(':').nth(4).unwrap();
    let name = role.rsplit('/').next().unwrap();
    let role = s.account(account).and_then(|a| a.role(name)).unwrap();
    let given: BTreeMap<String, Vec<String>> =
        context.iter().map(|(k, v)| (k.to_string(), vec![v.to_string()])).collect();
    let open: Vec<String> = open.iter().map(|k| k.to_string()).collect();
    decide_assume_role(s, &p, role, "us-east-1", &given, &open).unwrap()
}

#[test]
fn cross_account_needs_the_trust_and_the_callers_identity_policy() {
    let s = snapshot();
    let d = assume(&s, "arn:aws:iam::240000000004:user/ops", "arn:aws:iam::250000000005:role/Bridge", &[], &[]);
    assert_eq!(d.decision, Verdict::Allow);
    let cited: Vec<String> = d.because().iter().map(|t| t.cited()).collect();
    assert!(
        cited
            .iter()
            .any(|c| c.contains("trust policy of role arn:aws:iam::250000000005:role/Bridge, statement FromDev")),
        "{cited:?}"
    );
    assert!(cited.iter().any(|c| c.contains("inline policy AssumeBridge")), "{cited:?}");
    // Developer's account is trusted too, but its IAM policies do not allow assuming Bridge.
    let d = assume(&s, "arn:aws:iam::240000000004:role/Developer", "arn:aws:iam::250000000005:role/Bridge", &[], &[]);
    assert_eq!(d.decision, Verdict::ImplicitDeny);
    assert!(d.trace.iter().any(|t| t.layer == Layer::Trust));
}

#[test]
fn same_account_trust_naming_the_caller_needs_no_identity_policy() {
    let s = snapshot();
    // CycleA's trust names Bridge (same account); Bridge's policy allows it anyway, so ask the
    // reverse: Bridge's trust names CycleA, whose policy allows sts:AssumeRole on Bridge.
    let d = assume(&s, "arn:aws:iam::250000000005:role/CycleA", "arn:aws:iam::250000000005:role/Bridge", &[], &[]);
    assert_eq!(d.decision, Verdict::Allow);
    // Free's trust names Writer2 directly.
    let d = assume(&s, "arn:aws:iam::210000000001:role/Writer2", "arn:aws:iam::210000000001:role/Free", &[], &[]);
    assert_eq!(d.decision, Verdict::Allow);
    // KeyAdmin's trust names the account: KeyAdmin's own IAM (none) would have to allow.
    let d = assume(&s, "arn:aws:iam::210000000001:role/Writer", "arn:aws:iam::210000000001:role/KeyAdmin", &[], &[]);
    assert_eq!(d.decision, Verdict::ImplicitDeny);
}

#[test]
fn external_id_is_a_condition_the_caller_meets() {
    let s = snapshot();
    let partner = "arn:aws:iam::250000000005:role/Partner";
    let caller = "arn:aws:iam::260000000006:role/Integration";
    let d = assume(&s, caller, partner, &[], &[]);
    assert_eq!(d.decision, Verdict::ImplicitDeny, "without sts:ExternalId");
    let d = assume(&s, caller, partner, &[("sts:ExternalId", "wrong")], &[]);
    assert_eq!(d.decision, Verdict::ImplicitDeny);
    // With the external id, only the partner account's own IAM (outside the snapshot) decides.
    let d = assume(&s, caller, partner, &[("sts:ExternalId", "ext-4711")], &[]);
    assert_eq!(d.decision, Verdict::Unknown);
    assert!(d.unknown.iter().all(|r| keyproof_model::context::is_outside_reason(r)), "{:?}", d.unknown);
    // The key left open: it may matter.
    let d = assume(&s, caller, partner, &[], &["sts:ExternalId"]);
    assert_eq!(d.decision, Verdict::Unknown);
    assert!(d.unknown.iter().any(|r| r.contains("sts:ExternalId")), "{:?}", d.unknown);
}

#[test]
fn root_and_federated_users_cannot_assume_roles() {
    let s = snapshot();
    let d = assume(&s, "arn:aws:iam::240000000004:root", "arn:aws:iam::250000000005:role/Bridge", &[], &[]);
    assert_eq!(d.decision, Verdict::ImplicitDeny);
    assert!(d.trace[0].detail.contains("root"));
    let d =
        assume(&s, "arn:aws:sts::240000000004:federated-user/bob", "arn:aws:iam::250000000005:role/Bridge", &[], &[]);
    assert_eq!(d.decision, Verdict::ImplicitDeny);
}

#[test]
fn iam_writes_need_the_writers_identity_policy_in_the_targets_account() {
    let s = snapshot();
    let write = |caller: &str, action: &str, target: &str| {
        let p = resolve_principal(&s, caller).unwrap();
        let account = target.split(':').nth(4).unwrap().to_string();
        let given = BTreeMap::new();
        let req = OtherRequest {
            action,
            resource: target,
            resource_account: &account,
            region: "us-east-1",
            context: &given,
            open: &[],
        };
        decide_iam_write(&s, &p, &req).unwrap().decision
    };
    let writer = "arn:aws:iam::210000000001:role/Writer";
    assert_eq!(write(writer, "iam:PutRolePolicy", "arn:aws:iam::210000000001:role/Bounded"), Verdict::Allow);
    assert_eq!(write(writer, "iam:AttachRolePolicy", "arn:aws:iam::210000000001:role/Bounded"), Verdict::ImplicitDeny);
    assert_eq!(write(writer, "iam:PutRolePolicy", "arn:aws:iam::210000000001:role/Free"), Verdict::ImplicitDeny);
    // Another account's IAM cannot be written, whatever the caller's policies say.
    assert_eq!(
        write("arn:aws:iam::250000000005:role/Bridge", "iam:PutRolePolicy", "arn:aws:iam::210000000001:role/Free"),
        Verdict::ImplicitDeny
    );
}

#[test]
fn scps_of_the_callers_account_and_rcps_of_the_roles_account_apply() {
    let s = Snapshot::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/scenarios/transitive-org")).unwrap();
    let app = "arn:aws:iam::310000000001:role/App";
    let d = assume(&s, "arn:aws:iam::320000000002:role/Ci", app, &[], &[]);
    assert_eq!(d.decision, Verdict::Allow);
    // The Sandbox OU's SCP denies sts:AssumeRole.
    let d = assume(&s, "arn:aws:iam::330000000003:role/Tinkerer", app, &[], &[]);
    assert_eq!(d.decision, Verdict::ExplicitDeny);
    assert!(d.because().iter().any(|t| t.layer == Layer::Scp), "{:?}", d.because());
    // The root's RCP denies principals of other organizations, though App's trust names the vendor.
    let d = assume(&s, "arn:aws:iam::390000000009:role/Integration", app, &[], &[]);
    assert_eq!(d.decision, Verdict::ExplicitDeny);
    assert!(d.because().iter().any(|t| t.layer == Layer::Rcp), "{:?}", d.because());
    // aws:PrincipalOrgID in a trust policy.
    let reader = "arn:aws:iam::310000000001:role/OrgReader";
    assert_eq!(assume(&s, "arn:aws:iam::320000000002:user/deployer", reader, &[], &[]).decision, Verdict::Allow);
    assert_eq!(assume(&s, "arn:aws:iam::320000000002:role/Ci", reader, &[], &[]).decision, Verdict::ImplicitDeny);
}
