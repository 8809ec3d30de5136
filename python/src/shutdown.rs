//! Threads that outlive the interpreter.
//!
//! Before 3.14, CPython ends a thread that takes the GIL back while the interpreter shuts
//! down with `pthread_exit`, which unwinds through the Rust frames of the call the thread
//! was in and crashes the process (python/cpython#87135). The usual victim is a daemon
//! thread whose `serve` or visit comes back from the engine (the GIL released) after the
//! main thread has begun to exit.
//!
//! The module registers an `atexit` hook, which runs before the interpreter begins to
//! shut down. From then on, a thread other than the exiting one that comes back from the
//! engine, or that is about to call into Python from the engine (a handler, the clock, an
//! advisor), does not touch the interpreter again: it parks until the process ends, as
//! CPython 3.14 does itself. A thread already running Python code then is CPython's to
//! end, as for any extension.

use std::sync::OnceLock;
use std::thread::ThreadId;

use pyo3::prelude::*;

/// The thread that runs the `atexit` hooks, once they have begun.
static EXITING: OnceLock<ThreadId> = OnceLock::new();

/// The `atexit` hook: the interpreter is about to shut down.
#[pyfunction]
fn _interpreter_exiting() {
    let _ = EXITING.set(std::thread::current().id());
}

/// Registers the hook (at import).
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(_interpreter_exiting, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}

/// Parks the calling thread for good if the interpreter is shutting down and this is
/// not the thread shutting it down.
fn park_if_exiting() {
    if EXITING.get().is_some_and(|t| *t != std::thread::current().id()) {
        loop {
            std::thread::park();
        }
    }
}

/// `py.detach(f)`, except that a thread coming back while the interpreter shuts down
/// never takes the GIL back.
pub(crate) fn detach<T: Send, F: Send + FnOnce() -> T>(py: Python<'_>, f: F) -> T {
    py.detach(|| {
        let out = f();
        park_if_exiting();
        out
    })
}

/// `Python::attach(f)` for calls from the engine into Python (handlers, clocks,
/// advisors), except while the interpreter shuts down on another thread.
pub(crate) fn attach<T, F: for<'py> FnOnce(Python<'py>) -> T>(f: F) -> T {
    park_if_exiting();
    Python::attach(f)
}
