//! The organization tree as a graph: root → OUs → accounts, with the SCPs and RCPs attached at
//! each node.

use keyproof_parser::policy::Policy;
use keyproof_parser::snapshot::{OrgFile, OrgNodeKind, OrgPolicyType};
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

#[derive(Debug, Clone)]
pub struct Organization {
    pub id: String,
    pub management_account: String,
    /// Edges go from parent to child.
    pub graph: DiGraph<OrgNode, ()>,
    pub root: NodeIndex,
    by_id: HashMap<String, NodeIndex>,
    pub policies: BTreeMap<String, OrgPolicy>,
}

impl Organization {
    /// Builds the graph; every reference to an unknown policy and every duplicate node is
    /// reported.
    pub fn build(file: &OrgFile, sources: &SourceMap, errors: &mut Vec<ParseError>) -> Option<Organization> {
        let mut policies = BTreeMap::new();
        for p in &file.policies {
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
        Some(Organization {
            id: file.id.value.clone(),
            management_account: file.management_account.value.clone(),
            graph,
            root,
            by_id,
            policies,
        })
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
