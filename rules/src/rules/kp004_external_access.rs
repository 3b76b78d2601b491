//! # KP004 external-access
//!
//! A principal outside the organization can use the key.
//!
//! ## What it finds
//! Every principal outside the organization (and outside `trusted_accounts`) that can call one of
//! the key's cryptographic operations or `kms:CreateGrant`: a principal named in a policy or a
//! grant, or "any principal of account A" for an account the key policy delegates to. Like an
//! IAM Access Analyzer external-access finding, with the exact principal or account and a
//! request replayed through the evaluator (with what must hold in the other account, e.g. "its
//! IAM policies allow it"). A delegation that an RCP or an explicit Deny blocks is not reported.
//! Without an organization in the snapshot, "outside" means outside the collected accounts.
//!
//! Also every such principal that reaches the key's first cryptographic operation only through a
//! path of edges (`who-can --transitive`, at most 4 hops: assuming roles, creating a grant,
//! rewriting the key policy, writing IAM policies), named with the path's first hop and each hop
//! as a note. The search runs only when some role's trust policy may let in a principal outside
//! the organization (`"*"`, a `NotPrincipal`, a unique id, or an outside account or ARN: such a
//! path must start by assuming a role), and not beyond 100 principals (said as skipped).
//!
//! ## Why it matters
//! Data encrypted under the key can be read by whoever can decrypt with it. Access from outside
//! the organization escapes every SCP and every audit of the organization.
//!
//! ## Example
//! `{"Sid": "AllowPartnerDecryptTemporary", "Principal": {"AWS":
//! "arn:aws:iam::123456789012:root"}, "Action": "kms:Decrypt"}` with no RCP perimeter.
//!
//! ## How to fix
//! Remove the statement or grant; if the partner is trusted, list its account in
//! `trusted_accounts`. Enforce an identity perimeter with an RCP (`aws:PrincipalOrgID`).
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html
//! - https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
//! - https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-resources.html#access-analyzer-kms-key

use crate::context::{Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_solver::transitive::{trust_may_admit, Reached};

const CODE: &str = "KP004";

/// A reached principal outside the organization (as [`LintContext::is_external`]).
fn external(ctx: &LintContext<'_>, r: &Reached) -> bool {
    !matches!(r.allowed.kind, "service" | "any-account")
        && r.allowed.account.as_deref().is_some_and(|a| !ctx.is_inside(a) && !ctx.is_trusted(a))
}

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    // A path from an outside principal starts by assuming a role whose trust policy may let it
    // in; without one the search cannot add a finding.
    let outsiders = trust_may_admit(ctx.snapshot, |a| !ctx.is_inside(a) && !ctx.is_trusted(a));
    for key in ctx.keys() {
        let mut actions: Vec<&str> = ctx.use_actions(key).to_vec();
        actions.push("CreateGrant");
        let mut seen: Vec<String> = Vec::new();
        for action in actions {
            for (m, a) in ctx.who(CODE, action, key, None, |m| ctx.is_external(m))? {
                let Answer::Yes(w) = a else { continue };
                if seen.contains(&m.principal) {
                    continue;
                }
                seen.push(m.principal.clone());
                out.push(
                    Finding::new(
                        CODE,
                        ctx.snapshot,
                        key,
                        format!(
                            "{} (account {}, outside the organization) can {} with the key",
                            m.describe(),
                            m.account.as_deref().unwrap_or("?"),
                            w.request.action
                        ),
                    )
                    .with_witnesses(ctx.snapshot, &m.principal, &[&w]),
                );
            }
        }
        let Some(&first) = ctx.use_actions(key).first() else { continue };
        if !outsiders {
            continue;
        }
        let Some(t) = ctx.transitive(CODE, first, key)? else { continue };
        for r in t.principals.iter().filter(|r| !r.path.is_empty() && external(ctx, r)) {
            if seen.contains(&r.allowed.principal) {
                continue;
            }
            seen.push(r.allowed.principal.clone());
            let Some(hop) = r.path.first() else { continue };
            out.push(
                Finding::new(
                    CODE,
                    ctx.snapshot,
                    key,
                    format!(
                        "{} (account {}, outside the organization) can reach {} with the key through a path of {} hop(s), first {} to {}",
                        r.allowed.description,
                        r.allowed.account.as_deref().unwrap_or("?"),
                        t.action,
                        r.path.len(),
                        hop.edge.as_str(),
                        hop.to
                    ),
                )
                .with_path(&r.allowed.principal, r),
            );
        }
    }
    Ok(out)
}
