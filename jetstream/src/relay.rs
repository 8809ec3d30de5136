//! The Step Functions relay (docs/step-functions.md): follows the mesh and reports every
//! object carrying a task token back to the workflow waiting for it. The AWS calls are
//! the caller's ([`TaskReporter`]: boto3 in Python, the AWS SDK for Rust in `peo relay`);
//! what to send, when, and what counts as done are decided here, once.

use std::collections::HashMap;
use std::time::Instant;

use peo_core::Trust;
use peo_runtime::stepfunctions::{self as sfn, Report, Seen};

use super::*;

/// Errors of the Step Functions API that mean the task no longer waits: a completion
/// after the first (redeliveries make completion at-least-once), a task that timed out.
pub const GONE: [&str; 3] = ["InvalidToken", "TaskDoesNotExist", "TaskTimedOut"];

/// A failed AWS call: the service's error code when it gave one, and the message.
#[derive(Debug, Clone)]
pub struct ReportError {
    /// `InvalidToken`, `ThrottlingException`, ...; `None` for a failure to reach AWS.
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
}

/// The AWS calls a relay makes.
pub trait TaskReporter {
    /// `SendTaskHeartbeat`.
    fn heartbeat(&self, token: &str) -> std::result::Result<(), ReportError>;
    /// `SendTaskSuccess` with `output` (JSON text).
    fn success(&self, token: &str, output: &str) -> std::result::Result<(), ReportError>;
    /// `SendTaskFailure`.
    fn failure(&self, token: &str, error: &str, cause: &str) -> std::result::Result<(), ReportError>;
    /// Puts an object's bytes into S3 (for an output that goes by pointer).
    fn upload(&self, bucket: &str, key: &str, bytes: &[u8]) -> std::result::Result<(), ReportError>;
}

/// How a relay runs.
pub struct RelayOptions {
    /// The durable consumer's name on `PEO_DONE`: relays of one name share the work and
    /// resume where it stopped.
    pub name: String,
    /// At most one heartbeat per token per this long.
    pub heartbeat_every: Duration,
    /// Stop after this long without an update.
    pub idle_timeout: Option<Duration>,
    /// The S3 bucket for outputs past 256 KiB (`None`: such an output is reported as a
    /// `peo.Limit` failure that says so).
    pub bucket: Option<String>,
    /// Whose finishes are reported: a finished object is verified under this trust
    /// before it completes a task, and one that fails (signed by a key the trust does
    /// not accept, or unsigned where it requires signatures) is dropped and counted as
    /// `untrusted`. `None`: checked as `wait` checks it, with signatures valid under
    /// any key (a participant allowed to publish to `peo.done.*` could then forge a
    /// finish; docs/step-functions.md).
    pub trust: Option<Trust>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            name: "peo-sfn-relay".into(),
            heartbeat_every: Duration::from_secs(1),
            idle_timeout: None,
            bucket: None,
            trust: None,
        }
    }
}

/// What a relay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayCounts {
    /// `SendTaskHeartbeat` calls accepted.
    pub heartbeats: u64,
    /// `SendTaskSuccess` calls accepted.
    pub succeeded: u64,
    /// `SendTaskFailure` calls accepted.
    pub failed: u64,
    /// Completions the workflow no longer waited for ([`GONE`]): done, not errors.
    pub gone: u64,
    /// Finished or dead-lettered objects without a task token.
    pub skipped: u64,
    /// Calls that failed otherwise: the finish is delivered again after the ack wait.
    pub errors: u64,
    /// Finishes dropped because they did not verify under [`RelayOptions::trust`].
    pub untrusted: u64,
}

impl RelayCounts {
    /// `{"heartbeats", "succeeded", "failed", "gone", "skipped", "errors", "untrusted"}`.
    pub fn to_json(&self) -> Value {
        json!({"heartbeats": self.heartbeats, "succeeded": self.succeeded, "failed": self.failed,
               "gone": self.gone, "skipped": self.skipped, "errors": self.errors, "untrusted": self.untrusted})
    }
}

