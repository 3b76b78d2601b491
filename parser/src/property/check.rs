//! The checks that the grammar cannot make, run on the whole file so that every error is
//! reported at once: duplicate property names, actions that are not KMS actions, variables used
//! without a `forall`, variables bound twice, sets that do not fit a variable, malformed CIDRs.

use super::ast::{ContextCond, Formula, KeyTerm, PrincipalTerm, Property, PropertyFile, SetExpr, Var};
use crate::err::ParseError;
use crate::source::{SourceMap, Span};
use std::collections::HashMap;
use std::net::IpAddr;

pub(crate) fn check(sources: &SourceMap, file: &PropertyFile) -> Vec<ParseError> {
    let mut checker = Checker { sources, errors: Vec::new() };
    let mut names: HashMap<&str, Span> = HashMap::new();
    for property in &file.properties {
        if let Some(first) = names.get(property.name.value.as_str()) {
            let e = ParseError::at(
                sources,
                property.name.span,
                format!("property `{}` is defined twice", property.name.value),
                "defined again here",
            )
            .with_help(format!("first defined at {}", sources.location(*first)));
            checker.errors.push(e);
        } else {
            names.insert(&property.name.value, property.name.span);
        }
        checker.property(property);
    }
    checker.errors
}

struct Checker<'s> {
    sources: &'s SourceMap,
    errors: Vec<ParseError>,
}

impl Checker<'_> {
    fn error(&mut self, span: Span, message: String, label: &str) {
        self.errors.push(ParseError::at(self.sources, span, message, label));
    }

    fn property(&mut self, property: &Property) {
        let mut bound: HashMap<Var, Span> = HashMap::new();
        for binder in &property.binders {
            if let Some(first) = bound.get(&binder.var) {
                let e = ParseError::at(
                    self.sources,
                    binder.span,
                    format!("`{}` is bound twice", binder.var),
                    "bound again here",
                )
                .with_help(format!("first bound at {}", self.sources.location(*first)));
                self.errors.push(e);
            } else {
                bound.insert(binder.var, binder.span);
            }
            if let Some(domain) = &binder.domain {
                self.set_fits(binder.var, domain, binder.span);
            }
        }
        let scope = Scope { principal: bound.contains_key(&Var::Principal), key: bound.contains_key(&Var::Key) };
        self.formula(&property.body, scope);
    }

    /// Principals have no region: `principal in region "..."` would always be false.
    fn set_fits(&mut self, var: Var, set: &SetExpr, span: Span) {
        if var == Var::Principal {
            if let SetExpr::Region(region) = set {
                self.error(
                    span,
                    format!(
                        "`principal in region` is not meaningful: principals are global, not in `{}`",
                        region.value
                    ),
                    "principals have no region",
                );
            }
        }
    }

    fn unbound(&mut self, var: Var, span: Span, scope: Scope) {
        let is_bound = match var {
            Var::Principal => scope.principal,
            Var::Key => scope.key,
        };
        if !is_bound {
            let e =
                ParseError::at(self.sources, span, format!("`{var}` is used but not bound"), "not bound by `forall`")
                    .with_help(format!("add `{var}` to the property's `forall`"));
            self.errors.push(e);
        }
    }

    fn formula(&mut self, formula: &Formula, scope: Scope) {
        match formula {
            Formula::CanReach { principal, action, key, .. } => {
                self.formula(
                    &Formula::Can {
                        principal: principal.clone(),
                        action: action.clone(),
                        key: key.clone(),
                        context: None,
                        span: Span::default(),
                    },
                    scope,
                );
            }
            Formula::Can { principal, action, key, context, .. } => {
                if let PrincipalTerm::Var(span) = principal {
                    self.unbound(Var::Principal, *span, scope);
                }
                if !is_kms_action(&action.value) {
                    let e = ParseError::at(
                        self.sources,
                        action.span,
                        format!("`{}` is not a KMS action", action.value),
                        "expected `kms:` and an action name or pattern",
                    )
                    .with_help("write an action like `kms:Decrypt` or a pattern like `kms:Generate*`");
                    self.errors.push(e);
                }
                if let KeyTerm::Var(span) = key {
                    self.unbound(Var::Key, *span, scope);
                }
                if let Some(context) = context {
                    self.condition(context);
                }
            }
            Formula::PrincipalIn(set, span) => {
                self.unbound(Var::Principal, *span, scope);
                self.set_fits(Var::Principal, set, *span);
            }
            Formula::PrincipalEq(_, _, span) | Formula::PrincipalLike(_, span) => {
                self.unbound(Var::Principal, *span, scope);
            }
            Formula::KeyIn(_, span) | Formula::KeyEq(_, _, span) => {
                self.unbound(Var::Key, *span, scope);
            }
            Formula::Bool(_) => {}
            Formula::Not(inner) => self.formula(inner, scope),
            Formula::And(a, b) | Formula::Or(a, b) | Formula::Implies(a, b) => {
                self.formula(a, scope);
                self.formula(b, scope);
            }
        }
    }

    fn condition(&mut self, condition: &ContextCond) {
        match condition {
            ContextCond::InCidr { cidr, .. } => {
                if !is_cidr(&cidr.value) {
                    let e = ParseError::at(
                        self.sources,
                        cidr.span,
                        format!("`{}` is not a CIDR block", cidr.value),
                        "not an IP address with an optional `/prefix`",
                    )
                    .with_help("write an IPv4 or IPv6 block such as `10.0.0.0/8` or `2001:db8::/32`");
                    self.errors.push(e);
                }
            }
            ContextCond::Eq { .. } | ContextCond::Like { .. } | ContextCond::In { .. } | ContextCond::Exists(_) => {}
            ContextCond::Not(inner) => self.condition(inner),
            ContextCond::And(a, b) | ContextCond::Or(a, b) => {
                self.condition(a);
                self.condition(b);
            }
        }
    }
}

