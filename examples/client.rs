//! The client half of the two-terminal demo.
//!
//! Run: `cargo run --example server` in one terminal, then `cargo run --example client [PORT]`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse()?,
        None => 18861,
    };
    let conn = rpc::connect("localhost", port).await?;
    let root = conn.root();
    let n: i64 = root.call("test", (11,)).await?;
    let a: i64 = root.getattr("the_real_answer_though").await?;
    println!("test(11) = {n}, the_real_answer_though = {a}");
    if (n, a) != (12, 43) {
        return Err(
            format!("expected test(11) = 12 and the_real_answer_though = 43, got {n} and {a}").into(),
        );
    }
    match root.call::<String>("get_question", ()).await {
        Err(e) => println!("get_question -> {e}"),
        Ok(q) => return Err(format!("get_question unexpectedly answered {q:?}").into()),
    }
    let description = root.describe().await?;
    let methods: Vec<_> = description.methods.iter().map(|m| m.name.as_str()).collect();
    println!("{} exposes methods {methods:?}", description.name);
    conn.close().await;
    Ok(())
}
