struct S;

#[rpc_core::service(nmae = "X")]
impl S {
    fn exposed_ping(&self) {}
}

fn main() {}
