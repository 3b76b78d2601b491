//! The organization tree as a graph: root → OUs → accounts, with the SCPs and RCPs attached at
//! each node.

use keyproof_parser::policy::Policy;
use keyproof_parser::policy::{Effect, PrincipalKind, Statement};
use keyproof_parser::snapshot::{OrgFile, OrgNodeKind, OrgPolicyType, PolicyTypeStatus};
use keyproof_parser::{ParseError, SourceMap, Span, Spanned};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone)]
pub struct OrgNode {
    pub kind: OrgNodeKind,
    pub id: String,
    pub name: Option<String>,
    /// Ids of the SCPs attached here.
    pub scps: Vec<Spanned<String>>,
    /// Ids of the RCPs attached here.
    pub rcps: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct OrgPolicy {
    pub id: String,
    pub name: String,
    pub policy_type: OrgPolicyType,
    pub aws_managed: bool,
    pub document: Policy,
}

/// Whether a policy type is enabled in the organization's root (`list-roots` → `PolicyTypes`).
/// A type that is not enabled does not apply at all (Organizations UG
/// orgs_manage_policies_enable-disable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeState {
    Enabled,
    NotEnabled,
    /// `PENDING_ENABLE` / `PENDING_DISABLE`: whether the layer applies is not settled, so the
    /// evaluator treats it as unknown.
    Pending,
}

#[derive(Debug, Clone)]
pub struct Organization {
    pub id: String,
    pub management_account: String,
    /// Whether SCPs apply.
    pub scp_state: TypeState,
    /// Whether RCPs apply. When they do, `RCPFullAWSAccess` is attached at every level whether
    /// or not the snapshot lists it (AWS attaches it and it cannot be detached), so only the Deny
    /// statements of customer RCPs decide.
    pub rcp_state: TypeState,
    /// Edges go from parent to child.
    pub graph: DiGraph<OrgNode, ()>,
    pub root: NodeIndex,
    by_id: HashMap<String, NodeIndex>,
    pub policies: BTreeMap<String, OrgPolicy>,
}

impl Organization {
    /// Builds the graph; every reference to an unknown policy and every duplicate node is
    /// reported, and so is a customer RCP with an `Allow` statement (AWS rejects it). Readings
    /// the user should know of (policy types inferred, a level where no SCP allows KMS) go to
    /// `notes`.
    pub fn build(
        file: &OrgFile,
        sources: &SourceMap,
        errors: &mut Vec<ParseError>,
        notes: &mut Vec<Spanned<String>>,
    ) -> Option<Organization> {
        let mut policies = BTreeMap::new();
        for p in &file.policies {
            if p.policy_type == OrgPolicyType::Rcp {
                for stmt in &p.document.statements {
                    if stmt.effect.value == Effect::Allow && !is_rcp_full_access_statement(stmt) {
                        errors.push(ParseError::at(
                            sources,
                            stmt.span,
                            format!(
                                "RCP `{}` has an Allow statement: customer RCPs may only deny (RCPFullAWSAccess is the only allowing RCP, and AWS attaches it everywhere)",
                                p.id.value
                            ),
                            "Allow in an RCP",
                        ));
                    }
                }
            }
            policies.insert(
                p.id.value.clone(),
                OrgPolicy {
                    id: p.id.value.clone(),
                    name: p.name.clone(),
                    policy_type: p.policy_type,
                    aws_managed: p.aws_managed,
                    document: p.document.clone(),
                },
            );
        }
        let root_file = match file.roots.as_slice() {
            [one] => one,
            [] => return None,
            [_, second, ..] => {
                errors.push(ParseError::at(
                    sources,
                    second.span,
                    "an organization has exactly one root",
                    "second root",
                ));
                return None;
            }
        };
        let mut graph = DiGraph::new();
        let mut by_id = HashMap::new();
        let mut stack = vec![(root_file, None::<NodeIndex>)];
        let mut root = None;
        while let Some((node, parent)) = stack.pop() {
            let mut scps = Vec::new();
            let mut rcps = Vec::new();
            for pid in &node.policy_ids {
                match policies.get(&pid.value) {
                    Some(p) if p.policy_type == OrgPolicyType::Scp => scps.push(pid.clone()),
                    Some(_) => rcps.push(pid.clone()),
                    None if file.other_policy_ids.contains(&pid.value) => {}
                    None => errors.push(ParseError::at(
                        sources,
                        pid.span,
                        format!("policy `{}` is attached here but not defined in `Policies`", pid.value),
                        "unknown policy id",
                    )),
                }
            }
            let idx = graph.add_node(OrgNode {
                kind: node.kind,
                id: node.id.value.clone(),
                name: node.name.as_ref().map(|n| n.value.clone()),
                scps,
                rcps,
                span: node.span,
            });
            if by_id.insert(node.id.value.clone(), idx).is_some() {
                errors.push(ParseError::at(
                    sources,
                    node.id.span,
                    format!("`{}` appears twice in the tree", node.id.value),
                    "duplicate",
                ));
            }
            match parent {
                Some(p) => {
                    graph.add_edge(p, idx, ());
                }
                None => root = Some(idx),
            }
            for c in node.children.iter().rev() {
                stack.push((c, Some(idx)));
            }
        }
        let root = root?;
        let (scp_state, rcp_state) = policy_type_states(file, &graph, notes);
        let org = Organization {
            id: file.id.value.clone(),
            management_account: file.management_account.value.clone(),
            scp_state,
            rcp_state,
            graph,
            root,
            by_id,
            policies,
        };
        org.note_levels_without_kms_scp(notes);
        Some(org)
    }

