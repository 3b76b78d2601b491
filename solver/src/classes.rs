//! Classes of principals, computed before anything is encoded.
//!
//! Two principals are in one class for a key when everything the decision on that key reads
//! about them is the same, up to their names: the kind (root user, role, user), whether their
//! account's IAM was collected, whether the account is in the organization and is its
//! management account, the organization path (the OUs from the root down) with the SCPs
//! attached at each level and on the account, the texts of their identity policies and
//! permissions boundary, their tags, a role's path and whether its sessions may carry session
//! tags — and whether they are in the key's account.
//!
//! That is enough only where no policy can tell the names apart. So a member has no class when
//! an SCP on its path or one of its own policies reads a condition key (or a policy variable)
//! that follows from the principal's identity beyond the signature (`aws:PrincipalArn`,
//! `aws:PrincipalAccount`, `kms:CallerAccount`, `aws:userid`, `aws:username`…, and every key
//! keyproof does not know); a key gives no classes when its key policy, grants or the RCPs on
//! its account's path read such a key, use `NotPrincipal`, or name a principal that cannot be
//! placed in an account; and the members of every account the key's policy or grants name are
//! asked one by one. The keys that remain (`aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`,
//! `aws:PrincipalType`, `aws:PrincipalIsAWSService`, `aws:PrincipalTag/*`, and the request's and
//! the key's own keys) have the same value for every member of a class.
//!
//! A class's answer is its first member's; a yes is still replayed through the evaluator for
//! each member with that member as the principal (callers do that), so only the "no" of the
//! other members rests on the argument above. The differential test
//! `grouped_lint_is_the_ungrouped_lint` (rules/tests/fixtures.rs) compares the answers with and
//! without the classes on random organizations.

use keyproof_model::context::ResolvedPrincipal;
use keyproof_model::principal::{NamedPrincipal, PrincipalRef};
use keyproof_model::reference::{KeyClass, KeySource, Reference};
use keyproof_model::snapshot::{Key, Snapshot};
use keyproof_parser::policy::{Policy, PrincipalKind};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};

/// Principal keys whose value a class fixes (the organization, the path, the kind, the tags).
const FIXED_BY_CLASS: &[&str] =
    &["aws:principalorgid", "aws:principalorgpaths", "aws:principaltype", "aws:principalisawsservice"];

/// What a key lets the classes do.
#[derive(Debug, Clone, Default)]
pub struct KeyView {
    /// Whether no policy of the key's side can tell the names of two members apart.
    pub blind: bool,
    /// The accounts (as [`crate::query::account_number`]) whose principals the key policy or a
    /// grant names: their members are asked one by one.
    pub named: HashSet<u64>,
}

/// The classes of one snapshot: signatures of members, and per key what the key reads.
#[derive(Debug, Default)]
pub struct Classes {
    /// Interned signatures.
    signatures: Mutex<HashMap<String, u32>>,
    /// Whether a condition key or variable is blind to names (by its lower-case name).
    blind_keys: RwLock<HashMap<String, bool>>,
    /// Per key (index into the snapshot's keys).
    views: RwLock<HashMap<usize, std::sync::Arc<KeyView>>>,
}

impl Classes {
    pub fn new() -> Classes {
        Classes::default()
    }

    /// Whether a condition key (any case) has the same value for every member of a class.
    pub fn key_is_blind(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        if let Some(b) = self.blind_keys.read().ok().and_then(|m| m.get(&lower).copied()) {
            return b;
        }
        let b = if FIXED_BY_CLASS.contains(&lower.as_str()) || lower.starts_with("aws:principaltag/") {
            true
        } else {
            let r = Reference::get();
            r.actions().all(|a| match r.classify(name, a) {
                KeyClass::Known(info) => info.source != KeySource::Principal,
                KeyClass::NeverPresent => true,
                KeyClass::Unknown => false,
            })
        };
        if let Ok(mut m) = self.blind_keys.write() {
            m.insert(lower, b);
        }
        b
    }

    /// Whether every `${…}` policy variable in a string is blind to names (an unterminated one
    /// is not).
    fn variables_blind(&self, s: &str) -> bool {
        let mut rest = s;
        while let Some(at) = rest.find("${") {
            let tail = &rest[at + 2..];
            let Some(end) = tail.find('}') else { return false };
            let name = &tail[..end];
            if !matches!(name, "*" | "?" | "$") && !self.key_is_blind(name) {
                return false;
            }
            rest = &tail[end + 1..];
        }
        true
    }

    /// Whether a policy's conditions and variables are blind to names. `Principal` elements are
    /// not looked at here.
    fn policy_blind(&self, p: &Policy) -> bool {
        p.statements.iter().all(|s| {
            s.conditions.iter().all(|c| {
                self.key_is_blind(&c.key.value)
                    && self.variables_blind(&c.key.value)
                    && c.values.iter().all(|v| self.variables_blind(&v.value))
            }) && s.resource.as_ref().is_none_or(|r| r.values.iter().all(|v| self.variables_blind(&v.value)))
        })
    }

    /// The member's signature, interned: `None` when it has no class (not a root user, role or
    /// user of the snapshot, or a policy of its own or on its path can tell names apart).
    pub fn signature(&self, snapshot: &Snapshot, p: &ResolvedPrincipal<'_>) -> Option<u32> {
        let text = self.signature_text(snapshot, p)?;
        let mut m = self.signatures.lock().ok()?;
        let next = u32::try_from(m.len()).ok()?;
        Some(*m.entry(text).or_insert(next))
    }

