//! The one error type of peo: a stable kind, an actionable message, and where it happened.

use std::fmt;

/// The stable kinds of error. Bindings map each kind once (a status code in C, an
/// exception class in Python, an error `code` in Node); new kinds are only appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not a well-formed peo object (or record, or JSON payload).
    Decode,
    /// The content does not match its hash chain or committed hashes.
    Integrity,
    /// A signature is missing, malformed, invalid, or by a key the caller does not trust.
    Signature,
    /// Well-formed, but uses something this version does not support (a newer format
    /// version, an ASL feature not implemented yet).
    Unsupported,
    /// A configured limit (size, count, depth) was exceeded.
    Limit,
    /// The intent (the ASL plan and its peo extensions) is invalid.
    InvalidIntent,
    /// An argument passed by the caller is invalid (wrong length, wrong type).
    InvalidArgument,
    /// Policy refused the action.
    Policy,
    /// The object has already terminated; nothing more can happen to it.
    Terminated,
    /// A bug in peo. Please report it.
    Internal,
    /// A transport failed: the NATS server cannot be reached, a JetStream request timed
    /// out or was refused. The object is unchanged; retry when the transport is back.
    Transport,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Decode,
        ErrorKind::Integrity,
        ErrorKind::Signature,
        ErrorKind::Unsupported,
        ErrorKind::Limit,
        ErrorKind::InvalidIntent,
        ErrorKind::InvalidArgument,
        ErrorKind::Policy,
        ErrorKind::Terminated,
        ErrorKind::Internal,
        ErrorKind::Transport,
    ];

    /// The lower-case name of the kind (`"decode"`, `"invalid_intent"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Decode => "decode",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Signature => "signature",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Limit => "limit",
            ErrorKind::InvalidIntent => "invalid_intent",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Policy => "policy",
            ErrorKind::Terminated => "terminated",
            ErrorKind::Internal => "internal",
            ErrorKind::Transport => "transport",
        }
    }

    /// The kind whose [`ErrorKind::code`] is `code`.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The stable code bindings expose (`"PEO_DECODE"`, ...).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Decode => "PEO_DECODE",
            ErrorKind::Integrity => "PEO_INTEGRITY",
            ErrorKind::Signature => "PEO_SIGNATURE",
            ErrorKind::Unsupported => "PEO_UNSUPPORTED",
            ErrorKind::Limit => "PEO_LIMIT",
            ErrorKind::InvalidIntent => "PEO_INVALID_INTENT",
            ErrorKind::InvalidArgument => "PEO_INVALID_ARGUMENT",
            ErrorKind::Policy => "PEO_POLICY",
            ErrorKind::Terminated => "PEO_TERMINATED",
            ErrorKind::Internal => "PEO_INTERNAL",
            ErrorKind::Transport => "PEO_TRANSPORT",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with its kind, a message a user can act on, and, where known, the memory
/// record, the intent state and the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    record: Option<u32>,
    state: Option<String>,
    field: Option<String>,
}

/// `Result` with peo's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), record: None, state: None, field: None }
    }

    /// Shorthand constructors, one per kind.
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }
    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Integrity, message)
    }
    pub fn signature(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Signature, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn limit(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Limit, message)
    }
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn terminated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Terminated, message)
    }
    pub fn policy(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Policy, message)
    }
    pub fn transport(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Transport, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// An invalid intent: `state` is the state's path (`None` for top-level fields).
    pub fn invalid_intent(state: Option<&str>, field: &str, message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::InvalidIntent,
            message: message.into(),
            record: None,
            state: state.map(str::to_owned),
            field: Some(field.to_owned()),
        }
    }
    /// An ASL feature this version does not run, named by field and state.
    pub fn unsupported_field(state: Option<&str>, field: &str, message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Unsupported,
            message: message.into(),
            record: None,
            state: state.map(str::to_owned),
            field: Some(field.to_owned()),
        }
    }

    /// The same error, naming the memory record it concerns.
    pub fn at_record(mut self, seq: u32) -> Self {
        self.record = Some(seq);
        self
    }

    /// The same error, naming the field it concerns.
    /// Names the state the error is about.
    pub fn in_state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }
    pub fn in_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The message without the location prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The index of the memory record the error concerns, if any.
    pub fn record(&self) -> Option<u32> {
        self.record
    }
    /// The intent state (a path such as `Fan/branch 0/Charge`) the error concerns, if any.
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }
    /// The field the error concerns, if any.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
    /// The error's JSON form, the same in every language ([`crate::forms::ErrorForm`]):
    /// `{code, kind, message, text, record, state, field}`.
    pub fn to_json(&self) -> serde_json::Value {
        crate::forms::value(&crate::forms::ErrorForm {
            code: self.kind.code().into(),
            kind: self.kind.as_str().into(),
            message: self.message.clone(),
            text: self.to_string(),
            record: self.record,
            state: self.state.clone(),
            field: self.field.clone(),
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error", self.kind)?;
        if let Some(r) = self.record {
            write!(f, " at record {r}")?;
        }
        if let Some(s) = &self.state {
            write!(f, " in state `{s}`")?;
        }
        if let Some(field) = &self.field {
            write!(f, " (field `{field}`)")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Error {}
