//! # KP009 grant-to-unknown-or-external-principal
//!
//! A grant's grantee is a deleted principal, a principal outside the organization, or an account
//! the snapshot does not know.
//!
//! ## What it finds
//! Every grant whose grantee is:
//! - a unique id (`AROA…`, `AIDA…`): AWS shows the id when the named principal was deleted;
//! - a role or user that does not exist in its (collected) account;
//! - a principal of an account outside the organization and outside `trusted_accounts`;
//! - a principal of an account that is neither in the organization nor in the snapshot.
//!
//! When the grantee is a principal the prover knows, the finding carries a replayed request that
//! uses the grant.
//!
//! ## Why it matters
//! Grants outlive the reason they were created for. A grant to a deleted role is dead weight that
//! a re-created role with the same name does not inherit, but which hides real grants in a
//! review; a grant to an outside account is cross-organization access that no key policy shows.
//!
//! ## Example
//! A grant with `"GranteePrincipal": "arn:aws:iam::123456789012:role/Partner"` on a key of the
//! security account.
//!
//! ## How to fix
//! Retire or revoke the grant (`aws kms revoke-grant`); give partners access through a reviewed
//! key policy statement instead.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/grant-delete.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/grants.html#terms-grantee-principal
//! - https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids

use crate::context::{Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_model::principal::{NamedPrincipal, PrincipalRef};

const CODE: &str = "KP009";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys() {
        for g in &key.grants {
            let Some(problem) = problem(ctx, &g.grantee_principal) else { continue };
            let label = g.name.clone().unwrap_or_else(|| g.id.clone());
            let mut f =
                Finding::new(CODE, ctx.snapshot, key, format!("grant `{label}` is to {}: {problem}", g.grantee.value))
                    .fingerprint_detail(&g.id);
            if let Some(m) = ctx.member(&g.grantee.value) {
                if let Some(op) = g.operations.first() {
                    if let Answer::Yes(w) = ctx.can(CODE, m, &op.value, key, None)? {
                        f = f.with_witnesses(ctx.snapshot, &m.principal, &[&w]);
                    }
                }
            }
            out.push(f.at(ctx.snapshot, g.span, format!("grant {label}")));
        }
    }
    Ok(out)
}

/// What is wrong with a grantee, if anything.
fn problem(ctx: &LintContext<'_>, grantee: &NamedPrincipal) -> Option<String> {
    let account = match grantee {
        NamedPrincipal::UniqueId(id) => {
            return Some(format!("a unique id, which AWS shows when the principal `{id}` was deleted"))
        }
        NamedPrincipal::Account(a) => a.clone(),
        NamedPrincipal::Arn(arn) => {
            let r = PrincipalRef::parse(arn).ok()?;
            let a = r.account()?.to_string();
            if let Some(acc) = ctx.snapshot.account(&a).filter(|acc| acc.collected) {
                let exists = match &r {
                    PrincipalRef::Role { name, .. } | PrincipalRef::Session { role: name, .. } => {
                        acc.role(name).is_some()
                    }
                    PrincipalRef::User { name, .. } => acc.user(name).is_some(),
                    _ => true,
                };
                if !exists {
                    return Some(format!("no such principal in account {a} (deleted?)"));
                }
            }
            a
        }
        _ => return None,
    };
    if ctx.is_trusted(&account) {
        return None;
    }
    if ctx.snapshot.org.is_some() && !ctx.is_inside(&account) {
        return Some(format!("account {account} is outside the organization"));
    }
    if ctx.snapshot.account(&account).is_none() {
        return Some(format!("account {account} is not in the snapshot"));
    }
    None
}
