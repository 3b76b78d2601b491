//! Source files and spans: every parsed element remembers where its text lives, so that an error
//! or a trace can point at file, line and column. Embedded documents (a key policy inside a JSON
//! string, a URL-encoded IAM policy) get a source of their own that names the file they came from.

use std::sync::Arc;

/// Index of a source in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SourceId(pub u32);

/// A byte range in one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub source: SourceId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(source: SourceId, start: usize, end: usize) -> Self {
        Span { source, start, end }
    }
}

/// A value with the span of its text. Equality and hashing ignore the span.
#[derive(Debug, Clone, Default)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for Spanned<T> {}

impl<T: std::hash::Hash> std::hash::Hash for Spanned<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// One source text: a file of the snapshot, or a document embedded in one.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown to the user: the path relative to the snapshot, and for an embedded
    /// document the element it came from (`accounts/…/key.json → Policy`).
    pub name: String,
    pub text: Arc<String>,
    /// Where an embedded document sits in its parent file.
    pub embedded_in: Option<Span>,
    line_starts: Vec<usize>,
}

/// A line and column, both 1-based; the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl SourceFile {
    pub fn line_col(&self, offset: usize) -> LineCol {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let end = offset.min(self.text.len());
        let column = self.text.get(start..end).map_or(0, |s| s.chars().count()) + 1;
        LineCol { line: line + 1, column }
    }

    /// The text of a span, or `""` when the span does not fall on character boundaries.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }
}

/// Every source read while loading a snapshot or a properties file.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
    /// The folder the snapshot's files are named under (`corpus/central-kms`), as the user gave
    /// it: see [`SourceMap::set_root`].
    root: Option<String>,
    /// The places located so far ([`SourceMap::locate`]): only the spans a trace or a report
    /// cites, never every value of a file. A clone starts empty (its sources may diverge from
    /// this one's).
    located: std::sync::RwLock<std::collections::HashMap<Span, Location>>,
    /// The statements located so far ([`SourceMap::locate_statement_shared`]), shared: a trace
    /// entry holds one reference, not a copy of the place's strings.
    statements: std::sync::RwLock<std::collections::HashMap<Span, StatementPlace>>,
}

/// A statement's label (`Sid` or `#index`) and its place.
type StatementPlace = (Option<String>, Arc<Location>);

