//! JSON with a span on every value: a small owned tree built from `jsonc-parser`'s AST, with
//! accessors that record an error (with file, line and column) instead of failing.

use crate::err::{Errors, ParseError};
use crate::source::{SourceId, SourceMap, Span, Spanned};
use jsonc_parser::ast;

/// A JSON value and the span of its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Json {
    pub kind: JsonKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JsonKind {
    Null,
    Bool(bool),
    /// A number, kept as written.
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in the order written; duplicate names are reported by [`parse_json`].
    Object(Vec<(Spanned<String>, Json)>),
}

impl Json {
    /// What kind of value this is, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            JsonKind::Null => "null",
            JsonKind::Bool(_) => "a boolean",
            JsonKind::Number(_) => "a number",
            JsonKind::String(_) => "a string",
            JsonKind::Array(_) => "an array",
            JsonKind::Object(_) => "an object",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            JsonKind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            JsonKind::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn members(&self) -> Option<&[(Spanned<String>, Json)]> {
        match &self.kind {
            JsonKind::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn elements(&self) -> Option<&[Json]> {
        match &self.kind {
            JsonKind::Array(a) => Some(a),
            _ => None,
        }
    }

    /// A member of an object by exact name.
    pub fn get(&self, name: &str) -> Option<&Json> {
        self.members()?.iter().find(|(k, _)| k.value == name).map(|(_, v)| v)
    }

    /// The value as a string when it is a scalar (AWS accepts `true` and `42` where it expects a
    /// string in conditions, and compares their text).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            JsonKind::String(s) => Some(s.clone()),
            JsonKind::Bool(b) => Some(b.to_string()),
            JsonKind::Number(n) => Some(n.clone()),
            _ => None,
        }
    }
}

/// Parses strict JSON (no comments, no trailing commas) into a spanned tree.
pub fn parse_json(sources: &SourceMap, id: SourceId) -> Result<Json, ParseError> {
    let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
    if let Some(e) = strict_syntax(sources, id, &text) {
        return Err(e);
    }
    let options = jsonc_parser::ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
    };
    let parsed = jsonc_parser::parse_to_ast(&text, &Default::default(), &options).map_err(|e| {
        let r = e.range();
        ParseError::at(sources, Span::new(id, r.start, r.end), format!("invalid JSON: {}", e.kind()), "here")
    })?;
    match parsed.value {
        Some(v) => {
            let mut errors = Errors::default();
            let json = convert(sources, id, v, &mut errors);
            ParseError::collect(sources.name(id), errors.0)?;
            Ok(json)
        }
        None => Err(ParseError::at(sources, Span::new(id, 0, 0), "the file holds no JSON value", "empty")),
    }
}

