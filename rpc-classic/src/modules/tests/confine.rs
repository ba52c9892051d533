//! Confinement to the root (`..`, absolute paths, symlinks) and the allow-list.

use super::*;

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