    /// One note for each root, OU or account at which no attached SCP has an Allow statement
    /// that covers KMS actions: every principal below is then denied them (FullAWSAccess can be
    /// detached, so this is a real deny in AWS), which is usually a snapshot that lists only
    /// some of the attached SCPs.
    fn note_levels_without_kms_scp(&self, notes: &mut Vec<Spanned<String>>) {
        if self.scp_state != TypeState::Enabled {
            return;
        }
        for idx in self.graph.node_indices() {
            let node = &self.graph[idx];
            let allows_kms = node.scps.iter().filter_map(|p| self.policies.get(&p.value)).any(|p| {
                p.document.statements.iter().any(|s| {
                    s.effect.value == Effect::Allow
                        && s.action.as_ref().is_some_and(|a| {
                            crate::reference::Reference::get().actions().filter(|k| k.on_key).any(|k| {
                                let name = format!("kms:{}", k.name);
                                a.values.iter().any(|v| crate::wildcard::action_matches(&v.value, &name)) != a.negated
                            })
                        })
                })
            });
            let what = match node.kind {
                OrgNodeKind::Root => "the root",
                OrgNodeKind::OrganizationalUnit => "OU",
                OrgNodeKind::Account => "account",
            };
            if node.scps.is_empty() {
                notes.push(Spanned::new(
                    format!(
                        "no SCP is listed at {what} {}, where AWS requires at least one: answers that depend on it are unknown",
                        self.name_path(idx)
                    ),
                    node.span,
                ));
                continue;
            }
            if !allows_kms {
                let what = match node.kind {
                    OrgNodeKind::Root => "the root",
                    OrgNodeKind::OrganizationalUnit => "OU",
                    OrgNodeKind::Account => "account",
                };
                notes.push(Spanned::new(
                    format!(
                        "no SCP attached at {what} {} allows any kms: action: every principal below is denied KMS (is an attached SCP such as FullAWSAccess missing from the snapshot?)",
                        self.name_path(idx)
                    ),
                    node.span,
                ));
            }
        }
    }

    /// Whether the SCP layer and the RCP layer apply.
    pub fn layer_state(&self, scp: bool) -> TypeState {
        if scp {
            self.scp_state
        } else {
            self.rcp_state
        }
    }

    pub fn node(&self, id: &str) -> Option<NodeIndex> {
        self.by_id.get(id).copied()
    }

    pub fn contains_account(&self, account: &str) -> bool {
        self.by_id.get(account).is_some_and(|&i| self.graph[i].kind == OrgNodeKind::Account)
    }

    pub fn parent(&self, idx: NodeIndex) -> Option<NodeIndex> {
        self.graph.neighbors_directed(idx, Direction::Incoming).next()
    }

    /// The nodes from the root down to the account, both included.
    pub fn path_to_account(&self, account: &str) -> Option<Vec<NodeIndex>> {
        let mut idx = self.node(account)?;
        if self.graph[idx].kind != OrgNodeKind::Account {
            return None;
        }
        let mut path = vec![idx];
        while let Some(p) = self.parent(idx) {
            path.push(p);
            idx = p;
        }
        path.reverse();
        Some(path)
    }

    /// `aws:PrincipalOrgPaths` / `aws:ResourceOrgPaths` of an account:
    /// `o-id/r-id/ou-1/ou-2/`, the path down to the account's parent (IAM
    /// reference_policies_condition-keys, aws:PrincipalOrgPaths).
    pub fn org_path(&self, account: &str) -> Option<String> {
        let path = self.path_to_account(account)?;
        let mut s = format!("{}/", self.id);
        for idx in &path[..path.len().saturating_sub(1)] {
            s.push_str(&self.graph[*idx].id);
            s.push('/');
        }
        Some(s)
    }

    /// The human path of an OU or account by names: `Root/Workloads/Prod`.
    pub fn name_path(&self, idx: NodeIndex) -> String {
        let mut names = Vec::new();
        let mut cur = Some(idx);
        while let Some(i) = cur {
            let n = &self.graph[i];
            names.push(n.name.clone().unwrap_or_else(|| n.id.clone()));
            cur = self.parent(i);
        }
        names.reverse();
        names.join("/")
    }

