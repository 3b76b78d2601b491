//! The model of an organization's KMS setup and the concrete evaluator, which is keyproof's
//! reference semantics: the SMT encoding in `keyproof-solver` mirrors it layer by layer.

pub mod context;
pub mod err;
pub mod eval;
pub mod org;
pub mod principal;
pub mod reference;
pub mod snapshot;
pub mod suggest;
pub mod tri;
pub mod wildcard;

pub use context::Request;
pub use err::ModelError;
pub use eval::{decide, Decision, Verdict};
pub use snapshot::Snapshot;
pub use tri::Tri;
