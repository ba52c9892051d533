#[rpc_core::service]
struct NotAnImpl;

fn main() {}
