//! Tests of the host modules: each over a real connection through its typed client, the
//! allow-list, and the confinement to the root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rpc_core::serde_bytes::ByteBuf;
use rpc_core::{memory_pair, Connection, Error, RemoteError, RemoteErrorKind, RemoteIter, VoidService};

use super::*;
use crate::ClassicConfig;

/// A fresh directory under the system's temporary directory, removed on drop (the transfer
/// tests' too).
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "rpc-classic-{tag}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the temporary directory");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file (and its parents) under the directory.
    fn file(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parents");
        }
        std::fs::write(&p, content).expect("write a file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A session confined to `root`.
fn confined(root: &Path) -> HostContext {
    HostContext::new(&ClassicConfig::default().root(root)).expect("a context")
}

/// The remote error inside a call's error.
fn remote(e: Error) -> RemoteError {
    match e {
        Error::Remote(r) => r,
        other => panic!("expected a remote error, got {other:?}"),
    }
}

fn assert_outside(r: Result<PathBuf, RemoteError>, what: &str) {
    match r {
        Err(e) => {
            assert_eq!(e.type_name, OUTSIDE_ROOT, "{what}: {e}");
            assert_eq!(e.kind, RemoteErrorKind::Refused, "{what}");
        }
        Ok(p) => panic!("{what}: resolved to {} instead of being refused", p.display()),
    }
}

#[cfg(unix)]
fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, link).expect("make a symlink");
}

// ----- confinement -----

#[test]
#[cfg(unix)]
fn root_escapes_are_refused() {
    let tmp = TempDir::new("escape");
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(root.join("a/b")).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(outside.join("secret"), "s").expect("write");
    symlink(outside.join("secret"), root.join("to_secret"));
    symlink(&outside, root.join("out_dir"));
    symlink(outside.join("not_yet"), root.join("dangling_out"));
    symlink("../../outside", root.join("a/relative_out"));
    let ctx = confined(&root);

    assert_outside(ctx.resolve("../x"), "../x");
    assert_outside(ctx.resolve(".."), "..");
    assert_outside(ctx.resolve("a/../../x"), "a/../../x");
    assert_outside(ctx.resolve("a/b/../../../outside/secret"), "a deep ..");
    assert_outside(ctx.resolve("/etc/passwd"), "/etc/passwd");
    assert_outside(
        ctx.resolve(&outside.join("secret").to_string_lossy()),
        "an absolute path outside",
    );
    assert_outside(ctx.resolve("to_secret"), "a symlink to a file outside");
    assert_outside(ctx.resolve("out_dir"), "a symlinked directory outside");
    assert_outside(
        ctx.resolve("out_dir/secret"),
        "a file under a symlinked directory outside",
    );
    assert_outside(
        ctx.resolve("out_dir/new_file"),
        "a new file under a symlinked directory outside",
    );
    assert_outside(ctx.resolve("dangling_out"), "a dangling symlink pointing outside");
    assert_outside(
        ctx.resolve("a/relative_out/secret"),
        "a relative symlink leading outside",
    );
    assert_outside(ctx.resolve_link("out_dir/secret"), "a link's parent outside");

    // The link itself, inside the root, may be removed or renamed.
    assert_eq!(
        ctx.resolve_link("to_secret").expect("the link itself"),
        ctx.root().expect("root").join("to_secret")
    );
    // Nothing outside was touched by the attempts.
    assert!(!outside.join("not_yet").exists());
}

