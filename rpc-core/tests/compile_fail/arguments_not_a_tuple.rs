async fn call(root: rpc_core::NetRef) -> rpc_core::Result<i64> {
    root.call("test", (11)).await
}

fn main() {
    let _ = call;
}
