//! [`Published`]: the objects a side offers its peers by name (Pyro's `daemon.register`).

use std::fmt;
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use crate::name::{check_name, NameError};
use crate::object::Object;

/// A table of named objects that peers look up with
/// [`Connection::lookup`](crate::Connection::lookup) (or reach as `rpc://HOST:PORT/NAME`).
///
/// Cheap to clone: clones share one table, so a server's table can change while it serves
/// (`rpc_server::BoundServer::published`); every connection given the table
/// ([`ConnectOptions::published`](crate::ConnectOptions::published)) sees the change at once.
/// Each lookup exports the object to the peer like a method result that returns it: the peer
/// gets a [`NetRef`](crate::NetRef), and looking the same object up twice gives equal ones.
///
/// Unpublishing a name makes later lookups of it fail; references already handed out keep
/// working until their holders drop them (the table is only how peers *find* an object).
///
/// Names are 1 to 256 bytes without whitespace or control characters
/// ([`check_name`](crate::check_name)).
///
/// ```
/// use rpc_core::{memory_pair_with, service, ConnectOptions, Object, Published};
///
/// struct Sensor(f64);
///
/// #[service]
/// impl Sensor {
///     fn exposed_read(&self) -> f64 {
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// let published = Published::new();
/// published.publish("sensor.kitchen", Object::new(Sensor(21.5)))?;
/// let (client, _server) = memory_pair_with(
///     ConnectOptions::new(),
///     ConnectOptions::new().published(published.clone()),
/// )
/// .await?;
/// let kitchen = client.lookup("sensor.kitchen").await?;
/// assert_eq!(kitchen.call::<f64>("read", ()).await?, 21.5);
///
/// published.unpublish("sensor.kitchen");
/// assert!(client.lookup("sensor.kitchen").await.is_err());
/// assert_eq!(kitchen.call::<f64>("read", ()).await?, 21.5, "handed out, still served");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Published {
    objects: Arc<DashMap<String, Object>>,
}

impl Published {
    /// An empty table.
    pub fn new() -> Self {
        Published::default()
    }

    /// Publishes `object` as `name`. Fails if the name breaks the rules of names, or if
    /// another object is published under it ([`NameError::Taken`]: unpublish it first).
    pub fn publish(&self, name: impl Into<String>, object: impl Into<Object>) -> Result<(), NameError> {
        let name = name.into();
        check_name(&name)?;
        match self.objects.entry(name) {
            Entry::Occupied(taken) => Err(NameError::Taken(taken.key().clone())),
            Entry::Vacant(free) => {
                free.insert(object.into());
                Ok(())
            }
        }
    }

    /// Stops offering the object published as `name`, and returns it (`None` if the name was
    /// not published). References peers already hold keep working.
    pub fn unpublish(&self, name: &str) -> Option<Object> {
        self.objects.remove(name).map(|(_, object)| object)
    }

    /// The object published as `name`.
    pub fn get(&self, name: &str) -> Option<Object> {
        self.objects.get(name).map(|entry| entry.value().clone())
    }

    /// True if an object is published as `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.objects.contains_key(name)
    }

    /// The published names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.objects.iter().map(|e| e.key().clone()).collect();
        names.sort_unstable();
        names
    }

    /// How many objects are published.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// True if nothing is published.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

impl fmt::Debug for Published {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Published").field("names", &self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VoidService;

    #[test]
    fn publish_refuses_bad_and_taken_names() {
        let table = Published::new();
        table.publish("b", Object::new(VoidService)).expect("publish b");
        table.publish("a", Object::new(VoidService)).expect("publish a");
        assert_eq!(table.names(), ["a", "b"]);
        assert_eq!(
            table.publish("a", Object::new(VoidService)),
            Err(NameError::Taken("a".into()))
        );
        assert_eq!(table.publish("", Object::new(VoidService)), Err(NameError::Empty));
        assert!(matches!(
            table.publish("a b", Object::new(VoidService)),
            Err(NameError::Forbidden { ch: ' ', at: 1 })
        ));
        let clone = table.clone();
        assert!(clone.unpublish("a").is_some());
        assert!(!table.contains("a") && table.get("b").is_some());
        assert_eq!((table.len(), table.is_empty()), (1, false));
        assert!(table.unpublish("a").is_none());
        table.publish("a", Object::new(VoidService)).expect("free again");
    }
}
