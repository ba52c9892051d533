//! The `fs` module and file objects.

use super::*;

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
