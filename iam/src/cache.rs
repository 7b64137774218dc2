//! One core's cache of opened keys: a hit costs a hash look-up and one atomic load (the
//! store's change counter), no lock; any change to the store empties every core's cache
//! before its next request, so a revoked key fails at once everywhere. Last uses are kept
//! here and reported to the store in batches.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use cairn_sigv4::SecretKey;

use crate::store::{Iam, Principal};

/// Keys a core keeps opened; past it the cache starts over (reporting first).
pub const CACHE_ENTRIES: usize = 16_384;

/// An opened key in a core's cache.
#[derive(Debug)]
pub struct CachedKey {
    pub access_key_id: String,
    pub principal: Principal,
    pub secret: SecretKey,
    expires: Option<u64>,
    last_used: Cell<u64>,
    reported: Cell<u64>,
}

impl CachedKey {
    /// Records a request this key signed (call once its signature verified).
    pub fn touch(&self, now: u64) {
        if now > self.last_used.get() {
            self.last_used.set(now);
        }
    }
}

/// One core's cache.
#[derive(Debug)]
pub struct KeyCache {
    iam: Arc<Iam>,
    generation: Cell<u64>,
    entries: RefCell<HashMap<String, Rc<CachedKey>>>,
}

impl KeyCache {
    pub fn new(iam: Arc<Iam>) -> KeyCache {
        KeyCache {
            generation: Cell::new(iam.generation()),
            iam,
            entries: RefCell::new(HashMap::new()),
        }
    }

    /// The key `access_key_id` if it is active and unexpired at `now` (unix seconds).
    pub fn lookup(&self, access_key_id: &str, now: u64) -> Option<Rc<CachedKey>> {
        let generation = self.iam.generation();
        if generation != self.generation.get() {
            self.report();
            self.entries.borrow_mut().clear();
            self.generation.set(generation);
        }
        if let Some(key) = self.entries.borrow().get(access_key_id) {
            return key.expires.is_none_or(|t| now < t).then(|| key.clone());
        }
        let resolved = self.iam.resolve(access_key_id, now)?;
        let key = Rc::new(CachedKey {
            access_key_id: resolved.access_key_id,
            principal: resolved.principal,
            secret: resolved.secret,
            expires: resolved.expires,
            last_used: Cell::new(0),
            reported: Cell::new(0),
        });
        if self.entries.borrow().len() >= CACHE_ENTRIES {
            self.report();
            self.entries.borrow_mut().clear();
        }
        self.entries
            .borrow_mut()
            .insert(key.access_key_id.clone(), key.clone());
        Some(key)
    }

    /// Reports the last uses not yet reported to the store.
    pub fn report(&self) {
        let used: Vec<(String, u64)> = self
            .entries
            .borrow()
            .values()
            .filter(|k| k.last_used.get() > k.reported.get())
            .map(|k| {
                k.reported.set(k.last_used.get());
                (k.access_key_id.clone(), k.last_used.get())
            })
            .collect();
        if !used.is_empty() {
            self.iam.record_last_used(used);
        }
    }

    /// The store this cache reads.
    pub fn iam(&self) -> &Arc<Iam> {
        &self.iam
    }
}
