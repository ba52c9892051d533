//! What the tests that drive a binary of this crate as a child process share (`bin.rs` for
//! `rpc-server`, `cli_rpc.rs` for `rpc`): bounded waits, the child's command, temporary
//! files, and a test PKI.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use tokio::process::Command;

/// Safety net only: a bug fails the test after this long instead of hanging it.
pub const GUARD: Duration = Duration::from_secs(20);

/// `fut`'s output, or a panic naming `what` after [`GUARD`].
pub async fn guard<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(GUARD, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what} did not happen within {GUARD:?}"),
    }
}

/// The binary at `path` (an `env!("CARGO_BIN_EXE_…")`), with no input, its output piped, no
/// `RUST_LOG`, killed if the test drops it.
pub fn command(path: &str) -> Command {
    let mut command = Command::new(path);
    command
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Sends SIGTERM to the process `pid` (with kill(1), to need no signal crate).
pub fn terminate(pid: Option<u32>) {
    let pid = pid.expect("the child still runs");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {pid}: {status}");
}

/// A fresh directory under the system's temporary one, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("rpc-server-bin-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("make a temporary directory");
        TempDir(path)
    }

    /// Writes the file `name` in the directory; its path.
    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write a temporary file");
        path_str(&path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn path_str(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temporary path").to_owned()
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate named `alice`, as PEM.
pub struct Pki {
    pub ca: String,
    pub server: (String, String),
    pub client: (String, String),
}

pub fn pki() -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "test CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA");
    let leaf = |cn: &str, names: Vec<String>, usage| {
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &ca).expect("leaf");
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        server: leaf(
            "server",
            vec!["127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        client: leaf(
            "alice",
            vec!["alice.example".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
        ca: ca.pem(),
    }
}
