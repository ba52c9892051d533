//! The issue-15 test service in Rust: the same service as `scripts/service.py` (rpyc's own
//! ThreadedServer), written once with `#[service]` and served to Python's rpyc clients by
//! `Server::rpyc`.

use std::collections::{BTreeMap, HashMap};
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

/// An error type of this test crate, named like no Python exception: Python sees rpyc's
/// generic remote exception, named after it, with this message.
#[derive(Debug)]
pub struct OutOfStock {
    pub item: String,
}

impl fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the warehouse has no {} left", self.item)
    }
}

impl std::error::Error for OutOfStock {}

/// A container-like object: `len()`, `in` and `[]` through its dunder methods, and a title
/// attribute with a setter.
pub struct Bag {
    items: Vec<String>,
    title: Mutex<String>,
}

#[service]
impl Bag {
    #[exposed]
    fn __len__(&self) -> usize {
        self.items.len()
    }

    #[exposed]
    fn __contains__(&self, item: String) -> bool {
        self.items.contains(&item)
    }

    #[exposed]
    fn __getitem__(&self, at: i64) -> Result<String, IndexError> {
        usize::try_from(at)
            .ok()
            .and_then(|at| self.items.get(at).cloned())
            .ok_or_else(|| IndexError(format!("bag index {at} out of range")))
    }

    #[attribute]
    fn exposed_title(&self) -> String {
        self.title.lock().clone()
    }

    #[setter]
    fn exposed_set_title(&self, title: String) {
        *self.title.lock() = title;
    }
}

/// What `Bag[...]` raises past its end: Python's `IndexError`.
#[derive(Debug)]
pub struct IndexError(pub String);

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for IndexError {}

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

    /// Keyword arguments: `greet(name="x")`, `greet("x", punct="?")`.
    fn exposed_greet(&self, name: String, punct: Option<String>) -> String {
        format!("hello {name}{}", punct.as_deref().unwrap_or("!"))
    }

    fn exposed_echo(&self, text: String) -> String {
        text
    }

    fn exposed_echo_bytes(&self, data: Vec<u8>) -> Vec<u8> {
        data
    }

    /// A Python dict reaching a `HashMap`.
    fn exposed_total(&self, stock: HashMap<String, i64>) -> i64 {
        stock.values().sum()
    }

    /// A Python dict reaching a `BTreeMap`: its keys in order.
    fn exposed_keys(&self, stock: BTreeMap<String, i64>) -> Vec<String> {
        stock.into_keys().collect()
    }

    /// A Python set (or list) reaching a `Vec`: sorted.
    fn exposed_sorted(&self, mut items: Vec<i64>) -> Vec<i64> {
        items.sort_unstable();
        items
    }

    /// Nested lists: the sums of each row, and the rows transposed.
    fn exposed_transpose(&self, rows: Vec<Vec<i64>>) -> (Vec<i64>, Vec<Vec<i64>>) {
        let sums = rows.iter().map(|r| r.iter().sum()).collect();
        let width = rows.iter().map(Vec::len).max().unwrap_or(0);
        let columns = (0..width)
            .map(|c| rows.iter().filter_map(|r| r.get(c).copied()).collect())
            .collect();
        (sums, columns)
    }

    fn exposed_panic(&self, why: String) -> i64 {
        panic!("asked to panic: {why}")
    }

    fn exposed_take(&self, item: String) -> Result<(), OutOfStock> {
        Err(OutOfStock { item })
    }

    fn exposed_bag(&self, items: Vec<String>) -> Object {
        Object::new(Bag {
            items,
            title: Mutex::new("untitled".into()),
        })
    }

    /// Calls `f(0)` .. `f(n-1)` all at once (join_all), not one after another.
    async fn exposed_fan_out(&self, f: Callback, n: i64) -> Result<Vec<i64>, rpc::Error> {
        futures::future::try_join_all((0..n).map(|i| {
            let f = f.clone();
            async move { f.call::<i64>((i,)).await }
        }))
        .await
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

/// Waits until every connection the server made is closed and its tables are empty.
async fn tables_empty(seen: &Seen) {
    let conns = seen.lock().clone();
    assert!(!conns.is_empty(), "the client connected");
    for conn in conns {
        tokio::time::timeout(Duration::from_secs(10), conn.closed())
            .await
            .expect("the Python client's close ends the connection");
        let stats = conn.stats();
        assert_eq!(stats.exported_objects, 0, "{stats:?}");
        assert_eq!(stats.imported_objects, 0, "{stats:?}");
        assert_eq!(stats.pending_calls, 0, "{stats:?}");
    }
}

/// Serves the Rust test service, runs the Python file at `path` against it (it must print
/// `OK`), then checks that the server's connections ended with empty tables.
pub async fn run_against_rust_server(path: &str) {
    let (server, seen) = rust_server().await;
    let port = server.local_addr().expect("addr").port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    super::venv::assert_script_ok(path, port).await;
    tables_empty(&seen).await;
    stop.shutdown();
    serving.await.expect("join").expect("served");
}
