struct NotSerde;
struct S;

#[rpc_core::service]
impl S {
    fn exposed_take(&self, x: NotSerde) {
        let _ = x;
    }
}

fn main() {}
