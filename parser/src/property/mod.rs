//! The property language: what `keyproof check PROPERTIES.kp` proves.
//!
//! ```text
//! # Nobody outside the organization can use any key in any way.
//! property no_external_access {
//!   forall principal, key:
//!     can(principal, kms:*, key) implies principal in org
//! }
//! ```
//!
//! A file holds properties; each quantifies over `principal` and `key` (optionally restricted
//! to a set) and states a formula built from `can(P, A, K) [where C]`, tests on the variables
//! and `not` / `and` / `or` / `implies`. `docs/properties.md` has the grammar, the meaning of
//! every construct and examples; the grammar itself is `grammar.pest` beside this file.
//!
//! [`parse_properties`] reads a file into a [`PropertyFile`] whose elements carry their spans,
//! and reports every semantic error at once (duplicate names, non-KMS actions, unbound
//! variables, variables bound twice, malformed CIDRs). `Display` on every AST type prints the
//! canonical form, and parsing it gives back an equal AST.

mod ast;
mod check;
mod parse;
mod print;

pub use ast::{Binder, ContextCond, Formula, KeyTerm, PrincipalTerm, Property, PropertyFile, SetExpr, Var};
pub use parse::MAX_OPERATORS;

use crate::err::ParseError;
use crate::source::SourceMap;

/// The stack of the thread that parses: pest and the AST builder recurse over the nesting of
/// a formula, and a caller's thread (a test thread has 2 MiB) may be too small for the nesting
/// that [`MAX_OPERATORS`] allows. Untouched stack pages cost no memory.
const PARSER_STACK_BYTES: usize = 32 * 1024 * 1024;

/// Parses a properties file: adds `text` to `sources` under `name`, parses it and checks it.
///
/// A syntax error is one [`ParseError::Invalid`] at the place where the parser stopped, saying
/// what it expected there. When the syntax is right, every semantic error is reported together
/// (a [`ParseError::Several`] when there is more than one).
pub fn parse_properties(sources: &mut SourceMap, name: &str, text: String) -> Result<PropertyFile, ParseError> {
    let id = sources.add(name, text, None);
    let sources: &SourceMap = sources;
    let parse_and_check = || -> parse::Result<PropertyFile> {
        let file = parse::parse_file(sources, id)?;
        ParseError::collect(name, check::check(sources, &file)).map_err(Box::new)?;
        Ok(file)
    };
    let result = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("keyproof-properties".to_string())
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(scope, parse_and_check);
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload)),
            // No thread to be had: parse on this one, within its stack.
            Err(_) => parse_and_check(),
        }
    });
    result.map_err(|e| *e)
}
