//! A bound server's named objects (Pyro's `daemon.register`) and its [`Uri`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rpc_core::{NameError, Object, Published, Uri};

use crate::server::BoundServer;

impl BoundServer {
    /// Publishes `object` as `name`: a client reaches it with
    /// [`Connection::lookup`](rpc_core::Connection::lookup), or with the URI
    /// `rpc://HOST:PORT/NAME` ([`uri`](Self::uri) with the name). Fails for a name that breaks
    /// the rules of names (1 to 256 bytes, no whitespace or control characters) or that is
    /// already taken.
    ///
    /// Works before and while the server runs: take a [`published`](Self::published) handle
    /// before [`serve`](Self::serve) consumes the bound server.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rpc_core::transport::lookup_direct;
    /// use rpc_core::{service, ConnectOptions, Object};
    /// use rpc_server::Server;
    ///
    /// #[derive(Default)]
    /// struct Thermostat;
    ///
    /// #[service]
    /// impl Thermostat {
    ///     fn exposed_target(&self) -> f64 {
    ///         20.0
    ///     }
    /// }
    ///
    /// struct Sensor(f64);
    ///
    /// #[service]
    /// impl Sensor {
    ///     fn exposed_read(&self) -> f64 {
    ///         self.0
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let bound = Server::new(Thermostat::default).bind("127.0.0.1:0").await?;
    /// bound.publish("sensor.kitchen", Arc::new(Sensor(21.5)))?;
    /// let uri = bound.uri(); // rpc://127.0.0.1:PORT
    /// let published = bound.published();
    /// tokio::spawn(bound.serve());
    ///
    /// let kitchen = lookup_direct(&uri.clone().with_object("sensor.kitchen")?, ConnectOptions::new()).await?;
    /// assert_eq!(kitchen.call::<f64>("read", ()).await?, 21.5);
    /// let root = lookup_direct(&uri, ConnectOptions::new()).await?;
    /// assert_eq!(root.call::<f64>("target", ()).await?, 20.0);
    ///
    /// // While serving: a new object, and one withdrawn.
    /// published.publish("sensor.cellar", Object::new(Sensor(12.0)))?;
    /// published.unpublish("sensor.kitchen");
    /// let cellar = kitchen.connection().lookup("sensor.cellar").await?;
    /// assert_eq!(cellar.call::<f64>("read", ()).await?, 12.0);
    /// assert!(kitchen.connection().lookup("sensor.kitchen").await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn publish(&self, name: impl Into<String>, object: impl Into<Object>) -> Result<(), NameError> {
        self.published.publish(name, object)
    }

    /// Withdraws the object published as `name` and returns it (`None` if nothing was): later
    /// lookups of the name fail, references clients already hold keep working.
    pub fn unpublish(&self, name: &str) -> Option<Object> {
        self.published.unpublish(name)
    }

    /// The table of published objects, shared with the server: publishing or unpublishing
    /// through it takes effect at once, also after [`serve`](Self::serve) has started.
    pub fn published(&self) -> Published {
        self.published.clone()
    }

    /// Where the server is: `rpc://HOST:PORT` over TCP (`rpc+tls://` with
    /// [`Server::tls`](crate::Server::tls)), `rpc+unix:///PATH` on a Unix socket (the path
    /// made absolute). A server bound to every interface (`0.0.0.0`, `[::]`) is named by its
    /// loopback address; name it for other machines with [`Uri::tcp`] and its host name.
    /// [`Uri::with_object`] names one of its published objects.
    pub fn uri(&self) -> Uri {
        self.uri.clone()
    }
}

/// The URI of a TCP server listening on `local`.
pub(crate) fn tcp_uri(local: SocketAddr, tls: bool) -> std::io::Result<Uri> {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let host = ip.to_string();
    let uri = if tls {
        Uri::tls(&host, local.port())
    } else {
        Uri::tcp(&host, local.port())
    };
    uri.map_err(std::io::Error::other)
}

/// The URI of a server listening on the Unix socket at `path`; an error if no URI can name
/// it.
#[cfg(unix)]
pub(crate) fn unix_uri(path: &std::path::Path) -> std::io::Result<Uri> {
    let absolute = std::path::absolute(path)?;
    Uri::unix(absolute).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_named_by_loopback() {
        let uri = |addr: &str, tls| {
            tcp_uri(addr.parse().expect("addr"), tls)
                .expect("uri")
                .to_string()
        };
        assert_eq!(uri("0.0.0.0:18861", false), "rpc://127.0.0.1:18861");
        assert_eq!(uri("[::]:18861", true), "rpc+tls://[::1]:18861");
        assert_eq!(uri("10.1.2.3:1", false), "rpc://10.1.2.3:1");
    }

    #[cfg(unix)]
    #[test]
    fn socket_paths_are_made_absolute_or_refused() {
        let uri = unix_uri(std::path::Path::new("app.sock")).expect("relative path");
        assert!(
            uri.socket_path().is_some_and(std::path::Path::is_absolute),
            "{uri}"
        );
        let err = unix_uri(std::path::Path::new("/tmp/a#b.sock")).expect_err("#");
        assert!(err.to_string().contains("no URI can name"), "{err}");
    }
}
