//! Tests of transfers with several chunks in flight: bytes stay in place, the server refuses
//! what the protocol does not allow, syncing.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use rpc_core::serde_bytes::ByteBuf;
use rpc_core::{memory_pair, Connection, Error, RemoteError, VoidService};

use super::*;
use crate::modules::tests::TempDir;
use crate::modules::HostContext;
use crate::{Classic, ClassicConfig, ClassicService};

/// Ten chunks, the last one short: more than [`IN_FLIGHT`] at once.
const SIZE: usize = 9 * CHUNK + 12_345;

/// `size` bytes in which every chunk differs from every other, so one out of place shows.
fn pattern(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A classic session over an in-memory connection to a server confined to `root` (keep the
/// second connection: it is the server's end).
async fn session(root: &Path) -> (Classic, Connection) {
    let service = ClassicService::new(&ClassicConfig::default().root(root)).expect("a service");
    let (client, server) = memory_pair(VoidService, service).await.expect("a pair");
    (Classic::new(client).await.expect("a classic session"), server)
}

/// The transfers service alone, confined to `root`, over an in-memory connection.
async fn transfers(root: &Path) -> (TransfersClient, Connection) {
    let host = HostContext::new(&ClassicConfig::default().root(root)).expect("a context");
    let (client, server) = memory_pair(VoidService, Transfers::new(host))
        .await
        .expect("a pair");
    (TransfersClient::new(client.root()), server)
}

fn remote(e: Error) -> RemoteError {
    match e {
        Error::Remote(r) => r,
        other => panic!("expected a remote error, got {other:?}"),
    }
}

/// Progress reports as they came: (done, size).
type Reports = Arc<Mutex<Vec<(u64, u64)>>>;

/// Options that record every progress report.
fn recording() -> (TransferOptions, Reports) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let options = TransferOptions::new().progress(move |_, done, size| seen.lock().push((done, size)));
    (options, reports)
}

/// Progress reports of a `size`-byte file: one per chunk, growing, ending at the size.
fn check_reports(reports: &[(u64, u64)], size: usize) {
    let expected: Vec<(u64, u64)> = (1..=size.div_ceil(CHUNK))
        .map(|k| ((k * CHUNK).min(size) as u64, size as u64))
        .collect();
    assert_eq!(reports, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_in_flight_keep_every_byte_in_place() {
    let root = TempDir::new("xfer-order-root");
    let local = TempDir::new("xfer-order-local");
    let data = pattern(SIZE);
    std::fs::write(local.path().join("source.bin"), &data).expect("the source");
    let (c, _server) = session(root.path()).await;

    let (options, reports) = recording();
    let up = upload_with(&c, local.path().join("source.bin"), "up.bin", &options)
        .await
        .expect("upload");
    assert_eq!((up.files, up.bytes), (1, SIZE as u64));
    assert!(
        std::fs::read(root.path().join("up.bin")).expect("uploaded") == data,
        "upload reordered bytes"
    );
    check_reports(&reports.lock(), SIZE);

    let (options, reports) = recording();
    let down = download_with(&c, "up.bin", local.path().join("down.bin"), &options)
        .await
        .expect("download");
    assert_eq!((down.files, down.bytes), (1, SIZE as u64));
    assert!(
        std::fs::read(local.path().join("down.bin")).expect("downloaded") == data,
        "download reordered bytes"
    );
    check_reports(&reports.lock(), SIZE);

    // Over a longer file already there (overwrite): the result is exactly the new one.
    std::fs::write(local.path().join("down.bin"), pattern(SIZE + 3 * CHUNK)).expect("a longer file");
    download_with(
        &c,
        "up.bin",
        local.path().join("down.bin"),
        &TransferOptions::new().overwrite(true),
    )
    .await
    .expect("download over");
    assert!(std::fs::read(local.path().join("down.bin")).expect("downloaded") == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_landing_out_of_order_make_the_same_file() {
    let root = TempDir::new("xfer-reverse");
    let (transfers, _server) = transfers(root.path()).await;
    let data = pattern(4 * CHUNK + 10);
    let writer = transfers.writer("f.bin".into(), false).await.expect("writer");
    // The last chunk first, all at once.
    let writes = data
        .chunks(CHUNK)
        .enumerate()
        .rev()
        .map(|(k, piece)| writer.write_at((k * CHUNK) as u64, ByteBuf::from(piece.to_vec())));
    for done in futures::future::join_all(writes).await {
        done.expect("a write inside the window");
    }
    let e = remote(
        writer
            .finish(data.len() as u64 + 1, false)
            .await
            .expect_err("one byte short"),
    );
    assert_eq!(e.type_name, "rpc_classic::Incomplete", "{e}");
    writer.finish(data.len() as u64, false).await.expect("finish");
    assert!(std::fs::read(root.path().join("f.bin")).expect("written") == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_writes_and_reads_the_protocol_does_not_allow() {
    let root = TempDir::new("xfer-refuse");
    let (transfers, _server) = transfers(root.path()).await;
    let writer = transfers.writer("f.bin".into(), false).await.expect("writer");
    let window = (WRITE_WINDOW * CHUNK) as u64;
    let byte = || ByteBuf::from(vec![1u8]);
    for (offset, chunk, refusal) in [
        (window, byte(), "rpc_classic::OutOfRange"),
        (
            u64::MAX - 1,
            ByteBuf::from(vec![1u8; 4]),
            "rpc_classic::OutOfRange",
        ),
        (17, byte(), "rpc_classic::OutOfRange"),
        (0, ByteBuf::from(vec![0u8; CHUNK + 1]), "rpc_classic::TooLarge"),
    ] {
        let e = remote(writer.write_at(offset, chunk).await.expect_err("refused"));
        assert_eq!(e.type_name, refusal, "at {offset}: {e}");
    }
    assert_eq!(
        std::fs::metadata(root.path().join("f.bin"))
            .expect("the file")
            .len(),
        0
    );
    // The window's far end is allowed; it moves on as the file fills from the start.
    let last = window - CHUNK as u64;
    writer.write_at(last, byte()).await.expect("inside the window");
    writer
        .write_at(0, ByteBuf::from(vec![2u8; CHUNK]))
        .await
        .expect("the first chunk");
    writer.write_at(window, byte()).await.expect("the window moved");
    let e = remote(writer.finish(window + 1, false).await.expect_err("a hole"));
    assert_eq!(e.type_name, "rpc_classic::Incomplete", "{e}");
    assert_eq!(
        std::fs::metadata(root.path().join("f.bin"))
            .expect("the file")
            .len(),
        window + 1
    );

    let writer = transfers.writer("g.bin".into(), false).await.expect("writer");
    writer.finish(0, true).await.expect("an empty file");
    for e in [
        writer.write_at(0, byte()).await.expect_err("finished"),
        writer.finish(0, false).await.expect_err("finished"),
    ] {
        assert_eq!(remote(e).type_name, "rpc_classic::Finished");
    }

    std::fs::write(root.path().join("r.bin"), b"0123456789").expect("a file to read");
    let reader = transfers.reader("r.bin".into()).await.expect("reader");
    for len in [CHUNK as u64 + 1, u64::MAX] {
        let e = remote(reader.read_at(0, len).await.expect_err("too much at once"));
        assert_eq!(e.type_name, "rpc_classic::TooLarge", "{len}: {e}");
    }
    assert_eq!(
        &*reader.read_at(4, CHUNK as u64).await.expect("the rest"),
        b"456789"
    );
    assert!(reader
        .read_at(u64::MAX - 1, 10)
        .await
        .expect("past the end")
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncing_is_off_by_default_and_either_way_copies_the_files() {
    assert!(format!("{:?}", TransferOptions::new()).contains("sync: false"));
    let root = TempDir::new("xfer-sync-root");
    let local = TempDir::new("xfer-sync-local");
    let data = pattern(SIZE);
    std::fs::create_dir_all(local.path().join("tree")).expect("a tree");
    std::fs::write(local.path().join("tree/data.bin"), &data).expect("a file");
    std::fs::write(local.path().join("tree/empty.bin"), b"").expect("an empty file");
    let (c, _server) = session(root.path()).await;
    for sync in [true, false] {
        let (options, reports) = recording();
        let options = options.sync(sync);
        let up = format!("up-{sync}");
        upload_with(&c, local.path().join("tree"), &up, &options)
            .await
            .expect("upload");
        let down = local.path().join(format!("down-{sync}"));
        download_with(&c, &up, &down, &options).await.expect("download");
        for copy in [root.path().join(&up), down] {
            assert!(
                std::fs::read(copy.join("data.bin")).expect("copied") == data,
                "sync {sync}"
            );
            assert_eq!(
                std::fs::metadata(copy.join("empty.bin")).expect("copied").len(),
                0
            );
        }
        // Each way: the empty file once, the other chunk by chunk.
        let empty = reports.lock().iter().filter(|r| **r == (0, 0)).count();
        assert_eq!(empty, 2, "sync {sync}");
    }
}
