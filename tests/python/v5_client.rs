//! An rpyc 5.x client (another message layout: brine `(kind, seq, body)` with no leading kind
//! byte) reaching `Server::rpyc` is told, in its own layout, that the server speaks rpyc 6.
//! Raw frames from a `TcpStream`: no Python needed, so this test is not ignored.

use std::time::Duration;

use bytes::BytesMut;
use rpc::rpyc::frame::{decode_frame, encode_frame, FrameLimits};
use rpc::rpyc::message::handler;
use rpc::rpyc::{Brine, Generation, Kind, Message, Vinegar};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::service::rust_server;

#[tokio::test]
async fn an_rpyc_5_client_gets_an_exception_naming_rpyc_6() {
    let (server, _seen) = rust_server().await;
    let port = server.local_addr().expect("addr").port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());

    // rpyc 5's first request: (MSG_REQUEST, seq, (HANDLE_GETROOT, ())), all one brine tuple.
    let request = Message {
        kind: Kind::Request,
        seq: 7,
        body: Brine::Tuple(vec![Brine::Int(handler::GETROOT), Brine::Tuple(Vec::new())]),
    };
    let payload = request.encode(Generation::V5);
    assert_eq!(
        payload.first(),
        Some(&0x12),
        "a v5 payload starts with a brine tuple of 3"
    );
    let mut frame = Vec::new();
    encode_frame(&payload, false, &mut frame);

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(&frame).await.expect("send");
    let mut buf = BytesMut::new();
    let limits = FrameLimits {
        max_frame: 1 << 20,
        max_payload: 1 << 20,
    };
    let reply = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(payload) = decode_frame(&mut buf, limits).expect("a well-formed frame") {
                return payload;
            }
            let n = stream.read_buf(&mut buf).await.expect("read");
            assert!(n > 0, "the server hung up without answering");
        }
    })
    .await
    .expect("an answer in time");

    // The answer is in rpyc 5's layout, so that client can raise it.
    let reply = Message::decode(&reply, Generation::V5).expect("a v5 message");
    assert_eq!(reply.kind, Kind::Exception);
    assert_eq!(reply.seq, 7, "it answers the client's request");
    let Some(Vinegar::Exception(e)) = Vinegar::from_brine(&reply.body) else {
        panic!("not an exception record: {:?}", reply.body);
    };
    assert_eq!(
        (e.module.as_str(), e.name.as_str()),
        ("builtins", "ConnectionRefusedError")
    );
    let message = format!("{:?}", e.args);
    assert!(message.contains("rpyc 6"), "{message}");
    assert!(message.contains("upgrade the client"), "{message}");

    // Then the server closes that connection ...
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the refused connection is closed");
    // ... and serves an rpyc 6 client as before.
    let client = rpc::rpyc::connect("127.0.0.1", port).await.expect("connect");
    let n: i64 = client.root().call("test", (1,)).await.expect("test");
    assert_eq!(n, 2);
    client.close().await;
    stop.shutdown();
    serving.await.expect("join").expect("served");
}
