//! The concrete evaluator: the reference semantics of keyproof.
//!
//! `decide` takes one request and returns AWS's decision with a trace of every layer. The order
//! follows the IAM policy evaluation logic (reference_policies_evaluation-logic) with the KMS
//! rules of the KMS Developer Guide (control-access, key-policies, grants):
//!
//! 1. an explicit Deny in any applicable policy wins (key policy, identity policies, boundary,
//!    SCPs on the principal's path, RCPs on the key's path) — `explicit-deny`;
//! 2. RCPs: every level from the root to the key's account must allow ([`organization`]);
//! 3. SCPs: every level from the root to the principal's account must allow;
//! 4. the key policy allows the principal, directly or through its account's IAM policies
//!    ([`key_policy`], [`identity`]), or a grant allows it ([`grant`]).
//!
//! Values the snapshot does not hold make a layer `Unknown` ([`Tri`]); the decision is then
//! `unknown` when it depends on them.
//!
//! Counterpart: `solver/src/encode/mod.rs`.

pub mod condition;
pub mod edges;
pub mod grant;
pub mod identity;
pub mod key_policy;
pub mod organization;
pub mod statement;
pub mod variables;

use crate::context::{build_context, resolve_principal, Context, Request, ResolvedPrincipal};
use crate::err::ModelError;
use crate::principal::PrincipalRef;
use crate::reference::{KmsAction, Reference};
use crate::snapshot::{Key, Snapshot};
use crate::tri::Tri;
use keyproof_parser::{Location, Span};
use serde::Serialize;

/// Everything a layer needs to know about the request.
pub struct Subject<'a> {
    pub snapshot: &'a Snapshot,
    pub principal: &'a ResolvedPrincipal<'a>,
    pub action: &'static KmsAction,
    pub key: &'a Key,
    pub ctx: &'a Context,
    pub knockout: Option<Knockout>,
}

/// One rule of the semantics switched off, for the tests that show every layer is needed (the
/// corpus must fail without it). Never used outside tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knockout {
    /// Explicit denies are ignored.
    ExplicitDeny,
    Scp,
    Rcp,
    /// The key policy allows nothing.
    KeyPolicy,
    /// Identity policies are taken to allow everything.
    IdentityPolicies,
    /// Permissions boundaries are taken to allow everything.
    Boundary,
    /// Grants allow nothing.
    Grants,
    /// Grant constraints are taken to hold.
    GrantConstraints,
    /// Every action works across accounts.
    CrossAccountLimit,
    /// Every condition is taken to hold.
    Conditions,
    /// Principal elements match everyone.
    PrincipalMatching,
    /// The organization's policy types are ignored: SCPs and RCPs always apply, and an RCP level
    /// allows only through an RCP the snapshot lists there (the reading before issue 9).
    PolicyTypes,
}

impl Knockout {
    pub const ALL: [Knockout; 12] = [
        Knockout::ExplicitDeny,
        Knockout::Scp,
        Knockout::Rcp,
        Knockout::KeyPolicy,
        Knockout::IdentityPolicies,
        Knockout::Boundary,
        Knockout::Grants,
        Knockout::GrantConstraints,
        Knockout::CrossAccountLimit,
        Knockout::Conditions,
        Knockout::PrincipalMatching,
        Knockout::PolicyTypes,
    ];
}

impl Subject<'_> {
    /// Principal and key in the same account.
    pub fn same_account(&self) -> bool {
        self.principal.account_id() == Some(self.key.account.as_str())
    }
}

/// The decision on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
    /// Whether the request is allowed depends on something the snapshot does not hold.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::ExplicitDeny => "explicit-deny",
            Verdict::ImplicitDeny => "implicit-deny",
            Verdict::Unknown => "unknown",
        }
    }
}

/// The layer a trace entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    Request,
    Rcp,
    Scp,
    KeyPolicy,
    Identity,
    Boundary,
    Grant,
    /// A role's trust policy (the resource-based policy of `sts:AssumeRole`).
    Trust,
}

/// What a policy element did to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Allows,
    Denies,
    /// The element would allow or deny, depending on something unknown.
    MayAllow,
    MayDeny,
    /// Something required is missing (no allowing statement at an SCP level…).
    Missing,
    /// The layer does not apply to this request (an exemption).
    Exempt,
    /// An allow that has no effect (a cross-account grant of an action that does not work
    /// across accounts…).
    Ineffective,
    Info,
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceEntry {
    pub layer: Layer,
    pub outcome: Outcome,
    /// The policy or grant, as labelled in the snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The statement's `Sid`, or `#index` when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// Where the statement or grant is (its text form is `file:line:column`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<std::sync::Arc<Location>>,
    pub detail: String,
    #[serde(skip)]
    pub span: Option<Span>,
    /// For a key policy or grant allow: it relies on the principal's IAM policies.
    #[serde(skip)]
    pub uses_identity: bool,
}

/// A decision with its trace.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub decision: Verdict,
    pub principal: String,
    pub action: String,
    pub key: String,
    pub trace: Vec<TraceEntry>,
    /// Why the decision is `unknown`, or what else was unknown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

