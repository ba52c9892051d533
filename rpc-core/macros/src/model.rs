//! Reads an `impl` block into what the expansion needs.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, ReturnType, Type};

/// `#[service(...)]` options.
pub struct Options {
    pub name: Option<String>,
    pub aliases: Vec<String>,
    /// Visibility of the typed client; `None` when disabled with `client = "none"`.
    pub client: Option<syn::Visibility>,
    /// `display`: the object's display text is its `Display`.
    pub display: bool,
    /// `repr`: the object's debugging text is its `Debug`.
    pub repr: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: None,
            aliases: Vec::new(),
            client: Some(syn::parse_quote!(pub)),
            display: false,
            repr: false,
        }
    }
}

impl Options {
    pub fn parse(attr: TokenStream) -> syn::Result<Self> {
        let mut options = Options::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("name") {
                options.name = Some(meta.value()?.parse::<LitStr>()?.value());
                Ok(())
            } else if meta.path.is_ident("aliases") {
                let content;
                let value = meta.value()?;
                syn::bracketed!(content in value);
                let list = content.parse_terminated(|p| p.parse::<LitStr>(), syn::Token![,])?;
                options.aliases = list.iter().map(LitStr::value).collect();
                Ok(())
            } else if meta.path.is_ident("display") {
                options.display = true;
                Ok(())
            } else if meta.path.is_ident("repr") {
                options.repr = true;
                Ok(())
            } else if meta.path.is_ident("client") {
                let lit = meta.value()?.parse::<LitStr>()?;
                options.client = match lit.value().as_str() {
                    "none" => None,
                    vis => Some(syn::parse_str(vis).map_err(|_| {
                        syn::Error::new(
                            lit.span(),
                            "expected a visibility such as \"pub(crate)\", or \"none\"",
                        )
                    })?),
                };
                Ok(())
            } else {
                Err(meta.error(
                    "unknown #[service] option: expected `name`, `aliases`, `client`, `display` or `repr`",
                ))
            }
        });
        syn::parse::Parser::parse2(parser, attr)?;
        Ok(options)
    }
}

/// How an exposed member runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Sync,
    Async,
    Blocking,
}

/// How a parameter is filled.
pub enum Param {
    /// From the peer's argument list, converted to `ty`; passed by reference when `by_ref`.
    Remote {
        name: String,
        ty: Box<Type>,
        /// The type as written, for the typed client.
        declared: Box<Type>,
        by_ref: bool,
        shown: String,
    },
    /// The calling connection, owned (`Connection`) or borrowed (`&Connection`).
    Connection { by_ref: bool },
}

/// An exposed method or attribute.
pub struct Member {
    pub ident: syn::Ident,
    pub remote_name: String,
    pub mode: Mode,
    pub params: Vec<Param>,
    pub fallible: bool,
    /// The method returns a byte container (`Vec<u8>`, `[u8; N]`, `Bytes`, ..., or a `Result` of
    /// one): sent as one byte run.
    pub returns_bytes: bool,
    /// `#[oneway]`: no reply, run in send order.
    pub oneway: bool,
    /// What a successful call yields (the `T` of a `Result<T, E>`); `None` for `()`.
    pub ok_type: Option<Box<Type>>,
    pub returns: String,
    pub doc: String,
}

/// A connection hook found in the impl.
pub struct Hook {
    pub ident: syn::Ident,
    pub is_async: bool,
    pub conn_by_ref: bool,
}

pub struct Model {
    pub item: ItemImpl,
    pub client: Option<syn::Visibility>,
    pub name: String,
    pub aliases: Vec<String>,
    pub methods: Vec<Member>,
    pub attributes: Vec<Member>,
    pub setters: Vec<Member>,
    pub on_connect: Option<Hook>,
    pub on_disconnect: Option<Hook>,
    /// The display text comes from the type's `Display`.
    pub display: bool,
    /// The debugging text comes from the type's `Debug`.
    pub repr: bool,
}

