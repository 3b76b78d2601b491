//! IAM policy documents — key policies, identity policies, permissions boundaries, role trust
//! policies, SCPs and RCPs — with a span on every element.
//!
//! Grammar: IAM User Guide, "IAM JSON policy element reference" and "Grammar of the IAM JSON
//! policy language". What each kind of policy may contain: SCPs take no `Principal`
//! (Organizations guide, orgs_manage_policies_scps_syntax); RCPs need `Principal: "*"`
//! (orgs_manage_policies_rcps_syntax); resource policies (key policies, trust policies) need a
//! principal; identity policies and boundaries must not have one.

use crate::json::{Json, JsonKind, Reader};
use crate::source::{Span, Spanned};

/// Which kind of policy a document is; it decides which elements are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    KeyPolicy,
    Identity,
    PermissionsBoundary,
    Trust,
    Scp,
    Rcp,
}

impl PolicyKind {
    pub fn describe(self) -> &'static str {
        match self {
            PolicyKind::KeyPolicy => "key policy",
            PolicyKind::Identity => "identity policy",
            PolicyKind::PermissionsBoundary => "permissions boundary",
            PolicyKind::Trust => "trust policy",
            PolicyKind::Scp => "service control policy",
            PolicyKind::Rcp => "resource control policy",
        }
    }

    fn principal_rule(self) -> PrincipalRule {
        match self {
            PolicyKind::KeyPolicy | PolicyKind::Trust => PrincipalRule::Required,
            PolicyKind::Rcp => PrincipalRule::StarOnly,
            PolicyKind::Identity | PolicyKind::PermissionsBoundary | PolicyKind::Scp => PrincipalRule::Forbidden,
        }
    }
}

enum PrincipalRule {
    Required,
    StarOnly,
    Forbidden,
}

/// The policy language version. Policy variables work only with `2012-10-17`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub kind: PolicyKind,
    /// `None` when the document has no `Version` (AWS then uses 2008-10-17).
    pub version: Option<Spanned<Version>>,
    pub id: Option<Spanned<String>>,
    pub statements: Vec<Statement>,
    pub span: Span,
}

impl Policy {
    /// Whether `${...}` policy variables are substituted (IAM reference_policies_variables:
    /// only with `"Version": "2012-10-17"`).
    pub fn variables_enabled(&self) -> bool {
        matches!(self.version.as_ref().map(|v| v.value), Some(Version::V2012_10_17))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Position in the document, from 0.
    pub index: usize,
    pub sid: Option<Spanned<String>>,
    pub effect: Spanned<Effect>,
    pub principal: Option<PrincipalElement>,
    /// `Action` or `NotAction`; `None` when neither is present (then the statement has no effect).
    pub action: Option<ValuesElement>,
    /// `Resource` or `NotResource`; `None` when neither is present.
    pub resource: Option<ValuesElement>,
    pub conditions: Vec<Condition>,
    pub span: Span,
}

impl Statement {
    /// `Sid` if present, else `#<index>`: how the statement is named in traces.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(s) if !s.value.is_empty() => s.value.clone(),
            _ => format!("#{}", self.index),
        }
    }
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalElement {
    pub negated: bool,
    pub entries: Vec<PrincipalEntry>,
    pub span: Span,
}

/// One principal named in a `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalEntry {
    pub kind: PrincipalKind,
    /// The value as written: `"*"`, an account id, an ARN, a unique id, a service name.
    pub value: Spanned<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// `"Principal": "*"`: everyone, anonymous included.
    Everyone,
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: a list of patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValuesElement {
    pub negated: bool,
    pub values: Vec<Spanned<String>>,
    pub span: Span,
}

/// One key under one operator in a `Condition` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: Spanned<Operator>,
    pub key: Spanned<String>,
    pub values: Vec<Spanned<String>>,
    pub span: Span,
}

/// A condition operator with its qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operator {
    pub base: BaseOperator,
    pub set: Option<SetOperator>,
    pub if_exists: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetOperator {
    ForAllValues,
    ForAnyValue,
}

