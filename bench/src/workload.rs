//! What one core does in a phase: open its share of the connections, meet the other cores at
//! the start line, then run one task per connection issuing the workload's operations until
//! the phase ends, recording each into the core's [`Recorder`].

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use glommio::sync::Semaphore;

use crate::config::{BenchConfig, Stop, Target, Workload};
use crate::http::Conn;
use crate::payload::{Digests, Layout, Rng};
use crate::s3::Client;
use crate::stats::{Failure, LiveCounters, Op, Recorder, Window};

/// Connections a core opens at once (each listener's accept queue is finite).
const CONNECTS_IN_FLIGHT: u64 = 64;
/// Pause after a failed connect before the next attempt.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// What every core of a run shares: configuration, payload, digests.
#[derive(Debug)]
pub struct RunShared {
    pub config: BenchConfig,
    pub layout: Layout,
    pub payload: Arc<[u8]>,
    pub digests: Arc<Digests>,
}

impl RunShared {
    /// A client of `target` for one core.
    pub fn client(&self, target: &Arc<Target>) -> Client {
        Client {
            target: target.clone(),
            bucket: self.config.bucket.clone(),
            signing: self.config.signing,
            chunk_size: self.config.chunk_size,
            payload: self.payload.clone(),
            digests: self.digests.clone(),
            live_hash: self.config.live_hash,
            keys: Default::default(),
        }
    }
}

/// The keys one connection of the `mixed` workload owns, so no two connections race on a
/// key and every GET knows what it must read.
#[derive(Debug, Clone, Default)]
pub struct OwnedKeys {
    live: Vec<u64>,
    dead: Vec<u64>,
    fresh: u64,
}

/// What persists of a target between phases (A/B rounds continue where the last ended).
#[derive(Debug)]
pub struct TargetState {
    pub target: Arc<Target>,
    /// The next never-used key index (put, multipart).
    pub next_key: AtomicU64,
    /// Objects `0..prepared` exist.
    pub prepared: AtomicU64,
    /// The next prepared object the delete workload (or the prepare phase) takes.
    pub claim: AtomicU64,
    /// Per connection of `mixed`.
    pub owned: Mutex<Vec<Option<OwnedKeys>>>,
}

impl TargetState {
    /// The state of a fresh target.
    pub fn new(target: Arc<Target>) -> TargetState {
        TargetState {
            target,
            next_key: AtomicU64::new(0),
            prepared: AtomicU64::new(0),
            claim: AtomicU64::new(0),
            owned: Mutex::new(Vec::new()),
        }
    }
}

/// What a phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseKind {
    /// Upload objects `0..n` (not measured).
    Prepare(u64),
    /// The workload, measured.
    Measure,
    /// Read back every object the `mixed` connections hold, comparing each byte.
    Verify,
}

/// The cores' meeting point and stop conditions of one phase.
#[derive(Debug)]
pub struct Phase {
    pub kind: PhaseKind,
    pub cores: usize,
    /// Connections over all cores.
    pub connections: usize,
    ready: AtomicUsize,
    start: OnceLock<Instant>,
    /// Cores done.
    pub finished: AtomicUsize,
    ops_claimed: AtomicU64,
    /// Per core.
    pub live: Vec<LiveCounters>,
    pub warmup: Duration,
    pub stop: Stop,
    /// Set to end the phase early.
    pub abort: AtomicBool,
}

impl Phase {
    /// A phase of `kind` over `cores` cores.
    pub fn new(
        kind: PhaseKind,
        cores: usize,
        connections: usize,
        warmup: Duration,
        stop: Stop,
    ) -> Phase {
        Phase {
            kind,
            cores,
            connections,
            ready: AtomicUsize::new(0),
            start: OnceLock::new(),
            finished: AtomicUsize::new(0),
            ops_claimed: AtomicU64::new(0),
            live: (0..cores).map(|_| LiveCounters::default()).collect(),
            warmup,
            stop,
            abort: AtomicBool::new(false),
        }
    }

    /// When every core had its connections open, once they have.
    pub fn start(&self) -> Option<Instant> {
        self.start.get().copied()
    }

    /// The measured window of a phase that started at `start`.
    pub fn window(&self, start: Instant) -> Window {
        let begin = start + self.warmup;
        Window {
            start: begin,
            end: match self.stop {
                Stop::Duration(d) => Some(begin + d),
                Stop::Ops(_) => None,
            },
        }
    }

