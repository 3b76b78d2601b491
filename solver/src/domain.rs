//! The principals a quantifier ranges over: everything AWS could present.
//!
//! - Closed world: every role (a session of it), user and root user of every collected account,
//!   and every specific role session a policy or grant names.
//! - Open world, named: every principal a key policy, grant or property names in an account that
//!   was not collected (its IAM side is unknown).
//! - Open world, unnamed: for every account the snapshot knows of but did not collect, "any other
//!   principal of that account"; and "any principal of any other account" (its account id is a
//!   variable, distinct from every account the snapshot names).
//! - Service principals named in key policies and grants, and "any other service".
//! - Federated-user sessions (STS GetFederationToken): every federated user a policy, grant or
//!   property names, and for every account (collected, named, and "any other account") "any
//!   federated user of that account", whose name the caller chooses and whose permissions (the
//!   calling IAM user's or root user's policies intersected with a session policy) are not in the
//!   snapshot.
//!
//! The representatives of unnamed principals have no fixed name: conditions on their ARN are
//! free choices (SOUNDNESS.md), so a proof covers every name.

use keyproof_model::principal::{NamedPrincipal, PrincipalRef};
use keyproof_model::snapshot::Snapshot;
use keyproof_parser::policy::PrincipalKind;
use keyproof_parser::snapshot::is_account_id;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A principal of a collected account.
    Snapshot,
    /// A principal named somewhere, in an account that was not collected.
    NamedOutside,
    /// Any other principal of an account that was not collected.
    AnyOf(String),
    /// Any principal of an account the snapshot never names.
    AnyOtherAccount,
    /// Any federated-user session (GetFederationToken) of an account not named otherwise.
    AnyFederatedUser(String),
    Service,
    AnyOtherService,
}

/// One element of the principal domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Member {
    pub kind: Kind,
    /// The principal as a request names it (for representatives, a stand-in name).
    pub principal: String,
    /// Its account, when it has one.
    pub account: Option<String>,
}

impl Member {
    pub fn is_representative(&self) -> bool {
        matches!(self.kind, Kind::AnyOf(_) | Kind::AnyOtherAccount | Kind::AnyOtherService | Kind::AnyFederatedUser(_))
    }

    /// How the member is shown to a person.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::AnyOf(a) => format!("any principal of account {a} that its own IAM policies allow"),
            Kind::AnyOtherAccount => "any principal of any other AWS account".to_string(),
            Kind::AnyOtherService => "any other AWS service principal".to_string(),
            Kind::AnyFederatedUser(a) if a == OTHER_ACCOUNT => {
                "any federated user (GetFederationToken) of any other AWS account".to_string()
            }
            Kind::AnyFederatedUser(a) => format!("any federated user (GetFederationToken) of account {a}"),
            _ => self.principal.clone(),
        }
    }
}

/// The stand-in account id of "any other account": a real id is chosen by the solver; this one
/// is only used to resolve the principal.
pub const OTHER_ACCOUNT: &str = "000000000000";
pub const OTHER_SERVICE: &str = "keyproof-any-other-service.amazonaws.com";
/// The stand-in name of "any federated user of account A": the solver chooses the real name.
pub const ANY_FEDERATED_USER: &str = "keyproof-any-federated-user";

/// Every account id the snapshot names: collected, in the organization, in principals, grants
/// and condition values.
pub fn mentioned_accounts(snapshot: &Snapshot, extra: &[String]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = snapshot.accounts.keys().cloned().collect();
    let mut scan = |text: &str| {
        for part in text.split(|c: char| !c.is_ascii_digit()) {
            if is_account_id(part) {
                out.insert(part.to_string());
            }
        }
    };
    for p in &snapshot.policies {
        for s in &p.document.statements {
            if let Some(pe) = &s.principal {
                pe.entries.iter().for_each(|e| scan(&e.value.value));
            }
            for c in &s.conditions {
                c.values.iter().for_each(|v| scan(&v.value));
            }
        }
    }
    for k in &snapshot.keys {
        for g in &k.grants {
            scan(&g.grantee.value);
            if let Some(a) = &g.issuing_account {
                scan(a);
            }
        }
    }
    for e in extra {
        scan(e);
    }
    out.remove(OTHER_ACCOUNT);
    out
}