/// The condition operators of IAM reference_policies_elements_condition_operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// The family an operator belongs to: how values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatorFamily {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

impl BaseOperator {
    pub const ALL: [BaseOperator; 27] = [
        BaseOperator::StringEquals,
        BaseOperator::StringNotEquals,
        BaseOperator::StringEqualsIgnoreCase,
        BaseOperator::StringNotEqualsIgnoreCase,
        BaseOperator::StringLike,
        BaseOperator::StringNotLike,
        BaseOperator::NumericEquals,
        BaseOperator::NumericNotEquals,
        BaseOperator::NumericLessThan,
        BaseOperator::NumericLessThanEquals,
        BaseOperator::NumericGreaterThan,
        BaseOperator::NumericGreaterThanEquals,
        BaseOperator::DateEquals,
        BaseOperator::DateNotEquals,
        BaseOperator::DateLessThan,
        BaseOperator::DateLessThanEquals,
        BaseOperator::DateGreaterThan,
        BaseOperator::DateGreaterThanEquals,
        BaseOperator::Bool,
        BaseOperator::BinaryEquals,
        BaseOperator::IpAddress,
        BaseOperator::NotIpAddress,
        BaseOperator::ArnEquals,
        BaseOperator::ArnLike,
        BaseOperator::ArnNotEquals,
        BaseOperator::ArnNotLike,
        BaseOperator::Null,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BaseOperator::StringEquals => "StringEquals",
            BaseOperator::StringNotEquals => "StringNotEquals",
            BaseOperator::StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            BaseOperator::StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            BaseOperator::StringLike => "StringLike",
            BaseOperator::StringNotLike => "StringNotLike",
            BaseOperator::NumericEquals => "NumericEquals",
            BaseOperator::NumericNotEquals => "NumericNotEquals",
            BaseOperator::NumericLessThan => "NumericLessThan",
            BaseOperator::NumericLessThanEquals => "NumericLessThanEquals",
            BaseOperator::NumericGreaterThan => "NumericGreaterThan",
            BaseOperator::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            BaseOperator::DateEquals => "DateEquals",
            BaseOperator::DateNotEquals => "DateNotEquals",
            BaseOperator::DateLessThan => "DateLessThan",
            BaseOperator::DateLessThanEquals => "DateLessThanEquals",
            BaseOperator::DateGreaterThan => "DateGreaterThan",
            BaseOperator::DateGreaterThanEquals => "DateGreaterThanEquals",
            BaseOperator::Bool => "Bool",
            BaseOperator::BinaryEquals => "BinaryEquals",
            BaseOperator::IpAddress => "IpAddress",
            BaseOperator::NotIpAddress => "NotIpAddress",
            BaseOperator::ArnEquals => "ArnEquals",
            BaseOperator::ArnLike => "ArnLike",
            BaseOperator::ArnNotEquals => "ArnNotEquals",
            BaseOperator::ArnNotLike => "ArnNotLike",
            BaseOperator::Null => "Null",
        }
    }

    pub fn family(self) -> OperatorFamily {
        use BaseOperator::*;
        match self {
            StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike => OperatorFamily::String,
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => OperatorFamily::Numeric,
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => OperatorFamily::Date,
            Bool => OperatorFamily::Bool,
            BinaryEquals => OperatorFamily::Binary,
            IpAddress | NotIpAddress => OperatorFamily::Ip,
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => OperatorFamily::Arn,
            Null => OperatorFamily::Null,
        }
    }

    /// Negated operators: with several policy values, none may match; with the key absent, they
    /// are true (IAM reference_policies_elements_condition_operators).
    pub fn is_negated(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// The positive operator a negated one negates.
    pub fn positive(self) -> BaseOperator {
        use BaseOperator::*;
        match self {
            StringNotEquals => StringEquals,
            StringNotEqualsIgnoreCase => StringEqualsIgnoreCase,
            StringNotLike => StringLike,
            NumericNotEquals => NumericEquals,
            DateNotEquals => DateEquals,
            NotIpAddress => IpAddress,
            ArnNotEquals => ArnEquals,
            ArnNotLike => ArnLike,
            other => other,
        }
    }

    fn from_name(name: &str) -> Option<BaseOperator> {
        BaseOperator::ALL.iter().copied().find(|op| op.name() == name)
    }
}