    async fn arrive(&self) -> Instant {
        if self.ready.fetch_add(1, Ordering::AcqRel) + 1 == self.cores {
            let _ = self.start.set(Instant::now());
        }
        loop {
            if let Some(t) = self.start.get() {
                return *t;
            }
            if self.abort.load(Ordering::Relaxed) {
                return Instant::now();
            }
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Counts a core as finished when dropped.
struct FinishedGuard(Arc<Phase>);

impl Drop for FinishedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The other cores stop too instead of waiting at the start line for this one.
            self.0.abort.store(true, Ordering::Relaxed);
        }
        self.0.finished.fetch_add(1, Ordering::AcqRel);
    }
}

/// One core's results.
#[derive(Debug)]
pub struct CoreResult {
    pub recorder: Recorder,
}

/// Runs one core's share of `phase`.
pub async fn run_core(
    core: usize,
    run: Arc<RunShared>,
    state: Arc<TargetState>,
    phase: Arc<Phase>,
) -> CoreResult {
    // Counted even if this core panics, so the thread watching the phase never waits forever.
    let _finished = FinishedGuard(phase.clone());
    let config = &run.config;
    let client = Rc::new(run.client(&state.target));
    let tasks: Vec<usize> = (core..phase.connections).step_by(phase.cores).collect();
    let gate = Rc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let opening: Vec<_> = tasks
        .iter()
        .map(|_| {
            let (client, gate, timeout) = (client.clone(), gate.clone(), config.timeout);
            glommio::spawn_local(async move {
                let _permit = gate.acquire_permit(1).await.ok();
                Conn::connect(&client.target, timeout).await.ok()
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(tasks.len());
    for t in opening {
        conns.push(t.await);
    }
    let start = phase.arrive().await;
    let window = match phase.kind {
        PhaseKind::Measure => phase.window(start),
        PhaseKind::Prepare(_) | PhaseKind::Verify => Window { start, end: None },
    };
    let recorder = Rc::new(RefCell::new(Recorder::new(window)));
    let running: Vec<_> = tasks
        .into_iter()
        .zip(conns)
        .map(|(task, conn)| {
            let mut worker = Worker {
                run: run.clone(),
                state: state.clone(),
                phase: phase.clone(),
                client: client.clone(),
                recorder: recorder.clone(),
                core,
                task,
                conn,
                rng: Rng::new(config.seed ^ (task as u64).wrapping_mul(0x1000_0001)),
                window,
            };
            glommio::spawn_local(async move { worker.run().await })
        })
        .collect();
    for t in running {
        t.await;
    }
    drop(client);
    let recorder = Rc::try_unwrap(recorder)
        .map(RefCell::into_inner)
        .unwrap_or_else(|shared| {
            let mut r = Recorder::new(window);
            r.merge(&shared.borrow());
            r
        });
    CoreResult { recorder }
}

/// One connection's task.
struct Worker {
    run: Arc<RunShared>,
    state: Arc<TargetState>,
    phase: Arc<Phase>,
    client: Rc<Client>,
    recorder: Rc<RefCell<Recorder>>,
    core: usize,
    /// Global task number, `0..concurrency`.
    task: usize,
    conn: Option<Conn>,
    rng: Rng,
    window: Window,
}

/// An operation's result: bytes moved, or why it failed.
type OpResult = Result<u64, Failure>;

impl Worker {
    fn config(&self) -> &BenchConfig {
        &self.run.config
    }

    fn record(&self, op: Op, start: Instant, result: &OpResult) {
        let end = Instant::now();
        self.recorder.borrow_mut().record(
            &self.phase.live[self.core],
            op,
            start,
            end,
            result.as_ref().map(|b| *b),
        );
    }

    /// Whether to issue another operation.
    fn go_on(&self) -> bool {
        if self.phase.abort.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        match (self.phase.kind, self.phase.stop) {
            (PhaseKind::Prepare(_) | PhaseKind::Verify, _) => true,
            (PhaseKind::Measure, Stop::Duration(_)) => self.window.end.is_none_or(|e| now < e),
            (PhaseKind::Measure, Stop::Ops(n)) => {
                now < self.window.start
                    || self.phase.ops_claimed.fetch_add(1, Ordering::Relaxed) < n
            }
        }
    }

    /// The connection, opened again if it broke.
    async fn conn(&mut self) -> Result<&mut Conn, Failure> {
        if self.conn.as_ref().is_none_or(|c| c.broken) {
            self.conn = None;
            match Conn::connect(&self.client.target, self.config().timeout).await {
                Ok(c) => self.conn = Some(c),
                Err(e) => {
                    glommio::timer::sleep(RECONNECT_PAUSE).await;
                    return Err(e);
                }
            }
        }
        Ok(self.conn.as_mut().expect("connection just opened"))
    }

    async fn run(&mut self) {
        if let PhaseKind::Prepare(n) = self.phase.kind {
            loop {
                let index = self.state.claim.fetch_add(1, Ordering::Relaxed);
                if index >= n || self.phase.abort.load(Ordering::Relaxed) {
                    return;
                }
                let start = Instant::now();
                let result = self.put(index).await;
                self.record(Op::Put, start, &result);
            }
        }
        if self.phase.kind == PhaseKind::Verify {
            let keys = self.state.owned.lock().expect("owned keys")[self.task].clone();
            for index in keys.map(|k| k.live).unwrap_or_default() {
                let start = Instant::now();
                let result = self.get(index).await;
                self.record(Op::Get, start, &result);
            }
            return;
        }
        let mut owned = match self.config().workload {
            Workload::Mixed => Some(self.take_owned_keys()),
            _ => None,
        };
        while self.go_on() {
            let start = Instant::now();
            let (op, result) = match self.config().workload {
                Workload::Put => {
                    let index = self.state.next_key.fetch_add(1, Ordering::Relaxed);
                    (Op::Put, self.put(index).await)
                }
                Workload::Get => {
                    let index = self.random_object();
                    (Op::Get, self.get(index).await)
                }
                Workload::Stat => {
                    let index = self.random_object();
                    (Op::Stat, self.stat(index).await)
                }
                Workload::Delete => {
                    let batch = u64::from(self.config().delete_batch.max(1));
                    let first = self.state.claim.fetch_add(batch, Ordering::Relaxed);
                    let end = (first + batch).min(self.state.prepared.load(Ordering::Relaxed));
                    if first >= end {
                        break;
                    }
                    (Op::Delete, self.delete(first..end).await)
                }
                Workload::List => {
                    let index = self.random_object();
                    (Op::List, self.list_checked(index).await)
                }
                Workload::Multipart => {
                    let index = self.state.next_key.fetch_add(1, Ordering::Relaxed);
                    (Op::Multipart, self.multipart(index).await)
                }
                Workload::Mixed => {
                    let keys = owned.as_mut().expect("mixed keys");
                    self.mixed(keys).await
                }
            };
            self.record(op, start, &result);
        }
        if let Some(keys) = owned {
            self.state.owned.lock().expect("owned keys")[self.task] = Some(keys);
        }
    }

    fn random_object(&mut self) -> u64 {
        let n = self.state.prepared.load(Ordering::Relaxed);
        self.rng.below(n)
    }

    fn take_owned_keys(&mut self) -> OwnedKeys {
        let config = self.config();
        let (tasks, objects) = (config.concurrency as u64, config.objects);
        let mut all = self.state.owned.lock().expect("owned keys");
        if all.len() < config.concurrency {
            all.resize(config.concurrency, None);
        }
        all[self.task].take().unwrap_or_else(|| OwnedKeys {
            live: (self.task as u64..objects.min(self.state.prepared.load(Ordering::Relaxed)))
                .step_by(tasks as usize)
                .collect(),
            dead: Vec::new(),
            fresh: 0,
        })
    }

    async fn put(&mut self, index: u64) -> OpResult {
        let key = self.config().key(index);
        let range = self.run.layout.object(index);
        let client = self.client.clone();
        client.put_object(self.conn().await?, &key, range).await
    }

    async fn get(&mut self, index: u64) -> OpResult {
        let key = self.config().key(index);
        let range = self.run.layout.object(index);
        let client = self.client.clone();
        let read = client.get_object(self.conn().await?, &key, range).await?;
        let mut r = self.recorder.borrow_mut();
        if r.counts(Instant::now()) {
            r.verified_bytes += read.verified;
            r.mismatched_bytes += read.mismatched;
        }
        if read.mismatched > 0 {
            return Err(Failure::BodyMismatch);
        }
        Ok(read.len)
    }

    async fn stat(&mut self, index: u64) -> OpResult {
        let key = self.config().key(index);
        let len = self.run.layout.size_of(index);
        let client = self.client.clone();
        client.head_object(self.conn().await?, &key, len).await?;
        Ok(0)
    }

    async fn delete(&mut self, indices: std::ops::Range<u64>) -> OpResult {
        let client = self.client.clone();
        if indices.end - indices.start == 1 {
            let key = self.config().key(indices.start);
            client.delete_object(self.conn().await?, &key).await?;
        } else {
            let keys: Vec<String> = indices.map(|i| self.config().key(i)).collect();
            client.delete_objects(self.conn().await?, &keys).await?;
        }
        Ok(0)
    }

    /// A page after object `index`, which must list exactly the objects that follow it.
    async fn list_checked(&mut self, index: u64) -> OpResult {
        let config = self.config().clone();
        let objects = self.state.prepared.load(Ordering::Relaxed);
        let after = config.key(index);
        let client = self.client.clone();
        let page = client
            .list_objects(
                self.conn().await?,
                &config.prefix,
                Some(&after),
                None,
                config.max_keys,
            )
            .await?;
        let expected = (index + 1..objects).take(config.max_keys as usize);
        let expected_len = expected.clone().count();
        if page.keys.len() != expected_len
            || !page
                .keys
                .iter()
                .zip(expected)
                .all(|(k, i)| *k == config.key(i))
            || page.truncated != (index + 1 + u64::from(config.max_keys) < objects)
        {
            return Err(Failure::ListMismatch);
        }
        Ok(0)
    }

    /// A page from a random point of a listing that changes meanwhile: sorted, in the prefix,
    /// at most `max-keys`.
    async fn list_loose(&mut self, after: u64) -> OpResult {
        let config = self.config().clone();
        let after = config.key(after);
        let client = self.client.clone();
        let page = client
            .list_objects(
                self.conn().await?,
                &config.prefix,
                Some(&after),
                None,
                config.max_keys,
            )
            .await?;
        let sorted = page.keys.windows(2).all(|w| w[0] < w[1]);
        if !sorted
            || page.keys.len() > config.max_keys as usize
            || page.keys.first().is_some_and(|k| *k <= after)
            || !page.keys.iter().all(|k| k.starts_with(&config.prefix))
        {
            return Err(Failure::ListMismatch);
        }
        Ok(0)
    }

    async fn multipart(&mut self, index: u64) -> OpResult {
        let config = self.config().clone();
        let key = config.key(index);
        let range = self.run.layout.object(index);
        let client = self.client.clone();
        let upload_id = client.create_multipart(self.conn().await?, &key).await?;
        let mut etags = Vec::with_capacity(config.parts as usize);
        for part in 0..config.parts {
            let start = range.start + (u64::from(part) * config.part_size) as usize;
            let end = (start + config.part_size as usize).min(range.end);
            let t0 = Instant::now();
            let result = match self.conn().await {
                Ok(conn) => {
                    client
                        .upload_part(conn, &key, &upload_id, part + 1, start..end)
                        .await
                }
                Err(e) => Err(e),
            };
            self.record(
                Op::UploadPart,
                t0,
                &result
                    .as_ref()
                    .map(|_| (end - start) as u64)
                    .map_err(Clone::clone),
            );
            match result {
                Ok(etag) => etags.push(etag),
                Err(e) => {
                    if let Ok(conn) = self.conn().await {
                        let _ = client.abort_multipart(conn, &key, &upload_id).await;
                    }
                    return Err(e);
                }
            }
        }
        client
            .complete_multipart(self.conn().await?, &key, &upload_id, &etags)
            .await?;
        Ok(range.len() as u64)
    }

    async fn mixed(&mut self, keys: &mut OwnedKeys) -> (Op, OpResult) {
        let mix = self.config().mix;
        let mut pick = self.rng.below(u64::from(mix.total().max(1))) as u32;
        let mut choose = |weight: u32| {
            let hit = pick < weight;
            pick = pick.saturating_sub(weight);
            hit
        };
        let op = if choose(mix.get) {
            Op::Get
        } else if choose(mix.stat) {
            Op::Stat
        } else if choose(mix.put) {
            Op::Put
        } else if choose(mix.delete) {
            Op::Delete
        } else {
            Op::List
        };
        let op = match op {
            Op::Get | Op::Stat | Op::Delete if keys.live.is_empty() => Op::Put,
            op => op,
        };
        let result = match op {
            Op::Get | Op::Stat => {
                let index = keys.live[self.rng.below(keys.live.len() as u64) as usize];
                if op == Op::Get {
                    self.get(index).await
                } else {
                    self.stat(index).await
                }
            }
            Op::Delete => {
                let at = self.rng.below(keys.live.len() as u64) as usize;
                let index = keys.live.swap_remove(at);
                // Gone or not, it is written again before it is read again.
                keys.dead.push(index);
                self.delete(index..index + 1).await
            }
            Op::List => {
                let n = self.config().objects.max(1);
                let after = self.rng.below(n);
                self.list_loose(after).await
            }
            _ => {
                let index = keys.dead.pop().unwrap_or_else(|| {
                    let (tasks, objects) =
                        (self.config().concurrency as u64, self.config().objects);
                    keys.fresh += 1;
                    objects + (keys.fresh - 1) * tasks + self.task as u64
                });
                let result = self.put(index).await;
                if result.is_ok() {
                    keys.live.push(index);
                } else {
                    keys.dead.push(index);
                }
                result
            }
        };
        (op, result)
    }
}
