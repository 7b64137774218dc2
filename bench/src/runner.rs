//! A run from start to end: payload and digests, bucket setup, the prepare phase, measured
//! phases (one target, or A and B alternately), cleanup. Each phase runs one glommio
//! executor per core; this thread watches the live counters meanwhile (progress line,
//! per-second series, CPU time at the window's edges).

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, LocalExecutorPoolBuilder, Placement, PoolPlacement};

use crate::config::{BenchConfig, Signing, Stop, Target, Workload};
use crate::http::Conn;
use crate::payload::{self, DigestNeeds, Digests, Layout};
use crate::report::{Report, Sample};
use crate::stats::{Failure, LiveCounters, LiveSnapshot, Recorder, Window};
use crate::sys;
use crate::workload::{run_core, Phase, PhaseKind, RunShared, TargetState};

/// Memory each executor registers with io_uring (locked memory; the tool does no DMA IO).
const IO_MEMORY_PER_CORE: usize = 512 << 10;
/// Keys per DeleteObjects request at cleanup, and such requests in flight.
const CLEANUP_BATCH: usize = 1000;
const CLEANUP_CONNECTIONS: usize = 8;
/// Connections of the prepare phase: the run's, within these bounds.
const PREPARE_CONNECTIONS: (usize, usize) = (32, 256);
/// How often this thread looks at the phase.
const TICK: Duration = Duration::from_millis(20);

/// Why a run could not be carried out.
#[derive(Debug)]
pub enum BenchError {
    /// The executors could not start (locked memory, threads).
    Executors(String),
    /// Setting up the bucket failed.
    Setup(Failure),
    /// Uploading the objects to read failed.
    Prepare { failed: u64, first: Failure },
    /// The configuration cannot work.
    Config(String),
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::Executors(e) => write!(f, "cannot start the executors: {e}"),
            BenchError::Setup(e) => write!(f, "cannot set up the bucket: {e}"),
            BenchError::Prepare { failed, first } => {
                write!(
                    f,
                    "{failed} uploads of the prepare phase failed (first: {first})"
                )
            }
            BenchError::Config(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for BenchError {}

/// The read-back of every object a `mixed` run left.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    /// Objects read back whole, and their bytes.
    pub objects: u64,
    pub bytes: u64,
    pub verified_bytes: u64,
    pub mismatched_bytes: u64,
    /// Objects that could not be read (missing ones are `404 NoSuchKey`).
    pub errors: Vec<crate::report::ErrorCount>,
    pub secs: f64,
}

/// A run's targets and shared data.
#[derive(Debug)]
pub struct Bench {
    run: Arc<RunShared>,
    targets: Vec<Arc<TargetState>>,
    created: Vec<bool>,
}

/// What the digests precomputed for `signing` must hold.
fn digest_needs(signing: Signing, chunk_size: usize) -> DigestNeeds {
    match signing {
        Signing::Signed => DigestNeeds {
            body_sha256: true,
            ..DigestNeeds::default()
        },
        Signing::Streaming => DigestNeeds {
            chunk_sha256: Some(chunk_size),
            ..DigestNeeds::default()
        },
        Signing::V2 => DigestNeeds {
            body_md5: true,
            ..DigestNeeds::default()
        },
        Signing::Unsigned | Signing::Trailer => DigestNeeds::default(),
    }
}

/// Runs `f(core)` on one executor per core and waits, calling `watch` every tick meanwhile.
fn on_cores<T, F, Fut>(
    cores: usize,
    f: F,
    mut watch: impl FnMut(),
    finished: &AtomicUsize,
) -> Result<Vec<T>, BenchError>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Clone + 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let handles = LocalExecutorPoolBuilder::new(PoolPlacement::Unbound(cores))
        .name("cairn-bench")
        .io_memory(IO_MEMORY_PER_CORE)
        .on_all_shards(move || {
            let core = next.fetch_add(1, Ordering::Relaxed);
            f(core)
        })
        .map_err(|e| BenchError::Executors(e.to_string()))?;
    while finished.load(Ordering::Acquire) < cores {
        watch();
        std::thread::sleep(TICK);
    }
    watch();
    handles
        .join_all()
        .into_iter()
        .map(|r| r.map_err(|e| BenchError::Executors(e.to_string())))
        .collect()
}

/// Runs `f` on one executor.
fn on_one_core<T, F, Fut>(f: F) -> Result<T, BenchError>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    LocalExecutorBuilder::new(Placement::Unbound)
        .name("cairn-bench")
        .io_memory(IO_MEMORY_PER_CORE)
        .spawn(f)
        .and_then(|h| h.join())
        .map_err(|e| BenchError::Executors(e.to_string()))
}

/// User and system CPU time of a process.
type UserSystem = (Duration, Duration);