impl Clone for SourceMap {
    fn clone(&self) -> Self {
        SourceMap {
            files: self.files.clone(),
            root: self.root.clone(),
            located: Default::default(),
            statements: Default::default(),
        }
    }
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: String, embedded_in: Option<Span>) -> SourceId {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let id = SourceId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile { name: name.into(), text: Arc::new(text), embedded_in, line_starts });
        id
    }

    /// Names the snapshot files added from now on under `prefix`, the folder as the user gave
    /// it (`--snapshot corpus/central-kms` → `corpus/central-kms/accounts/…`), so that every
    /// location can be opened from where the command ran. `.` and an empty prefix name no folder.
    pub fn set_root(&mut self, prefix: &str) {
        let p = prefix.replace('\\', "/");
        let mut p = p.trim_end_matches('/');
        while let Some(rest) = p.strip_prefix("./") {
            p = rest;
        }
        self.root = (!p.is_empty() && p != ".").then(|| p.to_string());
    }

    /// The name of a snapshot file given relative to the snapshot folder: under the root set by
    /// [`SourceMap::set_root`], if any.
    pub fn rooted(&self, rel: &str) -> String {
        match &self.root {
            Some(r) => format!("{r}/{rel}"),
            None => rel.to_string(),
        }
    }

    pub fn get(&self, id: SourceId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn name(&self, id: SourceId) -> &str {
        self.get(id).map_or("<unknown>", |f| f.name.as_str())
    }

    /// The text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        self.get(span.source).map_or("", |f| f.slice(span))
    }

    /// `file:line:column` of the start of a span.
    pub fn location(&self, span: Span) -> String {
        match self.get(span.source) {
            Some(f) => {
                let lc = f.line_col(span.start);
                format!("{}:{}:{}", f.name, lc.line, lc.column)
            }
            None => "<unknown>".to_string(),
        }
    }

    /// Where a span is, computed on demand: the file, line and column in the real file (for a
    /// document embedded in a JSON string, the place of the span's text inside that string, or
    /// the string itself when the document was URL-encoded), the JSON pointer of the value the
    /// span starts at, and for an embedded document, where inside it. `statement` is left for
    /// the caller, who knows the statement.
    pub fn locate(&self, span: Span) -> Location {
        if let Some(l) = self.located.read().ok().and_then(|c| c.get(&span).cloned()) {
            return l;
        }
        let l = self.locate_uncached(span);
        if let Ok(mut c) = self.located.write() {
            c.insert(span, l.clone());
        }
        l
    }

    fn locate_uncached(&self, span: Span) -> Location {
        let Some(f) = self.get(span.source) else {
            return Location {
                file: "<unknown>".to_string(),
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 1,
                json_pointer: None,
                embedded: None,
                statement: None,
            };
        };
        let embedded = f.embedded_in.map(|_| {
            let lc = f.line_col(span.start);
            EmbeddedLocation {
                element: String::new(),
                line: lc.line,
                column: lc.column,
                json_pointer: self.pointer(span.source, span.start),
            }
        });
        // Up to the real file, one embedding at a time.
        let (mut id, mut start, mut end) = (span.source, span.start, span.end);
        while let Some(parent) = self.get(id).and_then(|f| f.embedded_in) {
            let (s, e) = match (self.to_parent(id, start), self.to_parent(id, end)) {
                (Some(s), Some(e)) => (s, e),
                _ => (parent.start, parent.end),
            };
            (id, start, end) = (parent.source, s, e);
        }
        let real = self.get(id).unwrap_or(f);
        let (a, b) = (real.line_col(start), real.line_col(end.max(start)));
        let embedded = embedded.map(|mut e| {
            let prefix = format!("{} → ", real.name);
            e.element = f.name.strip_prefix(&prefix).unwrap_or(&f.name).to_string();
            e
        });
        // The pointer in the real file: of the string an embedded document is in.
        let pointer = if f.embedded_in.is_some() {
            let outer = self.outermost(span);
            self.pointer(outer.source, outer.start)
        } else {
            self.pointer(span.source, span.start)
        };
        Location {
            file: real.name.clone(),
            line: a.line,
            column: a.column,
            end_line: b.line,
            end_column: b.column,
            json_pointer: pointer,
            embedded,
            statement: None,
        }
    }

    /// [`SourceMap::locate`] of a statement, with its `Sid` or index: `label` is the statement's
    /// `Sid`, or `#index` when it has none (as traces name statements).
    pub fn locate_statement(&self, span: Span, label: Option<&str>) -> Location {
        Self::with_statement(self.locate(span), label)
    }

    fn with_statement(mut l: Location, label: Option<&str>) -> Location {
        if let Some(label) = label {
            let pointer = l.embedded.as_ref().map_or(l.json_pointer.as_deref(), |e| e.json_pointer.as_deref());
            l.statement = StatementRef::from_label(label, pointer);
        }
        l
    }

    /// [`SourceMap::locate_statement`], computed once per span and shared (the evaluator cites
    /// the same statements in millions of traces). A span is one statement, so its label is
    /// always the same; a different one is located afresh.
    pub fn locate_statement_shared(&self, span: Span, label: Option<&str>) -> Arc<Location> {
        if let Some((l, at)) = self.statements.read().ok().and_then(|c| c.get(&span).cloned()) {
            if l.as_deref() == label {
                return at;
            }
            return Arc::new(self.locate_statement(span, label));
        }
        // Not through `locate`'s cache: the place is kept once, here.
        let at = Arc::new(Self::with_statement(self.locate_uncached(span), label));
        if let Ok(mut c) = self.statements.write() {
            c.insert(span, (label.map(str::to_string), at.clone()));
        }
        at
    }

    /// The offset in the parent file of an offset in an embedded document, when the document is
    /// a JSON string's text as it is (escapes decoded); `None` otherwise (URL-encoded, or not
    /// in a JSON string).
    fn to_parent(&self, id: SourceId, offset: usize) -> Option<usize> {
        let f = self.get(id)?;
        let parent = f.embedded_in?;
        let raw = self.slice(parent);
        let body = raw.strip_prefix('"')?.strip_suffix('"')?;
        if body.trim_start().starts_with('%') {
            return None;
        }
        let base = parent.start + 1;
        let bytes = body.as_bytes();
        let (mut i, mut decoded, mut found) = (0usize, 0usize, None);
        while i < bytes.len() {
            if decoded >= offset && found.is_none() {
                found = Some(base + i);
            }
            if bytes[i] == b'\\' {
                let (raw_len, out_len) = escape_len(&body[i..]);
                i += raw_len;
                decoded += out_len;
            } else {
                let ch = body[i..].chars().next()?;
                i += ch.len_utf8();
                decoded += ch.len_utf8();
            }
        }
        // The walk must give the document's text exactly, else the place is not known.
        if decoded != f.text.len() {
            return None;
        }
        found.or((decoded >= offset).then_some(base + bytes.len()))
    }

    /// The RFC 6901 pointer of the JSON value (or member) at an offset, by a scan of the text up
    /// to there; `None` for a source that is not JSON.
    fn pointer(&self, id: SourceId, offset: usize) -> Option<String> {
        let text = &self.get(id)?.text;
        if !text.trim_start().starts_with(['{', '[']) {
            return None;
        }
        json_pointer(text, offset)
    }

    /// The span in a real file that contains a span: for an embedded document, the string it
    /// was embedded in; otherwise the span itself.
    pub fn outermost(&self, span: Span) -> Span {
        let mut s = span;
        while let Some(parent) = self.get(s.source).and_then(|f| f.embedded_in) {
            s = parent;
        }
        s
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Where a span is: a place in a real file, and for a document embedded in a JSON string (a key
/// policy, an SCP's `Content`), the place inside that document too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The file as the user can open it (under the snapshot folder as given).
    pub file: String,
    /// 1-based; the column counts characters.
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// RFC 6901 pointer, in the real file, of the value the span starts at (for an embedded
    /// document, of the string that holds it); `null` for a file that is not JSON.
    pub json_pointer: Option<String>,
    /// For a span in an embedded document: where inside it.
    pub embedded: Option<EmbeddedLocation>,
    /// The statement, when the place is one.
    pub statement: Option<StatementRef>,
}

/// A place inside an embedded document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EmbeddedLocation {
    /// The element the document is the value of (`Policy`, `Content`).
    pub element: String,
    pub line: usize,
    pub column: usize,
    /// The pointer inside the embedded document (`/Statement/2`).
    pub json_pointer: Option<String>,
}