    fn signature_text(&self, snapshot: &Snapshot, p: &ResolvedPrincipal<'_>) -> Option<String> {
        use std::fmt::Write as _;
        let account = p.account?;
        let mut s = String::new();
        let own = |s: &mut String, ids: &[usize]| -> Option<()> {
            for &id in ids {
                let doc = &snapshot.policy(id).document;
                if !self.policy_blind(doc) {
                    return None;
                }
                let _ = write!(s, "{}\u{1}", snapshot.sources.slice(doc.span));
            }
            Some(())
        };
        match (&p.r, p.role, p.user) {
            (PrincipalRef::Root { .. }, _, _) => s.push_str("root\u{0}"),
            (PrincipalRef::Role { .. }, Some(r), _) => {
                let _ = write!(s, "role\u{0}{}\u{0}{}\u{0}", r.path, r.session_tags_allowed());
                own(&mut s, &r.policies)?;
                s.push('\u{0}');
                own(&mut s, r.boundary.as_slice())?;
                for (k, v) in r.tags.iter() {
                    let _ = write!(s, "\u{0}{k}={v}");
                }
            }
            (PrincipalRef::User { .. }, _, Some(u)) => {
                let _ = write!(s, "user\u{0}{}\u{0}", u.path);
                own(&mut s, &u.policies)?;
                s.push('\u{0}');
                own(&mut s, u.boundary.as_slice())?;
                for (k, v) in u.tags.iter() {
                    let _ = write!(s, "\u{0}{k}={v}");
                }
            }
            _ => return None,
        }
        let _ = write!(s, "\u{2}{}\u{0}{}\u{0}{}", account.collected, p.identity_known, p.in_org);
        if let Some(org) = &snapshot.org {
            let _ = write!(s, "\u{0}{}", org.management_account == account.id);
            if let Some(path) = org.path_to_account(&account.id) {
                let last = path.len().saturating_sub(1);
                for (i, idx) in path.iter().enumerate() {
                    let node = &org.graph[*idx];
                    // The account's own node is named by its SCPs, not its id.
                    if i < last {
                        let _ = write!(s, "\u{0}{}", node.id);
                    }
                    s.push('[');
                    for scp in &node.scps {
                        match org.policies.get(&scp.value) {
                            Some(op) if self.policy_blind(&op.document) => {
                                let _ = write!(s, "{},", scp.value);
                            }
                            _ => return None,
                        }
                    }
                    s.push(']');
                }
            }
        }
        Some(s)
    }

    /// What the key lets the classes do (computed once per key).
    pub fn key_view(&self, snapshot: &Snapshot, at: usize, key: &Key) -> std::sync::Arc<KeyView> {
        if let Some(v) = self.views.read().ok().and_then(|m| m.get(&at).cloned()) {
            return v;
        }
        let v = std::sync::Arc::new(self.view_of(snapshot, key));
        if let Ok(mut m) = self.views.write() {
            m.insert(at, v.clone());
        }
        v
    }

    fn view_of(&self, snapshot: &Snapshot, key: &Key) -> KeyView {
        let mut view = KeyView { blind: true, named: HashSet::new() };
        let name = |n: &NamedPrincipal, view: &mut KeyView| match n {
            NamedPrincipal::Everyone | NamedPrincipal::Service(_) => {}
            NamedPrincipal::Account(a) => match crate::query::account_number(a) {
                Some(n) => {
                    view.named.insert(n);
                }
                None => view.blind = false,
            },
            NamedPrincipal::Arn(arn) => {
                match PrincipalRef::parse(arn).ok().and_then(|r| r.account().and_then(crate::query::account_number)) {
                    Some(n) => {
                        view.named.insert(n);
                    }
                    None => view.blind = false,
                }
            }
            NamedPrincipal::UniqueId(_) | NamedPrincipal::Other(_) => view.blind = false,
        };
        let policy = &snapshot.policy(key.policy).document;
        if !self.policy_blind(policy) {
            view.blind = false;
        }
        for stmt in &policy.statements {
            let Some(pe) = &stmt.principal else { continue };
            if pe.negated {
                view.blind = false;
            }
            for e in &pe.entries {
                match e.kind {
                    PrincipalKind::Aws => name(&NamedPrincipal::from_aws(&e.value.value), &mut view),
                    PrincipalKind::Everyone | PrincipalKind::Service => {}
                    _ => view.blind = false,
                }
            }
        }
        for g in &key.grants {
            name(&g.grantee_principal, &mut view);
            if let Some(r) = &g.retiring {
                name(r, &mut view);
            }
        }
        if let Some(org) = &snapshot.org {
            for idx in org.path_to_account(&key.account).unwrap_or_default() {
                for rcp in &org.graph[idx].rcps {
                    match org.policies.get(&rcp.value) {
                        Some(op) if self.policy_blind(&op.document) => {
                            for stmt in &op.document.statements {
                                let everyone = stmt.principal.as_ref().is_none_or(|pe| {
                                    !pe.negated
                                        && pe.entries.iter().all(|e| {
                                            e.kind == PrincipalKind::Everyone
                                                || (e.kind == PrincipalKind::Aws && e.value.value == "*")
                                        })
                                });
                                if !everyone {
                                    view.blind = false;
                                }
                            }
                        }
                        _ => view.blind = false,
                    }
                }
            }
        }
        view
    }
}
