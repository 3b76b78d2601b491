//! # KP015 rotation-disabled
//!
//! Automatic rotation is off on a symmetric customer managed key.
//!
//! ## What it finds
//! Every customer managed key with key spec `SYMMETRIC_DEFAULT` and key material from AWS KMS
//! (`Origin: AWS_KMS`) whose `KeyRotationEnabled` is `false`. Replicas of multi-Region keys are
//! skipped: rotation is set on the primary. A key file without `KeyRotationEnabled` is listed as
//! not checked.
//!
//! ## Why it matters
//! Rotation limits how much data one key version protects, and many compliance regimes (PCI DSS,
//! CIS AWS Foundations 3.6) require it. It is free of downtime: old versions still decrypt.
//!
//! ## Example
//! `"KeyRotationEnabled": false` in `accounts/111122223333/kms/us-east-1/<id>.json`.
//!
//! ## How to fix
//! `aws kms enable-key-rotation --key-id <id> [--rotation-period-in-days 365]`.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html
//! - https://docs.aws.amazon.com/securityhub/latest/userguide/kms-controls.html#kms-4

use crate::context::LintContext;
use crate::err::RulesError;
use crate::finding::Finding;

const CODE: &str = "KP015";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        let symmetric = key.key_spec.as_deref().is_none_or(|s| s == "SYMMETRIC_DEFAULT");
        let kms_material = key.origin.as_deref().is_none_or(|o| o == "AWS_KMS");
        let replica = key.multi_region_type.as_deref() == Some("REPLICA");
        if !symmetric || !kms_material || replica {
            continue;
        }
        match key.rotation_enabled {
            Some(false) => out.push(Finding::new(
                CODE,
                ctx.snapshot,
                key,
                format!("automatic rotation is disabled on symmetric customer managed key {}", key.arn),
            )),
            Some(true) => {}
            None => ctx.skipped(CODE, format!("{}: the key file has no `KeyRotationEnabled`", key.arn)),
        }
    }
    Ok(out)
}
