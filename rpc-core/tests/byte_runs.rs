//! Byte containers in `#[service]` signatures and typed clients travel as one byte run
//! (`Value::Bytes`), not as a sequence of integers: `Vec<u8>`, `&[u8]`, `[u8; N]`, `Box<[u8]>`
//! and `bytes::Bytes`, as parameters and as results, without `serde_bytes`.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rpc_core::{memory_pair, service, CallResult, Connection, Outcome, Service, Value, VoidService};

/// A service of byte containers: each method returns what it was given (converted).
struct Bin;

#[service]
impl Bin {
    fn exposed_vec(&self, data: Vec<u8>) -> Vec<u8> {
        data
    }
    fn exposed_slice(&self, data: &[u8]) -> Vec<u8> {
        data.to_vec()
    }
    fn exposed_array(&self, data: [u8; 4]) -> [u8; 4] {
        data
    }
    /// Longer than serde's arrays (32): only as a byte run.
    fn exposed_big_array(&self, data: [u8; 40]) -> [u8; 40] {
        data
    }
    fn exposed_bytes(&self, data: Bytes) -> Bytes {
        data
    }
    fn exposed_boxed(&self, data: Box<[u8]>) -> Box<[u8]> {
        data
    }
    fn exposed_by_ref(&self, data: &Bytes) -> Box<[u8]> {
        data.to_vec().into_boxed_slice()
    }
    fn exposed_fallible(&self, data: Vec<u8>) -> Result<Bytes, std::io::Error> {
        if data.is_empty() {
            return Err(std::io::Error::other("empty"));
        }
        Ok(Bytes::from(data))
    }
    async fn exposed_later(&self, data: Box<[u8]>) -> Vec<u8> {
        data.into_vec()
    }
    /// A byte run among other arguments.
    fn exposed_mixed(&self, n: i64, data: &[u8], tag: String) -> Vec<u8> {
        let mut out = data.to_vec();
        out.push(n as u8);
        out.extend_from_slice(tag.as_bytes());
        out
    }
    #[oneway]
    fn exposed_drop(&self, _data: &[u8]) {}
    /// Not bytes: a sequence of larger integers stays a sequence.
    fn exposed_words(&self, data: Vec<u16>) -> Vec<u16> {
        data
    }
}

/// The calls a `Recorder` saw: method names and arguments.
type Calls = Arc<Mutex<Vec<(String, Vec<Value>)>>>;

/// Records the arguments it receives and answers with the first one, as the wire gave it.
#[derive(Default)]
struct Recorder {
    seen: Calls,
}

