struct S;

#[rpc_core::service]
impl S {
    fn exposed_ping(&self) {}

    #[exposed]
    fn ping(&self) {}
}

fn main() {}
