//! The shared-secret challenge-response: both sides prove they know the same secret, and the
//! secret never crosses the wire. The exchange is described on [`SharedSecret`].

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::credentials::Credentials;
use crate::error::{shortened, Error, Result};
use crate::protocol::MAGIC;

/// The first bytes of a shared-secret exchange (shaped like the protocol's [`MAGIC`], from
/// which it differs).
pub const AUTH_MAGIC: [u8; 8] = *b"\x00RPC-AU\n";
/// The version of the exchange.
const VERSION: u8 = 1;
/// Bytes of a nonce.
const NONCE_LEN: usize = 32;
/// Bytes of a proof (HMAC-SHA256).
const PROOF_LEN: usize = 32;
/// Status byte: go on / accepted.
const OK: u8 = 0;
/// Status byte: refused, a reason follows.
const FAIL: u8 = 1;
/// Most bytes of a reason sent or read.
const REASON_MAX: usize = 256;
/// What the server's proof is made of, before the nonces.
const SERVER_LABEL: &[u8] = b"rpc shared-secret v1: server proof";
/// What the client's proof is made of, before the nonces.
const CLIENT_LABEL: &[u8] = b"rpc shared-secret v1: client proof";

/// The label of a secret made without [`SharedSecret::with_label`].
pub const DEFAULT_LABEL: &str = "shared-secret";

/// A secret both sides know, proven by a challenge-response (HMAC-SHA256 over nonces of both
/// sides) before the protocol starts.
///
/// # The exchange
///
/// It runs on the byte stream (inside TLS, if any) before the protocol's preamble and hello.
/// `cn` and `sn` are 32 fresh random bytes of the client and the server; `key` is the secret;
/// proofs are HMAC-SHA256:
///
/// ```text
/// client -> server   AUTH_MAGIC (8) | version = 1 (1) | cn (32)
/// server -> client   AUTH_MAGIC (8) | 0 | sn (32) | HMAC(key, SERVER_LABEL | cn | sn) (32)
///                                     or 1 | reason
/// client -> server   0 | HMAC(key, CLIENT_LABEL | sn | cn) (32)   (the client checked the server)
///                    or 1 | reason
/// server -> client   0 (accepted)  or  1 | reason
/// ```
///
/// `SERVER_LABEL` is `"rpc shared-secret v1: server proof"`, `CLIENT_LABEL` the same with
/// `client`. A reason is a little-endian `u16` length and at most 256 bytes of UTF-8.
///
/// * **No replay**: a recorded client proof covers the server nonce of its own session; a new
///   session has a new `sn`, so the old proof is wrong.
/// * **No reflection**: the two proofs carry different labels, so a server's proof, obtained
///   by sending the server a client's challenge, is never a valid client proof (and back).
/// * **Mutual**: the client checks the server's proof before giving its own, so a fake server
///   that does not know the secret is caught too.
/// * Proofs are compared in constant time (`ring::hmac::verify`); every read has a fixed size
///   or a small bound; the caller bounds the whole in time (the handshake timeout).
///
/// Like any password-based challenge, a recorded exchange lets an eavesdropper try guesses
/// offline: use a random secret of 16 bytes or more, and TLS on untrusted networks.
///
/// A client gives it to [`ConnectOptions::secret`](crate::ConnectOptions::secret); a server
/// to its `authenticator`. A server that proved a client's secret sets
/// [`Credentials::shared_secret`] to the secret's [`label`](SharedSecret::label).
///
/// ```
/// use rpc_core::{ConnectOptions, SharedSecret};
///
/// let secret = SharedSecret::new(b"correct horse battery staple").with_label("ops");
/// assert_eq!(secret.label(), "ops");
/// let options = ConnectOptions::new().secret(secret);
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct SharedSecret {
    key: hmac::Key,
    label: String,
}

