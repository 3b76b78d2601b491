//! From text to AST: a size guard, the pest grammar (`grammar.pest`), then a walk over pest's
//! parse tree that builds the typed AST with spans.

use super::ast::{Binder, ContextCond, Formula, KeyTerm, PrincipalTerm, Property, PropertyFile, SetExpr, Var};
use crate::err::ParseError;
use crate::source::{SourceId, SourceMap, Span, Spanned};
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::Parser as _;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "property/grammar.pest"]
struct Grammar;

/// The most operators (`not`, `and`, `or`, `implies`, `where`) and grouping parentheses one
/// property may hold. The parser, the checks, the printer and the prover all recurse over the
/// nesting of a formula; bounding the operators bounds the nesting, so that no input can
/// overflow the stack (pest's own guard would stop near 380 levels of parentheses on a 2 MiB
/// test thread in a debug build). Real properties stay far below it.
pub const MAX_OPERATORS: usize = 256;

/// Parses the source `id` of `sources` into a [`PropertyFile`], without the semantic checks.
pub(crate) fn parse_file(sources: &SourceMap, id: SourceId) -> Result<PropertyFile> {
    let text = match sources.get(id) {
        Some(file) => file.text.clone(),
        None => {
            return Err(Box::new(ParseError::Snapshot {
                message: "internal error: the properties source is missing".to_string(),
                help: None,
            }))
        }
    };
    if let Some(offset) = too_many_operators(&text) {
        let span = Span::new(id, offset, offset + word_len(&text, offset));
        let e = ParseError::at(
            sources,
            span,
            format!("property too large: more than {MAX_OPERATORS} operators and parentheses"),
            "one too many",
        );
        return Err(Box::new(e.with_help("split the property into several smaller ones")));
    }
    let mut pairs = Grammar::parse(Rule::file, &text).map_err(|e| Box::new(syntax_error(sources, id, &text, &e)))?;
    let builder = Builder { sources, id };
    let file = builder.expect(pairs.next(), Span::new(id, 0, text.len()))?;
    let mut properties = Vec::new();
    for pair in significant(file) {
        if pair.as_rule() == Rule::property {
            properties.push(builder.property(pair, &text)?);
        }
    }
    Ok(PropertyFile { properties })
}

