//! Composing with AWS Step Functions: what a peo Lambda takes and returns, the task token
//! an object carries, and what a relay reports to the workflow waiting for it.
//!
//! The faces call these (Python's `peo.aws_lambda`, Node's `lambdaHandler`) and do only
//! the AWS calls themselves, with the SDK their users have; the rules live here once.
//! [docs/step-functions.md](../../docs/step-functions.md) tells the whole story.
//!
//! - **The payload a Lambda takes** ([`request`]): `{"object": <base64>}`, or
//!   `{"pointer": {...}}` for an object kept in S3, or `{"intent", "input"?, "context"?,
//!   "id"?}` to create one; `"taskToken"` (a `.waitForTaskToken` Task's
//!   `$$.Task.Token`) only with an intent. A payload wrapped as `lambda:invoke` returns it
//!   (`{"Payload": {...}, "StatusCode": ...}`) is unwrapped, so one Task's result can be
//!   the next one's payload as it stands.
//! - **The task token** lives in the context the object is created with, at
//!   `attributes.stepfunctions.taskToken`, committed by the context hash like the rest.
//!   A context only narrows while the object runs, so a running object never gains or
//!   changes a token: the `.waitForTaskToken` Task creates the object that travels.
//! - **What a Lambda returns and a relay reports** ([`reply`]): `{"id", "status", "state",
//!   "head", "records", "output"?, "error"?, "cause"?, "disposition"?, "object" |
//!   "pointer"}`. An object that ended without succeeding is a failure the workflow sees
//!   under the object's own error name.

use peo_core::{Body, Error, Limits, Object, Result, Status, Trust};
use serde_json::{Value, json};

use base64::Engine as _;

/// Step Functions' limit on a state's input or output, and on `SendTaskSuccess`'s
/// output: 256 KiB of UTF-8.
pub const PAYLOAD_LIMIT: usize = 256 * 1024;

/// Where a task token lives in a context's attributes: `{"stepfunctions": {"taskToken":
/// ...}}` (nested, so policies never see it as a fact).
pub const TOKEN_ATTRIBUTE: [&str; 2] = ["stepfunctions", "taskToken"];

/// The error name a Lambda raises, and a relay reports, when peo refuses the object
/// before any plan runs (`peo.Policy`, `peo.Integrity`, ...): `peo.` and the error's kind.
pub fn error_name(e: &Error) -> String {
    format!("peo.{:?}", e.kind())
}

/// Where an object's bytes are kept when they are too large to travel inline: the
/// object's id and the head of its chain, so the key names exactly one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    /// The S3 bucket.
    pub bucket: String,
    /// `peo/<id>/<head>.peo`.
    pub key: String,
    /// The object's id, 32 hex digits.
    pub id: String,
    /// The head of its chain, 64 hex digits: the bytes fetched must end there.
    pub head: String,
    /// The bytes' length.
    pub size: u64,
}

impl Pointer {
    /// The pointer to `obj` in `bucket`.
    pub fn to(obj: &Object, bucket: &str) -> Pointer {
        let (id, head) = (obj.id().to_hex(), obj.head().to_hex());
        Pointer {
            bucket: bucket.to_owned(),
            key: format!("peo/{id}/{head}.peo"),
            id,
            head,
            size: obj.to_bytes().len() as u64,
        }
    }

    /// `{"bucket", "key", "id", "head", "size"}`.
    pub fn to_json(&self) -> Value {
        json!({"bucket": self.bucket, "key": self.key, "id": self.id, "head": self.head, "size": self.size})
    }

