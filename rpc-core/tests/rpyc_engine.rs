//! The connection engine on RPyC's wire, without Python: a Rust rpyc client and a Rust rpyc
//! server over an in-memory pipe (both directions of every translation), and a server fed the
//! exact frames a real rpyc 6.0.2 client sends (`shared/rpyc/traces/03-call-by-name.txt`).

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::Mutex;
use rpc_core::prelude::*;
use rpc_core::rpyc::frame::{decode_frame, encode_frame, FrameLimits};
use rpc_core::rpyc::message::handler;
use rpc_core::rpyc::{Boxed, Brine, Generation, IdPack, Kind, Message, Vinegar};
use rpc_core::transport::rpyc::{connect_stream, rpyc_stream_connection};
use rpc_core::{Callback, ConnectOptions, Connection, NetRef, Object, RemoteIter};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

struct Notes {
    lines: Mutex<Vec<String>>,
}

#[service]
impl Notes {
    fn exposed_write(&self, text: String) -> usize {
        let n = text.len();
        self.lines.lock().push(text);
        n
    }

    #[exposed]
    fn __len__(&self) -> usize {
        self.lines.lock().len()
    }
}

#[derive(Default)]
struct Calc {
    seen: Mutex<Vec<Connection>>,
}

#[service]
impl Calc {
    fn on_connect(&self, conn: &Connection) {
        self.seen.lock().push(conn.clone());
    }

    fn exposed_test(&self, num: i64) -> i64 {
        num + 1
    }

    #[attribute]
    fn exposed_answer(&self) -> i64 {
        43
    }

    async fn exposed_map(&self, f: Callback, items: Vec<i64>) -> Result<Vec<i64>, rpc_core::Error> {
        let mut out = Vec::new();
        for x in items {
            out.push(f.call((x,)).await?);
        }
        Ok(out)
    }

    fn exposed_open(&self) -> Object {
        Object::new(Notes {
            lines: Mutex::new(Vec::new()),
        })
    }

    fn exposed_numbers(&self, n: u32) -> RemoteIter<u32> {
        RemoteIter::new(0..n)
    }

    fn exposed_fail(&self) -> Result<(), std::num::ParseIntError> {
        "x".parse::<i64>().map(|_| ())
    }
}

async fn pair() -> (rpc_core::transport::rpyc::Client, Arc<Calc>) {
    let (a, b) = tokio::io::duplex(1 << 20);
    let calc = Arc::new(Calc::default());
    let server = rpyc_stream_connection(b, ConnectOptions::new().shared_service(calc.clone()));
    let client = connect_stream(a, ConnectOptions::new());
    let (server, client) = tokio::join!(server, client);
    server.expect("server side");
    (client.expect("client side"), calc)
}