/// A statement of a policy document: its `Sid` if it has one, and its position (from 0).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatementRef {
    pub sid: Option<String>,
    pub index: usize,
}

impl StatementRef {
    /// From a trace's label (`Sid`, or `#index`) and the statement's pointer (`…/Statement/3`,
    /// or `…/Statement` for a single statement object).
    pub fn from_label(label: &str, pointer: Option<&str>) -> Option<StatementRef> {
        if let Some(i) = label.strip_prefix('#').and_then(|n| n.parse().ok()) {
            return Some(StatementRef { sid: None, index: i });
        }
        let p = pointer?;
        let index = match p.rsplit_once("/Statement") {
            Some((_, "")) => 0,
            Some((_, rest)) => rest.strip_prefix('/')?.parse().ok()?,
            None => return None,
        };
        Some(StatementRef { sid: Some(label.to_string()), index })
    }
}

impl std::fmt::Display for Location {
    /// The text form: `file:line:column`, and for an embedded document
    /// `file → Element:line:column` with the place inside it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.embedded {
            Some(e) => write!(f, "{} → {}:{}:{}", self.file, e.element, e.line, e.column),
            None => write!(f, "{}:{}:{}", self.file, self.line, self.column),
        }
    }
}

/// The raw length and the decoded length in bytes of the JSON escape at the start of `s`.
fn escape_len(s: &str) -> (usize, usize) {
    let b = s.as_bytes();
    if b.get(1) != Some(&b'u') {
        return (2.min(b.len()), 1);
    }
    let hex = |at: usize| s.get(at..at + 4).and_then(|h| u32::from_str_radix(h, 16).ok());
    match hex(2) {
        Some(0xD800..=0xDBFF)
            if s.get(6..8) == Some("\\u") && hex(8).is_some_and(|lo| (0xDC00..=0xDFFF).contains(&lo)) =>
        {
            (12, 4)
        }
        Some(c) => (6, char::from_u32(c).map_or(3, char::len_utf8)),
        None => (2, 1),
    }
}

