//! TLS bulk: a 1 MiB bytes argument whose length comes back, one call at a time, over TLS and
//! plain TCP, beside raw 1 MiB ping-pongs over TCP and inside TLS. Rates are taken at each
//! side's median call time.

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;

use rpc::tls::rustls::crypto::ring::default_provider;
use rpc::tls::rustls::pki_types::ServerName;
use rpc::tls::rustls::{CipherSuite, ClientConfig, ClientConnection, ServerConnection};
use rpc::{NetRef, Value};

use crate::common::Latency;
use crate::frames::call_frames;
use crate::sides::{FourSides, Pki, SERVER_NAME};
use crate::timing::{run_selected, time_each};
use crate::{four_heading, four_row, Goal, Plan};

/// The scenario's name, for filters.
const NAME: &str = "TLS 1 MiB bytes argument";

/// The argument's size.
const SIZE: usize = 1 << 20;

/// The goal: TLS at least this fraction of plain TCP's rate.
const GOAL: f64 = 0.6;

/// Request and reply frame sizes of `size(data)` with `SIZE` bytes of data.
fn frames() -> (usize, usize) {
    call_frames("size", vec![Value::Bytes(vec![0; SIZE])], Value::Int(SIZE as i64))
}

/// One call of `size(data)`, checking the answer.
async fn call(root: NetRef, data: &[u8]) {
    let n: usize = root
        .call("size", (rpc::serde_bytes::Bytes::new(data),))
        .await
        .expect("size call");
    assert_eq!(n, SIZE);
}

/// rustls alone, no sockets: a client connection and a server connection in memory with the
/// configurations rpc builds, handshaken, then bytes encrypted by one and decrypted by the
/// other. What TLS costs a byte on this machine, before any I/O.
struct InMemory {
    client: ClientConnection,
    server: ServerConnection,
    /// TLS records on their way from the client to the server.
    wire: Vec<u8>,
    /// Where the server's plaintext is read to.
    plain: Vec<u8>,
}

impl InMemory {
    /// Handshaken with rpc's server configuration and `client` (rpc's, or one that offers
    /// other suites).
    fn new(pki: &Pki, client: Arc<ClientConfig>) -> InMemory {
        let name = ServerName::try_from(SERVER_NAME).expect("server name");
        let mut tls = InMemory {
            client: ClientConnection::new(client, name).expect("client"),
            server: ServerConnection::new(pki.server_tls().config().clone()).expect("server"),
            wire: Vec::new(),
            plain: vec![0; 64 * 1024],
        };
        for _ in 0..10 {
            if !tls.client.is_handshaking() && !tls.server.is_handshaking() {
                break;
            }
            tls.wire.clear();
            while tls.client.wants_write() {
                tls.client.write_tls(&mut tls.wire).expect("client records");
            }
            tls.server.read_tls(&mut &tls.wire[..]).expect("server reads");
            tls.server.process_new_packets().expect("server handshake");
            tls.wire.clear();
            while tls.server.wants_write() {
                tls.server.write_tls(&mut tls.wire).expect("server records");
            }
            tls.client.read_tls(&mut &tls.wire[..]).expect("client reads");
            tls.client.process_new_packets().expect("client handshake");
        }
        assert!(!tls.client.is_handshaking(), "in-memory handshake");
        tls
    }

    /// The suite the two agreed on.
    fn suite(&self) -> String {
        let suite = self.client.negotiated_cipher_suite().expect("negotiated");
        format!("{:?}", suite.suite())
    }