/// Runs a relay on `js` until `stop()` returns true (asked a few times a second) or the
/// idle timeout passes; `log` is told what it sends. A transport error of the mesh ends
/// it (the caller restarts it; nothing acknowledged is lost).
pub fn relay(
    js: &JetStream,
    reporter: &dyn TaskReporter,
    options: &RelayOptions,
    stop: &mut dyn FnMut() -> Result<bool>,
    log: &dyn Fn(&str),
) -> Result<RelayCounts> {
    js.follow(&options.name)?;
    let mut counts = RelayCounts::default();
    let mut beaten: HashMap<String, Instant> = HashMap::new();
    let mut last = Instant::now();
    while !stop()? {
        let Some(u) = js.next_update(Duration::from_millis(250))? else {
            if options.idle_timeout.is_some_and(|t| last.elapsed() > t) {
                break;
            }
            continue;
        };
        last = Instant::now();
        let seen = match (&u.kind, &u.error) {
            (UpdateKind::Progress, _) => Seen::Progress,
            (UpdateKind::Finished, _) => Seen::Finished,
            (UpdateKind::Dead, Some((code, message))) => Seen::Dead(code, message),
            (UpdateKind::Dead, None) => Seen::Dead("", ""),
        };
        let limits = &js.options().limits;
        let Some(report) = sfn::relay_report(seen, &u.bytes, options.bucket.as_deref(), options.trust.as_ref(), limits)
        else {
            counts.skipped += u64::from(u.kind != UpdateKind::Progress);
            js.ack_update(u.ack)?;
            continue;
        };
        let (token, action, sent) = match report {
            Report::Untrusted { why, .. } => {
                // Forged, or finished by nodes this relay does not trust: never reported.
                counts.untrusted += 1;
                log(&format!("{}: not reported: it does not verify under the relay's trust: {why}", u.id));
                js.ack_update(u.ack)?;
                continue;
            }
            Report::Heartbeat { token } => {
                if beaten.get(&token).is_some_and(|t| t.elapsed() < options.heartbeat_every) {
                    continue;
                }
                beaten.insert(token.clone(), Instant::now());
                let sent = reporter.heartbeat(&token);
                (token, Action::Heartbeat, sent)
            }
            Report::Success { token, output, upload } => {
                let uploaded = match &upload {
                    Some(p) => reporter.upload(&p.bucket, &p.key, &u.bytes),
                    None => Ok(()),
                };
                let sent = uploaded.and_then(|()| reporter.success(&token, &output.to_string()));
                (token, Action::Success, sent)
            }
            Report::Failure { token, error, cause } => {
                let sent = reporter.failure(&token, &truncate(&error, 256), &truncate(&cause, 32_768));
                (token, Action::Failure(error), sent)
            }
        };
        match sent {
            Ok(()) => match &action {
                Action::Heartbeat => counts.heartbeats += 1,
                Action::Success => {
                    counts.succeeded += 1;
                    log(&format!("{}: SendTaskSuccess", u.id));
                }
                Action::Failure(error) => {
                    counts.failed += 1;
                    log(&format!("{}: SendTaskFailure {error}", u.id));
                }
            },
            Err(e) if e.code.as_deref().is_some_and(|c| GONE.contains(&c)) => {
                if action != Action::Heartbeat {
                    counts.gone += 1;
                    log(&format!("{}: the task is gone ({})", u.id, e.code.unwrap_or_default()));
                }
            }
            Err(e) => {
                // Not acknowledged: the finish is delivered again after the ack wait.
                counts.errors += 1;
                log(&format!("{}: {} failed: {}", u.id, action.name(), e.message));
                continue;
            }
        }
        if action != Action::Heartbeat {
            beaten.remove(&token);
        }
        js.ack_update(u.ack)?;
    }
    Ok(counts)
}

/// What the relay sent for an update, for its counts and log.
#[derive(Debug, PartialEq)]
enum Action {
    Heartbeat,
    Success,
    /// With the error name.
    Failure(String),
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Heartbeat => "heartbeat",
            Action::Success => "success",
            Action::Failure(_) => "failure",
        }
    }
}

/// At most `max` bytes of `s`, cut at a character boundary (Step Functions' limits on an
/// error name and a cause).
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
