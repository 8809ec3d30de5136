//! `peo._peo.sfn_*`: the Step Functions rules (`peo_runtime::stepfunctions`) for
//! `peo.aws_lambda`, which makes only the AWS calls itself.

use peo_core::{Error, ErrorKind, Limits};
use peo_runtime::stepfunctions::{self as sfn, Request};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::{OrRaise, PyObject_};

/// Reads a Lambda's payload: `("object", bytes)`, `("pointer", pointer_json)` or
/// `("create", (intent_json, context_json, input_json, id, task_token))`.
#[pyfunction]
pub(crate) fn sfn_request(py: Python<'_>, payload: &str) -> PyResult<(String, Py<PyAny>)> {
    Ok(match sfn::request(payload).or_raise()? {
        Request::Object(bytes) => ("object".into(), PyBytes::new(py, &bytes).into_any().unbind()),
        Request::Pointer(p) => {
            ("pointer".into(), peo_runtime::host::json_text(&p.to_json()).into_pyobject(py)?.into_any().unbind())
        }
        Request::Create { intent, context, input, id, token } => {
            ("create".into(), (intent, context, input, id, token).into_pyobject(py)?.into_any().unbind())
        }
    })
}

/// The object a pointer's bytes hold, checked against the pointer.
#[pyfunction]
pub(crate) fn sfn_pointed(pointer_json: &str, data: &[u8]) -> PyResult<PyObject_> {
    let v = peo_runtime::host::parse_json(pointer_json, "the pointer").or_raise()?;
    let pointer = sfn::Pointer::from_json(&v).or_raise()?;
    pointer.check(data, &Limits::default()).map(PyObject_).or_raise()
}

/// The reply for an object after a visit (`{"body", "upload", "failure"}`, JSON text).
#[pyfunction]
#[pyo3(signature = (obj, disposition_json, bucket))]
pub(crate) fn sfn_reply(obj: &PyObject_, disposition_json: Option<&str>, bucket: Option<&str>) -> PyResult<String> {
    let disposition =
        disposition_json.map(|d| peo_runtime::host::parse_json(d, "the disposition")).transpose().or_raise()?;
    sfn::reply(&obj.0, disposition.as_ref(), bucket).map(|r| sfn::reply_json(&r)).or_raise()
}

/// The error name a Lambda raises for a peo error of `code` (`PEO_POLICY` -> `peo.Policy`).
#[pyfunction]
pub(crate) fn sfn_error_name(code: &str) -> PyResult<String> {
    let kind = ErrorKind::from_code(code)
        .ok_or_else(|| Error::invalid_argument(format!("`{code}` is not a peo error code")))
        .or_raise()?;
    Ok(sfn::error_name(&Error::new(kind, "")))
}
