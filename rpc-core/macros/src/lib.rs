//! The `#[service]` attribute of the `rpc` framework.
//!
//! Put it on an inherent `impl` block. Methods whose names start with `exposed_`, or that carry
//! `#[exposed]`, become callable by the peer (with or without the prefix); `#[attribute]` makes
//! a no-argument method a readable attribute and `#[setter]` (on `exposed_set_x(&self, v)`) makes
//! `x` settable; `#[blocking]` runs a method on tokio's blocking pool; `#[oneway]` makes a method
//! one-way (no reply, calls run in send order); `on_connect` / `on_disconnect` become the
//! connection hooks. A parameter of type `Connection` or `&Connection` receives the calling
//! connection instead of a remote argument. Everything else stays unreachable. The macro also generates a typed client, `<Type>Client`, with the same
//! methods, and lets the type be returned by reference from other services' methods.
//!
//! Byte containers in the signature — `Vec<u8>`, `&[u8]`, `[u8; N]`, `Box<[u8]>`,
//! `bytes::Bytes`, or a reference to one — travel as one byte run (`Value::Bytes`), as
//! parameters and results, on the service side and in the typed client, without `serde_bytes`.
//! The macro recognizes them by how they are written; the compiler then picks the byte path
//! only for the real types (a type of your own named `Bytes` goes through serde as before).
//!
//! ```
//! use rpc_core::{memory_pair, service, VoidService};
//!
//! struct Greeter {
//!     greeting: String,
//! }
//!
//! #[service(name = "GREETER")]
//! impl Greeter {
//!     /// Reachable as `greet` or `exposed_greet`.
//!     fn exposed_greet(&self, name: &str) -> String {
//!         format!("{}, {name}!", self.greeting)
//!     }
//!
//!     /// A readable attribute.
//!     #[attribute]
//!     fn exposed_greeting(&self) -> String {
//!         self.greeting.clone()
//!     }
//!
//!     /// Not exposed: the peer cannot call it.
//!     #[allow(dead_code)]
//!     fn internal(&self) {}
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> rpc_core::Result<()> {
//! let (client, _server) = memory_pair(VoidService, Greeter { greeting: "Hello".into() }).await?;
//! let by_name: String = client.root().call("greet", ("Ada",)).await?;
//! let typed = GreeterClient::new(client.root());
//! assert_eq!(by_name, typed.greet("Ada").await?);
//! assert_eq!(typed.greeting().await?, "Hello");
//! assert!(client.root().call::<()>("internal", ()).await.is_err());
//! # Ok(())
//! # }
//! ```

mod client;
mod expand;
mod model;

use proc_macro::TokenStream;

/// Implements `Service` for the type of an inherent `impl` block.
///
/// Options: `#[service(name = "CALC", aliases = ["CALCULATOR"], client = "pub(crate)")]`. The
/// default name is the type name without a `Service` suffix, upper-cased (RPyC's rule:
/// `TestService` is `TEST`); `client` sets the typed client's visibility (`"none"`: no client);
/// `display` makes the object's display text (what a peer's `netref.display()` shows) its
/// `Display` (`#[service(display)]`, with `impl Display for Counter` showing `Counter(7)`), and
/// `repr` its debugging text (a peer's `netref.repr()`) its `Debug`.
#[proc_macro_attribute]
pub fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    let options = match model::Options::parse(attr.into()) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error().into(),
    };
    let item = match syn::parse::<syn::ItemImpl>(item) {
        Ok(i) => i,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "#[service] goes on an inherent impl block: `#[service] impl MyService { ... }`",
            )
            .to_compile_error()
            .into()
        }
    };
    match model::Model::build(options, item) {
        Ok(model) => expand::expand(model).into(),
        Err(e) => e.to_compile_error().into(),
    }
}
