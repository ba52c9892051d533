struct Calc;

#[rpc_core::service]
impl Calc {
    fn exposed_add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
}

async fn use_it(calc: CalcClient) -> rpc_core::Result<i64> {
    calc.add(1, "two").await
}

fn main() {
    let _ = use_it;
}