#[test]
#[cfg(unix)]
fn legitimate_paths_resolve_inside_the_root() {
    let tmp = TempDir::new("inside");
    tmp.file("a/b/c.txt", "c");
    symlink("b", tmp.path().join("a/b_link"));
    let ctx = confined(tmp.path());
    let root = ctx.root().expect("root").to_path_buf();
    assert_eq!(root, std::fs::canonicalize(tmp.path()).expect("canonical"));

    assert_eq!(ctx.resolve("a/b/c.txt").expect("nested"), root.join("a/b/c.txt"));
    assert_eq!(
        ctx.resolve("./a/./b/../b/c.txt").expect("dots"),
        root.join("a/b/c.txt")
    );
    assert_eq!(ctx.resolve("a/..").expect("back to the root"), root);
    assert_eq!(ctx.resolve("").expect("empty"), root);
    assert_eq!(ctx.resolve(".").expect("dot"), root);
    assert_eq!(
        ctx.resolve("a/new/deeper.txt").expect("not there yet"),
        root.join("a/new/deeper.txt")
    );
    assert_eq!(
        ctx.resolve("a/b_link/c.txt").expect("a symlink inside"),
        root.join("a/b/c.txt")
    );
    let absolute = root.join("a/b/c.txt");
    assert_eq!(
        ctx.resolve(&absolute.to_string_lossy()).expect("absolute inside"),
        absolute
    );

    // Relative paths follow the session's working directory; `..` may climb back to the root
    // but not above it.
    ctx.chdir("a/b").expect("chdir");
    assert_eq!(ctx.cwd(), root.join("a/b"));
    assert_eq!(
        ctx.resolve("c.txt").expect("relative to cwd"),
        root.join("a/b/c.txt")
    );
    assert_eq!(ctx.resolve("../..").expect("the root"), root);
    assert_outside(ctx.resolve("../../.."), "above the root from a subdirectory");
    assert!(ctx.chdir("../../..").is_err());
    assert_eq!(ctx.cwd(), root.join("a/b"), "a refused chdir does not move");

    // A new session starts at the root again.
    assert_eq!(ctx.session().cwd(), root);
}

#[test]
fn without_a_root_paths_are_taken_as_given() {
    let ctx = HostContext::new(&ClassicConfig::default()).expect("a context");
    assert_eq!(ctx.root(), None);
    assert_eq!(
        ctx.resolve("/etc/passwd").expect("absolute"),
        PathBuf::from("/etc/passwd")
    );
    let cwd = std::env::current_dir().expect("cwd");
    assert_eq!(ctx.resolve("../x").expect("relative"), cwd.join("../x"));
    let tmp = TempDir::new("noroot");
    std::fs::create_dir_all(tmp.path().join("a/b")).expect("mkdir");
    let a = tmp.path().join("a/b/..");
    ctx.chdir(&a.to_string_lossy()).expect("chdir");
    assert_eq!(
        ctx.cwd(),
        std::fs::canonicalize(tmp.path().join("a")).expect("canonical")
    );
    assert_eq!(ctx.resolve("b").expect("relative"), ctx.cwd().join("b"));
    assert_eq!(
        std::env::current_dir().expect("cwd"),
        cwd,
        "the process's cwd stays"
    );
}

#[test]
fn the_root_must_be_an_existing_directory() {
    let tmp = TempDir::new("badroot");
    let file = tmp.file("plain", "x");
    let e = HostContext::new(&ClassicConfig::default().root(&file)).expect_err("a file");
    assert!(e.to_string().contains("not a directory"), "{e}");
    let e =
        HostContext::new(&ClassicConfig::default().root(tmp.path().join("missing"))).expect_err("missing");
    assert!(e.to_string().contains("missing"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(unix)]
async fn escapes_are_refused_over_the_wire() {
    let tmp = TempDir::new("wire-escape");
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(outside.join("secret"), "s").expect("write");
    symlink(outside.join("secret"), root.join("to_secret"));
    symlink(&outside, root.join("out_dir"));
    let ctx = confined(&root);
    let (client, _server) = memory_pair(VoidService, Fs::new(ctx.clone()))
        .await
        .expect("pair");
    let fs = FsClient::new(client.root());

    for path in ["../outside/secret", "/etc/passwd", "to_secret", "out_dir/secret"] {
        let e = remote(fs.read(path).await.expect_err(path));
        assert_eq!(e.type_name, OUTSIDE_ROOT, "{path}: {e}");
    }
    for path in ["../x", "out_dir/planted", "to_secret"] {
        let e = remote(fs.write(path, b"pwned").await.expect_err(path));
        assert_eq!(e.type_name, OUTSIDE_ROOT, "{path}: {e}");
        let e = remote(fs.open(path, "w").await.expect_err(path));
        assert_eq!(e.type_name, OUTSIDE_ROOT, "{path}: {e}");
    }
    let e = remote(fs.mkdir("out_dir/sub", true).await.expect_err("mkdir"));
    assert_eq!(e.type_name, OUTSIDE_ROOT);
    let e = remote(fs.walk("out_dir").await.expect_err("walk"));
    assert_eq!(e.type_name, OUTSIDE_ROOT);
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).expect("secret"),
        "s"
    );
    assert!(!outside.join("planted").exists());
    assert!(!outside.join("sub").exists());
    // Removing the link removes the link, not its target.
    fs.remove("to_secret").await.expect("remove the link");
    assert!(outside.join("secret").exists());
    // The root itself cannot be removed.
    let e = remote(fs.remove_all(".").await.expect_err("remove the root"));
    assert_eq!(e.type_name, OUTSIDE_ROOT);
    assert!(root.exists());
}

