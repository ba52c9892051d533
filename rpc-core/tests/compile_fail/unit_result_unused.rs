async fn call(root: rpc_core::NetRef) -> rpc_core::Result<()> {
    root.call("unit", ()).await?;
    Ok(())
}

fn main() {
    let _ = call;
}
