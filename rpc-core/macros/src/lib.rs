//! The `#[service]` attribute of the `rpc` framework.
//!
//! Put it on an inherent `impl` block. Methods whose names start with `exposed_`, or that carry
//! `#[exposed]`, become callable by the peer (with or without the prefix); `#[attribute]` makes
//! a no-argument method a readable attribute; `#[blocking]` runs a method on tokio's blocking
//! pool; `on_connect` / `on_disconnect` become the connection hooks. Everything else stays
//! unreachable. See the `rpc` crate for examples.

mod client;
mod expand;
mod model;

use proc_macro::TokenStream;

/// Implements `Service` for the type of an inherent `impl` block.
///
/// Options: `#[service(name = "CALC", aliases = ["CALCULATOR"])]`. The default name is the type
/// name without a `Service` suffix, upper-cased (RPyC's rule: `TestService` is `TEST`).
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
