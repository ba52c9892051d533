//! The classic root service: one script session per connection, the host modules, files.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rpc_core::{service, Callback, Connection, Object, RemoteError, RemoteErrorKind, Value};

use crate::engine::Session;
use crate::modules::HostContext;
use crate::ClassicConfig;

/// The root service of a classic server: a script [`Session`] of its own per connection (give
/// the server a factory, `Server::new(move || ClassicService::new(&config))`), the host modules
/// the configuration allows, bound in scripts under their names, and `open` for files.
///
/// Every script runs on its session's own thread under the session's
/// [limits](crate::ScriptLimits) (see [`engine`](crate::engine)'s "Threading"): the runtime's
/// workers never wait for a script, and other connections' sessions carry on meanwhile.
pub struct ClassicService {
    session: Session,
    host: HostContext,
    /// Counts output redirections, so that only the newest one's end restores the log.
    redirections: Arc<AtomicU64>,
}

impl ClassicService {
    /// A fresh session with the host modules `config` allows. Fails if the configured root is
    /// not a directory or the allow-list names an unknown module.
    pub fn new(config: &ClassicConfig) -> std::io::Result<ClassicService> {
        Ok(ClassicService::with_host(
            HostContext::new(config)?,
            &config.limits,
        ))
    }

    /// A server that gives each connection a session of its own under `config` (checked once,
    /// here): `ClassicService::server(&config)?.bind(("127.0.0.1", DEFAULT_PORT)).await?`.
    /// A Python `rpyc.classic.connect` is told [`PYTHON_CLIENT_REFUSAL`](crate::PYTHON_CLIENT_REFUSAL).
    pub fn server(config: &ClassicConfig) -> std::io::Result<rpc_server::Server> {
        let host = HostContext::new(config)?;
        let limits = config.limits.clone();
        let server = rpc_server::Server::new(move || ClassicService::with_host(host.session(), &limits));
        Ok(server.rpyc_refusal(crate::PYTHON_CLIENT_REFUSAL))
    }

    fn with_host(host: HostContext, limits: &crate::ScriptLimits) -> ClassicService {
        let session = Session::new(limits);
        for name in host.names() {
            if let Ok(module) = host.module(name) {
                session.bind(name, module.into());
            }
        }
        ClassicService {
            session,
            host,
            redirections: Arc::default(),
        }
    }
}

#[service(name = "CLASSIC", client = "none")]
impl ClassicService {
    /// Evaluates `code` in the session and answers its value.
    async fn exposed_eval(&self, code: String) -> Result<Value, RemoteError> {
        self.session.eval(&code).await
    }

    /// Runs `code` in the session (its functions and variables stay).
    async fn exposed_execute(&self, code: String) -> Result<(), RemoteError> {
        self.session.execute(&code).await
    }

    /// Defines a function or closure from its source and answers a callable reference to it.
    async fn exposed_teleport(&self, source: String) -> Result<Object, RemoteError> {
        self.session.teleport(&source).await
    }

    /// A variable of the session's namespace.
    async fn exposed_get(&self, name: String) -> Result<Value, RemoteError> {
        self.session.get(&name).await.ok_or_else(|| {
            RemoteError::new(
                RemoteErrorKind::NotFound,
                "rpc_classic::NoSuchName",
                format!("no variable '{name}' in the session"),
            )
        })
    }

    /// Sets a variable of the session's namespace (a value, a callback, a reference).
    async fn exposed_set(&self, name: String, value: Value) -> Result<(), RemoteError> {
        self.session.set(&name, value).await
    }

    /// The session's variables and functions, sorted.
    async fn exposed_names(&self) -> Vec<String> {
        self.session.names().await
    }

    /// Every host module by name: the module, or for one the server does not allow, an object
    /// whose every call says so.
    fn exposed_modules(&self) -> BTreeMap<String, Object> {
        crate::modules::MODULES
            .iter()
            .map(|&name| {
                let object = self
                    .host
                    .module(name)
                    .unwrap_or_else(|refusal| Object::new(Denied(Arc::new(refusal))));
                (name.to_owned(), object)
            })
            .collect()
    }

    /// The session's file transfers (see [`crate::transfer`]): file access, so only where the
    /// allow-list has `fs`, and inside the root.
    fn exposed_transfers(&self) -> Result<crate::transfer::Transfers, RemoteError> {
        self.host.check("fs")?;
        Ok(crate::transfer::Transfers::new(self.host.clone()))
    }

    /// Opens a file (RPyC's `builtins.open`), inside the server's root if it has one.
    async fn exposed_open(&self, path: String, mode: String) -> Result<crate::modules::File, RemoteError> {
        self.host.open_async(&path, &mode).await
    }

    /// Sends the session's script output (`print`, `debug`) to `sink` until the returned guard's
    /// last reference is dropped; then it goes back to the server's log.
    fn exposed_redirect_output(&self, sink: Callback) -> Redirect {
        // Counted first, so that an older guard dropped meanwhile cannot undo this one.
        let generation = self.redirections.fetch_add(1, Ordering::SeqCst) + 1;
        let (lines, mut outbox) = tokio::sync::mpsc::channel::<String>(OUTPUT_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let forward = sink.clone();
        let lost = dropped.clone();
        // One forwarder per redirection keeps the lines in order; a script never waits for
        // the client: past OUTPUT_QUEUE waiting lines, more are counted and dropped.
        tokio::spawn(async move {
            while let Some(line) = outbox.recv().await {
                let missed = lost.swap(0, Ordering::Relaxed);
                if missed > 0 {
                    let note = format!("[{missed} lines of output dropped: the client read too slowly]");
                    if forward.call::<()>((note,)).await.is_err() {
                        return;
                    }
                }
                if forward.call::<()>((line,)).await.is_err() {
                    return;
                }
            }
        });
        self.session.set_output(Some(Arc::new(move |line: String| {
            if lines.try_send(line).is_err() {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        })));
        Redirect {
            session: self.session.clone(),
            redirections: self.redirections.clone(),
            generation,
            _sink: sink,
        }
    }

    /// The session's scripts call local objects (the host modules) through the connection.
    fn on_connect(&self, conn: &Connection) {
        self.session.set_connection(conn.clone());
    }

    /// Runs when the connection closes: the session lets go of the connection and its objects.
    fn on_disconnect(&self, _conn: &Connection) {
        self.session.set_output(None);
        self.session.close();
    }
}

/// Lines of script output that may wait for a slow client.
const OUTPUT_QUEUE: usize = 1024;

/// A module the server does not allow: every call is refused with the reason.
struct Denied(Arc<RemoteError>);

impl rpc_core::Service for Denied {
    fn name(&self) -> &str {
        "DENIED"
    }

    fn call(self: Arc<Self>, _conn: &Connection, _method: &str, _args: Vec<Value>) -> rpc_core::Outcome {
        rpc_core::Outcome::Ready(Err((*self.0).clone()))
    }

    fn getattr(self: Arc<Self>, _conn: &Connection, _name: &str) -> rpc_core::Outcome {
        rpc_core::Outcome::Ready(Err((*self.0).clone()))
    }
}

/// Keeps script output redirected to the client while the client holds it.
pub struct Redirect {
    session: Session,
    redirections: Arc<AtomicU64>,
    /// Which redirection this is; a newer one replaced it if the count moved on.
    generation: u64,
    _sink: Callback,
}

#[service(name = "REDIRECT", client = "none")]
impl Redirect {}

impl Drop for Redirect {
    fn drop(&mut self) {
        if self.redirections.load(Ordering::SeqCst) == self.generation {
            self.session.set_output(None);
        }
    }
}
