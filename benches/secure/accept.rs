//! Accept rate: connect + handshake + close, one connection after another and from several
//! tasks at once, against a raw tokio accept loop (accept, a 1-byte echo), the same inside
//! TLS, and rpc servers of each security setting. A connection counts when its client has
//! finished the handshake (rpc: the hello exchange, after TLS and the secret) and closed it.

use std::sync::Arc;

use rpc::tls::ClientTls;
use rpc::ConnectOptions;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::common::median;
use crate::common::servers::listen;
use crate::service::BenchServer;
use crate::sides::{connect, null, raw_tls_connect, secret_is_required, Pki, Security};
use crate::timing::{in_tasks, rotation, run_selected};
use crate::Plan;

/// The scenario's name, for filters.
const NAME: &str = "accept rate";

/// How one kind of connection is made.
enum Dialer {
    /// TCP connect, one byte out and back (`TCP_NODELAY` on), close.
    RawTcp(u16),
    /// The same after a full TLS handshake.
    RawTls(u16, TlsConnector),
    /// `rpc::connect_with` (and its checks of the security asked for), then `close`.
    Rpc(u16, Security, Box<ConnectOptions>),
}

impl Dialer {
    /// Makes one connection and closes it.
    async fn once(&self) {
        match self {
            Dialer::RawTcp(port) => {
                let mut stream = TcpStream::connect(("127.0.0.1", *port))
                    .await
                    .expect("raw connect");
                stream.set_nodelay(true).expect("nodelay");
                echo_one_byte(&mut stream).await;
            }
            Dialer::RawTls(port, connector) => {
                let mut stream = raw_tls_connect(connector, *port).await;
                echo_one_byte(&mut stream).await;
            }
            Dialer::Rpc(port, security, options) => {
                connect(*port, *security, (**options).clone()).await.close().await;
            }
        }
    }

    /// Connections per second of `n` connections made by `tasks` tasks at once (one task:
    /// one after another).
    async fn rate(self: &Arc<Self>, n: usize, tasks: usize) -> f64 {
        let each = n / tasks;
        let elapsed = in_tasks(tasks, "dialer", || {
            let dialer = self.clone();
            async move {
                for _ in 0..each {
                    dialer.once().await;
                }
            }
        })
        .await;
        (each * tasks) as f64 / elapsed.as_secs_f64()
    }
}

/// Sends one byte and waits for it to come back.
async fn echo_one_byte<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    stream.write_all(&[1]).await.expect("raw write");
    stream.flush().await.expect("raw flush");
    let mut byte = [0];
    stream.read_exact(&mut byte).await.expect("raw echo");
    assert_eq!(byte, [1]);
}

/// Starts the raw accept loop (TLS when `tls` is set): each connection's byte is echoed,
/// then the server waits for the client to close.
async fn raw_server(tls: Option<tokio_rustls::TlsAcceptor>) -> u16 {
    let addr = listen(move |stream| {
        let tls = tls.clone();
        async move {
            match tls {
                None => serve_one_byte(stream).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => serve_one_byte(stream).await,
                    Err(e) => panic!("raw TLS accept: {e}"),
                },
            }
        }
    })
    .await;
    addr.port()
}

/// Echoes one byte, then reads until the client is gone.
async fn serve_one_byte<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut byte = [0];
    if stream.read_exact(&mut byte).await.is_err() {
        return;
    }
    if stream.write_all(&byte).await.is_err() || stream.flush().await.is_err() {
        return;
    }
    // The client's close (a TLS client may leave without close_notify: an error then).
    let _ = stream.read(&mut byte).await;
}

/// The rows: label, dialer.
type Rows = Vec<(&'static str, Arc<Dialer>)>;

/// Starts every server and checks each kind of connection once (a call answers on the rpc
/// ones; the secret servers refuse clients without the secret). Returns the rows and the rpc
/// servers, to stop at the end.
async fn start(pki: &Pki) -> (Rows, Vec<BenchServer>) {
    let full = pki.client_tls_full();
    let resumed: ClientTls = pki.client_tls();
    let raw_tcp = raw_server(None).await;
    let raw_tls = raw_server(Some(pki.server_tls().config().clone().into())).await;
    let mut rows: Rows = vec![
        ("raw TCP: accept + 1-byte echo", Arc::new(Dialer::RawTcp(raw_tcp))),
        (
            "raw TLS: full handshake + echo",
            Arc::new(Dialer::RawTls(raw_tls, TlsConnector::from(full.config().clone()))),
        ),
    ];
    let mut servers = Vec::new();
    for (security, label, resumed_label) in [
        (Security::Plain, "rpc plain TCP", None),
        (Security::Secret, "rpc shared secret", None),
        (
            Security::Tls,
            "rpc TLS, full handshake",
            Some("rpc TLS, resumed session"),
        ),
        (Security::TlsSecret, "rpc TLS + secret, full", None),
    ] {
        let server = security.server(pki, |s| s).await;
        let port = server.port;
        if security.secret() {
            secret_is_required(port, security, &full).await;
        }
        let mut kinds = vec![(label, security.options(&full))];
        if let Some(resumed_label) = resumed_label {
            kinds.push((resumed_label, security.options(&resumed)));
        }
        for (label, options) in kinds {
            let conn = connect(port, security, options.clone()).await;
            null(&conn.root()).await;
            conn.close().await;
            rows.push((label, Arc::new(Dialer::Rpc(port, security, Box::new(options)))));
        }
        servers.push(server);
    }
    for (_, dialer) in &rows {
        dialer.once().await;
    }
    (rows, servers)
}

/// Connections per second of each row, (one after another, `accept_tasks` at once): medians
/// of alternating rounds.
async fn measure(plan: &Plan, pki: &Pki) -> Vec<(&'static str, f64, f64)> {
    let (rows, servers) = start(pki).await;
    let mut rates = vec![(Vec::new(), Vec::new()); rows.len()];
    for round in 0..plan.accept_rounds {
        for i in rotation(round, rows.len()) {
            let dialer = &rows[i].1;
            rates[i].0.push(dialer.rate(plan.accepts, 1).await);
            rates[i]
                .1
                .push(dialer.rate(plan.accepts, plan.accept_tasks).await);
        }
    }
    for server in servers {
        server.stop().await;
    }
    rows.iter()
        .zip(&mut rates)
        .map(|((label, _), (one, many))| (*label, median(one), median(many)))
        .collect()
}

/// Measures the accept rates if the plan selects them and prints their rows.
pub async fn report(plan: &Plan, pki: &Pki) {
    let Some(rows) = run_selected(plan, NAME, measure(plan, pki)).await else {
        return;
    };
    println!();
    println!(
        "{NAME}: connect + handshake + close, {} connections per row and round, one after another \
         and from {} tasks at once; medians of {} rounds",
        plan.accepts, plan.accept_tasks, plan.accept_rounds
    );
    let tasks = format!("{} at once", plan.accept_tasks);
    println!(
        "{:<32} {:>12} {:>9} {:>12} {:>9}",
        "connections/s", "sequential", "÷ raw", tasks, "÷ raw"
    );
    let (raw_one, raw_many) = (rows[0].1, rows[0].2);
    for (label, one, many) in rows {
        println!(
            "{label:<32} {one:>12.0} {:>8.2}x {many:>12.0} {:>8.2}x",
            one / raw_one,
            many / raw_many
        );
    }
    println!(
        "(÷ raw: the row's rate ÷ the raw TCP accept loop's; full TLS handshakes with session \
         resumption off in the client; resumed: one client configuration keeps the session \
         tickets, as an application that reconnects would)"
    );
}
