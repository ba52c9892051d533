//! Finding a registry without configuration: a UDP query "where is the registry" (or "who
//! serves NAME"), answered by registry servers that enable it (the idea of RPyC's UDP
//! registry and Pyro's broadcast; not their wire format).
//!
//! A datagram is one line of ASCII text. Queries: `RPC-DISCOVER/1 REGISTRY` and
//! `RPC-DISCOVER/1 NAME <name>`, padded with spaces to [`QUERY_LEN`] bytes. Answers:
//! `RPC-DISCOVERED/1 REGISTRY <uri>` and `RPC-DISCOVERED/1 NAME <name> <uri>`. A responder
//! answers only queries at least as long as its answer (so it cannot be used to amplify a
//! flood at a spoofed address), never answers a name it does not have, and ignores anything
//! else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use super::store::RegistryStore;

/// Every query is padded to this many bytes; longer datagrams are ignored.
pub const QUERY_LEN: usize = 512;
/// Where discovery broadcasts by default: the registry's port on the local network.
pub const BROADCAST: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::BROADCAST),
    super::DEFAULT_PORT,
);

const QUERY: &str = "RPC-DISCOVER/1";
const ANSWER: &str = "RPC-DISCOVERED/1";

/// What a query asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Where is a registry?
    Registry,
    /// Who serves this name?
    Name(String),
}

impl Query {
    /// The datagram, padded to [`QUERY_LEN`].
    pub fn to_datagram(&self) -> Vec<u8> {
        let mut text = match self {
            Query::Registry => format!("{QUERY} REGISTRY"),
            Query::Name(name) => format!("{QUERY} NAME {name}"),
        };
        let width = QUERY_LEN.max(text.len());
        text.extend(std::iter::repeat_n(' ', width - text.len()));
        text.into_bytes()
    }

    /// The query in `datagram`, if it is one.
    pub fn parse(datagram: &[u8]) -> Option<Query> {
        let text = std::str::from_utf8(datagram).ok()?.trim_end_matches(' ');
        let rest = text.strip_prefix(QUERY)?.strip_prefix(' ')?;
        if rest == "REGISTRY" {
            return Some(Query::Registry);
        }
        let name = rest.strip_prefix("NAME ")?;
        rpc_core::check_name(name).ok()?;
        Some(Query::Name(name.to_owned()))
    }
}

/// What an answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A registry is at this URI.
    Registry(String),
    /// This name is served at this URI.
    Name(String, String),
}

impl Answer {
    /// The datagram.
    pub fn to_datagram(&self) -> Vec<u8> {
        match self {
            Answer::Registry(uri) => format!("{ANSWER} REGISTRY {uri}"),
            Answer::Name(name, uri) => format!("{ANSWER} NAME {name} {uri}"),
        }
        .into_bytes()
    }

    /// The answer in `datagram`, if it is one.
    pub fn parse(datagram: &[u8]) -> Option<Answer> {
        let text = std::str::from_utf8(datagram).ok()?;
        let rest = text.strip_prefix(ANSWER)?.strip_prefix(' ')?;
        if let Some(uri) = rest.strip_prefix("REGISTRY ") {
            return (!uri.is_empty() && !uri.contains(' ')).then(|| Answer::Registry(uri.to_owned()));
        }
        let (name, uri) = rest.strip_prefix("NAME ")?.split_once(' ')?;
        (!uri.is_empty() && !uri.contains(' ')).then(|| Answer::Name(name.to_owned(), uri.to_owned()))
    }
}

/// Answers discovery queries on `socket` for the registry at `registry_uri` over `store`,
/// until the task is dropped or aborted.
pub async fn respond(socket: UdpSocket, registry_uri: String, store: Arc<dyn RegistryStore>) {
    let mut buf = vec![0u8; QUERY_LEN + 1];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                tracing::debug!(error = %e, "discovery: receive failed");
                continue;
            }
        };
        if n > QUERY_LEN {
            continue;
        }
        let Some(query) = Query::parse(&buf[..n]) else {
            continue;
        };
        let answer = match query {
            Query::Registry => Answer::Registry(registry_uri.clone()),
            Query::Name(name) => match store.lookup(name.clone()).await {
                Ok(Some(entry)) => Answer::Name(name, entry.uri),
                _ => continue,
            },
        };
        let datagram = answer.to_datagram();
        if datagram.len() > n {
            tracing::debug!(%from, "discovery: answer longer than the query, not sent");
            continue;
        }
        if let Err(e) = socket.send_to(&datagram, from).await {
            tracing::debug!(%from, error = %e, "discovery: answer not sent");
        }
    }
}

