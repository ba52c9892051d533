//! The objects layer's side of the value slots: what goes in comes out as it went in.

use std::time::Duration;

use super::*;
use crate::transport::memory_pair;
use crate::value::Value;
use crate::{from_value, to_value, VoidService};

#[test]
fn a_local_object_round_trips_as_itself() {
    let object = Object::new(VoidService);
    let value = to_value(&object).expect("to");
    assert_eq!(format!("{value:?}"), "<local VOID>");
    let Value::Object(slot) = &value else {
        panic!("not an object: {value:?}")
    };
    assert!(slot.remote().is_none());
    assert_eq!(slot.local().as_ref(), Some(&object));
    assert_eq!(value, to_value(&object).expect("again"), "equal by identity");
    assert_ne!(value, to_value(&Object::new(VoidService)).expect("other"));
    assert_eq!(from_value::<Object>(value.clone()).expect("back"), object);
    let err = from_value::<NetRef>(value).expect_err("not remote");
    assert_eq!(
        err.to_string(),
        "expected a reference to a remote object, got this side's own VOID object"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_remote_reference_round_trips_with_its_timeout() {
    let (client, _server) = memory_pair(VoidService, VoidService).await.expect("pair");
    let root = client.root();
    let limited = root.with_timeout(Some(Duration::from_secs(7)));
    let plain = to_value(&root).expect("to");
    let timed = to_value(&limited).expect("to");
    assert_eq!(format!("{plain:?}"), "<remote object 0>");
    assert_eq!(format!("{timed:?}"), "<remote object 0>");
    assert_eq!(plain, timed, "equal by connection and id, as NetRefs are");
    assert_ne!(plain, to_value(&Object::new(VoidService)).expect("local"));

    let back: NetRef = from_value(timed.clone()).expect("back");
    assert_eq!(back, limited);
    assert_eq!(back.timeout(), Some(Some(Duration::from_secs(7))));
    assert_eq!(from_value::<NetRef>(plain).expect("back").timeout(), None);
    let err = from_value::<Object>(timed).expect_err("not local");
    assert_eq!(
        err.to_string(),
        "expected an object of this side, got a reference to the peer's object 0"
    );
}
