//! Group commit (concurrent writers share one sync) and the engine's health: a failed
//! durability step poisons the engine so no later write is acknowledged on top of it.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use glommio::sync::Semaphore;

use crate::error::{Error, Result};

/// Set once a durability step fails; writes are refused from then on.
#[derive(Debug, Default, Clone)]
pub struct Health {
    poisoned: Arc<Mutex<Option<String>>>,
}

impl Health {
    /// `Err(Poisoned)` once a durability failure happened.
    pub fn check(&self) -> Result<()> {
        match &*self.poisoned.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(reason) => Err(Error::Poisoned(reason.clone())),
            None => Ok(()),
        }
    }

    pub fn poison(&self, reason: String) {
        let mut slot = self.poisoned.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            tracing::error!(%reason, "durability failure: the storage engine refuses further writes until restarted");
            *slot = Some(reason);
        }
    }
}

#[derive(Debug, Default)]
struct State {
    started: u64,
    finished: u64,
    running: bool,
    last_error: Option<(u64, String)>,
}

/// Runs a sync operation on behalf of many callers on one core: a caller waits for a sync that
/// *started after* it asked, and joins the one that is about to start rather than running its own.
#[derive(Debug)]
pub struct GroupCommit {
    state: RefCell<State>,
    wake: Rc<Semaphore>,
    waiters: RefCell<usize>,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            state: RefCell::default(),
            wake: Rc::new(Semaphore::new(0)),
            waiters: RefCell::new(0),
        }
    }
}

impl GroupCommit {
    /// Waits until a run of `op` that began after this call has completed, running it if no one
    /// else is. Returns that run's error, if any.
    pub async fn sync<F, Fut>(&self, op: F) -> Result<()>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let target = self.state.borrow().started + 1;
        loop {
            let gen = {
                let mut s = self.state.borrow_mut();
                if s.finished >= target {
                    return match &s.last_error {
                        Some((gen, reason)) if *gen >= target => {
                            Err(Error::Poisoned(reason.clone()))
                        }
                        _ => Ok(()),
                    };
                }
                if s.running {
                    None
                } else {
                    s.running = true;
                    s.started += 1;
                    Some(s.started)
                }
            };
            let Some(gen) = gen else {
                *self.waiters.borrow_mut() += 1;
                let _ = self.wake.acquire(1).await;
                continue;
            };
            let res = op().await;
            {
                let mut s = self.state.borrow_mut();
                s.running = false;
                s.finished = gen;
                if let Err(e) = &res {
                    s.last_error = Some((gen, e.to_string()));
                }
            }
            let waiting = std::mem::take(&mut *self.waiters.borrow_mut());
            self.wake.signal(waiting as u64);
            return res;
        }
    }
}
