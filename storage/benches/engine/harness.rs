//! Bench harness: runs a closure on every core of a freshly opened engine, a barrier for the
//! cores, fio as the reference, and the small statistics the report needs.

use std::cell::Cell;
use std::future::Future;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_storage::{CoreStore, Engine, EngineConfig, Error, PutOptions};
use futures_lite::StreamExt;
use glommio::{LocalExecutorPoolBuilder, PoolPlacement};

/// Cores (executors) of every engine the bench opens.
pub const CORES: usize = 2;

/// One core's handle during a session: its store, index and the cores' barrier.
pub struct Ctx {
    pub store: CoreStore,
    pub core: usize,
    arrived: Arc<AtomicUsize>,
    generation: Cell<usize>,
}

impl Ctx {
    /// Waits until every core has arrived (async: cores keep serving their shards meanwhile).
    pub async fn sync(&self) {
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        self.arrived.fetch_add(1, Ordering::SeqCst);
        while self.arrived.load(Ordering::SeqCst) < generation * CORES {
            glommio::timer::sleep(Duration::from_micros(200)).await;
        }
    }

    /// Creates the `bench` bucket (core 0) and waits for every core.
    pub async fn bucket(&self) {
        if self.core == 0 {
            match self
                .store
                .create_bucket("bench", "bench", "us-east-1")
                .await
            {
                Ok(()) | Err(Error::BucketAlreadyOwnedByYou) => {}
                Err(e) => panic!("create bucket: {e}"),
            }
        }
        self.sync().await;
    }
}

/// Opens an engine on `config`, runs `f` on every core and returns each core's result (in core
/// order). The engine is closed when this returns.
pub fn session<T, F, Fut>(config: &EngineConfig, f: F) -> Vec<T>
where
    F: Fn(Ctx) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let engine = Engine::open(config.clone()).expect("open engine");
    let next = Arc::new(AtomicUsize::new(0));
    let arrived = Arc::new(AtomicUsize::new(0));
    let handles = LocalExecutorPoolBuilder::new(PoolPlacement::Unbound(CORES))
        .io_memory(4 << 20)
        .on_all_shards(move || {
            let engine = engine.clone();
            let next = next.clone();
            let arrived = arrived.clone();
            let f = f.clone();
            async move {
                let core = next.fetch_add(1, Ordering::SeqCst);
                let store = engine.attach(core).await.expect("attach");
                let ctx = Ctx {
                    store,
                    core,
                    arrived,
                    generation: Cell::new(0),
                };
                (core, f(ctx).await)
            }
        })
        .expect("executors");
    let mut out: Vec<(usize, T)> = handles
        .join_all()
        .into_iter()
        .map(|r| r.expect("a bench core panicked"))
        .collect();
    out.sort_by_key(|(core, _)| *core);
    out.into_iter().map(|(_, v)| v).collect()
}

/// PUTs `data` under `key` in the `bench` bucket, `chunk` bytes per write.
pub async fn put(store: &CoreStore, key: &str, data: &[u8], chunk: usize, md5: bool) {
    let mut w = store
        .put_object("bench", key, PutOptions::default())
        .await
        .expect("put");
    if !md5 {
        w.skip_md5_for_benchmark();
    }
    for c in data.chunks(chunk.max(1)) {
        w.write(c).await.expect("write");
    }
    w.commit().await.expect("commit");
}

/// GETs `key` and returns its length.
pub async fn get(store: &CoreStore, key: &str) -> usize {
    let mut got = store.get_object("bench", key, None).await.expect("get");
    let mut n = 0;
    while let Some(c) = got.body.next().await {
        n += c.expect("read").len();
    }
    n
}

/// Runs `workers` tasks on this core, each calling `op(worker, i)` for i = 0, 1, … until
/// `secs` have passed; returns (operations done, elapsed, per-operation latencies in µs).
pub async fn closed_loop<F, Fut>(workers: usize, secs: f64, op: F) -> (u64, Duration, Vec<u32>)
where
    F: Fn(usize, u64) -> Fut + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let op = op.clone();
        tasks.push(glommio::spawn_local(async move {
            let mut lat = Vec::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                op(w, i).await;
                lat.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                i += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await);
    }
    (all.len() as u64, start.elapsed(), all)
}

/// The `q` quantile (0..=1) of `v` (sorted in place).
pub fn quantile(v: &mut [u32], q: f64) -> u32 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Median of `v`.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Bytes allocated on disk under `dir`.
pub fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += disk_bytes(&e.path()),
                Ok(m) => total += m.blocks() * 512,
                Err(_) => {}
            }
        }
    }
    total
}

/// This process's resident memory in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// What one fio run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fio {
    pub read_mib_s: f64,
    pub write_mib_s: f64,
    pub write_iops: f64,
}

/// Runs fio in `dir` with `args` (group reporting); `None` when fio is missing or failed.
pub fn fio(dir: &Path, args: &[&str]) -> Option<Fio> {
    let out = Command::new("fio")
        .arg(format!("--directory={}", dir.display()))
        .args(["--minimal", "--group_reporting"])
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("fio failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text.lines().last()?.to_string();
    let f: Vec<&str> = line.split(';').collect();
    // Terse v3 (0-based): read bw KiB/s = 6, write bw = 47, write iops = 48.
    let pick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Some(Fio {
        read_mib_s: pick(6) / 1024.0,
        write_mib_s: pick(47) / 1024.0,
        write_iops: pick(48),
    })
}
