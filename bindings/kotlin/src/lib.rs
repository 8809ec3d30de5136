//! `peo_uniffi`: the native library of peo's JVM package (`bindings/kotlin`), the host
//! layer (`peo_runtime::host`) exposed through uniffi's proc-macros. The Kotlin bindings
//! are generated from this library (`scripts/gen-kotlin.sh`, committed under
//! `bindings/kotlin/src/main/kotlin/dev/peo/ffi/`); the idiomatic API over them
//! (`dev.peo.PeoObject`, `dev.peo.Node`, the `PeoException` hierarchy) is Kotlin code
//! beside them.
//!
//! Deliberately thin, like the other faces: objects, keys, nodes and visits over JSON
//! text and bytes. Visits cross through the lane (`lane`): five plain C functions that
//! `dev.peo.Lane` binds by JNA direct mapping, because every uniffi call costs tens of
//! µs in JNA `Structure` bookkeeping. A panic never crosses into the JVM: uniffi turns
//! one into an error of the call, the lane into an error frame, and handler callbacks
//! run under the node's `catch_unwind`.

// The error crosses to the JVM by value once per failed call; uniffi needs it unboxed.
#![allow(clippy::result_large_err)]

uniffi::setup_scaffolding!();

mod error;
#[cfg(feature = "jetstream")]
mod jetstream;
mod lane;
mod node;
mod object;

pub use error::{ErrorKindInfo, PeoFfiError, error_kinds, version, wire_format_version};
pub use lane::{peo_kt_answer, peo_kt_begin, peo_kt_begin_completions, peo_kt_drop, peo_kt_fetch};
pub use node::{FfiAdvisor, FfiClock, FfiNode, HandlerReply, TaskCallInfo, TaskHandler};
pub use object::{FfiObject, FfiSigningKey};