/// Checks that the text is strict JSON before `jsonc-parser` reads it: that parser accepts
/// members and elements with no comma between them and single-quoted strings, which would read
/// `{"Effect": "Allow" "Action": "kms:*"}` without a word; `serde_json` rejects them (read into
/// `IgnoredAny`, which allocates nothing). A nesting limit keeps a deeply nested input from
/// overflowing the stack of the recursive readers that follow. Returns the first syntax error.
fn strict_syntax(sources: &SourceMap, id: SourceId, text: &str) -> Option<ParseError> {
    // Windows PowerShell 5's `Out-File` and `>` write UTF-8 with a byte order mark; JSON forbids
    // one (RFC 8259 §8.1) and the AWS CLI's own output never has it.
    if text.starts_with('\u{feff}') {
        return Some(
            ParseError::at(
                sources,
                Span::new(id, 0, '\u{feff}'.len_utf8()),
                "invalid JSON: the file starts with a UTF-8 byte order mark (BOM)",
                "byte order mark (EF BB BF)",
            )
            .with_help("save the file as UTF-8 without BOM (PowerShell: `Out-File -Encoding utf8NoBOM`, or `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`)"),
        );
    }
    if let Some(at) = too_deep(text) {
        return Some(ParseError::at(
            sources,
            Span::new(id, at, at + 1),
            format!("invalid JSON: recursion limit exceeded (nested deeper than {MAX_DEPTH} levels)"),
            "here",
        ));
    }
    let e = serde_json::from_str::<serde::de::IgnoredAny>(text).err()?;
    // serde_json gives a 1-based line and a 1-based byte column; turn them into a byte offset.
    let line_start =
        if e.line() <= 1 { 0 } else { text.match_indices('\n').nth(e.line() - 2).map_or(text.len(), |(i, _)| i + 1) };
    let mut offset = (line_start + e.column().saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let end = text[offset..].chars().next().map_or(offset, |c| offset + c.len_utf8());
    // The message without serde_json's own " at line L column C": the location is ours.
    let full = e.to_string();
    let message = full.rsplit_once(" at line ").map_or(full.as_str(), |(m, _)| m);
    Some(ParseError::at(sources, Span::new(id, offset, end), format!("invalid JSON: {message}"), "here"))
}

/// How deep arrays and objects may nest (serde_json's own default limit).
const MAX_DEPTH: usize = 128;

/// The byte offset of the first bracket nested deeper than [`MAX_DEPTH`], outside strings.
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn convert(sources: &SourceMap, id: SourceId, v: ast::Value<'_>, errors: &mut Errors) -> Json {
    let span = |r: jsonc_parser::common::Range| Span::new(id, r.start, r.end);
    match v {
        ast::Value::NullKeyword(n) => Json { kind: JsonKind::Null, span: span(n.range) },
        ast::Value::BooleanLit(b) => Json { kind: JsonKind::Bool(b.value), span: span(b.range) },
        ast::Value::NumberLit(n) => Json { kind: JsonKind::Number(n.value.to_string()), span: span(n.range) },
        ast::Value::StringLit(s) => Json { kind: JsonKind::String(s.value.into_owned()), span: span(s.range) },
        ast::Value::Array(a) => Json {
            span: span(a.range),
            kind: JsonKind::Array(a.elements.into_iter().map(|e| convert(sources, id, e, errors)).collect()),
        },
        ast::Value::Object(o) => {
            let obj_span = span(o.range);
            let mut members: Vec<(Spanned<String>, Json)> = Vec::with_capacity(o.properties.len());
            for p in o.properties {
                let (name, name_range) = match p.name {
                    ast::ObjectPropName::String(s) => (s.value.into_owned(), s.range),
                    ast::ObjectPropName::Word(w) => (w.value.to_string(), w.range),
                };
                let name_span = span(name_range);
                if members.iter().any(|(k, _)| k.value == name) {
                    errors.push(ParseError::at(
                        sources,
                        name_span,
                        format!("duplicate member `{name}`"),
                        "defined again here",
                    ));
                }
                members.push((Spanned::new(name, name_span), convert(sources, id, p.value, errors)));
            }
            Json { kind: JsonKind::Object(members), span: obj_span }
        }
    }
}

/// Reads a document that may be embedded: an object is used as it is; a string holds the
/// document as JSON text (a key policy, an SCP's `Content`) or URL-encoded JSON (IAM documents
/// as `get-account-authorization-details` returns them on the wire). An embedded document gets a
/// source of its own, named after the element it came from, so that errors show its text.
pub fn embedded_document(sources: &mut SourceMap, value: &Json, what: &str) -> Result<Json, ParseError> {
    match &value.kind {
        JsonKind::Object(_) => Ok(value.clone()),
        JsonKind::String(text) => {
            let trimmed = text.trim_start();
            let decoded = if trimmed.starts_with('%') {
                match percent_encoding::percent_decode_str(text).decode_utf8() {
                    Ok(s) => s.into_owned(),
                    Err(_) => {
                        return Err(ParseError::at(
                            sources,
                            value.span,
                            format!("{what} is URL-encoded but does not decode to UTF-8"),
                            "this document",
                        ))
                    }
                }
            } else {
                text.clone()
            };
            let parent = sources.name(value.span.source).to_string();
            let id = sources.add(format!("{parent} → {what}"), decoded, Some(value.span));
            parse_json(sources, id)
        }
        _ => Err(ParseError::at(
            sources,
            value.span,
            format!("{what} must be a policy document (an object or a JSON string), found {}", value.type_name()),
            "expected a policy document",
        )),
    }
}

/// Accessors that record an error when a member is missing or has the wrong type.
pub struct Reader<'a> {
    pub sources: &'a mut SourceMap,
    pub errors: Errors,
    /// What was read but has no effect or is not modelled: shown to the user, never dropped.
    pub notes: Vec<Spanned<String>>,
}

impl<'a> Reader<'a> {
    pub fn new(sources: &'a mut SourceMap) -> Self {
        Reader { sources, errors: Errors::default(), notes: Vec::new() }
    }

    /// Records a note at a span.
    pub fn note(&mut self, span: Span, text: impl Into<String>) {
        self.notes.push(Spanned::new(text.into(), span));
    }

