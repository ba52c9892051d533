struct Calc;

#[rpc_core::service]
impl Calc {
    fn exposed_add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    #[allow(dead_code)]
    fn internal(&self) {}
}

async fn use_it(calc: CalcClient) {
    let _ = calc.internal().await;
}

fn main() {
    let _ = use_it;
}
