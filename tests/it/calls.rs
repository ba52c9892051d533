//! Calls by name, attributes, exposure rules, errors and typed values.

use std::collections::BTreeMap;

use rpc::{Error, RemoteErrorKind};

use crate::harness::{pair, void_pair, Kind, Record, TRANSPORTS};

#[tokio::test]
async fn quickstart_calls_over_every_transport() {
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let root = p.client.root();
        assert_eq!(p.client.peer_service_name(), "TEST", "{t:?}");
        assert_eq!(root.call::<i64>("test", (11,)).await.expect("test"), 12, "{t:?}");
        assert_eq!(
            root.call::<i64>("exposed_test", (11,))
                .await
                .expect("prefixed name"),
            12
        );
        assert_eq!(root.call::<i64>("add", (2, 3)).await.expect("#[exposed]"), 5);
        assert_eq!(
            root.getattr::<i64>("the_real_answer_though").await.expect("attr"),
            43
        );
        assert_eq!(
            root.getattr::<i64>("exposed_the_real_answer_though")
                .await
                .expect("attr"),
            43
        );
        assert_eq!(
            root.getattr::<String>("version")
                .await
                .expect("#[attribute] alone"),
            "1.0"
        );
        assert_eq!(root.call::<String>("slow", (1,)).await.expect("async"), "slept 1");
        assert_eq!(root.call::<u64>("block", (1,)).await.expect("blocking"), 1);
        assert_eq!(
            root.call::<String>("greet", ("bob",)).await.expect("&str"),
            "hello bob"
        );
    }
}

fn remote(err: Error) -> rpc::RemoteError {
    match err {
        Error::Remote(e) => e,
        other => panic!("expected a remote error, got {other:?}"),
    }
}

#[tokio::test]
async fn non_exposed_members_are_unreachable() {
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let root = p.client.root();
        for name in ["get_question", "on_connect", "name", "call", "nope"] {
            let e = remote(root.call::<String>(name, ()).await.expect_err("not exposed"));
            assert_eq!(e.kind, RemoteErrorKind::NotFound);
            assert_eq!(e.message, format!("'{name}' is not exposed by TEST"));
        }
        let e = remote(
            root.getattr::<String>("get_question")
                .await
                .expect_err("not exposed"),
        );
        assert_eq!(e.kind, RemoteErrorKind::NotFound);
        // Methods are not attributes and attributes are not methods.
        let e = remote(root.getattr::<i64>("test").await.expect_err("method"));
        assert!(e.message.contains("is a method"), "{e}");
        let e = remote(root.call::<i64>("version", ()).await.expect_err("attribute"));
        assert!(e.message.contains("is an attribute"), "{e}");
        // Still serving.
        assert_eq!(root.call::<i64>("test", (1,)).await.expect("alive"), 2);
    }
}

#[tokio::test]
async fn application_errors_carry_type_message_and_causes() {
    let p = void_pair(crate::harness::Transport::Memory).await;
    let e = remote(p.client.root().call::<()>("fail", ()).await.expect_err("fails"));
    assert_eq!(e.kind, RemoteErrorKind::Application);
    assert!(e.type_name.ends_with("harness::Failure"), "{}", e.type_name);
    assert_eq!(e.message, "the operation failed");
    assert_eq!(e.causes, vec!["disk on fire".to_owned()]);
}

#[tokio::test]
async fn argument_errors_name_the_method() {
    let p = void_pair(crate::harness::Transport::Memory).await;
    let root = p.client.root();
    let e = remote(root.call::<i64>("test", (1, 2)).await.expect_err("arity"));
    assert_eq!(e.kind, RemoteErrorKind::BadArguments);
    assert_eq!(e.message, "test() takes 1 argument but 2 were given");
    let e = remote(root.call::<i64>("test", ("x",)).await.expect_err("type"));
    assert_eq!(e.kind, RemoteErrorKind::BadArguments);
    assert!(
        e.message
            .starts_with("test(): argument 1 `num` (got string): invalid type"),
        "{}",
        e.message
    );
    // A result of the wrong type is a local decode error, not a remote one.
    let e = root.call::<String>("test", (1,)).await.expect_err("result type");
    assert!(
        matches!(e, Error::Decode(ref m) if m.contains("result of test")),
        "{e:?}"
    );
}

#[tokio::test]
async fn panics_become_remote_errors_and_the_server_keeps_serving() {
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let root = p.client.root();
        for (method, text) in [("boom", "boom"), ("async_boom", "async boom")] {
            let e = remote(root.call::<i64>(method, ()).await.expect_err("panics"));
            assert_eq!(e.kind, RemoteErrorKind::Panic);
            assert_eq!(e.message, format!("method panicked: {text}"));
        }
        assert_eq!(root.call::<i64>("test", (1,)).await.expect("alive"), 2);
    }
}