/// Sends `query` to `target` (a broadcast address, or one responder) and returns the first
/// answer of the matching kind within `timeout`.
pub async fn ask(query: &Query, target: SocketAddr, timeout: Duration) -> std::io::Result<Answer> {
    // A loopback target (tests, one machine) is asked from loopback; others from any address.
    let local: SocketAddr = match (target.ip().is_loopback(), target.is_ipv4()) {
        (true, true) => (std::net::Ipv4Addr::LOCALHOST, 0).into(),
        (true, false) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
        (false, true) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        (false, false) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    if let std::net::IpAddr::V4(ip) = target.ip() {
        if ip.is_broadcast() || ip.octets()[3] == 255 {
            socket.set_broadcast(true)?;
        }
    }
    socket.send_to(&query.to_datagram(), target).await?;
    let mut buf = vec![0u8; QUERY_LEN];
    let wait = async {
        loop {
            let (n, _) = socket.recv_from(&mut buf).await?;
            match (Answer::parse(&buf[..n]), query) {
                (Some(a @ Answer::Registry(_)), Query::Registry) => return Ok(a),
                (Some(Answer::Name(got, uri)), Query::Name(wanted)) if &got == wanted => {
                    return Ok(Answer::Name(got, uri))
                }
                _ => continue,
            }
        }
    };
    tokio::time::timeout(timeout, wait).await.map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no discovery answer from {target} within {timeout:?}"),
        )
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::{Entry, MemoryStore};

    #[test]
    fn datagrams_round_trip_and_strangers_are_ignored() {
        for q in [Query::Registry, Query::Name("home.thermostat".into())] {
            let d = q.to_datagram();
            assert_eq!(d.len(), QUERY_LEN);
            assert_eq!(Query::parse(&d), Some(q));
        }
        for a in [
            Answer::Registry("rpc://10.0.0.2:18811".into()),
            Answer::Name("svc".into(), "rpc://10.0.0.3:1".into()),
        ] {
            assert_eq!(Answer::parse(&a.to_datagram()), Some(a));
        }
        assert_eq!(Query::parse(b"RPC-DISCOVER/1 NAME has space"), None);
        assert_eq!(Query::parse(b"RPC-DISCOVER/2 REGISTRY"), None);
        assert_eq!(Query::parse(&[0xff, 0xfe]), None);
        assert_eq!(Answer::parse(b"RPC-DISCOVERED/1 REGISTRY "), None);
    }

    #[tokio::test]
    async fn a_responder_answers_by_unicast_on_loopback() {
        let store = MemoryStore::new();
        let ttl = Duration::from_secs(30);
        let entry = Entry::new("home.fan", "rpc://127.0.0.1:18862", ["climate"], ttl).expect("entry");
        store.register(entry, ttl).await.expect("register");
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let at = socket.local_addr().expect("addr");
        let responder = tokio::spawn(respond(socket, "rpc://127.0.0.1:18811".into(), Arc::new(store)));
        let wait = Duration::from_secs(5);
        let registry = ask(&Query::Registry, at, wait).await.expect("answer");
        assert_eq!(registry, Answer::Registry("rpc://127.0.0.1:18811".into()));
        let name = ask(&Query::Name("home.fan".into()), at, wait)
            .await
            .expect("answer");
        assert_eq!(
            name,
            Answer::Name("home.fan".into(), "rpc://127.0.0.1:18862".into())
        );
        let none = ask(&Query::Name("home.door".into()), at, Duration::from_millis(300)).await;
        assert_eq!(
            none.expect_err("unknown name").kind(),
            std::io::ErrorKind::TimedOut
        );
        // A short query gets no answer: no amplification.
        let probe = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        probe.send_to(b"RPC-DISCOVER/1 REGISTRY", at).await.expect("send");
        let mut buf = [0u8; 600];
        let silent = tokio::time::timeout(Duration::from_millis(300), probe.recv_from(&mut buf)).await;
        assert!(silent.is_err(), "no answer to an unpadded query");
        responder.abort();
    }

    #[tokio::test]
    async fn a_broadcast_query_finds_a_responder() {
        // Loopback's broadcast address (127.255.255.255) carries a real broadcast without
        // binding anything but loopback: a responder bound to it receives the query.
        let socket = UdpSocket::bind("127.255.255.255:0")
            .await
            .expect("bind the loopback broadcast address");
        let port = socket.local_addr().expect("addr").port();
        let store: Arc<dyn RegistryStore> = Arc::new(MemoryStore::new());
        let responder = tokio::spawn(respond(socket, "rpc://127.0.0.1:18811".into(), store));
        let target = SocketAddr::from(([127, 255, 255, 255], port));
        let answer = ask(&Query::Registry, target, Duration::from_secs(5))
            .await
            .expect("an answer");
        assert_eq!(answer, Answer::Registry("rpc://127.0.0.1:18811".into()));
        responder.abort();
    }
}
