//! # KP017 statement-blocked-by-rcp
//!
//! A key policy statement grants another account access that can never take effect: an RCP
//! denies every request it would allow.
//!
//! ## What it finds
//! An `Allow` statement of a customer managed key's policy that names another account (`"A"` or
//! `arn:aws:iam::A:root`), where the prover finds that no principal of that account can perform
//! any of the statement's actions on the key, and the evaluator shows why: a Deny statement of a
//! resource control policy on the key's path (an identity perimeter, typically). The finding
//! names the RCP statement and its place. It is a note: nothing is open, but the key policy says
//! something that is not so, and the statement becomes live the day the RCP changes.
//!
//! ## Why it matters
//! A reader of the key policy believes the account has access (and a partner may believe it too);
//! the access appears without a change to the key the day the RCP is detached, edited or its
//! exception widened. A statement that can never apply is usually a leftover that should go.
//!
//! ## Example
//! `{"Sid": "AllowPartnerDecryptTemporary", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
//! "Action": "kms:Decrypt"}` in an organization whose RCP denies `kms:*` to principals with a
//! different `aws:PrincipalOrgID`.
//!
//! ## How to fix
//! Remove the statement; or, if the account should have access, make it an exception of the RCP
//! (for example with `aws:PrincipalAccount`) and keep the statement.
//!
//! ## References
//! - https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
//! - https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
//! - https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html

use crate::context::{Answer, LintContext};
use crate::err::RulesError;
use crate::finding::Finding;
use keyproof_model::eval::{Layer, Outcome};
use keyproof_model::principal::NamedPrincipal;
use keyproof_model::reference::Reference;
use keyproof_model::wildcard::action_matches;
use keyproof_model::{decide, Request, Verdict};
use keyproof_parser::policy::{Effect, PrincipalKind};
use keyproof_solver::domain::Kind;

const CODE: &str = "KP017";

pub fn check(ctx: &LintContext<'_>) -> Result<Vec<Finding>, RulesError> {
    let mut out = Vec::new();
    for key in ctx.keys().into_iter().filter(|k| k.customer_managed) {
        for s in &ctx.snapshot.policy(key.policy).document.statements {
            let (Some(pe), Some(actions)) = (&s.principal, &s.action) else { continue };
            if s.effect.value != Effect::Allow || pe.negated {
                continue;
            }
            // The statement's actions that act on a key.
            let allowed: Vec<String> = Reference::get()
                .actions()
                .filter(|a| a.on_key)
                .filter(|a| {
                    actions.values.iter().any(|p| action_matches(&p.value, &format!("kms:{}", a.name)))
                        != actions.negated
                })
                .map(|a| a.name.clone())
                .collect();
            let Some(first) = allowed.first() else { continue };
            for e in pe.entries.iter().filter(|e| e.kind == PrincipalKind::Aws) {
                let NamedPrincipal::Account(account) = NamedPrincipal::from_aws(&e.value.value) else { continue };
                if account == key.account {
                    continue;
                }
                let members: Vec<_> = ctx
                    .domain
                    .iter()
                    .filter(|m| m.account.as_deref() == Some(account.as_str()) && m.kind != Kind::AnyOtherAccount)
                    .collect();
                if members.is_empty() {
                    continue;
                }
                // Never: every principal of the account, every action of the statement, proved
                // denied (an undecided question is no proof, and is recorded as undetermined).
                let mut never = true;
                'members: for m in &members {
                    for a in &allowed {
                        if !matches!(ctx.can(CODE, m, a, key, None)?, Answer::No) {
                            never = false;
                            break 'members;
                        }
                    }
                }
                if !never {
                    continue;
                }
                // Why: the evaluator's decision on the account's root user, without context.
                let request = Request {
                    principal: format!("arn:aws:iam::{account}:root"),
                    action: format!("kms:{first}"),
                    key: key.arn.clone(),
                    context: Default::default(),
                };
                let Ok(d) = decide(ctx.snapshot, &request) else { continue };
                if d.decision != Verdict::ExplicitDeny {
                    continue;
                }
                let Some(rcp) = d.because().into_iter().find(|t| t.layer == Layer::Rcp && t.outcome == Outcome::Denies)
                else {
                    continue;
                };
                let by = match (&rcp.policy, &rcp.statement) {
                    (Some(p), Some(st)) => format!("{p}, statement {st}"),
                    (Some(p), None) => p.clone(),
                    _ => "an RCP".into(),
                };
                let mut f = Finding::new(
                    CODE,
                    ctx.snapshot,
                    key,
                    format!(
                        "key policy statement {} allows account {account} {}, but can never apply: {by} denies every such request",
                        s.label(),
                        allowed.iter().map(|a| format!("kms:{a}")).collect::<Vec<_>>().join(", "),
                    ),
                );
                if let Some(span) = rcp.span {
                    f = f.at(ctx.snapshot, span, format!("{by} (the RCP that blocks it)"));
                }
                out.push(
                    f.at(ctx.snapshot, s.span, format!("key policy statement {}", s.label()))
                        .fingerprint_detail(&format!("{}:{account}", s.label())),
                );
            }
        }
    }
    Ok(out)
}