/// The offset of the first operator or parenthesis past [`MAX_OPERATORS`] in one property, if
/// any. Strings and comments are skipped, and so is the parenthesis of `can(`, which does not
/// nest; the count restarts at each word `property`.
fn too_many_operators(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut count = 0usize;
    let mut after_can = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    i += 1;
                    match c {
                        b'\\' => i += 1,
                        b'"' | b'\n' => break,
                        _ => {}
                    }
                }
                continue;
            }
            b'#' => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'(' if !after_can => count += 1,
            c if is_ident_byte(c) => {
                let start = i;
                while bytes.get(i).copied().is_some_and(is_ident_byte) {
                    i += 1;
                }
                let word = text.get(start..i);
                after_can = matches!(word, Some("can" | "can_reach"));
                match word {
                    Some("property") => count = 0,
                    Some("not" | "and" | "or" | "implies" | "where") => count += 1,
                    _ => {}
                }
                if count > MAX_OPERATORS {
                    return Some(start);
                }
                continue;
            }
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            after_can = false;
        }
        if count > MAX_OPERATORS {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The length of the word (or the one character) at `offset`, for the span of an error.
fn word_len(text: &str, offset: usize) -> usize {
    let rest = text.get(offset..).unwrap_or("");
    let word = rest.bytes().take_while(|&b| is_ident_byte(b)).count();
    if word > 0 {
        word
    } else {
        rest.chars().next().map_or(0, char::len_utf8)
    }
}

/// A pest error as one of ours: at the furthest position pest reached, saying in words what
/// it expected there.
fn syntax_error(sources: &SourceMap, id: SourceId, text: &str, error: &pest::error::Error<Rule>) -> ParseError {
    let offset = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((start, _)) => start,
    };
    let expected = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<&str> = Vec::new();
            for rule in positives {
                let word = describe(*rule);
                if !words.contains(&word) {
                    words.push(word);
                }
            }
            words
        }
        // pest's guards (stack space, call count) are the only custom errors.
        ErrorVariant::CustomError { message } => {
            let span = Span::new(id, offset, offset + word_len(text, offset));
            return ParseError::at(
                sources,
                span,
                format!("the formula is nested too deeply to parse ({message})"),
                "nested too deeply",
            )
            .with_help("split the property into several smaller ones");
        }
    };
    let expected = match expected.as_slice() {
        [] => "something else".to_string(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    if let Some(e) = malformed_string(sources, id, text, offset) {
        return e;
    }
    let found = found_at(text, offset);
    let span = Span::new(id, offset, offset + word_len(text, offset));
    ParseError::at(sources, span, format!("expected {expected}, found {found}"), format!("expected {expected}"))
}

/// When pest stops at a `"`, the string that starts there is the culprit: it is not closed on
/// its line, or it holds an escape other than `\"` and `\\`. `None` for a well-formed string.
fn malformed_string(sources: &SourceMap, id: SourceId, text: &str, offset: usize) -> Option<ParseError> {
    let rest = text.get(offset..)?.strip_prefix('"')?;
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return None,
            '\\' => match chars.next() {
                Some((_, '"' | '\\')) => {}
                Some((j, other)) if other != '\n' => {
                    let span = Span::new(id, offset + 1 + i, offset + 1 + j + other.len_utf8());
                    let e = ParseError::at(
                        sources,
                        span,
                        format!("unknown escape `\\{other}` in a string"),
                        "unknown escape",
                    )
                    .with_help("the only escapes are `\\\"` and `\\\\`");
                    return Some(e);
                }
                _ => break,
            },
            '\n' => break,
            _ => {}
        }
    }
    let span = Span::new(id, offset, offset + 1);
    let e = ParseError::at(sources, span, "unterminated string", "this string is not closed")
        .with_help("close the string with `\"` on the line where it starts");
    Some(e)
}

/// What the input holds at `offset`, in words.
fn found_at(text: &str, offset: usize) -> String {
    let rest = text.get(offset..).unwrap_or("");
    match rest.chars().next() {
        None => "end of input".to_string(),
        Some(_) => {
            let len = word_len(text, offset);
            format!("`{}`", rest.get(..len).unwrap_or(""))
        }
    }
}

/// A grammar rule in words, for "expected ...".
fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of input",
        Rule::file | Rule::property | Rule::kw_property => "`property`",
        Rule::name => "a property name",
        Rule::binder | Rule::variable => "`principal` or `key`",
        Rule::set_expr => "`ou`, `account`, `org` or `region`",
        Rule::set_ou | Rule::kw_ou => "`ou`",
        Rule::set_account | Rule::kw_account => "`account`",
        Rule::set_org | Rule::kw_org => "`org`",
        Rule::set_region | Rule::kw_region => "`region`",
        Rule::formula
        | Rule::disjunction
        | Rule::conjunction
        | Rule::negation
        | Rule::atom
        | Rule::principal_test
        | Rule::key_test
        | Rule::boolean => "a formula",
        Rule::can | Rule::kw_can => "`can`",
        Rule::reach | Rule::kw_can_reach => "`can_reach`",
        Rule::principal_term => "`principal` or a principal string",
        Rule::key_term => "`key`",
        Rule::action => "an action such as `kms:Decrypt`",
        Rule::test_in | Rule::cond_in_cidr | Rule::cond_in_list | Rule::kw_in => "`in`",
        Rule::test_eq | Rule::eq => "`==`",
        Rule::test_ne | Rule::ne => "`!=`",
        Rule::test_like | Rule::kw_like => "`like`",
        Rule::condition | Rule::cond_conjunction | Rule::cond_negation | Rule::cond_atom => "a context condition",
        Rule::context_test | Rule::kw_context => "`context`",
        Rule::cond_exists | Rule::kw_exists => "`exists`",
        Rule::string | Rule::string_inner => "a string",
        Rule::kw_forall => "`forall`",
        Rule::kw_principal => "`principal`",
        Rule::kw_key => "`key`",
        Rule::kw_implies => "`implies`",
        Rule::kw_or => "`or`",
        Rule::kw_and => "`and`",
        Rule::kw_not => "`not`",
        Rule::kw_where => "`where`",
        Rule::kw_true => "`true`",
        Rule::kw_false => "`false`",
        Rule::kw_cidr => "`cidr`",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::lbracket => "`[`",
        Rule::rbracket => "`]`",
        Rule::comma => "`,`",
        Rule::colon => "`:`",
        Rule::WHITESPACE | Rule::COMMENT | Rule::ident_char => "more input",
    }
}