impl Decision {
    /// The trace entries that decide the request: for an allow, the key policy statements and
    /// grants that allow it, and the identity and boundary statements only where the key policy
    /// or a grant relied on them (delegation to the account, cross-account use, a role's
    /// boundary, a grant to an account); for a
    /// deny, the denying statements and what was missing.
    pub fn deciding(&self) -> Vec<&TraceEntry> {
        let key_policy_used_iam = self.trace.iter().any(|t| {
            matches!(t.layer, Layer::KeyPolicy | Layer::Grant | Layer::Trust)
                && matches!(t.outcome, Outcome::Allows | Outcome::MayAllow)
                && t.uses_identity
        });
        self.trace
            .iter()
            .filter(|t| match self.decision {
                Verdict::Allow | Verdict::Unknown => match t.layer {
                    Layer::KeyPolicy | Layer::Grant | Layer::Trust => {
                        matches!(t.outcome, Outcome::Allows | Outcome::MayAllow)
                    }
                    Layer::Identity | Layer::Boundary => {
                        key_policy_used_iam && matches!(t.outcome, Outcome::Allows | Outcome::MayAllow)
                    }
                    _ => matches!(t.outcome, Outcome::MayDeny),
                },
                Verdict::ExplicitDeny => t.outcome == Outcome::Denies,
                Verdict::ImplicitDeny => matches!(t.outcome, Outcome::Missing | Outcome::Ineffective),
            })
            .collect()
    }

    /// The statements and grants a report cites for this decision: for an allow (or an
    /// `unknown` that may allow), the entries of [`Decision::deciding`] that allow it — the key
    /// policy statements and grants, and the identity and boundary statements only where the key
    /// policy or a grant relied on them; for a deny, the denying statements and what was missing. who-can's
    /// `via`, check's and diff's `because` and the rules' findings all cite exactly these, so one
    /// request is explained the same way by every command.
    pub fn because(&self) -> Vec<&TraceEntry> {
        let deciding = self.deciding();
        match self.decision {
            Verdict::Allow | Verdict::Unknown => {
                deciding.into_iter().filter(|t| matches!(t.outcome, Outcome::Allows | Outcome::MayAllow)).collect()
            }
            Verdict::ExplicitDeny | Verdict::ImplicitDeny => deciding,
        }
    }
}

impl TraceEntry {
    /// How a report names the entry: `policy, statement S`, the policy, or the detail.
    pub fn cited(&self) -> String {
        match (&self.policy, &self.statement) {
            (Some(p), Some(s)) => format!("{p}, statement {s}"),
            (Some(p), None) => p.clone(),
            _ => self.detail.clone(),
        }
    }

    /// The entry as every report cites it (who-can's `via`, check's and diff's `because`,
    /// lint's causes).
    pub fn cite(&self) -> Cited {
        let text = match &self.location {
            Some(l) => format!("{} ({l})", self.cited()),
            None => self.cited(),
        };
        Cited {
            layer: self.layer,
            outcome: self.outcome,
            policy: self.policy.clone(),
            statement: self.statement.clone(),
            location: self.location.clone(),
            detail: self.detail.clone(),
            text,
        }
    }
}

/// A statement or grant cited as the reason for an answer: the same shape in who-can's `via`,
/// check's and diff's `because` and lint's causes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cited {
    pub layer: Layer,
    pub outcome: Outcome,
    /// The policy or grant, as labelled in the snapshot.
    pub policy: Option<String>,
    /// The statement's `Sid`, or `#index` when it has none (also in `location.statement`).
    pub statement: Option<String>,
    pub location: Option<std::sync::Arc<Location>>,
    pub detail: String,
    /// The citation as text: `policy, statement S (file:line:column)`.
    pub text: String,
}

impl Cited {
    /// The citation without its location: `policy, statement S`, the policy, or the detail.
    pub fn name(&self) -> String {
        match (&self.policy, &self.statement) {
            (Some(p), Some(s)) => format!("{p}, statement {s}"),
            (Some(p), None) => p.clone(),
            _ => self.detail.clone(),
        }
    }
}

impl std::fmt::Display for Cited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Collects trace entries and unknown reasons.
pub struct Trace<'a> {
    pub snapshot: &'a Snapshot,
    pub entries: Vec<TraceEntry>,
    pub unknown: Vec<String>,
}

impl Trace<'_> {
    pub fn push(
        &mut self,
        layer: Layer,
        outcome: Outcome,
        policy: Option<String>,
        statement: Option<String>,
        span: Option<Span>,
        detail: impl Into<String>,
    ) {
        let location = span.map(|s| self.snapshot.sources.locate_statement_shared(s, statement.as_deref()));
        self.entries.push(TraceEntry {
            layer,
            outcome,
            policy,
            statement,
            location,
            detail: detail.into(),
            span,
            uses_identity: false,
        });
    }

    pub fn unknown(&mut self, reasons: Vec<String>) {
        for r in reasons {
            if !r.is_empty() && !self.unknown.contains(&r) {
                self.unknown.push(r);
            }
        }
    }
}

