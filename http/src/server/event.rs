//! A one-shot event for the tasks of one core: set once, and every waiter wakes.
//!
//! Used for "this core is draining" and "the last connection closed". Waiters that are
//! dropped before the event give their slot back, so idle connections that come and go do
//! not pile up wakers.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
pub(crate) struct LocalEvent {
    set: Cell<bool>,
    slots: RefCell<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl LocalEvent {
    pub(crate) fn is_set(&self) -> bool {
        self.set.get()
    }

    /// Sets the event and wakes every waiter.
    pub(crate) fn set(&self) {
        if self.set.replace(true) {
            return;
        }
        let wakers: Vec<Waker> = self
            .slots
            .borrow_mut()
            .wakers
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for waker in wakers {
            waker.wake();
        }
    }

    /// Resolves once the event is set.
    pub(crate) fn wait(&self) -> Wait<'_> {
        Wait {
            event: self,
            slot: None,
        }
    }
}

pub(crate) struct Wait<'a> {
    event: &'a LocalEvent,
    slot: Option<usize>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.event.set.get() {
            return Poll::Ready(());
        }
        let mut slots = this.event.slots.borrow_mut();
        match this.slot {
            Some(i) => slots.wakers[i] = Some(cx.waker().clone()),
            None => {
                let waker = Some(cx.waker().clone());
                let i = match slots.free.pop() {
                    Some(i) => {
                        slots.wakers[i] = waker;
                        i
                    }
                    None => {
                        slots.wakers.push(waker);
                        slots.wakers.len() - 1
                    }
                };
                this.slot = Some(i);
            }
        }
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let mut slots = self.event.slots.borrow_mut();
            slots.wakers[i] = None;
            slots.free.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_waiters_free_their_slots() {
        let event = LocalEvent::default();
        let waker = futures_lite::future::block_on(futures_lite::future::poll_fn(|cx| {
            Poll::Ready(cx.waker().clone())
        }));
        let mut cx = Context::from_waker(&waker);
        for _ in 0..100 {
            let mut wait = event.wait();
            assert!(Pin::new(&mut wait).poll(&mut cx).is_pending());
        }
        assert_eq!(event.slots.borrow().wakers.len(), 1);
        let mut wait = event.wait();
        assert!(Pin::new(&mut wait).poll(&mut cx).is_pending());
        event.set();
        assert!(Pin::new(&mut wait).poll(&mut cx).is_ready());
        assert!(event.is_set());
    }
}
