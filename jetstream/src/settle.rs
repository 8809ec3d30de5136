//! Settling a delivery: committing the new version and sending it on, declining,
//! dead-lettering, keeping the archive; the transport seam's implementation.

use super::*;

impl JetStream {
    /// Records a visit's result: commits the new version, publishes it (and any child
    /// objects) onward, then acknowledges the delivery.
    pub fn settle(&self, delivery: Delivery, after: &[u8], children: &[Vec<u8>]) -> Result<Settled> {
        let object = Object::from_bytes(after, &self.options.limits)?;
        self.rt.block_on(self.settle_async(delivery, &object, after, children))
    }

    /// [`JetStream::settle`] with a visit of this process (its object is already decoded).
    pub fn settle_visit(&self, delivery: Delivery, visit: &Visit) -> Result<Settled> {
        self.rt.block_on(self.settle_async(delivery, &visit.object, &visit.bytes, &visit.children))
    }

    pub(crate) async fn settle_async(
        &self,
        d: Delivery,
        object: &Object,
        after: &[u8],
        children: &[Vec<u8>],
    ) -> Result<Settled> {
        let limits = &self.options.limits;
        if object.id().to_hex() != d.id {
            return Err(Error::invalid_argument(format!(
                "settle got object {} for a delivery of {}",
                object.id().to_hex(),
                d.id
            )));
        }
        let n = d.count;
        if (object.written() as usize) < n || n == 0 || object.hash_at(n as u32 - 1) != Some(d.head) {
            return Err(Error::invalid_argument(format!(
                "settle got a version of {} that does not extend the one delivered (head {})",
                d.id, d.head
            )));
        }
        if object.head() == d.head {
            match d.work {
                Work::Complete { .. } => {
                    Stats::bump(&self.stats.duplicates);
                    self.say(|| format!("duplicate: a completion {} already recorded", d.id));
                    self.ack(&d.msg, AckKind::Ack).await;
                }
                Work::Visit { .. } => {
                    Stats::bump(&self.stats.deferred);
                    let wait = waiting(object)
                        .and_then(|w| w.due_at)
                        .map(|t| (t - now_ms()).clamp(1, MAX_PARK_MS) as u64)
                        .unwrap_or(1_000);
                    self.defer(&d.msg, Duration::from_millis(wait)).await;
                }
            }
            return Ok(Settled::Unchanged);
        }
        let bytes = bytes::Bytes::copy_from_slice(after);
        let committed = match d.revision {
            Some(r) => self.c().kv.update(&d.id, bytes.clone(), r).await.map_err(|e| e.to_string()),
            None => self.c().kv.create(&d.id, bytes.clone()).await.map_err(|e| e.to_string()),
        };
        // Lost the race (another node committed a successor of the same version), or the
        // server failed: tell them apart by reading the bucket again. When it holds this
        // very version, the commit landed and only its acknowledgement was lost (a server
        // failing over): it is committed, and is sent on below.
        let failed = match committed {
            Ok(_) => None,
            Err(why) => match self.entry(&d.id).await? {
                Some(e) if e.value == bytes => {
                    self.say(|| format!("{}: the bucket has the commit whose acknowledgement was lost ({why})", d.id));
                    None
                }
                now => Some((why, now)),
            },
        };
        if let Some((why, now)) = failed {
            // Raced only when the bucket shows a newer revision that is not this one. An
            // older one (a read that lags behind, as a server failing over may answer)
            // proves nothing: the delivery is then presented again, and the bucket read
            // then says whether this commit landed (and it is sent on) or another won.
            let raced = match (d.revision, &now) {
                (Some(r), Some(e)) => e.revision > r,
                (None, Some(_)) => true,
                _ => false,
            };
            if !raced {
                return Err(self.refused(
                    &format!("$KV.{BUCKET}.{}", d.id),
                    &format!("cannot commit {} to {BUCKET}", d.id),
                    why,
                ));
            }
            return Ok(match d.work {
                Work::Complete { .. } => {
                    self.ack(&d.msg, AckKind::Nak(None)).await;
                    Settled::Retry
                }
                Work::Visit { .. } => {
                    if let Some(newest) = &now {
                        self.send_on_winner(&d, newest).await?;
                    }
                    Stats::bump(&self.stats.duplicates);
                    self.say(|| {
                        format!("duplicate: {} was extended by another node first; this result is dropped", d.id)
                    });
                    self.ack(&d.msg, AckKind::Ack).await;
                    Settled::Duplicate
                }
            });
        }
        Stats::bump(&self.stats.visits);
        if self.options.die_after_commit {
            return Err(Error::transport(format!("{} committed; dying before publishing it (fault injection)", d.id)));
        }
        // Woken by an event or a child: the wake-up message of the version it woke from
        // is stale; remove it. Only that one: the last message on the subject may already
        // be a newer version's (another node's completion committed and published in
        // between), and deleting it would lose the object (its id stays in the
        // duplicate window, so nobody could publish it again).
        let woken_from = format!("{}@{}", d.id, d.head);
        if d.was_dormant
            && (d.event_seq.is_some() || !d.msg.subject.starts_with("peo.dormant."))
            && let Ok(Some(m)) = self.last_on(&format!("peo.dormant.{}", d.id)).await
            && m.headers.get("Nats-Msg-Id").map(|v| v.as_str()) == Some(woken_from.as_str())
        {
            self.remove(m.sequence).await;
        }
        // Children first (they are new objects), then the object itself.
        for c in children {
            let child = Object::from_bytes(c, limits)?;
            let id = format!("{}@{}", child.id().to_hex(), child.head());
            self.publish(&route(&child), &id, bytes::Bytes::copy_from_slice(c)).await?;
            Stats::bump(&self.stats.children);
        }
        let (subject, _) = self.forward(object, bytes).await?;
        self.say(|| format!("{} {} at record {} -> {subject}", d.id, object.status().as_str(), object.written()));
        if let Some(seq) = d.event_seq {
            self.remove(seq).await;
        }
        self.ack(&d.msg, AckKind::Ack).await;
        let hop = (now_ns() - d.published_ns).max(0) / 1_000;
        self.stats.hop_us.lock().unwrap_or_else(|e| e.into_inner()).push(hop as u64);
        if subject.starts_with("peo.done.") {
            Stats::bump(&self.stats.finished);
        } else {
            Stats::bump(&self.stats.forwarded);
        }
        Ok(Settled::Forwarded { subject })
    }

