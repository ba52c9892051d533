//! TLS, client side: [`ClientTls`], given to [`ConnectOptions::tls`](crate::ConnectOptions::tls).
//!
//! TLS is rustls (through tokio-rustls) on the *ring* crypto provider: no OpenSSL, no C
//! toolchain. The server's certificate is always verified against the trusted roots given
//! here, and its name against the host connected to (or the name set with
//! [`ClientTls::server_name`]); there is no switch to turn that off. Certificates and keys
//! load from PEM, as bytes or files. The server half is `rpc_server::tls::ServerTls`.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::credentials::CertificateIdentity;
use crate::error::{Error, Result};

/// rustls itself, for [`ClientTls::from_config`] and the server's `from_config`.
pub use tokio_rustls::rustls;

/// The crypto provider of every TLS setting made here: rustls on *ring*.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM bundle (a chain, or a set of trusted roots).
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("invalid certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Tls("no certificate found in the PEM data".into()));
    }
    Ok(certs)
}

/// Reads the first private key (PKCS #8, PKCS #1 or SEC1) of PEM data.
pub fn key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| Error::Tls(format!("invalid private key PEM: {e}")))
}

/// Reads a PEM file, naming it in the error.
pub fn read_pem_file(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    std::fs::read(path).map_err(|e| Error::Tls(format!("cannot read {}: {e}", path.display())))
}

/// A store of the trusted roots in `pem`.
pub fn roots_from_pem(pem: &[u8]) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in certs_from_pem(pem)? {
        roots
            .add(cert)
            .map_err(|e| Error::Tls(format!("unusable trusted certificate: {e}")))?;
    }
    Ok(roots)
}

/// The client side of TLS: the certificate authorities trusted to sign the server's
/// certificate, and optionally a client certificate to present.
///
/// ```
/// use rpc_core::{ClientTls, ConnectOptions};
///
/// # fn main() -> rpc_core::Result<()> {
/// # let ca_pem = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap().cert.pem();
/// // Trust one CA; check the server's certificate for "db.internal" whatever address is used.
/// let tls = ClientTls::from_pem(ca_pem.as_bytes())?.server_name("db.internal")?;
/// let options = ConnectOptions::new().tls(tls);
/// # let _ = options;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ClientTls {
    roots: Arc<RootCertStore>,
    config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl ClientTls {
    /// Trusts the certificate authorities of a PEM bundle (bytes).
    pub fn from_pem(ca_pem: &[u8]) -> Result<Self> {
        let roots = Arc::new(roots_from_pem(ca_pem)?);
        let config = Arc::new(builder(&roots)?.with_no_client_auth());
        Ok(ClientTls {
            roots,
            config,
            server_name: None,
        })
    }

    /// Trusts the certificate authorities of a PEM file.
    pub fn from_pem_file(ca_path: impl AsRef<Path>) -> Result<Self> {
        Self::from_pem(&read_pem_file(ca_path)?)
    }

    /// Uses a rustls configuration made elsewhere (its own verifier, protocol versions, ALPN).
    pub fn from_config(config: Arc<ClientConfig>) -> Self {
        ClientTls {
            roots: Arc::new(RootCertStore::empty()),
            config,
            server_name: None,
        }
    }

    /// Presents a client certificate (a PEM chain, leaf first) and its private key (PEM),
    /// for servers that verify clients.
    pub fn client_cert(mut self, cert_pem: &[u8], key_pem: &[u8]) -> Result<Self> {
        let certs = certs_from_pem(cert_pem)?;
        let key = key_from_pem(key_pem)?;
        let config = builder(&self.roots)?
            .with_client_auth_cert(certs, key)
            .map_err(|e| Error::Tls(format!("unusable client certificate or key: {e}")))?;
        self.config = Arc::new(config);
        Ok(self)
    }

    /// Like [`client_cert`](Self::client_cert), from PEM files.
    pub fn client_cert_files(self, cert_path: impl AsRef<Path>, key_path: impl AsRef<Path>) -> Result<Self> {
        let cert = read_pem_file(cert_path)?;
        let key = read_pem_file(key_path)?;
        self.client_cert(&cert, &key)
    }

    /// The name (DNS name or IP address) the server's certificate must be valid for, in place
    /// of the host connected to. Needed over a Unix socket or a stream that names no host.
    pub fn server_name(mut self, name: &str) -> Result<Self> {
        let name = ServerName::try_from(name.to_owned())
            .map_err(|e| Error::Tls(format!("invalid server name {name:?}: {e}")))?;
        self.server_name = Some(name);
        Ok(self)
    }

    /// The rustls configuration used.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// The server name to verify: the one set, else `host`.
    fn name_for(&self, host: Option<&str>) -> Result<ServerName<'static>> {
        if let Some(name) = &self.server_name {
            return Ok(name.clone());
        }
        let Some(host) = host else {
            return Err(Error::Tls(
                "no server name to check the certificate against: set ClientTls::server_name".into(),
            ));
        };
        ServerName::try_from(host.to_owned()).map_err(|e| {
            Error::Tls(format!(
                "{host:?} is no valid TLS server name ({e}): set ClientTls::server_name"
            ))
        })
    }

    /// Runs the TLS handshake as the client over `stream`, `host` being the host connected
    /// to. Returns the TLS stream and the server's verified certificate.
    pub(crate) async fn connect<S>(
        &self,
        stream: S,
        host: Option<&str>,
    ) -> Result<(TlsStream<S>, CertificateIdentity)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = self.name_for(host)?;
        let tls = TlsConnector::from(self.config.clone())
            .connect(name, stream)
            .await
            .map_err(|e| client_error(&e))?;
        let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
        let Some(leaf) = leaf else {
            return Err(Error::Tls("the server presented no certificate".into()));
        };
        let identity = CertificateIdentity::from_der(leaf)?;
        Ok((tls, identity))
    }
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("trusted_roots", &self.roots.len())
            .field("client_cert", &self.config.client_auth_cert_resolver.has_certs())
            .field("server_name", &self.server_name)
            .finish()
    }
}

fn builder(
    roots: &Arc<RootCertStore>,
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots.clone()))
}

/// The client's view of a failed TLS handshake: rustls' reason, and a hint when the server
/// answered with something that is not TLS at all.
fn client_error(e: &std::io::Error) -> Error {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidMessage(_)) => Error::Tls(format!(
            "the server does not speak TLS (its answer is no TLS record: a plain server?): {e}"
        )),
        Some(reason) => Error::Tls(reason.to_string()),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => Error::Tls(
            "the server closed the connection during the TLS handshake (does it speak TLS?)".into(),
        ),
        None => Error::Tls(format!("TLS handshake: {e}")),
    }
}
