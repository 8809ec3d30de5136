//! What each participant of a mesh may publish and subscribe to, as a NATS server's
//! `permissions` block: the least each role needs, derived from the subjects and
//! consumers this crate uses, so that an operator's configuration cannot drift from them.

use serde::Serialize;

use super::{ARCHIVE_STREAM, BUCKET, DONE_STREAM, WORK_STREAM, durable, subject_token};

/// A NATS user's permissions: the subjects it may publish to and subscribe to.
///
/// [`Permissions::to_conf`] writes them the way `nats-server`'s configuration takes them
/// (`permissions: { publish: [...], subscribe: [...] }`); `peo permissions` prints them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Permissions {
    /// Subjects it may publish to (JetStream API requests, acknowledgements, peo's subjects).
    pub publish: Vec<String>,
    /// Subjects it may subscribe to (the replies to its requests).
    pub subscribe: Vec<String>,
}

/// The JetStream API requests every connection makes when it opens: it looks up the
/// three streams and the bucket (and creates none of them: the operator's connection,
/// or any with `$JS.API.STREAM.CREATE`, does that once).
fn opening() -> Vec<String> {
    [WORK_STREAM, DONE_STREAM, ARCHIVE_STREAM, &format!("KV_{BUCKET}")]
        .iter()
        .map(|s| format!("$JS.API.STREAM.INFO.{s}"))
        .collect()
}

/// Reading the newest version of any object from the bucket: a direct get (a bucket on
/// one server), or a get from the stream's leader (a replicated bucket, whose followers
/// may lag behind and are not asked).
fn bucket_read() -> [String; 2] {
    [format!("$JS.API.DIRECT.GET.KV_{BUCKET}.>"), format!("$JS.API.STREAM.MSG.GET.KV_{BUCKET}")]
}

/// Writing a version of any object to the bucket (a compare-and-set on its revision).
fn bucket_write() -> String {
    format!("$KV.{BUCKET}.>")
}

/// Replies to a connection's requests arrive on its inbox.
fn inbox() -> Vec<String> {
    vec!["_INBOX.>".to_owned()]
}

/// The name of the durable consumer through which the nodes offering `capability` take
/// its work: `cap_` and the capability with `~` for each dot (`cap_inventory~reserve`),
/// or `cap_~` and its hex for a name that is not plain.
pub fn capability_consumer(capability: &str) -> String {
    durable("cap", capability)
}

/// The name of the durable consumer through which node `node_id` takes the objects sent
/// to it by name.
pub fn node_consumer(node_id: &str) -> String {
    durable("node", node_id)
}

/// The consumers every node shares: new objects and children, dormant objects,
/// children's completions, events.
pub(crate) const SHARED: [(&str, &str); 4] =
    [("new", "peo.new"), ("dormant", "peo.dormant.>"), ("join", "peo.join.>"), ("events", "peo.event.>")];

impl Permissions {
    /// A node serving `capabilities`: it takes work only from their consumers, its own
    /// and the shared ones, reads and writes the bucket, and publishes objects onward
    /// (to any capability, node, parent or result), dead letters and archive segments.
    /// It may not send events, nor take another capability's work.
    pub fn node<S: AsRef<str>>(node_id: &str, capabilities: &[S]) -> Permissions {
        let mut consumers: Vec<String> = capabilities.iter().map(|c| capability_consumer(c.as_ref())).collect();
        consumers.push(node_consumer(node_id));
        consumers.extend(SHARED.iter().map(|(name, _)| (*name).to_owned()));
        let mut publish = opening();
        for c in &consumers {
            publish.push(format!("$JS.API.CONSUMER.INFO.{WORK_STREAM}.{c}"));
            publish.push(format!("$JS.API.CONSUMER.CREATE.{WORK_STREAM}.{c}.>"));
            publish.push(format!("$JS.API.CONSUMER.MSG.NEXT.{WORK_STREAM}.{c}"));
            publish.push(format!("$JS.ACK.{WORK_STREAM}.{c}.>"));
        }
        publish.extend(bucket_read());
        publish.push(bucket_write());
        // Finding and removing a dormant object's stale wake-up, an event once used.
        publish.push(format!("$JS.API.STREAM.MSG.GET.{WORK_STREAM}"));
        publish.push(format!("$JS.API.STREAM.MSG.DELETE.{WORK_STREAM}"));
        publish.extend(
            [
                "peo.cap.>",
                "peo.node.>",
                "peo.new",
                "peo.dormant.>",
                "peo.join.>",
                "peo.done.>",
                "peo.dead.>",
                "peo.archive.>",
            ]
            .map(String::from),
        );
        Permissions { publish, subscribe: inbox() }
    }

