struct S;

#[rpc_core::service]
impl S {
    fn exposed_show<T: std::fmt::Debug>(&self, x: T) -> String {
        format!("{x:?}")
    }
}

fn main() {}