impl Model {
    pub fn build(options: Options, mut item: ItemImpl) -> syn::Result<Model> {
        if let Some((_, path, _)) = &item.trait_ {
            return Err(syn::Error::new(
                path.span(),
                "#[service] goes on an inherent impl block, not a trait impl",
            ));
        }
        let name = match options.name {
            Some(n) => n,
            None => default_name(&item.self_ty)?,
        };
        let mut model = Model {
            item: item.clone(),
            name,
            client: options.client,
            aliases: options.aliases,
            display: options.display,
            repr: options.repr,
            methods: Vec::new(),
            attributes: Vec::new(),
            setters: Vec::new(),
            on_connect: None,
            on_disconnect: None,
        };
        for it in &mut item.items {
            let ImplItem::Fn(f) = it else { continue };
            let flags = take_flags(f);
            let ident = f.sig.ident.to_string();
            if ident == "on_connect" || ident == "on_disconnect" {
                let hook = hook(f)?;
                if ident == "on_connect" {
                    model.on_connect = Some(hook);
                } else {
                    model.on_disconnect = Some(hook);
                }
                continue;
            }
            let prefixed = ident.strip_prefix("exposed_");
            if prefixed.is_none() && !flags.exposed && !flags.attribute && !flags.setter && !flags.oneway {
                continue;
            }
            let mut remote_name = prefixed.unwrap_or(&ident).to_owned();
            if flags.setter {
                // `exposed_set_volume` sets the attribute `volume`.
                remote_name = remote_name
                    .strip_prefix("set_")
                    .unwrap_or(&remote_name)
                    .to_owned();
            }
            if remote_name.is_empty() {
                return Err(syn::Error::new(
                    f.sig.ident.span(),
                    "an exposed name needs something after `exposed_`",
                ));
            }
            let mut member = member(f, remote_name, flags.blocking)?;
            member.oneway = flags.oneway;
            if flags.oneway && (flags.attribute || flags.setter) {
                return Err(syn::Error::new(
                    f.sig.ident.span(),
                    "#[oneway] is for methods, not attributes",
                ));
            }
            if flags.setter {
                let remote = member
                    .params
                    .iter()
                    .filter(|p| matches!(p, Param::Remote { .. }))
                    .count();
                if remote != 1 {
                    return Err(syn::Error::new(
                        f.sig.inputs.span(),
                        "a #[setter] takes `&self` and exactly one value (and optionally the Connection)",
                    ));
                }
                model.setters.push(member);
            } else if flags.attribute {
                if member.params.iter().any(|p| matches!(p, Param::Remote { .. })) {
                    return Err(syn::Error::new(
                        f.sig.inputs.span(),
                        "an #[attribute] takes no arguments besides `&self` (and optionally the Connection)",
                    ));
                }
                model.attributes.push(member);
            } else {
                model.methods.push(member);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for m in model.methods.iter().chain(&model.attributes) {
            if !seen.insert(m.remote_name.clone()) {
                return Err(syn::Error::new(
                    m.ident.span(),
                    format!("two exposed members are both reachable as `{}`", m.remote_name),
                ));
            }
        }
        let mut seen_setters = std::collections::HashSet::new();
        for m in &model.setters {
            if !seen_setters.insert(m.remote_name.clone()) {
                return Err(syn::Error::new(
                    m.ident.span(),
                    format!("two setters both set `{}`", m.remote_name),
                ));
            }
        }
        model.item = item;
        Ok(model)
    }
}

fn default_name(ty: &Type) -> syn::Result<String> {
    let Type::Path(p) = ty else {
        return Err(syn::Error::new(
            ty.span(),
            "#[service] needs a named type, or `#[service(name = \"...\")]`",
        ));
    };
    let last = p
        .path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let base = last
        .strip_suffix("Service")
        .filter(|b| !b.is_empty())
        .unwrap_or(&last);
    Ok(base.to_uppercase())
}

#[derive(Default)]
struct Flags {
    exposed: bool,
    attribute: bool,
    setter: bool,
    blocking: bool,
    oneway: bool,
}

/// Reads and removes our marker attributes from a method.
fn take_flags(f: &mut ImplItemFn) -> Flags {
    let mut flags = Flags::default();
    f.attrs.retain(|a| {
        let Some(id) = a.path().get_ident().map(|i| i.to_string()) else {
            return true;
        };
        match id.as_str() {
            "exposed" => flags.exposed = true,
            "attribute" => flags.attribute = true,
            "setter" => flags.setter = true,
            "oneway" => flags.oneway = true,
            "blocking" => flags.blocking = true,
            _ => return true,
        }
        false
    });
    flags
}

fn doc_of(f: &ImplItemFn) -> String {
    let mut lines = Vec::new();
    for a in &f.attrs {
        if !a.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &a.meta {
            if let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            {
                lines.push(s.value().trim().to_owned());
            }
        }
    }
    lines.join("\n")
}

fn check_receiver(f: &ImplItemFn) -> syn::Result<()> {
    match f.sig.inputs.first() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => Ok(()),
        _ => Err(syn::Error::new(
            f.sig.span(),
            "exposed methods take `&self` (services are shared between concurrent calls; use interior mutability)",
        )),
    }
}

/// Whether `ty` is `Connection` or `&Connection`; `Some(by_ref)` if so.
fn connection_param(ty: &Type) -> Option<bool> {
    let (inner, by_ref) = match ty {
        Type::Reference(r) => (&*r.elem, true),
        other => (other, false),
    };
    let Type::Path(p) = inner else { return None };
    let last = p.path.segments.last()?;
    (last.ident == "Connection" && last.arguments.is_empty()).then_some(by_ref)
}

fn member(f: &ImplItemFn, remote_name: String, blocking: bool) -> syn::Result<Member> {
    check_receiver(f)?;
    if !f.sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            f.sig.generics.span(),
            "exposed methods cannot be generic",
        ));
    }
    let is_async = f.sig.asyncness.is_some();
    if is_async && blocking {
        return Err(syn::Error::new(
            f.sig.span(),
            "#[blocking] is for synchronous methods; an async method already yields",
        ));
    }
    let mut params = Vec::new();
    let mut remote_index = 0;
    for input in f.sig.inputs.iter().skip(1) {
        let FnArg::Typed(pt) = input else { continue };
        if let Some(by_ref) = connection_param(&pt.ty) {
            params.push(Param::Connection { by_ref });
            continue;
        }
        let name = match &*pt.pat {
            Pat::Ident(pi) => pi.ident.to_string().trim_start_matches('_').to_owned(),
            _ => format!("arg{}", remote_index + 1),
        };
        let shown = spelled(&pt.ty);
        let (ty, by_ref) = owned_type(&pt.ty);
        params.push(Param::Remote {
            name,
            ty: Box::new(ty),
            declared: pt.ty.clone(),
            by_ref,
            shown,
        });
        remote_index += 1;
    }
    let mut returns_bytes = false;
    let (fallible, returns, ok_type) = match &f.sig.output {
        ReturnType::Default => (false, "()".to_owned(), None),
        ReturnType::Type(_, ty) => {
            let fallible = is_result(ty);
            let ok = if fallible {
                result_ok_type(ty)
            } else {
                Some(ty.clone())
            };
            returns_bytes = ok.as_deref().is_some_and(is_byte_candidate);
            // The caller owns what it receives: `&str` comes back as `String`.
            let ok = ok.map(|t| Box::new(owned_type(&t).0));
            (fallible, spelled(ty), ok)
        }
    };
    let mode = if is_async {
        Mode::Async
    } else if blocking {
        Mode::Blocking
    } else {
        Mode::Sync
    };
    Ok(Member {
        ident: f.sig.ident.clone(),
        remote_name,
        mode,
        params,
        fallible,
        returns_bytes,
        oneway: false,
        ok_type,
        returns,
        doc: doc_of(f),
    })
}