    /// A client that submits objects and reads them back: `submit`, `get`, `wait_done`
    /// (`peo submit --wait`, `peo wait`) and `archive`. It may not send events, publish
    /// results or take work.
    pub fn client() -> Permissions {
        let mut publish = opening();
        publish.extend(bucket_read());
        publish.push(bucket_write());
        // A new object goes to its first state's capability, a node, or any node.
        publish.extend(["peo.cap.>", "peo.node.>", "peo.new"].map(String::from));
        // Reading results and archives through ephemeral (ordered) consumers, which the
        // client creates unnamed and names when it recreates one.
        for stream in [DONE_STREAM, ARCHIVE_STREAM] {
            publish.push(format!("$JS.API.CONSUMER.CREATE.{stream}"));
            publish.push(format!("$JS.API.CONSUMER.CREATE.{stream}.>"));
            publish.push(format!("$JS.API.CONSUMER.INFO.{stream}.*"));
            publish.push(format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.*"));
            publish.push(format!("$JS.API.CONSUMER.DELETE.{stream}.*"));
        }
        // A result already there (the last message on its subject).
        publish.push(format!("$JS.API.STREAM.MSG.GET.{DONE_STREAM}"));
        Permissions { publish, subscribe: inbox() }
    }

    /// A service that answers objects: it sends events (`send_event`, `peo send`) to the
    /// objects whose ids match `objects` (a subject token pattern: `*` for any object)
    /// and nothing else.
    pub fn event_sender(objects: &str) -> Permissions {
        let mut publish = opening();
        publish.push(format!("peo.event.{}.>", if objects == "*" { "*".to_owned() } else { subject_token(objects) }));
        Permissions { publish, subscribe: inbox() }
    }

    /// The block for a user in `nats-server`'s configuration.
    pub fn to_conf(&self) -> String {
        let list =
            |subjects: &[String]| subjects.iter().map(|s| format!("      \"{s}\"")).collect::<Vec<_>>().join("\n");
        format!(
            "{{\n    publish: [\n{}\n    ]\n    subscribe: [\n{}\n    ]\n  }}",
            list(&self.publish),
            list(&self.subscribe)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_may_take_only_its_own_work() {
        let p = Permissions::node("py-reserve", &["inventory.reserve", "plain"]);
        let reserve = capability_consumer("inventory.reserve");
        assert!(p.publish.contains(&format!("$JS.API.CONSUMER.MSG.NEXT.PEO.{reserve}")));
        assert_eq!(reserve, "cap_inventory~reserve");
        assert!(p.publish.contains(&"$JS.API.CONSUMER.MSG.NEXT.PEO.cap_plain".to_owned()));
        assert!(p.publish.contains(&"$JS.API.CONSUMER.MSG.NEXT.PEO.node_py-reserve".to_owned()));
        assert!(p.publish.contains(&"$JS.ACK.PEO.events.>".to_owned()));
        assert!(!p.publish.iter().any(|s| s.starts_with("peo.event")), "a node sends no events");
        assert!(!p.publish.iter().any(|s| s.contains("STREAM.CREATE") || s.contains("PURGE")));
        assert_eq!(p.subscribe, ["_INBOX.>"]);
    }

    #[test]
    fn no_two_names_share_a_consumer() {
        let names = ["a.b", "a~b", "a_b", "a-b", "~61", "a b", "a..b", ".a", "x:y=z", "a", "A"];
        let consumers: std::collections::BTreeSet<String> = names.iter().map(|n| capability_consumer(n)).collect();
        assert_eq!(consumers.len(), names.len(), "{consumers:?}");
        assert_eq!(node_consumer("a b"), "node_~612062");
        assert!(consumers.iter().all(|c| !c.contains(['.', '*', '>', ' '])), "{consumers:?}");
    }

    #[test]
    fn clients_and_event_senders_get_no_work_and_publish_no_results() {
        for p in [Permissions::client(), Permissions::event_sender("*")] {
            assert!(!p.publish.iter().any(|s| s.starts_with("$JS.ACK") || s.starts_with("peo.done")));
            assert!(!p.publish.iter().any(|s| s.contains(&format!(".{WORK_STREAM}."))));
        }
        assert!(!Permissions::client().publish.iter().any(|s| s.starts_with("peo.event")));
        assert_eq!(Permissions::event_sender("ab12").publish.last().unwrap(), "peo.event.ab12.>");
    }

    #[test]
    fn the_conf_block_lists_every_subject_quoted() {
        let conf = Permissions::event_sender("*").to_conf();
        assert!(conf.contains("\"peo.event.*.>\""), "{conf}");
        assert!(conf.contains("subscribe: [\n      \"_INBOX.>\"\n    ]"), "{conf}");
    }
}
