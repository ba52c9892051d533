//! Python containers handed to Rust: a `list`, `set` or `dict` argument arrives as a proxy
//! (brine has no such values) and is fetched into a value before the method runs, so a
//! `Vec<i64>` or `HashMap<String, f64>` parameter takes it as it would a tuple. One `BUFFITER`
//! round trip reads a list or set whole; a dict's values follow with one `__getitem__` per
//! key, all sent at once. Nested containers are fetched the same way. The proxies are then
//! dropped, which releases them on the Python side.

use std::sync::Arc;

use futures::future::{try_join_all, BoxFuture, FutureExt};

use crate::connection::inner::Inner;
use crate::error::{Error, RemoteError, RemoteErrorKind};
use crate::object::Referent;
use crate::protocol::OpRef;
use crate::value::Value;

/// Deepest nesting of containers fetched.
const MAX_NESTING: usize = 32;

/// What kind of Python container a proxy is, if it is one.
#[derive(Clone, Copy)]
enum Container {
    /// Items in order (`list`, `set`, `deque`...).
    Items,
    /// Keys, then a value per key.
    Dict,
}

fn container(inner: &Inner, value: &Value) -> Option<(u64, Container)> {
    let Value::Object(object) = value else {
        return None;
    };
    let Some(Referent::Remote(netref)) = object.referent() else {
        return None;
    };
    if netref.connection().id() != inner.id {
        return None;
    }
    let pack = inner.rpyc_state()?.idpack(netref.id())?;
    let kind = match pack.name.as_str() {
        "builtins.list" | "builtins.set" | "builtins.frozenset" | "builtins.tuple" | "collections.deque" => {
            Container::Items
        }
        "builtins.dict" | "collections.OrderedDict" | "collections.defaultdict" => Container::Dict,
        _ => return None,
    };
    Some((netref.id(), kind))
}

/// Whether any of `values` holds a Python container to fetch.
pub(super) fn needed(inner: &Inner, values: &[Value]) -> bool {
    values.iter().any(|v| match v {
        Value::Seq(items) => needed(inner, items),
        Value::Map(entries) => entries
            .iter()
            .any(|(k, v)| needed(inner, std::slice::from_ref(k)) || needed(inner, std::slice::from_ref(v))),
        other => container(inner, other).is_some(),
    })
}

/// `values` with every Python container replaced by its content.
pub(super) async fn all(inner: &Arc<Inner>, values: Vec<Value>) -> Result<Vec<Value>, RemoteError> {
    try_join_all(values.into_iter().map(|v| fetch(inner.clone(), v, 0))).await
}

fn fetch(inner: Arc<Inner>, value: Value, depth: usize) -> BoxFuture<'static, Result<Value, RemoteError>> {
    async move {
        if depth > MAX_NESTING {
            return Err(failed(format!("containers nested deeper than {MAX_NESTING}")));
        }
        match value {
            Value::Seq(items) => Ok(Value::Seq(
                try_join_all(items.into_iter().map(|v| fetch(inner.clone(), v, depth + 1))).await?,
            )),
            other => match container(&inner, &other) {
                None => Ok(other),
                Some((id, kind)) => read(inner, id, kind, depth).await,
            },
        }
    }
    .boxed()
}

async fn read(inner: Arc<Inner>, id: u64, kind: Container, depth: usize) -> Result<Value, RemoteError> {
    let conn = inner
        .connection()
        .ok_or_else(|| failed("the connection is closing".into()))?;
    let items = match conn.request(id, OpRef::Items, Vec::new(), None).await {
        Ok(Value::Seq(items)) => items,
        Ok(other) => return Err(failed(format!("its items arrived as a {}", other.kind()))),
        Err(e) => return Err(failed(e.to_string())),
    };
    match kind {
        Container::Items => Ok(Value::Seq(
            try_join_all(items.into_iter().map(|v| fetch(inner.clone(), v, depth + 1))).await?,
        )),
        Container::Dict => {
            let lookups = items.into_iter().map(|key| {
                let (conn, inner) = (conn.clone(), inner.clone());
                async move {
                    let value = conn
                        .request(id, OpRef::Special("__getitem__"), vec![key.clone()], None)
                        .await
                        .map_err(|e: Error| failed(e.to_string()))?;
                    let key = fetch(inner.clone(), key, depth + 1).await?;
                    Ok::<_, RemoteError>((key, fetch(inner, value, depth + 1).await?))
                }
            });
            Ok(Value::Map(try_join_all(lookups).await?))
        }
    }
}

fn failed(why: String) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::BadArguments,
        "builtins.TypeError",
        format!("a Python container argument could not be read: {why}"),
    )
}
