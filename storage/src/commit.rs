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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn concurrent_callers_share_runs_and_each_waits_for_a_later_one() {
        glommio::LocalExecutorBuilder::default()
            .spawn(|| async {
                let group = Rc::new(GroupCommit::default());
                let runs = Rc::new(Cell::new(0u32));
                let mut tasks = Vec::new();
                for _ in 0..32 {
                    let group = group.clone();
                    let runs = runs.clone();
                    tasks.push(glommio::spawn_local(async move {
                        let asked_at = runs.get();
                        group
                            .sync(|| {
                                let runs = runs.clone();
                                async move {
                                    glommio::timer::sleep(std::time::Duration::from_millis(5))
                                        .await;
                                    runs.set(runs.get() + 1);
                                    Ok(())
                                }
                            })
                            .await
                            .unwrap();
                        // A run that started after we asked has finished.
                        assert!(runs.get() > asked_at);
                    }));
                }
                for t in tasks {
                    t.await;
                }
                // The first caller runs alone; everyone else shares the next run.
                assert_eq!(runs.get(), 2);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn a_failed_run_fails_its_callers() {
        glommio::LocalExecutorBuilder::default()
            .spawn(|| async {
                let group = GroupCommit::default();
                let res = group
                    .sync(|| async { Err(Error::Io(std::io::Error::other("disk gone"))) })
                    .await;
                assert!(res.is_err());
                assert!(group.sync(|| async { Ok(()) }).await.is_ok());
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn health_poisons_once_and_says_why() {
        let h = Health::default();
        assert!(h.check().is_ok());
        h.poison("fsync failed: EIO".into());
        h.poison("second".into());
        assert!(matches!(h.check(), Err(Error::Poisoned(r)) if r.contains("EIO")));
    }
}