/// The owned type an argument is decoded into: `&str` -> `String`, `&[T]` -> `Vec<T>`, `&T` -> `T`.
fn owned_type(ty: &Type) -> (Type, bool) {
    let Type::Reference(r) = ty else {
        return (ty.clone(), false);
    };
    let elem = &*r.elem;
    let owned: Type = match elem {
        Type::Path(p) if p.path.is_ident("str") => syn::parse_quote!(::std::string::String),
        Type::Slice(s) => {
            let e = &s.elem;
            syn::parse_quote!(::std::vec::Vec<#e>)
        }
        other => other.clone(),
    };
    (owned, true)
}

/// Whether `ty` is `Vec<u8>` (however the path to `Vec` is written).
pub fn is_byte_vec(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    if last.ident != "Vec" {
        return false;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    matches!(args.args.first(), Some(syn::GenericArgument::Type(Type::Path(t))) if t.path.is_ident("u8"))
        && args.args.len() == 1
}

/// Whether `ty` looks like a byte container that travels as one byte run: `Vec<u8>`, `[u8]`
/// (behind a reference), `[u8; N]`, `Box<[u8]>`, `Bytes`, or a reference to one. Only how it
/// looks: the generated code lets the compiler decide (a user's own `Bytes` goes through serde).
pub fn is_byte_candidate(ty: &Type) -> bool {
    let is_u8 = |t: &Type| matches!(t, Type::Path(p) if p.qself.is_none() && p.path.is_ident("u8"));
    match ty {
        Type::Reference(r) => is_byte_candidate(&r.elem),
        Type::Paren(p) => is_byte_candidate(&p.elem),
        Type::Group(g) => is_byte_candidate(&g.elem),
        Type::Slice(s) => is_u8(&s.elem),
        Type::Array(a) => is_u8(&a.elem),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return false;
            };
            if last.ident == "Bytes" {
                return last.arguments.is_none();
            }
            if last.ident != "Box" {
                return is_byte_vec(ty);
            }
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return false;
            };
            args.args.len() == 1
                && matches!(args.args.first(), Some(syn::GenericArgument::Type(Type::Slice(s))) if is_u8(&s.elem))
        }
        _ => false,
    }
}