// ----- the allow-list -----

#[test]
fn the_allow_list_limits_the_modules() {
    let all = HostContext::new(&ClassicConfig::default()).expect("a context");
    assert_eq!(all.names(), ["fs", "os", "process", "sys", "time"]);
    for name in MODULES {
        all.module(name).expect("allowed");
    }

    let ctx = HostContext::new(&ClassicConfig::default().allow(["time", "os"])).expect("a context");
    assert_eq!(ctx.names(), ["os", "time"]);
    assert!(ctx.module("time").is_ok());
    let e = ctx.module("process").expect_err("denied");
    assert_eq!(
        (e.kind, e.type_name.as_str()),
        (RemoteErrorKind::Refused, MODULE_DENIED)
    );
    assert!(
        e.message.contains("'process'") && e.message.contains("os, time"),
        "{e}"
    );
    let e = ctx.module("net").expect_err("unknown");
    assert_eq!(
        (e.kind, e.type_name.as_str()),
        (RemoteErrorKind::NotFound, NO_SUCH_MODULE)
    );
    assert!(e.message.contains("'net'"), "{e}");
    // `open` is file access: it goes with `fs`.
    let e = ctx.open("x", "r").expect_err("open without fs");
    assert_eq!(e.type_name, MODULE_DENIED);
    assert!(e.message.contains("'fs'"), "{e}");

    let none = HostContext::new(&ClassicConfig::default().allow(Vec::<String>::new())).expect("a context");
    assert!(none.names().is_empty());
    assert!(none
        .module("sys")
        .expect_err("denied")
        .message
        .contains("allowed: none"));

    let e = HostContext::new(&ClassicConfig::default().allow(["fs", "net"])).expect_err("unknown name");
    assert!(e.to_string().contains("'net'"), "{e}");
}