    /// Reads a pointer's JSON form, checked (`InvalidArgument` naming what is wrong).
    pub fn from_json(v: &Value) -> Result<Pointer> {
        let field = |name: &str| {
            v.get(name).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
                Error::invalid_argument(format!(
                    "a pointer needs `{name}` (a string): {{\"bucket\", \"key\", \"id\", \"head\"}}"
                ))
            })
        };
        let p = Pointer {
            bucket: field("bucket")?,
            key: field("key")?,
            id: field("id")?,
            head: field("head")?,
            size: v.get("size").and_then(Value::as_u64).unwrap_or(0),
        };
        peo_core::ObjectId::from_hex(&p.id)?;
        if p.head.len() != 64 || !p.head.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(Error::invalid_argument(format!(
                "a pointer's `head` must be 64 lowercase hex digits, not `{}`",
                p.head
            )));
        }
        Ok(p)
    }

    /// The object in `bytes`, fetched from where this pointer points, checked against it:
    /// decoded under `limits`, and the same id and chain head. (Verify its signatures
    /// under your trust store as for any object.)
    pub fn check(&self, bytes: &[u8], limits: &Limits) -> Result<Object> {
        let obj = Object::from_bytes(bytes, limits)?;
        let (id, head) = (obj.id().to_hex(), obj.head().to_hex());
        if id != self.id || head != self.head {
            return Err(Error::integrity(format!(
                "s3://{}/{} holds object {id} at {head}, not the pointer's {} at {}",
                self.bucket, self.key, self.id, self.head
            )));
        }
        Ok(obj)
    }
}

/// What a Lambda's payload asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Visit this object (its bytes, decoded from base64; not yet decoded as an object).
    Object(Vec<u8>),
    /// Fetch the object from S3, check it ([`Pointer::check`]) and visit it.
    Pointer(Pointer),
    /// Create an object and visit it.
    Create {
        /// The plan, JSON text.
        intent: String,
        /// The context, JSON text, with the task token in it when one was given.
        context: Option<String>,
        /// The input, JSON text.
        input: Option<String>,
        /// The id, when the payload gives one.
        id: Option<String>,
        /// The task token given (already in `context`): the object goes to the mesh, and
        /// a relay reports it.
        token: Option<String>,
    },
}

/// Reads a Lambda's payload (JSON text): see the module's documentation.
pub fn request(payload: &str) -> Result<Request> {
    let mut v = crate::host::parse_json(payload, "the Lambda payload")?;
    // The result of `arn:aws:states:::lambda:invoke`, passed on as it stands.
    if v.get("Payload").is_some_and(Value::is_object)
        && !["object", "pointer", "intent"].iter().any(|k| v.get(k).is_some())
    {
        v = v["Payload"].take();
    }
    let Some(fields) = v.as_object() else {
        return Err(Error::invalid_argument("a peo Lambda's payload must be a JSON object"));
    };
    let token = match fields.get("taskToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if !t.is_empty() => Some(t.clone()),
        Some(_) => return Err(Error::invalid_argument("`taskToken` must be a non-empty string ($$.Task.Token)")),
    };
    let given: Vec<&str> = ["object", "pointer", "intent"].into_iter().filter(|k| fields.contains_key(*k)).collect();
    if given.len() != 1 {
        return Err(Error::invalid_argument(format!(
            "a peo Lambda's payload holds exactly one of `object` (the object's bytes, base64), `pointer` (where S3 keeps them) \
             or `intent` (a plan to create one from), not {}",
            if given.is_empty() { "none".to_owned() } else { given.join(" and ") }
        )));
    }
    if token.is_some() && given[0] != "intent" {
        return Err(Error::invalid_argument(
            "a task token comes with an `intent`: an object carries the token it was created with, and a running \
             object's context only narrows (docs/step-functions.md)",
        ));
    }
    let text = |name: &str| -> Result<Option<String>> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if name != "input" => Ok(Some(s.clone())),
            Some(other) => Ok(Some(other.to_string())),
        }
    };
    match given[0] {
        "object" => {
            let b64 = fields["object"]
                .as_str()
                .ok_or_else(|| Error::invalid_argument("`object` must be the object's bytes in base64 (a string)"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| Error::decode(format!("`object` is not base64: {e}")))?;
            Ok(Request::Object(bytes))
        }
        "pointer" => Ok(Request::Pointer(Pointer::from_json(&fields["pointer"])?)),
        _ => {
            let mut context = text("context")?;
            if let Some(token) = &token {
                context = Some(with_token(context.as_deref(), token)?);
            }
            let id = match fields.get("id") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(Error::invalid_argument("`id` must be 32 hex digits (a string)")),
            };
            Ok(Request::Create {
                intent: text("intent")?.unwrap_or_default(),
                context,
                input: text("input")?,
                id,
                token,
            })
        }
    }
}

