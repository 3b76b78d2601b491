//! Resolution of a template's values for one stack: parameters, pseudo parameters, mappings,
//! conditions, and the intrinsic functions (CloudFormation Template Reference, "Intrinsic function
//! reference" and "Pseudo parameters reference").
//!
//! A value is resolved to what it will be in the deployed stack, or fails in one of two ways:
//! [`Fail::Unknown`] when it is known only at deployment (`Fn::ImportValue`, an attribute AWS
//! generates, a parameter read from SSM), with the place that makes it unknown; or
//! [`Fail::Error`] when the template is wrong (an error recorded in the reader at its place).
//! Nothing is guessed: what depends on an unknown value is reported unknown by the caller.

use crate::json::{Json, JsonKind, Reader};
use crate::source::{Span, Spanned};
use std::collections::HashMap;

/// Why a value could not be resolved.
#[derive(Debug, Clone)]
pub enum Fail {
    /// Known only at deployment.
    Unknown { reason: String, span: Span },
    /// The template is wrong; the error is already recorded.
    Error,
}

pub type R<T> = Result<T, Fail>;

fn unknown<T>(span: Span, reason: impl Into<String>) -> R<T> {
    Err(Fail::Unknown { reason: reason.into(), span })
}

/// The pseudo parameters of one stack (CloudFormation "Pseudo parameters reference").
#[derive(Debug, Clone)]
pub struct Pseudo {
    pub account: String,
    pub region: String,
    /// `None` for a StackSet instance, whose stack name AWS makes up (`StackSet-NAME-UUID`).
    pub stack_name: Option<String>,
    /// The StackSet's name, for an instance of one.
    pub stackset: Option<String>,
}

impl Pseudo {
    /// `aws`, `aws-cn` or `aws-us-gov`, from the region.
    pub fn partition(&self) -> &'static str {
        if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }

    pub fn url_suffix(&self) -> &'static str {
        if self.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        }
    }
}

/// What a resource of the template will be once deployed: what `Ref` returns and the attributes
/// `Fn::GetAtt` can read, each determined or unknown.
#[derive(Debug, Clone)]
pub struct Identity {
    pub reference: R<String>,
    pub attributes: Vec<(&'static str, R<String>)>,
}

/// Computes a resource's identity; given by the caller (the resource types know their return
/// values).
pub type IdentityFn<'t> = fn(&mut Resolver<'t, '_, '_>, &str, &'t Json) -> R<Identity>;

/// One stack's resolver.
pub struct Resolver<'t, 'r, 'a> {
    pub r: &'r mut Reader<'a>,
    pub pseudo: Pseudo,
    params: HashMap<String, R<Json>>,
    mappings: Option<&'t Json>,
    condition_defs: HashMap<String, &'t Json>,
    conditions: HashMap<String, R<bool>>,
    resources: HashMap<String, &'t Json>,
    identities: HashMap<String, R<Identity>>,
    /// Conditions and resources being resolved, to report a cycle instead of looping.
    visiting: Vec<String>,
    identity: IdentityFn<'t>,
}

/// The template's member that holds a section, if any.
fn section<'t>(template: &'t Json, name: &str) -> Option<&'t Json> {
    template.get(name)
}