#[tokio::test]
async fn nested_typed_values_round_trip() {
    let mut tags = BTreeMap::new();
    tags.insert("a".to_owned(), Some(vec![1, -2, 3]));
    tags.insert("none".to_owned(), None);
    let record = Record {
        name: "r".into(),
        tags: vec![tags, BTreeMap::new()],
        kind: Kind::Sized { w: 2, h: 3 },
    };
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let back: Record = p
            .client
            .root()
            .call("echo_record", (record.clone(),))
            .await
            .expect("echo");
        assert_eq!(back, record);
        for kind in [Kind::Plain, Kind::Weighted(0.5)] {
            let r = Record {
                kind,
                ..record.clone()
            };
            assert_eq!(
                p.client
                    .root()
                    .call::<Record>("echo_record", (r.clone(),))
                    .await
                    .expect("echo"),
                r
            );
        }
    }
}

#[tokio::test]
async fn sixteen_mib_of_bytes_both_ways() {
    const N: usize = 16 << 20;
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let data = vec![0xabu8; N];
        assert_eq!(
            p.client
                .root()
                .call::<usize>("len", (data,))
                .await
                .expect("upload"),
            N
        );
        let got: Vec<u8> = p.client.root().call("make_bytes", (N,)).await.expect("download");
        assert_eq!(got.len(), N);
        assert!(got.iter().all(|&b| b == 7));
    }
}

#[tokio::test]
async fn describe_lists_exposed_members_only() {
    let p = pair(crate::harness::Transport::Memory).await;
    let d = p.client.root().describe().await.expect("describe");
    assert_eq!(d.name, "TEST");
    let names: Vec<_> = d.methods.iter().map(|m| m.name.as_str()).collect();
    assert!(
        names.contains(&"test") && names.contains(&"add") && names.contains(&"slow"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.contains("question") || n.starts_with("on_")),
        "{names:?}"
    );
    let test = d.methods.iter().find(|m| m.name == "test").expect("test");
    assert_eq!(test.params, vec![("num".to_owned(), "i64".to_owned())]);
    assert_eq!(test.returns, "i64");
    assert!(d.methods.iter().any(|m| m.name == "slow" && m.is_async));
    let attrs: Vec<_> = d
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.settable))
        .collect();
    assert_eq!(
        attrs,
        vec![
            ("the_real_answer_though", false),
            ("volume", true),
            ("version", false)
        ]
    );
    assert_eq!(
        p.client.root().display().await.expect("display"),
        "<TEST service>"
    );
}

struct Named;

#[rpc::service(name = "CALC", aliases = ["CALCULATOR", "ADDER"])]
impl Named {
    fn exposed_ping(&self) -> &'static str {
        "pong"
    }
}

#[tokio::test]
async fn service_name_and_aliases_travel_in_the_handshake() {
    let (client, server) = rpc::memory_pair(rpc::VoidService, Named).await.expect("pair");
    assert_eq!(client.peer_service_name(), "CALC");
    assert_eq!(client.peer_service_aliases(), ["CALCULATOR", "ADDER"]);
    assert_eq!(server.peer_service_name(), "VOID");
    assert_eq!(
        client.root().call::<String>("ping", ()).await.expect("ping"),
        "pong"
    );
}

#[tokio::test]
async fn attributes_with_a_setter_can_be_set() {
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let root = p.client.root();
        assert_eq!(root.getattr::<u8>("volume").await.expect("get"), 0);
        root.setattr("volume", 7u8).await.expect("set");
        assert_eq!(root.getattr::<u8>("volume").await.expect("get"), 7, "{t:?}");
        let e = remote(root.setattr("volume", 300).await.expect_err("out of range"));
        assert_eq!(e.kind, RemoteErrorKind::BadArguments);
        let e = remote(root.setattr("version", "2.0").await.expect_err("read-only"));
        assert_eq!(e.message, "attribute 'version' of TEST cannot be set");
        // Typed client: the same attribute.
        let typed = crate::harness::TestServiceClient::new(root.clone());
        typed.set_volume(9).await.expect("typed set");
        assert_eq!(typed.volume().await.expect("typed get"), 9);
    }
}

/// A counter that presents itself through its `Display`, and its `Debug` for debugging.
#[derive(Default, Debug)]
struct Counter(std::sync::atomic::AtomicI64);

impl std::fmt::Display for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counter({})", self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[rpc::service(display, repr)]
impl Counter {
    fn exposed_incr(&self) -> i64 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
    }
}

#[tokio::test]
async fn a_service_can_present_itself_through_its_display() {
    let (client, _server) = rpc::memory_pair(rpc::VoidService, Counter::default())
        .await
        .expect("pair");
    let root = client.root();
    for _ in 0..7 {
        root.call::<i64>("incr", ()).await.expect("incr");
    }
    assert_eq!(root.display().await.expect("display"), "Counter(7)");
    assert_eq!(root.repr().await.expect("repr"), "Counter(7)");
    // Without the options: the defaults, for display and repr alike.
    let (client, _server) = rpc::memory_pair(rpc::VoidService, crate::harness::TestService::default())
        .await
        .expect("pair");
    assert_eq!(client.root().display().await.expect("display"), "<TEST service>");
    assert_eq!(client.root().repr().await.expect("repr"), "<TEST object>");
}
