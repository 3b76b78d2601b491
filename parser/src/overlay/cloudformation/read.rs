//! The template reader: a CloudFormation template in YAML (with the short intrinsic tags) or
//! JSON, read into keyproof's spanned [`Json`] tree, so that the resolver, the policy parser and
//! every error see one shape whatever the template's format, with file, line and column.
//!
//! YAML is read with `saphyr-parser` (a YAML 1.2 event parser that gives each event its span and
//! keeps tags). A short tag becomes the long form it abbreviates (CloudFormation User Guide,
//! intrinsic function reference): `!Ref x` → `{"Ref": "x"}`, `!GetAtt a.b` → `{"Fn::GetAtt":
//! "a.b"}`, `!Sub ...` → `{"Fn::Sub": ...}`, `!Condition c` → `{"Condition": "c"}`. Plain scalars
//! follow the YAML core schema (`true`, `null`, numbers); anything quoted is a string. Aliases are
//! expanded; a second document, a key that is not a scalar and a duplicate key are errors.

use crate::err::ParseError;
use crate::json::{parse_json, Json, JsonKind};
use crate::source::{SourceId, SourceMap, Span, Spanned};
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// How deep mappings and sequences may nest (the JSON reader's limit).
const MAX_DEPTH: usize = 128;

/// How many nodes aliases may add in all.
const MAX_EXPANDED: usize = 100_000;

/// The number of nodes of a tree.
fn size(j: &Json) -> usize {
    1 + match &j.kind {
        JsonKind::Array(a) => a.iter().map(size).sum(),
        JsonKind::Object(m) => m.iter().map(|(_, v)| size(v)).sum(),
        _ => 0,
    }
}

/// The short-form tags: tag suffix → the long form's key.
const TAGS: &[(&str, &str)] = &[
    ("Ref", "Ref"),
    ("Condition", "Condition"),
    ("Base64", "Fn::Base64"),
    ("Cidr", "Fn::Cidr"),
    ("FindInMap", "Fn::FindInMap"),
    ("GetAtt", "Fn::GetAtt"),
    ("GetAZs", "Fn::GetAZs"),
    ("ImportValue", "Fn::ImportValue"),
    ("Join", "Fn::Join"),
    ("Select", "Fn::Select"),
    ("Split", "Fn::Split"),
    ("Sub", "Fn::Sub"),
    ("Transform", "Fn::Transform"),
    ("And", "Fn::And"),
    ("Equals", "Fn::Equals"),
    ("If", "Fn::If"),
    ("Not", "Fn::Not"),
    ("Or", "Fn::Or"),
    ("Length", "Fn::Length"),
    ("ToJsonString", "Fn::ToJsonString"),
];

/// A template as read: its tree, and the errors that did not stop the reading (an unknown tag, a
/// duplicate key), reported with the template's other errors.
#[derive(Debug)]
pub struct TemplateFile {
    pub json: Json,
    pub errors: Vec<ParseError>,
}

/// Reads a template file into the source map.
pub fn read_template_file(path: &std::path::Path, sources: &mut SourceMap) -> Result<TemplateFile, ParseError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ParseError::Io { path: path.display().to_string(), error: e })?;
    let id = sources.add(path.display().to_string(), text, None);
    read_template_lenient(sources, id)
}

/// Reads a template's text: JSON when it starts with `{` (strict JSON, as CloudFormation takes
/// it), YAML otherwise. Every error is an error here.
pub fn read_template(sources: &SourceMap, id: SourceId) -> Result<Json, ParseError> {
    let t = read_template_lenient(sources, id)?;
    ParseError::collect(sources.name(id), t.errors)?;
    Ok(t.json)
}

/// Reads a template, keeping the errors after which the tree is still whole.
pub fn read_template_lenient(sources: &SourceMap, id: SourceId) -> Result<TemplateFile, ParseError> {
    let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
    if text.trim_start().starts_with('{') {
        return Ok(TemplateFile { json: parse_json(sources, id)?, errors: Vec::new() });
    }
    read_yaml(sources, id, &text)
}

