//! # KP005 public-key
//!
//! Any AWS principal can use the key.
//!
//! ## What it finds
//! A key that a principal of any AWS account can use (a cryptographic operation or
//! `kms:CreateGrant`): the prover asks for "any principal of an account the snapshot never
//! names", whose account id and name are free, and replays the request it finds. Anonymous
//! callers are never allowed by AWS KMS, which takes only signed requests.
//!
//! ## Why it matters
//! A `"Principal": "*"` statement without an organization or account condition makes the key
//! usable by any AWS customer who learns its ARN; nothing inside the organization can stop it
//! except an RCP.
//!
//! ## Example
//! `{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}`.
//!
//! ## How to fix
//! Add a condition on `aws:PrincipalOrgID`, `aws:PrincipalAccount` or `kms:CallerAccount` to
//! the statement, and an RCP identity perimeter to the organization.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html
//! - https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous

use crate::context::{Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_solver::domain::Kind;

const CODE: &str = "KP005";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys() {
        let mut actions: Vec<&str> = ctx.use_actions(key).to_vec();
        actions.push("CreateGrant");
        'actions: for action in actions {
            for (m, a) in ctx.who(CODE, action, key, None, |m| m.kind == Kind::AnyOtherAccount)? {
                let Answer::Yes(w) = a else { continue };
                out.push(
                    Finding::new(
                        CODE,
                        ctx.snapshot,
                        key,
                        format!(
                            "{} can {} with the key (e.g. {})",
                            m.describe(),
                            w.request.action,
                            w.request.principal
                        ),
                    )
                    .with_witnesses(ctx.snapshot, "*", &[&w]),
                );
                break 'actions;
            }
        }
    }
    Ok(out)
}
