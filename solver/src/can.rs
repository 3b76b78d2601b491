//! `keyproof can PRINCIPAL [ACTION] [--key KEY]`: the reverse of who-can. For one principal,
//! every key and every action on keys (or the ones asked) it can perform, each with the
//! context the request needs and the statements or grants that allow it, found by the same
//! question pipeline as who-can ([`Prover::can`]) and replayed through the evaluator.

use crate::domain::{Kind, Member};
use crate::query::{Can, Prover};
use crate::who_can::{conditions, kind_name, via, Condition};
use keyproof_model::context::resolve_principal;
use keyproof_model::reference::KmsAction;
use keyproof_model::snapshot::Key;
use keyproof_model::ModelError;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// One action the principal can perform on a key.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    pub action: String,
    /// What the request context must hold.
    pub conditions: Vec<Condition>,
    /// The statements and grants that allow the example request.
    pub via: Vec<keyproof_model::eval::Cited>,
    /// The example request's context.
    pub example_context: BTreeMap<String, Vec<String>>,
    /// What must hold outside the snapshot.
    pub assumptions: Vec<String>,
}

/// The operations the principal can perform on one key.
#[derive(Debug, Clone, Serialize)]
pub struct KeyAccess {
    pub key: String,
    pub aliases: Vec<String>,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CanAnswer {
    /// The principal as given (or as the domain names it).
    pub principal: String,
    pub account: Option<String>,
    /// As in who-can: `snapshot`, `outside`, `service`, …
    pub kind: &'static str,
    /// The actions asked, as `kms:Name`.
    pub actions: Vec<String>,
    /// The keys with at least one allowed operation, in snapshot order.
    pub keys: Vec<KeyAccess>,
    /// Questions the solver could not decide, with the reason (`key action: why`).
    pub unknown: Vec<String>,
}

/// The domain member a principal ARN (or service principal name) names: the one of the domain
/// when it is there, else the principal as named (a role session of a collected account, or a
/// principal of an account that was not collected, whose IAM side is open world). A principal
/// that a collected account does not hold is an error.
pub fn member(prover: &Prover<'_>, text: &str) -> Result<Member, ModelError> {
    if let Some(m) = prover.members().iter().find(|m| m.principal == text && !m.is_representative()) {
        return Ok(m.clone());
    }
    let r = resolve_principal(prover.snapshot, text)?;
    let account = r.account_id().map(str::to_string);
    let kind = if matches!(r.r, keyproof_model::principal::PrincipalRef::Service(_)) {
        Kind::Service
    } else if r.identity_known && r.account.is_some() {
        Kind::Snapshot
    } else {
        Kind::NamedOutside
    };
    Ok(Member { kind, principal: text.to_string(), account })
}

/// Which of `actions` the member can perform on each of `keys`.
pub fn can(
    prover: &Prover<'_>,
    member: &Member,
    actions: &[&'static KmsAction],
    keys: &[&Key],
) -> Result<CanAnswer, String> {
    let resolved = prover.resolve(member);
    let pairs: Vec<(usize, &'static KmsAction)> =
        (0..keys.len()).flat_map(|k| actions.iter().map(move |a| (k, *a))).collect();
    let answers: Vec<(usize, &'static KmsAction, Can, Vec<Condition>)> = pairs
        .par_iter()
        .map(|&(k, a)| {
            let answer = prover.can_resolved(member, &resolved, a, keys[k], None);
            let needs = match &answer {
                Can::Yes(w) => conditions(prover, w, a, keys[k]),
                _ => Vec::new(),
            };
            (k, a, answer, needs)
        })
        .collect();
    let mut out = CanAnswer {
        principal: member.principal.clone(),
        account: member.account.clone(),
        kind: kind_name(&member.kind),
        actions: actions.iter().map(|a| format!("kms:{}", a.name)).collect(),
        keys: Vec::new(),
        unknown: Vec::new(),
    };
    let mut per_key: BTreeMap<usize, Vec<Operation>> = BTreeMap::new();
    for (k, a, answer, needs) in answers {
        match answer {
            Can::Yes(w) => per_key.entry(k).or_default().push(Operation {
                action: format!("kms:{}", a.name),
                conditions: needs,
                via: via(&w),
                example_context: w.request.context.clone(),
                assumptions: w.assumptions.clone(),
            }),
            Can::No => {}
            Can::Unknown(why) => out.unknown.push(format!("{} kms:{}: {why}", keys[k].arn, a.name)),
            Can::Internal(why) => return Err(why),
        }
    }
    out.keys = per_key
        .into_iter()
        .map(|(k, operations)| KeyAccess { key: keys[k].arn.clone(), aliases: keys[k].aliases.clone(), operations })
        .collect();
    Ok(out)
}
