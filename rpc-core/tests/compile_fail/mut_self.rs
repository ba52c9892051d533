struct S;

#[rpc_core::service]
impl S {
    fn exposed_set(&mut self, x: i64) {
        let _ = x;
    }
}

fn main() {}
