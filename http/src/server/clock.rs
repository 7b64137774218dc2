//! A coarse per-core clock and deadline registry for connection timeouts.
//!
//! Timeouts here are seconds long and need no precision, so instead of a timer per read
//! (a clock read, a timer-tree insert and removal, and sometimes an io_uring timeout op, on
//! every request) one ticker task per core advances the clock every [`TICK`] and fires the
//! deadlines that have passed. Arming a deadline is a slot in a vector; the hot path reads
//! no clock at all. The ticker also refreshes the cached `Date` header value.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use super::core::CoreShared;

use crate::proto::HttpDate;

/// How often deadlines are checked: a timeout fires up to this much late.
pub(crate) const TICK: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct Entry {
    at: Instant,
    waker: Option<Waker>,
    armed: bool,
    fired: bool,
    /// Fired early by a drain (an idle keep-alive wait).
    interruptible: bool,
    interrupted: bool,
}

#[derive(Debug)]
pub(crate) struct CoarseClock {
    now: Cell<Instant>,
    date: Cell<HttpDate>,
    entries: RefCell<Vec<Option<Entry>>>,
    free: RefCell<Vec<usize>>,
}

impl CoarseClock {
    pub(crate) fn new() -> Self {
        CoarseClock {
            now: Cell::new(Instant::now()),
            date: Cell::new(HttpDate::from_system_time(SystemTime::now())),
            entries: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
        }
    }

    /// The time as of the last tick.
    pub(crate) fn now(&self) -> Instant {
        self.now.get()
    }

    /// The `Date` header value as of the last tick.
    pub(crate) fn date(&self) -> HttpDate {
        self.date.get()
    }

    /// Advances the clock and fires every armed deadline that has passed. Called by the
    /// ticker.
    pub(crate) fn tick(&self) {
        let now = Instant::now();
        self.now.set(now);
        self.date.set(HttpDate::from_system_time(SystemTime::now()));
        self.fire(|entry| entry.at <= now, false);
    }

    /// Fires every armed interruptible deadline now (the core is draining).
    pub(crate) fn interrupt(&self) {
        self.fire(|entry| entry.interruptible, true);
    }

    fn fire(&self, due: impl Fn(&Entry) -> bool, interrupted: bool) {
        let mut woken = Vec::new();
        for entry in self.entries.borrow_mut().iter_mut().flatten() {
            if entry.armed && !entry.fired && due(entry) {
                entry.fired = true;
                entry.interrupted = interrupted;
                if let Some(waker) = entry.waker.take() {
                    woken.push(waker);
                }
            }
        }
        for waker in woken {
            waker.wake();
        }
    }

    fn allocate(&self) -> usize {
        let entry = Some(Entry {
            at: self.now(),
            waker: None,
            armed: false,
            fired: false,
            interruptible: false,
            interrupted: false,
        });
        let mut entries = self.entries.borrow_mut();
        match self.free.borrow_mut().pop() {
            Some(i) => {
                entries[i] = entry;
                i
            }
            None => {
                entries.push(entry);
                entries.len() - 1
            }
        }
    }

    fn release(&self, index: usize) {
        self.entries.borrow_mut()[index] = None;
        self.free.borrow_mut().push(index);
    }

    fn with_entry<R>(&self, index: usize, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        self.entries.borrow_mut()[index].as_mut().map(f)
    }
}

/// One connection's deadline slot, held for the connection's life: arming it for each
/// read or write costs no allocation and, after the first, no waker clone.
#[derive(Debug)]
pub(crate) struct ConnTimer {
    core: Rc<CoreShared>,
    index: usize,
}

impl ConnTimer {
    pub(crate) fn new(core: Rc<CoreShared>) -> Self {
        let index = core.clock.allocate();
        ConnTimer { core, index }
    }

    fn clock(&self) -> &CoarseClock {
        &self.core.clock
    }

    /// Runs `fut`, failing with `TimedOut` once the clock passes `at`, or with `Interrupted`
    /// if `interruptible` and the core starts draining.
    pub(crate) async fn run_until<T>(
        &self,
        at: Instant,
        interruptible: bool,
        fut: impl Future<Output = io::Result<T>>,
    ) -> io::Result<T> {
        self.clock().with_entry(self.index, |entry| {
            entry.at = at;
            entry.armed = true;
            entry.fired = false;
            entry.interruptible = interruptible;
            entry.interrupted = false;
        });
        let _disarm = Disarm(self);
        let expired = futures_lite::future::poll_fn(|cx| self.poll_fired(cx));
        futures_lite::future::or(fut, async {
            let interrupted = expired.await;
            let kind = if interrupted {
                io::ErrorKind::Interrupted
            } else {
                io::ErrorKind::TimedOut
            };
            Err(io::Error::new(kind, "timed out"))
        })
        .await
    }

    /// Runs `fut` with a timeout of `limit` (give or take a tick).
    pub(crate) async fn run<T>(
        &self,
        limit: Duration,
        fut: impl Future<Output = io::Result<T>>,
    ) -> io::Result<T> {
        self.run_until(self.clock().now() + limit, false, fut).await
    }

    /// Ready (with whether it was a drain) once the armed deadline fired.
    fn poll_fired(&self, cx: &mut Context<'_>) -> Poll<bool> {
        if self.clock().now() >= self.deadline() {
            return Poll::Ready(false);
        }
        self.clock()
            .with_entry(self.index, |entry| {
                if entry.fired {
                    return Poll::Ready(entry.interrupted);
                }
                match &entry.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => entry.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            })
            .unwrap_or(Poll::Ready(false))
    }

    fn deadline(&self) -> Instant {
        self.clock()
            .with_entry(self.index, |entry| entry.at)
            .unwrap_or_else(|| self.clock().now())
    }
}

struct Disarm<'a>(&'a ConnTimer);

impl Drop for Disarm<'_> {
    fn drop(&mut self) {
        self.0
            .clock()
            .with_entry(self.0.index, |entry| entry.armed = false);
    }
}

impl Drop for ConnTimer {
    fn drop(&mut self) {
        self.core.clock.release(self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_fire_on_tick_or_drain_and_are_reused() {
        let clock = CoarseClock::new();
        let a = clock.allocate();
        let b = clock.allocate();
        let arm = |i: usize, at: Instant, interruptible: bool| {
            clock.with_entry(i, |e| {
                e.at = at;
                e.armed = true;
                e.fired = false;
                e.interruptible = interruptible;
            });
        };
        arm(a, clock.now() + Duration::from_millis(1), false);
        arm(b, clock.now() + Duration::from_secs(3600), true);
        std::thread::sleep(Duration::from_millis(5));
        clock.tick();
        assert_eq!(clock.with_entry(a, |e| e.fired), Some(true));
        assert_eq!(clock.with_entry(b, |e| e.fired), Some(false));
        clock.interrupt();
        assert_eq!(
            clock.with_entry(b, |e| (e.fired, e.interrupted)),
            Some((true, true))
        );
        clock.release(a);
        assert_eq!(clock.allocate(), a);
    }
}