/// The `T` of `Result<T, E>` (or of a `Result<T>` alias).
fn result_ok_type(ty: &Type) -> Option<Box<Type>> {
    let Type::Path(p) = ty else { return None };
    let syn::PathArguments::AngleBracketed(args) = &p.path.segments.last()?.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(Box::new(t.clone())),
        _ => None,
    })
}

fn is_result(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    p.path.segments.last().is_some_and(|s| s.ident == "Result")
}

fn hook(f: &ImplItemFn) -> syn::Result<Hook> {
    check_receiver(f)?;
    let mut conn_by_ref = None;
    for input in f.sig.inputs.iter().skip(1) {
        let FnArg::Typed(pt) = input else { continue };
        match connection_param(&pt.ty) {
            Some(by_ref) if conn_by_ref.is_none() => conn_by_ref = Some(by_ref),
            _ => {
                return Err(syn::Error::new(
                    pt.span(),
                    "a connection hook takes `&self` and one `Connection` or `&Connection` parameter",
                ))
            }
        }
    }
    let Some(conn_by_ref) = conn_by_ref else {
        return Err(syn::Error::new(
            f.sig.span(),
            "a connection hook takes `&self` and one `Connection` or `&Connection` parameter",
        ));
    };
    Ok(Hook {
        ident: f.sig.ident.clone(),
        is_async: f.sig.asyncness.is_some(),
        conn_by_ref,
    })
}

/// A type as a person writes it, for `describe`: the token stream's text without the spaces
/// it puts around punctuation (`Result < () , E >` becomes `Result<(), E>`).
fn spelled(ty: &syn::Type) -> String {
    let text = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let before = out.chars().last();
            let after = chars.peek().copied();
            // No space after an opening bracket, `&`, `::`'s colons, a lifetime's quote; none
            // before a closing bracket, `<`, `,`, `;`, `::`.
            let glue_left = matches!(before, Some('<' | '(' | '[' | '&' | ':' | '\''));
            let glue_right = matches!(after, Some('<' | '>' | ')' | ']' | ',' | ';' | ':'));
            if glue_left || glue_right {
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod spelled_tests {
    use super::spelled;

    #[test]
    fn types_read_as_written() {
        for (ty, want) in [
            ("Result<(), MyError>", "Result<(), MyError>"),
            ("Vec<u8>", "Vec<u8>"),
            ("&'static str", "&'static str"),
            (
                "std::collections::BTreeMap<String, Vec<i64>>",
                "std::collections::BTreeMap<String, Vec<i64>>",
            ),
            ("[u8; 4]", "[u8; 4]"),
            ("(i64, f64)", "(i64, f64)"),
            ("Option<&mut T>", "Option<&mut T>"),
        ] {
            let parsed: syn::Type = syn::parse_str(ty).expect(ty);
            assert_eq!(spelled(&parsed), want);
        }
    }
}
