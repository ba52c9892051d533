//! The typed client of a service, and how the service's objects cross the wire by reference.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{Member, Model, Param};

/// `impl IntoReply`/`FromReply` for the service type, and its `<Type>Client` struct. Nothing for
/// generic services (a client per instantiation would need the parameters).
pub fn client(p: &TokenStream, model: &Model) -> TokenStream {
    let syn::Type::Path(path) = &*model.item.self_ty else {
        return TokenStream::new();
    };
    if !model.item.generics.params.is_empty() {
        return TokenStream::new();
    }
    let Some(last) = path.path.segments.last() else {
        return TokenStream::new();
    };
    let self_ty = &model.item.self_ty;
    let by_reference = quote! {
        impl #p::IntoReply for #self_ty {
            fn into_reply(self) -> #p::CallResult {
                #p::by_reference(self)
            }
        }
    };
    let Some(vis) = &model.client else {
        return by_reference;
    };
    let client = format_ident!("{}Client", last.ident);
    let doc = format!(
        "Typed client of [`{}`]: each method calls the remote object's method of the same name.",
        last.ident
    );
    let methods = model.methods.iter().map(|m| method(p, vis, m, Kind::Call));
    let attributes = model.attributes.iter().map(|m| method(p, vis, m, Kind::Get));
    let setters = model.setters.iter().map(|m| method(p, vis, m, Kind::Set));
    quote! {
        #by_reference

        impl #p::FromReply for #self_ty {
            type Output = #client;
            fn from_reply(value: #p::Value) -> ::std::result::Result<#client, #p::ValueError> {
                <#p::NetRef as #p::FromReply>::from_reply(value).map(#client::new)
            }
        }

        #[doc = #doc]
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #vis struct #client {
            netref: #p::NetRef,
        }

        #[allow(dead_code, clippy::too_many_arguments)]
        impl #client {
            /// Wraps a reference to a remote object of this service type.
            #vis fn new(netref: #p::NetRef) -> Self {
                #client { netref }
            }

            /// The reference, for dynamic calls by name.
            #vis fn netref(&self) -> &#p::NetRef {
                &self.netref
            }

            #(#methods)*
            #(#attributes)*
            #(#setters)*
        }

        impl ::std::convert::From<#p::NetRef> for #client {
            fn from(netref: #p::NetRef) -> Self {
                #client { netref }
            }
        }

        impl #p::serde::Serialize for #client {
            fn serialize<S: #p::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                #p::serde::Serialize::serialize(&self.netref, s)
            }
        }

        impl<'de> #p::serde::Deserialize<'de> for #client {
            fn deserialize<D: #p::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                <#p::NetRef as #p::serde::Deserialize<'de>>::deserialize(d).map(#client::new)
            }
        }
    }
}

/// Whether `ty` names the framework's `Object` (`Object`, `rpc::Object`, `rpc_core::Object`):
/// the caller receives it as a `NetRef`. (Seen by name: a macro cannot resolve types.)
fn names_object(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Object" && s.arguments.is_none()),
        _ => false,
    }
}

/// What a typed client method does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Call,
    Get,
    Set,
}

fn method(p: &TokenStream, vis: &syn::Visibility, m: &Member, kind: Kind) -> TokenStream {
    let ident = match kind {
        Kind::Set => format_ident!("set_{}", m.remote_name),
        _ => format_ident!("{}", m.remote_name),
    };
    let remote_name = &m.remote_name;
    let doc = if m.doc.is_empty() {
        format!("Calls the remote `{}`.", m.remote_name)
    } else {
        m.doc.clone()
    };
    let mut params = Vec::new();
    let mut names = Vec::new();
    // Whether a parameter is a byte container: then each argument goes through the byte-run
    // dispatch instead of the tuple's serde.
    let mut bytes_in = false;
    for (i, param) in m.params.iter().enumerate() {
        if let Param::Remote { declared, name, .. } = param {
            // The parameter's own name where it is a plain identifier, for readable signatures.
            let plain = !name.is_empty()
                && !name.starts_with("r#")
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name != "self";
            let var = if plain {
                format_ident!("{}", name)
            } else {
                format_ident!("arg{}", i)
            };
            params.push(quote!(#var: #declared));
            bytes_in |= crate::model::is_byte_candidate(declared);
            names.push(var);
        }
    }
    // An `Object` sent by reference arrives as a reference to the peer's object.
    let ok_type = match &m.ok_type {
        Some(t) if names_object(t) => Some(quote!(#p::NetRef)),
        Some(t) => Some(quote!(#t)),
        None => None,
    };
    let bytes_out = m.ok_type.as_deref().is_some_and(|t| !names_object(t))
        && m.ok_type.as_deref().is_some_and(crate::model::is_byte_candidate);
    let output = match &ok_type {
        Some(t) if bytes_out => quote!(#t),
        Some(t) => quote!(<#t as #p::FromReply>::Output),
        None => quote!(()),
    };
    let decode = match &ok_type {
        // A byte container comes out of its byte run (the buffer moved, not element by element).
        Some(t) if bytes_out => quote! {{
            #[allow(unused_imports)]
            use #p::{DecodeBytes as _, DecodeSerde as _};
            (&#p::Dec::<#t>::new()).decode(value)
        }},
        Some(t) => quote!(<#t as #p::FromReply>::from_reply(value)),
        None => quote!(<() as #p::FromReply>::from_reply(value)),
    };
    let n_args = names.len();
    let args = if bytes_in {
        quote! {{
            #[allow(unused_imports)]
            use #p::{ArgBytes as _, ArgSerde as _};
            let mut __args = #p::arg_values(#n_args);
            #(__args.push((&#p::Enc::new(#names)).encode_arg()
                .map_err(|e| #p::Error::Encode(::std::format!("argument: {e}")))?);)*
            __args
        }}
    } else {
        quote! {
            #p::Args::into_args((#(#names,)*))
                .map_err(|e| #p::Error::Encode(::std::format!("argument: {e}")))?
        }
    };
    if kind == Kind::Call && m.oneway {
        let oneway_args = if bytes_in {
            quote!(#args)
        } else {
            quote!((#(#names,)*))
        };
        return quote! {
            #[doc = #doc]
            ///
            /// One-way: returns once the call is queued; no reply comes back.
            #vis fn #ident(&self, #(#params),*) -> #p::Result<()> {
                self.netref.call_oneway(#remote_name, #oneway_args)
            }
        };
    }
    let request = match kind {
        Kind::Get => quote!(self.netref.getattr_value(#remote_name).await?),
        Kind::Set => quote! {{
            self.netref.setattr(#remote_name, (#(#names,)*).0).await?;
            #p::Value::Unit
        }},
        Kind::Call => quote! {
            self.netref.call_value(#remote_name, #args).await?
        },
    };
    quote! {
        #[doc = #doc]
        #vis async fn #ident(&self, #(#params),*) -> #p::Result<#output> {
            let value = #request;
            #decode.map_err(|e| #p::Error::Decode(::std::format!("the result of {}: {e}", #remote_name)))
        }
    }
}
