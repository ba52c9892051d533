struct S;

#[rpc_core::service]
impl S {
    #[setter]
    fn exposed_set_level(&self) {}
}

fn main() {}