impl Operator {
    /// Parses `[ForAllValues:|ForAnyValue:]Base[IfExists]`.
    pub fn parse(text: &str) -> Result<Operator, String> {
        let (set, rest) = if let Some(r) = text.strip_prefix("ForAllValues:") {
            (Some(SetOperator::ForAllValues), r)
        } else if let Some(r) = text.strip_prefix("ForAnyValue:") {
            (Some(SetOperator::ForAnyValue), r)
        } else {
            (None, text)
        };
        let (base_text, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let base = BaseOperator::from_name(base_text).ok_or_else(|| format!("unknown condition operator `{text}`"))?;
        if base == BaseOperator::Null && if_exists {
            return Err("`NullIfExists` is not an operator: `Null` already tests whether the key exists".into());
        }
        Ok(Operator { base, set, if_exists })
    }

    pub fn name(&self) -> String {
        let set = match self.set {
            Some(SetOperator::ForAllValues) => "ForAllValues:",
            Some(SetOperator::ForAnyValue) => "ForAnyValue:",
            None => "",
        };
        format!("{set}{}{}", self.base.name(), if self.if_exists { "IfExists" } else { "" })
    }
}

const STATEMENT_ELEMENTS: [&str; 10] =
    ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition", "Id"];

/// Parses a policy document that has already been read as spanned JSON. Every problem found is
/// recorded in the reader, and the statements that could be read are returned all the same, so
/// that one pass reports every error.
pub fn parse_policy(r: &mut Reader<'_>, doc: &Json, kind: PolicyKind) -> Option<Policy> {
    let members = match doc.members() {
        Some(m) => m,
        None => {
            r.error(
                doc.span,
                format!("a {} must be a JSON object, found {}", kind.describe(), doc.type_name()),
                "expected an object",
            );
            return None;
        }
    };
    let mut version = None;
    let mut id = None;
    let mut statements = Vec::new();
    let mut saw_statement = false;
    for (name, value) in members {
        match name.value.as_str() {
            "Version" => match value.as_str() {
                Some("2012-10-17") => version = Some(Spanned::new(Version::V2012_10_17, value.span)),
                Some("2008-10-17") => version = Some(Spanned::new(Version::V2008_10_17, value.span)),
                _ => r.error(
                    value.span,
                    format!("invalid policy `Version` `{}`", value.scalar_text().unwrap_or_default()),
                    "expected \"2012-10-17\" or \"2008-10-17\"",
                ),
            },
            "Id" => id = r.string(value, "`Id`"),
            "Statement" => {
                saw_statement = true;
                let items: Vec<&Json> = match &value.kind {
                    JsonKind::Array(a) => a.iter().collect(),
                    JsonKind::Object(_) => vec![value],
                    _ => {
                        r.error(
                            value.span,
                            format!("`Statement` must be an object or an array, found {}", value.type_name()),
                            "expected statements",
                        );
                        Vec::new()
                    }
                };
                for item in items {
                    let index = statements.len();
                    if let Some(s) = parse_statement(r, item, kind, index) {
                        statements.push(s);
                    }
                }
            }
            other => r.error(name.span, format!("unknown policy element `{other}`"), "not a policy element"),
        }
    }
    if !saw_statement {
        r.error(doc.span, format!("the {} has no `Statement`", kind.describe()), "no statements");
    }
    Some(Policy { kind, version, id, statements, span: doc.span })
}

fn parse_statement(r: &mut Reader<'_>, v: &Json, kind: PolicyKind, index: usize) -> Option<Statement> {
    let members = match v.members() {
        Some(m) => m,
        None => {
            r.error(v.span, format!("a statement must be an object, found {}", v.type_name()), "expected an object");
            return None;
        }
    };
    let mut sid = None;
    let mut effect = None;
    let mut principal: Option<PrincipalElement> = None;
    let mut action: Option<ValuesElement> = None;
    let mut resource: Option<ValuesElement> = None;
    let mut conditions = Vec::new();
    for (name, value) in members {
        match name.value.as_str() {
            "Sid" => sid = r.string(value, "`Sid`"),
            "Effect" => match value.as_str() {
                Some("Allow") => effect = Some(Spanned::new(Effect::Allow, value.span)),
                Some("Deny") => effect = Some(Spanned::new(Effect::Deny, value.span)),
                _ => r.error(
                    value.span,
                    format!(
                        "invalid `Effect` `{}`",
                        value.scalar_text().unwrap_or_else(|| value.type_name().to_string())
                    ),
                    "expected \"Allow\" or \"Deny\"",
                ),
            },
            "Principal" | "NotPrincipal" => {
                let negated = name.value == "NotPrincipal";
                if principal.is_some() {
                    r.error(
                        name.span,
                        "a statement cannot have both `Principal` and `NotPrincipal`",
                        "second principal element",
                    );
                } else {
                    principal = parse_principal(r, value, negated);
                }
            }
            "Action" | "NotAction" => {
                if action.is_some() {
                    r.error(
                        name.span,
                        "a statement cannot have both `Action` and `NotAction`",
                        "second action element",
                    );
                } else {
                    action = parse_values(r, value, name.value == "NotAction", &name.value);
                    if let Some(a) = &action {
                        for p in &a.values {
                            check_action_pattern(r, p);
                        }
                    }
                }
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    r.error(
                        name.span,
                        "a statement cannot have both `Resource` and `NotResource`",
                        "second resource element",
                    );
                } else {
                    resource = parse_values(r, value, name.value == "NotResource", &name.value);
                }
            }
            "Condition" => conditions = parse_conditions(r, value),
            other => {
                let label =
                    if STATEMENT_ELEMENTS.contains(&other) { "not allowed here" } else { "not a statement element" };
                r.error(name.span, format!("unknown statement element `{other}`"), label);
            }
        }
    }
    if effect.is_none() && !members.iter().any(|(n, _)| n.value == "Effect") {
        r.error(v.span, "the statement has no `Effect`", "missing `Effect`");
    }
    // IAM policy grammar (reference_policies_grammar): identity policies and boundaries need an
    // action and a resource block, and IAM rejects them otherwise. A key policy statement
    // without them is accepted by AWS but has no effect (KDG key-policy-overview), and so for the
    // other resource policies: it is kept, has no effect, and is reported as a note so that a
    // misspelt element never vanishes in silence.
    let has = |names: [&str; 2]| members.iter().any(|(n, _)| names.contains(&n.value.as_str()));
    let strict = matches!(kind, PolicyKind::Identity | PolicyKind::PermissionsBoundary);
    for (names, what) in [(["Action", "NotAction"], "Action"), (["Resource", "NotResource"], "Resource")] {
        // A trust policy's resource is the role itself: it has no `Resource` element.
        if has(names) || (what == "Resource" && kind == PolicyKind::Trust) {
            continue;
        }
        if strict {
            r.error(
                v.span,
                format!("a statement of an {} has no `{what}` or `Not{what}`", kind.describe()),
                format!("missing `{what}`"),
            );
        } else {
            r.note(
                v.span,
                format!(
                    "a statement of a {} has no `{what}` or `Not{what}`: AWS accepts it, but it has no effect",
                    kind.describe()
                ),
            );
        }
    }
    match (kind.principal_rule(), &principal) {
        (PrincipalRule::Required, None) => r.error(
            v.span,
            format!("a statement of a {} must name a `Principal`", kind.describe()),
            "no `Principal` or `NotPrincipal`",
        ),
        (PrincipalRule::Forbidden, Some(p)) => r.error(
            p.span,
            format!("a {} cannot have a `Principal`", kind.describe()),
            "principals belong in resource policies",
        ),
        (PrincipalRule::StarOnly, Some(p))
            if p.negated || !p.entries.iter().all(|e| e.kind == PrincipalKind::Everyone) =>
        {
            r.error(
                p.span,
                "a resource control policy supports only `\"Principal\": \"*\"`",
                "use \"*\" and narrow with conditions",
            );
        }
        (PrincipalRule::StarOnly, None) => r.error(
            v.span,
            "a statement of a resource control policy must have `\"Principal\": \"*\"`",
            "no `Principal`",
        ),
        _ => {}
    }
    let effect = effect?;
    Some(Statement { index, sid, effect, principal, action, resource, conditions, span: v.span })
}

