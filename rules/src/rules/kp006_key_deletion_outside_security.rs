//! # KP006 key-deletion-outside-security
//!
//! A principal other than the key administrators can schedule the key's deletion or disable it.
//!
//! ## What it finds
//! Every principal, in any account, that can call `kms:ScheduleKeyDeletion` or `kms:DisableKey`
//! on a customer managed key and is not one of its administrators: `key_admins` (ARN patterns),
//! or by default the roles and users the key policy names in a statement allowing
//! `kms:PutKeyPolicy` or `kms:ScheduleKeyDeletion`, and the root user of the key's account. The
//! prover covers SCPs, so an account that no SCP protects shows up (SCP gaps included).
//!
//! ## Why it matters
//! A deleted key makes every ciphertext under it unrecoverable; a disabled key stops every
//! workload that uses it. Only the security team's administrators should hold these actions.
//!
//! ## Example
//! The `SecurityAudit` role has an IAM policy with `kms:*`, and the key policy delegates to the
//! account: `SecurityAudit` can `kms:ScheduleKeyDeletion`.
//!
//! ## How to fix
//! Remove the actions from the principal's policies; deny them in an SCP for every account but
//! the security account's administrator roles.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys-adding-permission.html

use crate::context::{Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_solver::domain::Kind;

const CODE: &str = "KP006";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        let mut seen: Vec<String> = Vec::new();
        for action in ["ScheduleKeyDeletion", "DisableKey"] {
            let answers = ctx.who(CODE, action, key, None, |m| {
                !matches!(m.kind, Kind::Service | Kind::AnyOtherService) && !ctx.is_admin(key, &m.principal)
            })?;
            for (m, a) in answers {
                let Answer::Yes(w) = a else { continue };
                if seen.contains(&m.principal) {
                    continue;
                }
                seen.push(m.principal.clone());
                let mut f = Finding::new(
                    CODE,
                    ctx.snapshot,
                    key,
                    format!("{}, not a key administrator, can {} on the key", m.describe(), w.request.action),
                )
                .with_witnesses(ctx.snapshot, &m.principal, &[&w]);
                if let Some(n) = ctx.admins_note(key) {
                    f = f.note(n);
                }
                out.push(f);
            }
        }
    }
    Ok(out)
}
