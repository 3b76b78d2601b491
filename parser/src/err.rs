//! The parser's one error type.

use crate::source::{SourceMap, Span};
use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

/// Everything that can go wrong while reading keyproof's inputs.
#[derive(Debug, Error, Diagnostic)]
pub enum ParseError {
    /// A file could not be read. The I/O error is said in the message, not again as a cause.
    #[error("cannot read `{path}`: {error}")]
    #[diagnostic(code(keyproof::io))]
    Io { path: String, error: std::io::Error },

    /// A problem at a place in a file.
    #[error("{message}")]
    #[diagnostic(code(keyproof::input))]
    Invalid {
        message: String,
        /// The lines around the place (cut around it on a long line), not the whole file.
        #[source_code]
        src: crate::source::Excerpt,
        #[label("{label}")]
        at: SourceSpan,
        label: String,
        /// `file:line:column`, also in the JSON output.
        location: String,
        /// The same place, structured: for a document embedded in a JSON string, the place in
        /// the real file too (SARIF's region).
        place: Box<crate::source::Location>,
        #[help]
        help: Option<String>,
    },

    /// A problem with the snapshot as a whole (a missing folder, an account id that does not
    /// match its folder name), not at a place in a file.
    #[error("{message}")]
    #[diagnostic(code(keyproof::snapshot))]
    Snapshot {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// Every error found in one file or snapshot, reported together.
    #[error("{count} error{plural} in `{scope}`", plural = if *count == 1 { "" } else { "s" })]
    #[diagnostic(code(keyproof::errors))]
    Several {
        scope: String,
        count: usize,
        #[related]
        errors: Vec<ParseError>,
    },
}

impl ParseError {
    /// An error at a span, labelled.
    pub fn at(sources: &SourceMap, span: Span, message: impl Into<String>, label: impl Into<String>) -> Self {
        let (src, at) = sources.excerpt(span);
        ParseError::Invalid {
            message: message.into(),
            src,
            at,
            label: label.into(),
            location: sources.location(span),
            place: Box::new(sources.locate(span)),
            help: None,
        }
    }

    /// The same error with a help line.
    pub fn with_help(mut self, text: impl Into<String>) -> Self {
        if let ParseError::Invalid { help, .. } | ParseError::Snapshot { help, .. } = &mut self {
            *help = Some(text.into());
        }
        self
    }

    /// Several errors as one, or the single one as itself.
    pub fn collect(scope: impl Into<String>, mut errors: Vec<ParseError>) -> Result<(), ParseError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            count => Err(ParseError::Several { scope: scope.into(), count, errors }),
        }
    }

    /// Every leaf error, flattened.
    pub fn leaves(&self) -> Vec<&ParseError> {
        match self {
            ParseError::Several { errors, .. } => errors.iter().flat_map(|e| e.leaves()).collect(),
            other => vec![other],
        }
    }
}

/// Errors accumulated while reading one input, so that all of them are reported at once.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<ParseError>);

impl Errors {
    pub fn push(&mut self, e: ParseError) {
        self.0.push(e)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
}