fn parse_values(r: &mut Reader<'_>, v: &Json, negated: bool, element: &str) -> Option<ValuesElement> {
    let values: Vec<Spanned<String>> = match &v.kind {
        JsonKind::String(s) => vec![Spanned::new(s.clone(), v.span)],
        JsonKind::Array(items) => {
            if items.is_empty() {
                r.error(v.span, format!("`{element}` is an empty list"), "AWS rejects an empty list");
            }
            items.iter().filter_map(|i| r.string(i, &format!("an element of `{element}`"))).collect()
        }
        _ => {
            r.error(
                v.span,
                format!("`{element}` must be a string or a list of strings, found {}", v.type_name()),
                "expected strings",
            );
            return None;
        }
    };
    Some(ValuesElement { negated, values, span: v.span })
}

fn check_action_pattern(r: &mut Reader<'_>, p: &Spanned<String>) {
    if p.value == "*" {
        return;
    }
    let ok = match p.value.split_once(':') {
        Some((service, name)) => {
            !service.is_empty()
                && !name.is_empty()
                && service.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?' || c == '-')
        }
        None => false,
    };
    if !ok {
        r.error(p.span, format!("`{}` is not an action", p.value), "expected `service:Action` or `*`");
    }
}

fn parse_principal(r: &mut Reader<'_>, v: &Json, negated: bool) -> Option<PrincipalElement> {
    let element = if negated { "NotPrincipal" } else { "Principal" };
    let mut entries = Vec::new();
    match &v.kind {
        JsonKind::String(s) if s == "*" => {
            entries.push(PrincipalEntry { kind: PrincipalKind::Everyone, value: Spanned::new(s.clone(), v.span) })
        }
        JsonKind::String(_) => {
            r.error(
                v.span,
                format!("`{element}` must be \"*\" or an object such as {{\"AWS\": …}}"),
                "not a principal",
            );
            return None;
        }
        JsonKind::Object(members) => {
            for (name, value) in members {
                let kind = match name.value.as_str() {
                    "AWS" => PrincipalKind::Aws,
                    "Service" => PrincipalKind::Service,
                    "Federated" => PrincipalKind::Federated,
                    "CanonicalUser" => PrincipalKind::CanonicalUser,
                    other => {
                        r.error(
                            name.span,
                            format!("unknown principal type `{other}`"),
                            "expected AWS, Service, Federated or CanonicalUser",
                        );
                        continue;
                    }
                };
                let values: Vec<Spanned<String>> = match &value.kind {
                    JsonKind::String(s) => vec![Spanned::new(s.clone(), value.span)],
                    JsonKind::Array(items) => {
                        if items.is_empty() {
                            r.error(
                                value.span,
                                format!("`{}` is an empty list", name.value),
                                "AWS rejects an empty list",
                            );
                        }
                        items.iter().filter_map(|i| r.string(i, "a principal")).collect()
                    }
                    _ => {
                        r.error(
                            value.span,
                            format!("principals must be strings, found {}", value.type_name()),
                            "expected strings",
                        );
                        Vec::new()
                    }
                };
                for val in values {
                    // IAM reference_policies_elements_principal: no partial wildcards; "*" alone
                    // under "AWS" means every AWS principal.
                    if val.value != "*" && (val.value.contains('*') || val.value.contains('?')) {
                        r.error(
                            val.span,
                            format!("wildcards are not allowed in a principal (`{}`)", val.value),
                            "use \"*\" with a condition such as aws:PrincipalArn instead",
                        );
                        continue;
                    }
                    entries.push(PrincipalEntry { kind, value: val });
                }
            }
            if members.is_empty() {
                r.error(v.span, format!("`{element}` names no principal"), "empty");
            }
        }
        _ => {
            r.error(
                v.span,
                format!("`{element}` must be \"*\" or an object, found {}", v.type_name()),
                "not a principal",
            );
            return None;
        }
    }
    Some(PrincipalElement { negated, entries, span: v.span })
}