impl Service for Recorder {
    fn name(&self) -> &str {
        "Recorder"
    }
    fn call(self: Arc<Self>, _conn: &Connection, method: &str, args: Vec<Value>) -> Outcome {
        let first = args.first().cloned().unwrap_or_default();
        self.seen
            .lock()
            .expect("the record")
            .push((method.to_owned(), args));
        let answer: CallResult = Ok(first);
        Outcome::Ready(answer)
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// The arguments `Recorder` saw for the last call.
fn last_args(seen: &Mutex<Vec<(String, Vec<Value>)>>) -> (String, Vec<Value>) {
    seen.lock()
        .expect("the record")
        .last()
        .cloned()
        .expect("a call was recorded")
}

#[tokio::test]
async fn typed_client_sends_and_receives_byte_runs() {
    let recorder = Recorder::default();
    let seen = recorder.seen.clone();
    let (client, _server) = memory_pair(VoidService, recorder).await.expect("pair");
    let bin = BinClient::new(client.root());
    let data = pattern(100);
    // Large enough to be spilled from the frame.
    let big = pattern(100_000);

    let expect_bytes = |method: &str, want: &[u8]| {
        let (m, args) = last_args(&seen);
        assert_eq!(m, method);
        assert_eq!(
            args.first(),
            Some(&Value::Bytes(want.to_vec())),
            "{method}: {args:?}"
        );
    };

    let back: Vec<u8> = bin.vec(big.clone()).await.expect("vec");
    assert_eq!(back, big);
    expect_bytes("vec", &big);

    let back: Vec<u8> = bin.slice(&data).await.expect("slice");
    assert_eq!(back, data);
    expect_bytes("slice", &data);

    let back: [u8; 4] = bin.array([1, 2, 3, 250]).await.expect("array");
    assert_eq!(back, [1, 2, 3, 250]);
    expect_bytes("array", &[1, 2, 3, 250]);

    let forty: [u8; 40] = pattern(40).try_into().expect("40 bytes");
    let back: [u8; 40] = bin.big_array(forty).await.expect("big array");
    assert_eq!(back, forty);
    expect_bytes("big_array", &forty);

    let back: Bytes = bin.bytes(Bytes::from(big.clone())).await.expect("bytes");
    assert_eq!(back, big);
    expect_bytes("bytes", &big);

    let back: Box<[u8]> = bin.boxed(data.clone().into_boxed_slice()).await.expect("boxed");
    assert_eq!(&*back, &data[..]);
    expect_bytes("boxed", &data);

    let shared = Bytes::from(data.clone());
    let back: Box<[u8]> = bin.by_ref(&shared).await.expect("by_ref");
    assert_eq!(&*back, &data[..]);
    expect_bytes("by_ref", &data);

    let back: Bytes = bin.fallible(data.clone()).await.expect("fallible");
    assert_eq!(back, data);
    expect_bytes("fallible", &data);

    let back: Vec<u8> = bin.later(data.clone().into_boxed_slice()).await.expect("later");
    assert_eq!(back, data);
    expect_bytes("later", &data);

    // Other arguments keep their own form around the byte run.
    let _ = bin.mixed(7, &data, "t".to_owned()).await;
    let (_, args) = last_args(&seen);
    assert_eq!(
        args,
        vec![
            Value::Int(7),
            Value::Bytes(data.clone()),
            Value::Str("t".to_owned())
        ]
    );

    bin.drop(&big).expect("oneway");
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while last_args(&seen).0 != "drop" {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the oneway call arrives");
    expect_bytes("drop", &big);
}

#[tokio::test]
async fn typed_client_results_are_checked() {
    let recorder = Recorder::default();
    let (client, _server) = memory_pair(VoidService, recorder).await.expect("pair");
    let bin = BinClient::new(client.root());
    // The recorder answers with its first argument: an integer is not a byte run.
    let err = bin
        .mixed(7, b"ab", String::new())
        .await
        .expect_err("an integer for Vec<u8>");
    assert!(err.to_string().contains("the result of mixed"), "{err}");
}

#[tokio::test]
async fn service_takes_and_answers_byte_runs() {
    let (client, _server) = memory_pair(VoidService, Bin).await.expect("pair");
    let root = client.root();
    let data = pattern(100);
    let big = pattern(100_000);
    for (method, arg) in [
        ("vec", &big),
        ("slice", &data),
        ("bytes", &big),
        ("boxed", &data),
        ("by_ref", &data),
        ("fallible", &data),
        ("later", &big),
    ] {
        let back = root
            .call_value(method, vec![Value::Bytes(arg.clone())])
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(back, Value::Bytes(arg.clone()), "{method}");
    }
    let forty = pattern(40);
    let back = root
        .call_value("big_array", vec![Value::Bytes(forty.clone())])
        .await
        .expect("big array");
    assert_eq!(back, Value::Bytes(forty));
    let back = root
        .call_value("array", vec![Value::Bytes(vec![9, 8, 7, 6])])
        .await
        .expect("array");
    assert_eq!(back, Value::Bytes(vec![9, 8, 7, 6]));

    // A peer that sends a list of small integers (as a dynamic language may) is understood.
    let ints = Value::Seq(vec![Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(4)]);
    let back = root
        .call_value("array", vec![ints.clone()])
        .await
        .expect("array from ints");
    assert_eq!(back, Value::Bytes(vec![1, 2, 3, 4]));
    let back = root
        .call_value("bytes", vec![ints])
        .await
        .expect("bytes from ints");
    assert_eq!(back, Value::Bytes(vec![1, 2, 3, 4]));

    // The wrong length for an array, or not bytes at all, is a bad argument naming it.
    let err = root
        .call_value("array", vec![Value::Bytes(vec![1, 2, 3])])
        .await
        .expect_err("3 bytes for [u8; 4]");
    let text = err.to_string();
    assert!(text.contains("array(): argument 1 `data`"), "{text}");
    assert!(text.contains("expected 4 bytes, got 3"), "{text}");
    let err = root
        .call_value("vec", vec![Value::Float(1.5)])
        .await
        .expect_err("a float for Vec<u8>");
    assert!(err.to_string().contains("argument 1 `data`"), "{err}");

    // An error result is still an error.
    let err = root
        .call_value("fallible", vec![Value::Bytes(Vec::new())])
        .await
        .expect_err("empty");
    assert!(err.to_string().contains("empty"), "{err}");

    // Not bytes: a `Vec<u16>` stays a sequence of integers.
    let back = root
        .call_value("words", vec![Value::Seq(vec![Value::Int(300), Value::Int(1)])])
        .await
        .expect("words");
    assert_eq!(back, Value::Seq(vec![Value::Int(300), Value::Int(1)]));
}

#[tokio::test]
async fn typed_client_and_service_round_trip() {
    let (client, _server) = memory_pair(VoidService, Bin).await.expect("pair");
    let bin = BinClient::new(client.root());
    let data = pattern(70_000);
    assert_eq!(bin.vec(data.clone()).await.expect("vec"), data);
    assert_eq!(bin.slice(&data).await.expect("slice"), data);
    assert_eq!(bin.bytes(Bytes::from(data.clone())).await.expect("bytes"), data);
    assert_eq!(&*bin.boxed(data.clone().into()).await.expect("boxed"), &data[..]);
    assert_eq!(bin.array([0, 1, 2, 255]).await.expect("array"), [0, 1, 2, 255]);
    let forty: [u8; 40] = pattern(40).try_into().expect("40 bytes");
    assert_eq!(bin.big_array(forty).await.expect("big array"), forty);
    assert_eq!(bin.mixed(1, b"ab", "c".into()).await.expect("mixed"), b"ab\x01c");
    assert!(bin.fallible(Vec::new()).await.is_err());
    assert_eq!(bin.words(vec![300, 1]).await.expect("words"), vec![300, 1]);
}

/// A type of the user's own that is only named like a byte container.
mod own {
    #[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
    pub struct Bytes {
        pub n: i64,
    }
}

struct Own;

#[service]
impl Own {
    fn exposed_id(&self, b: own::Bytes, r: &own::Bytes) -> own::Bytes {
        own::Bytes { n: b.n + r.n }
    }
}

#[tokio::test]
async fn a_type_only_named_bytes_goes_through_serde() {
    let (client, _server) = memory_pair(VoidService, Own).await.expect("pair");
    let own_client = OwnClient::new(client.root());
    let back = own_client
        .id(own::Bytes { n: 2 }, &own::Bytes { n: 3 })
        .await
        .expect("id");
    assert_eq!(back, own::Bytes { n: 5 });
    let back = client
        .root()
        .call_value(
            "id",
            vec![
                rpc_core::to_value(&own::Bytes { n: 1 }).expect("encodes"),
                rpc_core::to_value(&own::Bytes { n: 1 }).expect("encodes"),
            ],
        )
        .await
        .expect("dynamic id");
    assert!(matches!(back, Value::Map(_)), "{back:?}");
}
