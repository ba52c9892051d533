//! Writes the `Service` implementation.

use proc_macro2::TokenStream;
use proc_macro_crate::{crate_name, FoundCrate};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{Hook, Member, Mode, Model, Param};

/// The path to `rpc_core::private`, whichever crate the user depends on.
pub fn private_path() -> TokenStream {
    if let Ok(found) = crate_name("rpc") {
        let root = match found {
            FoundCrate::Itself => quote!(::rpc),
            FoundCrate::Name(n) => {
                let id = format_ident!("{}", n);
                quote!(::#id)
            }
        };
        return quote!(#root::core::private);
    }
    match crate_name("rpc-core") {
        Ok(FoundCrate::Name(n)) => {
            let id = format_ident!("{}", n);
            quote!(::#id::private)
        }
        _ => quote!(::rpc_core::private),
    }
}

pub fn expand(model: Model) -> TokenStream {
    let p = private_path();
    let item = &model.item;
    let self_ty = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let name = &model.name;
    let aliases = &model.aliases;

    let method_arms = model.methods.iter().map(|m| arm(&p, self_ty, m));
    let attr_arms = model.attributes.iter().map(|m| arm(&p, self_ty, m));
    let setter_arms = model.setters.iter().map(|m| arm(&p, self_ty, m));
    let method_names: Vec<_> = model.methods.iter().flat_map(names).collect();
    let attr_names: Vec<_> = model.attributes.iter().flat_map(names).collect();
    let wrong_kind = |names: &[String], is_attribute: bool| {
        (!names.is_empty()).then(|| {
            quote! {
                #(#names)|* => #p::Outcome::Ready(::std::result::Result::Err(
                    #p::wrong_member_kind(#name, method, #is_attribute),
                )),
            }
        })
    };
    let attr_fallback = wrong_kind(&attr_names, true);
    let method_fallback = wrong_kind(&method_names, false);
    let method_infos = model.methods.iter().map(|m| method_info(&p, m));
    let attr_infos = model.attributes.iter().map(|m| {
        let settable = model.setters.iter().any(|s| s.remote_name == m.remote_name);
        attr_info(&p, m, settable)
    });
    let on_connect = model
        .on_connect
        .as_ref()
        .map(|h| hook(&p, self_ty, h, quote!(on_connect)));
    let on_disconnect = model
        .on_disconnect
        .as_ref()
        .map(|h| hook(&p, self_ty, h, quote!(on_disconnect)));

    let client = crate::client::client(&p, &model);
    let oneway_names: Vec<_> = model
        .methods
        .iter()
        .filter(|m| m.oneway)
        .flat_map(names)
        .collect();
    let is_oneway = (!oneway_names.is_empty()).then(|| {
        quote! {
            fn is_oneway(&self, method: &str) -> bool {
                ::std::matches!(method, #(#oneway_names)|*)
            }
        }
    });

    let display = model.display.then(|| {
        quote! {
            fn display(&self) -> ::std::string::String {
                ::std::string::ToString::to_string(self)
            }
        }
    });

    let repr = model.repr.then(|| {
        quote! {
            fn repr(&self) -> ::std::string::String {
                ::std::format!("{:?}", self)
            }
        }
    });

    quote! {
        #item

        #client

        impl #impl_generics #p::Service for #self_ty #where_clause {
            fn name(&self) -> &str {
                #name
            }

            #display

            #repr

            fn aliases(&self) -> #p::Vec<::std::string::String> {
                <[_]>::into_vec(::std::boxed::Box::new([#(::std::string::String::from(#aliases)),*]))
            }

            #[allow(unused_variables, unused_mut, clippy::let_unit_value)]
            fn call(self: #p::Arc<Self>, conn: &#p::Connection, method: &str, args: #p::Vec<#p::Value>) -> #p::Outcome {
                match method {
                    #(#method_arms)*
                    #attr_fallback
                    _ => #p::Outcome::Ready(::std::result::Result::Err(#p::not_exposed(#name, method))),
                }
            }

            #[allow(unused_variables, unused_mut, clippy::let_unit_value)]
            fn getattr(self: #p::Arc<Self>, conn: &#p::Connection, method: &str) -> #p::Outcome {
                let args: #p::Vec<#p::Value> = #p::Vec::new();
                match method {
                    #(#attr_arms)*
                    #method_fallback
                    _ => #p::Outcome::Ready(::std::result::Result::Err(#p::not_exposed(#name, method))),
                }
            }

            #[allow(unused_variables, unused_mut, clippy::let_unit_value)]
            fn setattr(self: #p::Arc<Self>, conn: &#p::Connection, method: &str, value: #p::Value) -> #p::Outcome {
                let args: #p::Vec<#p::Value> = ::std::vec![value];
                match method {
                    #(#setter_arms)*
                    _ => #p::Outcome::Ready(::std::result::Result::Err(#p::not_settable(#name, method))),
                }
            }

            #is_oneway

            fn describe(&self) -> #p::Description {
                #p::Description {
                    name: ::std::string::String::from(#name),
                    methods: <[_]>::into_vec(::std::boxed::Box::new([#(#method_infos),*])),
                    attributes: <[_]>::into_vec(::std::boxed::Box::new([#(#attr_infos),*])),
                }
            }

            #on_connect
            #on_disconnect
        }
    }
}

/// The names a member answers to: `x` and `exposed_x`.
fn names(m: &Member) -> Vec<String> {
    let prefixed = format!("exposed_{}", m.remote_name);
    if m.ident == prefixed {
        vec![m.remote_name.clone(), prefixed]
    } else {
        vec![m.remote_name.clone()]
    }
}

fn arm(p: &TokenStream, self_ty: &syn::Type, m: &Member) -> TokenStream {
    let patterns = names(m);
    let remote_name = &m.remote_name;
    let ident = &m.ident;
    let n_remote = m
        .params
        .iter()
        .filter(|x| matches!(x, Param::Remote { .. }))
        .count();
    let owned_conn = m.mode != Mode::Sync;

    let mut decode = Vec::new();
    let mut pass = Vec::new();
    let mut index = 0usize;
    for (i, param) in m.params.iter().enumerate() {
        let var = format_ident!("__a{}", i);
        match param {
            Param::Remote { name, ty, by_ref, .. } => {
                // Byte containers (`Vec<u8>`, `&[u8]`, `[u8; N]`, `Box<[u8]>`, `Bytes`) are taken
                // as one byte run, not element by element.
                let convert = if crate::model::is_byte_candidate(ty) {
                    quote!(#p::arg_with(#remote_name, #index, #name, __it.next(), |__v| {
                        #[allow(unused_imports)]
                        use #p::{DecodeBytes as _, DecodeSerde as _};
                        (&#p::Dec::<#ty>::new()).decode(__v)
                    }))
                } else {
                    quote!(#p::arg::<#ty>(#remote_name, #index, #name, __it.next()))
                };
                decode.push(quote_spanned! {ty.span()=>
                    let #var: #ty = match #convert {
                        ::std::result::Result::Ok(v) => v,
                        ::std::result::Result::Err(e) => return #p::Outcome::Ready(::std::result::Result::Err(e)),
                    };
                });
                pass.push(if *by_ref { quote!(&#var) } else { quote!(#var) });
                index += 1;
            }
            Param::Connection { by_ref } => {
                let source = if owned_conn { quote!(__conn) } else { quote!(conn) };
                pass.push(match (by_ref, owned_conn) {
                    (true, true) => quote!(&#source),
                    (true, false) => quote!(#source),
                    (false, _) => quote!(#source.clone()),
                });
            }
        }
    }
    let invoke = quote!(<#self_ty>::#ident(&*__this, #(#pass),*));
    // Byte-container results travel as one byte run, not element by element.
    let bytes_out = m.returns_bytes;
    let wrap = |expr: TokenStream| match (m.fallible, bytes_out) {
        (true, true) => quote! {
            match #expr {
                ::std::result::Result::Ok(__v) => {
                    #[allow(unused_imports)]
                    use #p::{ReplyBytes as _, ReplyOther as _};
                    (&#p::Enc::new(__v)).encode_reply()
                }
                ::std::result::Result::Err(__e) => ::std::result::Result::Err(#p::error_reply(__e)),
            }
        },
        (true, false) => quote!(#p::fallible(#expr)),
        (false, true) => quote! {{
            #[allow(unused_imports)]
            use #p::{ReplyBytes as _, ReplyOther as _};
            (&#p::Enc::new(#expr)).encode_reply()
        }},
        (false, false) => quote!(#p::IntoReply::into_reply(#expr)),
    };
    let run = match m.mode {
        Mode::Sync => {
            let body = wrap(invoke);
            quote!(#p::Outcome::Ready(#body))
        }
        Mode::Async => {
            let body = wrap(quote!(#invoke.await));
            quote! {
                let __conn = conn.clone();
                #p::Outcome::pending(async move { #body })
            }
        }
        Mode::Blocking => {
            let body = wrap(invoke);
            quote! {
                let __conn = conn.clone();
                #p::blocking(move || #body)
            }
        }
    };
    quote! {
        #(#patterns)|* => {
            let __this = self;
            let mut __it = match #p::take_args(#remote_name, #n_remote, args) {
                ::std::result::Result::Ok(it) => it,
                ::std::result::Result::Err(e) => return #p::Outcome::Ready(::std::result::Result::Err(e)),
            };
            #(#decode)*
            #run
        }
    }
}

fn method_info(p: &TokenStream, m: &Member) -> TokenStream {
    let name = &m.remote_name;
    let returns = &m.returns;
    let doc = &m.doc;
    let is_async = m.mode == Mode::Async;
    let oneway = m.oneway;
    let params = m.params.iter().filter_map(|x| match x {
        Param::Remote { name, shown, .. } => {
            Some(quote!((::std::string::String::from(#name), ::std::string::String::from(#shown))))
        }
        Param::Connection { .. } => None,
    });
    quote! {
        #p::MethodInfo {
            name: ::std::string::String::from(#name),
            params: <[_]>::into_vec(::std::boxed::Box::new([#(#params),*])),
            returns: ::std::string::String::from(#returns),
            is_async: #is_async,
            oneway: #oneway,
            doc: ::std::string::String::from(#doc),
        }
    }
}

fn attr_info(p: &TokenStream, m: &Member, settable: bool) -> TokenStream {
    let name = &m.remote_name;
    let ty = &m.returns;
    let doc = &m.doc;
    quote! {
        #p::AttributeInfo {
            name: ::std::string::String::from(#name),
            ty: ::std::string::String::from(#ty),
            settable: #settable,
            doc: ::std::string::String::from(#doc),
        }
    }
}

fn hook(p: &TokenStream, self_ty: &syn::Type, h: &Hook, trait_fn: TokenStream) -> TokenStream {
    let ident = &h.ident;
    let arg = if h.conn_by_ref {
        quote!(&conn)
    } else {
        quote!(conn)
    };
    let call = if h.is_async {
        quote!(<#self_ty>::#ident(&*self, #arg).await)
    } else {
        quote!(<#self_ty>::#ident(&*self, #arg))
    };
    quote! {
        fn #trait_fn(self: #p::Arc<Self>, conn: #p::Connection) -> #p::BoxFuture<'static, ()> {
            ::std::boxed::Box::pin(async move { #call; })
        }
    }
}
