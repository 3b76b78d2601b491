//! The canonical form of the property language: `Display` on every AST type. Parsing what is
//! printed gives back an equal AST; the round-trip proptest in `parser/tests/property.rs`
//! holds this to account.

use super::ast::{Binder, ContextCond, Formula, KeyTerm, PrincipalTerm, Property, PropertyFile, SetExpr, Var};
use std::fmt::{self, Display, Formatter, Write};

/// A string literal: double quotes, with `"` and `\` escaped.
pub(crate) struct Quoted<'a>(pub &'a str);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

impl Display for PropertyFile {
    /// The properties, separated by a blank line.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, property) in self.properties.iter().enumerate() {
            if i > 0 {
                f.write_char('\n')?;
            }
            writeln!(f, "{property}")?;
        }
        Ok(())
    }
}

impl Display for Property {
    /// ```text
    /// # doc
    /// property name {
    ///   forall principal, key in account "security":
    ///     formula
    /// }
    /// ```
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(doc) = &self.doc {
            for line in doc.split('\n') {
                if line.is_empty() {
                    f.write_str("#\n")?;
                } else {
                    writeln!(f, "# {line}")?;
                }
            }
        }
        writeln!(f, "property {} {{", self.name.value)?;
        if self.binders.is_empty() {
            writeln!(f, "  {}", self.body)?;
        } else {
            f.write_str("  forall ")?;
            for (i, binder) in self.binders.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{binder}")?;
            }
            writeln!(f, ":\n    {}", self.body)?;
        }
        f.write_char('}')
    }
}

impl Display for Var {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl Display for Binder {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.var)?;
        if let Some(domain) = &self.domain {
            write!(f, " in {domain}")?;
        }
        Ok(())
    }
}

impl Display for SetExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SetExpr::Ou(path) => write!(f, "ou {}", Quoted(path)),
            SetExpr::Account(account) => write!(f, "account {}", Quoted(account)),
            SetExpr::Org => f.write_str("org"),
            SetExpr::Region(region) => write!(f, "region {}", Quoted(region)),
        }
    }
}

impl Display for PrincipalTerm {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PrincipalTerm::Var(_) => f.write_str("principal"),
            PrincipalTerm::Literal(s) => write!(f, "{}", Quoted(s)),
        }
    }
}

impl Display for KeyTerm {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            KeyTerm::Var(_) => f.write_str("key"),
            KeyTerm::Literal(s) => write!(f, "key {}", Quoted(s)),
        }
    }
}

/// Binding strength of a formula's outermost operator: a child printed where a stronger one is
/// required gets parentheses.
fn formula_precedence(formula: &Formula) -> u8 {
    match formula {
        Formula::Implies(..) => 1,
        Formula::Or(..) => 2,
        Formula::And(..) => 3,
        Formula::Not(..) => 4,
        _ => 5,
    }
}

fn write_formula(f: &mut Formatter<'_>, formula: &Formula, at_least: u8) -> fmt::Result {
    if formula_precedence(formula) < at_least {
        f.write_char('(')?;
        write_formula(f, formula, 0)?;
        return f.write_char(')');
    }
    match formula {
        Formula::Can { principal, action, key, context, .. } => {
            write!(f, "can({principal}, {}, {key})", action.value)?;
            if let Some(context) = context {
                f.write_str(" where ")?;
                // Binary conditions get parentheses, so that the reader need not know where
                // the condition ends and the formula resumes.
                write_condition(f, context, 3)?;
            }
            Ok(())
        }
        Formula::CanReach { principal, action, key, .. } => {
            write!(f, "can_reach({principal}, {}, {key})", action.value)
        }
        Formula::PrincipalIn(set, _) => write!(f, "principal in {set}"),
        Formula::PrincipalEq(value, negated, _) => {
            let op = if *negated { "!=" } else { "==" };
            write!(f, "principal {op} {}", Quoted(value))
        }
        Formula::PrincipalLike(pattern, _) => write!(f, "principal like {}", Quoted(pattern)),
        Formula::KeyIn(set, _) => write!(f, "key in {set}"),
        Formula::KeyEq(value, negated, _) => {
            let op = if *negated { "!=" } else { "==" };
            write!(f, "key {op} {}", Quoted(value))
        }
        Formula::Bool(b) => write!(f, "{b}"),
        Formula::Not(inner) => {
            f.write_str("not ")?;
            write_formula(f, inner, 4)
        }
        // `and` and `or` associate to the left, `implies` to the right.
        Formula::And(a, b) => {
            write_formula(f, a, 3)?;
            f.write_str(" and ")?;
            write_formula(f, b, 4)
        }
        Formula::Or(a, b) => {
            write_formula(f, a, 2)?;
            f.write_str(" or ")?;
            write_formula(f, b, 3)
        }
        Formula::Implies(a, b) => {
            write_formula(f, a, 2)?;
            f.write_str(" implies ")?;
            write_formula(f, b, 1)
        }
    }
}

impl Display for Formula {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_formula(f, self, 0)
    }
}

fn condition_precedence(condition: &ContextCond) -> u8 {
    match condition {
        ContextCond::Or(..) => 1,
        ContextCond::And(..) => 2,
        ContextCond::Not(..) => 3,
        _ => 4,
    }
}

fn write_condition(f: &mut Formatter<'_>, condition: &ContextCond, at_least: u8) -> fmt::Result {
    if condition_precedence(condition) < at_least {
        f.write_char('(')?;
        write_condition(f, condition, 0)?;
        return f.write_char(')');
    }
    match condition {
        ContextCond::Eq { key, value, negated } => {
            let op = if *negated { "!=" } else { "==" };
            write!(f, "context {} {op} {}", Quoted(key), Quoted(value))
        }
        ContextCond::Like { key, pattern } => {
            write!(f, "context {} like {}", Quoted(key), Quoted(pattern))
        }
        ContextCond::In { key, values } => {
            write!(f, "context {} in [", Quoted(key))?;
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", Quoted(value))?;
            }
            f.write_char(']')
        }
        ContextCond::InCidr { key, cidr } => {
            write!(f, "context {} in cidr {}", Quoted(key), Quoted(cidr))
        }
        ContextCond::Exists(key) => write!(f, "context {} exists", Quoted(key)),
        ContextCond::Not(inner) => {
            f.write_str("not ")?;
            write_condition(f, inner, 3)
        }
        ContextCond::And(a, b) => {
            write_condition(f, a, 2)?;
            f.write_str(" and ")?;
            write_condition(f, b, 3)
        }
        ContextCond::Or(a, b) => {
            write_condition(f, a, 1)?;
            f.write_str(" or ")?;
            write_condition(f, b, 2)
        }
    }
}

impl Display for ContextCond {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_condition(f, self, 0)
    }
}