/// What this thread saw of a measured phase.
#[derive(Debug, Default)]
struct Watch {
    window: Option<Window>,
    /// Counters, this process's CPU time and the server's (user, system) at the start.
    baseline: Option<(LiveSnapshot, Duration, Option<UserSystem>)>,
    last: Option<LiveSnapshot>,
    series: Vec<Sample>,
    next_sample: u32,
    cpu_end: Option<(Duration, Option<UserSystem>)>,
    ended: Option<Instant>,
    /// The server's largest resident memory seen in the window, KiB.
    server_rss_kib: Option<u64>,
    /// The last progress line's time and counters.
    last_print: Option<(Instant, LiveSnapshot)>,
}

impl Bench {
    /// Generates the payload, computes the digests, and names the targets (A, then B).
    pub fn new(mut config: BenchConfig, targets: Vec<Target>) -> Result<Bench, BenchError> {
        if config.workload == Workload::Delete {
            // Each object is deleted once: a warm-up would use up the objects measured.
            config.warmup = Duration::ZERO;
        }
        if config.concurrency == 0 || config.cores == 0 {
            return Err(BenchError::Config(
                "concurrency and cores must be at least 1".into(),
            ));
        }
        if config.workload == Workload::Multipart && (config.parts == 0 || config.part_size == 0) {
            return Err(BenchError::Config(
                "a multipart upload needs at least one part of at least one byte".into(),
            ));
        }
        if config.workload.needs_objects() && config.objects == 0 {
            return Err(BenchError::Config(format!(
                "the {} workload needs --objects of at least 1",
                config.workload.name()
            )));
        }
        let layout = Layout::new(config.object_size(), config.seed);
        let threads = config.cores.max(1);
        let bytes = payload::generate(layout.payload_len(), config.seed, threads);
        let mut bodies = layout.distinct_bodies();
        if config.workload == Workload::Multipart {
            bodies = bodies
                .iter()
                .flat_map(|b| {
                    (0..config.parts).map(move |p| {
                        let start = b.start + (u64::from(p) * config.part_size) as usize;
                        start..(start + config.part_size as usize).min(b.end)
                    })
                })
                .collect();
        }
        let digests = if config.live_hash {
            Digests::default()
        } else {
            Digests::compute(
                &bytes,
                &bodies,
                digest_needs(config.signing, config.chunk_size),
                threads,
            )
        };
        let created = vec![false; targets.len()];
        Ok(Bench {
            run: Arc::new(RunShared {
                config,
                layout,
                payload: Arc::from(bytes),
                digests: Arc::new(digests),
            }),
            targets: targets
                .into_iter()
                .map(|t| Arc::new(TargetState::new(Arc::new(t))))
                .collect(),
            created,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BenchConfig {
        &self.run.config
    }

    /// Creates the bucket on every target (if asked) and uploads the objects to read.
    pub fn prepare(&mut self) -> Result<(), BenchError> {
        for i in 0..self.targets.len() {
            if self.config().create_bucket {
                self.created[i] = self.create_bucket(i)?;
            }
            if self.config().workload.needs_objects() {
                self.upload_objects(i)?;
            }
        }
        Ok(())
    }

    fn create_bucket(&self, i: usize) -> Result<bool, BenchError> {
        let client = self.run.client(&self.targets[i].target);
        let timeout = self.config().timeout;
        on_one_core(move || async move {
            let mut conn = Conn::connect(&client.target, timeout).await?;
            client.create_bucket(&mut conn).await
        })?
        .map_err(BenchError::Setup)
    }

    /// Uploads objects `0..objects` to target `i`.
    fn upload_objects(&self, i: usize) -> Result<(), BenchError> {
        let n = self.config().objects;
        let state = self.targets[i].clone();
        state.claim.store(0, Ordering::Relaxed);
        let phase = Arc::new(Phase::new(
            PhaseKind::Prepare(n),
            self.config().cores,
            self.config()
                .concurrency
                .clamp(PREPARE_CONNECTIONS.0, PREPARE_CONNECTIONS.1),
            Duration::ZERO,
            Stop::Ops(n),
        ));
        let results = self.run_phase(&state, &phase, || {})?;
        let mut merged = Recorder::new(Window {
            start: Instant::now(),
            end: None,
        });
        for r in &results {
            merged.merge(r);
        }
        state.claim.store(0, Ordering::Relaxed);
        if let Some((first, _)) = merged.errors().iter().next() {
            return Err(BenchError::Prepare {
                failed: merged.error_count(),
                first: first.clone(),
            });
        }
        state.prepared.store(n, Ordering::Relaxed);
        Ok(())
    }

    fn run_phase(
        &self,
        state: &Arc<TargetState>,
        phase: &Arc<Phase>,
        watch: impl FnMut(),
    ) -> Result<Vec<Recorder>, BenchError> {
        let (run, state2, phase2) = (self.run.clone(), state.clone(), phase.clone());
        let results = on_cores(
            self.config().cores,
            move |core| run_core(core, run.clone(), state2.clone(), phase2.clone()),
            watch,
            &phase.finished,
        )?;
        Ok(results.into_iter().map(|r| r.recorder).collect())
    }

    /// One measured phase against target `i`.
    pub fn measure(&self, i: usize) -> Result<Report, BenchError> {
        let config = self.config().clone();
        let state = self.targets[i].clone();
        if config.workload == Workload::Delete && state.prepared.load(Ordering::Relaxed) == 0 {
            // The last round deleted them all.
            self.upload_objects(i)?;
        }
        let phase = Arc::new(Phase::new(
            PhaseKind::Measure,
            config.cores,
            config.concurrency,
            config.warmup,
            config.stop,
        ));
        let mut watch = Watch::default();
        let name = state.target.name.clone();
        let results = self.run_phase(&state, &phase, || {
            watch_tick(&phase, &mut watch, &config, &name);
        })?;
        if config.progress {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
        let window = watch.window.unwrap_or(Window {
            start: Instant::now(),
            end: None,
        });
        let mut merged = Recorder::new(window);
        for r in &results {
            merged.merge(r);
        }
        if config.workload == Workload::Delete {
            state.prepared.store(0, Ordering::Relaxed);
            state.claim.store(0, Ordering::Relaxed);
        }
        // Ran the whole window, or ended early (operation count, nothing left to delete)?
        let elapsed = match (window.end, watch.ended) {
            (Some(end), Some(ended)) if ended >= end => end - window.start,
            _ => merged.last_end.map_or(Duration::ZERO, |t| {
                t.saturating_duration_since(window.start)
            }),
        };
        let (client_cpu, server_cpu) = match (watch.baseline, watch.cpu_end) {
            (Some((_, c0, s0)), Some((c1, s1))) => (
                c1.saturating_sub(c0),
                s0.zip(s1)
                    .map(|(a, b)| (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))),
            ),
            _ => (Duration::ZERO, None),
        };
        let mut report = Report::new(
            &config,
            &state.target,
            &merged,
            elapsed,
            watch.series,
            client_cpu,
            server_cpu,
            state.prepared.load(Ordering::Relaxed),
        );
        report.server_max_rss_mib = watch.server_rss_kib.map(|k| k as f64 / 1024.0);
        Ok(report)
    }

    /// Reads back every object the `mixed` workload's connections hold on target `i` (what
    /// they wrote and did not delete since) and compares every byte.
    pub fn verify_all(&self, i: usize) -> Result<Verification, BenchError> {
        let state = self.targets[i].clone();
        let phase = Arc::new(Phase::new(
            PhaseKind::Verify,
            self.config().cores,
            self.config().concurrency,
            Duration::ZERO,
            Stop::Ops(u64::MAX),
        ));
        let started = Instant::now();
        let results = self.run_phase(&state, &phase, || {})?;
        let mut merged = Recorder::new(Window {
            start: started,
            end: None,
        });
        for r in &results {
            merged.merge(r);
        }
        let (objects, bytes) = merged
            .ops()
            .find(|(op, _)| *op == crate::stats::Op::Get)
            .map_or((0, 0), |(_, s)| (s.ops, s.bytes));
        Ok(Verification {
            objects,
            bytes,
            verified_bytes: merged.verified_bytes,
            mismatched_bytes: merged.mismatched_bytes,
            errors: merged
                .errors()
                .iter()
                .map(|(f, n)| crate::report::ErrorCount {
                    error: f.to_string(),
                    count: *n,
                })
                .collect(),
            secs: started.elapsed().as_secs_f64(),
        })
    }

    /// Deletes what the run wrote under the prefix on every target, and the bucket if the run
    /// created it. Returns the objects deleted per target.
    pub fn cleanup(&self) -> Result<Vec<u64>, BenchError> {
        let mut deleted = Vec::new();
        for (i, state) in self.targets.iter().enumerate() {
            let client = self.run.client(&state.target);
            let (prefix, timeout, drop_bucket) = (
                self.config().prefix.clone(),
                self.config().timeout,
                self.created[i],
            );
            let n = on_one_core(move || async move {
                let client = std::rc::Rc::new(client);
                let n = empty_prefix(client.clone(), &prefix, timeout).await?;
                if drop_bucket {
                    let mut conn = Conn::connect(&client.target, timeout).await?;
                    client.delete_bucket(&mut conn).await?;
                }
                Ok::<u64, Failure>(n)
            })?
            .map_err(BenchError::Setup)?;
            state.prepared.store(0, Ordering::Relaxed);
            deleted.push(n);
        }
        Ok(deleted)
    }
}

/// Lists every key under `prefix` and deletes them in batches, a few requests at a time.
async fn empty_prefix(
    client: std::rc::Rc<crate::s3::Client>,
    prefix: &str,
    timeout: Duration,
) -> Result<u64, Failure> {
    let mut conn = Conn::connect(&client.target, timeout).await?;
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = match client
            .list_objects(&mut conn, prefix, None, token.as_deref(), 1000)
            .await
        {
            Ok(page) => page,
            // Never created (the setup failed): nothing to delete.
            Err(Failure::S3 { code, .. }) if code == "NoSuchBucket" => return Ok(0),
            Err(e) => return Err(e),
        };
        keys.extend(page.keys);
        match page.next_token {
            Some(t) if page.truncated => token = Some(t),
            _ => break,
        }
        if conn.broken {
            conn = Conn::connect(&client.target, timeout).await?;
        }
    }
    let total = keys.len() as u64;
    let batches = std::rc::Rc::new(std::cell::RefCell::new(
        keys.chunks(CLEANUP_BATCH)
            .map(<[String]>::to_vec)
            .collect::<Vec<_>>(),
    ));
    let workers: Vec<_> = (0..CLEANUP_CONNECTIONS)
        .map(|_| {
            let (client, batches) = (client.clone(), batches.clone());
            glommio::spawn_local(async move {
                let mut conn = Conn::connect(&client.target, timeout).await?;
                loop {
                    let Some(batch) = batches.borrow_mut().pop() else {
                        return Ok::<(), Failure>(());
                    };
                    if conn.broken {
                        conn = Conn::connect(&client.target, timeout).await?;
                    }
                    client.delete_objects(&mut conn, &batch).await?;
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    Ok(total)
}

/// One look at a running measured phase: window edges, CPU, series, progress.
fn watch_tick(phase: &Phase, w: &mut Watch, config: &BenchConfig, name: &str) {
    let Some(start) = phase.start() else {
        return;
    };
    let window = *w.window.get_or_insert_with(|| phase.window(start));
    let now = Instant::now();
    let done = phase.finished.load(Ordering::Acquire) >= phase.cores;
    if done && w.ended.is_none() {
        w.ended = Some(now);
    }
    let snapshot = LiveCounters::snapshot(&phase.live);
    if now >= window.start && w.baseline.is_none() {
        w.baseline = Some((
            snapshot,
            sys::self_cpu(),
            config.server_pid.and_then(sys::process_cpu_split),
        ));
        w.last = Some(snapshot);
    }
    let past_end = window.end.is_some_and(|e| now >= e) || done;
    if past_end && w.cpu_end.is_none() && w.baseline.is_some() {
        w.cpu_end = Some((
            sys::self_cpu(),
            config.server_pid.and_then(sys::process_cpu_split),
        ));
    }
    if let Some(last) = w.last {
        if let Some(rss) = config.server_pid.and_then(sys::process_rss_kib) {
            w.server_rss_kib = Some(w.server_rss_kib.unwrap_or(0).max(rss));
        }
        let second = Duration::from_secs(u64::from(w.next_sample) + 1);
        let in_window = window.end.is_none_or(|e| window.start + second <= e);
        if now >= window.start + second && in_window && !done {
            w.series
                .push(Sample::between(w.next_sample + 1, &last, &snapshot));
            w.last = Some(snapshot);
            w.next_sample += 1;
        }
    }
    let since = w.last_print.map_or(start, |(t, _)| t);
    if config.progress && now - since >= Duration::from_secs(1) {
        let (then, before) = w.last_print.unwrap_or((start, LiveSnapshot::default()));
        w.last_print = Some((now, snapshot));
        let secs = (now - then).as_secs_f64().max(1e-3);
        let warm = now < window.start;
        let elapsed = if warm {
            now - start
        } else {
            now - window.start
        };
        let ops: u64 = snapshot.ops.iter().sum::<u64>() - before.ops.iter().sum::<u64>();
        let bytes: u64 = snapshot.bytes.iter().sum::<u64>() - before.bytes.iter().sum::<u64>();
        let errors: u64 = snapshot.errors.iter().sum();
        eprint!(
            "\r\x1b[2K{name} {} {}{}s: {:.0} ops/s, {:.1} MiB/s, {errors} errors",
            config.workload.name(),
            if warm { "warm-up " } else { "" },
            elapsed.as_secs(),
            ops as f64 / secs,
            bytes as f64 / secs / (1 << 20) as f64,
        );
        let _ = std::io::stderr().flush();
    }
}