impl SharedSecret {
    /// A secret of any bytes (16 random bytes or more are advised).
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        SharedSecret {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_ref()),
            label: DEFAULT_LABEL.to_owned(),
        }
    }

    /// Names the secret (a key id): the name, not the secret, is what a server's credentials
    /// show. It never crosses the wire.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// The secret's name.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Runs the client's side of the exchange over `io`: proves the secret to the server and
    /// checks that the server knows it too.
    pub async fn client_exchange<S>(&self, io: &mut S) -> Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let cn = nonce()?;
        let mut hello = Vec::with_capacity(AUTH_MAGIC.len() + 1 + NONCE_LEN);
        hello.extend_from_slice(&AUTH_MAGIC);
        hello.push(VERSION);
        hello.extend_from_slice(&cn);
        send(io, &hello).await?;

        let magic: [u8; 8] = read_array(io).await?;
        if magic == MAGIC {
            return Err(Error::Auth(
                "the server does not ask for a shared secret (it started the protocol at once)".into(),
            ));
        }
        if magic != AUTH_MAGIC {
            return Err(Error::Auth(
                "the server does not speak the shared-secret exchange".into(),
            ));
        }
        read_status(io, "the server").await?;
        let sn: [u8; NONCE_LEN] = read_array(io).await?;
        let server_proof: [u8; PROOF_LEN] = read_array(io).await?;
        if hmac::verify(&self.key, &transcript(SERVER_LABEL, &cn, &sn), &server_proof).is_err() {
            let reason = "the server's proof is wrong";
            let _ = send(io, &failure(reason)).await;
            return Err(Error::Auth(
                "the server does not know the secret (its proof is wrong): a wrong secret, or not the real server"
                    .into(),
            ));
        }
        let proof = hmac::sign(&self.key, &transcript(CLIENT_LABEL, &sn, &cn));
        let mut out = Vec::with_capacity(1 + PROOF_LEN);
        out.push(OK);
        out.extend_from_slice(proof.as_ref());
        send(io, &out).await?;
        read_status(io, "the server").await
    }

    /// Runs the server's side of the exchange over `io`, from its first byte: checks the
    /// client's proof and proves the secret back. A refused client is told why (a failure
    /// status and a reason) before the error returns; the caller closes the stream.
    pub async fn server_exchange<S>(&self, io: &mut S) -> Result<Credentials>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let magic: [u8; 8] = read_array(io).await?;
        if magic != AUTH_MAGIC {
            return Err(Error::Auth(
                "the client did not start a shared-secret exchange".into(),
            ));
        }
        let [version]: [u8; 1] = read_array(io).await?;
        if version != VERSION {
            let reason = format!(
                "unsupported shared-secret exchange version {version} (this server speaks {VERSION})"
            );
            let _ = send(io, &[&AUTH_MAGIC[..], &failure(&reason)].concat()).await;
            return Err(Error::Auth(reason));
        }
        let cn: [u8; NONCE_LEN] = read_array(io).await?;
        let sn = nonce()?;
        let proof = hmac::sign(&self.key, &transcript(SERVER_LABEL, &cn, &sn));
        let mut out = Vec::with_capacity(AUTH_MAGIC.len() + 1 + NONCE_LEN + PROOF_LEN);
        out.extend_from_slice(&AUTH_MAGIC);
        out.push(OK);
        out.extend_from_slice(&sn);
        out.extend_from_slice(proof.as_ref());
        send(io, &out).await?;

        read_status(io, "the client").await?;
        let client_proof: [u8; PROOF_LEN] = read_array(io).await?;
        if hmac::verify(&self.key, &transcript(CLIENT_LABEL, &sn, &cn), &client_proof).is_err() {
            let _ = send(io, &failure("authentication failed: wrong shared secret")).await;
            return Err(Error::Auth(
                "the client's proof is wrong (a wrong secret, or a replayed exchange)".into(),
            ));
        }
        send(io, &[OK]).await?;
        Ok(Credentials {
            shared_secret: Some(self.label.clone()),
            ..Credentials::default()
        })
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSecret")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// `label | first | second`: what a proof signs.
fn transcript(label: &[u8], first: &[u8; NONCE_LEN], second: &[u8; NONCE_LEN]) -> Vec<u8> {
    [label, first, second].concat()
}

fn nonce() -> Result<[u8; NONCE_LEN]> {
    let mut n = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut n)
        .map_err(|_| Error::Auth("no random numbers for a nonce".into()))?;
    Ok(n)
}

/// A failure status and its reason, cut to [`REASON_MAX`] bytes.
fn failure(reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(REASON_MAX);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = Vec::with_capacity(3 + end);
    out.push(FAIL);
    out.extend_from_slice(&(end as u16).to_le_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
    out
}

/// Reads a status byte; a failure becomes an error carrying `who`'s reason.
async fn read_status<S: AsyncRead + Unpin>(io: &mut S, who: &str) -> Result<()> {
    let [status]: [u8; 1] = read_array(io).await?;
    match status {
        OK => Ok(()),
        FAIL => {
            let len = u16::from_le_bytes(read_array(io).await?) as usize;
            if len > REASON_MAX {
                return Err(Error::Auth(format!(
                    "{who} refused, with a reason of {len} bytes"
                )));
            }
            let mut reason = vec![0u8; len];
            read_exact(io, &mut reason).await?;
            let reason = shortened(&String::from_utf8_lossy(&reason), REASON_MAX);
            Err(Error::Auth(format!("{who} refused: {reason}")))
        }
        other => Err(Error::Auth(format!("{who} sent an unknown status {other}"))),
    }
}

async fn read_array<const N: usize, S: AsyncRead + Unpin>(io: &mut S) -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    read_exact(io, &mut buf).await?;
    Ok(buf)
}

async fn read_exact<S: AsyncRead + Unpin>(io: &mut S, buf: &mut [u8]) -> Result<()> {
    match io.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::Auth(
            "the peer closed the connection in the middle of the shared-secret exchange".into(),
        )),
        Err(e) => Err(Error::Io(e)),
    }
}

async fn send<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8]) -> Result<()> {
    io.write_all(bytes).await?;
    io.flush().await?;
    Ok(())
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;
