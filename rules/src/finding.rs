//! What a rule reports: a finding on a key, with the replayed requests that show it when it is
//! about access, and its places in the snapshot files.

use keyproof_model::eval::{Cited, Layer};
use keyproof_model::Snapshot;
use keyproof_parser::Span;
use keyproof_solver::query::Witness;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How serious a finding is; the names are SARIF's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text.to_ascii_lowercase().as_str() {
            "note" => Some(Severity::Note),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// A place in a snapshot file ([`keyproof_parser::Location`], flattened: for a document
/// embedded in a JSON string, `file`, `line` and `column` are in the real file and `embedded`
/// says where inside the document), with what is there.
#[derive(Debug, Clone, Serialize)]
pub struct Location {
    #[serde(flatten)]
    pub place: keyproof_parser::Location,
    /// What is there: `statement AllowPartnerDecryptTemporary of the key policy`.
    pub what: String,
}

impl Location {
    pub fn of(snapshot: &Snapshot, span: Span, what: impl Into<String>) -> Location {
        Location { place: snapshot.sources.locate(span), what: what.into() }
    }

    /// The same start (the statement or grant a place names is not compared).
    pub fn same_place(&self, other: &Location) -> bool {
        let (a, b) = (&self.place, &other.place);
        (&a.file, a.line, a.column, &a.embedded) == (&b.file, b.line, b.column, &b.embedded)
    }

    /// [`Location::of`] a statement, with its `Sid` or `#index`.
    pub fn of_statement(snapshot: &Snapshot, span: Span, label: Option<&str>, what: impl Into<String>) -> Location {
        Location { place: snapshot.sources.locate_statement(span, label), what: what.into() }
    }
}

/// How many replayed requests a finding keeps: the rest are counted in a note.
pub const REQUESTS_KEPT: usize = 10;

/// A request the solver found and the concrete evaluator confirmed.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayedRequest {
    pub principal: String,
    /// `any principal of account 123456789012 that its own IAM policies allow`, or the ARN.
    pub description: String,
    pub action: String,
    pub key: String,
    pub context: BTreeMap<String, Vec<String>>,
    pub decision: &'static str,
    /// What must hold outside the snapshot for the request to be allowed.
    pub assumptions: Vec<String>,
    pub because: Vec<Cited>,
}

impl ReplayedRequest {
    pub fn of(w: &Witness) -> ReplayedRequest {
        ReplayedRequest {
            principal: w.request.principal.clone(),
            description: w.member.describe(),
            action: w.request.action.clone(),
            key: w.request.key.clone(),
            context: w.request.context.clone(),
            decision: w.decision.decision.as_str(),
            assumptions: w.assumptions.clone(),
            because: w.decision.because().into_iter().map(|t| t.cite()).collect(),
        }
    }
}

/// One finding of one rule.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// The key's ARN.
    pub key: String,
    /// The key's first alias, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub message: String,
    /// The principal the finding is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The replayed requests that show the finding (empty for configuration findings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<ReplayedRequest>,
    /// Where the finding is, the first being the main place: the statement or grant, else the
    /// key file.
    pub locations: Vec<Location>,
    /// What the rule assumed (defaults it inferred).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// A stable identity of the finding across runs: rule, key, principal and detail.
    pub fingerprint: String,
}

/// Builds a finding: a rule calls [`Finding::new`] and adds what it knows; the driver sets the
/// name and the severity from the registry and the settings.
impl Finding {
    pub fn new(
        code: &'static str,
        snapshot: &Snapshot,
        key: &keyproof_model::snapshot::Key,
        message: String,
    ) -> Finding {
        Finding {
            code,
            name: "",
            severity: Severity::Warning,
            key: key.arn.clone(),
            alias: key.aliases.first().cloned(),
            message,
            principal: None,
            requests: Vec::new(),
            locations: vec![Location::of(snapshot, key.span, format!("key file of {}", key.arn))],
            notes: Vec::new(),
            fingerprint: format!("{code}:{}", key.arn),
        }
    }

    /// The finding is about a principal, shown by replayed requests; the statements and grants
    /// that allow them become its main locations.
    pub fn with_witnesses(mut self, snapshot: &Snapshot, principal: &str, witnesses: &[&Witness]) -> Finding {
        self.principal = Some(principal.to_string());
        self.fingerprint = format!("{}:{principal}", self.fingerprint);
        let mut places = Vec::new();
        for (i, w) in witnesses.iter().enumerate() {
            // Every witness's statements are cited; only the first few requests are kept (a key
            // open to a whole organization has one per account: thousands).
            if i < REQUESTS_KEPT {
                self.requests.push(ReplayedRequest::of(w));
            }
            // The cited statements of the key's side: what the finding can point at in the
            // key's own files.
            for t in w.decision.because() {
                if !matches!(t.layer, Layer::KeyPolicy | Layer::Grant) {
                    continue;
                }
                let Some(span) = t.span else { continue };
                let what = match (&t.policy, &t.statement) {
                    (_, Some(s)) if t.layer == Layer::KeyPolicy => format!("key policy statement {s}"),
                    (Some(p), _) => p.clone(),
                    _ => t.detail.clone(),
                };
                let place = Location::of_statement(snapshot, span, t.statement.as_deref(), what);
                if !places.iter().any(|l: &Location| l.same_place(&place)) {
                    places.push(place);
                }
            }
        }
        places.append(&mut self.locations);
        self.locations = places;
        if witnesses.len() > REQUESTS_KEPT {
            self.notes.push(format!(
                "{} more replayed requests like these are not listed (the first {REQUESTS_KEPT} are)",
                witnesses.len() - REQUESTS_KEPT
            ));
        }
        self
    }

    /// The finding is about a principal that gets there only through a path of edges
    /// (`who-can --transitive`): one note per hop, with the statements that allow it, and one
    /// for the last request.
    pub fn with_path(mut self, principal: &str, reached: &keyproof_solver::transitive::Reached) -> Finding {
        self.principal = Some(principal.to_string());
        self.fingerprint = format!("{}:{principal}:path", self.fingerprint);
        for (i, h) in reached.path.iter().enumerate() {
            let mut line = format!("hop {}: {} {} → {}", i + 1, h.edge.as_str(), h.from, h.to);
            if !h.via.is_empty() {
                line.push_str(&format!(", allowed by {}", texts(&h.via).join("; ")));
            }
            for c in h.conditions.iter().map(|c| c.text.as_str()).chain(h.assumptions.iter().map(String::as_str)) {
                line.push_str(&format!("; {c}"));
            }
            self.notes.push(line);
        }
        let mut last = format!("then {} makes the request", reached.final_principal);
        if !reached.allowed.via.is_empty() {
            last.push_str(&format!(", allowed by {}", texts(&reached.allowed.via).join("; ")));
        }
        self.notes.push(last);
        self
    }

    /// Puts a place first (a statement or a grant the finding is about).
    pub fn at(mut self, snapshot: &Snapshot, span: Span, what: impl Into<String>) -> Finding {
        let place = Location::of(snapshot, span, what);
        self.locations.retain(|l| !l.same_place(&place));
        self.locations.insert(0, place);
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Finding {
        self.notes.push(note.into());
        self
    }

    /// Adds a detail to the fingerprint (a statement id, a grant id, an action set).
    pub fn fingerprint_detail(mut self, detail: &str) -> Finding {
        self.fingerprint = format!("{}:{detail}", self.fingerprint);
        self
    }
}

fn texts(via: &[Cited]) -> Vec<String> {
    via.iter().map(|c| c.text.clone()).collect()
}
