//! # KP013 shared-key-throttling-risk
//!
//! One key serves high-volume AWS services for more accounts than the threshold.
//!
//! ## What it finds
//! A customer managed key that principals of more than `shared_key_max_accounts` accounts
//! (default 4) can use through a high-volume service (`high_volume_services`, default S3, EBS
//! (`ec2`) and RDS): for each account the prover looks for a request with `kms:ViaService` =
//! `<service>.<region>.amazonaws.com` and replays it. A key open to any other account counts as
//! unbounded.
//!
//! ## Why it matters
//! AWS KMS request quotas are per account and region, and requests that use a key in another
//! account count against the quota of the key's owner. A single central key behind S3, EBS and
//! RDS for many workload accounts makes every workload share one quota: one busy workload
//! throttles the others (`ThrottlingException`). Per-service (and per-environment) keys spread
//! the load and the blast radius.
//!
//! ## Example
//! `alias/master-key-org` allows every principal of the organization (`aws:PrincipalOrgID`) with
//! no `kms:ViaService` restriction: six accounts can use it through S3.
//!
//! ## How to fix
//! Create one key per service and environment (`alias/s3-prod-key`, `alias/ebs-prod-key`…)
//! restricted with `kms:ViaService` and `kms:CallerAccount`; raise the threshold in
//! keyproof.toml for keys sized for it, or suppress with a reason.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service

use crate::context::{one_of, Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_solver::domain::Kind;
use keyproof_solver::query::Witness;
use std::collections::BTreeMap;

const CODE: &str = "KP013";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    let max = ctx.config.shared_key_max_accounts;
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        let services: Vec<String> =
            ctx.config.high_volume_services.iter().map(|s| format!("{s}.{}.amazonaws.com", key.region)).collect();
        let cond = one_of("kms:ViaService", &services);
        let action = ctx.use_actions(key)[0];
        let answers = ctx.first_per_account(CODE, action, key, Some(&cond), |m| {
            m.account.is_some() && !matches!(m.kind, Kind::Service | Kind::AnyOtherService)
        })?;
        let mut accounts: BTreeMap<String, Box<Witness>> = BTreeMap::new();
        let mut unbounded = None;
        for (m, a) in answers {
            let Answer::Yes(w) = a else { continue };
            if m.kind == Kind::AnyOtherAccount {
                unbounded = Some(w);
                continue;
            }
            if let Some(acc) = &m.account {
                accounts.entry(acc.clone()).or_insert(w);
            }
        }
        if accounts.len() <= max && unbounded.is_none() {
            continue;
        }
        let count = if unbounded.is_some() { "any number of".to_string() } else { accounts.len().to_string() };
        let witnesses: Vec<&Witness> = accounts.values().map(|w| w.as_ref()).chain(unbounded.as_deref()).collect();
        let mut f = Finding::new(
            CODE,
            ctx.snapshot,
            key,
            format!(
                "{count} accounts can use the key through {} (more than {max}): {}",
                ctx.config.high_volume_services.join(", "),
                accounts.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
        f = f.with_witnesses(ctx.snapshot, "*", &witnesses);
        f.principal = None;
        out.push(f);
    }
    Ok(out)
}
