//! The client side: submitting objects, sending events, reading and waiting for them,
//! reading the archive.

use super::*;

impl JetStream {
    /// Puts a new object into the mesh (idempotent for the same version).
    pub fn submit(&self, bytes: &[u8]) -> Result<String> {
        let object = Object::from_bytes(bytes, &self.options.limits)?;
        let id = object.id().to_hex();
        self.rt.block_on(async {
            let b = bytes::Bytes::copy_from_slice(bytes);
            let key = format!("$KV.{BUCKET}.{id}");
            let what = format!("cannot commit {id} to {BUCKET}");
            match self.unless_refused(&key, &what, self.c().kv.create(&id, b.clone())).await {
                Ok(_) => {}
                // Refused, or already there: the bucket says which (and when it cannot be
                // read either, the refusal is what to report).
                Err(e) => match self.entry(&id).await.map_err(|_| e.clone())? {
                    Some(existing) if existing.value == b => {}
                    // Submitted before and already on its way (or finished): nothing to do.
                    Some(existing)
                        if Object::from_bytes(&existing.value, &self.options.limits).is_ok_and(|o| {
                            o.written() > object.written() && o.hash_at(object.written() - 1) == Some(object.head())
                        }) =>
                    {
                        return Ok(id);
                    }
                    Some(_) => {
                        return Err(Error::invalid_argument(format!(
                            "object {id} is already in the mesh at another version"
                        )));
                    }
                    None => return Err(e),
                },
            };
            self.forward(&object, b).await.map(|_| id)
        })
    }

    /// Sends an event to an object (kept until the object waits for it).
    pub fn send_event(&self, object_id: &str, event: &Event) -> Result<()> {
        ObjectId::from_hex(object_id)?;
        // Under the event's key (the SHA-256 of its name): a task token never appears in
        // a subject, and an object awaiting a token's commitment finds it there.
        let subject = format!("peo.event.{object_id}.{}", subject_token(&peo_core::event_key(&event.name)));
        let body = bytes::Bytes::from(event.to_json().to_string());
        self.rt.block_on(async {
            let ack = self.c().js.publish(subject.clone(), body).await.map_err(transport("cannot publish"))?;
            self.unless_refused(&subject, &format!("JetStream did not store {subject}"), ack.into_future()).await?;
            Ok(())
        })
    }

    /// The newest committed version of an object, if the mesh knows it.
    pub fn get(&self, object_id: &str) -> Result<Option<Vec<u8>>> {
        self.rt.block_on(async { Ok(self.entry(object_id).await?.map(|e| e.value.to_vec())) })
    }

    /// Waits until every object in `ids` has finished (a message on `peo.done.<id>`) or
    /// `timeout` passes; returns the finished ones' final bytes by id.
    pub fn wait_done(&self, ids: &[String], timeout: Duration) -> Result<std::collections::BTreeMap<String, Vec<u8>>> {
        let wanted: std::collections::BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        self.rt.block_on(async {
            let mut found = std::collections::BTreeMap::new();
            // Listen for new finishes first, then look up the ones already finished (so
            // none slips between the two), without reading the whole stream.
            let deadline = tokio::time::Instant::now() + timeout;
            let mut messages = loop {
                let opened = async {
                    let consumer = self
                        .c()
                        .done
                        .create_consumer(pull::OrderedConfig {
                            filter_subject: "peo.done.>".into(),
                            deliver_policy: jetstream::consumer::DeliverPolicy::New,
                            ..Default::default()
                        })
                        .await
                        .map_err(transport("cannot read PEO_DONE"))?;
                    consumer.messages().await.map_err(transport("cannot read PEO_DONE"))
                };
                match opened.await {
                    Ok(m) => break m,
                    // A server lost, a leader being elected (a cluster): again until the
                    // deadline.
                    Err(_) if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(200)).await
                    }
                    Err(e) => return Err(e),
                }
            };
            for id in &wanted {
                loop {
                    match self.c().done.get_last_raw_message_by_subject(&format!("peo.done.{id}")).await {
                        Ok(m) => {
                            found.insert((*id).to_owned(), self.finished(id, &m.payload)?);
                        }
                        Err(e) if matches!(e.kind(), stream::LastRawMessageErrorKind::NoMessageFound) => {}
                        Err(e) => {
                            let get = format!("$JS.API.STREAM.MSG.GET.{DONE_STREAM}\"");
                            if let Some(why) = self.c().denied.take(&[&get]) {
                                return Err(Denied::error("cannot read PEO_DONE", &why));
                            }
                            if tokio::time::Instant::now() >= deadline {
                                return Err(Error::transport(format!("cannot read PEO_DONE: {e}")));
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                    }
                    break;
                }
            }
            while found.len() < wanted.len() {
                match tokio::time::timeout_at(deadline, messages.next()).await {
                    Err(_) | Ok(None) => break,
                    // The ordered consumer recreates itself after an error (a server
                    // lost): keep reading until the deadline.
                    Ok(Some(Err(_))) if tokio::time::Instant::now() < deadline => {}
                    Ok(Some(Err(e))) => return Err(Error::transport(format!("reading PEO_DONE: {e}"))),
                    Ok(Some(Ok(m))) => {
                        if let Some(id) = m.subject.as_str().strip_prefix("peo.done.")
                            && wanted.contains(id)
                        {
                            found.insert(id.to_owned(), self.finished(id, &m.payload)?);
                        }
                    }
                }
            }
            Ok(found)
        })
    }

