//! # KP001 key-outside-security-account
//!
//! A customer managed key is owned by an account other than the security account(s).
//!
//! ## What it finds
//! Every customer managed key whose owning account is not one of `security_accounts`, unless the
//! key is listed in `key_exceptions` (a per-service exception). Without settings, the security
//! account is the one that owns the most customer managed keys, and the finding says so.
//!
//! ## Why it matters
//! In a centralized setup the security team creates, owns and administers every key, and the
//! workloads use them across accounts. A key created in a workload account is administered by
//! that account's own IAM: key sprawl escapes separation of duties, the SCP guardrails on key
//! administration, and the security team's inventory.
//!
//! ## Example
//! `accounts/444455556666/kms/us-east-1/<id>.json`: a key of the Prod workload account, when the
//! security account is 111122223333.
//!
//! ## How to fix
//! Re-create the key in the security account and grant the workload cross-account use through the
//! key policy; or, when the service needs a local key, list it in `key_exceptions`.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html
//! - https://docs.aws.amazon.com/prescriptive-guidance/latest/aws-kms-best-practices/introduction.html

use crate::context::LintContext;
use crate::err::RulesError;
use crate::finding::Finding;

const CODE: &str = "KP001";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        if ctx.is_security(&key.account) || ctx.config.key_exceptions.iter().any(|s| ctx.selects(s, key)) {
            continue;
        }
        let mut f = Finding::new(
            CODE,
            ctx.snapshot,
            key,
            format!(
                "customer managed key {} is owned by account {}, not by the security account ({})",
                key.arn,
                key.account,
                ctx.security.join(", ")
            ),
        );
        if let Some(n) = &ctx.security_note {
            f = f.note(n.clone());
        }
        out.push(f);
    }
    Ok(out)
}
