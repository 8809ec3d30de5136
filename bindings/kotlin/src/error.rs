//! One error for every call: the same code, kind, message, record, state and field as in
//! every language (the JSON form `Error`). Kotlin makes it a `PeoException` of the kind.

use std::fmt;

use peo_core::{Error, ErrorKind};

/// A peo error as it crosses to the JVM.
#[derive(Debug, uniffi::Error)]
pub enum PeoFfiError {
    /// The call failed.
    Failed {
        /// `PEO_DECODE`, `PEO_SIGNATURE`, ...
        code: String,
        /// `decode`, `signature`, ...
        kind: String,
        /// The message without its location.
        detail: String,
        /// The whole text: kind, record, state, field and message.
        text: String,
        record: Option<u32>,
        state: Option<String>,
        field: Option<String>,
    },
}

impl fmt::Display for PeoFfiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PeoFfiError::Failed { text, .. } = self;
        f.write_str(text)
    }
}

impl std::error::Error for PeoFfiError {}

impl From<Error> for PeoFfiError {
    fn from(e: Error) -> PeoFfiError {
        PeoFfiError::Failed {
            code: e.kind().code().into(),
            kind: e.kind().as_str().into(),
            detail: e.message().into(),
            text: e.to_string(),
            record: e.record(),
            state: e.state().map(Into::into),
            field: e.field().map(Into::into),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for PeoFfiError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> PeoFfiError {
        Error::internal(format!("a JVM callback failed: {}", e.reason)).into()
    }
}

pub(crate) type Res<T> = Result<T, PeoFfiError>;

/// An error kind and its code.
#[derive(Debug, uniffi::Record)]
pub struct ErrorKindInfo {
    pub code: String,
    pub kind: String,
}

/// Every error kind (`ErrorKind::ALL`), for the Kotlin hierarchy's test.
#[uniffi::export]
pub fn error_kinds() -> Vec<ErrorKindInfo> {
    ErrorKind::ALL.iter().map(|k| ErrorKindInfo { code: k.code().into(), kind: k.as_str().into() }).collect()
}

/// The library's version (the workspace's, the same in every face).
#[uniffi::export]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").into()
}

/// The wire format version objects are written in.
#[uniffi::export]
pub fn wire_format_version() -> u16 {
    peo_core::FORMAT_VERSION
}
