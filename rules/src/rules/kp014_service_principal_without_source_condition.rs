//! # KP014 service-principal-without-source-condition
//!
//! A key policy statement allows an AWS service principal without `aws:SourceAccount` or
//! `aws:SourceArn`.
//!
//! ## What it finds
//! Every `Allow` statement of a customer managed key's policy whose `Principal` names a service
//! (`{"Service": "cloudtrail.amazonaws.com"}`) and whose `Condition` has none of
//! `aws:SourceAccount`, `aws:SourceArn`, `aws:SourceOrgID`, `aws:SourceOrgPaths`. This is a
//! statement-shape check: it reads the policy, not the prover.
//!
//! ## Why it matters
//! The confused deputy problem: without a source condition, the service can be made to use the
//! key on behalf of a resource of any AWS customer (another account's trail, bucket or topic).
//!
//! ## Example
//! `{"Sid": "AllowOrgTrailEncryption", "Principal": {"Service": "cloudtrail.amazonaws.com"},
//! "Action": "kms:GenerateDataKey*"}` with only an encryption-context condition.
//!
//! ## How to fix
//! Add `"StringEquals": {"aws:SourceAccount": "<account>"}` or `"ArnLike": {"aws:SourceArn":
//! "<resource ARN>"}` (or `aws:SourceOrgID` for an organization trail).
//!
//! ## References
//! - https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
//! - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html

use crate::context::LintContext;
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_parser::policy::{Effect, PrincipalKind};

const CODE: &str = "KP014";
const SOURCE_KEYS: [&str; 4] = ["aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"];

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        for s in &ctx.snapshot.policy(key.policy).document.statements {
            let Some(pe) = &s.principal else { continue };
            if s.effect.value != Effect::Allow || pe.negated {
                continue;
            }
            let services: Vec<&str> = pe
                .entries
                .iter()
                .filter(|e| e.kind == PrincipalKind::Service)
                .map(|e| e.value.value.as_str())
                .collect();
            if services.is_empty()
                || s.conditions.iter().any(|c| SOURCE_KEYS.contains(&c.key.value.to_ascii_lowercase().as_str()))
            {
                continue;
            }
            out.push(
                Finding::new(
                    CODE,
                    ctx.snapshot,
                    key,
                    format!(
                        "key policy statement {} allows {} without aws:SourceAccount or aws:SourceArn (confused deputy)",
                        s.label(),
                        services.join(", ")
                    ),
                )
                .at(ctx.snapshot, s.span, format!("key policy statement {}", s.label()))
                .fingerprint_detail(&s.label()),
            );
        }
    }
    Ok(out)
}