/// The RFC 6901 pointer of the value or member at `offset` in a JSON text: the last value or
/// member name that starts at or before it. `None` when the text is not JSON up to there.
pub fn json_pointer(text: &str, offset: usize) -> Option<String> {
    enum Frame {
        Object(Option<String>),
        Array(Option<usize>),
    }
    fn render(stack: &[Frame]) -> String {
        let mut out = String::new();
        for f in stack {
            out.push('/');
            match f {
                Frame::Object(k) => out.push_str(&k.as_deref().unwrap_or("").replace('~', "~0").replace('/', "~1")),
                Frame::Array(i) => out.push_str(&i.unwrap_or(0).to_string()),
            }
        }
        out
    }
    let b = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut last = None;
    let mut expect_key = false;
    let mut i = 0;
    while i < b.len() && i <= offset {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' => {
                if b[i] == b',' {
                    if let Some(Frame::Object(_)) = stack.last() {
                        expect_key = true;
                    }
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        // A value (or a member name) starts at i.
        if b[i] == b'"' && expect_key {
            let end = string_end(b, i)?;
            let key: String = serde_json::from_str(&text[i..end]).ok()?;
            if let Some(Frame::Object(k)) = stack.last_mut() {
                *k = Some(key);
            }
            last = Some(render(&stack));
            expect_key = false;
            i = end;
            continue;
        }
        if matches!(b[i], b'}' | b']') {
            stack.pop();
            i += 1;
            continue;
        }
        if let Some(Frame::Array(n)) = stack.last_mut() {
            *n = Some(n.map_or(0, |n| n + 1));
        }
        last = Some(render(&stack));
        match b[i] {
            b'{' => {
                stack.push(Frame::Object(None));
                expect_key = true;
                i += 1;
            }
            b'[' => {
                stack.push(Frame::Array(None));
                i += 1;
            }
            b'"' => i = string_end(b, i)?,
            _ => {
                while i < b.len() && !matches!(b[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
            }
        }
    }
    last
}

/// The offset just after the JSON string that starts at `i`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        miette::SourceSpan::new(s.start.into(), s.end.saturating_sub(s.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers() {
        let text = r#"{"a": [1, {"b/c": "x"}], "d~": {"e": true}}"#;
        let at = |needle: &str| json_pointer(text, text.find(needle).unwrap());
        assert_eq!(json_pointer(text, 0).as_deref(), Some(""));
        assert_eq!(at("[1").as_deref(), Some("/a"));
        assert_eq!(at("1,").as_deref(), Some("/a/0"));
        assert_eq!(at("{\"b").as_deref(), Some("/a/1"));
        assert_eq!(at("\"x\"").as_deref(), Some("/a/1/b~1c"));
        assert_eq!(at("true").as_deref(), Some("/d~0/e"));
    }

    #[test]
    fn embedded_places_map_to_the_real_file() {
        let mut sources = SourceMap::new();
        sources.set_root("./corpus/demo/");
        let name = sources.rooted("k.json");
        let outer = "{\n  \"Policy\": \"{\\\"Statement\\\": [{\\\"Sid\\\": \\\"A\\\"}]}\"\n}";
        let parent = sources.add(name, outer.to_string(), None);
        let start = outer.find("\"{").unwrap();
        let inner = r#"{"Statement": [{"Sid": "A"}]}"#;
        let id = sources.add(
            "corpus/demo/k.json → Policy",
            inner.to_string(),
            Some(Span::new(parent, start, outer.len() - 2)),
        );
        let at = inner.find("{\"Sid").unwrap();
        let l = sources.locate_statement(Span::new(id, at, inner.len() - 1), Some("A"));
        assert_eq!(l.file, "corpus/demo/k.json");
        assert_eq!((l.line, l.column), (2, 1 + outer.lines().nth(1).unwrap().find("{\\\"Sid").unwrap()));
        assert_eq!(l.json_pointer.as_deref(), Some("/Policy"));
        let e = l.embedded.clone().unwrap();
        assert_eq!((e.element.as_str(), e.line, e.column), ("Policy", 1, 16));
        assert_eq!(e.json_pointer.as_deref(), Some("/Statement/0"));
        assert_eq!(l.statement, Some(StatementRef { sid: Some("A".into()), index: 0 }));
        assert_eq!(l.to_string(), "corpus/demo/k.json → Policy:1:16");
        assert_eq!(l.to_string(), sources.location(Span::new(id, at, at)));
    }
}

/// Lines longer than this many characters are cut around the span when shown.
pub const LONG_LINE: usize = 200;
/// Characters kept before a span on a cut line.
const LEAD: usize = 40;
/// Characters kept after a span on a cut line, and the least width of the cut.
const TAIL: usize = 40;
const WINDOW: usize = 120;
/// A span longer than this many characters on a long line is shown only in part.
const MAX_SHOWN: usize = 600;

/// The lines of a source around a span, as a diagnostic shows them: the span's lines with one
/// line of context either side, or, where a line is longer than [`LONG_LINE`] characters (a
/// policy collected from AWS is one line), only the part of the span's line around it, cut with
/// `…`. miette reads it with the span's offsets in the whole file (the JSON report's offsets stay
/// the file's), and its header shows the line and the column in characters of the whole file.
/// It holds only the excerpt, never a copy of the whole file.
#[derive(Debug, Clone)]
pub struct Excerpt {
    name: String,
    text: String,
    /// The offset in the file that `text[0]` stands for (a leading `…` stands for the three
    /// bytes before the cut).
    base: usize,
    /// The 0-based line of `text`'s first line in the file.
    first_line: usize,
    /// The character column in the file of `text[marker]`, and the bytes of the leading `…`.
    first_column: usize,
    marker: usize,
    /// The line was cut, or the span is shown only in part.
    cut: bool,
}

/// The last character boundary at or before `i`.
fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `n` characters back from `i`, not before `floor`.
fn back_chars(s: &str, i: usize, n: usize, floor: usize) -> usize {
    s[floor..i].char_indices().rev().nth(n.saturating_sub(1)).map_or(floor, |(j, _)| floor + j)
}

/// `n` characters on from `i`, not past `ceil`.
fn on_chars(s: &str, i: usize, n: usize, ceil: usize) -> usize {
    s[i..ceil].char_indices().nth(n).map_or(ceil, |(j, _)| i + j)
}

fn long(line: &str) -> bool {
    line.len() > LONG_LINE && line.chars().count() > LONG_LINE
}

impl SourceFile {
    /// The start and the end (before its line break) of the 0-based line `i`.
    fn line_bounds(&self, i: usize) -> (usize, usize) {
        let start = self.line_starts.get(i).copied().unwrap_or(self.text.len());
        let next = self.line_starts.get(i + 1).copied().unwrap_or(self.text.len());
        let line = &self.text[start..next];
        (start, start + line.trim_end_matches(['\n', '\r']).len())
    }

    fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// The excerpt of the text around `[start, end)`, and the span to label in it (the span
    /// itself, or its part on the excerpt when it runs past a cut).
    pub fn excerpt(&self, start: usize, end: usize) -> (Excerpt, miette::SourceSpan) {
        let text = self.text.as_str();
        let start = floor_boundary(text, start);
        let end = floor_boundary(text, end.max(start));
        let (first, last) = (self.line_of(start), self.line_of(end.saturating_sub(1).max(start)));
        let ctx_first = first.saturating_sub(1);
        let ctx_last = (last + 1).min(self.line_starts.len().saturating_sub(1));
        let is_long = |i: usize| {
            let (s, e) = self.line_bounds(i);
            long(&text[s..e])
        };
        if !is_long(first) {
            // Whole lines: the span's own (a long one among them is shown whole: cutting it
            // would hide the rest of the span), and one line of context either side unless long.
            let from_line = if ctx_first < first && !is_long(ctx_first) { ctx_first } else { first };
            let to_line = if ctx_last > last && !is_long(ctx_last) { ctx_last } else { last };
            let from = self.line_bounds(from_line).0;
            let to = self.line_starts.get(to_line + 1).copied().unwrap_or(text.len());
            let ex = Excerpt {
                name: self.name.clone(),
                text: text[from..to].to_string(),
                base: from,
                first_line: from_line,
                first_column: 0,
                marker: 0,
                cut: false,
            };
            return (ex, (start, end - start).into());
        }
        // One line, cut around the span.
        let (ls, le) = self.line_bounds(first);
        let start = start.min(le);
        let shown_end = end.min(le).min(on_chars(text, start, MAX_SHOWN, le));
        let ws = if text[ls..start].chars().count() <= LEAD + 10 { ls } else { back_chars(text, start, LEAD, ls) };
        let we = on_chars(text, shown_end, TAIL, le).max(on_chars(text, ws, WINDOW, le));
        let (lead, marker) = if ws > ls { ("…", '…'.len_utf8()) } else { ("", 0) };
        let trail = if we < le { "…" } else { "" };
        let ex = Excerpt {
            name: self.name.clone(),
            text: format!("{lead}{}{trail}", &text[ws..we]),
            base: ws - marker,
            first_line: first,
            first_column: text[ls..ws].chars().count(),
            marker,
            cut: ws > ls || we < le || shown_end < end,
        };
        (ex, (start, shown_end - start).into())
    }
}

impl SourceMap {
    /// [`SourceFile::excerpt`] of a span's file.
    pub fn excerpt(&self, span: Span) -> (Excerpt, miette::SourceSpan) {
        match self.get(span.source) {
            Some(f) => f.excerpt(span.start, span.end),
            None => (
                Excerpt {
                    name: "<unknown>".into(),
                    text: String::new(),
                    base: 0,
                    first_line: 0,
                    first_column: 0,
                    marker: 0,
                    cut: false,
                },
                (0, 0).into(),
            ),
        }
    }
}

impl Excerpt {
    /// The excerpt's text, as shown (with `…` where a line is cut).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the span's line was cut, or the span is shown only in part.
    pub fn is_cut(&self) -> bool {
        self.cut
    }
}

impl miette::SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let local_start = floor_boundary(&self.text, span.offset().saturating_sub(self.base));
        let local_len = span.len().min(self.text.len() - local_start);
        let local: miette::SourceSpan = (local_start, local_len).into();
        let c = self.text.as_str().read_span(&local, context_lines_before, context_lines_after)?;
        let at = c.span().offset();
        let line_start = self.text[..at].rfind('\n').map_or(0, |i| i + 1);
        // miette's own column counts bytes; the header's column counts characters, as
        // keyproof's locations do.
        let column = if line_start == 0 {
            self.first_column + self.text[self.marker.min(at)..at].chars().count()
        } else {
            self.text[line_start..at].chars().count()
        };
        let column = if context_lines_before == 0 { column } else { c.column() };
        // The line as keyproof's locations count lines (a lone `\r` is not a line break there).
        let line = if context_lines_before == 0 { self.text[..at].matches('\n').count() } else { c.line() };
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            c.data(),
            (at + self.base, c.span().len()).into(),
            line + self.first_line,
            column,
            c.line_count(),
        )))
    }
}

