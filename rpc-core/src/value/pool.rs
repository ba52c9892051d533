//! A per-thread pool of emptied argument vectors. A call's arguments are gathered into one on
//! the caller and decoded into one on the callee; each goes back once its values are taken, so
//! a call with a few arguments allocates no vector for them once the pool is warm.

use std::cell::RefCell;

use super::Value;

/// Vectors with more room than this are not kept.
const KEEP_CAPACITY: usize = 16;

/// Vectors a thread keeps.
const POOL_MAX: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<Vec<Value>>> = const { RefCell::new(Vec::new()) };
}

/// An empty vector with room for `capacity` values: a pooled one if this thread has one.
pub(crate) fn arg_vec(capacity: usize) -> Vec<Value> {
    let mut v = POOL
        .try_with(|pool| pool.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default();
    v.reserve(capacity);
    v
}

/// Empties `v` and keeps it for [`arg_vec`] if it is small.
pub(crate) fn recycle(mut v: Vec<Value>) {
    if v.capacity() == 0 || v.capacity() > KEEP_CAPACITY {
        return;
    }
    v.clear();
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < POOL_MAX {
            pool.push(v);
        }
    });
}

/// The values of an argument vector, taken in order; the vector goes back to the pool after.
#[derive(Debug)]
pub struct ArgIter {
    values: Vec<Value>,
    next: usize,
}

impl ArgIter {
    /// Iterates over `values`.
    pub(crate) fn new(values: Vec<Value>) -> Self {
        ArgIter { values, next: 0 }
    }
}

impl Iterator for ArgIter {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        let v = self.values.get_mut(self.next).map(std::mem::take)?;
        self.next += 1;
        Some(v)
    }
}

impl Drop for ArgIter {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.values));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_come_back_empty_and_are_reused() {
        let mut v = arg_vec(2);
        v.push(Value::Int(1));
        v.push(Value::Str("x".into()));
        let addr = v.as_ptr();
        let taken: Vec<Value> = ArgIter::new(v).collect();
        assert_eq!(taken, vec![Value::Int(1), Value::Str("x".into())]);
        let again = arg_vec(1);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), addr, "reused");
        recycle(Vec::with_capacity(KEEP_CAPACITY + 1));
        assert_ne!(
            arg_vec(0).capacity(),
            KEEP_CAPACITY + 1,
            "large vectors are not kept"
        );
    }
}
