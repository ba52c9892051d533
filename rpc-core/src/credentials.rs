//! Who the peer is: its address and what authentication proved about it.
//!
//! A server's authenticators (TLS client certificates, a shared secret) run before the
//! protocol's hello; what they verified becomes the connection's [`Credentials`], which a
//! service method reads through a `Connection` parameter
//! ([`Connection::credentials`](crate::Connection::credentials)). A client's credentials hold
//! what it verified of the server (its certificate, its knowledge of the shared secret).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use crate::error::{Error, Result};

/// What authentication proved about the peer of a connection.
///
/// Each verified fact has its own field, so a service checks the one it trusts:
///
/// ```
/// use rpc_core::Credentials;
///
/// let mut creds = Credentials::default();
/// assert!(creds.is_empty());
/// creds.shared_secret = Some("ops".to_owned());
/// assert_eq!(creds.name(), Some("ops"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// The peer's certificate, verified by TLS against the trusted certificate authorities
    /// (a client certificate on a server; the server's certificate on a client).
    pub certificate: Option<CertificateIdentity>,
    /// Set when the peer proved it knows the shared secret: the secret's label
    /// ([`SharedSecret::label`](crate::transport::SharedSecret::label)).
    pub shared_secret: Option<String>,
    /// What other authenticators verified, by name (user-written authenticators put their
    /// findings here: a user name, a token's scope).
    pub attributes: BTreeMap<String, String>,
}

impl Credentials {
    /// True when nothing was verified.
    pub fn is_empty(&self) -> bool {
        self.certificate.is_none() && self.shared_secret.is_none() && self.attributes.is_empty()
    }

    /// A short name of the peer, for logs and greetings: the certificate's common name, else
    /// its first DNS name, else the `name` attribute, else the shared secret's label.
    pub fn name(&self) -> Option<&str> {
        let cert = self.certificate.as_ref();
        cert.and_then(|c| c.common_name.as_deref())
            .or_else(|| cert.and_then(|c| c.dns_names.first().map(String::as_str)))
            .or_else(|| self.attributes.get("name").map(String::as_str))
            .or(self.shared_secret.as_deref())
    }

    /// Adds what `later` verified (a later authentication stage) to these credentials; a
    /// field `later` sets replaces ours.
    pub fn merge(&mut self, later: Credentials) {
        if later.certificate.is_some() {
            self.certificate = later.certificate;
        }
        if later.shared_secret.is_some() {
            self.shared_secret = later.shared_secret;
        }
        self.attributes.extend(later.attributes);
    }
}

/// The identity of a verified certificate: its subject and subject alternative names.
///
/// Only built from a certificate that TLS verified; the names are read from it, not checked
/// again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateIdentity {
    /// The subject's distinguished name, as text (`CN=alice, O=Example`).
    pub subject: String,
    /// The subject's common name (`CN`), if it has one.
    pub common_name: Option<String>,
    /// DNS names of the subject alternative names.
    pub dns_names: Vec<String>,
    /// IP addresses of the subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
    /// URIs of the subject alternative names (SPIFFE IDs and the like).
    pub uris: Vec<String>,
    /// E-mail addresses of the subject alternative names.
    pub emails: Vec<String>,
    /// The certificate itself (DER), for checks of one's own.
    pub der: Vec<u8>,
}

impl CertificateIdentity {
    /// Reads the subject and subject alternative names of a DER-encoded certificate.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        use x509_parser::extensions::GeneralName;

        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| Error::Tls(format!("cannot read the peer's certificate: {e}")))?;
        let subject = cert.subject();
        let mut identity = CertificateIdentity {
            subject: subject.to_string(),
            common_name: subject
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            uris: Vec::new(),
            emails: Vec::new(),
            der: der.to_vec(),
        };
        let san = cert
            .subject_alternative_name()
            .map_err(|e| Error::Tls(format!("invalid subject alternative names: {e}")))?;
        for name in san.iter().flat_map(|san| san.value.general_names.iter()) {
            match name {
                GeneralName::DNSName(n) => identity.dns_names.push((*n).to_owned()),
                GeneralName::URI(u) => identity.uris.push((*u).to_owned()),
                GeneralName::RFC822Name(m) => identity.emails.push((*m).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        identity.ip_addresses.push(ip);
                    }
                }
                _ => {}
            }
        }
        Ok(identity)
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// What one side knows of its peer when the protocol starts: its address and its verified
/// credentials. Kept by the connection ([`Connection::peer_addr`](crate::Connection::peer_addr),
/// [`Connection::credentials`](crate::Connection::credentials)).
///
/// The transports fill it in (`connect_with`, `tcp_connection`), and so do servers after
/// their authenticators; [`ConnectOptions::peer`](crate::ConnectOptions::peer) sets it for a
/// connection opened some other way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerInfo {
    /// The peer's network address (`None` over a Unix socket, a pipe or in memory).
    pub addr: Option<SocketAddr>,
    /// What authentication proved about the peer (`None`: nothing was checked).
    pub credentials: Option<Credentials>,
}

impl PeerInfo {
    /// Nothing known.
    pub fn new() -> Self {
        PeerInfo::default()
    }

    /// Sets the peer's address.
    pub fn addr(mut self, addr: Option<SocketAddr>) -> Self {
        self.addr = addr;
        self
    }

    /// Sets the peer's verified credentials.
    pub fn credentials(mut self, credentials: Option<Credentials>) -> Self {
        self.credentials = credentials;
        self
    }
}