    /// The node's policy refused the object: it is presented again later (to this or
    /// another node).
    pub fn decline(&self, delivery: Delivery, reason: &Error) -> Result<()> {
        Stats::bump(&self.stats.declined);
        self.say(|| format!("declined {} ({}): {reason}", delivery.id, delivery.subject()));
        let delay = Duration::from_millis((250 * delivery.delivered.max(1) as u64).min(5_000));
        self.rt.block_on(self.defer(&delivery.msg, delay));
        Ok(())
    }

    /// The object cannot be visited (it is malformed, tampered, or over a limit): it is
    /// dead-lettered to `peo.dead.<id>` with the error and removed from the queue.
    pub fn reject(&self, delivery: Delivery, error: &Error) -> Result<()> {
        self.rt.block_on(self.dead(&delivery.msg, Some(&delivery.id), error));
        Ok(())
    }
}

impl JetStream {
    /// Whether [`JetStream::listen`] was called.
    pub fn is_listening(&self) -> bool {
        self.c().listener.blocking_lock().is_some()
    }

    /// Gives a delivery back at once (the host could not visit it: it is shutting down,
    /// a handler was interrupted); JetStream presents it again.
    pub fn abandon(&self, delivery: Delivery) {
        self.rt.block_on(self.ack(&delivery.msg, AckKind::Nak(None)))
    }
}

impl JetStream {
    /// Keeps one archive segment of object `id` (once, whatever the redeliveries).
    pub(crate) async fn keep(&self, id: &str, segment: &Segment) -> Result<()> {
        let bytes = segment.to_bytes();
        let end = segment.end().to_hex();
        if bytes.len() > MAX_SEGMENT {
            self.say(|| {
                format!("{id}: an archive segment of {} bytes is too large to keep; not archived", bytes.len())
            });
            return Ok(());
        }
        self.publish(&format!("peo.archive.{id}.{end}"), &format!("archive:{id}:{end}"), bytes.into()).await.map(|_| ())
    }
}

impl Transport for JetStream {
    type Delivery = Delivery;
    fn listen(&self, node_id: &str, capabilities: &[String]) -> Result<()> {
        JetStream::listen(self, node_id, capabilities)
    }
    fn is_listening(&self) -> bool {
        JetStream::is_listening(self)
    }
    fn next(&self, timeout: Duration) -> Result<Option<Delivery>> {
        JetStream::next(self, timeout)
    }
    fn work<'d>(&self, delivery: &'d Delivery) -> &'d Work {
        &delivery.work
    }
    /// The pruned records first (kept before the version that pruned them is committed,
    /// so a crash in between loses nothing; a redelivery stores them once), then the
    /// commit ([`JetStream::settle`]).
    fn settle(
        &self,
        delivery: Delivery,
        bytes: &[u8],
        object: Option<&Object>,
        children: &[Vec<u8>],
        archive: &[Segment],
    ) -> Result<()> {
        for segment in archive {
            self.rt.block_on(self.keep(&delivery.id, segment))?;
        }
        let decoded;
        let object = match object {
            Some(o) => o,
            None => {
                decoded = Object::from_bytes(bytes, &self.options.limits)?;
                &decoded
            }
        };
        self.rt.block_on(self.settle_async(delivery, object, bytes, children)).map(|_| ())
    }
    fn decline(&self, delivery: Delivery, reason: &Error) -> Result<()> {
        JetStream::decline(self, delivery, reason)
    }
    fn reject(&self, delivery: Delivery, error: &Error) -> Result<()> {
        JetStream::reject(self, delivery, error)
    }
    fn abandon(&self, delivery: Delivery) {
        JetStream::abandon(self, delivery)
    }
    fn say(&self, line: &str) {
        JetStream::say(self, || line.to_owned())
    }
    fn keep_in_flight(&self, window: usize) {
        self.in_flight.store(window, std::sync::atomic::Ordering::Relaxed);
    }
}