impl<'t, 'r, 'a> Resolver<'t, 'r, 'a> {
    pub fn new(
        r: &'r mut Reader<'a>,
        template: &'t Json,
        pseudo: Pseudo,
        params: HashMap<String, R<Json>>,
        identity: IdentityFn<'t>,
    ) -> Self {
        let members = |name: &str| -> HashMap<String, &'t Json> {
            section(template, name)
                .and_then(Json::members)
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| (k.value.clone(), v))
                .collect()
        };
        Resolver {
            pseudo,
            params,
            mappings: section(template, "Mappings"),
            condition_defs: members("Conditions"),
            conditions: HashMap::new(),
            resources: members("Resources"),
            identities: HashMap::new(),
            visiting: Vec::new(),
            identity,
            r,
        }
    }

    fn error<T>(&mut self, span: Span, message: impl Into<String>, label: impl Into<String>) -> R<T> {
        self.r.error(span, message, label);
        Err(Fail::Error)
    }

    // -- values ---------------------------------------------------------------------------------

    /// A value with every intrinsic function resolved; `None` for `AWS::NoValue` (the property
    /// is removed).
    pub fn value(&mut self, v: &Json) -> R<Option<Json>> {
        match &v.kind {
            JsonKind::Object(members) => {
                if let [(k, arg)] = members.as_slice() {
                    if k.value == "Ref" || k.value.starts_with("Fn::") {
                        return self.function(&k.value, arg, v.span);
                    }
                }
                let mut out = Vec::with_capacity(members.len());
                for (k, m) in members {
                    if let Some(x) = self.value(m)? {
                        out.push((k.clone(), x));
                    }
                }
                Ok(Some(Json { kind: JsonKind::Object(out), span: v.span }))
            }
            JsonKind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    if let Some(x) = self.value(i)? {
                        out.push(x);
                    }
                }
                Ok(Some(Json { kind: JsonKind::Array(out), span: v.span }))
            }
            _ => Ok(Some(v.clone())),
        }
    }

    /// A value that must be present (`AWS::NoValue` is an error here).
    pub fn required(&mut self, v: &Json, what: &str) -> R<Json> {
        match self.value(v)? {
            Some(x) => Ok(x),
            None => self.error(v.span, format!("{what} resolves to AWS::NoValue"), "no value"),
        }
    }

    /// A value that must be a string (numbers and booleans give their text, as CloudFormation
    /// passes them on).
    pub fn string(&mut self, v: &Json, what: &str) -> R<Spanned<String>> {
        let x = self.required(v, what)?;
        match x.scalar_text() {
            Some(s) if !matches!(x.kind, JsonKind::Null) => Ok(Spanned::new(s, v.span)),
            _ => self.error(v.span, format!("{what} must be a string, found {}", x.type_name()), "expected a string"),
        }
    }

    /// A list of strings (an array, or a value that resolves to one).
    pub fn strings(&mut self, v: &Json, what: &str) -> R<Vec<Spanned<String>>> {
        let x = self.required(v, what)?;
        self.as_strings(&x, what)
    }

    fn as_strings(&mut self, x: &Json, what: &str) -> R<Vec<Spanned<String>>> {
        match x.elements() {
            Some(items) => {
                let mut out = Vec::new();
                for i in items {
                    match i.scalar_text() {
                        Some(s) => out.push(Spanned::new(s, i.span)),
                        None => {
                            return self.error(
                                i.span,
                                format!("an element of {what} must be a string, found {}", i.type_name()),
                                "expected a string",
                            )
                        }
                    }
                }
                Ok(out)
            }
            None => self.error(x.span, format!("{what} must be a list, found {}", x.type_name()), "expected a list"),
        }
    }

    fn str_json(s: String, span: Span) -> Json {
        Json { kind: JsonKind::String(s), span }
    }

    fn function(&mut self, name: &str, arg: &Json, span: Span) -> R<Option<Json>> {
        match name {
            "Ref" => {
                let Some(target) = arg.as_str() else {
                    return self.error(arg.span, "`Ref` takes the name of a parameter or resource", "expected a name");
                };
                self.reference(target, arg.span, span)
            }
            "Fn::GetAtt" => {
                let (res, attr) = match (&arg.kind, arg.elements()) {
                    (JsonKind::String(s), _) => match s.split_once('.') {
                        Some((a, b)) => (a.to_string(), Spanned::new(b.to_string(), arg.span)),
                        None => {
                            return self.error(arg.span, "`Fn::GetAtt` takes `Resource.Attribute`", "expected a dot")
                        }
                    },
                    (_, Some([a, b])) => match a.as_str() {
                        Some(a) => {
                            let b = self.string(b, "the attribute of `Fn::GetAtt`")?;
                            (a.to_string(), b)
                        }
                        None => return self.error(a.span, "`Fn::GetAtt` takes a resource name", "expected a name"),
                    },
                    _ => {
                        return self.error(
                            arg.span,
                            "`Fn::GetAtt` takes [resource, attribute] or `Resource.Attribute`",
                            "malformed Fn::GetAtt",
                        )
                    }
                };
                self.get_att(&res, &attr.value, arg.span, span).map(|s| Some(Self::str_json(s, span)))
            }
            "Fn::Sub" => self.sub(arg, span).map(|s| Some(Self::str_json(s, span))),
            "Fn::Join" => {
                let Some([delim, list]) = arg.elements() else {
                    return self.error(arg.span, "`Fn::Join` takes [delimiter, list]", "malformed Fn::Join");
                };
                let delim = self.string(delim, "the delimiter of `Fn::Join`")?;
                let items = self.strings(list, "the list of `Fn::Join`")?;
                let parts: Vec<String> = items.into_iter().map(|i| i.value).collect();
                Ok(Some(Self::str_json(parts.join(&delim.value), span)))
            }
            "Fn::Select" => {
                let Some([index, list]) = arg.elements() else {
                    return self.error(arg.span, "`Fn::Select` takes [index, list]", "malformed Fn::Select");
                };
                let i = self.string(index, "the index of `Fn::Select`")?;
                let Ok(n) = i.value.trim().parse::<usize>() else {
                    return self.error(
                        index.span,
                        format!("the index `{}` is not a number", i.value),
                        "expected a number",
                    );
                };
                let list = self.required(list, "the list of `Fn::Select`")?;
                match list.elements() {
                    Some(items) => match items.get(n) {
                        Some(x) => Ok(Some(x.clone())),
                        None => self.error(
                            index.span,
                            format!("index {n} is past the end of a list of {}", items.len()),
                            "out of range",
                        ),
                    },
                    None => self.error(list.span, "the list of `Fn::Select` is not a list", "expected a list"),
                }
            }
            "Fn::Split" => {
                let Some([delim, source]) = arg.elements() else {
                    return self.error(arg.span, "`Fn::Split` takes [delimiter, string]", "malformed Fn::Split");
                };
                let delim = self.string(delim, "the delimiter of `Fn::Split`")?;
                let text = self.string(source, "the string of `Fn::Split`")?;
                if delim.value.is_empty() {
                    return self.error(delim.span, "the delimiter of `Fn::Split` is empty", "empty delimiter");
                }
                let parts =
                    text.value.split(delim.value.as_str()).map(|p| Self::str_json(p.to_string(), span)).collect();
                Ok(Some(Json { kind: JsonKind::Array(parts), span }))
            }
            "Fn::FindInMap" => self.find_in_map(arg, span).map(Some),
            "Fn::If" => {
                let Some([cond, yes, no]) = arg.elements() else {
                    return self.error(
                        arg.span,
                        "`Fn::If` takes [condition, value if true, value if false]",
                        "malformed Fn::If",
                    );
                };
                let Some(c) = cond.as_str() else {
                    return self.error(cond.span, "`Fn::If` takes the name of a condition", "expected a name");
                };
                if self.condition(c, cond.span)? {
                    self.value(yes)
                } else {
                    self.value(no)
                }
            }
            "Fn::Base64" => {
                let s = self.string(arg, "the argument of `Fn::Base64`")?;
                Ok(Some(Self::str_json(base64(s.value.as_bytes()), span)))
            }
            "Fn::Length" => {
                let list = self.required(arg, "the argument of `Fn::Length`")?;
                match list.elements() {
                    Some(items) => Ok(Some(Json { kind: JsonKind::Number(items.len().to_string()), span })),
                    None => self.error(arg.span, "`Fn::Length` takes a list", "expected a list"),
                }
            }
            "Fn::ImportValue" => {
                unknown(span, "`Fn::ImportValue` reads another stack's export, which is known only at deployment")
            }
            "Fn::GetAZs" => unknown(span, "`Fn::GetAZs` depends on the account's Availability Zones"),
            "Fn::Cidr" => unknown(span, "`Fn::Cidr` is not modelled by keyproof"),
            "Fn::Transform" => unknown(span, "`Fn::Transform` runs a macro, whose output is known only at deployment"),
            "Fn::ToJsonString" => unknown(span, "`Fn::ToJsonString` needs the AWS::LanguageExtensions transform"),
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" => self.error(
                span,
                format!("`{name}` may only appear in Conditions or a condition of `Fn::If`"),
                "condition function",
            ),
            other => self.error(span, format!("unknown intrinsic function `{other}`"), "unknown function"),
        }
    }

    /// `Ref`: a parameter, a pseudo parameter or a resource.
    fn reference(&mut self, target: &str, at: Span, span: Span) -> R<Option<Json>> {
        if let Some(v) = self.params.get(target) {
            return v.clone().map(|mut j| {
                j.span = span;
                Some(j)
            });
        }
        let s = |v: String| Ok(Some(Self::str_json(v, span)));
        match target {
            "AWS::AccountId" => return s(self.pseudo.account.clone()),
            "AWS::Region" => return s(self.pseudo.region.clone()),
            "AWS::Partition" => return s(self.pseudo.partition().to_string()),
            "AWS::URLSuffix" => return s(self.pseudo.url_suffix().to_string()),
            "AWS::NoValue" => return Ok(None),
            "AWS::StackName" => {
                return match self.pseudo.stack_name.clone() {
                    Some(n) => s(n),
                    None => unknown(
                        span,
                        "a StackSet instance's stack name (StackSet-NAME-UUID) is made up by AWS at deployment",
                    ),
                }
            }
            "AWS::StackId" => return unknown(span, "`AWS::StackId` holds a UUID made at deployment"),
            "AWS::NotificationARNs" => return unknown(span, "`AWS::NotificationARNs` is given at deployment"),
            _ => {}
        }
        if self.resources.contains_key(target) {
            let id = self.identity_of(target, at)?;
            return id.reference.map(|v| Some(Self::str_json(v, span)));
        }
        self.error(
            at,
            format!("`Ref` to `{target}`, which is neither a parameter nor a resource of the template"),
            "unknown name",
        )
    }

    fn get_att(&mut self, res: &str, attr: &str, at: Span, span: Span) -> R<String> {
        if !self.resources.contains_key(res) {
            return self.error(
                at,
                format!("`Fn::GetAtt` of `{res}`, which is not a resource of the template"),
                "unknown resource",
            );
        }
        let id = self.identity_of(res, at)?;
        match id.attributes.iter().find(|(a, _)| *a == attr) {
            Some((_, v)) => v.clone().map_err(|f| match f {
                Fail::Unknown { reason, .. } => Fail::Unknown { reason, span },
                Fail::Error => Fail::Error,
            }),
            None => unknown(
                span,
                format!("`{res}.{attr}` is not an attribute keyproof determines; it is known only at deployment"),
            ),
        }
    }

    /// A resource's identity, computed once; a resource that refers to itself through others is
    /// an error.
    fn identity_of(&mut self, name: &str, at: Span) -> R<Identity> {
        if let Some(id) = self.identities.get(name) {
            return id.clone();
        }
        if self.visiting.iter().any(|v| v == name) {
            let chain = self.visiting.join(" → ");
            return self.error(at, format!("circular reference: {chain} → {name}"), "refers back to itself");
        }
        let Some(&body) = self.resources.get(name) else {
            return self.error(at, format!("`{name}` is not a resource of the template"), "unknown resource");
        };
        if let Some(cond) = body.get("Condition").and_then(Json::as_str) {
            let cspan = body.get("Condition").map_or(at, |c| c.span);
            if !self.condition(cond, cspan)? {
                return self.error(
                    at,
                    format!("`{name}` is referred to, but it is not created (its condition `{cond}` is false)"),
                    "not created",
                );
            }
        }
        self.visiting.push(name.to_string());
        let f = self.identity;
        let id = f(self, name, body);
        self.visiting.pop();
        self.identities.insert(name.to_string(), id.clone());
        id
    }

    /// `Fn::Sub`: `"text ${Name} ${Res.Attr} ${!Literal}"` or `[text, {Name: value}]`.
    fn sub(&mut self, arg: &Json, span: Span) -> R<String> {
        let (text, vars) = match (&arg.kind, arg.elements()) {
            (JsonKind::String(s), _) => (s.clone(), Vec::new()),
            (_, Some([t, vars])) => {
                let Some(t) = t.as_str() else {
                    return self.error(t.span, "the first element of `Fn::Sub` must be a string", "expected a string");
                };
                let Some(members) = vars.members() else {
                    return self.error(
                        vars.span,
                        "the second element of `Fn::Sub` must be a map of variables",
                        "expected a map",
                    );
                };
                let mut resolved = Vec::new();
                for (k, v) in members {
                    let value = self.string(v, &format!("the variable `{}` of `Fn::Sub`", k.value))?;
                    resolved.push((k.value.clone(), value.value));
                }
                (t.to_string(), resolved)
            }
            _ => return self.error(arg.span, "`Fn::Sub` takes a string or [string, variables]", "malformed Fn::Sub"),
        };
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(close) = after.find('}') else {
                return self.error(span, "`Fn::Sub` has `${` without a closing `}`", "unclosed variable");
            };
            let name = &after[..close];
            if let Some(literal) = name.strip_prefix('!') {
                // `${!Literal}` is written as `${Literal}` (Fn::Sub reference).
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some((_, v)) = vars.iter().find(|(k, _)| k == name) {
                out.push_str(v);
            } else if let Some((res, attr)) = name.split_once('.').filter(|_| !name.starts_with("AWS::")) {
                out.push_str(&self.get_att(res.trim(), attr.trim(), span, span)?);
            } else {
                match self.reference(name.trim(), span, span)? {
                    Some(v) => match v.scalar_text() {
                        Some(s) => out.push_str(&s),
                        None => {
                            return self.error(
                                span,
                                format!("`${{{name}}}` in `Fn::Sub` is not a string"),
                                "not a string",
                            )
                        }
                    },
                    None => return self.error(span, format!("`${{{name}}}` in `Fn::Sub` is AWS::NoValue"), "no value"),
                }
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn find_in_map(&mut self, arg: &Json, span: Span) -> R<Json> {
        let items = arg.elements().unwrap_or_default();
        if !(3..=4).contains(&items.len()) {
            return self.error(
                arg.span,
                "`Fn::FindInMap` takes [map, top-level key, second-level key]",
                "malformed Fn::FindInMap",
            );
        }
        let map = self.string(&items[0], "the map name of `Fn::FindInMap`")?;
        let top = self.string(&items[1], "the top-level key of `Fn::FindInMap`")?;
        let second = self.string(&items[2], "the second-level key of `Fn::FindInMap`")?;
        let found =
            self.mappings.and_then(|m| m.get(&map.value)).map(|m| m.get(&top.value).and_then(|t| t.get(&second.value)));
        match found {
            Some(Some(v)) => {
                let mut v = v.clone();
                v.span = span;
                Ok(v)
            }
            Some(None) => match items.get(3).and_then(|d| d.get("DefaultValue")) {
                Some(d) => self.required(d, "the default value of `Fn::FindInMap`"),
                None => self.error(
                    arg.span,
                    format!("mapping `{}` has no `{}` → `{}`", map.value, top.value, second.value),
                    "no such entry",
                ),
            },
            None => {
                self.error(items[0].span, format!("there is no mapping `{}` in Mappings", map.value), "unknown mapping")
            }
        }
    }

    // -- conditions -----------------------------------------------------------------------------

    /// A named condition of the Conditions section, evaluated once.
    pub fn condition(&mut self, name: &str, at: Span) -> R<bool> {
        if let Some(c) = self.conditions.get(name) {
            return c.clone();
        }
        let Some(&def) = self.condition_defs.get(name) else {
            return self.error(at, format!("there is no condition `{name}` in Conditions"), "unknown condition");
        };
        let key = format!("condition {name}");
        if self.visiting.contains(&key) {
            return self.error(at, format!("condition `{name}` depends on itself"), "circular condition");
        }
        self.visiting.push(key);
        let v = self.condition_value(def);
        self.visiting.pop();
        self.conditions.insert(name.to_string(), v.clone());
        v
    }

    /// A condition expression: `Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not`, `Condition`.
    pub fn condition_value(&mut self, v: &Json) -> R<bool> {
        let Some([(k, arg)]) = v.members() else {
            return self.error(
                v.span,
                "a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition",
                "not a condition",
            );
        };
        let operands = |r: &mut Self, n: std::ops::RangeInclusive<usize>| -> R<Vec<Json>> {
            match arg.elements() {
                Some(items) if n.contains(&items.len()) => Ok(items.to_vec()),
                _ => r.error(
                    arg.span,
                    format!("`{}` takes a list of {} to {} operands", k.value, n.start(), n.end()),
                    "wrong operands",
                ),
            }
        };
        match k.value.as_str() {
            "Condition" => match arg.as_str() {
                Some(name) => self.condition(name, arg.span),
                None => self.error(arg.span, "`Condition` takes a condition name", "expected a name"),
            },
            "Fn::Equals" => {
                let ops = operands(self, 2..=2)?;
                let a = self.required(&ops[0], "an operand of `Fn::Equals`")?;
                let b = self.required(&ops[1], "an operand of `Fn::Equals`")?;
                Ok(a.scalar_text().map_or_else(|| a == b, |x| Some(x) == b.scalar_text()))
            }
            "Fn::Not" => {
                let ops = operands(self, 1..=1)?;
                Ok(!self.condition_value(&ops[0])?)
            }
            "Fn::And" | "Fn::Or" => {
                let ops = operands(self, 2..=10)?;
                let and = k.value == "Fn::And";
                // Every operand is evaluated: an unknown one decides only when the others do not.
                let mut pending: Option<Fail> = None;
                for o in &ops {
                    match self.condition_value(o) {
                        Ok(b) if b != and => return Ok(b),
                        Ok(_) => {}
                        Err(f) => pending = Some(f),
                    }
                }
                match pending {
                    Some(f) => Err(f),
                    None => Ok(and),
                }
            }
            other => self.error(k.span, format!("`{other}` is not a condition function"), "not a condition"),
        }
    }
}

/// Standard base64 with padding, as `Fn::Base64` returns it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_pads_like_rfc_4648() {
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"AWS CloudFormation"), "QVdTIENsb3VkRm9ybWF0aW9u");
    }
}
