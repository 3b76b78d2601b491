//! keyproof's inputs, parsed with a source span on every element: IAM policy documents, the
//! snapshot folder (AWS CLI output shapes) and, later, the property language.
//!
//! Nothing here decides access; the model crate gives the parsed documents their meaning.

pub mod err;
pub mod json;
pub mod overlay;
pub mod policy;
pub mod property;
pub mod snapshot;
pub mod source;
pub mod suggest;
pub use overlay::terraform;

pub use err::ParseError;
pub use source::{Location, SourceId, SourceMap, Span, Spanned, StatementRef};
