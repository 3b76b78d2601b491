//! # KP008 grant-escalation
//!
//! Grants can be created by principals that should not hand out access.
//!
//! ## What it finds
//! - A grant that includes `CreateGrant` for a grantee that is not a key administrator
//!   (`key_admins`, or the administrators the key policy names): the grantee can pass its
//!   operations on to any principal of any account, and chains of grants repeat.
//! - A principal that is not an administrator and can call `kms:CreateGrant` through a policy,
//!   outside an AWS service (no `kms:ViaService`), for an operation (`kms:GrantOperations`) that
//!   it cannot perform itself: `CreateGrant` through a policy hands out any grantable operation.
//!
//! Both are decided by the prover, with the `CreateGrant` request replayed.
//!
//! ## Why it matters
//! A grant needs no key policy change and shows in no policy review: it is the quiet way to
//! widen access to a key. Who can create grants decides who can hand out decryption.
//!
//! ## Example
//! A grant `debug-snapshot-copy` to the Dev account's `AppRole` with operations `Decrypt`,
//! `CreateGrant`, …: Dev can give decryption to any account.
//!
//! ## How to fix
//! Retire the grant and create one without `CreateGrant`; restrict `kms:CreateGrant` in policies
//! with `kms:GrantIsForAWSResource`, `kms:GrantOperations` and `kms:GranteePrincipal`.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/grants.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/grant-authorization.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/create-grant-overview.html

use crate::context::{one_of, without_service, Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_parser::property::ContextCond;
use keyproof_solver::domain::Kind;

const CODE: &str = "KP008";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        for g in &key.grants {
            if !g.operations.iter().any(|o| o.value == "CreateGrant") || ctx.is_admin(key, &g.grantee.value) {
                continue;
            }
            let label = g.name.clone().unwrap_or_else(|| g.id.clone());
            let mut f = Finding::new(
                CODE,
                ctx.snapshot,
                key,
                format!(
                    "grant `{label}` gives kms:CreateGrant to {}, which is not a key administrator: it can re-grant its operations ({}) to any principal",
                    g.grantee.value,
                    g.operations.iter().map(|o| o.value.as_str()).filter(|o| *o != "CreateGrant").collect::<Vec<_>>().join(", ")
                ),
            )
            .fingerprint_detail(&g.id);
            if let Some(m) = ctx.member(&g.grantee.value) {
                if let Answer::Yes(w) = ctx.can(CODE, m, "CreateGrant", key, None)? {
                    f = f.with_witnesses(ctx.snapshot, &m.principal, &[&w]);
                }
            }
            f = f.at(ctx.snapshot, g.span, format!("grant {label}"));
            if let Some(n) = ctx.admins_note(key) {
                f = f.note(n);
            }
            out.push(f);
        }
        // CreateGrant through a policy, for an operation the caller cannot perform itself.
        let creators = ctx.who(CODE, "CreateGrant", key, Some(&without_service()), |m| {
            !matches!(m.kind, Kind::Service | Kind::AnyOtherService) && !ctx.is_admin(key, &m.principal)
        })?;
        for (m, a) in creators {
            if !matches!(a, Answer::Yes(_)) {
                continue;
            }
            for op in ctx.use_actions(key) {
                if !matches!(ctx.can(CODE, m, op, key, None)?, Answer::No) {
                    continue;
                }
                let cond = ContextCond::And(
                    Box::new(without_service()),
                    Box::new(one_of("kms:GrantOperations", &[(*op).to_string()])),
                );
                let Answer::Yes(w) = ctx.can(CODE, m, "CreateGrant", key, Some(&cond))? else { continue };
                let mut f = Finding::new(
                    CODE,
                    ctx.snapshot,
                    key,
                    format!(
                        "{} cannot call kms:{op} on the key, but can create a grant for it (kms:CreateGrant with kms:GrantOperations = {op})",
                        m.describe()
                    ),
                )
                .with_witnesses(ctx.snapshot, &m.principal, &[&w])
                .fingerprint_detail(op);
                if let Some(n) = ctx.admins_note(key) {
                    f = f.note(n);
                }
                out.push(f);
                break;
            }
        }
    }
    Ok(out)
}
