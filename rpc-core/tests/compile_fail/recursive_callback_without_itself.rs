use rpc_core::Callback;

fn main() {
    let _ = Callback::recursive(|n: u32| n + 1);
}
