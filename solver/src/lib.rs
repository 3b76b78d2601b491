//! The SMT encoding of keyproof's semantics. It mirrors the concrete evaluator of
//! `keyproof-model` layer by layer (`encode/` ↔ `model/src/eval/`), over a symbolic request
//! context. Only [`z3_backend`] names the `z3` crate.

pub mod can;
pub mod check;
pub mod classes;
pub mod diff;
pub mod domain;
pub mod encode;
pub mod err;
pub mod fixed;
pub mod query;
pub mod report;
pub mod strings;
pub mod term;
pub mod transitive;
pub mod who_can;
pub mod z3_backend;