fn parse_conditions(r: &mut Reader<'_>, v: &Json) -> Vec<Condition> {
    let mut out = Vec::new();
    let Some(ops) = v.members() else {
        r.error(v.span, format!("`Condition` must be an object, found {}", v.type_name()), "expected an object");
        return out;
    };
    for (op_name, block) in ops {
        let operator = match Operator::parse(&op_name.value) {
            Ok(op) => Spanned::new(op, op_name.span),
            Err(msg) => {
                r.error(op_name.span, msg, "not a condition operator");
                continue;
            }
        };
        let Some(keys) = block.members() else {
            r.error(
                block.span,
                format!(
                    "the `{}` block must be an object of condition keys, found {}",
                    op_name.value,
                    block.type_name()
                ),
                "expected an object",
            );
            continue;
        };
        for (key, values) in keys {
            let vals: Vec<Spanned<String>> = match &values.kind {
                JsonKind::Array(items) => {
                    if items.is_empty() {
                        r.error(
                            values.span,
                            format!("`{}` has an empty list of values", key.value),
                            "AWS rejects an empty list",
                        );
                    }
                    items
                        .iter()
                        .filter_map(|i| match i.scalar_text() {
                            Some(t) => Some(Spanned::new(t, i.span)),
                            None => {
                                r.error(
                                    i.span,
                                    format!(
                                        "a condition value must be a string, number or boolean, found {}",
                                        i.type_name()
                                    ),
                                    "expected a value",
                                );
                                None
                            }
                        })
                        .collect()
                }
                _ => match values.scalar_text() {
                    Some(t) => vec![Spanned::new(t, values.span)],
                    None => {
                        r.error(
                            values.span,
                            format!(
                                "a condition value must be a string, number, boolean or a list of them, found {}",
                                values.type_name()
                            ),
                            "expected values",
                        );
                        continue;
                    }
                },
            };
            if operator.base == BaseOperator::Null {
                for val in &vals {
                    if val.value != "true" && val.value != "false" {
                        r.error(
                            val.span,
                            format!("`Null` takes true or false, not `{}`", val.value),
                            "expected true or false",
                        );
                    }
                }
            }
            if operator.base == BaseOperator::Bool {
                for val in &vals {
                    if !val.value.eq_ignore_ascii_case("true") && !val.value.eq_ignore_ascii_case("false") {
                        r.error(
                            val.span,
                            format!("`Bool` takes true or false, not `{}`", val.value),
                            "expected true or false",
                        );
                    }
                }
            }
            let span = Span::new(key.span.source, key.span.start, values.span.end);
            out.push(Condition { operator: operator.clone(), key: key.clone(), values: vals, span });
        }
    }
    out
}

/// Reads a policy document from JSON that may be embedded (a JSON string or a URL-encoded
/// string) and parses it.
pub fn parse_policy_value(r: &mut Reader<'_>, value: &Json, kind: PolicyKind, what: &str) -> Option<Policy> {
    let doc = r.embedded(value, what)?;
    parse_policy(r, &doc, kind)
}