async fn tables_empty(conn: &Connection) {
    for _ in 0..200 {
        let s = conn.stats();
        if s.exported_objects == 0 && s.imported_objects == 0 && s.pending_calls == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("tables not empty: {:?}", conn.stats());
}

#[tokio::test]
async fn a_rust_client_and_a_rust_server_speak_rpyc_both_ways() {
    let (py, calc) = pair().await;
    let root = py.root();
    assert_eq!(root.call::<i64>("test", (11,)).await.expect("test"), 12);
    assert_eq!(
        root.call::<i64>("exposed_test", (11,)).await.expect("prefixed"),
        12
    );
    assert_eq!(root.getattr::<i64>("answer").await.expect("attribute"), 43);

    let cube = py.callback(|x: i64| x * x * x);
    let cubes: Vec<i64> = root.call("map", (cube, vec![1, 2, 3])).await.expect("map");
    assert_eq!(cubes, [1, 8, 27]);

    let notes: NetRef = root.call("open", ()).await.expect("open");
    assert_eq!(notes.call::<usize>("write", ("hi",)).await.expect("write"), 2);
    assert!(notes.display().await.expect("str").contains("NOTES"));
    // A Python protocol the type declares (`len(notes)` in Python).
    assert_eq!(notes.call::<usize>("__len__", ()).await.expect("len"), 1);

    let err = root.call::<()>("fail", ()).await.expect_err("fails");
    let remote = err.as_remote().expect("remote");
    assert_eq!(remote.type_name, "builtins.ValueError", "{remote:?}");
    assert!(remote.message.contains("invalid digit"), "{remote:?}");

    let missing = root.call::<()>("nope", ()).await.expect_err("not exposed");
    assert_eq!(
        missing.as_remote().map(|r| r.type_name.as_str()),
        Some("builtins.AttributeError")
    );

    drop(notes);
    let server = calc.seen.lock()[0].clone();
    py.close().await;
    tokio::time::timeout(Duration::from_secs(5), server.closed())
        .await
        .expect("the server side closes on CLOSE");
    assert_eq!(server.stats().exported_objects, 0);
}

#[tokio::test]
async fn released_objects_leave_both_tables() {
    let (py, calc) = pair().await;
    let notes: NetRef = py.root().call("open", ()).await.expect("open");
    let server = calc.seen.lock()[0].clone();
    // The root and the notes object are exported to the client.
    assert_eq!(server.stats().exported_objects, 2);
    drop(notes);
    for _ in 0..200 {
        if server.stats().exported_objects == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.stats().exported_objects, 1, "DEL freed the notes object");
    // The client holds only the root's proxy now.
    assert_eq!(py.connection().stats().imported_objects, 1);
    py.close().await;
    tables_empty(&server).await;
}

/// Frames as a real rpyc client writes them, and what comes back.
struct RawClient {
    io: DuplexStream,
    buf: BytesMut,
    seq: i64,
}

impl RawClient {
    async fn request(&mut self, handler: i64, args: Boxed) -> Message {
        let seq = self.seq;
        self.seq += 1;
        let body = Brine::Tuple(vec![Brine::Int(handler), args.to_brine()]);
        let payload = Message {
            kind: Kind::Request,
            seq,
            body,
        }
        .encode(Generation::V6);
        let mut frame = Vec::new();
        encode_frame(&payload, true, &mut frame);
        self.io.write_all(&frame).await.expect("write");
        loop {
            if let Some(payload) = decode_frame(&mut self.buf, FrameLimits::default()).expect("a frame") {
                let msg = Message::decode(&payload, Generation::V6).expect("a message");
                assert_eq!(msg.seq, seq, "the reply answers the request");
                return msg;
            }
            let n = tokio::time::timeout(Duration::from_secs(5), self.io.read_buf(&mut self.buf))
                .await
                .expect("an answer in time")
                .expect("read");
            assert!(n > 0, "the server hung up");
        }
    }
}

fn reply(msg: &Message) -> Boxed {
    assert_eq!(msg.kind, Kind::Reply, "{msg:?}");
    Boxed::from_brine(&msg.body).expect("a box")
}

fn exception(msg: &Message) -> (String, String) {
    assert_eq!(msg.kind, Kind::Exception, "{msg:?}");
    match Vinegar::from_brine(&msg.body) {
        Some(Vinegar::Exception(e)) => (format!("{}.{}", e.module, e.name), e.traceback),
        other => panic!("{other:?}"),
    }
}

async fn raw_server() -> (RawClient, Arc<Calc>) {
    let (a, b) = tokio::io::duplex(1 << 20);
    let calc = Arc::new(Calc::default());
    rpyc_stream_connection(b, ConnectOptions::new().shared_service(calc.clone()))
        .await
        .expect("server");
    let client = RawClient {
        io: a,
        buf: BytesMut::new(),
        seq: 0,
    };
    (client, calc)
}

fn obj(pack: &IdPack) -> Boxed {
    Boxed::Local(pack.clone())
}

fn text(s: &str) -> Boxed {
    Boxed::Value(Brine::str(s))
}

#[tokio::test]
async fn the_requests_of_a_real_rpyc_client_are_answered_like_pythons() {
    let (mut py, calc) = raw_server().await;
    // GETROOT: a reference, never instance id 0.
    let Boxed::Remote(root) = reply(
        &py.request(handler::GETROOT, Boxed::Value(Brine::Tuple(vec![])))
            .await,
    ) else {
        panic!("the root comes by reference");
    };
    assert_ne!(root.instance_id, 0);
    assert_eq!(root.name, "rust.CALC");
    // INSPECT of the root: no Python protocols.
    let inspect = py
        .request(
            handler::INSPECT,
            Boxed::Value(Brine::Tuple(vec![root.to_brine()])),
        )
        .await;
    assert_eq!(reply(&inspect), Boxed::Value(Brine::Tuple(vec![])));
    // root.test(11) = GETATTR + CALL + DEL, as in trace 03.
    let getattr = Boxed::Tuple(vec![obj(&root), text("test")]);
    let Boxed::Remote(method) = reply(&py.request(handler::GETATTR, getattr).await) else {
        panic!("a bound method comes by reference");
    };
    assert_eq!(method.name, "builtins.method");
    let call = Boxed::Tuple(vec![
        obj(&method),
        Boxed::Value(Brine::Tuple(vec![Brine::Int(11)])),
        Boxed::Value(Brine::Tuple(vec![])),
    ]);
    assert_eq!(
        reply(&py.request(handler::CALL, call).await),
        Boxed::Value(Brine::Int(12))
    );
    // A keyword argument by the parameter's name.
    let call = Boxed::Tuple(vec![
        obj(&method),
        Boxed::Value(Brine::Tuple(vec![])),
        Boxed::Value(Brine::Tuple(vec![Brine::Tuple(vec![
            Brine::str("num"),
            Brine::Int(1),
        ])])),
    ]);
    assert_eq!(
        reply(&py.request(handler::CALL, call).await),
        Boxed::Value(Brine::Int(2))
    );
    let server = calc.seen.lock()[0].clone();
    assert_eq!(server.stats().exported_objects, 2, "root and the bound method");
    let del = Boxed::Tuple(vec![obj(&method), Boxed::Value(Brine::Int(1))]);
    assert_eq!(
        reply(&py.request(handler::DEL, del).await),
        Boxed::Value(Brine::None)
    );
    assert_eq!(server.stats().exported_objects, 1, "DEL freed the bound method");
    // A missing attribute is Python's AttributeError; the connection goes on.
    let missing = py
        .request(
            handler::GETATTR,
            Boxed::Tuple(vec![obj(&root), text("get_question")]),
        )
        .await;
    assert_eq!(exception(&missing).0, "builtins.AttributeError");
    // Polite refusals: pickling, unknown handlers, deleting attributes.
    let pickle = py
        .request(
            handler::PICKLE,
            Boxed::Tuple(vec![obj(&root), Boxed::Value(Brine::Int(4))]),
        )
        .await;
    assert_eq!(exception(&pickle).0, "builtins.ValueError");
    let unknown = py.request(99, Boxed::Value(Brine::Tuple(vec![]))).await;
    assert_eq!(exception(&unknown).0, "builtins.NotImplementedError");
    let delattr = py
        .request(handler::DELATTR, Boxed::Tuple(vec![obj(&root), text("answer")]))
        .await;
    assert_eq!(exception(&delattr).0, "builtins.AttributeError");
    // A forged reference reaches nothing.
    let forged = IdPack {
        name: "rust.CALC".into(),
        class_id: 1,
        instance_id: 999,
    };
    let call = Boxed::Tuple(vec![
        obj(&forged),
        Boxed::Value(Brine::Tuple(vec![])),
        Boxed::Value(Brine::Tuple(vec![])),
    ]);
    assert_eq!(
        exception(&py.request(handler::CALL, call).await).0,
        "builtins.ReferenceError"
    );
    // PING echoes; REPR, STR, HASH, DIR answer.
    let ping = py
        .request(handler::PING, Boxed::Value(Brine::Tuple(vec![Brine::str("hi")])))
        .await;
    assert_eq!(reply(&ping), Boxed::Value(Brine::str("hi")));
    let dir = reply(&py.request(handler::DIR, Boxed::Tuple(vec![obj(&root)])).await);
    let Boxed::Value(Brine::Tuple(names)) = dir else {
        panic!("{dir:?}")
    };
    assert!(
        names.contains(&Brine::str("test")) && names.contains(&Brine::str("answer")),
        "{names:?}"
    );
    let hash = reply(&py.request(handler::HASH, Boxed::Tuple(vec![obj(&root)])).await);
    assert!(matches!(hash, Boxed::Value(Brine::Int(_))), "{hash:?}");
    let eq = Boxed::Tuple(vec![obj(&root), obj(&root), text("__eq__")]);
    assert_eq!(
        reply(&py.request(handler::CMP, eq).await),
        Boxed::Value(Brine::Bool(true))
    );
    // Every request counted once, whether dispatched or answered by the wire.
    assert_eq!(server.stats().requests_received, py.seq as u64);
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_only_that_connection_with_a_clear_reason() {
    let (mut a, b) = tokio::io::duplex(1 << 16);
    let calc = Arc::new(Calc::default());
    let options = ConnectOptions::new()
        .shared_service(calc.clone())
        .configure(|c| c.max_frame_size = 1 << 20);
    let server = rpyc_stream_connection(b, options).await.expect("server");
    // A header announcing 2 MiB, and nothing else: refused before any of it arrives.
    a.write_all(&[0, 0x20, 0, 0, 0]).await.expect("write");
    tokio::time::timeout(Duration::from_secs(5), server.closed())
        .await
        .expect("the connection closes");
    let reason = server.close_reason().map(|e| e.chain()).unwrap_or_default();
    assert!(reason.contains("frame"), "{reason}");
    // Another connection of the same service is unaffected.
    let (py, _) = pair().await;
    assert_eq!(py.root().call::<i64>("test", (1,)).await.expect("test"), 2);
}