    /// `data` from the client to the server, as far as the server's plaintext.
    fn send(&mut self, data: &[u8]) {
        let (mut sent, mut got) = (0, 0);
        while got < data.len() {
            if sent < data.len() {
                sent += self.client.writer().write(&data[sent..]).expect("encrypt");
            }
            self.wire.clear();
            while self.client.wants_write() {
                self.client.write_tls(&mut self.wire).expect("client records");
            }
            let mut records = &self.wire[..];
            while !records.is_empty() {
                self.server.read_tls(&mut records).expect("server reads");
                self.server.process_new_packets().expect("decrypt");
                loop {
                    match self.server.reader().read(&mut self.plain) {
                        Ok(0) => panic!("in-memory TLS closed"),
                        Ok(n) => got += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("in-memory read: {e}"),
                    }
                }
            }
        }
        assert_eq!(got, data.len(), "every byte through");
    }
}

/// A client configuration like rpc's that offers only TLS13_AES_128_GCM_SHA256 (rustls, and
/// so rpc, prefers AES-256-GCM).
fn aes128_client(pki: &Pki) -> Arc<ClientConfig> {
    let mut provider = default_provider();
    provider
        .cipher_suites
        .retain(|s| s.suite() == CipherSuite::TLS13_AES_128_GCM_SHA256);
    let roots = rpc::tls::roots_from_pem(pki.ca_pem()).expect("roots");
    let config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// MiB/s of `n` in-memory transfers of `data` at the median time, and the suite used.
async fn in_memory(pki: &Pki, client: Arc<ClientConfig>, n: usize, data: &[u8]) -> (f64, String) {
    let mut tls = InMemory::new(pki, client);
    let mut ns = Vec::new();
    time_each(n, &mut ns, |_| {
        tls.send(data);
        std::future::ready(())
    })
    .await;
    (mib_per_s(&mut ns), tls.suite())
}

/// MiB/s at a median time of `SIZE` bytes.
fn mib_per_s(ns: &mut [u64]) -> f64 {
    SIZE as f64 / (1 << 20) as f64 / (Latency::of(ns).p50 / 1e6)
}

/// The four sides' MiB/s at their median call times (in `SIDES` order), and rustls' in memory
/// with rpc's suite and with AES-128-GCM (MiB/s, suite).
async fn measure(plan: &Plan, pki: &Pki) -> ([f64; 4], [(f64, String); 2]) {
    let sides = FourSides::start(pki, frames()).await;
    let data = vec![7u8; SIZE];
    let data = &data;
    let mut ns = sides
        .time(plan.bulk_rounds, 1, plan.bulk_calls, |root| call(root, data))
        .await;
    sides.stop().await;
    // After the sockets' rounds: CPU only, it gains nothing from alternating.
    let n = plan.bulk_calls * plan.bulk_rounds;
    let memory = [
        in_memory(pki, pki.client_tls().config().clone(), n, data).await,
        in_memory(pki, aes128_client(pki), n, data).await,
    ];
    (ns.each_mut().map(|ns| mib_per_s(ns)), memory)
}

/// Measures the bulk calls if the plan selects them, prints their row and adds the goal.
pub async fn report(plan: &Plan, pki: &Pki, goals: &mut Vec<Goal>) {
    let Some((rates, memory)) = run_selected(plan, NAME, measure(plan, pki)).await else {
        return;
    };
    let (req, rep) = frames();
    println!();
    println!(
        "{NAME}: size(1 MiB, serde_bytes), request frame {req} bytes, reply frame {rep} bytes; \
         1 untimed + {} timed calls per side in each of {} rounds, a fresh connection each",
        plan.bulk_calls, plan.bulk_rounds
    );
    four_heading("1 MiB argument (MiB/s)");
    four_row("at the median call", rates);
    for (rate, suite) in memory {
        println!(
            "(rustls alone in memory, {suite}: 1 MiB encrypted and decrypted, no sockets: \
             {rate:.1} MiB/s, {:.0}% of rpc TCP's rate)",
            rate / rates[1] * 100.0
        );
    }
    let share = rates[0] / rates[1];
    goals.push(Goal {
        what: "1 MiB over TLS, % of plain TCP's rate".to_owned(),
        figure: format!("{:.0}%", share * 100.0),
        target: "≥ 60%",
        met: share >= GOAL,
    });
}
