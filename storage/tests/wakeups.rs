//! Lost-wakeup regression: a glommio executor must never sleep while it has work. Drives the waits
//! cairn-storage makes (short timer sleeps, foreign-thread wakes like sled's flush completion,
//! cross-core `channel_mesh` messages, sled flushes) on two executors whose preemption timer is
//! short, so that it often expires between an executor polling I/O and running its tasks: the
//! window in which glommio 0.9.0 parked with runnable tasks and nothing left to wake it. A wait
//! that never completes fails the test (a watchdog with a generous bound, not a timing threshold
//! on normal latency); the worst single wait of each kind is printed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{LocalExecutorPoolBuilder, PoolPlacement};

/// Short enough to expire inside the poll-then-run window regularly, long enough that every loop
/// still runs tasks.
const PREEMPT: Duration = Duration::from_micros(30);
/// No wait completing for this long means an executor is asleep with work pending.
const STALL: Duration = Duration::from_secs(30);

/// Completed waits, and the worst single wait of each kind in microseconds.
#[derive(Default)]
struct Stats {
    waits: AtomicU64,
    timer: AtomicU64,
    foreign: AtomicU64,
    mesh: AtomicU64,
    sled: AtomicU64,
}

impl Stats {
    fn done(&self, worst: &AtomicU64, started: Instant) {
        worst.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.waits.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `work` on two unpinned executors and fails if no wait completes for `STALL`.
fn run_watched<F, Fut>(name: &str, stats: &Arc<Stats>, work: F)
where
    F: Fn(usize) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let next = Arc::new(AtomicU64::new(0));
    let pool = LocalExecutorPoolBuilder::new(PoolPlacement::Unbound(2))
        .io_memory(1 << 20)
        .preempt_timer(PREEMPT)
        .on_all_shards(move || {
            let index = next.fetch_add(1, Ordering::SeqCst) as usize;
            work(index)
        })
        .expect("executors");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let results: Vec<_> = pool
            .join_all()
            .into_iter()
            .map(|r| r.map_err(|e| format!("{e:?}")))
            .collect();
        let _ = tx.send(results);
    });
    let started = Instant::now();
    let mut seen = 0;
    let mut last_progress = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(results) => {
                for r in results {
                    r.unwrap_or_else(|e| panic!("{name}: executor failed: {e}"));
                }
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{name}: pool thread died"),
        }
        let now = stats.waits.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            last_progress = Instant::now();
        } else if last_progress.elapsed() > STALL {
            panic!(
                "{name}: no wait completed for {STALL:?} after {seen} waits: an executor sleeps \
                 with work pending"
            );
        }
    }
    eprintln!(
        "{name}: {} waits in {:?}; worst single wait (us): timer {}, foreign wake {}, mesh {}, sled flush {}",
        stats.waits.load(Ordering::Relaxed),
        started.elapsed(),
        stats.timer.load(Ordering::Relaxed),
        stats.foreign.load(Ordering::Relaxed),
        stats.mesh.load(Ordering::Relaxed),
        stats.sled.load(Ordering::Relaxed),
    );
}

#[test]
fn timer_sleeps_complete_when_preempted_before_running() {
    let stats = Arc::new(Stats::default());
    let s = stats.clone();
    run_watched("timers", &stats, move |_| {
        let s = s.clone();
        async move {
            // The only task: after its timer fires nothing else can wake the executor, so a
            // sleep with the task runnable is a sleep forever.
            for _ in 0..20_000 {
                let t = Instant::now();
                glommio::timer::sleep(Duration::from_micros(50)).await;
                s.done(&s.timer, t);
            }
        }
    });
}

/// A completion a foreign thread fills in and wakes, as sled's flush does.
#[derive(Default)]
struct Slot {
    done: bool,
    waker: Option<Waker>,
}

struct Completion(Arc<Mutex<Slot>>);

impl Future for Completion {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut slot = self.0.lock().unwrap();
        if slot.done {
            Poll::Ready(())
        } else {
            slot.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// A thread that completes each slot it is sent, sometimes after a short pause.
fn completion_thread() -> mpsc::Sender<Arc<Mutex<Slot>>> {
    let (tx, rx) = mpsc::channel::<Arc<Mutex<Slot>>>();
    std::thread::spawn(move || {
        for (n, slot) in rx.into_iter().enumerate() {
            if n % 3 == 0 {
                std::thread::sleep(Duration::from_micros(n as u64 % 100));
            }
            let waker = {
                let mut s = slot.lock().unwrap();
                s.done = true;
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    });
    tx
}

#[test]
fn mixed_waits_complete_on_two_executors() {
    const N: u64 = 4_000;
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .flush_every_ms(None)
        .open()
        .unwrap();
    let mesh = MeshBuilder::<u64, _>::full(2, 64);
    let stats = Arc::new(Stats::default());
    let s = stats.clone();
    run_watched("mixed", &stats, move |index| {
        let (s, mesh, db) = (s.clone(), mesh.clone(), db.clone());
        async move {
            let (senders, mut receivers) = mesh.join().await.unwrap();
            let other = 1 - senders.peer_id();
            let (_, stream) = receivers
                .streams()
                .into_iter()
                .find(|(peer, _)| *peer == other)
                .unwrap();
            let mut tasks = Vec::new();

            let st = s.clone();
            tasks.push(glommio::spawn_local(async move {
                for _ in 0..N {
                    let t = Instant::now();
                    glommio::timer::sleep(Duration::from_micros(50)).await;
                    st.done(&st.timer, t);
                }
            }));

            let st = s.clone();
            let completer = completion_thread();
            tasks.push(glommio::spawn_local(async move {
                for _ in 0..N {
                    let slot = Arc::new(Mutex::new(Slot::default()));
                    let t = Instant::now();
                    completer.send(slot.clone()).unwrap();
                    Completion(slot).await;
                    st.done(&st.foreign, t);
                }
            }));

            let st = s.clone();
            tasks.push(glommio::spawn_local(async move {
                for i in 0..N / 20 {
                    db.insert(format!("{index}-{i}"), &b"v"[..]).unwrap();
                    let t = Instant::now();
                    db.flush_async().await.unwrap();
                    st.done(&st.sled, t);
                }
            }));

            // Core 0 asks, core 1 answers, like a request to a shard owner and its reply.
            let st = s.clone();
            tasks.push(glommio::spawn_local(async move {
                if index == 0 {
                    for i in 0..N {
                        let t = Instant::now();
                        senders.send_to(other, i).await.unwrap();
                        assert_eq!(stream.recv().await, Some(i));
                        st.done(&st.mesh, t);
                    }
                } else {
                    while let Some(i) = stream.recv().await {
                        if senders.send_to(other, i).await.is_err() {
                            break;
                        }
                    }
                }
            }));

            for t in tasks {
                t.await;
            }
        }
    });
}
