//! Classic mode (RPyC's `rpyc.classic`): a server that runs the client's scripts, with host
//! modules, files, callbacks into the client, redirected output and file transfers.
//!
//! Run: `cargo run --release --example classic`
//!
//! Page: `docs/tutorial/07-classic.md`. Starts a classic server on 127.0.0.1 (a free port),
//! confined to a fresh temp directory, walks through a session, checks every answer, removes
//! its temp directories and exits.

#[path = "common/check.rs"]
mod check;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use check::check;
use parking_lot::Mutex;
use rpc::classic::transfer::{self, TransferOptions};
use rpc::classic::{ClassicConfig, ClassicService};

/// A fresh directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> std::io::Result<TempDir> {
        let name = format!("rpc-example-classic-{tag}-{}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The server (`rpc-classic serve --root DIR` on the command line): a session per connection,
    // file access confined to `root`.
    let root = TempDir::new("root")?;
    let server = ClassicService::server(&ClassicConfig::default().root(&root.0))?;
    let bound = server.bind("127.0.0.1:0").await?;
    let port = bound.local_addr()?.port();
    let stop = bound.shutdown_handle();
    let serving = tokio::spawn(bound.serve());

    // rpyc.classic.connect(host, port)
    let c = rpc::classic::connect("127.0.0.1", port).await?;

    // conn.execute and conn.eval: the session's functions and variables persist.
    c.execute("fn square(x) { x * x } let base = 10;").await?;
    let n: i64 = c.eval("square(7) + base").await?;
    println!("eval: square(7) + base = {n}");
    check(n == 59, "square(7) + base is 59")?;

    // conn.teleport: a closure defined on the server, called from here.
    let cube = c.teleport("|x| x * x * x").await?;
    let cubed: i64 = cube.call_self((3,)).await?;
    println!("teleported cube(3) = {cubed}");
    check(cubed == 27, "the teleported closure cubes 3 into 27")?;

    // conn.modules.os: the session starts in the root.
    let os = c.modules().os();
    let (cwd, platform) = (os.getcwd().await?, os.platform().await?);
    println!("os.getcwd() = {cwd}, os.platform() = {platform}");
    check(
        Path::new(&cwd).ends_with(root.0.file_name().ok_or("no name")?),
        "cwd is the root",
    )?;
    check(
        platform == std::env::consts::OS,
        "the server's platform is this one",
    )?;

    // conn.builtins.open: a file object on the server, by reference.
    let f = c.builtins().open("notes.txt", "w").await?;
    f.write("first line\n").await?;
    f.close().await?;
    let text = c.modules().fs().read_text("notes.txt").await?;
    println!("notes.txt holds {text:?}");
    check(text == "first line\n", "the file holds what was written")?;
    check(root.0.join("notes.txt").is_file(), "the file is inside the root")?;

    // A script calls a client closure set in the session's namespace.
    let heard = Arc::new(Mutex::new(Vec::new()));
    let log = heard.clone();
    let shout = c.callback(move |s: String| {
        log.lock().push(s.clone());
        s.to_uppercase()
    });
    c.namespace().set("shout", shout).await?;
    let loud: String = c.eval(r#"shout("from the server") + "!""#).await?;
    println!("the script called back: {loud}");
    check(
        loud == "FROM THE SERVER!",
        "the closure's answer reaches the script",
    )?;
    check(*heard.lock() == ["from the server"], "the closure ran here, once")?;

    // rpyc.classic.redirected_stdio: the session's `print` comes here until the guard drops.
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let redirect = c.redirect_output(move |line| sink.lock().push(line)).await?;
    c.execute(r#"for i in 1..=2 { print(`line ${i} from ${os.platform()}`); }"#)
        .await?;
    for _ in 0..200 {
        if lines.lock().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(redirect);
    let printed = lines.lock().clone();
    println!("printed on the server, shown here: {printed:?}");
    let expected = [1, 2].map(|i| format!("line {i} from {platform}"));
    check(printed == expected, "both printed lines arrive, in order")?;

    // rpyc.classic.upload and download: a directory tree, with a progress callback.
    let local = TempDir::new("local")?;
    std::fs::create_dir_all(local.0.join("tree/sub"))?;
    std::fs::write(local.0.join("tree/a.txt"), "alpha")?;
    std::fs::write(local.0.join("tree/sub/b.bin"), vec![7u8; 3000])?;
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let progress = TransferOptions::new().progress(move |path, done, size| {
        seen.lock().push(format!("{path} {done}/{size}"));
    });
    let up = transfer::upload_with(&c, local.0.join("tree"), "uploaded", &progress).await?;
    println!("upload: {up:?}, progress {:?}", reports.lock());
    check((up.files, up.bytes) == (2, 3005), "two files, 3005 bytes up")?;
    check(
        reports.lock().len() == 2,
        "a progress report per (one-chunk) file",
    )?;
    let listed = c.modules().os().listdir("uploaded/sub").await?;
    check(listed == ["b.bin"], "the server has uploaded/sub/b.bin")?;

    let down = transfer::download(&c, "uploaded", local.0.join("back")).await?;
    println!("download: {down:?}");
    check(down.files == 2, "two files down")?;
    let same = std::fs::read(local.0.join("back/sub/b.bin"))? == vec![7u8; 3000]
        && std::fs::read_to_string(local.0.join("back/a.txt"))? == "alpha";
    check(same, "the downloaded tree has the same bytes")?;

    // A script error names its line and column.
    let e = c
        .eval::<i64>("let a = 1;\nnope + a")
        .await
        .err()
        .ok_or("no error")?;
    println!("a script error: {e}");
    check(e.to_string().contains("line 2"), "the error gives the line")?;

    c.close().await;
    stop.shutdown();
    serving.await??;
    println!("done");
    Ok(())
}
