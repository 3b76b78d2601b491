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
//! - A principal that is not an administrator and reaches the key's first cryptographic
//!   operation only through a path of edges that creates a grant (`who-can --transitive`, at most
//!   4 hops: e.g. a role it can assume creates the grant), other than the one-hop path of the
//!   previous case; the message names the path's first hop and each hop is a note. The search
//!   runs for a key only when some non-administrator can create grants on it (the previous case's
//!   question), and not beyond 100 principals (said as skipped).
//!
//! The first two are decided by the prover, with the `CreateGrant` request replayed; every hop of
//! a path is decided by the evaluator.
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
use keyproof_solver::transitive::EdgeKind;

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
        let any_creator = creators.iter().any(|(_, a)| matches!(a, Answer::Yes(_)));
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
        // Through a path that creates a grant.
        let Some(&first) = ctx.use_actions(key).first() else { continue };
        if !any_creator {
            continue;
        }
        let Some(t) = ctx.transitive(CODE, first, key)? else { continue };
        for r in &t.principals {
            let grant = r.path.iter().any(|h| h.edge == EdgeKind::CreateGrant);
            let own_grant = r.path.len() == 1 && r.path.first().is_some_and(|h| h.from == r.allowed.principal);
            if !grant || own_grant || r.allowed.kind == "service" || ctx.is_admin(key, &r.allowed.principal) {
                continue;
            }
            let Some(hop) = r.path.first() else { continue };
            let mut f = Finding::new(
                CODE,
                ctx.snapshot,
                key,
                format!(
                    "{} cannot call {} on the key, but reaches it through a path of {} hops that creates a grant, first {} to {}",
                    r.allowed.description,
                    t.action,
                    r.path.len(),
                    hop.edge.as_str(),
                    hop.to
                ),
            )
            .with_path(&r.allowed.principal, r);
            if let Some(n) = ctx.admins_note(key) {
                f = f.note(n);
            }
            out.push(f);
        }
    }
    Ok(out)
}
