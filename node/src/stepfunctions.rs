//! `sfn*`: the Step Functions rules (`peo_runtime::stepfunctions`) for `peo.js`'s
//! `lambdaHandler`, which makes only the AWS calls itself.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use peo_core::{Error as PeoErr, ErrorKind, Limits};
use peo_runtime::stepfunctions::{self as sfn, Request};

use crate::{Code, NativeObject, peo};

/// A Lambda payload, read: `kind` is `object` (`bytes`), `pointer` (`pointer`, JSON
/// text) or `create` (`intent`, `context`, `input`, `id`, `token`).
#[napi(object)]
pub struct SfnRequest {
    pub kind: String,
    pub bytes: Option<Buffer>,
    pub pointer: Option<String>,
    pub intent: Option<String>,
    pub context: Option<String>,
    pub input: Option<String>,
    pub id: Option<String>,
    pub token: Option<String>,
}

/// Reads a Lambda's payload (JSON text).
#[napi(catch_unwind)]
pub fn sfn_request(payload: String) -> Result<SfnRequest, Code> {
    let empty = |kind: &str| SfnRequest {
        kind: kind.into(),
        bytes: None,
        pointer: None,
        intent: None,
        context: None,
        input: None,
        id: None,
        token: None,
    };
    Ok(match peo(sfn::request(&payload))? {
        Request::Object(bytes) => SfnRequest { bytes: Some(bytes.into()), ..empty("object") },
        Request::Pointer(p) => {
            SfnRequest { pointer: Some(peo_runtime::host::json_text(&p.to_json())), ..empty("pointer") }
        }
        Request::Create { intent, context, input, id, token } => {
            SfnRequest { intent: Some(intent), context, input, id, token, ..empty("create") }
        }
    })
}

/// The object a pointer's bytes hold, checked against the pointer.
#[napi(catch_unwind)]
pub fn sfn_pointed(pointer_json: String, data: Buffer) -> Result<NativeObject, Code> {
    let v = peo(peo_runtime::host::parse_json(&pointer_json, "the pointer"))?;
    let pointer = peo(sfn::Pointer::from_json(&v))?;
    peo(pointer.check(&data, &Limits::default())).map(|object| NativeObject { object })
}

/// The reply for an object after a visit: `{"body", "upload", "failure"}` (JSON text).
#[napi(catch_unwind)]
pub fn sfn_reply(obj: &NativeObject, disposition_json: Option<String>, bucket: Option<String>) -> Result<String, Code> {
    let disposition = disposition_json.map(|d| peo_runtime::host::read_form("Disposition", &d, "the disposition"));
    let disposition = peo(disposition.transpose())?;
    peo(sfn::reply(&obj.object, disposition.as_ref(), bucket.as_deref())).map(|r| sfn::reply_json(&r))
}

/// The error name a Lambda throws for a peo error of `code` (`PEO_POLICY` -> `peo.Policy`).
#[napi(catch_unwind)]
pub fn sfn_error_name(code: String) -> Result<String, Code> {
    let kind = peo(ErrorKind::from_code(&code)
        .ok_or_else(|| PeoErr::invalid_argument(format!("`{code}` is not a peo error code"))))?;
    Ok(sfn::error_name(&PeoErr::new(kind, "")))
}
