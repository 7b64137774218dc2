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
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use crate::proto::HttpDate;

/// How often deadlines are checked: a timeout fires up to this much late.
pub(crate) const TICK: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct Entry {
    at: Instant,
    waker: Option<Waker>,
    fired: bool,
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

    /// Advances the clock and fires every deadline that has passed. Called by the ticker.
    pub(crate) fn tick(&self) {
        let now = Instant::now();
        self.now.set(now);
        self.date.set(HttpDate::from_system_time(SystemTime::now()));
        let mut due = Vec::new();
        for entry in self.entries.borrow_mut().iter_mut().flatten() {
            if !entry.fired && entry.at <= now {
                entry.fired = true;
                if let Some(waker) = entry.waker.take() {
                    due.push(waker);
                }
            }
        }
        for waker in due {
            waker.wake();
        }
    }

    /// Resolves once the clock passes `at`.
    pub(crate) fn deadline(&self, at: Instant) -> Deadline<'_> {
        Deadline {
            clock: self,
            at,
            slot: None,
        }
    }

    fn register(&self, at: Instant, waker: &Waker) -> usize {
        let entry = Some(Entry {
            at,
            waker: Some(waker.clone()),
            fired: false,
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
}

pub(crate) struct Deadline<'a> {
    clock: &'a CoarseClock,
    at: Instant,
    slot: Option<usize>,
}

impl Future for Deadline<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match this.slot {
            None => {
                if this.clock.now() >= this.at {
                    return Poll::Ready(());
                }
                this.slot = Some(this.clock.register(this.at, cx.waker()));
                Poll::Pending
            }
            Some(i) => {
                let mut entries = this.clock.entries.borrow_mut();
                let Some(entry) = entries[i].as_mut() else {
                    return Poll::Ready(());
                };
                if entry.fired {
                    return Poll::Ready(());
                }
                match &entry.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => entry.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Deadline<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            self.clock.entries.borrow_mut()[i] = None;
            self.clock.free.borrow_mut().push(i);
        }
    }
}

/// Runs `fut`, failing with `TimedOut` once the clock passes `at`.
pub(crate) async fn with_deadline<T>(
    clock: &CoarseClock,
    at: Instant,
    fut: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    futures_lite::future::or(fut, async {
        clock.deadline(at).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
    })
    .await
}

/// Runs `fut`, failing with `TimedOut` if it takes longer than `limit` (give or take a tick).
pub(crate) async fn with_timeout<T>(
    clock: &CoarseClock,
    limit: Duration,
    fut: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    with_deadline(clock, clock.now() + limit, fut).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop_waker() -> Waker {
        futures_lite::future::block_on(futures_lite::future::poll_fn(|cx| {
            Poll::Ready(cx.waker().clone())
        }))
    }

    #[test]
    fn deadlines_fire_on_tick_and_free_their_slots() {
        let clock = CoarseClock::new();
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut past = clock.deadline(clock.now());
        assert!(Pin::new(&mut past).poll(&mut cx).is_ready());
        let mut soon = clock.deadline(clock.now() + Duration::from_millis(1));
        let mut later = clock.deadline(clock.now() + Duration::from_secs(3600));
        assert!(Pin::new(&mut soon).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut later).poll(&mut cx).is_pending());
        std::thread::sleep(Duration::from_millis(5));
        clock.tick();
        assert!(Pin::new(&mut soon).poll(&mut cx).is_ready());
        assert!(Pin::new(&mut later).poll(&mut cx).is_pending());
        drop(soon);
        drop(later);
        assert!(clock.entries.borrow().iter().all(Option::is_none));
        assert_eq!(clock.free.borrow().len(), 2);
    }
}