    /// An embedded document (see [`embedded_document`]); on error, records it.
    pub fn embedded(&mut self, value: &Json, what: &str) -> Option<Json> {
        match embedded_document(self.sources, value, what) {
            Ok(doc) => Some(doc),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// Ends reading: every recorded error, together.
    pub fn finish(self, scope: &str) -> Result<(), ParseError> {
        ParseError::collect(scope, self.errors.0)
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>, label: impl Into<String>) {
        let e = ParseError::at(self.sources, span, message, label);
        self.errors.push(e);
    }

    pub fn object<'j>(&mut self, v: &'j Json, what: &str) -> Option<&'j Json> {
        if v.members().is_some() {
            Some(v)
        } else {
            self.error(v.span, format!("{what} must be an object, found {}", v.type_name()), "expected an object");
            None
        }
    }

    pub fn array<'j>(&mut self, v: &'j Json, what: &str) -> &'j [Json] {
        match v.elements() {
            Some(e) => e,
            None => {
                self.error(v.span, format!("{what} must be an array, found {}", v.type_name()), "expected an array");
                &[]
            }
        }
    }

    /// A required member of an object.
    pub fn req<'j>(&mut self, obj: &'j Json, name: &str) -> Option<&'j Json> {
        let found = obj.get(name);
        if found.is_none() && obj.members().is_some() {
            self.error(obj.span, format!("missing `{name}`"), format!("this object has no `{name}`"));
        }
        found
    }

    pub fn string(&mut self, v: &Json, what: &str) -> Option<Spanned<String>> {
        match &v.kind {
            JsonKind::String(s) => Some(Spanned::new(s.clone(), v.span)),
            _ => {
                self.error(v.span, format!("{what} must be a string, found {}", v.type_name()), "expected a string");
                None
            }
        }
    }

    pub fn req_string(&mut self, obj: &Json, name: &str) -> Option<Spanned<String>> {
        let v = self.req(obj, name)?;
        self.string(v, &format!("`{name}`"))
    }

    pub fn opt_string(&mut self, obj: &Json, name: &str) -> Option<Spanned<String>> {
        match obj.get(name) {
            None | Some(Json { kind: JsonKind::Null, .. }) => None,
            Some(v) => self.string(v, &format!("`{name}`")),
        }
    }

    pub fn opt_bool(&mut self, obj: &Json, name: &str) -> Option<bool> {
        match obj.get(name) {
            None | Some(Json { kind: JsonKind::Null, .. }) => None,
            Some(v) => match v.as_bool() {
                Some(b) => Some(b),
                None => {
                    self.error(
                        v.span,
                        format!("`{name}` must be a boolean, found {}", v.type_name()),
                        "expected true or false",
                    );
                    None
                }
            },
        }
    }

    /// A member that is an array of strings (absent = empty).
    pub fn string_list(&mut self, obj: &Json, name: &str) -> Vec<Spanned<String>> {
        match obj.get(name) {
            None | Some(Json { kind: JsonKind::Null, .. }) => Vec::new(),
            Some(v) => {
                let items = self.array(v, &format!("`{name}`"));
                items.iter().filter_map(|i| self.string(i, &format!("an element of `{name}`"))).collect()
            }
        }
    }

    /// A member that is an array of objects (absent = empty).
    pub fn object_list<'j>(&mut self, obj: &'j Json, name: &str) -> Vec<&'j Json> {
        match obj.get(name) {
            None | Some(Json { kind: JsonKind::Null, .. }) => Vec::new(),
            Some(v) => {
                let items = self.array(v, &format!("`{name}`"));
                items.iter().filter(|i| self.object(i, &format!("an element of `{name}`")).is_some()).collect()
            }
        }
    }
}

/// The JSON text `text` laid out two spaces to a level, its members in their order (a statement
/// of a one-line policy, shown as a person reads it). Strings are copied as written; text that is
/// not JSON is laid out as far as its brackets go.
pub fn pretty(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut chars = text.trim().chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', depth * 2));
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                let mut escaped = false;
                for c in chars.by_ref() {
                    out.push(c);
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => escaped = false,
                    }
                }
            }
            '{' | '[' => {
                out.push(c);
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                if let Some(close) = chars.next_if(|n| matches!((c, n), ('{', '}') | ('[', ']'))) {
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod pretty_tests {
    #[test]
    fn one_line_json_is_laid_out_in_its_order() {
        let text = r#"{"Sid":"DenyKeyAdmin","Effect":"Deny","Action":["kms:DisableKey","kms:PutKeyPolicy"],"Resource":"*","Condition":{},"Note":"a, {b} \"c\""}"#;
        let want = r#"{
  "Sid": "DenyKeyAdmin",
  "Effect": "Deny",
  "Action": [
    "kms:DisableKey",
    "kms:PutKeyPolicy"
  ],
  "Resource": "*",
  "Condition": {},
  "Note": "a, {b} \"c\""
}"#;
        assert_eq!(super::pretty(text), want);
        // Already laid-out text comes out the same.
        assert_eq!(super::pretty(want), want);
    }
}
