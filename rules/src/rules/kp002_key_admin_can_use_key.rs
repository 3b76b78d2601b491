//! # KP002 key-admin-can-use-key
//!
//! A principal that can administer a key can also use it for cryptography.
//!
//! ## What it finds
//! A principal of a collected account that can call `kms:PutKeyPolicy`, `kms:ScheduleKeyDeletion`
//! or `kms:DisableKey` on a customer managed key and can also call one of the key's cryptographic
//! operations (`kms:Decrypt`, `kms:Encrypt`, `kms:GenerateDataKey`, or `kms:Sign`… by key usage).
//! Both requests are found by the solver and replayed through the evaluator. Account root users
//! and service-linked roles are not reported: the root user is the break-glass identity that the
//! default key policy always enables (KP007 keeps it reachable).
//!
//! ## Why it matters
//! Separation of duties: the security team manages keys, the workloads use them. An
//! administrator that can decrypt can read every piece of data the key protects, and can cover
//! its tracks by changing the policy.
//!
//! ## Example
//! The key policy's "Enable IAM User Permissions" statement delegates `kms:*` to the account, and
//! the `KeyAdmin` role's IAM policy allows `kms:*`: `KeyAdmin` can `kms:Decrypt`.
//!
//! ## How to fix
//! Give administrators only the administrative actions (the "Allow access for Key
//! Administrators" statement of the default key policy), and deny them the cryptographic
//! operations in their IAM policy or with a key policy `Deny` on their role.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators
//! - https://docs.aws.amazon.com/kms/latest/developerguide/least-privilege.html

use crate::context::{Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_solver::domain::Kind;

const CODE: &str = "KP002";
const ADMIN: [&str; 3] = ["PutKeyPolicy", "ScheduleKeyDeletion", "DisableKey"];

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        for action in ADMIN {
            let admins = ctx.who(CODE, action, key, None, |m| {
                m.kind == Kind::Snapshot
                    && !m.principal.ends_with(":root")
                    && !m.principal.contains(":role/aws-service-role/")
            })?;
            for (m, a) in admins {
                let Answer::Yes(admin) = a else { continue };
                if out.iter().any(|f: &Finding| f.key == key.arn && f.principal.as_deref() == Some(&m.principal)) {
                    continue;
                }
                let Answer::Yes(usage) = ctx.can_use(CODE, m, key, None)? else { continue };
                out.push(
                    Finding::new(
                        CODE,
                        ctx.snapshot,
                        key,
                        format!(
                            "{} can administer the key ({}) and use it ({})",
                            m.describe(),
                            admin.request.action,
                            usage.request.action
                        ),
                    )
                    .with_witnesses(ctx.snapshot, &m.principal, &[&usage, &admin]),
                );
            }
        }
    }
    Ok(out)
}
