//! # libpeo: the C ABI of peo
//!
//! `#include <peo.h>`, link `-lpeo`. The header (`include/peo.h`) is generated from this
//! crate's modules by cbindgen (`bindings/c/cbindgen.toml`); `bindings/c/README.md` shows
//! how to build a program against it. One module per concept: `error` (statuses and the
//! last error), `convert` (arguments and results), `key`, `object`, `node` (settings,
//! callbacks, visits), `jetstream` (serving a node, the client), `session`
//! (host-driven visits), `visit`.
//!
//! Conventions (every function follows them):
//! - Objects, nodes, visits and signing keys are opaque handles. Each is created by a
//!   `peo_<noun>_...` function that writes it through an out-parameter and is released
//!   by `peo_<noun>_free`, which accepts NULL.
//! - Fallible functions return a `peo_status`: `PEO_OK` (0) or the kind of error. The
//!   message of the last failure on the calling thread is `peo_last_error_message()`;
//!   a call that succeeds clears it. On failure, handle out-parameters are set to NULL.
//! - Strings passed in are NUL-terminated UTF-8; JSON is passed as text. Strings the
//!   library returns (`char **out`) are freed with `peo_string_free`, byte buffers
//!   (`uint8_t **out, size_t *out_len`) with `peo_bytes_free`. Pointers documented as
//!   *borrowed* stay valid as long as the handle they came from and must not be freed.
//! - NULL where a value is required, a wrong length, non-UTF-8 text or bad JSON is
//!   answered with a status and a message, never a crash. A panic inside the library,
//!   or in its code around a callback, never unwinds into C: it is `PEO_INTERNAL`.
//! - Callbacks (handlers, advisors, clocks) run on the thread that called
//!   `peo_node_visit` / `peo_node_complete`. C++ callbacks must not let exceptions
//!   escape them.

#![allow(clippy::missing_safety_doc)] // the safety contract is the header's documentation

pub mod convert;
pub mod error;
pub mod jetstream;
pub mod key;
pub mod node;
pub mod object;
pub mod session;
pub mod visit;

pub use {convert::*, error::*, jetstream::*, key::*, node::*, object::*, session::*, visit::*};

#[cfg(test)]
mod tests;