enum Frame {
    Seq {
        items: Vec<Json>,
        start: usize,
        tag: Option<String>,
        anchor: usize,
    },
    Map {
        members: Vec<(Spanned<String>, Json)>,
        key: Option<Spanned<String>>,
        start: usize,
        tag: Option<String>,
        anchor: usize,
    },
}

fn read_yaml(sources: &SourceMap, id: SourceId, text: &str) -> Result<TemplateFile, ParseError> {
    // saphyr's markers count characters; spans are byte offsets.
    let mut bytes: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    bytes.push(text.len());
    let at = |chars: usize| bytes.get(chars).copied().unwrap_or(text.len());
    let mut errors = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Json> = HashMap::new();
    let mut root: Option<Json> = None;
    let mut documents = 0;
    let mut expanded = 0usize;
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                let start = at(e.marker().index());
                let end = text[start..].chars().next().map_or(start, |c| start + c.len_utf8());
                errors.push(ParseError::at(
                    sources,
                    Span::new(id, start, end),
                    format!("invalid YAML: {}", e.info()),
                    "here",
                ));
                break;
            }
        };
        let (start, end) = (at(span.start.index()), at(span.end.index()));
        let here = Span::new(id, start, end.max(start));
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => continue,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    errors.push(ParseError::at(
                        sources,
                        here,
                        "a template is one YAML document; this file holds another",
                        "a second document starts here",
                    ));
                    break;
                }
                continue;
            }
            Event::Alias(anchor) => match anchors.get(&anchor) {
                Some(n) => {
                    // Aliases of aliases grow exponentially ("billion laughs"): bound the total.
                    expanded += size(n);
                    if expanded > MAX_EXPANDED {
                        errors.push(ParseError::at(
                            sources,
                            here,
                            format!("an alias: aliases expand to more than {MAX_EXPANDED} nodes"),
                            "here",
                        ));
                        break;
                    }
                    n.clone()
                }
                None => {
                    errors.push(ParseError::at(sources, here, "an alias to an unknown anchor", "unknown anchor"));
                    continue;
                }
            },
            Event::Scalar(value, style, anchor, tag) => {
                let tag = tag.map(|t| (t.handle.clone(), t.suffix.clone()));
                let kind = match &tag {
                    Some((h, s)) if h == "!!" || h == "tag:yaml.org,2002:" => match s.as_str() {
                        "str" => JsonKind::String(value.to_string()),
                        _ => plain(&value),
                    },
                    _ if style == ScalarStyle::Plain => plain(&value),
                    _ => JsonKind::String(value.to_string()),
                };
                let scalar = Json { kind, span: here };
                let node = match tag {
                    Some((h, s)) if h == "!" => match intrinsic(&s) {
                        // A tagged scalar is the function's argument as a string (`!Ref x`).
                        Some(key) => tagged(key, Json { kind: JsonKind::String(value.to_string()), span: here }, here),
                        None => {
                            errors.push(unknown_tag(sources, here, &s));
                            scalar
                        }
                    },
                    _ => scalar,
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if stack.len() >= MAX_DEPTH {
                    errors.push(ParseError::at(
                        sources,
                        here,
                        format!("invalid YAML: nested deeper than {MAX_DEPTH} levels"),
                        "here",
                    ));
                    break;
                }
                let tag = match tag.as_ref().map(|t| (t.handle.clone(), t.suffix.clone())) {
                    Some((h, s)) if h == "!" => match intrinsic(&s) {
                        Some(k) => Some(k.to_string()),
                        None => {
                            errors.push(unknown_tag(sources, here, &s));
                            None
                        }
                    },
                    _ => None,
                };
                let is_seq = matches!(event, Event::SequenceStart(..));
                stack.push(if is_seq {
                    Frame::Seq { items: Vec::new(), start, tag, anchor }
                } else {
                    Frame::Map { members: Vec::new(), key: None, start, tag, anchor }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else { continue };
                let (kind, start, tag, anchor, last) = match frame {
                    Frame::Seq { items, start, tag, anchor } => {
                        let last = items.last().map(|i| i.span.end);
                        (JsonKind::Array(items), start, tag, anchor, last)
                    }
                    Frame::Map { members, key, start, tag, anchor } => {
                        if let Some(k) = key {
                            // A key with no value event cannot happen in YAML; keep it as null.
                            let last = k.span.end;
                            let mut members = members;
                            members.push((k.clone(), Json { kind: JsonKind::Null, span: k.span }));
                            (JsonKind::Object(members), start, tag, anchor, Some(last))
                        } else {
                            let last = members.last().map(|(_, v)| v.span.end);
                            (JsonKind::Object(members), start, tag, anchor, last)
                        }
                    }
                };
                // A block collection's end event sits where the next token starts; the node ends
                // with its last element.
                let end = last.unwrap_or(end).max(start);
                let span = Span::new(id, start, end);
                let node = Json { kind, span };
                let node = match tag {
                    Some(key) => tagged(&key, node, span),
                    None => node,
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
        };
        // Place the finished node in its parent.
        match stack.last_mut() {
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { members, key, .. }) => match key.take() {
                None => match &node.kind {
                    JsonKind::String(s) => *key = Some(Spanned::new(s.clone(), node.span)),
                    JsonKind::Number(s) => *key = Some(Spanned::new(s.clone(), node.span)),
                    JsonKind::Bool(b) => *key = Some(Spanned::new(b.to_string(), node.span)),
                    _ => {
                        errors.push(ParseError::at(
                            sources,
                            node.span,
                            format!("a mapping key must be a plain value, found {}", node.type_name()),
                            "this key",
                        ));
                        *key = Some(Spanned::new(String::new(), node.span));
                    }
                },
                Some(k) => {
                    if members.iter().any(|(m, _)| m.value == k.value) {
                        errors.push(ParseError::at(
                            sources,
                            k.span,
                            format!("duplicate key `{}`", k.value),
                            "defined again here",
                        ));
                    }
                    members.push((k, node));
                }
            },
        }
    }
    // Without a whole tree (a syntax error, a second document), only the errors are reported.
    let whole = !errors.iter().any(|e| {
        let t = e.to_string();
        t.starts_with("invalid YAML") || t.starts_with("a template is one YAML document") || t.starts_with("an alias")
    });
    match root {
        Some(json) if whole => Ok(TemplateFile { json, errors }),
        _ if !errors.is_empty() => Err(ParseError::collect(sources.name(id), errors)
            .err()
            .unwrap_or_else(|| ParseError::Snapshot { message: "the template cannot be read".into(), help: None })),
        _ => Err(ParseError::at(sources, Span::new(id, 0, 0), "the template is empty", "empty")),
    }
}

fn intrinsic(suffix: &str) -> Option<&'static str> {
    TAGS.iter().find(|(t, _)| *t == suffix).map(|(_, k)| *k)
}

