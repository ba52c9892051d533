//! The client side of classic mode: [`connect`] to a classic server and script it.

use std::collections::BTreeMap;

use rpc_core::callback::CallbackFn;
use rpc_core::{Callback, ConnectOptions, Connection, Error, NetRef, Reply, Result};
use serde::Serialize;

use crate::modules::{FileClient, FsClient, OsClient, ProcessClient, SysClient, TimeClient};

/// Connects to the classic server at `host:port` (see [`DEFAULT_PORT`](crate::DEFAULT_PORT)).
pub async fn connect(host: &str, port: u16) -> Result<Classic> {
    connect_with(host, port, ConnectOptions::new()).await
}

/// Connects with `options` (TLS, a shared secret, limits, a service for the server to call).
pub async fn connect_with(host: &str, port: u16, options: ConnectOptions) -> Result<Classic> {
    Classic::new(rpc_core::connect_with(host, port, options).await?).await
}

/// A session on a classic server: scripts, the namespace, host modules, files.
///
/// Scripts run on the server in the session's persistent scope; their values come back as
/// serde types (or [`rpc_core::Value`]). Every call also works on [`root`](Classic::root) by name.
#[derive(Clone, Debug)]
pub struct Classic {
    conn: Connection,
    modules: Modules,
}

impl Classic {
    /// Wraps an open connection to a classic server (one made with TLS or over a Unix socket,
    /// say). Fails if the peer is not a classic server.
    pub async fn new(conn: Connection) -> Result<Classic> {
        if conn.peer_service_name() != "CLASSIC" {
            return Err(Error::Handshake(format!(
                "the peer serves {}, not a classic session (CLASSIC)",
                conn.peer_service_name()
            )));
        }
        let modules: BTreeMap<String, NetRef> = conn.root().call("modules", ()).await?;
        Ok(Classic {
            conn,
            modules: Modules::new(modules)?,
        })
    }

    /// The connection underneath.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The session's root object, for calls by name.
    pub fn root(&self) -> NetRef {
        self.conn.root()
    }

    /// Runs `code` in the session: the functions and variables it defines stay.
    pub async fn execute(&self, code: &str) -> Result<()> {
        self.root().call("execute", (code,)).await
    }

    /// Evaluates `code` in the session and decodes its value as `T`.
    pub async fn eval<T: Reply>(&self, code: &str) -> Result<T> {
        self.root().call("eval", (code,)).await
    }

    /// Defines a function (`fn name(x) { .. }`) or closure (`|x| ..`) from its source in the
    /// session and returns a reference to it: call it with [`NetRef::call_self`].
    pub async fn teleport(&self, source: &str) -> Result<NetRef> {
        self.root().call("teleport", (source,)).await
    }

    /// The session's variables.
    pub fn namespace(&self) -> Namespace<'_> {
        Namespace { classic: self }
    }

    /// The host modules, each through its typed client.
    pub fn modules(&self) -> &Modules {
        &self.modules
    }

    /// RPyC's `builtins`: `open`.
    pub fn builtins(&self) -> Builtins<'_> {
        Builtins { classic: self }
    }

    /// A local closure the session's scripts can call (see [`Connection::callback`]).
    pub fn callback<F, M>(&self, f: F) -> Callback
    where
        F: CallbackFn<M>,
    {
        self.conn.callback(f)
    }

    /// Sends the session's script output (`print`, `debug`) to `sink`, a line at a time, until
    /// the returned guard is dropped (then it goes back to the server's log). A client that
    /// reads too slowly loses lines, and is told how many.
    pub async fn redirect_output<F>(&self, sink: F) -> Result<OutputRedirect>
    where
        F: Fn(String) + Send + Sync + 'static,
    {
        let sink = self.conn.callback(move |line: String| sink(line));
        let guard: NetRef = self.root().call("redirect_output", (sink,)).await?;
        Ok(OutputRedirect { _guard: guard })
    }

    /// Closes the session.
    pub async fn close(&self) {
        self.conn.close().await;
    }
}

/// The session's variables ([`Classic::namespace`]).
#[derive(Clone, Copy, Debug)]
pub struct Namespace<'a> {
    classic: &'a Classic,
}

impl Namespace<'_> {
    /// The variable `name`, decoded as `T`.
    pub async fn get<T: Reply>(&self, name: &str) -> Result<T> {
        self.classic.root().call("get", (name,)).await
    }

    /// Sets the variable `name` to `value`: plain data, a [`Callback`], a reference.
    pub async fn set(&self, name: &str, value: impl Serialize) -> Result<()> {
        let value = rpc_core::to_value(&value).map_err(|e| Error::Encode(e.to_string()))?;
        self.classic.root().call::<()>("set", (name, value)).await
    }

    /// The names of the session's variables and functions, sorted.
    pub async fn names(&self) -> Result<Vec<String>> {
        self.classic.root().call("names", ()).await
    }
}

/// The host modules ([`Classic::modules`]). A module the server does not allow still has a
/// client; its calls fail with a remote error saying it is not allowed.
#[derive(Clone, Debug)]
pub struct Modules {
    all: BTreeMap<String, NetRef>,
    os: OsClient,
    fs: FsClient,
    process: ProcessClient,
    time: TimeClient,
    sys: SysClient,
}

impl Modules {
    /// Takes the server's list; every module must be in it.
    fn new(all: BTreeMap<String, NetRef>) -> Result<Modules> {
        let take = |name: &str| {
            all.get(name)
                .cloned()
                .ok_or_else(|| Error::Handshake(format!("the classic server lists no module '{name}'")))
        };
        Ok(Modules {
            os: OsClient::new(take("os")?),
            fs: FsClient::new(take("fs")?),
            process: ProcessClient::new(take("process")?),
            time: TimeClient::new(take("time")?),
            sys: SysClient::new(take("sys")?),
            all,
        })
    }

    /// A module by name, for calls by name.
    pub fn get(&self, name: &str) -> Option<&NetRef> {
        self.all.get(name)
    }

    /// `os`: the working directory, the environment, the host's name and platform.
    pub fn os(&self) -> &OsClient {
        &self.os
    }

    /// `fs`: files and directories.
    pub fn fs(&self) -> &FsClient {
        &self.fs
    }

    /// `process`: run or spawn programs.
    pub fn process(&self) -> &ProcessClient {
        &self.process
    }

    /// `time`: the server's clock.
    pub fn time(&self) -> &TimeClient {
        &self.time
    }

    /// `sys`: the server's version and arguments; the session's end.
    pub fn sys(&self) -> &SysClient {
        &self.sys
    }
}

/// RPyC's `builtins` ([`Classic::builtins`]).
#[derive(Clone, Copy, Debug)]
pub struct Builtins<'a> {
    classic: &'a Classic,
}

impl Builtins<'_> {
    /// Opens a file on the server (`"r"`, `"w"`, `"a"`, with `"+"` and `"b"`), inside the
    /// server's root if it has one. Closed when the last reference is dropped.
    pub async fn open(&self, path: &str, mode: &str) -> Result<FileClient> {
        let file: NetRef = self.classic.root().call("open", (path, mode)).await?;
        Ok(FileClient::new(file))
    }
}

/// Keeps the session's output redirected ([`Classic::redirect_output`]) until dropped.
#[derive(Debug)]
pub struct OutputRedirect {
    _guard: NetRef,
}