/// The children of a pair that carry meaning: keywords and punctuation are left out.
fn significant(pair: Pair<'_, Rule>) -> Vec<Pair<'_, Rule>> {
    pair.into_inner()
        .filter(|p| {
            !matches!(
                p.as_rule(),
                Rule::EOI
                    | Rule::lbrace
                    | Rule::rbrace
                    | Rule::lparen
                    | Rule::rparen
                    | Rule::lbracket
                    | Rule::rbracket
                    | Rule::comma
                    | Rule::colon
                    | Rule::eq
                    | Rule::ne
                    | Rule::kw_property
                    | Rule::kw_forall
                    | Rule::kw_principal
                    | Rule::kw_key
                    | Rule::kw_in
                    | Rule::kw_ou
                    | Rule::kw_account
                    | Rule::kw_org
                    | Rule::kw_region
                    | Rule::kw_implies
                    | Rule::kw_or
                    | Rule::kw_and
                    | Rule::kw_not
                    | Rule::kw_can
                    | Rule::kw_can_reach
                    | Rule::kw_where
                    | Rule::kw_like
                    | Rule::kw_true
                    | Rule::kw_false
                    | Rule::kw_context
                    | Rule::kw_cidr
                    | Rule::kw_exists
            )
        })
        .collect()
}

/// Builds the AST from pest's tree. The grammar guarantees the shapes matched here; a shape
/// that does not match is an internal error, reported rather than panicking.
struct Builder<'s> {
    sources: &'s SourceMap,
    id: SourceId,
}

/// Errors are boxed inside the parser: `ParseError` is large, and the builder recurses once per
/// level of nesting, so a small `Result` keeps its frames small.
pub(crate) type Result<T> = std::result::Result<T, Box<ParseError>>;

