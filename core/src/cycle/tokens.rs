//! Task tokens that carry authority, and the key under which an event meets the object
//! awaiting it.
//!
//! A `.waitForTaskToken` Task's handler is handed a token, and the object then waits for
//! an event whose name is that token. The object does not keep the token: it keeps its
//! commitment, `sha256:` and the hex SHA-256 of the token, and only an event whose name
//! hashes to it completes the task. A signing node derives the token from its signature
//! of the attempt, which nobody without its key can compute; so only the party the
//! handler handed the token to can answer (as with Step Functions' task tokens).

use sha2::{Digest, Sha256};

use crate::{Event, Object, SigningKey};

/// The prefix of an awaited name that is the commitment to a token.
pub const COMMITMENT: &str = "sha256:";

/// The prefix of the tokens a node with a key hands out.
const TOKEN_PREFIX: &str = "peo-tt-";

/// What a node signs to derive a token (never a record hash: a different message).
const TOKEN_TAG: &[u8] = b"peo/task-token/v1\0";

/// The token of one attempt (`attempt_key`) of a `.waitForTaskToken` Task run by a node
/// with `key`: `peo-tt-` and 64 hex digits, the SHA-256 of the node's Ed25519 signature
/// of the attempt (deterministic, so every replay agrees; unguessable without the key).
/// A node without a key hands out the attempt key itself, which anyone can compute.
pub fn task_token(key: Option<&SigningKey>, attempt_key: &str) -> String {
    match key {
        Some(k) => {
            let mut msg = TOKEN_TAG.to_vec();
            msg.extend_from_slice(attempt_key.as_bytes());
            format!("{TOKEN_PREFIX}{}", hex::encode(Sha256::digest(k.sign_bytes(&msg))))
        }
        None => attempt_key.to_owned(),
    }
}

/// Whether `name` has the form of a token a node with a key hands out (`peo-tt-`...):
/// an event so named answers a `.waitForTaskToken` Task, never an `Await` state's name.
pub fn is_task_token(name: &str) -> bool {
    name.starts_with(TOKEN_PREFIX)
}

/// The key an event named `name` is matched (and, on JetStream, routed) under:
/// `sha256:` and the hex SHA-256 of the name.
pub fn event_key(name: &str) -> String {
    format!("{COMMITMENT}{}", hex::encode(Sha256::digest(name.as_bytes())))
}

/// Whether `awaited` is the commitment to a token (`sha256:` and 64 lowercase hex).
pub fn is_commitment(awaited: &str) -> bool {
    awaited
        .strip_prefix(COMMITMENT)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// The key of the events an object awaiting `awaited` accepts: the commitment itself, or
/// the key of the plain name.
pub fn awaited_key(awaited: &str) -> String {
    if is_commitment(awaited) { awaited.to_owned() } else { event_key(awaited) }
}

/// Whether an event named `name` is the one an object awaiting `awaited` waits for: the
/// same name, or (for a commitment) a name that hashes to it.
pub fn accepts(awaited: &str, name: &str) -> bool {
    if is_commitment(awaited) { event_key(name) == awaited } else { awaited == name }
}

/// Whether `event` carries what the state `object` waits in requires: for an `Await`
/// state that names `Signers`, a valid signature of the event for this object by one of
/// them ([`Event::signed`]); for any other wait, nothing. A transport drops (and counts)
/// an event of the awaited name that fails this; the cycle ignores it.
pub fn vouched(object: &Object, event: &Event) -> bool {
    match object.intent.plan().awaits.get(&object.state) {
        Some(spec) if !spec.signers.is_empty() => {
            event.signer_for(&object.id).is_some_and(|k| spec.signers.contains(&k))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unguessable_with_a_key_and_only_their_owner_answers_them() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let t = task_token(Some(&key), "id/Ask/1/0");
        assert!(t.starts_with("peo-tt-") && t.len() == 7 + 64, "{t}");
        assert!(is_task_token(&t) && !is_task_token("id/Ask/1/0") && !is_task_token(&event_key(&t)));
        assert_eq!(t, task_token(Some(&key), "id/Ask/1/0"), "deterministic");
        assert_ne!(t, task_token(Some(&key), "id/Ask/1/1"), "one per attempt");
        assert_ne!(t, task_token(Some(&SigningKey::from_bytes(&[8; 32])), "id/Ask/1/0"), "one per key");
        assert_eq!(task_token(None, "id/Ask/1/0"), "id/Ask/1/0");
        let c = event_key(&t);
        assert!(is_commitment(&c) && accepts(&c, &t));
        assert!(!accepts(&c, "id/Ask/1/0") && !accepts(&c, &c), "the commitment itself is not the token");
        assert_eq!(awaited_key(&c), c);
        assert!(accepts("approved", "approved") && !accepts("approved", "approve"));
        assert_eq!(awaited_key("approved"), event_key("approved"));
        assert!(!is_commitment("sha256:xyz") && !is_commitment(&c.to_uppercase()));
    }

    #[test]
    fn an_event_signature_binds_its_key_its_object_and_its_content() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let (id, other) = ("00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100");
        let oid = crate::ObjectId::from_hex(id).unwrap();
        let e = Event::success("approved", serde_json::json!({"by": "ann", "n": 1.5})).signed(id, &key).unwrap();
        assert_eq!(e.signer_for(&oid), Some(key.public_key()));
        assert_eq!(e.signer_for(&crate::ObjectId::from_hex(other).unwrap()), None, "another object");
        let mut changed = e.clone();
        changed.name = "approve".into();
        assert_eq!(changed.signer_for(&oid), None, "another name");
        // Its JSON form carries it, whatever the order of the payload's keys.
        let j = e.to_json();
        let text = format!(
            r#"{{"signature": {}, "signer": {}, "payload": {{"n": 1.5, "by": "ann"}}, "name": "approved"}}"#,
            j["signature"], j["signer"]
        );
        let back = Event::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!((back.signer_for(&oid), &back), (Some(key.public_key()), &e));
        // Half a signature, or one that is not hex, is the sender's mistake.
        for bad in [
            serde_json::json!({"name": "a", "signer": j["signer"]}),
            serde_json::json!({"name": "a", "signer": "zz", "signature": j["signature"]}),
            serde_json::json!({"name": "a", "signer": j["signer"], "signature": "00"}),
        ] {
            let err = Event::from_json(&bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
        }
        assert!(Event::success("a", serde_json::Value::Null).signed("not-an-id", &key).is_err());
    }
}
