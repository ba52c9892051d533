//! From [`ServeArgs`] to a configured [`Server`]: the limits, TLS and the shared secret; and
//! the warning for a server open to the network with neither.

use std::net::IpAddr;
use std::path::Path;

use rpc_core::SharedSecret;

use super::ServeArgs;
use crate::tls::ServerTls;
use crate::Server;

/// Applies `args` to `server` (whatever it serves): connection limits and budgets, timeouts,
/// keepalive, the drain, TLS and the shared secret. Fails, naming the flag and the file, when a
/// certificate, key or secret cannot be read or is no good.
pub fn configure(server: Server, args: &ServeArgs) -> Result<Server, String> {
    let mut server = server
        .connection_config(args.connection_config())
        .max_connections(args.max_connections)
        .max_handshaking(args.max_handshaking)
        .idle_timeout(args.idle_timeout.0)
        .drain_timeout(args.drain_timeout.0);
    server = match args.keepalive.0 {
        Some(k) => server.keepalive(k.interval, k.deadline),
        None => server.no_keepalive(),
    };
    if let Some(tls) = tls(args)? {
        server = server.tls(tls);
    }
    if let Some(path) = &args.secret_file {
        server = server.authenticator(read_secret(path)?);
    }
    Ok(server)
}

/// TLS from `--tls-cert`, `--tls-key` and `--client-ca` (clap makes sure the first two come
/// together).
fn tls(args: &ServeArgs) -> Result<Option<ServerTls>, String> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let cert_pem = read("--tls-cert", cert)?;
    let key_pem = read("--tls-key", key)?;
    let tls = ServerTls::from_pem(&cert_pem, &key_pem)
        .map_err(|e| format!("--tls-cert {} / --tls-key {}: {e}", cert.display(), key.display()))?;
    let Some(ca) = &args.client_ca else {
        return Ok(Some(tls));
    };
    let ca_pem = read("--client-ca", ca)?;
    tls.require_client_certs(&ca_pem)
        .map(Some)
        .map_err(|e| format!("--client-ca {}: {e}", ca.display()))
}

/// The shared secret in the file at `path` (`--secret-file`, on a server or a client): its
/// bytes less one trailing newline (`\n` or `\r\n`). Fails, naming the flag and the file, if
/// it cannot be read or the secret is empty.
pub fn read_secret(path: &Path) -> Result<SharedSecret, String> {
    let bytes = read("--secret-file", path)?;
    let secret = trim_newline(&bytes);
    if secret.is_empty() {
        return Err(format!("--secret-file {}: the secret is empty", path.display()));
    }
    Ok(SharedSecret::new(secret))
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

fn read(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
}

/// The warning for a server bound to `ip` that anyone who can reach it may use: one not on a
/// loopback address, with neither TLS nor a shared secret. `None` when there is nothing to say.
/// `program` names the server in the warning (`rpc-server`).
pub fn exposure_warning(program: &str, ip: IpAddr, tls: bool, secret: bool) -> Option<String> {
    if is_loopback(ip) || tls || secret {
        return None;
    }
    Some(loud_warning(&format!(
        "WARNING: {program} listens on {ip}, which is not a loopback address, with\n\
         neither TLS (--tls-cert/--tls-key) nor a shared secret (--secret-file).\n\
         Anyone who can reach this port can call the service, and everything travels\n\
         in clear text. Bind 127.0.0.1, or set --secret-file and --tls-cert/--tls-key."
    )))
}

/// Whether `ip` is a loopback address, an IPv4 one mapped into IPv6 (`::ffff:127.0.0.1`)
/// included: only this machine can reach a server bound to it.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// `text` framed so that it stands out in a log: a rule of `!` above and below, and `!! `
/// before each line.
pub fn loud_warning(text: &str) -> String {
    let rule = "!".repeat(78);
    let mut framed = rule.clone();
    for line in text.lines() {
        framed.push_str("\n!! ");
        framed.push_str(line);
    }
    framed.push('\n');
    framed.push_str(&rule);
    framed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an IP address")
    }

    #[test]
    fn loopback_needs_no_warning() {
        for addr in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(
                exposure_warning("rpc-server", ip(addr), false, false),
                None,
                "{addr}"
            );
        }
    }

    #[test]
    fn an_open_address_without_protection_is_warned_about() {
        for addr in ["0.0.0.0", "::", "192.0.2.7", "2001:db8::1"] {
            let warning = exposure_warning("rpc-server", ip(addr), false, false).expect(addr);
            assert!(warning.contains("WARNING"), "{warning}");
            assert!(warning.contains(addr), "{warning}");
            assert!(warning.lines().count() > 3, "a loud warning: {warning}");
        }
    }

    #[test]
    fn tls_or_a_secret_quiets_the_warning() {
        assert_eq!(exposure_warning("rpc-server", ip("0.0.0.0"), true, false), None);
        assert_eq!(exposure_warning("rpc-server", ip("0.0.0.0"), false, true), None);
    }

    #[test]
    fn a_loud_warning_is_framed() {
        let warning = loud_warning("one\ntwo");
        let lines: Vec<&str> = warning.lines().collect();
        assert_eq!(lines.len(), 4, "{warning}");
        assert_eq!(lines[0], "!".repeat(78));
        assert_eq!(lines[1], "!! one");
        assert_eq!(lines[2], "!! two");
        assert_eq!(lines[3], lines[0]);
    }

    #[test]
    fn a_secret_loses_one_trailing_newline() {
        assert_eq!(trim_newline(b"abc\n"), b"abc");
        assert_eq!(trim_newline(b"abc\r\n"), b"abc");
        assert_eq!(trim_newline(b"abc\n\n"), b"abc\n");
        assert_eq!(trim_newline(b"abc"), b"abc");
        assert_eq!(trim_newline(b"\n"), b"");
    }
}
