//! Following the mesh from outside it: every new version of every object, and every
//! object that finished or was dead-lettered, for a process that reports on them (the
//! Step Functions relay, docs/step-functions.md) without taking part.
//!
//! Finished and dead-lettered objects come from a durable consumer on `PEO_DONE`: each
//! is delivered until [`JetStream::ack_update`] acknowledges it, across restarts of the
//! follower, so a report is made at least once. Progress comes from a watch of the
//! bucket from the moment [`JetStream::follow`] is called: it is for liveness
//! (heartbeats), and a follower that was away misses the versions written meanwhile.

use super::*;

/// What a follower is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    /// A new version of an object was committed (not verified: a hint that it moves).
    Progress,
    /// A root object finished: its final version, checked as `wait` checks it.
    Finished,
    /// An object no node could take was dead-lettered: `error` says why.
    Dead,
}

impl UpdateKind {
    /// `progress`, `finished` or `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateKind::Progress => "progress",
            UpdateKind::Finished => "finished",
            UpdateKind::Dead => "dead",
        }
    }
}

/// One update: an object's id and bytes, and for a dead letter the error code and message.
#[derive(Debug, Clone)]
pub struct Update {
    /// What happened.
    pub kind: UpdateKind,
    /// The object's id (hex).
    pub id: String,
    /// The object's bytes (for a dead letter, what the work message held).
    pub bytes: Vec<u8>,
    /// For a dead letter: the error code (`PEO_LIMIT`, ...) and its message.
    pub error: Option<(String, String)>,
    /// What [`JetStream::ack_update`] takes; 0 for progress, which needs no ack.
    pub ack: u64,
}

pub(crate) struct Follower {
    done: pull::Stream,
    watch: kv::Watch,
    unacked: std::collections::HashMap<u64, jetstream::Message>,
}

impl JetStream {
    /// Starts following the mesh as `durable` (the consumer's name on `PEO_DONE`; the
    /// same name resumes where it stopped). Then call [`JetStream::next_update`].
    pub fn follow(&self, durable: &str) -> Result<()> {
        if durable.is_empty() || durable.contains(['.', '*', '>', ' ']) {
            return Err(Error::invalid_argument(format!(
                "a follower's name must be a plain consumer name (no dots, spaces or wildcards), not `{durable}`"
            )));
        }
        let follower = self.rt.block_on(async {
            let config = pull::Config {
                durable_name: Some(durable.to_owned()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: self.options.ack_wait,
                ..Default::default()
            };
            let consumer = self
                .c()
                .done
                .get_or_create_consumer(durable, config)
                .await
                .map_err(transport("cannot create the follower's consumer on PEO_DONE"))?;
            let done = consumer.messages().await.map_err(transport("cannot read PEO_DONE"))?;
            let watch = self.c().kv.watch_all().await.map_err(transport("cannot watch the bucket"))?;
            Ok::<_, Error>(Follower { done, watch, unacked: Default::default() })
        })?;
        *self.c().follower.lock().unwrap_or_else(|e| e.into_inner()) = Some(follower);
        Ok(())
    }

    /// Waits up to `timeout` for the next update; `None` when none came.
    pub fn next_update(&self, timeout: Duration) -> Result<Option<Update>> {
        let mut guard = self.c().follower.lock().unwrap_or_else(|e| e.into_inner());
        let follower =
            guard.as_mut().ok_or_else(|| Error::invalid_argument("call follow(name) before next_update()"))?;
        self.rt.block_on(async {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let next = tokio::time::timeout_at(deadline, async {
                    tokio::select! {
                        m = follower.done.next() => Err(m),
                        e = follower.watch.next() => Ok(e),
                    }
                })
                .await;
                match next {
                    Err(_) => return Ok(None),
                    Ok(Ok(None)) | Ok(Err(None)) => return Err(Error::transport("the follower's subscription ended")),
                    Ok(Ok(Some(Err(e)))) => return Err(Error::transport(format!("watching the bucket: {e}"))),
                    Ok(Err(Some(Err(e)))) => return Err(Error::transport(format!("reading PEO_DONE: {e}"))),
                    Ok(Ok(Some(Ok(entry)))) => {
                        if entry.operation == kv::Operation::Put {
                            let (id, bytes) = (entry.key, entry.value.to_vec());
                            return Ok(Some(Update { kind: UpdateKind::Progress, id, bytes, error: None, ack: 0 }));
                        }
                    }
                    Ok(Err(Some(Ok(msg)))) => {
                        let seq = msg
                            .info()
                            .map_err(|e| Error::transport(format!("a PEO_DONE message: {e}")))?
                            .stream_sequence;
                        let subject = msg.subject.to_string();
                        let update = if let Some(id) = subject.strip_prefix("peo.done.") {
                            match self.finished(id, &msg.payload) {
                                Ok(bytes) => Update {
                                    kind: UpdateKind::Finished,
                                    id: id.to_owned(),
                                    bytes,
                                    error: None,
                                    ack: seq,
                                },
                                // Anyone may publish there: what is not a final version is
                                // not reported, and not redelivered.
                                Err(e) => {
                                    self.say(|| format!("follower: ignored {subject}: {e}"));
                                    let _ = msg.ack().await;
                                    continue;
                                }
                            }
                        } else if let Some(id) = subject.strip_prefix("peo.dead.") {
                            let header = |name: &str| {
                                msg.headers
                                    .as_ref()
                                    .and_then(|h| h.get(name))
                                    .map(|v| v.to_string())
                                    .unwrap_or_default()
                            };
                            let error = Some((header("Peo-Error"), header("Peo-Message")));
                            Update {
                                kind: UpdateKind::Dead,
                                id: id.to_owned(),
                                bytes: msg.payload.to_vec(),
                                error,
                                ack: seq,
                            }
                        } else {
                            let _ = msg.ack().await;
                            continue;
                        };
                        follower.unacked.insert(seq, msg);
                        return Ok(Some(update));
                    }
                }
            }
        })
    }

    /// Acknowledges a finished or dead-lettered object's update: it will not be
    /// delivered to this follower again. Progress (ack 0) needs none.
    pub fn ack_update(&self, ack: u64) -> Result<()> {
        if ack == 0 {
            return Ok(());
        }
        let mut guard = self.c().follower.lock().unwrap_or_else(|e| e.into_inner());
        let follower =
            guard.as_mut().ok_or_else(|| Error::invalid_argument("call follow(name) before ack_update()"))?;
        let msg = follower
            .unacked
            .remove(&ack)
            .ok_or_else(|| Error::invalid_argument(format!("no unacknowledged update {ack}")))?;
        self.rt.block_on(async {
            msg.double_ack().await.map_err(|e| Error::transport(format!("cannot acknowledge: {e}")))
        })
    }
}