    /// Every account node in the tree.
    pub fn accounts(&self) -> impl Iterator<Item = &OrgNode> {
        self.graph.node_weights().filter(|n| n.kind == OrgNodeKind::Account)
    }

    /// Finds an OU by id or by a name path (`Root/Workloads/Prod`, or without the root name).
    pub fn find_ou(&self, text: &str) -> Option<NodeIndex> {
        if let Some(i) = self.node(text) {
            return Some(i);
        }
        self.graph.node_indices().find(|&i| {
            self.graph[i].kind != OrgNodeKind::Account && {
                let full = self.name_path(i);
                full == text || full.split_once('/').is_some_and(|(_, rest)| rest == text)
            }
        })
    }

    /// The names [`Organization::find_ou`] takes for each OU (and the root): its name path with
    /// and without the root's name (`Root/Workloads/Prod`, `Workloads/Prod`) and its id. For
    /// did-you-mean suggestions ([`crate::suggest::ou`]).
    pub fn ou_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for i in self.graph.node_indices() {
            let n = &self.graph[i];
            if n.kind == OrgNodeKind::Account {
                continue;
            }
            let full = self.name_path(i);
            if let Some((_, rest)) = full.split_once('/') {
                out.push(rest.to_string());
            }
            out.push(full);
            out.push(n.id.clone());
        }
        out
    }

    /// Whether `ancestor` is on the path from the root to `idx` (itself included).
    pub fn is_under(&self, idx: NodeIndex, ancestor: NodeIndex) -> bool {
        let mut cur = Some(idx);
        while let Some(i) = cur {
            if i == ancestor {
                return true;
            }
            cur = self.parent(i);
        }
        false
    }
}

/// `RCPFullAWSAccess`'s statement: `Allow` of `*` to `"*"` on `*`, without conditions.
pub fn is_rcp_full_access_statement(stmt: &Statement) -> bool {
    let star = |v: &[Spanned<String>]| v.len() == 1 && v[0].value == "*";
    stmt.effect.value == Effect::Allow
        && stmt.conditions.is_empty()
        && stmt.action.as_ref().is_some_and(|a| !a.negated && star(&a.values))
        && stmt.resource.as_ref().is_some_and(|r| !r.negated && star(&r.values))
        && stmt.principal.as_ref().is_none_or(|p| {
            !p.negated && p.entries.iter().all(|e| e.kind == PrincipalKind::Everyone || e.value.value == "*")
        })
}

/// The policy types' states: from the root's `PolicyTypes` when the file has it, else inferred
/// (a type is enabled when a policy of that type is attached anywhere), with a note.
fn policy_type_states(
    file: &OrgFile,
    graph: &DiGraph<OrgNode, ()>,
    notes: &mut Vec<Spanned<String>>,
) -> (TypeState, TypeState) {
    let attached = |scp: bool| graph.node_weights().any(|n| if scp { !n.scps.is_empty() } else { !n.rcps.is_empty() });
    let root_span = file.roots.first().map(|r| r.span).unwrap_or(file.id.span);
    match &file.policy_types {
        Some(entries) => {
            let state = |t: OrgPolicyType| match entries.iter().find(|e| e.policy_type == Some(t)) {
                None => TypeState::NotEnabled,
                Some(e) => match e.status {
                    PolicyTypeStatus::Enabled => TypeState::Enabled,
                    PolicyTypeStatus::PendingEnable | PolicyTypeStatus::PendingDisable => TypeState::Pending,
                },
            };
            let (scp, rcp) = (state(OrgPolicyType::Scp), state(OrgPolicyType::Rcp));
            for (is_scp, st, name) in [(true, scp, "SCP"), (false, rcp, "RCP")] {
                if st == TypeState::NotEnabled && attached(is_scp) {
                    notes.push(Spanned::new(
                        format!("{name}s are attached, but the {name} policy type is not enabled in the root's PolicyTypes: they have no effect"),
                        root_span,
                    ));
                }
                if st == TypeState::Pending {
                    notes.push(Spanned::new(
                        format!(
                            "the {name} policy type is being enabled or disabled: whether {name}s apply is unknown"
                        ),
                        root_span,
                    ));
                }
            }
            (scp, rcp)
        }
        None => {
            let infer = |scp: bool| if attached(scp) { TypeState::Enabled } else { TypeState::NotEnabled };
            let (scp, rcp) = (infer(true), infer(false));
            let word = |s: TypeState| {
                if s == TypeState::Enabled {
                    "enabled (a policy of the type is attached)"
                } else {
                    "not enabled (none is attached)"
                }
            };
            notes.push(Spanned::new(
                format!(
                    "organization.json has no `PolicyTypes` on its root; inferred: SCPs {}, RCPs {}",
                    word(scp),
                    word(rcp)
                ),
                root_span,
            ));
            (scp, rcp)
        }
    }
}
