//! Batched calls (Pyro's `BatchProxy`): queue calls on one or more references of one
//! connection, send them in one frame, get the results in order, each with its own error.

use serde::de::DeserializeOwned;

use crate::args::Args;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::netref::NetRef;
use crate::protocol::{ObjectId, Op};
use crate::value::{from_value, Value};

/// Calls queued to be sent together.
///
/// ```
/// # use rpc_core::{service, memory_pair, Batch, VoidService};
/// # struct Calc;
/// # #[service] impl Calc { fn exposed_add(&self, a: i64, b: i64) -> i64 { a + b } }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// # let (client, _server) = memory_pair(VoidService, Calc).await?;
/// let root = client.root();
/// let mut batch = Batch::new(&client);
/// batch.call(&root, "add", (1, 2)).call(&root, "add", (3, 4)).call(&root, "nope", ());
/// let results = batch.send().await?;
/// assert_eq!(results.get::<i64>(0)?, 3);
/// assert_eq!(results.get::<i64>(1)?, 7);
/// assert!(results.get::<i64>(2).is_err());
/// # Ok(())
/// # }
/// ```
pub struct Batch {
    conn: Connection,
    calls: Vec<(ObjectId, Op, Vec<Value>)>,
    problem: Option<Error>,
}

impl Batch {
    /// An empty batch for calls over `conn`.
    pub fn new(conn: &Connection) -> Batch {
        Batch {
            conn: conn.clone(),
            calls: Vec::new(),
            problem: None,
        }
    }

    /// Queues a call of `method` on `target`, which must live on the batch's connection.
    pub fn call(&mut self, target: &NetRef, method: &str, args: impl Args) -> &mut Batch {
        if self.problem.is_some() {
            return self;
        }
        if target.connection().id() != self.conn.id() {
            self.problem = Some(Error::Encode(format!(
                "a batch travels over one connection; {method} targets another one"
            )));
            return self;
        }
        match args.into_args() {
            Ok(args) => self.calls.push((target.id(), Op::Call(method.to_owned()), args)),
            Err(e) => self.problem = Some(Error::Encode(format!("argument of {method}: {e}"))),
        }
        self
    }

    /// Number of queued calls.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Sends every queued call in one frame and waits for all the results (each within the
    /// connection's call timeout). Fails as a whole only if the batch could not be sent.
    pub async fn send(self) -> Result<BatchResults> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        if self.calls.is_empty() {
            return Ok(BatchResults(Vec::new()));
        }
        let limit = self.conn.config().call_timeout;
        let pending = self.conn.send_batch(self.calls)?;
        let n = pending.len();
        // One timer for the whole batch, not one per call.
        let all = futures::future::join_all(pending.into_iter().map(|call| call.wait()));
        match limit {
            Some(limit) => match tokio::time::timeout(limit, all).await {
                Ok(results) => Ok(BatchResults(results)),
                Err(_) => Ok(BatchResults((0..n).map(|_| Err(Error::Timeout(limit))).collect())),
            },
            None => Ok(BatchResults(all.await)),
        }
    }
}

/// The results of a [`Batch`], in the order the calls were queued.
#[derive(Debug)]
pub struct BatchResults(Vec<Result<Value>>);

impl BatchResults {
    /// The result of call `index`, decoded as `T`.
    pub fn get<T: DeserializeOwned>(&self, index: usize) -> Result<T> {
        match self.0.get(index) {
            Some(Ok(v)) => {
                from_value(v.clone()).map_err(|e| Error::Decode(format!("result {index} of the batch: {e}")))
            }
            Some(Err(e)) => Err(e.clone()),
            None => Err(Error::Decode(format!(
                "the batch has no result {index} (it has {})",
                self.0.len()
            ))),
        }
    }

    /// Number of results.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if the batch was empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The results as dynamic values.
    pub fn into_values(self) -> Vec<Result<Value>> {
        self.0
    }
}