fn unknown_tag(sources: &SourceMap, span: Span, suffix: &str) -> ParseError {
    ParseError::at(sources, span, format!("unknown intrinsic function tag `!{suffix}`"), "unknown tag").with_help(
        "CloudFormation's short tags are !Ref, !GetAtt, !Sub, !Join, !If, !Select, !Split, !FindInMap, !ImportValue, \
         !Equals, !And, !Or, !Not, !Condition, !Base64, !Cidr, !GetAZs, !Transform",
    )
}

/// The long form of a tagged node: `{key: node}`.
fn tagged(key: &str, node: Json, span: Span) -> Json {
    Json { kind: JsonKind::Object(vec![(Spanned::new(key.to_string(), span), node)]), span }
}

/// A plain scalar under the YAML 1.2 core schema.
fn plain(s: &str) -> JsonKind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => JsonKind::Null,
        "true" | "True" | "TRUE" => JsonKind::Bool(true),
        "false" | "False" | "FALSE" => JsonKind::Bool(false),
        _ if is_number(s) => JsonKind::Number(s.to_string()),
        _ => JsonKind::String(s.to_string()),
    }
}

fn is_number(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(oct) = body.strip_prefix("0o") {
        return !oct.is_empty() && oct.chars().all(|c| ('0'..='7').contains(&c));
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits = mantissa.chars().filter(char::is_ascii_digit).count();
    let dots = mantissa.chars().filter(|c| *c == '.').count();
    let mantissa_ok = digits > 0 && dots <= 1 && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.');
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Json, String> {
        let mut sources = SourceMap::new();
        let id = sources.add("t.yaml", text.to_string(), None);
        read_template(&sources, id).map_err(|e| e.leaves().iter().map(|l| l.to_string()).collect::<Vec<_>>().join("; "))
    }

    #[test]
    fn short_tags_become_their_long_form() {
        let j = read("A: !Ref X\nB: !GetAtt K.Arn\nC: !Sub\n  - '${a}'\n  - a: b\n").unwrap_or_else(|e| panic!("{e}"));
        let a = j.get("A").and_then(|a| a.get("Ref")).and_then(Json::as_str);
        assert_eq!(a, Some("X"));
        assert_eq!(j.get("B").and_then(|b| b.get("Fn::GetAtt")).and_then(Json::as_str), Some("K.Arn"));
        assert_eq!(j.get("C").and_then(|c| c.get("Fn::Sub")).and_then(Json::elements).map(<[Json]>::len), Some(2));
    }

    #[test]
    fn plain_scalars_follow_the_core_schema_and_quoted_ones_are_strings() {
        let j = read("a: 2012-10-17\nb: 111122223333\nc: '111122223333'\nd: true\ne: ~\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&j.get("a").map(|v| &v.kind), Some(JsonKind::String(s)) if s == "2012-10-17"));
        assert!(matches!(&j.get("b").map(|v| &v.kind), Some(JsonKind::Number(s)) if s == "111122223333"));
        assert!(matches!(&j.get("c").map(|v| &v.kind), Some(JsonKind::String(_))));
        assert!(matches!(j.get("d").map(|v| &v.kind), Some(JsonKind::Bool(true))));
        assert!(matches!(j.get("e").map(|v| &v.kind), Some(JsonKind::Null)));
    }

    #[test]
    fn spans_point_at_line_and_column() {
        let mut sources = SourceMap::new();
        let id = sources.add("t.yaml", "Resources:\n  Key:\n    Type: x\n".to_string(), None);
        let j = read_template(&sources, id).unwrap_or_else(|e| panic!("{e}"));
        let t = j.get("Resources").and_then(|r| r.get("Key")).and_then(|k| k.get("Type"));
        assert_eq!(t.map(|t| sources.location(t.span)), Some("t.yaml:3:11".to_string()));
    }

    #[test]
    fn every_error_of_the_file_is_reported() {
        let e = read("a: !Nope x\nb: 1\nb: 2\nc: !Ref y\n").err().unwrap_or_default();
        assert_eq!(e, "unknown intrinsic function tag `!Nope`; duplicate key `b`");
    }

    #[test]
    fn syntax_errors_are_located_and_aliases_expanded() {
        let e = read("a: [1, 2\n").err().unwrap_or_default();
        assert!(e.starts_with("invalid YAML"), "{e}");
        let j = read("a: &x {k: v}\nb: *x\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(j.get("b").and_then(|b| b.get("k")).and_then(Json::as_str), Some("v"));
        let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            laughs.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = read(&laughs).err().unwrap_or_default();
        assert!(e.contains("aliases expand to more than 100000 nodes"), "{e}");
        let deep = format!("a: {}", "[".repeat(100_000));
        let e = read(&deep).err().unwrap_or_default();
        assert!(e.starts_with("invalid YAML"), "{e}");
    }
}
