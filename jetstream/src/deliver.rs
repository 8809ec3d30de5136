//! Receiving: the consumers a node pulls from, and what each message asks of it (a
//! visit, a completion, nothing: duplicates, dormant objects not due, early events).

use super::*;

impl JetStream {
    /// Starts receiving, as node `node_id`, the objects for `capabilities`, for the node
    /// itself, new objects and children, dormant objects, events and completions.
    pub fn listen<S: AsRef<str>>(&self, node_id: &str, capabilities: &[S]) -> Result<()> {
        if node_id.is_empty() {
            return Err(Error::invalid_argument("a node needs an id to listen"));
        }
        let mut wanted: Vec<(String, String)> = capabilities
            .iter()
            .map(|c| (capability_consumer(c.as_ref()), format!("peo.cap.{}", subject_token(c.as_ref()))))
            .collect();
        wanted.push((node_consumer(node_id), format!("peo.node.{}", subject_token(node_id))));
        wanted.extend(permissions::SHARED.iter().map(|(name, filter)| ((*name).to_owned(), (*filter).to_owned())));
        let in_flight = self.in_flight.load(std::sync::atomic::Ordering::Relaxed);
        let streams = self.rt.block_on(async {
            let mut all = futures::stream::SelectAll::new();
            for (name, filter) in wanted {
                let config = pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: filter.clone(),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: self.options.ack_wait,
                    max_deliver: -1,
                    max_ack_pending: 10_000,
                    ..Default::default()
                };
                // A user may take only the work its permissions name (docs/security.md).
                let (info, create) = (
                    format!("$JS.API.CONSUMER.INFO.{WORK_STREAM}.{name}\""),
                    format!("$JS.API.CONSUMER.CREATE.{WORK_STREAM}.{name}."),
                );
                let consumer = self
                    .c()
                    .denied
                    .unless_refused(
                        &[&info, &create],
                        &format!("cannot create the consumer {name} ({filter})"),
                        racing(|| self.c().work.get_or_create_consumer(&name, config.clone())),
                    )
                    .await?;
                let messages = consumer
                    .stream()
                    .max_messages_per_batch(self.options.batch.max(2 * in_flight))
                    .messages()
                    .await
                    .map_err(|e| Error::transport(format!("cannot pull from {name} ({filter}): {e}")))?;
                all.push(messages);
            }
            Ok::<_, Error>(all)
        })?;
        *self.c().listener.blocking_lock() = Some((node_id.to_owned(), streams));
        Ok(())
    }

    /// Waits up to `timeout` for an object this node must visit. Messages that need no
    /// visit (duplicates, dormant objects not due, events for objects not waiting for
    /// them yet) are handled here and not returned.
    pub fn next(&self, timeout: Duration) -> Result<Option<Delivery>> {
        let node = match &*self.c().listener.blocking_lock() {
            Some((node, _)) => node.clone(),
            None => return Err(Error::invalid_argument("call listen(node, capabilities) before next()")),
        };
        self.rt.block_on(async {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                // The consumers are held only while a message is awaited: several threads
                // may call `next` at once (a serve loop's window), and each classifies the
                // message it took while the others take theirs.
                let pulled = {
                    let mut guard = self.c().listener.lock().await;
                    let Some((_, messages)) = guard.as_mut() else {
                        return Err(Error::invalid_argument("call listen(node, capabilities) before next()"));
                    };
                    tokio::time::timeout_at(deadline, messages.next()).await
                };
                let msg = match pulled {
                    // Nothing came: say whether the server is away (the client reconnects
                    // by itself; a serve loop retries and may give up after a while).
                    Err(_) => {
                        if let Some(why) = self.c().denied.take(&["$JS.API.CONSUMER.MSG.NEXT."]) {
                            return Err(Denied::error("cannot pull work", &why));
                        }
                        return match self.c().js.client().connection_state() {
                            async_nats::connection::State::Connected => Ok(None),
                            _ => Err(Error::transport("the NATS server is unreachable (reconnecting)")),
                        };
                    }
                    Ok(None) => return Err(Error::transport("the JetStream consumers closed")),
                    Ok(Some(Err(e))) => {
                        self.say(|| format!("pull error (retrying): {e}"));
                        continue;
                    }
                    Ok(Some(Ok(m))) => m,
                };
                Stats::bump(&self.stats.received);
                match self.classify(&node, msg).await {
                    Ok(Some(d)) if self.options.hold_silently => return Ok(Some(d)),
                    Ok(Some(mut d)) => {
                        let (m, every) = (d.msg.clone(), self.options.ack_wait / 3);
                        d.progress = Some(tokio::spawn(async move {
                            loop {
                                tokio::time::sleep(every).await;
                                if m.ack_with(AckKind::Progress).await.is_err() {
                                    return;
                                }
                            }
                        }));
                        return Ok(Some(d));
                    }
                    Ok(None) => {}
                    Err(e) if e.kind() == ErrorKind::Transport => return Err(e),
                    // A damaged bucket entry and the like: the message is redelivered later.
                    Err(e) => self.say(|| format!("cannot use a message ({}): {e}", e.kind().code())),
                }
            }
        })
    }

    pub(crate) async fn ack(&self, msg: &jetstream::Message, kind: AckKind) {
        if let Err(e) = msg.ack_with(kind).await {
            self.say(|| format!("cannot acknowledge {}: {e}", msg.subject));
        }
    }

    pub(crate) async fn defer(&self, msg: &jetstream::Message, delay: Duration) {
        self.ack(msg, AckKind::Nak(Some(delay))).await
    }

    /// Dead-letters a message that no node can use: kept on `peo.dead.<id>` in
    /// `PEO_DONE` with the reason, and removed from the work queue.
    pub(crate) async fn dead(&self, msg: &jetstream::Message, id: Option<&str>, error: &Error) {
        Stats::bump(&self.stats.rejected);
        self.say(|| format!("rejected {} ({}): {error}", msg.subject, error.kind().code()));
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Peo-Error", error.kind().code());
        headers.insert("Peo-Message", error.message().replace(['\r', '\n'], " ").as_str());
        headers.insert("Peo-Subject", msg.subject.as_str());
        let subject = format!("peo.dead.{}", id.unwrap_or("unknown"));
        match self.c().js.publish_with_headers(subject, headers, msg.payload.clone()).await {
            Ok(f) => {
                if let Err(e) = f.await {
                    self.say(|| format!("cannot dead-letter {}: {e}", msg.subject));
                    return self.defer(msg, Duration::from_secs(5)).await;
                }
            }
            Err(e) => {
                self.say(|| format!("cannot dead-letter {}: {e}", msg.subject));
                return self.defer(msg, Duration::from_secs(5)).await;
            }
        }
        self.ack(msg, AckKind::Term).await
    }

    pub(crate) async fn entry(&self, id: &str) -> Result<Option<kv::Entry>> {
        let (direct, leader) =
            (format!("$JS.API.DIRECT.GET.KV_{BUCKET}."), format!("$JS.API.STREAM.MSG.GET.KV_{BUCKET}\""));
        let e = self
            .c()
            .denied
            .unless_refused(&[&direct, &leader], &format!("cannot read {BUCKET}/{id}"), self.c().kv.entry(id))
            .await?;
        Ok(e.filter(|e| e.operation == kv::Operation::Put))
    }

    /// Where `object` (received as `bytes`) stands against the bucket.
    pub(crate) async fn check(&self, object: &Object, bytes: &[u8]) -> Result<Check> {
        let id = object.id().to_hex();
        let e =
            self.c().kv.entry(&id).await.map_err(|e| Error::transport(format!("cannot read {BUCKET}/{id}: {e}")))?;
        let Some(e) = e else { return Ok(Check::Current(None)) };
        if e.operation != kv::Operation::Put {
            // Deleted from the bucket: a copy of it is not new work (it ran, or was
            // withdrawn), whoever publishes it.
            return Ok(Check::Stale("its bucket entry was deleted: refusing to start it again".into()));
        }
        // The newest version itself (the common case): nothing to decode.
        if e.value.as_ref() == bytes {
            return Ok(Check::Current(Some(e.revision)));
        }
        let newest = match Object::from_bytes(&e.value, &self.options.limits) {
            Ok(o) => o,
            // A damaged bucket entry proves nothing about the received version.
            Err(err) => return Ok(Check::Stale(format!("its bucket entry does not decode ({err})"))),
        };
        // Positions are seqs: a compaction prunes records, never renumbers them.
        let (n, k) = (object.written(), newest.written());
        if newest.head() == object.head() {
            return Ok(Check::Current(Some(e.revision)));
        }
        if k > n && newest.hash_at(n - 1) == Some(object.head()) {
            if one_visit_after(&newest, n) {
                return Ok(Check::Successor(e.value));
            }
            return Ok(Check::Stale(format!("already extended to record {k}")));
        }
        if k < n && object.hash_at(k - 1) == Some(newest.head()) {
            return Ok(Check::Current(Some(e.revision)));
        }
        Ok(Check::Stale(format!("conflicts with the committed version (record {k}, head {})", newest.head())))
    }

    /// After losing the commit of `d`'s result to another node: sends on the version that
    /// won (`newest`, from the bucket) when it is the delivered version's direct
    /// successor. Its committer may have failed before publishing it, and `d`, which
    /// would have been presented again for it, is about to be acknowledged. The message
    /// id makes this harmless when the winner did publish it.
    pub(crate) async fn send_on_winner(&self, d: &Delivery, newest: &kv::Entry) -> Result<()> {
        let object = Object::from_bytes(&newest.value, &self.options.limits)?;
        let n = d.count as u32;
        if object.written() > n && object.hash_at(n - 1) == Some(d.head) && one_visit_after(&object, n) {
            let (to, dup) = self.forward(&object, newest.value.clone()).await?;
            if !dup {
                Stats::bump(&self.stats.reconciled);
                let m = object.written();
                self.say(|| format!("reconciled: {} record {m} (committed, never published) sent to {to}", d.id));
            }
        }
        Ok(())
    }

    /// Publishes a committed version to where it goes next (idempotent: the message id
    /// is the object id and head). Returns the subject and whether JetStream had it.
    /// The receiver reads the bucket before it extends the version: nothing in a message
    /// (which any client may publish) is taken as proof that it is the newest.
    pub(crate) async fn forward(&self, object: &Object, bytes: bytes::Bytes) -> Result<(String, bool)> {
        let subject = route(object);
        let id = format!("{}@{}", object.id().to_hex(), object.head());
        self.publish(&subject, &id, bytes).await.map(|dup| (subject, dup))
    }

    pub(crate) async fn publish(&self, subject: &str, msg_id: &str, bytes: bytes::Bytes) -> Result<bool> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let ack = self
            .c()
            .js
            .publish_with_headers(subject.to_owned(), headers, bytes)
            .await
            .map_err(transport("cannot publish"))?;
        let ack =
            self.unless_refused(subject, &format!("JetStream did not store {subject}"), ack.into_future()).await?;
        Ok(ack.duplicate)
    }

    pub(crate) async fn last_on(&self, subject: &str) -> Result<Option<jetstream::message::StreamMessage>> {
        let get = format!("$JS.API.STREAM.MSG.GET.{WORK_STREAM}\"");
        let last = async {
            match self.c().work.get_last_raw_message_by_subject(subject).await {
                Ok(m) => Ok(Some(m)),
                Err(e) if matches!(e.kind(), stream::LastRawMessageErrorKind::NoMessageFound) => Ok(None),
                Err(e) => Err(e),
            }
        };
        self.c().denied.unless_refused(&[&get], &format!("cannot read {subject}"), last).await
    }

    /// Removes message `sequence` from the work stream (a stale wake-up, an event used).
    pub(crate) async fn remove(&self, sequence: u64) {
        let delete = format!("$JS.API.STREAM.MSG.DELETE.{WORK_STREAM}\"");
        let removed = self.c().work.delete_message(sequence);
        // Gone already (another node removed it) is fine; a refusal is the operator's to fix.
        if let Err(e) = self.c().denied.unless_refused(&[&delete], "cannot remove a used message", removed).await
            && e.message().contains("the server refused it")
        {
            self.say(|| e.to_string());
        }
    }

    pub(crate) async fn classify(&self, node: &str, msg: jetstream::Message) -> Result<Option<Delivery>> {
        let (delivered, published_ns) = match msg.info() {
            Ok(i) => (i.delivered, i.published.unix_timestamp_nanos()),
            Err(_) => (1, now_ns()),
        };
        let subject = msg.subject.as_str().to_owned();
        let limits = &self.options.limits;
        let base = |msg, id: String, revision, (head, count), work| Delivery {
            work,
            msg,
            id,
            revision,
            head,
            count,
            event_seq: None,
            was_dormant: false,
            published_ns,
            delivered,
            progress: None,
        };
        if let Some(rest) = subject.strip_prefix("peo.event.") {
            let id = rest.split('.').next().unwrap_or_default().to_owned();
            let event = serde_json::from_slice::<Value>(&msg.payload)
                .map_err(|e| Error::decode(format!("the event is not JSON: {e}")))
                .and_then(|v| Event::from_json(&v));
            let event = match event {
                Ok(e) => e,
                Err(e) => {
                    self.dead(&msg, Some(&id), &e).await;
                    return Ok(None);
                }
            };
            let retry = Duration::from_millis((250 * delivered.max(1) as u64).min(10_000));
            let Some(entry) = self.entry(&id).await? else {
                if delivered >= 40 {
                    let e = Error::invalid_argument(format!("no object {id} is known to the mesh"));
                    self.dead(&msg, Some(&id), &e).await;
                } else {
                    self.defer(&msg, retry).await;
                }
                return Ok(None);
            };
            let object = Object::from_bytes(&entry.value, limits)?;
            if object.status().is_terminal() {
                self.say(|| {
                    format!("event `{}` for {id} dropped: the object has {}", event.name, object.status().as_str())
                });
                self.ack(&msg, AckKind::Ack).await;
                return Ok(None);
            }
            match waiting(&object) {
                // Awaited, but not signed by a key its `Await` state names: forged (or
                // sent by someone the plan does not trust to answer). Dropped, counted.
                Some(w)
                    if w.event.as_deref().is_some_and(|a| peo_core::accepts(a, &event.name))
                        && !peo_core::vouched(&object, &event) =>
                {
                    Stats::bump(&self.stats.ignored);
                    self.say(|| {
                        format!("ignored: event `{}` for {id} is not signed by a key its Await state names", event.name)
                    });
                    self.ack(&msg, AckKind::Ack).await;
                    Ok(None)
                }
                Some(w) if w.event.as_deref().is_some_and(|a| peo_core::accepts(a, &event.name)) => {
                    let mut d = base(
                        msg,
                        id,
                        Some(entry.revision),
                        (object.head(), object.written() as usize),
                        Work::Visit { object: entry.value.to_vec(), event: Some(event) },
                    );
                    d.was_dormant = true;
                    Ok(Some(d))
                }
                // Waiting for a task token's answer, and this names another token: forged,
                // or the late answer to an earlier attempt. No later wait can take it (a
                // token is handed out only after the object waits for it).
                Some(w)
                    if peo_core::is_task_token(&event.name)
                        && w.event.as_deref().is_some_and(peo_core::is_commitment) =>
                {
                    Stats::bump(&self.stats.ignored);
                    self.say(|| format!("ignored: an event for {id} naming a task token it does not wait for"));
                    self.ack(&msg, AckKind::Ack).await;
                    Ok(None)
                }
                _ => {
                    // Not waiting for it (yet): kept, and presented again later.
                    self.defer(&msg, retry).await;
                    Ok(None)
                }
            }
        } else if let Some(parent_id) = subject.strip_prefix("peo.join.") {
            let parent_id = parent_id.to_owned();
            let retry = Duration::from_millis((250 * delivered.max(1) as u64).min(10_000));
            let Some(entry) = self.entry(&parent_id).await? else {
                self.defer(&msg, retry).await;
                return Ok(None);
            };
            let parent = Object::from_bytes(&entry.value, limits)?;
            if parent.status().is_terminal() {
                Stats::bump(&self.stats.duplicates);
                self.say(|| format!("duplicate: a completion for {parent_id}, which has {}", parent.status().as_str()));
                self.ack(&msg, AckKind::Ack).await;
                return Ok(None);
            }
            if parent.status() != peo_core::Status::Dormant {
                self.defer(&msg, retry).await;
                return Ok(None);
            }
            let child = msg.payload.to_vec();
            let mut d = base(
                msg,
                parent_id,
                Some(entry.revision),
                (parent.head(), parent.written() as usize),
                Work::Complete { parent: entry.value.to_vec(), child },
            );
            d.was_dormant = true;
            Ok(Some(d))
        } else {
            let object = match Object::from_bytes(&msg.payload, limits) {
                Ok(o) => o,
                Err(e) => {
                    let id = subject.strip_prefix("peo.dormant.").map(str::to_owned);
                    self.dead(&msg, id.as_deref(), &e).await;
                    return Ok(None);
                }
            };
            let id = object.id().to_hex();
            // Always against the bucket: a redelivery, a stale copy, a replay by another
            // client (whatever its headers say) or a wake-up is recognised there.
            let check = self.check(&object, &msg.payload).await?;
            let revision = match check {
                Check::Current(r) => r,
                Check::Stale(why) if subject.starts_with("peo.dormant.") => {
                    Stats::bump(&self.stats.superseded);
                    self.say(|| format!("superseded: the wake-up of {id} at record {}: {why}", object.written()));
                    self.ack(&msg, AckKind::Ack).await;
                    return Ok(None);
                }
                Check::Stale(why) => {
                    Stats::bump(&self.stats.duplicates);
                    self.say(|| format!("duplicate: {id} at record {} on {subject}: {why}", object.written()));
                    self.ack(&msg, AckKind::Ack).await;
                    return Ok(None);
                }
                Check::Successor(bytes) => {
                    let next = Object::from_bytes(&bytes, limits)?;
                    let (to, dup) = self.forward(&next, bytes).await?;
                    let n = object.written();
                    if subject.starts_with("peo.dormant.") {
                        // An event or a child woke it first (and published it, or is about
                        // to: the message id makes publishing it twice harmless).
                        Stats::bump(&self.stats.superseded);
                        self.say(|| format!("superseded: the wake-up of {id} at record {n}"));
                    } else if dup {
                        Stats::bump(&self.stats.duplicates);
                        self.say(|| format!("duplicate: {id} at record {n} on {subject} was already extended"));
                    } else {
                        Stats::bump(&self.stats.reconciled);
                        let m = next.written();
                        self.say(|| format!("reconciled: {id} record {m} (committed, never published) sent to {to}"));
                    }
                    self.ack(&msg, AckKind::Ack).await;
                    return Ok(None);
                }
            };
            let head = (object.head(), object.written() as usize);
            if object.status().is_terminal() {
                // Committed and finished, but its final publication may be missing.
                self.forward(&object, msg.payload.clone()).await?;
                self.ack(&msg, AckKind::Ack).await;
                return Ok(None);
            }
            if object.status() == peo_core::Status::Dormant {
                let w = waiting(&object);
                let now = now_ms();
                let due = w.as_ref().and_then(|w| w.due_at).is_some_and(|t| t <= now);
                let mut event = None;
                if !due && let Some(name) = w.as_ref().and_then(|w| w.event.clone()) {
                    let s = format!("peo.event.{id}.{}", subject_token(&peo_core::awaited_key(&name)));
                    if let Some(m) = self.last_on(&s).await?
                        && let Ok(v) = serde_json::from_slice::<Value>(&m.payload)
                        && let Ok(e) = Event::from_json(&v)
                        && peo_core::accepts(&name, &e.name)
                    {
                        event = Some((e, m.sequence));
                    }
                }
                if !due && event.is_none() {
                    Stats::bump(&self.stats.deferred);
                    match w.and_then(|w| w.due_at) {
                        Some(t) => {
                            let wait = Duration::from_millis((t - now).clamp(1, MAX_PARK_MS) as u64);
                            self.defer(&msg, wait).await
                        }
                        // Woken by an event or by its children: those messages drive it.
                        None => self.ack(&msg, AckKind::Ack).await,
                    }
                    return Ok(None);
                }
                let (event, seq) = event.map(|(e, s)| (Some(e), Some(s))).unwrap_or((None, None));
                let payload = msg.payload.to_vec();
                let mut d = base(msg, id, revision, head, Work::Visit { object: payload, event });
                d.event_seq = seq;
                d.was_dormant = true;
                return Ok(Some(d));
            }
            // Delegated away by this very node (its policy forbade the task here): let
            // another node offering the capability take it first.
            if delivered < 4
                && let Some(Ok(r)) = object.memory().last().map(|r| r.decode())
                && r.node.id == node
                && matches!(r.body, Body::Delegate { reason: DelegateReason::Policy, .. })
            {
                self.defer(&msg, Duration::from_millis(100 * delivered.max(1) as u64)).await;
                return Ok(None);
            }
            let max = self.options.max_deliver;
            if max > 0 && delivered > max {
                let e = Error::limit(format!(
                    "delivered {delivered} times and never settled (max_deliver {max}): every node that took it \
                     declined it or died visiting it"
                ));
                self.dead(&msg, Some(&id), &e).await;
                return Ok(None);
            }
            let payload = msg.payload.to_vec();
            Ok(Some(base(msg, id, revision, head, Work::Visit { object: payload, event: None })))
        }
    }
}

/// Whether records `n..` of `newest` are one visit (`newest` is then the direct successor
/// of its first `n` records).
fn one_visit_after(newest: &Object, n: u32) -> bool {
    let visits: Vec<u32> = newest.records_from(n).iter().filter_map(|r| r.decode().ok().map(|r| r.visit)).collect();
    visits.len() as u32 == newest.written() - n && visits.iter().all(|v| *v == visits[0])
}
