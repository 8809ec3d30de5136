//! Visits driven by the JVM one handler call at a time: the Kotlin `Node` keeps its
//! handlers and answers each call itself, so a visit makes calls into the library (cheap
//! through JNA) instead of callbacks out of it (a JNA callback costs tens of µs).

use std::sync::{Arc, Mutex};

use peo_runtime::host;
use peo_runtime::{Next, Node, Session};

use crate::error::Res;
use crate::node::{FfiNode, FfiVisit, HandlerReply, TaskCallInfo};

/// What a session needs next.
#[derive(uniffi::Enum)]
pub enum SessionStep {
    /// Run this handler call and give its result to `FfiSession.answer`.
    Call { call: TaskCallInfo },
    /// The visit is over.
    Done { visit: Arc<FfiVisit> },
}

/// A visit driven by its host.
#[derive(uniffi::Object)]
pub struct FfiSession(Mutex<Option<Session<Arc<Node>>>>);

fn over() -> crate::error::PeoFfiError {
    peo_core::Error::invalid_argument("the visit is over: start another one").into()
}

#[uniffi::export]
impl FfiSession {
    /// Runs cycles until a handler must be called or the visit is over.
    pub fn advance(&self) -> Res<SessionStep> {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let session = guard.as_mut().ok_or_else(over)?;
        let step = match session.advance() {
            Ok(Next::Call(c)) => SessionStep::Call {
                call: TaskCallInfo {
                    capability: c.capability.clone(),
                    state: c.state.clone(),
                    input_json: c.input.to_string(),
                    idempotency_key: c.idempotency_key.clone(),
                    attempt: c.attempt,
                    deadline_ms: c.deadline_ms,
                },
            },
            Ok(Next::Done(visit)) => {
                *guard = None;
                SessionStep::Done { visit: Arc::new(FfiVisit(visit)) }
            }
            Err(e) => {
                *guard = None;
                return Err(e.into());
            }
        };
        Ok(step)
    }
    /// Records the pending call's result.
    pub fn answer(&self, reply: HandlerReply) -> Res<()> {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let session = guard.as_mut().ok_or_else(over)?;
        Ok(session.answer(reply.outcome())?)
    }
}

#[uniffi::export]
impl FfiNode {
    /// Declares a capability whose handler the host runs (sessions): the node executes
    /// its Tasks instead of delegating them.
    pub fn add_capability(&self, capability: String) -> Res<()> {
        self.set(host::Setting::Capability(&capability))
    }
    /// Starts a visit the caller drives.
    pub fn begin(&self, data: Vec<u8>, event_json: Option<String>) -> Res<Arc<FfiSession>> {
        let event = event_json.as_deref().map(host::event).transpose()?;
        let node = self.current();
        let object = node.admit(&data)?;
        Ok(Arc::new(FfiSession(Mutex::new(Some(Session::new(node, object, event))))))
    }
    /// Starts the presentation of children's final objects to their waiting parent.
    pub fn begin_completions(&self, parent: Vec<u8>, children: Vec<Vec<u8>>) -> Res<Arc<FfiSession>> {
        let node = self.current();
        let refs: Vec<&[u8]> = children.iter().map(Vec::as_slice).collect();
        let session = Session::completions(node.clone(), node.admit(&parent)?, &refs)?;
        Ok(Arc::new(FfiSession(Mutex::new(Some(session)))))
    }
}