// ----- fs -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_reads_writes_and_manages_files() {
    let tmp = TempDir::new("fs");
    let ctx = confined(tmp.path());
    let (client, _server) = memory_pair(VoidService, Fs::new(ctx.clone()))
        .await
        .expect("pair");
    let fs = FsClient::new(client.root());

    fs.write("notes.txt", b"hello").await.expect("write");
    fs.append("notes.txt", b" world").await.expect("append");
    assert_eq!(fs.read("notes.txt").await.expect("read"), b"hello world");
    assert_eq!(fs.read_text("notes.txt").await.expect("read_text"), "hello world");
    fs.write_text("t.txt", "text").await.expect("write_text");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("t.txt")).expect("read"),
        "text"
    );
    assert!(fs.exists("notes.txt").await.expect("exists"));
    assert!(!fs.exists("nope").await.expect("exists"));

    let e = remote(fs.read("nope").await.expect_err("missing"));
    assert_eq!(e.type_name, "std::io::Error");
    assert!(e.message.contains("'nope'"), "{e}");

    let st = fs.stat("notes.txt").await.expect("stat");
    assert_eq!(st.size, 11);
    assert!(st.is_file && !st.is_dir && !st.is_symlink && !st.readonly);
    assert!(st.modified.is_some_and(|m| m > 1.0e9));

    fs.mkdir("d/e/f", true).await.expect("mkdir -p");
    fs.mkdir("d/e/f", true).await.expect("mkdir -p again");
    assert!(fs.mkdir("g/h", false).await.is_err(), "no parents without -p");
    fs.mkdir("g", false).await.expect("mkdir");
    assert!(fs.stat("d/e").await.expect("stat").is_dir);

    fs.rename("notes.txt", "d/moved.txt").await.expect("rename");
    assert!(!fs.exists("notes.txt").await.expect("exists"));
    assert_eq!(fs.copy("d/moved.txt", "copy.txt").await.expect("copy"), 11);

    let mut walk: RemoteIter<String> = fs.walk(".").await.expect("walk");
    let mut seen = Vec::new();
    while let Some(p) = walk.next().await {
        seen.push(p.expect("an item"));
    }
    assert_eq!(
        seen,
        ["copy.txt", "d", "d/e", "d/e/f", "d/moved.txt", "g", "t.txt"]
    );

    assert!(fs.remove_dir("d").await.is_err(), "not empty");
    fs.remove_dir("g").await.expect("remove_dir");
    fs.remove("copy.txt").await.expect("remove");
    fs.remove_all("d").await.expect("remove_all");
    assert!(!tmp.path().join("d").exists());

    // Over the bound: refused without reading (a sparse file).
    let big = std::fs::File::create(tmp.path().join("big")).expect("create");
    big.set_len(MAX_READ + 1).expect("set_len");
    let e = remote(fs.read("big").await.expect_err("too large"));
    assert_eq!(e.type_name, "rpc_classic::TooLarge");
    assert!(e.message.contains("open()"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(unix)]
async fn fs_stat_tells_symlinks() {
    let tmp = TempDir::new("stat");
    tmp.file("target.txt", "abc");
    symlink("target.txt", tmp.path().join("link"));
    let (client, _server) = memory_pair(VoidService, Fs::new(confined(tmp.path())))
        .await
        .expect("pair");
    let fs = FsClient::new(client.root());
    let st = fs.stat("link").await.expect("stat");
    assert!(st.is_symlink && st.is_file);
    assert_eq!(st.size, 3);
    let lst = fs.lstat("link").await.expect("lstat");
    assert!(lst.is_symlink && !lst.is_file);
    assert_eq!(
        st.mode & 0o777,
        std::fs::metadata(tmp.path().join("target.txt"))
            .map(|m| { std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777 })
            .expect("mode")
    );
}

// ----- os -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn os_has_a_session_cwd_and_environment() {
    let tmp = TempDir::new("os");
    tmp.file("sub/inner.txt", "i");
    tmp.file("b.txt", "b");
    let ctx = confined(tmp.path());
    let root = ctx.root().expect("root").to_path_buf();
    let process_cwd = std::env::current_dir().expect("cwd");
    let (client, _server) = memory_pair(VoidService, Os::new(ctx.clone()))
        .await
        .expect("pair");
    let os = OsClient::new(client.root());

    assert_eq!(os.getcwd().await.expect("getcwd"), root.to_string_lossy());
    assert_eq!(os.listdir(".").await.expect("listdir"), ["b.txt", "sub"]);
    os.chdir("sub").await.expect("chdir");
    assert_eq!(
        os.getcwd().await.expect("getcwd"),
        root.join("sub").to_string_lossy()
    );
    assert_eq!(os.listdir(".").await.expect("listdir"), ["inner.txt"]);
    // The other modules of the session follow the working directory.
    assert_eq!(
        Fs::new(ctx.clone())
            .exposed_read("inner.txt")
            .expect("relative read"),
        b"i"
    );
    let e = remote(os.chdir("../..").await.expect_err("above the root"));
    assert_eq!(e.type_name, OUTSIDE_ROOT);
    assert!(os.chdir("inner.txt").await.is_err(), "not a directory");
    os.chdir(&root.to_string_lossy()).await.expect("absolute inside");
    assert_eq!(
        std::env::current_dir().expect("cwd"),
        process_cwd,
        "the server's cwd stays"
    );

    let name = "RPC_CLASSIC_TEST_VARIABLE";
    assert_eq!(os.getenv(name).await.expect("getenv"), None);
    os.setenv(name, "42").await.expect("setenv");
    assert_eq!(os.getenv(name).await.expect("getenv"), Some("42".to_owned()));
    assert_eq!(
        os.environ().await.expect("environ").get(name).map(String::as_str),
        Some("42")
    );
    assert!(
        std::env::var(name).is_err(),
        "the server's environment does not change"
    );
    assert_eq!(
        ctx.session().getenv(name),
        None,
        "another session does not see it"
    );
    os.unsetenv(name).await.expect("unsetenv");
    assert_eq!(os.getenv(name).await.expect("getenv"), None);
    assert!(os.setenv("A=B", "x").await.is_err());

    assert_eq!(os.getpid().await.expect("getpid"), std::process::id());
    assert!(os
        .hostname()
        .await
        .expect("hostname")
        .is_some_and(|h| !h.is_empty()));
    assert_eq!(os.platform().await.expect("platform"), std::env::consts::OS);
    assert_eq!(os.arch().await.expect("arch"), std::env::consts::ARCH);
    let _ = os.username().await.expect("username");
}

