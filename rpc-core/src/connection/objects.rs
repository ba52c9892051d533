//! The two object tables of a connection, as plain bookkeeping without I/O.
//!
//! * Exports: objects of ours the peer holds references to, with how many times each was sent.
//!   The same object sent twice keeps its id; the entry goes when the peer has released every
//!   reference it received.
//! * Imports: the peer's objects we hold proxies for, as weak handles, so receiving the same
//!   remote object twice yields the same proxy.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use crate::protocol::ObjectId;
use crate::service::Service;

/// Why an export or a release was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TableError {
    /// The export table is full.
    #[error("too many objects exported on this connection (limit {0})")]
    Full(usize),
    /// A release named an object that is not exported.
    #[error("release of object {0}, which this side does not export")]
    UnknownObject(ObjectId),
    /// A release named more references than were sent.
    #[error("release of {released} references to object {id}, which was sent {sent} times")]
    OverRelease {
        /// The object.
        id: ObjectId,
        /// References released.
        released: u64,
        /// References sent and not yet released.
        sent: u64,
    },
}

struct Export {
    object: Arc<dyn Service>,
    sent: u64,
}

/// Objects of ours that the peer holds.
pub(crate) struct ExportTable {
    next_id: ObjectId,
    entries: HashMap<ObjectId, Export>,
    by_address: HashMap<usize, ObjectId>,
    limit: usize,
}

fn address(object: &Arc<dyn Service>) -> usize {
    Arc::as_ptr(object) as *const () as usize
}

impl ExportTable {
    /// An empty table holding at most `limit` objects. Ids start at 1; 0 is the root.
    pub(crate) fn new(limit: usize) -> Self {
        ExportTable {
            next_id: 1,
            entries: HashMap::new(),
            by_address: HashMap::new(),
            limit,
        }
    }

    /// Records one more sending of `object` and returns its id.
    pub(crate) fn export(&mut self, object: &Arc<dyn Service>) -> Result<ObjectId, TableError> {
        if let Some(id) = self.by_address.get(&address(object)) {
            if let Some(e) = self.entries.get_mut(id) {
                e.sent += 1;
                return Ok(*id);
            }
        }
        if self.entries.len() >= self.limit {
            return Err(TableError::Full(self.limit));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.by_address.insert(address(object), id);
        self.entries.insert(
            id,
            Export {
                object: object.clone(),
                sent: 1,
            },
        );
        Ok(id)
    }

    /// The exported object `id`.
    pub(crate) fn get(&self, id: ObjectId) -> Option<Arc<dyn Service>> {
        self.entries.get(&id).map(|e| e.object.clone())
    }

    /// The peer dropped `count` references to `id`; returns the object if that was the last.
    pub(crate) fn release(
        &mut self,
        id: ObjectId,
        count: u64,
    ) -> Result<Option<Arc<dyn Service>>, TableError> {
        let Some(entry) = self.entries.get_mut(&id) else {
            return Err(TableError::UnknownObject(id));
        };
        if count > entry.sent {
            return Err(TableError::OverRelease {
                id,
                released: count,
                sent: entry.sent,
            });
        }
        entry.sent -= count;
        if entry.sent > 0 {
            return Ok(None);
        }
        let entry = self.entries.remove(&id).map(|e| e.object);
        if let Some(object) = &entry {
            self.by_address.remove(&address(object));
        }
        Ok(entry)
    }

    /// Drops every entry (the connection closed).
    pub(crate) fn clear(&mut self) -> Vec<Arc<dyn Service>> {
        self.by_address.clear();
        self.entries.drain().map(|(_, e)| e.object).collect()
    }

    /// Number of exported objects.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Proxies of the peer's objects, by id. `P` is the proxy's shared state.
pub(crate) struct ImportTable<P> {
    entries: HashMap<ObjectId, Weak<P>>,
}

impl<P> Default for ImportTable<P> {
    fn default() -> Self {
        ImportTable {
            entries: HashMap::new(),
        }
    }
}

impl<P> ImportTable<P> {
    /// The live proxy of `id`, or a new one made by `make` (and remembered).
    pub(crate) fn get_or_insert(&mut self, id: ObjectId, make: impl FnOnce() -> Arc<P>) -> (Arc<P>, bool) {
        if let Some(p) = self.entries.get(&id).and_then(Weak::upgrade) {
            return (p, false);
        }
        let p = make();
        self.entries.insert(id, Arc::downgrade(&p));
        (p, true)
    }

    /// Forgets `id` if its entry is the proxy at `proxy` (a newer proxy may have replaced it).
    pub(crate) fn remove_if(&mut self, id: ObjectId, proxy: *const P) {
        if self
            .entries
            .get(&id)
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), proxy))
        {
            self.entries.remove(&id);
        }
    }

    /// Drops every entry (the connection closed).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Whether `id` has a live proxy.
    pub(crate) fn is_live(&self, id: ObjectId) -> bool {
        self.entries.get(&id).is_some_and(|w| w.strong_count() > 0)
    }

    /// Number of remembered proxies (live or not yet cleaned up).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::VoidService;

    fn object() -> Arc<dyn Service> {
        Arc::new(VoidService)
    }

    #[test]
    fn the_same_object_keeps_its_id_and_counts_sendings() {
        let mut t = ExportTable::new(10);
        let a = object();
        let b = object();
        let ia = t.export(&a).expect("room");
        assert_eq!(t.export(&a).expect("room"), ia);
        let ib = t.export(&b).expect("room");
        assert_ne!(ia, ib);
        assert_ne!(ia, 0, "0 is the root");
        assert_eq!(
            t.release(ia, 1).expect("known").map(|_| ()),
            None,
            "one sending left"
        );
        assert!(t.release(ia, 1).expect("known").is_some(), "last one frees it");
        assert_eq!(t.len(), 1);
        // A freed object exported again gets a fresh id.
        assert_ne!(t.export(&a).expect("room"), ia);
    }

    #[test]
    fn bad_releases_are_refused() {
        let mut t = ExportTable::new(10);
        let a = object();
        let id = t.export(&a).expect("room");
        assert_eq!(t.release(99, 1).err(), Some(TableError::UnknownObject(99)));
        assert_eq!(
            t.release(id, 2).err(),
            Some(TableError::OverRelease {
                id,
                released: 2,
                sent: 1
            })
        );
        assert_eq!(t.len(), 1, "a refused release changes nothing");
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = ExportTable::new(2);
        let objs: Vec<_> = (0..3).map(|_| object()).collect();
        t.export(&objs[0]).expect("room");
        t.export(&objs[1]).expect("room");
        assert_eq!(t.export(&objs[2]), Err(TableError::Full(2)));
        t.export(&objs[0]).expect("a known object still goes");
        assert_eq!(t.clear().len(), 2);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn imports_reuse_live_proxies_only() {
        let mut t = ImportTable::<u32>::default();
        let (p, new) = t.get_or_insert(5, || Arc::new(1));
        assert!(new);
        let (q, new) = t.get_or_insert(5, || Arc::new(2));
        assert!(!new && Arc::ptr_eq(&p, &q));
        let old = Arc::as_ptr(&p);
        drop((p, q));
        let (r, new) = t.get_or_insert(5, || Arc::new(3));
        assert!(new && *r == 3);
        t.remove_if(5, old);
        assert_eq!(t.len(), 1, "a stale proxy does not remove its successor");
        t.remove_if(5, Arc::as_ptr(&r));
        assert_eq!(t.len(), 0);
    }
}
