//! The `os`, `time` and `sys` modules, and modules as service objects.

use super::*;

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
