//! # KP007 key-policy-lockout
//!
//! No principal can change the key policy any more.
//!
//! ## What it finds
//! A customer managed key on which the prover shows that no principal at all (of the snapshot,
//! named elsewhere, or of any other account) can call `kms:PutKeyPolicy`. When some principal's
//! answer is unknown, the rule reports it as undetermined instead.
//!
//! ## Why it matters
//! A key whose policy nobody can change is unmanageable: access cannot be granted or revoked,
//! and recovery needs AWS Support. The `PutKeyPolicy` lockout safety check prevents this only
//! when the policy is written through the API without `BypassPolicyLockoutSafetyCheck`; SCPs and
//! deleted roles can still lock a key out later.
//!
//! ## Example
//! A key policy whose only statement allows `kms:*` to `arn:aws:iam::111122223333:role/Deployer`,
//! after the role was deleted and re-created (the policy now shows its unique id).
//!
//! ## How to fix
//! Keep the "Enable IAM User Permissions" statement for the key's account, or a statement for a
//! durable administrator role; if a key is locked out, contact AWS Support.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
//! - https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html

use crate::context::LintContext;
use crate::err::RulesError;
use crate::finding::Finding;

const CODE: &str = "KP007";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        let answers = ctx.who(CODE, "PutKeyPolicy", key, None, |_| true)?;
        if answers.is_empty() {
            let policy = &ctx.snapshot.policy(key.policy).document;
            out.push(
                Finding::new(
                    CODE,
                    ctx.snapshot,
                    key,
                    format!(
                        "no principal can call kms:PutKeyPolicy on the key (proved over {} principals and representatives)",
                        ctx.domain.len()
                    ),
                )
                .at(ctx.snapshot, policy.span, "the key policy"),
            );
        }
    }
    Ok(out)
}