    /// What `peo.done.<id>` holds, checked: any client may publish there, so it must be
    /// object `id`, ended, with an intact chain and valid signatures where present
    /// (verify it under your trust store for who signed it).
    pub(crate) fn finished(&self, id: &str, payload: &[u8]) -> Result<Vec<u8>> {
        let refuse = |why: String| Error::integrity(format!("peo.done.{id} holds no final version of {id}: {why}"));
        let object = Object::from_bytes(payload, &self.options.limits).map_err(|e| refuse(e.to_string()))?;
        if object.id().to_hex() != id {
            return Err(refuse(format!("it holds object {}", object.id().to_hex())));
        }
        if !object.status().is_terminal() {
            return Err(refuse(format!("the object there is {}", object.status().as_str())));
        }
        object.verify(&peo_core::Trust::any()).into_result().map_err(|e| refuse(e.to_string()))?;
        Ok(payload.to_vec())
    }

    /// How many messages are waiting in the work queue and how many objects finished.
    pub fn backlog(&self) -> Result<(u64, u64)> {
        self.rt.block_on(async {
            let w = self.c().work.get_info().await.map_err(transport("cannot read PEO"))?;
            let d = self.c().done.get_info().await.map_err(transport("cannot read PEO_DONE"))?;
            Ok((w.state.messages, d.state.messages))
        })
    }

    /// The records compactions pruned from object `object_id`, as the nodes that
    /// compacted it kept them: audit the object with them (`Object::audit`).
    pub fn archive(&self, object_id: &str) -> Result<Vec<Segment>> {
        let subject = format!("peo.archive.{}.>", subject_token(object_id));
        self.rt.block_on(async {
            let mut consumer = self
                .c()
                .archive
                .create_consumer(pull::OrderedConfig {
                    filter_subject: subject,
                    deliver_policy: jetstream::consumer::DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .map_err(transport("cannot read PEO_ARCHIVE"))?;
            let pending = consumer.info().await.map_err(transport("cannot read PEO_ARCHIVE"))?.num_pending;
            let mut messages = consumer.messages().await.map_err(transport("cannot read PEO_ARCHIVE"))?;
            let mut segments = Vec::new();
            for _ in 0..pending {
                let m = match tokio::time::timeout(Duration::from_secs(5), messages.next()).await {
                    Ok(Some(Ok(m))) => m,
                    Ok(Some(Err(e))) => return Err(Error::transport(format!("reading PEO_ARCHIVE: {e}"))),
                    _ => return Err(Error::transport("reading PEO_ARCHIVE: the server stopped answering")),
                };
                // Any client may publish on the subject: what does not decode is not a
                // segment, and the audit checks the rest against the checkpoints.
                match Segment::from_bytes(&m.payload) {
                    Ok(segment) => segments.push(segment),
                    Err(e) => self.say(|| format!("{object_id}: skipped an archive message ({e})")),
                }
            }
            Ok(segments)
        })
    }
}