/// `context` (JSON text; `None`: empty) with `token` at [`TOKEN_ATTRIBUTE`]. A context
/// that already names another token is an `InvalidArgument` error.
pub fn with_token(context: Option<&str>, token: &str) -> Result<String> {
    let mut v = match context {
        None => json!({}),
        Some(text) => crate::host::parse_json(text, "the context")?,
    };
    let Some(root) = v.as_object_mut() else {
        return Err(Error::invalid_argument("the context must be a JSON object"));
    };
    let attributes = root.entry("attributes").or_insert_with(|| json!({}));
    let Some(attributes) = attributes.as_object_mut() else {
        return Err(Error::invalid_argument("the context's `attributes` must be a JSON object"));
    };
    let sfn = attributes.entry(TOKEN_ATTRIBUTE[0]).or_insert_with(|| json!({}));
    let Some(sfn) = sfn.as_object_mut() else {
        return Err(Error::invalid_argument("the context's `attributes.stepfunctions` must be a JSON object"));
    };
    match sfn.get(TOKEN_ATTRIBUTE[1]) {
        Some(Value::String(t)) if t != token => {
            return Err(Error::invalid_argument("the context already carries another task token"));
        }
        _ => {}
    }
    sfn.insert(TOKEN_ATTRIBUTE[1].to_owned(), Value::String(token.to_owned()));
    Ok(v.to_string())
}

/// The task token `obj` carries, if any.
pub fn task_token(obj: &Object) -> Option<String> {
    obj.context().attributes().get(TOKEN_ATTRIBUTE[0])?.get(TOKEN_ATTRIBUTE[1])?.as_str().map(str::to_owned)
}

/// An error name and its cause.
type Failure = (String, String);

/// How an object ended: its status, and the output or the error and cause of its last
/// record.
struct Ending {
    status: Status,
    output: Option<Value>,
    error: Option<Failure>,
}

/// How an ended object ended; `None` while it runs.
fn ending(obj: &Object) -> Result<Option<Ending>> {
    if !obj.status().is_terminal() {
        return Ok(None);
    }
    let last = obj.memory().last().ok_or_else(|| Error::internal("an ended object has no records"))?;
    match last.decode()?.body {
        Body::Terminate { status, output, error } => {
            let output = output.map(|t: String| crate::host::parse_json(&t, "the output")).transpose()?;
            Ok(Some(Ending { status, output, error: error.map(|e| (e.error, e.cause.unwrap_or_default())) }))
        }
        _ => Err(Error::integrity("an ended object's last record is not its termination")),
    }
}

/// What a Lambda returns or a relay reports for `obj`, and what the face must do.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// `{"id", "status", "state", "head", "records", "output"?, "error"?, "cause"?,
    /// "disposition"?, "object" | "pointer"}`: a Lambda's result, a relay's
    /// `SendTaskSuccess` output.
    pub body: Value,
    /// Where to put the object's bytes before replying, when they go by pointer.
    pub upload: Option<Pointer>,
    /// For an object that ended without succeeding: the error name and cause to raise (a
    /// Lambda) or to send with `SendTaskFailure` (a relay).
    pub failure: Option<Failure>,
}

