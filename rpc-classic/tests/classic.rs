//! Classic mode end to end over loopback TCP: the issue's walkthrough (eval, execute, teleport,
//! a module, a file object, a script calling a client closure, redirected output, transfers),
//! the limits, the allow-list and the root.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rpc_classic::transfer::{self, TransferOptions};
use rpc_classic::{Classic, ClassicConfig, ClassicService, ScriptLimits};
use rpc_core::{Error, NetRef};
use rpc_server::ShutdownHandle;

/// Safety net only: a bug fails the test after this long instead of hanging it.
const GUARD: Duration = Duration::from_secs(30);

async fn guard<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(GUARD, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what} did not happen within {GUARD:?}"),
    }
}

/// A temp directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rpc-classic-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A classic server on 127.0.0.1; shut down when dropped.
struct Running {
    port: u16,
    stop: ShutdownHandle,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.shutdown();
    }
}

async fn serve(config: ClassicConfig) -> Running {
    let bound = ClassicService::server(&config)
        .expect("a valid config")
        .bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let port = bound.local_addr().expect("address").port();
    let stop = bound.shutdown_handle();
    tokio::spawn(bound.serve());
    Running { port, stop }
}

async fn connect(port: u16) -> Classic {
    guard("connect", rpc_classic::connect("127.0.0.1", port))
        .await
        .expect("a classic session")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough() {
    let root = TempDir::new("walk");
    let server = serve(ClassicConfig::default().root(&root.0)).await;
    let c = connect(server.port).await;

    c.execute("fn square(x) { x * x }").await.expect("execute");
    assert_eq!(c.eval::<i64>("square(7) + 1").await.expect("eval"), 50);

    let cube: NetRef = c.teleport("|x| x * x * x").await.expect("teleport");
    assert_eq!(cube.call_self::<i64>((3,)).await.expect("teleported call"), 27);

    let cwd = c.modules().os().getcwd().await.expect("os.getcwd");
    assert!(
        Path::new(&cwd).ends_with(root.0.file_name().expect("a name")),
        "{cwd}"
    );

    let f = c.builtins().open("notes.txt", "w").await.expect("open");
    assert_eq!(f.write("hello\n").await.expect("write"), 6);
    f.close().await.expect("close");
    assert_eq!(
        std::fs::read_to_string(root.0.join("notes.txt")).expect("the file on disk"),
        "hello\n"
    );
    assert_eq!(
        c.modules()
            .fs()
            .read_text("notes.txt")
            .await
            .expect("fs.read_text"),
        "hello\n"
    );

    // A script calls a client closure.
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let notify = c.callback(move |s: String| sink.lock().push(s));
    c.namespace().set("notify", notify).await.expect("set");
    c.execute(r#"notify("from the server")"#)
        .await
        .expect("a script calling back");
    assert_eq!(*heard.lock(), ["from the server"]);
    // And a module, from a script.
    assert_eq!(
        c.eval::<String>(r#"fs.read_text("notes.txt")"#)
            .await
            .expect("fs in a script"),
        "hello\n"
    );

    // Script output comes to the client while redirected, then goes back.
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let redirect = c
        .redirect_output(move |line| seen.lock().push(line))
        .await
        .expect("redirect");
    c.execute(r#"print("one"); print("two");"#).await.expect("print");
    for _ in 0..500 {
        if lines.lock().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*lines.lock(), ["one", "two"]);
    drop(redirect);
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.execute(r#"print("three")"#).await.expect("print");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        lines.lock().len(),
        2,
        "output went back to the server once the guard was dropped"
    );

    // Namespace listing, and a script error with its position.
    let names = c.namespace().names().await.expect("names");
    assert!(
        names.iter().any(|n| n == "square") && names.iter().any(|n| n == "notify"),
        "{names:?}"
    );
    let e = c
        .eval::<i64>("let a = 1;\nnope + a")
        .await
        .expect_err("no such variable");
    let message = e.to_string();
    assert!(message.contains("line 2"), "{message}");
}

/// A tree with nested folders, an empty file and a 20 MiB file.
fn make_tree(top: &Path) {
    std::fs::create_dir_all(top.join("a/b/c")).expect("dirs");
    std::fs::create_dir_all(top.join("empty_dir")).expect("dirs");
    std::fs::write(top.join("empty.txt"), b"").expect("empty file");
    std::fs::write(top.join("a/small.txt"), b"small").expect("small file");
    let big: Vec<u8> = (0..20 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(top.join("a/b/c/big.bin"), &big).expect("big file");
}

fn same_tree(a: &Path, b: &Path) {
    let mut left: Vec<_> = walk(a);
    let mut right: Vec<_> = walk(b);
    left.sort();
    right.sort();
    assert_eq!(left, right, "the same layout");
    for rel in left {
        let (x, y) = (a.join(&rel), b.join(&rel));
        if x.is_file() {
            assert!(
                std::fs::read(&x).expect("read") == std::fs::read(&y).expect("read"),
                "{rel:?} differs"
            );
        }
    }
}

fn walk(top: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![top.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            out.push(path.strip_prefix(top).expect("below").to_owned());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_then_download_gives_identical_bytes() {
    let root = TempDir::new("xfer-root");
    let local = TempDir::new("xfer-local");
    make_tree(&local.0.join("tree"));
    let server = serve(ClassicConfig::default().root(&root.0)).await;
    let c = connect(server.port).await;

    let reports = Arc::new(Mutex::new(0u64));
    let counted = reports.clone();
    let options = TransferOptions::new().progress(move |_, _, _| *counted.lock() += 1);
    let up = guard(
        "upload",
        transfer::upload_with(&c, local.0.join("tree"), "uploaded", &options),
    )
    .await
    .expect("upload");
    assert_eq!((up.files, up.bytes), (3, (20 << 20) + 5));
    assert!(*reports.lock() >= 20, "a report per chunk");
    same_tree(&local.0.join("tree"), &root.0.join("uploaded"));

    let down = guard(
        "download",
        transfer::download(&c, "uploaded", local.0.join("back")),
    )
    .await
    .expect("download");
    assert_eq!(down.files, 3);
    same_tree(&local.0.join("tree"), &local.0.join("back"));

    // Clear errors: a missing source, an existing destination, a path out of the root.
    let e = transfer::upload(&c, local.0.join("missing"), "x")
        .await
        .expect_err("no source");
    assert!(e.chain().contains("missing"), "{}", e.chain());
    let e = transfer::upload(&c, local.0.join("tree/empty.txt"), "uploaded/empty.txt")
        .await
        .expect_err("exists");
    assert!(e.to_string().contains("exists"), "{e}");
    let e = transfer::download(&c, "../outside", local.0.join("nope"))
        .await
        .expect_err("outside");
    assert!(e.to_string().contains("outside"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_script_is_stopped_while_other_sessions_answer() {
    let mut limits = ScriptLimits::default();
    limits.wall_time = Duration::from_millis(1_500);
    limits.max_call_levels = 32;
    // Only the clock stops it (the operation limit would, a little later).
    limits.max_operations = u64::MAX / 2;
    let server = serve(ClassicConfig::default().limits(limits)).await;
    let busy = connect(server.port).await;
    let other = connect(server.port).await;
    let started = Instant::now();
    let runaway = tokio::spawn(async move { busy.execute("loop {}").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answered = Instant::now();
    assert_eq!(other.eval::<i64>("40 + 2").await.expect("the other session"), 42);
    assert!(
        answered.elapsed() < Duration::from_millis(1_000),
        "{:?}",
        answered.elapsed()
    );
    let e = guard("the limit", runaway)
        .await
        .expect("join")
        .expect_err("stopped");
    assert!(e.to_string().contains("wall-time"), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(1_500));
    // Deep recursion stops at the depth limit, and the session goes on.
    let e = other
        .eval::<i64>("fn down(n) { down(n + 1) } down(0)")
        .await
        .expect_err("too deep");
    assert!(e.to_string().contains("depth"), "{e}");
    assert_eq!(other.eval::<i64>("1 + 1").await.expect("still serving"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_closure_may_call_back_into_the_script_calling_it() {
    let server = serve(ClassicConfig::default()).await;
    let c = connect(server.port).await;
    c.execute("fn square(x) { x * x }").await.expect("execute");
    let cube: NetRef = c.teleport("|x| x * x * x").await.expect("teleport");
    // While the script waits on the closure, the closure's own eval and teleported call run
    // on the same session, nested.
    let again = c.clone();
    let nested = c.callback(move |x: i64| {
        let (c, cube) = (again.clone(), cube.clone());
        async move {
            let square = c.eval::<i64>(&format!("square({x})")).await?;
            let cube = cube.call_self::<i64>((x,)).await?;
            Ok::<i64, Error>(square + cube)
        }
    });
    c.namespace().set("nested", nested).await.expect("set");
    let v = guard("the nested calls", c.eval::<i64>("let a = nested(2); a * 10"))
        .await
        .expect("eval");
    assert_eq!(v, 120);
    // Endless re-entrancy stops at the nesting limit; the session goes on.
    let again = c.clone();
    let deeper = c.callback(move |n: i64| {
        let c = again.clone();
        async move { c.eval::<i64>(&format!("deeper({})", n + 1)).await }
    });
    c.namespace().set("deeper", deeper).await.expect("set");
    let e = guard("the nesting limit", c.eval::<i64>("deeper(0)"))
        .await
        .expect_err("too deep");
    assert!(e.chain().contains("nested deeper than"), "{}", e.chain());
    assert_eq!(c.eval::<i64>("square(3)").await.expect("still serving"), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_modules_and_escapes_from_the_root_get_clear_errors() {
    let root = TempDir::new("deny");
    let server = serve(ClassicConfig::default().root(&root.0).allow(["fs", "time"])).await;
    let c = connect(server.port).await;
    let e = c
        .modules()
        .process()
        .run("true", vec![], None, None, None)
        .await
        .expect_err("denied");
    assert!(
        e.to_string().contains("not allowed") || e.to_string().contains("denied"),
        "{e}"
    );
    let e = c
        .eval::<String>("os.getcwd()")
        .await
        .expect_err("not bound in scripts either");
    assert!(e.to_string().contains("os"), "{e}");
    for path in ["../escape.txt", "/etc/passwd", "a/../../escape.txt"] {
        let e = c.builtins().open(path, "r").await.expect_err("outside the root");
        assert!(
            matches!(&e, Error::Remote(r) if r.type_name == "rpc_classic::OutsideRoot"),
            "{path}: {e}"
        );
    }
    assert!(c.modules().time().now().await.expect("allowed") > 0.0);
    // Transfers are file access: refused too when `fs` is not allowed.
    let server = serve(ClassicConfig::default().root(&root.0).allow(["time"])).await;
    let c = connect(server.port).await;
    let e = transfer::download(&c, "anything", root.0.join("x"))
        .await
        .expect_err("no fs");
    assert!(
        matches!(&e, Error::Remote(r) if r.type_name == "rpc_classic::ModuleDenied"),
        "{e}"
    );
}
