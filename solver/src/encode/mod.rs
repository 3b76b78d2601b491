//! The encoding of a request's decision as a term over the symbolic context. It mirrors
//! `model/src/eval/mod.rs`: allowed = no explicit deny, every RCP and SCP level allows, and the
//! key policy (directly or through IAM) or a grant allows.

pub mod condition;
pub mod context;
pub mod grant;
pub mod identity;
pub mod key_policy;
pub mod organization;
pub mod statement;

use crate::term::{and, constant, not, or, Term};
use context::SymContext;
use keyproof_model::context::{Context, ResolvedPrincipal};
use keyproof_model::eval::Subject;
use keyproof_model::principal::PrincipalRef;
use keyproof_model::reference::KmsAction;
use keyproof_model::snapshot::{Key, Snapshot};

/// The request being encoded: everything but the context, which is symbolic.
pub struct Target<'a> {
    pub snapshot: &'a Snapshot,
    pub principal: &'a ResolvedPrincipal<'a>,
    pub action: &'static KmsAction,
    pub key: &'a Key,
    /// The context the snapshot fixes (no request keys).
    pub base: &'a Context,
}

impl<'a> Target<'a> {
    /// The model's view, for the rules that depend only on the snapshot (principal matching,
    /// exemptions), which are decided in Rust and shared.
    pub fn subject(&self) -> Subject<'a> {
        Subject {
            snapshot: self.snapshot,
            principal: self.principal,
            action: self.action,
            key: self.key,
            ctx: self.base,
            knockout: None,
        }
    }

    pub fn same_account(&self) -> bool {
        self.principal.account_id() == Some(self.key.account.as_str())
    }
}

/// Whether the request is allowed, as a term. Mirrors `decide_resolved`.
pub fn allowed(t: &Target<'_>, sc: &mut SymContext<'_>) -> Term {
    if t.principal.r == PrincipalRef::Anonymous {
        return constant(false);
    }
    let identity = identity::identity_side(t, sc);
    let (rcp_deny, rcp_allow) = organization::rcp_layer(t, sc);
    let (scp_deny, scp_allow) = organization::scp_layer(t, sc);
    let (kp_deny, kp_allow) = key_policy::key_policy_layer(t, &identity, sc);
    let grant_allow = grant::grant_layer(t, &identity, sc);
    let deny = or([identity.deny.clone(), rcp_deny, scp_deny, kp_deny]);
    and([not(deny), rcp_allow, scp_allow, or([kp_allow, grant_allow])])
}