/// The reply for `obj` after a visit that ended with `disposition` (its JSON form; `None`
/// for a relay). The object goes inline in base64 while the reply stays within
/// [`PAYLOAD_LIMIT`], else by pointer into `bucket`; with no bucket, or an output too
/// large even so, it is a `Limit` error that says which.
pub fn reply(obj: &Object, disposition: Option<&Value>, bucket: Option<&str>) -> Result<Reply> {
    let end = ending(obj)?;
    let mut body = json!({
        "id": obj.id().to_hex(),
        "status": obj.status().as_str(),
        "state": obj.state(),
        "head": obj.head().to_hex(),
        "records": obj.written(),
    });
    let mut failure = None;
    if let Some(Ending { status, output, error }) = end {
        if let Some(output) = output {
            body["output"] = output;
        }
        if let Some((error, cause)) = &error {
            body["error"] = json!(error);
            body["cause"] = json!(cause);
        }
        if status != Status::Succeeded {
            failure = Some(error.unwrap_or_else(|| (format!("peo.{}", status.as_str()), String::new())));
        }
    }
    if let Some(d) = disposition {
        body["disposition"] = d.clone();
    }
    let bytes = obj.to_bytes();
    let inline = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let size = body.to_string().len() + inline.len() + r#","object":"""#.len();
    if size <= PAYLOAD_LIMIT {
        body["object"] = Value::String(inline);
        return Ok(Reply { body, upload: None, failure });
    }
    let Some(bucket) = bucket else {
        return Err(Error::limit(format!(
            "the reply with object {} inline would be {size} bytes, past Step Functions' {PAYLOAD_LIMIT}: give the handler \
             an S3 bucket so it goes by pointer",
            obj.id().to_hex()
        )));
    };
    let pointer = Pointer::to(obj, bucket);
    body["pointer"] = pointer.to_json();
    let size = body.to_string().len();
    if size > PAYLOAD_LIMIT {
        return Err(Error::limit(format!(
            "the reply for object {} is {size} bytes even with the object by pointer, past Step Functions' {PAYLOAD_LIMIT}: \
             its output is too large to pass through the workflow",
            obj.id().to_hex()
        )));
    }
    Ok(Reply { body, upload: Some(pointer), failure })
}

/// The reply as one JSON text for the faces: `{"body", "upload", "failure": {"error",
/// "cause"}}` (`upload` and `failure` null when not needed).
pub fn reply_json(reply: &Reply) -> String {
    json!({
        "body": reply.body,
        "upload": reply.upload.as_ref().map(Pointer::to_json),
        "failure": reply.failure.as_ref().map(|(e, c)| json!({"error": e, "cause": c})),
    })
    .to_string()
}

/// What a relay saw of an object on the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen<'a> {
    /// A new version (it still moves).
    Progress,
    /// Its final version.
    Finished,
    /// Dead-lettered, with the error code and message the mesh gave.
    Dead(&'a str, &'a str),
}

/// The error name a relay sends for an object the mesh dead-lettered.
pub const DEAD_LETTER: &str = "peo.DeadLetter";

/// What a relay sends to Step Functions for an object it saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// `SendTaskHeartbeat`: the object still moves.
    Heartbeat {
        /// The task token the object carries.
        token: String,
    },
    /// `SendTaskSuccess` with `output` (the reply's body). `upload`: where the object's
    /// bytes go first, when the body points to them instead of carrying them.
    Success {
        /// The task token the object carries.
        token: String,
        /// The task's output.
        output: Value,
        /// The S3 object to write the bytes to before reporting, if the body points to it.
        upload: Option<Pointer>,
    },
    /// `SendTaskFailure` with an error name and a cause.
    Failure {
        /// The task token the object carries.
        token: String,
        /// The error name the workflow sees (`States.*`, `peo.*`, or the plan's own).
        error: String,
        /// The cause.
        cause: String,
    },
    /// Nothing is sent: a finish that does not verify under the relay's trust (forged, or
    /// finished by nodes the relay does not trust). `why` says what failed.
    Untrusted {
        /// The task token the object carries.
        token: String,
        /// Why it does not verify.
        why: String,
    },
}