impl Builder<'_> {
    /// The span of a pair, without the whitespace and comments that pest lets a rule swallow
    /// after its last token when a trailing optional part is absent: it ends where its last
    /// child ends. (`string`, the one atomic rule with a child, ends at its closing quote.)
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let last = match pair.as_rule() {
            Rule::string => None,
            _ => pair.clone().into_inner().last(),
        };
        let end = match last {
            Some(last) => self.span(&last).end,
            None => pair.as_span().end(),
        };
        Span::new(self.id, pair.as_span().start(), end)
    }

    fn malformed(&self, span: Span) -> Box<ParseError> {
        Box::new(ParseError::at(
            self.sources,
            span,
            "internal error: unexpected parse tree for the property language",
            "here",
        ))
    }

    fn expect<'i>(&self, pair: Option<Pair<'i, Rule>>, span: Span) -> Result<Pair<'i, Rule>> {
        pair.ok_or_else(|| self.malformed(span))
    }

    fn property(&self, pair: Pair<'_, Rule>, text: &str) -> Result<Property> {
        let span = self.span(&pair);
        let mut name = None;
        let mut binders = Vec::new();
        let mut body = None;
        for child in significant(pair) {
            match child.as_rule() {
                Rule::name => name = Some(Spanned::new(child.as_str().to_string(), self.span(&child))),
                Rule::binder => binders.push(self.binder(child)?),
                Rule::formula => body = Some(self.formula(child)?),
                _ => return Err(self.malformed(self.span(&child))),
            }
        }
        match (name, body) {
            (Some(name), Some(body)) => Ok(Property { name, doc: doc_above(text, span.start), binders, body, span }),
            _ => Err(self.malformed(span)),
        }
    }

    fn binder(&self, pair: Pair<'_, Rule>) -> Result<Binder> {
        let span = self.span(&pair);
        let children = significant(pair);
        match children.as_slice() {
            [variable] => Ok(Binder { var: self.variable(variable)?, domain: None, span }),
            [variable, set] => {
                Ok(Binder { var: self.variable(variable)?, domain: Some(self.set_expr(set.clone())?), span })
            }
            _ => Err(self.malformed(span)),
        }
    }

    fn variable(&self, pair: &Pair<'_, Rule>) -> Result<Var> {
        match pair.as_str() {
            "principal" => Ok(Var::Principal),
            "key" => Ok(Var::Key),
            _ => Err(self.malformed(self.span(pair))),
        }
    }

    fn set_expr(&self, pair: Pair<'_, Rule>) -> Result<SetExpr> {
        let span = self.span(&pair);
        let inner = self.expect(significant(pair).into_iter().next(), span)?;
        let rule = inner.as_rule();
        let inner_span = self.span(&inner);
        let children = significant(inner);
        match (rule, children.as_slice()) {
            (Rule::set_org, []) => Ok(SetExpr::Org),
            (Rule::set_ou, [s]) => Ok(SetExpr::Ou(self.string(s.clone())?)),
            (Rule::set_account, [s]) => Ok(SetExpr::Account(self.string(s.clone())?)),
            (Rule::set_region, [s]) => Ok(SetExpr::Region(self.string(s.clone())?)),
            _ => Err(self.malformed(inner_span)),
        }
    }

    fn string(&self, pair: Pair<'_, Rule>) -> Result<Spanned<String>> {
        let span = self.span(&pair);
        let inner = self.expect(pair.into_inner().next(), span)?;
        Ok(Spanned::new(unescape(inner.as_str()), span))
    }

    /// `formula = disjunction (implies formula)?`
    fn formula(&self, pair: Pair<'_, Rule>) -> Result<Formula> {
        let span = self.span(&pair);
        let children = significant(pair);
        match children.as_slice() {
            [a] => self.disjunction(a.clone()),
            [a, b] => Ok(Formula::Implies(Box::new(self.disjunction(a.clone())?), Box::new(self.formula(b.clone())?))),
            _ => Err(self.malformed(span)),
        }
    }

    /// `disjunction = conjunction (or conjunction)*`, folded to the left.
    fn disjunction(&self, pair: Pair<'_, Rule>) -> Result<Formula> {
        let span = self.span(&pair);
        let mut operands = significant(pair).into_iter();
        let mut left = self.conjunction(self.expect(operands.next(), span)?)?;
        for operand in operands {
            left = Formula::Or(Box::new(left), Box::new(self.conjunction(operand)?));
        }
        Ok(left)
    }

    /// `conjunction = negation (and negation)*`, folded to the left.
    fn conjunction(&self, pair: Pair<'_, Rule>) -> Result<Formula> {
        let span = self.span(&pair);
        let mut operands = significant(pair).into_iter();
        let mut left = self.negation(self.expect(operands.next(), span)?)?;
        for operand in operands {
            left = Formula::And(Box::new(left), Box::new(self.negation(operand)?));
        }
        Ok(left)
    }

    /// `negation = not negation | atom`
    fn negation(&self, pair: Pair<'_, Rule>) -> Result<Formula> {
        let span = self.span(&pair);
        let inner = self.expect(significant(pair).into_iter().next(), span)?;
        match inner.as_rule() {
            Rule::negation => Ok(Formula::Not(Box::new(self.negation(inner)?))),
            Rule::atom => self.atom(inner),
            _ => Err(self.malformed(span)),
        }
    }

    fn atom(&self, pair: Pair<'_, Rule>) -> Result<Formula> {
        let span = self.span(&pair);
        let inner = self.expect(significant(pair).into_iter().next(), span)?;
        match inner.as_rule() {
            Rule::can => self.can(inner),
            Rule::reach => self.reach(inner),
            Rule::formula => self.formula(inner),
            Rule::principal_test => self.principal_test(inner),
            Rule::key_test => self.key_test(inner),
            Rule::boolean => Ok(Formula::Bool(inner.as_str() == "true")),
            _ => Err(self.malformed(span)),
        }
    }

    fn can(&self, pair: Pair<'_, Rule>) -> Result<Formula> {
        let span = self.span(&pair);
        let children = significant(pair);
        let (principal, action, key, condition) = match children.as_slice() {
            [p, a, k] => (p, a, k, None),
            [p, a, k, c] => (p, a, k, Some(c)),
            _ => return Err(self.malformed(span)),
        };
        let principal = match significant(principal.clone()).into_iter().next() {
            None => PrincipalTerm::Var(self.span(principal)),
            Some(s) => PrincipalTerm::Literal(self.string(s)?),
        };
        let action = Spanned::new(action.as_str().to_string(), self.span(action));
        let key = match significant(key.clone()).into_iter().next() {
            None => KeyTerm::Var(self.span(key)),
            Some(s) => KeyTerm::Literal(self.string(s)?),
        };
        let context = match condition {
            None => None,
            Some(c) => Some(self.condition(c.clone())?),
        };
        Ok(Formula::Can { principal, action, key, context, span })
    }

    /// `can_reach(P, A, K)`: the terms of `can`, without `where`.
    fn reach(&self, pair: Pair<'_, Rule>) -> Result<Formula> {
        let span = self.span(&pair);
        match self.can(pair)? {
            Formula::Can { principal, action, key, context: None, .. } => {
                Ok(Formula::CanReach { principal, action, key, span })
            }
            _ => Err(self.malformed(span)),
        }
    }

    /// `principal in SET | == "s" | != "s" | like "p"`
    fn principal_test(&self, pair: Pair<'_, Rule>) -> Result<Formula> {
        let span = self.span(&pair);
        let test = self.expect(significant(pair).into_iter().next(), span)?;
        let rule = test.as_rule();
        let operand = self.expect(significant(test).into_iter().next(), span)?;
        match rule {
            Rule::test_in => Ok(Formula::PrincipalIn(self.set_expr(operand)?, span)),
            Rule::test_eq => Ok(Formula::PrincipalEq(self.string(operand)?, false, span)),
            Rule::test_ne => Ok(Formula::PrincipalEq(self.string(operand)?, true, span)),
            Rule::test_like => Ok(Formula::PrincipalLike(self.string(operand)?, span)),
            _ => Err(self.malformed(span)),
        }
    }

    /// `key in SET | == "s" | != "s"`
    fn key_test(&self, pair: Pair<'_, Rule>) -> Result<Formula> {
        let span = self.span(&pair);
        let test = self.expect(significant(pair).into_iter().next(), span)?;
        let rule = test.as_rule();
        let operand = self.expect(significant(test).into_iter().next(), span)?;
        match rule {
            Rule::test_in => Ok(Formula::KeyIn(self.set_expr(operand)?, span)),
            Rule::test_eq => Ok(Formula::KeyEq(self.string(operand)?, false, span)),
            Rule::test_ne => Ok(Formula::KeyEq(self.string(operand)?, true, span)),
            _ => Err(self.malformed(span)),
        }
    }

    /// `condition = cond_conjunction (or cond_conjunction)*`, folded to the left.
    fn condition(&self, pair: Pair<'_, Rule>) -> Result<ContextCond> {
        let span = self.span(&pair);
        let mut operands = significant(pair).into_iter();
        let mut left = self.cond_conjunction(self.expect(operands.next(), span)?)?;
        for operand in operands {
            left = ContextCond::Or(Box::new(left), Box::new(self.cond_conjunction(operand)?));
        }
        Ok(left)
    }

    fn cond_conjunction(&self, pair: Pair<'_, Rule>) -> Result<ContextCond> {
        let span = self.span(&pair);
        let mut operands = significant(pair).into_iter();
        let mut left = self.cond_negation(self.expect(operands.next(), span)?)?;
        for operand in operands {
            left = ContextCond::And(Box::new(left), Box::new(self.cond_negation(operand)?));
        }
        Ok(left)
    }

    fn cond_negation(&self, pair: Pair<'_, Rule>) -> Result<ContextCond> {
        let span = self.span(&pair);
        let inner = self.expect(significant(pair).into_iter().next(), span)?;
        match inner.as_rule() {
            Rule::cond_negation => Ok(ContextCond::Not(Box::new(self.cond_negation(inner)?))),
            Rule::cond_atom => {
                let inner_span = self.span(&inner);
                let atom = self.expect(significant(inner).into_iter().next(), inner_span)?;
                match atom.as_rule() {
                    Rule::condition => self.condition(atom),
                    Rule::context_test => self.context_test(atom),
                    _ => Err(self.malformed(inner_span)),
                }
            }
            _ => Err(self.malformed(span)),
        }
    }

    /// `context "k" (== "v" | != "v" | like "p" | in cidr "c" | in [..] | exists)`
    fn context_test(&self, pair: Pair<'_, Rule>) -> Result<ContextCond> {
        let span = self.span(&pair);
        let children = significant(pair);
        let [key, test] = children.as_slice() else {
            return Err(self.malformed(span));
        };
        let key = self.string(key.clone())?;
        let rule = test.as_rule();
        let mut operands = significant(test.clone()).into_iter();
        match rule {
            Rule::cond_exists => Ok(ContextCond::Exists(key)),
            Rule::cond_in_list => {
                Ok(ContextCond::In { key, values: operands.map(|s| self.string(s)).collect::<Result<_>>()? })
            }
            _ => {
                let operand = self.string(self.expect(operands.next(), span)?)?;
                match rule {
                    Rule::test_eq | Rule::test_ne => {
                        Ok(ContextCond::Eq { key, value: operand, negated: rule == Rule::test_ne })
                    }
                    Rule::test_like => Ok(ContextCond::Like { key, pattern: operand }),
                    Rule::cond_in_cidr => Ok(ContextCond::InCidr { key, cidr: operand }),
                    _ => Err(self.malformed(span)),
                }
            }
        }
    }
}

