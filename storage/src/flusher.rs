//! The engine's metadata flusher: group commit of the metadata store for every core at once. A
//! flush makes durable everything applied before it started, on any core, so one flush serves
//! all cores (per-core flushes of the one shared store would repeat each other's work).
//!
//! Progress is counted per owner core: `begun` before a mutation is applied, `applied` after it.
//! A flush snapshots `applied` before it starts and publishes the snapshot as `durable` when it
//! completes. A reader that saw a mutation in the store waits until `durable >= begun` as it was
//! after its read, which covers every mutation it could have seen.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;

use crate::commit::Health;
use crate::error::{Error, Result};
use crate::meta::MetaStore;

/// Per owner core: mutations begun, applied, and made durable by a completed flush.
#[derive(Debug)]
pub(crate) struct Progress {
    begun: Vec<AtomicU64>,
    applied: Vec<AtomicU64>,
    durable: Vec<AtomicU64>,
}

impl Progress {
    fn new(cores: usize) -> Progress {
        let counters = || (0..cores).map(|_| AtomicU64::new(0)).collect();
        Progress {
            begun: counters(),
            applied: counters(),
            durable: counters(),
        }
    }

    /// Call on core `core` right before applying a mutation to the store.
    pub(crate) fn begin(&self, core: usize) {
        self.begun[core].fetch_add(1, Ordering::SeqCst);
    }

    /// Call on core `core` right after applying it (whether or not it changed anything).
    pub(crate) fn finish(&self, core: usize) {
        self.applied[core].fetch_add(1, Ordering::SeqCst);
    }

    /// What a reader must wait for: every mutation begun before now.
    pub(crate) fn begun_now(&self) -> Vec<u64> {
        self.begun
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .collect()
    }

    /// Whether every mutation counted in `wanted` is durable.
    pub(crate) fn is_durable(&self, wanted: &[u64]) -> bool {
        wanted
            .iter()
            .zip(&self.durable)
            .all(|(w, d)| d.load(Ordering::SeqCst) >= *w)
    }
}

#[derive(Debug, Default)]
struct State {
    /// Flushes started and finished (a flush's generation is its start number).
    started: u64,
    finished: u64,
    /// The highest generation a waiter asked for.
    wanted: u64,
    /// The first failed flush and why; it and every later flush fail.
    failed: Option<(u64, String)>,
    waiters: Vec<Waker>,
    stop: bool,
}

#[derive(Debug, Default)]
struct Control {
    state: Mutex<State>,
    work: Condvar,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Owns the flusher thread; stops and joins it when dropped (after the flushes asked for).
///
/// One thread, one flush at a time: a flush is the store's `flush` (write the log out) then its
/// `sync` (make it durable). Overlapping the next group's write with the previous group's sync
/// was measured and gained nothing (the sync waits for the concurrent writeback anyway).
#[derive(Debug)]
pub(crate) struct MetaFlusher {
    control: Arc<Control>,
    pub(crate) progress: Arc<Progress>,
    thread: Option<JoinHandle<()>>,
}

impl MetaFlusher {
    pub(crate) fn start(
        meta: Arc<dyn MetaStore>,
        cores: usize,
        health: Health,
    ) -> Result<MetaFlusher> {
        let control = Arc::new(Control::default());
        let progress = Arc::new(Progress::new(cores));
        let thread = std::thread::Builder::new()
            .name("cairn-meta-flush".into())
            .spawn({
                let control = control.clone();
                let progress = progress.clone();
                move || flush_loop(&control, &progress, meta.as_ref(), &health)
            })?;
        Ok(MetaFlusher {
            control,
            progress,
            thread: Some(thread),
        })
    }