#[cfg(test)]
mod excerpt_tests {
    use super::*;
    use miette::{GraphicalReportHandler, GraphicalTheme};

    fn render(e: &crate::ParseError) -> String {
        let mut out = String::new();
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(200)
            .render_report(&mut out, e)
            .unwrap();
        out
    }

    #[test]
    fn a_long_line_is_cut_around_the_span_and_the_header_counts_characters() {
        // One line of 6,000 characters (as the AWS CLI writes a policy), with multibyte ones before the span.
        let filler = "é".repeat(3000);
        let text = format!("{{\"Description\":\"{filler}\",\"Effect\":\"Permit\",\"Rest\":\"{}\"}}", "x".repeat(3000));
        let at = text.find("\"Permit\"").unwrap();
        let mut sources = SourceMap::new();
        let id = sources.add("key.json", text.clone(), None);
        let e = crate::ParseError::at(&sources, Span::new(id, at, at + 8), "invalid `Effect`", "here");
        let out = render(&e);
        // The place in characters, not bytes (3,000 of the characters before it are two bytes).
        let column = text[..at].chars().count() + 1;
        assert_eq!(column, at - 3000 + 1);
        assert!(out.contains(&format!("[key.json:1:{column}]")), "{out}");
        assert!(out.contains("…éé"), "cut before the span: {out}");
        assert!(out.contains("\"Permit\",\"Rest\":\"xxx"), "{out}");
        assert!(out.contains("xxx…"), "cut after the span: {out}");
        assert!(out.len() < 1_500, "{} bytes: {out}", out.len());
        // The error keeps the file's offsets (the JSON report's).
        let crate::ParseError::Invalid { at: shown, location, .. } = &e else { panic!() };
        assert_eq!((shown.offset(), shown.len()), (at, 8));
        assert_eq!(location, &format!("key.json:1:{column}"));
    }

