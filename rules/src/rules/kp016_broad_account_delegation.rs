//! # KP016 broad-account-delegation
//!
//! The key policy delegates cryptographic use to a whole other account's IAM, with no principal,
//! ViaService or org-path restriction.
//!
//! ## What it finds
//! An `Allow` statement of a customer managed key's policy that names another account
//! (`"123456789012"` or `arn:aws:iam::123456789012:root`) for a cryptographic operation, with no
//! condition on `kms:ViaService`, `aws:PrincipalArn`, `aws:PrincipalOrgPaths`, `aws:PrincipalTag/…`,
//! `aws:userid` or `aws:username` — confirmed by the prover: some principal of that account can
//! use the key directly (outside any AWS service), with the request replayed. A delegation that
//! an RCP, an SCP or the account's own IAM blocks today is not reported.
//!
//! ## Why it matters
//! Naming an account hands the decision to every IAM administrator of that account: any role they
//! create with `kms:Decrypt` on `*` can decrypt. The security team no longer knows who can.
//!
//! ## Example
//! `{"Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": ["kms:Decrypt",
//! "kms:GenerateDataKey*"], "Resource": "*"}` with no condition.
//!
//! ## How to fix
//! Name the roles (`arn:aws:iam::444455556666:role/AppRole`), or add `kms:ViaService` (use only
//! through S3, EBS…) or `aws:PrincipalArn` conditions.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service

use crate::context::{without_service, Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_model::principal::NamedPrincipal;
use keyproof_model::wildcard::action_matches;
use keyproof_parser::policy::{Effect, PrincipalKind};
use keyproof_solver::domain::Kind;

const CODE: &str = "KP016";
const RESTRICTING: [&str; 5] =
    ["kms:viaservice", "aws:principalarn", "aws:principalorgpaths", "aws:userid", "aws:username"];

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    let no_service = without_service();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        for s in &ctx.snapshot.policy(key.policy).document.statements {
            let (Some(pe), Some(actions)) = (&s.principal, &s.action) else { continue };
            if s.effect.value != Effect::Allow || pe.negated {
                continue;
            }
            let uses = ctx.use_actions(key).iter().any(|a| {
                actions.values.iter().any(|p| action_matches(&p.value, &format!("kms:{a}"))) != actions.negated
            });
            let restricted = s.conditions.iter().any(|c| {
                let k = c.key.value.to_ascii_lowercase();
                RESTRICTING.contains(&k.as_str()) || k.starts_with("aws:principaltag/")
            });
            if !uses || restricted {
                continue;
            }
            for e in pe.entries.iter().filter(|e| e.kind == PrincipalKind::Aws) {
                let NamedPrincipal::Account(account) = NamedPrincipal::from_aws(&e.value.value) else { continue };
                if account == key.account {
                    continue;
                }
                // Some principal of the account, allowed directly (not through a service).
                let mut witness = None;
                for m in ctx
                    .domain
                    .iter()
                    .filter(|m| m.account.as_deref() == Some(account.as_str()) && m.kind != Kind::AnyOtherAccount)
                {
                    if let Answer::Yes(w) = ctx.can_use(CODE, m, key, Some(&no_service))? {
                        witness = Some((m, w));
                        break;
                    }
                }
                let Some((m, w)) = witness else { continue };
                out.push(
                    Finding::new(
                        CODE,
                        ctx.snapshot,
                        key,
                        format!(
                            "key policy statement {} delegates cryptographic use to every principal of account {account} that its IAM allows, with no principal, ViaService or org-path condition (e.g. {} can {})",
                            s.label(),
                            m.describe(),
                            w.request.action
                        ),
                    )
                    .with_witnesses(ctx.snapshot, &m.principal, &[&w])
                    .at(ctx.snapshot, s.span, format!("key policy statement {}", s.label()))
                    .fingerprint_detail(&s.label()),
                );
            }
        }
    }
    Ok(out)
}