    /// Resolves once a flush that started after this call has completed: everything applied
    /// before the call is then durable. Fails (for good) once a flush has failed.
    pub(crate) fn flush(&self) -> FlushWait {
        let mut s = self.control.lock();
        let target = s.started + 1;
        if s.wanted < target && s.failed.is_none() {
            s.wanted = target;
            self.control.work.notify_one();
        }
        FlushWait {
            control: self.control.clone(),
            target,
        }
    }
}

impl Drop for MetaFlusher {
    fn drop(&mut self) {
        self.control.lock().stop = true;
        self.control.work.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn flush_loop(control: &Control, progress: &Progress, meta: &dyn MetaStore, health: &Health) {
    loop {
        let generation = {
            let mut s = control.lock();
            while s.wanted <= s.started && !s.stop && s.failed.is_none() {
                s = control.work.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.wanted <= s.started || s.failed.is_some() {
                return;
            }
            s.started += 1;
            s.started
        };
        // Taken after the generation was claimed: a waiter of this generation asked (after
        // applying its mutation) before the claim, so its mutation is in the snapshot.
        let snapshot: Vec<u64> = progress
            .applied
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .collect();
        let result = meta.flush().and_then(|()| meta.sync());
        match &result {
            Ok(()) => {
                for (durable, applied) in progress.durable.iter().zip(snapshot) {
                    durable.fetch_max(applied, Ordering::SeqCst);
                }
            }
            Err(e) => health.poison(format!("metadata flush failed: {e}")),
        }
        let waiters = {
            let mut s = control.lock();
            match result {
                Ok(()) => s.finished = generation,
                Err(e) => s.failed = Some((generation, e.to_string())),
            }
            std::mem::take(&mut s.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }
}

/// A wait for a flush that started after it was asked for (see [`MetaFlusher::flush`]).
#[derive(Debug)]
pub(crate) struct FlushWait {
    control: Arc<Control>,
    target: u64,
}

impl Future for FlushWait {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut s = self.control.lock();
        if s.finished >= self.target {
            return Poll::Ready(Ok(()));
        }
        if let Some((generation, reason)) = &s.failed {
            if *generation <= self.target {
                return Poll::Ready(Err(Error::Poisoned(format!(
                    "metadata flush failed: {reason}"
                ))));
            }
        }
        if !s.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            s.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;
    use crate::meta::{Change, RangeIter};

    /// A store whose flush takes a while, counts itself and fails on demand.
    #[derive(Default)]
    struct SlowFlush {
        flushes: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    impl MetaStore for SlowFlush {
        fn get(&self, _: &[u8]) -> Result<Option<Vec<u8>>> {
            Ok(None)
        }
        fn apply(&self, _: Vec<Change>) -> Result<()> {
            Ok(())
        }
        fn range(&self, _: &[u8], _: &[u8]) -> RangeIter {
            Box::new(std::iter::empty())
        }
        fn flush(&self) -> Result<()> {
            std::thread::sleep(Duration::from_millis(5));
            self.flushes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn sync(&self) -> Result<()> {
            std::thread::sleep(Duration::from_millis(3));
            if self.fail.load(Ordering::SeqCst) {
                return Err(Error::Io(std::io::Error::other("disk gone")));
            }
            Ok(())
        }
        fn generate_id(&self) -> Result<u64> {
            Ok(0)
        }
        fn size_on_disk(&self) -> Result<u64> {
            Ok(0)
        }
    }

    #[test]
    fn concurrent_waiters_share_flushes_and_each_gets_a_later_one() {
        let store = Arc::new(SlowFlush::default());
        let flusher =
            Arc::new(MetaFlusher::start(store.clone(), 2, Health::default()).expect("flusher"));
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let (flusher, store) = (flusher.clone(), store.clone());
                std::thread::spawn(move || {
                    flusher.progress.begin(i % 2);
                    flusher.progress.finish(i % 2);
                    let seen = store.flushes.load(Ordering::SeqCst);
                    futures_lite::future::block_on(flusher.flush()).expect("flush");
                    // A flush that started after the request has completed.
                    assert!(store.flushes.load(Ordering::SeqCst) > seen);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("waiter");
        }
        // Everything applied is durable, in far fewer flushes than requests.
        assert!(flusher.progress.is_durable(&flusher.progress.begun_now()));
        assert!(store.flushes.load(Ordering::SeqCst) < 16);
    }

    #[test]
    fn a_failed_flush_fails_its_waiters_and_every_later_one() {
        let store = Arc::new(SlowFlush::default());
        let health = Health::default();
        let flusher = MetaFlusher::start(store.clone(), 1, health.clone()).expect("flusher");
        futures_lite::future::block_on(flusher.flush()).expect("first flush");
        store.fail.store(true, Ordering::SeqCst);
        flusher.progress.begin(0);
        flusher.progress.finish(0);
        let err = futures_lite::future::block_on(flusher.flush()).unwrap_err();
        assert!(
            matches!(&err, Error::Poisoned(r) if r.contains("disk gone")),
            "{err:?}"
        );
        assert!(matches!(health.check(), Err(Error::Poisoned(_))));
        store.fail.store(false, Ordering::SeqCst);
        // The store "recovered", but what the failed flush held is unknown: no more successes.
        assert!(futures_lite::future::block_on(flusher.flush()).is_err());
        assert!(!flusher.progress.is_durable(&flusher.progress.begun_now()));
    }
}