// ----- files -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_reads_writes_seeks_and_closes_with_its_last_reference() {
    let tmp = TempDir::new("file");
    let ctx = confined(tmp.path());
    let (client, server) = memory_pair(VoidService, Fs::new(ctx.clone()))
        .await
        .expect("pair");
    let fs = FsClient::new(client.root());

    let f: FileClient = fs.open("notes.txt", "w+").await.expect("open");
    assert_eq!(ctx.open_files(), 1);
    assert_eq!(
        f.netref().display().await.expect("display"),
        "<file notes.txt mode w+>"
    );
    assert_eq!(f.write("line one\n").await.expect("write"), 9);
    assert_eq!(f.write_bytes(b"line two\nthree").await.expect("write_bytes"), 14);
    assert_eq!(f.tell().await.expect("tell"), 23);
    assert_eq!(f.seek(0, 0).await.expect("seek"), 0);
    assert_eq!(
        f.read_line().await.expect("read_line"),
        Some("line one\n".to_owned())
    );
    assert_eq!(f.read(Some(4)).await.expect("read"), b"line");
    assert_eq!(f.tell().await.expect("tell"), 13);
    // A write after buffered reads lands at the logical position.
    f.write("-2").await.expect("write");
    assert_eq!(f.seek(-5, 2).await.expect("seek from the end"), 18);
    assert_eq!(f.read(None).await.expect("read to the end"), b"three");
    assert_eq!(f.read(None).await.expect("at the end"), b"");
    assert_eq!(f.read_line().await.expect("at the end"), None);
    f.seek(0, 0).await.expect("seek");
    let mut lines: RemoteIter<String> = f.lines().await.expect("lines");
    let mut got = Vec::new();
    while let Some(line) = lines.next().await {
        got.push(line.expect("a line"));
    }
    assert_eq!(got, ["line one\n", "line-2wo\n", "three"]);
    drop(lines);
    f.flush().await.expect("flush");
    assert!(remote(f.seek(1, 7).await.expect_err("bad whence"))
        .message
        .contains("whence"));
    assert_eq!(f.name().await.expect("name"), "notes.txt");
    assert!(!f.closed().await.expect("closed"));

    // Explicit close.
    f.close().await.expect("close");
    assert!(f.closed().await.expect("closed"));
    assert_eq!(ctx.open_files(), 0);
    let e = remote(f.read(None).await.expect_err("closed"));
    assert_eq!(e.type_name, "rpc_classic::FileClosed");
    f.close().await.expect("closing again does nothing");
    drop(f);

    // Dropping the last reference closes it.
    let g = fs.open("notes.txt", "rb").await.expect("open");
    let again = g.clone();
    assert_eq!(g.read(Some(4)).await.expect("read"), b"line");
    let e = remote(g.write("x").await.expect_err("read-only"));
    assert_eq!(e.type_name, "rpc_classic::UnsupportedOperation");
    assert_eq!(ctx.open_files(), 1);
    drop(g);
    assert_eq!(again.tell().await.expect("a clone keeps it open"), 4);
    drop(again);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.stats().exported_objects > 0 || ctx.open_files() > 0 {
        assert!(Instant::now() < deadline, "the file was never released");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Modes.
    let a = fs.open("notes.txt", "a").await.expect("append");
    a.write("!").await.expect("append");
    a.close().await.expect("close");
    assert!(std::fs::read_to_string(tmp.path().join("notes.txt"))
        .expect("read")
        .ends_with("three!"));
    assert!(
        fs.open("notes.txt", "x").await.is_err(),
        "exclusive on an existing file"
    );
    assert!(fs.open("missing", "r").await.is_err());
    let e = remote(fs.open("notes.txt", "rw").await.expect_err("bad mode"));
    assert_eq!(e.kind, RemoteErrorKind::BadArguments);
    fs.mkdir("dir", false).await.expect("mkdir");
    assert!(fs.open("dir", "r").await.is_err(), "not a regular file");
}

#[test]
fn modes_parse_like_python() {
    let m = OpenMode::parse("r").expect("r");
    assert!(m.read && !m.write && !m.create);
    let m = OpenMode::parse("wb").expect("wb");
    assert!(!m.read && m.write && m.truncate && m.create);
    let m = OpenMode::parse("a+").expect("a+");
    assert!(m.read && m.write && m.append);
    for ok in ["r+", "rb+", "r+b", "w+", "a", "ab", "x", "xt"] {
        assert!(OpenMode::parse(ok).is_ok(), "{ok}");
    }
    for bad in ["", "b", "rw", "r++", "rbt", "q", "r+w"] {
        assert!(OpenMode::parse(bad).is_err(), "{bad}");
    }
}

