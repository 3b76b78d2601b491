//! # KP018 key-administration-reachable
//!
//! A principal that is not one of the key's administrators can get to `kms:PutKeyPolicy`.
//!
//! ## What it finds
//! Every principal that can call `kms:PutKeyPolicy` on a customer managed key, directly or after
//! a path of edges (`who-can kms:PutKeyPolicy KEY --transitive`, at most 4 hops: assuming roles,
//! role chaining included, and IAM policy writes in an account whose IAM the key policy delegates
//! to), and is not one of the key's administrators (`key_admins` in keyproof.toml, or inferred
//! from the key policy: the account root and the principals its statements let administer the
//! key). A direct one comes with its request replayed; a path is named by its first hop, with
//! every hop (each decided by the evaluator) as a note. Service principals are not reported.
//! The search runs only for keys whose policy has an Allow statement for `kms:PutKeyPolicy` (no
//! other key can have its policy changed), and not beyond 100 principals (said as skipped).
//!
//! ## Why it matters
//! Whoever can rewrite the key policy controls the key: it can give itself, or anyone, every
//! operation, and lock out the administrators. A CI role that can assume the key administrator
//! role is a key administrator, whatever the key policy names.
//!
//! ## Example
//! The key policy lets the role `KeyAdmin` administer the key, and `KeyAdmin`'s trust policy lets
//! the role `CiDeployer` assume it: `CiDeployer` reaches `kms:PutKeyPolicy` in one hop.
//!
//! ## How to fix
//! Narrow the trust policies of the administrator roles to the people and pipelines that
//! administer keys (with conditions such as `aws:PrincipalArn` or MFA), remove IAM write
//! permissions in the key's account from workloads, or list the principal in `key_admins` if it
//! is meant to administer keys.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators
//! - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html

use crate::context::{Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_model::wildcard::action_matches;
use keyproof_parser::policy::Effect;

const CODE: &str = "KP018";

/// Whether some Allow statement of the key policy covers `kms:PutKeyPolicy`: without one nobody
/// can change the policy (no grant gives it), and the search is not run.
fn policy_may_be_changed(ctx: &LintContext<'_>, key: &keyproof_model::snapshot::Key) -> bool {
    ctx.snapshot.policy(key.policy).document.statements.iter().any(|s| {
        s.effect.value == Effect::Allow
            && s.action
                .as_ref()
                .is_some_and(|a| a.values.iter().any(|p| action_matches(&p.value, "kms:PutKeyPolicy")) != a.negated)
    })
}

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        if !policy_may_be_changed(ctx, key) {
            continue;
        }
        let Some(t) = ctx.transitive(CODE, "PutKeyPolicy", key)? else { continue };
        for r in &t.principals {
            if matches!(r.allowed.kind, "service" | "federated-user") || ctx.is_admin(key, &r.allowed.principal) {
                continue;
            }
            let mut f = match r.path.first() {
                None => {
                    let f = Finding::new(
                        CODE,
                        ctx.snapshot,
                        key,
                        format!(
                            "{} can call kms:PutKeyPolicy on the key and is not one of its administrators",
                            r.allowed.description
                        ),
                    );
                    let witness = match ctx.member(&r.allowed.principal) {
                        Some(m) => ctx.can(CODE, m, "PutKeyPolicy", key, None)?,
                        None => Answer::Unknown,
                    };
                    match witness {
                        Answer::Yes(w) => f.with_witnesses(ctx.snapshot, &r.allowed.principal, &[&w]),
                        _ => f.with_path(&r.allowed.principal, r),
                    }
                }
                Some(hop) => Finding::new(
                    CODE,
                    ctx.snapshot,
                    key,
                    format!(
                        "{} is not one of the key's administrators but reaches kms:PutKeyPolicy through a path of {} hop(s), first {} to {}",
                        r.allowed.description,
                        r.path.len(),
                        hop.edge.as_str(),
                        hop.to
                    ),
                )
                .with_path(&r.allowed.principal, r),
            };
            if let Some(n) = ctx.admins_note(key) {
                f = f.note(n);
            }
            out.push(f);
        }
    }
    Ok(out)
}
