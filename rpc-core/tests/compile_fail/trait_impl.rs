struct S;

#[rpc_core::service]
impl Clone for S {
    fn clone(&self) -> Self {
        S
    }
}

fn main() {}
