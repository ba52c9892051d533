//! The issue-15 test service in Rust: the same service as `scripts/service.py` (rpyc's own
//! ThreadedServer), written once with `#[service]` and served to Python's rpyc clients by
//! `Server::rpyc`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rpc::server::{BoundServer, Server};
use rpc::{service, Callback, Connection, Object, RemoteIter};

/// The error `fail` returns: named like Python's, so a Python client catches `ValueError`.
#[derive(Debug)]
pub struct ValueError(pub String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

/// A file-like object handed out by reference.
pub struct Notes {
    name: String,
    lines: Mutex<Vec<String>>,
}

impl fmt::Display for Notes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<notes {}: {} writes>", self.name, self.lines.lock().len())
    }
}

#[service(display)]
impl Notes {
    fn exposed_write(&self, text: String) -> usize {
        let n = text.chars().count();
        self.lines.lock().push(text);
        n
    }

    fn exposed_read(&self) -> String {
        self.lines.lock().concat()
    }
}

/// The test service; one per connection.
pub struct TestService {
    stored: Mutex<Option<Callback>>,
    seen: Seen,
}

#[service]
impl TestService {
    fn on_connect(&self, conn: &Connection) {
        self.seen.lock().push(conn.clone());
    }

    fn exposed_test(&self, num: i64) -> i64 {
        num + 1
    }

    #[attribute]
    fn exposed_the_real_answer_though(&self) -> i64 {
        43
    }

    /// Not exposed: Python gets an AttributeError.
    #[allow(dead_code)]
    fn get_question(&self) -> &'static str {
        "what is the airspeed velocity of an unladen swallow?"
    }

    fn exposed_fail(&self) -> Result<(), ValueError> {
        Err(ValueError("bad value".into()))
    }

    async fn exposed_map(&self, f: Callback, items: Vec<i64>) -> Result<Vec<i64>, rpc::Error> {
        let mut out = Vec::with_capacity(items.len());
        for x in items {
            out.push(f.call((x,)).await?);
        }
        Ok(out)
    }

    fn exposed_sum(&self, items: Vec<i64>) -> i64 {
        items.iter().sum()
    }

    fn exposed_open(&self, name: String) -> Object {
        Object::new(Notes {
            name,
            lines: Mutex::new(Vec::new()),
        })
    }

    fn exposed_numbers(&self, n: u32) -> RemoteIter<u32> {
        RemoteIter::new(0..n)
    }

    async fn exposed_slow(&self, ms: u64) -> String {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        format!("slept {ms} ms")
    }

    /// Keeps `callback` and calls it from another task 100 ms later.
    fn exposed_store(&self, callback: Callback) {
        *self.stored.lock() = Some(callback.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Err(e) = callback.call::<()>(("event",)).await {
                eprintln!("the stored callback failed: {e}");
            }
        });
    }
}

/// The connections the server made, to check their object tables after each scenario.
pub type Seen = Arc<Mutex<Vec<Connection>>>;

/// Serves a `TestService` per connection to rpyc clients on 127.0.0.1.
pub async fn rust_server() -> (BoundServer, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let server = Server::new(move || TestService {
        stored: Mutex::new(None),
        seen: record.clone(),
    })
    .rpyc()
    .bind("127.0.0.1:0")
    .await
    .expect("bind");
    (server, seen)
}