/// Decides a request. Errors are about the request itself (an unknown key, an invalid action or
/// principal, a context entry that is not allowed).
pub fn decide(snapshot: &Snapshot, request: &Request) -> Result<Decision, ModelError> {
    decide_with(snapshot, request, None)
}

/// [`decide`] with one rule switched off (tests only: see [`Knockout`]).
pub fn decide_with(snapshot: &Snapshot, request: &Request, knockout: Option<Knockout>) -> Result<Decision, ModelError> {
    let action = Reference::get()
        .action(&request.action)
        .ok_or_else(|| ModelError::InvalidAction { action: request.action.clone() })?;
    if !request.action.to_ascii_lowercase().starts_with("kms:") {
        return Err(ModelError::InvalidAction { action: request.action.clone() });
    }
    if !action.on_key {
        return Err(ModelError::NotAKeyAction { action: request.action.clone() });
    }
    let key = snapshot.key(&request.key)?;
    let principal = resolve_principal(snapshot, &request.principal)?;
    let ctx = build_context(snapshot, &principal, key, action, &request.context)?;
    Ok(decide_resolved(snapshot, &principal, action, key, &ctx, knockout))
}

/// Decides a request whose parts are already resolved.
pub fn decide_resolved(
    snapshot: &Snapshot,
    principal: &ResolvedPrincipal<'_>,
    action: &'static KmsAction,
    key: &Key,
    ctx: &Context,
    knockout: Option<Knockout>,
) -> Decision {
    let s = Subject { snapshot, principal, action, key, ctx, knockout };
    let mut trace = Trace { snapshot, entries: Vec::new(), unknown: Vec::new() };
    let mut decision = Decision {
        decision: Verdict::ImplicitDeny,
        principal: principal.principal_arn.clone().unwrap_or_else(|| principal.r.arn()),
        action: format!("kms:{}", action.name),
        key: key.arn.clone(),
        trace: Vec::new(),
        unknown: Vec::new(),
    };
    if let PrincipalRef::Session { .. } | PrincipalRef::FederatedUser { .. } = principal.r {
        decision.principal = principal.r.arn();
    }
    if principal.r == PrincipalRef::Anonymous {
        trace.push(
            Layer::Request,
            Outcome::Denies,
            None,
            None,
            None,
            "AWS KMS accepts only signed requests (SigV4), so an anonymous caller is never allowed, whatever the policies say",
        );
        decision.trace = trace.entries;
        return decision;
    }
    if !principal.identity_known {
        trace.push(
            Layer::Identity,
            Outcome::Info,
            None,
            None,
            None,
            match principal.r {
                PrincipalRef::FederatedUser { .. } => format!(
                    "the permissions of the federated user `{}` come from its calling IAM user and the session policy given to GetFederationToken, which the snapshot does not hold: where they matter, the answer is unknown",
                    principal.r.arn()
                ),
                _ => format!(
                    "the IAM policies of `{}` are not in the snapshot (account {} was not collected): where they matter, the answer is unknown",
                    principal.r.arn(),
                    principal.account_id().unwrap_or("?")
                ),
            },
        );
    }
    let identity = identity::identity_side(&s, &mut trace);
    let (rcp_deny, rcp_allow) = organization::rcp_layer(&s, &mut trace);
    let (scp_deny, scp_allow) = organization::scp_layer(&s, &mut trace);
    let (kp_deny, kp_allow) = key_policy::key_policy_layer(&s, &identity, &mut trace);
    let grant_allow = grant::grant_layer(&s, &identity, &mut trace);
    let (rcp_deny, rcp_allow) =
        if knockout == Some(Knockout::Rcp) { (Tri::False, Tri::True) } else { (rcp_deny, rcp_allow) };
    let (scp_deny, scp_allow) =
        if knockout == Some(Knockout::Scp) { (Tri::False, Tri::True) } else { (scp_deny, scp_allow) };
    let kp_allow = if knockout == Some(Knockout::KeyPolicy) { Tri::False } else { kp_allow };
    let grant_allow = if knockout == Some(Knockout::Grants) { Tri::False } else { grant_allow };
    let deny = Tri::any([identity.deny, rcp_deny, scp_deny, kp_deny]);
    let deny = if knockout == Some(Knockout::ExplicitDeny) { Tri::False } else { deny };
    let allowed = deny.not().and(rcp_allow).and(scp_allow).and(kp_allow.or(grant_allow));
    decision.decision = if deny.is_true() {
        Verdict::ExplicitDeny
    } else if allowed.is_true() {
        Verdict::Allow
    } else if allowed.is_false() {
        if kp_allow.or(grant_allow).is_false() {
            trace.push(
                Layer::KeyPolicy,
                Outcome::Missing,
                Some(snapshot.policy(key.policy).label.clone()),
                None,
                None,
                "no key policy statement and no grant allows this request (KMS: no access unless explicitly allowed)",
            );
        }
        Verdict::ImplicitDeny
    } else {
        Verdict::Unknown
    };
    decision.trace = trace.entries;
    decision.unknown =
        if decision.decision == Verdict::Unknown || deny == Tri::Unknown { trace.unknown } else { Vec::new() };
    decision
}
