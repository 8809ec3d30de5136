//! Rust-side checks of the ABI's invariants (the C suites in `bindings/c/tests` check the
//! behaviour through the header).

use crate::{convert::*, error::*, jetstream::*, key::*, node::*, object::*, visit::*};
use peo_core::ErrorKind;
use std::ffi::CStr;
use std::ptr;

#[test]
fn statuses_are_unique_and_named_like_the_core_error_codes() {
    let mut values: Vec<i32> = STATUSES.iter().map(|(s, _)| *s as i32).collect();
    assert_eq!(values, (0..STATUSES.len() as i32).collect::<Vec<_>>());
    values.dedup();
    assert_eq!(values.len(), STATUSES.len());
    assert_eq!(PeoStatus::PeoOk as i32, 0);
    for kind in ErrorKind::ALL {
        let status = status_of(kind);
        let name = unsafe { CStr::from_ptr(peo_status_name(status as i32)) };
        assert_eq!(name.to_str().unwrap(), kind.code(), "{kind:?}");
    }
    assert!(peo_status_name(-1).is_null());
    assert!(peo_status_name(STATUSES.len() as i32).is_null());
}

#[test]
fn a_panic_becomes_an_internal_status_with_a_message() {
    let status = guard(|| panic!("boom"));
    assert_eq!(status, PeoStatus::PeoInternal);
    assert_eq!(peo_last_error(), PeoStatus::PeoInternal);
    let message = unsafe { CStr::from_ptr(peo_last_error_message()) }.to_str().unwrap();
    assert!(message.contains("boom"), "{message}");
    assert_eq!(guard(|| Ok(())), PeoStatus::PeoOk);
    assert_eq!(peo_last_error(), PeoStatus::PeoOk);
    assert_eq!(unsafe { CStr::from_ptr(peo_last_error_message()) }.to_bytes(), b"");
}

#[test]
fn null_arguments_are_statuses() {
    unsafe {
        let mut object = ptr::null_mut();
        assert_eq!(peo_object_from_bytes(ptr::null(), 3, &mut object), PeoStatus::PeoInvalidArgument);
        assert!(object.is_null());
        assert_eq!(peo_object_from_bytes(ptr::null(), 0, ptr::null_mut()), PeoStatus::PeoInvalidArgument);
        assert_eq!(peo_object_from_bytes(ptr::null(), 0, &mut object), PeoStatus::PeoDecode);
        let mut s = ptr::null_mut();
        assert_eq!(peo_object_state(ptr::null(), &mut s), PeoStatus::PeoInvalidArgument);
        assert_eq!(peo_node_new(ptr::null(), c"d".as_ptr(), &mut ptr::null_mut()), PeoStatus::PeoInvalidArgument);
        let message = CStr::from_ptr(peo_last_error_message()).to_str().unwrap();
        assert!(message.contains("`id` is NULL"), "{message}");
        peo_object_free(ptr::null_mut());
        peo_node_free(ptr::null_mut());
        peo_visit_free(ptr::null_mut());
        peo_signing_key_free(ptr::null_mut());
        peo_string_free(ptr::null_mut());
        peo_bytes_free(ptr::null_mut(), 0);
    }
}

#[test]
fn names_with_nul_are_kept_visible() {
    assert_eq!(c_string("a\0b").to_str().unwrap(), "a\u{fffd}b");
}
