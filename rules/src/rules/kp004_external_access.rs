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

const CODE: &str = "KP004";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
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
    }
    Ok(out)
}
