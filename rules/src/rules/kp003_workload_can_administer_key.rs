//! # KP003 workload-can-administer-key
//!
//! A principal of a workload account can administer a key of the security account.
//!
//! ## What it finds
//! A principal of any account other than the security account(s) that can call
//! `kms:PutKeyPolicy`, `kms:ScheduleKeyDeletion`, `kms:DisableKey` or `kms:DisableKeyRotation`
//! on a key the security account owns, or `kms:RevokeGrant` outside an AWS service (a request
//! without `kms:ViaService`: revocations that EC2 makes for its own attachments are the normal
//! life of an EBS grant). Decided by the prover over every principal, with the request replayed.
//!
//! ## Why it matters
//! AWS KMS ignores most administrative permissions given to other accounts, but `RevokeGrant`
//! works across accounts, and a key of the security account that names a workload role in a
//! same-account statement gives it full power. A workload that can disable a key or revoke its
//! grants can cause an outage for every other consumer of the key.
//!
//! ## Example
//! A key policy statement `{"Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action":
//! "kms:*"}` lets Prod revoke every grant of the key.
//!
//! ## How to fix
//! Delegate only the cryptographic operations (and `CreateGrant` with
//! `kms:GrantIsForAWSResource`) to workload accounts.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/grant-delete.html

use crate::context::{without_service, Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_solver::domain::Kind;
use keyproof_solver::query::Witness;

const CODE: &str = "KP003";
const ADMIN: [&str; 5] = ["PutKeyPolicy", "ScheduleKeyDeletion", "DisableKey", "DisableKeyRotation", "RevokeGrant"];

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    let no_service = without_service();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed && ctx.is_security(&k.account)) {
        let mut per_member: Vec<(String, String, Vec<Box<Witness>>)> = Vec::new();
        for action in ADMIN {
            let cond = (action == "RevokeGrant").then_some(&no_service);
            let answers = ctx.who(CODE, action, key, cond, |m| {
                !matches!(m.kind, Kind::Service | Kind::AnyOtherService)
                    && m.account.as_deref().is_some_and(|a| !ctx.is_security(a))
            })?;
            for (m, a) in answers {
                let Answer::Yes(w) = a else { continue };
                match per_member.iter_mut().find(|(p, _, _)| *p == m.principal) {
                    Some((_, _, ws)) => ws.push(w),
                    None => per_member.push((m.principal.clone(), m.describe(), vec![w])),
                }
            }
        }
        for (principal, description, ws) in per_member {
            let actions: Vec<&str> = ws.iter().map(|w| w.request.action.as_str()).collect();
            let refs: Vec<&Witness> = ws.iter().map(|w| w.as_ref()).collect();
            let mut f = Finding::new(
                CODE,
                ctx.snapshot,
                key,
                format!("{description}, outside the security account, can administer the key: {}", actions.join(", ")),
            )
            .with_witnesses(ctx.snapshot, &principal, &refs);
            if let Some(n) = &ctx.security_note {
                f = f.note(n.clone());
            }
            out.push(f);
        }
    }
    Ok(out)
}
