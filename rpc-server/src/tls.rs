//! TLS, server side: [`ServerTls`], given to [`Server::tls`](crate::Server::tls).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rpc_core::transport::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rpc_core::transport::tls::rustls::server::WebPkiClientVerifier;
use rpc_core::transport::tls::rustls::{RootCertStore, ServerConfig};
use rpc_core::transport::tls::{certs_from_pem, key_from_pem, provider, read_pem_file, roots_from_pem};
use rpc_core::{CertificateIdentity, Credentials, Error, Result};
use tokio_rustls::TlsAcceptor;

use crate::auth::{first_bytes, Authenticated, Authenticator, BoxFuture, BoxStream};

/// The server side of TLS (rustls on *ring*): the server's certificate chain and key, and
/// optionally the certificate authorities whose client certificates it verifies.
///
/// A verified client certificate's identity (subject, common name, subject alternative
/// names) becomes the connection's [`Credentials::certificate`]. A client that does not speak
/// TLS is told "this server requires TLS" in a protocol refusal; a failed TLS handshake sends
/// the client rustls' alert.
///
/// ```
/// use rpc_server::tls::ServerTls;
///
/// # fn main() -> rpc_core::Result<()> {
/// # let ca = rcgen::generate_simple_self_signed(vec!["ca".into()]).unwrap();
/// # let server = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let (cert_pem, key_pem, ca_pem) = (server.cert.pem(), server.signing_key.serialize_pem(), ca.cert.pem());
/// let tls = ServerTls::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?
///     .require_client_certs(ca_pem.as_bytes())?;
/// # let _ = tls;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ServerTls {
    certs: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    clients: ClientCerts,
    config: Arc<ServerConfig>,
}

/// Which client certificates a server asks for.
#[derive(Clone)]
enum ClientCerts {
    /// None.
    Ignored,
    /// Verified against these roots when a client presents one.
    Optional(Arc<RootCertStore>),
    /// Verified against these roots, and a client without one is refused.
    Required(Arc<RootCertStore>),
}

impl ServerTls {
    /// The server's certificate chain (PEM, leaf first) and private key (PEM).
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self> {
        let certs = certs_from_pem(cert_chain_pem)?;
        let key = Arc::new(key_from_pem(key_pem)?);
        let config = build(&certs, &key, &ClientCerts::Ignored)?;
        Ok(ServerTls {
            certs,
            key,
            clients: ClientCerts::Ignored,
            config,
        })
    }

    /// Like [`from_pem`](Self::from_pem), from PEM files.
    pub fn from_pem_files(cert_chain_path: impl AsRef<Path>, key_path: impl AsRef<Path>) -> Result<Self> {
        Self::from_pem(&read_pem_file(cert_chain_path)?, &read_pem_file(key_path)?)
    }

    /// Uses a rustls configuration made elsewhere; its client verifier decides about client
    /// certificates.
    pub fn from_config(config: Arc<ServerConfig>) -> Self {
        ServerTls {
            certs: Vec::new(),
            key: Arc::new(PrivateKeyDer::Pkcs8(Vec::new().into())),
            clients: ClientCerts::Ignored,
            config,
        }
    }

    /// Refuses clients without a certificate signed by one of the authorities in `ca_pem`.
    pub fn require_client_certs(self, ca_pem: &[u8]) -> Result<Self> {
        let roots = Arc::new(roots_from_pem(ca_pem)?);
        self.with_clients(ClientCerts::Required(roots))
    }

    /// Like [`require_client_certs`](Self::require_client_certs), from a PEM file.
    pub fn require_client_certs_file(self, ca_path: impl AsRef<Path>) -> Result<Self> {
        self.require_client_certs(&read_pem_file(ca_path)?)
    }

    /// Verifies a client certificate against the authorities in `ca_pem` when a client
    /// presents one, and lets clients without one in (with no certificate in their
    /// credentials).
    pub fn optional_client_certs(self, ca_pem: &[u8]) -> Result<Self> {
        let roots = Arc::new(roots_from_pem(ca_pem)?);
        self.with_clients(ClientCerts::Optional(roots))
    }

    /// The rustls configuration used.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    fn with_clients(mut self, clients: ClientCerts) -> Result<Self> {
        if self.certs.is_empty() {
            return Err(Error::Tls(
                "set client certificates in the rustls configuration given".into(),
            ));
        }
        self.config = build(&self.certs, &self.key, &clients)?;
        self.clients = clients;
        Ok(self)
    }
}

fn build(
    certs: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    clients: &ClientCerts,
) -> Result<Arc<ServerConfig>> {
    let provider = provider();
    let verifier = match clients {
        ClientCerts::Ignored => None,
        ClientCerts::Optional(roots) => Some(
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .allow_unauthenticated(),
        ),
        ClientCerts::Required(roots) => Some(WebPkiClientVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )),
    };
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let builder = match verifier {
        None => builder.with_no_client_auth(),
        Some(verifier) => {
            let verifier = verifier
                .build()
                .map_err(|e| Error::Tls(format!("cannot verify clients: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs.to_vec(), key.clone_key())
        .map_err(|e| Error::Tls(format!("unusable server certificate or key: {e}")))?;
    Ok(Arc::new(config))
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clients = match self.clients {
            ClientCerts::Ignored => "ignored",
            ClientCerts::Optional(_) => "optional",
            ClientCerts::Required(_) => "required",
        };
        f.debug_struct("ServerTls")
            .field("chain_len", &self.certs.len())
            .field("client_certs", &clients)
            .finish_non_exhaustive()
    }
}

impl Authenticator for ServerTls {
    fn authenticate(
        &self,
        stream: BoxStream,
        _peer: Option<SocketAddr>,
    ) -> BoxFuture<'_, Result<Authenticated>> {
        Box::pin(async move {
            let (_, stream) = first_bytes(stream, "this server requires TLS (ConnectOptions::tls)").await?;
            let tls = TlsAcceptor::from(self.config.clone())
                .accept(stream)
                .await
                .map_err(|e| Error::Tls(tls_reason(&e)))?;
            let mut credentials = Credentials::default();
            if let Some(leaf) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                credentials.certificate = Some(CertificateIdentity::from_der(leaf)?);
            }
            Ok(Authenticated {
                stream: Box::new(tls),
                credentials,
            })
        })
    }
}

/// rustls' reason for a failed handshake, when there is one.
fn tls_reason(e: &std::io::Error) -> String {
    use rpc_core::transport::tls::rustls;
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidMessage(m)) => format!("the client does not speak TLS ({m:?})"),
        Some(reason) => reason.to_string(),
        None => e.to_string(),
    }
}