// ----- process -----

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(unix)]
async fn process_run_captures_output_and_times_out() {
    let tmp = TempDir::new("run");
    tmp.file("sub/here.txt", "x");
    let ctx = confined(tmp.path());
    ctx.setenv("RPC_CLASSIC_OVERLAY", Some("from the session"));
    let (client, _server) = memory_pair(VoidService, Process::new(ctx.clone()))
        .await
        .expect("pair");
    let process = ProcessClient::new(client.root());

    let out = process
        .run(
            "sh",
            strings(&["-c", "echo out; echo err >&2; exit 3"]),
            None,
            None,
            None,
        )
        .await
        .expect("run");
    assert_eq!(out.code, Some(3));
    assert_eq!(out.stdout.as_slice(), b"out\n");
    assert_eq!(out.stderr.as_slice(), b"err\n");
    assert!(!out.timed_out && !out.stdout_truncated);

    let env = BTreeMap::from([("RPC_CLASSIC_CALL".to_owned(), "from the call".to_owned())]);
    let out = process
        .run(
            "sh",
            strings(&["-c", "ls; echo $RPC_CLASSIC_OVERLAY; echo $RPC_CLASSIC_CALL"]),
            Some("sub".to_owned()),
            Some(env),
            Some(10_000),
        )
        .await
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "here.txt\nfrom the session\nfrom the call\n"
    );

    let started = Instant::now();
    let out = process
        .run("sleep", strings(&["5"]), None, None, Some(200))
        .await
        .expect("run");
    assert!(out.timed_out);
    assert_eq!(out.code, None);
    assert_eq!(out.signal, Some(9));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A grandchild holding the pipes does not hold the call.
    let started = Instant::now();
    let out = process
        .run(
            "sh",
            strings(&["-c", "sleep 5 & echo started"]),
            None,
            None,
            Some(5_000),
        )
        .await
        .expect("run");
    assert_eq!(out.stdout.as_slice(), b"started\n");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let e = remote(
        process
            .run("ls", vec![], Some("..".to_owned()), None, None)
            .await
            .expect_err("cwd outside"),
    );
    assert_eq!(e.type_name, OUTSIDE_ROOT);
    let e = remote(
        process
            .run("/nonexistent/program", vec![], None, None, None)
            .await
            .expect_err("no program"),
    );
    assert!(e.message.contains("/nonexistent/program"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(unix)]
async fn process_output_over_the_bound_is_cut() {
    let (client, _server) = memory_pair(
        VoidService,
        Process::new(HostContext::new(&ClassicConfig::default()).expect("ctx")),
    )
    .await
    .expect("pair");
    let process = ProcessClient::new(client.root());
    let bytes = MAX_CAPTURE + 1000;
    let out = process
        .run(
            "head",
            strings(&["-c", &bytes.to_string(), "/dev/zero"]),
            None,
            None,
            Some(30_000),
        )
        .await
        .expect("run");
    assert_eq!(out.code, Some(0));
    assert_eq!(out.stdout.len(), MAX_CAPTURE);
    assert!(out.stdout_truncated && !out.stderr_truncated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(unix)]
async fn a_spawned_process_talks_through_its_pipes() {
    let tmp = TempDir::new("spawn");
    let ctx = confined(tmp.path());
    let (client, server) = memory_pair(VoidService, Process::new(ctx)).await.expect("pair");
    let process = ProcessClient::new(client.root());

    let cat: ProcessHandleClient = process.spawn("cat", vec![], None, None).await.expect("spawn");
    assert!(cat.pid().await.expect("pid").is_some());
    assert_eq!(cat.try_wait().await.expect("try_wait"), None);
    cat.write_stdin(b"hello ").await.expect("write");
    cat.write_stdin(b"cat").await.expect("write");
    cat.close_stdin().await.expect("close stdin");
    let mut echoed = Vec::new();
    loop {
        let chunk = cat.read_stdout(4).await.expect("read_stdout");
        if chunk.is_empty() {
            break;
        }
        assert!(chunk.len() <= 4);
        echoed.extend(chunk);
    }
    assert_eq!(echoed, b"hello cat");
    let exit = cat.wait().await.expect("wait");
    assert_eq!((exit.code, exit.success), (Some(0), true));
    let e = remote(cat.write_stdin(b"more").await.expect_err("stdin closed"));
    assert_eq!(e.type_name, "rpc_classic::PipeClosed");

    // Output as a remote iterator of chunks.
    let sh = process
        .spawn("sh", strings(&["-c", "printf abc; printf def >&2"]), None, None)
        .await
        .expect("spawn");
    let mut out: RemoteIter<ByteBuf> = sh.stdout().await.expect("stdout");
    let mut all = Vec::new();
    while let Some(chunk) = out.next().await {
        all.extend(chunk.expect("a chunk").into_vec());
    }
    assert_eq!(all, b"abc");
    assert!(sh.read_stdout(10).await.is_err(), "the iterator took the pipe");
    assert_eq!(sh.read_stderr(10).await.expect("stderr"), b"def");
    assert!(sh.wait().await.expect("wait").success);

    // Kill.
    let sleeper = process
        .spawn("sleep", strings(&["30"]), None, None)
        .await
        .expect("spawn");
    sleeper.kill().await.expect("kill");
    let exit = sleeper.wait().await.expect("wait");
    assert_eq!((exit.code, exit.signal), (None, Some(9)));

    // Dropping the last reference kills the child.
    drop((cat, sh, out, sleeper));
    let sleeper = process
        .spawn("sleep", strings(&["30"]), None, None)
        .await
        .expect("spawn");
    let pid = sleeper.pid().await.expect("pid").expect("a pid");
    drop(sleeper);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.stats().exported_objects > 0 || Path::new(&format!("/proc/{pid}")).exists() {
        if !cfg!(target_os = "linux") && server.stats().exported_objects == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the child {pid} outlived its handle");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ----- time and sys -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_tells_the_clock_and_sleeps() {
    let (client, _server) = memory_pair(VoidService, Time::new()).await.expect("pair");
    let time = TimeClient::new(client.root());
    let local = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch");
    let now = time.now().await.expect("now");
    assert!((now - local.as_secs_f64()).abs() < 5.0);
    let ms = time.now_ms().await.expect("now_ms");
    assert!(ms.abs_diff(u64::try_from(local.as_millis()).expect("ms")) < 5_000);
    let started = Instant::now();
    time.sleep(50).await.expect("sleep");
    assert!(started.elapsed() >= Duration::from_millis(50));
    let e = remote(time.sleep(MAX_SLEEP_MS + 1).await.expect_err("too long"));
    assert_eq!(e.kind, RemoteErrorKind::BadArguments);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_tells_the_version_and_exit_ends_the_session() {
    let (client, server): (Connection, Connection) =
        memory_pair(VoidService, Sys::new()).await.expect("pair");
    let sys = SysClient::new(client.root());
    assert!(sys.version().await.expect("version").starts_with("rpc-classic "));
    assert!(!sys.argv().await.expect("argv").is_empty());
    match sys.exit(Some(3)).await {
        Ok(()) => {}
        Err(e) => assert!(e.is_connection_closed(), "{e:?}"),
    }
    tokio::time::timeout(Duration::from_secs(5), client.closed())
        .await
        .expect("the session ends");
    tokio::time::timeout(Duration::from_secs(5), server.closed())
        .await
        .expect("the server's side too");
    let reason = client.close_reason().map(|r| r.to_string()).unwrap_or_default();
    assert!(reason.contains("sys.exit(3)"), "{reason}");
}

// ----- modules as objects -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_are_service_objects() {
    let tmp = TempDir::new("objects");
    let ctx = confined(tmp.path());
    let fs = ctx.module("fs").expect("fs");
    assert_eq!(fs.service().name(), "FS");
    assert!(fs.downcast::<Fs>().is_some());
    assert_eq!(ctx.module("os").expect("os").service().name(), "OS");
    assert_eq!(
        ctx.module("process").expect("process").service().name(),
        "PROCESS"
    );
    assert_eq!(ctx.module("time").expect("time").service().name(), "TIME");
    assert_eq!(ctx.module("sys").expect("sys").service().name(), "SYS");
    tmp.file("a.txt", "a");
    let file = ctx.open("a.txt", "r").expect("open");
    assert_eq!(file.service().display(), "<file a.txt mode r>");
    drop(file);
    assert_eq!(ctx.open_files(), 0);
    let file = ctx.open_async("a.txt", "r").await.expect("open_async");
    assert_eq!(file.exposed_read(None).expect("read"), b"a");
}