/// The text of a string literal's inside, with `\"` and `\\` undone.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(escaped) = chars.next() {
                out.push(escaped);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The doc of the property that starts at `start`: the block of `#` lines directly above its
/// line, with no blank line between. `None` when there is none, or when `property` is not the
/// first thing on its line.
fn doc_above(text: &str, start: usize) -> Option<String> {
    let before = text.get(..start)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    if !before.get(line_start..)?.trim().is_empty() || line_start == 0 {
        return None;
    }
    // The lines above, nearest first.
    let mut lines = Vec::new();
    for line in before.get(..line_start - 1)?.rsplit('\n') {
        let line = line.trim();
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        let comment = comment.strip_prefix(' ').unwrap_or(comment);
        lines.push(comment.trim_end());
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::{doc_above, too_many_operators, unescape, MAX_OPERATORS};

    #[test]
    fn unescape_undoes_the_two_escapes() {
        assert_eq!(unescape(r#"a\"b\\c"#), r#"a"b\c"#);
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn doc_is_the_comment_block_directly_above() {
        let text = "# header\n\n# one\n#two\n  #  three\nproperty a { true }";
        let start = text.find("property").unwrap_or(0);
        assert_eq!(doc_above(text, start).as_deref(), Some("one\ntwo\n three"));
        assert_eq!(doc_above("property a { true }", 0), None);
        let text = "# far\n\nproperty a { true }";
        assert_eq!(doc_above(text, 7), None);
        let text = "# not mine\n} property b { true }";
        assert_eq!(doc_above(text, 13), None);
    }

    #[test]
    fn operator_count_skips_strings_comments_and_can_parens() {
        let many = "not ".repeat(MAX_OPERATORS);
        assert_eq!(too_many_operators(&format!("property a {{ {many}true }}")), None);
        assert_eq!(too_many_operators(&format!("property a {{ {many}not true }}")), Some(13 + 4 * MAX_OPERATORS));
        let quoted = format!("property a {{ principal == \"{many} ((\" # {many}\n }}");
        assert_eq!(too_many_operators(&quoted), None);
        let cans = "can(principal, kms:Decrypt, key) or ".repeat(MAX_OPERATORS);
        assert_eq!(too_many_operators(&format!("property a {{ {cans} true }}")), None);
        let twice = format!("property a {{ {many}true }} property b {{ {many}true }}");
        assert_eq!(too_many_operators(&twice), None);
    }
}