/// What a relay sends to Step Functions for an object it saw, if the object carries a
/// task token (`None`: no token, or bytes that are not an object). A finish is reported
/// only when it verifies under `trust` (when given); otherwise the report is
/// [`Report::Untrusted`]. Heartbeats and dead letters are not verified: see
/// docs/step-functions.md, "Whose finishes count". The output goes by pointer into
/// `bucket` as a Lambda's reply does.
pub fn relay_report(
    seen: Seen<'_>,
    bytes: &[u8],
    bucket: Option<&str>,
    trust: Option<&Trust>,
    limits: &Limits,
) -> Option<Report> {
    let obj = Object::from_bytes(bytes, limits).ok()?;
    let token = task_token(&obj)?;
    Some(match seen {
        Seen::Progress => Report::Heartbeat { token },
        Seen::Dead(code, message) => {
            Report::Failure { token, error: DEAD_LETTER.to_owned(), cause: format!("{code}: {message}") }
        }
        Seen::Finished => {
            if let Some(Err(e)) = trust.map(|t| obj.verify(t).into_result()) {
                return Some(Report::Untrusted { token, why: e.to_string() });
            }
            match reply(&obj, None, bucket) {
                Ok(Reply { failure: Some((error, cause)), .. }) => Report::Failure { token, error, cause },
                Ok(r) => Report::Success { token, output: r.body, upload: r.upload },
                Err(e) => Report::Failure { token, error: error_name(&e), cause: e.to_string() },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;

    fn create(context: Option<&str>) -> Object {
        crate::host::NewObject { intent_json: PLAN, context_json: context, ..Default::default() }.create().unwrap()
    }

    #[test]
    fn payloads_are_read_and_checked() {
        let obj = create(None);
        let b64 = base64::engine::general_purpose::STANDARD.encode(obj.to_bytes());
        assert_eq!(request(&json!({"object": b64}).to_string()).unwrap(), Request::Object(obj.to_bytes()));
        // As `lambda:invoke` returns it.
        let wrapped = json!({"StatusCode": 200, "Payload": {"object": b64}}).to_string();
        assert_eq!(request(&wrapped).unwrap(), Request::Object(obj.to_bytes()));
        let Request::Create { context, .. } =
            request(&json!({"intent": PLAN, "input": {"n": 1}, "taskToken": "tok-1"}).to_string()).unwrap()
        else {
            panic!("not a creation")
        };
        let made = create(context.as_deref());
        assert_eq!(task_token(&made).as_deref(), Some("tok-1"));
        assert_eq!(task_token(&obj), None);

        for (bad, says) in [
            (json!({}), "exactly one of"),
            (json!({"object": b64, "intent": PLAN}), "not object and intent"),
            (json!({"object": b64, "taskToken": "t"}), "comes with an `intent`"),
            (json!({"intent": PLAN, "taskToken": 7}), "non-empty string"),
            (json!({"object": 7}), "base64"),
            (json!({"pointer": {"bucket": "b", "key": "k", "id": "00", "head": "x"}}), "id"),
            (json!([1]), "JSON object"),
        ] {
            let e = request(&bad.to_string()).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
        let e = request(&json!({"object": "!!"}).to_string()).unwrap_err();
        assert_eq!(e.kind(), peo_core::ErrorKind::Decode);
        let e = with_token(Some(r#"{"attributes":{"stepfunctions":{"taskToken":"a"}}}"#), "b").unwrap_err();
        assert!(e.to_string().contains("another task token"), "{e}");
    }

    #[test]
    fn pointers_name_one_version() {
        let obj = create(None);
        let p = Pointer::to(&obj, "bucket");
        assert_eq!(p.key, format!("peo/{}/{}.peo", obj.id().to_hex(), obj.head().to_hex()));
        assert_eq!(Pointer::from_json(&p.to_json()).unwrap(), p);
        assert_eq!(p.check(&obj.to_bytes(), &Limits::default()).unwrap().head(), obj.head());
        let other = create(Some(r#"{"labels":["x"]}"#));
        let e = p.check(&other.to_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(e.kind(), peo_core::ErrorKind::Integrity);
    }

    #[test]
    fn replies_go_inline_or_by_pointer() {
        let obj = create(None);
        let r = reply(&obj, None, None).unwrap();
        assert_eq!(r.body["status"], "running");
        assert_eq!(r.body["records"], 1);
        assert!(r.upload.is_none() && r.failure.is_none());
        let bytes = base64::engine::general_purpose::STANDARD.decode(r.body["object"].as_str().unwrap()).unwrap();
        assert_eq!(bytes, obj.to_bytes());

        let big = serde_json::to_string(&json!({"blob": "x".repeat(300 * 1024)})).unwrap();
        let big = crate::host::NewObject { intent_json: PLAN, input_json: Some(&big), ..Default::default() }
            .create()
            .unwrap();
        let e = reply(&big, None, None).unwrap_err();
        assert_eq!(e.kind(), peo_core::ErrorKind::Limit);
        let r = reply(&big, None, Some("objects")).unwrap();
        assert!(r.body.get("object").is_none());
        assert_eq!(r.upload.as_ref().unwrap().to_json(), r.body["pointer"]);
        assert!(reply_json(&r).len() < PAYLOAD_LIMIT);
    }

    #[test]
    fn an_object_that_failed_is_a_failure_under_its_own_name() {
        let plan = r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Order.Invalid","Cause":"no lines"}}}"#;
        let obj = crate::host::NewObject { intent_json: plan, ..Default::default() }.create().unwrap();
        let visit =
            crate::Node::new("lambda", "aws").with_trust(peo_core::Trust::any()).visit(&obj.to_bytes(), None).unwrap();
        let after = Object::from_bytes(&visit.bytes, &Limits::default()).unwrap();
        let r = reply(&after, Some(&visit.disposition.to_json()), None).unwrap();
        assert_eq!(r.failure, Some(("Order.Invalid".to_owned(), "no lines".to_owned())));
        assert_eq!((r.body["status"].as_str(), r.body["error"].as_str()), (Some("failed"), Some("Order.Invalid")));
        assert_eq!(r.body["disposition"]["kind"], "terminated");
        let reply: Value = serde_json::from_str(&reply_json(&r)).unwrap();
        assert_eq!(reply["failure"], json!({"error": "Order.Invalid", "cause": "no lines"}));
        assert_eq!(error_name(&Error::policy("no")), "peo.Policy");
    }

    #[test]
    fn a_relay_reports_only_for_objects_with_a_token() {
        let limits = Limits::default();
        let plain = create(None);
        assert_eq!(relay_report(Seen::Finished, &plain.to_bytes(), None, None, &limits), None);
        assert_eq!(relay_report(Seen::Progress, b"garbage", None, None, &limits), None);
        let context = with_token(None, "tok").unwrap();
        let with = create(Some(&context));
        let report = |seen, trust| relay_report(seen, &with.to_bytes(), None, trust, &limits).unwrap();
        let token = "tok".to_owned();
        assert_eq!(report(Seen::Progress, None), Report::Heartbeat { token: token.clone() });
        assert_eq!(
            report(Seen::Dead("PEO_LIMIT", "too many deliveries"), None),
            Report::Failure {
                token: token.clone(),
                error: DEAD_LETTER.into(),
                cause: "PEO_LIMIT: too many deliveries".into()
            }
        );
        // Running, so not a failure: the object goes back as the workflow's output.
        let Report::Success { output, upload: None, .. } = report(Seen::Finished, None) else {
            panic!("not a success")
        };
        assert_eq!(output["id"].as_str(), Some(&*with.id().to_hex()));
        // Unsigned: a trust that requires signatures does not report it, and says why.
        let strict = Trust::keys([peo_core::SigningKey::from_bytes(&[7; 32]).public_key()]);
        let Report::Untrusted { why, .. } = report(Seen::Finished, Some(&strict)) else { panic!("reported") };
        assert!(why.contains("sign"), "{why}");
        // Heartbeats and dead letters are not verified (docs/step-functions.md).
        assert!(matches!(report(Seen::Progress, Some(&strict)), Report::Heartbeat { .. }));
    }
}
