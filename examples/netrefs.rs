//! Netrefs: a remote file-like object that stays on the server.
//!
//! Run: `cargo run --example netrefs`
//!
//! The server's `open` returns a `RemoteFile` by reference; the client writes and reads through
//! the reference (dynamically by name, and through the generated typed client), and dropping
//! the last reference frees the file on the server. Exits by itself.

use parking_lot::Mutex;
use rpc::server::Server;
use rpc::{service, Connection, NetRef};

/// A file that lives on the server.
struct RemoteFile {
    name: String,
    data: Mutex<Vec<u8>>,
}

#[service]
impl RemoteFile {
    /// Appends bytes.
    fn exposed_write(&self, bytes: Vec<u8>) {
        self.data.lock().extend_from_slice(&bytes);
    }

    /// The whole content.
    fn exposed_read(&self) -> Vec<u8> {
        self.data.lock().clone()
    }

    /// The file's name.
    #[attribute]
    fn exposed_name(&self) -> String {
        self.name.clone()
    }
}

/// Opens files.
struct FileStore;

#[service]
impl FileStore {
    /// A new, empty file, returned by reference.
    fn exposed_open(&self, name: String) -> RemoteFile {
        RemoteFile {
            name,
            data: Mutex::new(Vec::new()),
        }
    }

    /// How many objects the server holds for this client right now.
    fn exposed_held(&self, conn: &Connection) -> usize {
        conn.stats().exported_objects
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::new(|| FileStore).bind("127.0.0.1:0").await?;
    let port = server.local_addr()?.port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());

    let conn = rpc::connect("127.0.0.1", port).await?;
    let root = conn.root();

    // Dynamic: call by name.
    let f: NetRef = root.call("open", ("a.txt",)).await?;
    f.call::<()>("write", (b"hello ".to_vec(),)).await?;
    f.call::<()>("write", (b"world".to_vec(),)).await?;
    let text: Vec<u8> = f.call("read", ()).await?;
    let name: String = f.getattr("name").await?;
    println!(
        "{name} holds {:?} ({})",
        String::from_utf8_lossy(&text),
        f.display().await?
    );

    // Typed: the same service definition generates FileStoreClient and RemoteFileClient.
    let store = FileStoreClient::new(root.clone());
    let g: RemoteFileClient = store.open("b.txt".into()).await?;
    g.write(b"typed".to_vec()).await?;
    println!(
        "{} holds {:?}",
        g.name().await?,
        String::from_utf8_lossy(&g.read().await?)
    );
    println!("the server holds {} objects for us", store.held().await?);

    // Dropping the last reference frees the file on the server.
    drop((f, g));
    for _ in 0..100 {
        if store.held().await? == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let left = store.held().await?;
    println!("after dropping both: the server holds {left} objects for us");
    if left != 0 || conn.stats().imported_objects != 0 {
        return Err(format!("{left} objects left over on the server after dropping every reference").into());
    }

    conn.close().await;
    stop.shutdown();
    serving.await??;
    Ok(())
}
