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
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
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

    /// The span in a real file that contains a span: for an embedded document, the string it
    /// was embedded in; otherwise the span itself.
    pub fn outermost(&self, span: Span) -> Span {
        let mut s = span;
        while let Some(parent) = self.get(s.source).and_then(|f| f.embedded_in) {
            s = parent;
        }
        s
    }

    /// A miette source for the file of a span.
    pub fn named_source(&self, id: SourceId) -> miette::NamedSource<String> {
        match self.get(id) {
            Some(f) => miette::NamedSource::new(f.name.clone(), f.text.as_ref().clone()).with_language("json"),
            None => miette::NamedSource::new("<unknown>", String::new()),
        }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        miette::SourceSpan::new(s.start.into(), s.end.saturating_sub(s.start))
    }
}
