//! The `process` module: runs with timeouts and bounded output, spawned processes.

use super::*;

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
