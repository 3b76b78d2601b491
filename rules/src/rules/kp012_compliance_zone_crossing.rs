//! # KP012 compliance-zone-crossing
//!
//! A key of a compliance zone can be used by a principal outside the zone's OUs.
//!
//! ## What it finds
//! For every zone of `[zones.NAME]` (its OUs, and its keys by name or by tag), every principal
//! whose account is under none of the zone's OUs and can use one of the zone's keys. Principals
//! of the security accounts and AWS service principals are not reported. Decided by the prover
//! over every principal, including "any principal of account A" for accounts outside the
//! snapshot, with the request replayed.
//!
//! ## Why it matters
//! PCI DSS, HIPAA and similar regimes scope an environment by its accounts; a key that crosses the
//! boundary brings the other account into scope, or leaks cardholder or health data out of it.
//!
//! ## Example
//! Zone `prod` = OU `Workloads/Prod` with key `alias/s3-prod-key`; a forgotten grant lets the Test
//! account's `AppRole` decrypt with it.
//!
//! ## How to fix
//! Remove the statement or grant that lets the outside principal in; restrict zone keys with
//! `aws:PrincipalOrgPaths` conditions on the zone's OUs.
//!
//! ## References
//! - https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths
//! - https://docs.aws.amazon.com/whitepapers/latest/organizing-your-aws-environment/organizing-your-aws-environment.html

use crate::context::{Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_solver::domain::Kind;

const CODE: &str = "KP012";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for (name, zone) in &ctx.config.zones {
        let org = ctx.snapshot.org.as_ref().ok_or_else(|| RulesError::UnknownName {
            message: format!("compliance zone `{name}` names OUs, but the snapshot has no organization.json"),
        })?;
        let mut ous = Vec::new();
        for ou in &zone.ous {
            ous.push(org.find_ou(ou).ok_or_else(|| RulesError::UnknownName {
                message: format!(
                    "compliance zone `{name}`: no OU `{ou}` in the organization{}",
                    keyproof_model::suggest::ou(ou, org)
                ),
            })?);
        }
        let in_zone = |account: &str| org.node(account).is_some_and(|n| ous.iter().any(|&ou| org.is_under(n, ou)));
        for key in ctx.keys() {
            let by_name = zone.keys.iter().any(|s| ctx.selects(s, key));
            let by_tag = zone.key_tags.iter().any(|t| match t.split_once('=') {
                Some((k, v)) => key.tags.get(k) == Some(v),
                None => key.tags.get(t).is_some(),
            });
            if !by_name && !by_tag {
                continue;
            }
            let members: Vec<_> = ctx
                .domain
                .iter()
                .filter(|m| !matches!(m.kind, Kind::Service | Kind::AnyOtherService))
                .filter(|m| {
                    m.account
                        .as_deref()
                        .is_some_and(|a| m.kind == Kind::AnyOtherAccount || (!in_zone(a) && !ctx.is_security(a)))
                })
                .collect();
            for m in members {
                let Answer::Yes(w) = ctx.can_use(CODE, m, key, None)? else { continue };
                let account = if m.kind == Kind::AnyOtherAccount {
                    "another account".to_string()
                } else {
                    format!("account {}", m.account.as_deref().unwrap_or("?"))
                };
                out.push(
                    Finding::new(
                        CODE,
                        ctx.snapshot,
                        key,
                        format!(
                            "key of compliance zone `{name}` ({}) can be used by {} ({account}, outside the zone): {}",
                            zone.ous.join(", "),
                            m.describe(),
                            w.request.action
                        ),
                    )
                    .with_witnesses(ctx.snapshot, &m.principal, &[&w])
                    .fingerprint_detail(name),
                );
            }
        }
    }
    Ok(out)
}