    #[test]
    fn short_lines_are_shown_whole_with_their_neighbours() {
        let text = "{\n  \"Effect\": \"Permit\",\n  \"Action\": \"kms:Decrypt\"\n}\n";
        let at = text.find("\"Permit\"").unwrap();
        let mut sources = SourceMap::new();
        let id = sources.add("p.json", text.to_string(), None);
        let (ex, span) = sources.excerpt(Span::new(id, at, at + 8));
        assert!(!ex.is_cut());
        assert_eq!(ex.text(), "{\n  \"Effect\": \"Permit\",\n  \"Action\": \"kms:Decrypt\"\n", "one line either side");
        assert_eq!((span.offset(), span.len()), (at, 8));
        let out = render(&crate::ParseError::at(&sources, Span::new(id, at, at + 8), "invalid", "here"));
        assert!(out.contains("[p.json:2:13]"), "{out}");
        assert!(out.contains("\"Action\": \"kms:Decrypt\""), "the line after: {out}");
    }

    #[test]
    fn a_span_whose_later_line_is_long_is_shown_whole() {
        // A pretty-printed statement with one long line in it: cutting would hide the statement.
        let arns: Vec<String> = (0..8).map(|i| format!("\"arn:aws:iam::111122223333:role/Role{i}\"")).collect();
        let stmt = format!(
            "{{\n      \"Effect\": \"Allow\",\n      \"Principal\": {{\"AWS\": [{}]}}\n    }}",
            arns.join(", ")
        );
        let text = format!("{{\n  \"Statement\": [\n    {stmt}\n  ]\n}}\n");
        let at = text.find("{\n      \"Effect\"").unwrap();
        let mut sources = SourceMap::new();
        let id = sources.add("p.json", text.clone(), None);
        let (ex, span) = sources.excerpt(Span::new(id, at, at + stmt.len()));
        assert!(!ex.is_cut());
        assert!(ex.text().contains(&stmt), "{}", ex.text());
        assert_eq!((span.offset(), span.len()), (at, stmt.len()));
    }

    #[test]
    fn a_long_span_on_a_long_line_is_shown_in_part() {
        let stmt =
            format!("{{\"Sid\":\"A\",\"Effect\":\"Allow\",\"Action\":[{}]}}", vec!["\"kms:Decrypt\""; 200].join(","));
        let text = format!("{{\"Statement\":[{stmt}]}}");
        let at = text.find("{\"Sid\"").unwrap();
        let mut sources = SourceMap::new();
        let id = sources.add("p.json", text.clone(), None);
        let (ex, span) = sources.excerpt(Span::new(id, at, at + stmt.len()));
        assert!(ex.is_cut());
        assert_eq!(span.offset(), at);
        assert_eq!(span.len(), MAX_SHOWN);
        assert!(ex.text().chars().count() < MAX_SHOWN + TAIL + 20, "{}", ex.text());
    }
}