/// Which variables the property's `forall` binds.
#[derive(Clone, Copy)]
struct Scope {
    principal: bool,
    key: bool,
}

/// `kms:` followed by an action name or a pattern of letters, `*` and `?`.
pub(crate) fn is_kms_action(action: &str) -> bool {
    action
        .strip_prefix("kms:")
        .is_some_and(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic() || c == '*' || c == '?'))
}

/// An IPv4 or IPv6 address with an optional prefix length that fits it, as the `IpAddress`
/// condition operator takes it (IAM User Guide, reference_policies_elements_condition_operators,
/// "IP address condition operators": a bare address means a single address).
pub(crate) fn is_cidr(text: &str) -> bool {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };
    let Some(prefix) = prefix else {
        return true;
    };
    let max = if address.is_ipv4() { 32 } else { 128 };
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix.parse::<u32>().is_ok_and(|n| n <= max)
}

#[cfg(test)]
mod tests {
    use super::{is_cidr, is_kms_action};

    #[test]
    fn kms_actions() {
        assert!(is_kms_action("kms:Decrypt"));
        assert!(is_kms_action("kms:*"));
        assert!(is_kms_action("kms:Generate?ataKey*"));
        assert!(!is_kms_action("kms:"));
        assert!(!is_kms_action("kms:Decrypt1"));
        assert!(!is_kms_action("KMS:Decrypt"));
        assert!(!is_kms_action("s3:GetObject"));
        assert!(!is_kms_action("*"));
    }

    #[test]
    fn cidrs() {
        assert!(is_cidr("10.0.0.0/8"));
        assert!(is_cidr("10.1.2.3"));
        assert!(is_cidr("0.0.0.0/0"));
        assert!(is_cidr("2001:db8::/32"));
        assert!(is_cidr("::/0"));
        assert!(!is_cidr("10.0.0.0/33"));
        assert!(!is_cidr("2001:db8::/129"));
        assert!(!is_cidr("10.0.0.0/"));
        assert!(!is_cidr("10.0.0.0/-1"));
        assert!(!is_cidr("10.0.0.0/0008"));
        assert!(!is_cidr("10.0.0/8"));
        assert!(!is_cidr(""));
    }
}
