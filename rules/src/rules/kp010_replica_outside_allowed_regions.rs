//! # KP010 replica-outside-allowed-regions
//!
//! A multi-Region key has a copy in a region the residency settings do not allow.
//!
//! ## What it finds
//! Every multi-Region key (primary or replica) in a region that is not in `allowed_regions`, and
//! every replica a primary lists in such a region. The rule runs only when `allowed_regions` is
//! set; otherwise the lint output says that it did not run.
//!
//! ## Why it matters
//! Multi-Region keys share key material: data encrypted in one region can be decrypted with the
//! replica in another. A replica outside the approved regions moves the ability to decrypt
//! outside the residency boundary (GDPR, data sovereignty).
//!
//! ## Example
//! `allowed_regions = ["us-east-1", "eu-west-1"]` and a replica
//! `arn:aws:kms:us-west-2:111122223333:key/mrk-…`.
//!
//! ## How to fix
//! Schedule the replica's deletion, and deny `kms:ReplicateKey` outside the approved regions
//! with an SCP (`kms:ReplicaRegion`).
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-replica-region

use crate::context::LintContext;
use crate::err::RulesError;
use crate::finding::Finding;

const CODE: &str = "KP010";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let allowed = &ctx.config.allowed_regions;
    let mut out = Vec::new();
    if allowed.is_empty() {
        return Ok(out);
    }
    let is_allowed = |r: &str| allowed.iter().any(|a| a == r);
    for key in ctx.keys().into_iter().filter(|k| k.multi_region) {
        let is_replica = key.multi_region_type.as_deref() == Some("REPLICA");
        let primary_present = key.primary_arn.as_deref().is_some_and(|p| !ctx.snapshot.find_keys(p).is_empty());
        if !is_allowed(&key.region) && (!is_replica || !primary_present) {
            out.push(Finding::new(
                CODE,
                ctx.snapshot,
                key,
                format!(
                    "multi-Region key {} is in {}, outside the allowed regions ({})",
                    key.arn,
                    key.region,
                    allowed.join(", ")
                ),
            ));
        }
        if is_replica {
            continue;
        }
        for replica in &key.replica_arns {
            let region = replica.split(':').nth(3).unwrap_or("");
            if !is_allowed(region) {
                out.push(
                    Finding::new(
                        CODE,
                        ctx.snapshot,
                        key,
                        format!(
                            "multi-Region key {} has a replica in {region} ({replica}), outside the allowed regions ({})",
                            key.arn,
                            allowed.join(", ")
                        ),
                    )
                    .fingerprint_detail(region),
                );
            }
        }
    }
    Ok(out)
}