/// Builds the principal domain. `extra` are principals a property names.
pub fn principals(snapshot: &Snapshot, extra: &[String]) -> Vec<Member> {
    let mut out: BTreeSet<Member> = BTreeSet::new();
    let collected = |a: &str| snapshot.account(a).is_some_and(|acc| acc.collected);
    for acc in snapshot.accounts.values().filter(|a| a.collected) {
        out.insert(Member {
            kind: Kind::Snapshot,
            principal: format!("arn:aws:iam::{}:root", acc.id),
            account: Some(acc.id.clone()),
        });
        for r in &acc.roles {
            out.insert(Member { kind: Kind::Snapshot, principal: r.arn.clone(), account: Some(acc.id.clone()) });
        }
        for u in &acc.users {
            out.insert(Member { kind: Kind::Snapshot, principal: u.arn.clone(), account: Some(acc.id.clone()) });
        }
    }
    // Principals named in key policies, grants and properties.
    let mut named: Vec<String> = extra.to_vec();
    let mut services: BTreeSet<String> = BTreeSet::new();
    for p in &snapshot.policies {
        for s in &p.document.statements {
            let Some(pe) = &s.principal else { continue };
            for e in &pe.entries {
                match e.kind {
                    PrincipalKind::Aws => named.push(e.value.value.clone()),
                    PrincipalKind::Service => {
                        services.insert(e.value.value.clone());
                    }
                    _ => {}
                }
            }
        }
    }
    for k in &snapshot.keys {
        for g in &k.grants {
            named.push(g.grantee.value.clone());
            if let Some(NamedPrincipal::Arn(a)) = &g.retiring {
                named.push(a.clone());
            }
        }
    }
    for n in named {
        match NamedPrincipal::from_aws(&n) {
            NamedPrincipal::Arn(arn) => {
                let Ok(r) = PrincipalRef::parse(&arn) else { continue };
                let Some(account) = r.account().map(str::to_string) else { continue };
                let kind = if collected(&account) {
                    // In a collected account only role sessions and federated users are missing
                    // from the list.
                    let session_of_known_role = matches!(r, PrincipalRef::Session { .. })
                        && snapshot.account(&account).and_then(|a| a.role(r.role_name().unwrap_or(""))).is_some();
                    if !session_of_known_role && !matches!(r, PrincipalRef::FederatedUser { .. }) {
                        continue;
                    }
                    Kind::Snapshot
                } else {
                    Kind::NamedOutside
                };
                out.insert(Member { kind, principal: arn, account: Some(account) });
            }
            NamedPrincipal::Service(s) => {
                services.insert(s);
            }
            _ => {}
        }
    }
    for s in services {
        out.insert(Member { kind: Kind::Service, principal: s, account: None });
    }
    let mentioned = mentioned_accounts(snapshot, extra);
    let federated_accounts = snapshot
        .accounts
        .values()
        .filter(|a| a.collected)
        .map(|a| a.id.clone())
        .chain(mentioned.iter().cloned())
        .chain([OTHER_ACCOUNT.to_string()])
        .collect::<BTreeSet<String>>();
    for a in federated_accounts {
        out.insert(Member {
            kind: Kind::AnyFederatedUser(a.clone()),
            principal: format!("arn:aws:sts::{a}:federated-user/{ANY_FEDERATED_USER}"),
            account: Some(a),
        });
    }
    for a in mentioned {
        if collected(&a) {
            continue;
        }
        out.insert(Member {
            kind: Kind::NamedOutside,
            principal: format!("arn:aws:iam::{a}:root"),
            account: Some(a.clone()),
        });
        out.insert(Member {
            kind: Kind::AnyOf(a.clone()),
            principal: format!("arn:aws:iam::{a}:role/keyproof-any-principal"),
            account: Some(a),
        });
    }
    out.insert(Member {
        kind: Kind::AnyOtherAccount,
        principal: format!("arn:aws:iam::{OTHER_ACCOUNT}:role/keyproof-any-principal"),
        account: Some(OTHER_ACCOUNT.to_string()),
    });
    out.insert(Member { kind: Kind::AnyOtherService, principal: OTHER_SERVICE.to_string(), account: None });
    out.into_iter().collect()
}
