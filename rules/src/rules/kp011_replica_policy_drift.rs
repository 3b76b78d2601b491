//! # KP011 replica-policy-drift
//!
//! A multi-Region replica allows access that its primary does not, or the reverse.
//!
//! ## What it finds
//! For every replica whose primary is in the snapshot, the principals whose answer to a
//! cryptographic operation differs between the primary and the replica: decided by the prover on
//! both keys, with the request that the more permissive side allows replayed. Each copy of a
//! multi-Region key has its own key policy and grants; nothing keeps them in sync.
//!
//! ## Why it matters
//! Related multi-Region keys share key material: a principal that can decrypt with the replica
//! can decrypt data encrypted under the primary in any region. The effective access of the key
//! is the union over its copies, so the weakest policy wins.
//!
//! ## Example
//! The primary allows the OUs Prod and Test (`aws:PrincipalOrgPaths`), the replica in us-west-2
//! allows the whole Workloads OU: the Dev account can decrypt Prod's data with the replica.
//!
//! ## How to fix
//! Apply the primary's policy to every replica (`aws kms put-key-policy` in each region), and
//! check them in CI with `keyproof lint`.
//!
//! ## References
//! - https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html#mrk-sync-properties
//! - https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-auth.html

use crate::context::{Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_model::eval::{Layer, Outcome};
use keyproof_model::Request;
use keyproof_solver::query::Witness;

const CODE: &str = "KP011";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for replica in ctx.keys().into_iter().filter(|k| k.multi_region_type.as_deref() == Some("REPLICA")) {
        let Some(primary) = replica.primary_arn.as_deref().and_then(|p| ctx.snapshot.find_keys(p).first().copied())
        else {
            continue;
        };
        for m in &ctx.domain {
            // (witnesses on the replica only, witnesses on the primary only)
            let mut only: [Vec<Box<Witness>>; 2] = [Vec::new(), Vec::new()];
            for action in ctx.use_actions(replica) {
                let on_replica = ctx.can(CODE, m, action, replica, None)?;
                let on_primary = ctx.can(CODE, m, action, primary, None)?;
                match (on_replica, on_primary) {
                    (Answer::Yes(w), Answer::No) if key_policies_differ(ctx, &w, primary) => only[0].push(w),
                    (Answer::No, Answer::Yes(w)) if key_policies_differ(ctx, &w, replica) => only[1].push(w),
                    _ => {}
                }
            }
            for (i, ws) in only.iter().enumerate() {
                if ws.is_empty() {
                    continue;
                }
                let (more, less, key) =
                    if i == 0 { ("replica", "primary", replica) } else { ("primary", "replica", primary) };
                let actions: Vec<&str> = ws.iter().map(|w| w.request.action.as_str()).collect();
                let refs: Vec<&Witness> = ws.iter().map(|w| w.as_ref()).collect();
                out.push(
                    Finding::new(
                        CODE,
                        ctx.snapshot,
                        replica,
                        format!(
                            "{} can {} with the {more} in {} but not with the {less} in {}",
                            m.describe(),
                            actions.join(", "),
                            key.region,
                            if i == 0 { &primary.region } else { &replica.region }
                        ),
                    )
                    .with_witnesses(ctx.snapshot, &m.principal, &refs)
                    .fingerprint_detail(more),
                );
            }
        }
    }
    Ok(out)
}

/// Whether the request a witness shows on one copy of the key is let through on that copy by a
/// key policy statement or a grant that does not match on the other copy. A difference that
/// comes from elsewhere (an identity policy or an SCP limited to one region) is not drift of
/// the key policies.
fn key_policies_differ(ctx: &LintContext<'_>, w: &Witness, other: &keyproof_model::snapshot::Key) -> bool {
    let allowing: Vec<(Layer, Option<&String>)> = w
        .decision
        .trace
        .iter()
        .filter(|t| t.outcome == Outcome::Allows && matches!(t.layer, Layer::KeyPolicy | Layer::Grant))
        .map(|t| (t.layer, t.statement.as_ref()))
        .collect();
    if allowing.iter().any(|(layer, _)| *layer == Layer::Grant) {
        // Grants belong to one copy of a multi-Region key; they are never shared.
        return true;
    }
    let request = Request { key: other.arn.clone(), ..w.request.clone() };
    let Ok(decision) = keyproof_model::decide(ctx.snapshot, &request) else { return true };
    let matched: Vec<Option<&String>> = decision
        .trace
        .iter()
        .filter(|t| {
            t.layer == Layer::KeyPolicy
                && matches!(t.outcome, Outcome::Allows | Outcome::MayAllow | Outcome::Ineffective)
        })
        .map(|t| t.statement.as_ref())
        .collect();
    allowing.iter().any(|(_, label)| !matched.contains(label))
}
