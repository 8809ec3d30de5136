//! The FlatBuffers code generated from `schema/peo.fbs`.
//!
//! Regenerate with `scripts/gen-flatbuffers.sh`; CI fails when the committed file differs.

#[rustfmt::skip]
#[allow(
    clippy::all,
    clippy::pedantic,
    dead_code,
    unused_imports,
    unsafe_op_in_unsafe_fn,
    mismatched_lifetime_syntaxes,
    non_camel_case_types,
    missing_docs
)]
mod generated;

pub use generated::peo::wire::*;

/// The file identifier every peo object carries at bytes 4..8.
pub const FILE_IDENTIFIER: &str = "PEO1";
