struct S;

#[rpc_core::service]
impl S {
    #[attribute]
    fn exposed_value(&self, x: i64) -> i64 {
        x
    }
}

fn main() {}
