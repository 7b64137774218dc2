//! Storage benchmarks beside fio references on the same directory:
//! durable 4 KiB PUTs/s at 64 writers, 64 MiB PUT MB/s, 1 MiB and 64 MiB GET MB/s, one
//! 1000-key listing page (first and last) in a bucket of many keys, RSS and metadata bytes per
//! object. `cargo bench -p cairn-storage --bench engine`; `CAIRN_BENCH_DIR` picks the disk
//! (default: the current directory), `CAIRN_BENCH_KEYS` the listing bucket size (1,000,000).

use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_storage::{CoreStore, Engine, EngineConfig, ListQuery, PutOptions};
use futures_lite::StreamExt;
use glommio::{LocalExecutorPoolBuilder, PoolPlacement};

const CORES: usize = 2;
const WRITERS: usize = 64;
const SMALL_SECS: u64 = 5;

/// All cores wait here until every core arrived (async: cores keep serving their shards).
#[derive(Clone)]
struct Barrier(Arc<AtomicUsize>);

impl Barrier {
    async fn wait(&self, generation: usize) {
        self.0.fetch_add(1, Ordering::SeqCst);
        while self.0.load(Ordering::SeqCst) < generation * CORES {
            glommio::timer::sleep(Duration::from_micros(200)).await;
        }
    }
}

/// Bytes allocated on disk under `dir`.
fn disk_bytes(dir: &std::path::Path) -> u64 {
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

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn put(store: &CoreStore, key: &str, data: &[u8], chunk: usize) {
    let mut w = store
        .put_object("bench", key, PutOptions::default())
        .await
        .expect("put");
    for c in data.chunks(chunk.max(1)) {
        w.write(c).await.expect("write");
    }
    w.commit().await.expect("commit");
}

async fn read(store: &CoreStore, key: &str) -> usize {
    let mut got = store.get_object("bench", key, None).await.expect("get");
    let mut n = 0;
    while let Some(c) = got.body.next().await {
        n += c.expect("read").len();
    }
    n
}

async fn core_main(store: CoreStore, core: usize, barrier: Barrier, keys: usize) {
    let mut generation = 0;
    let mut sync = || {
        generation += 1;
        let b = barrier.clone();
        let g = generation;
        async move { b.wait(g).await }
    };
    if core == 0 {
        store.create_bucket("bench", "bench").await.expect("bucket");
    }
    sync().await;

    // 1. Durable 4 KiB PUTs, 64 writers over the cores.
    let done = Rc::new(std::cell::Cell::new(0u64));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(SMALL_SECS);
    let mut tasks = Vec::new();
    for w in 0..WRITERS / CORES {
        let store = store.clone();
        let done = done.clone();
        tasks.push(glommio::spawn_local(async move {
            let data = vec![0x5a; 4096];
            let mut i = 0;
            while Instant::now() < deadline {
                put(&store, &format!("small/{core}/{w}/{i}"), &data, 4096).await;
                done.set(done.get() + 1);
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "core {core}: 4 KiB durable PUTs: {:.0}/s ({} writers on this core)",
        done.get() as f64 / secs,
        WRITERS / CORES
    );
    sync().await;

    // 2. 64 MiB PUTs (MD5 included), one stream per core, then GETs of 64 MiB and 1 MiB.
    {
        let big = vec![0xa5u8; 64 << 20];
        let start = Instant::now();
        for i in 0..2 {
            put(&store, &format!("big/{core}/{i}"), &big, 1 << 20).await;
        }
        let mbs = 2.0 * 64.0 / start.elapsed().as_secs_f64();
        println!("core {core}: 64 MiB PUT (MD5 included): {mbs:.0} MiB/s");
        sync().await;
        let start = Instant::now();
        let mut n = 0;
        for i in 0..2 {
            n += read(&store, &format!("big/{core}/{i}")).await;
        }
        println!(
            "core {core}: 64 MiB GET: {:.0} MiB/s",
            n as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
        );
        let one = vec![0x3cu8; 1 << 20];
        for i in 0..64 {
            put(&store, &format!("mid/{core}/{i}"), &one, 1 << 20).await;
        }
        sync().await;
        let start = Instant::now();
        let mut n = 0;
        for i in 0..64 {
            n += read(&store, &format!("mid/{core}/{i}")).await;
        }
        println!(
            "core {core}: 1 MiB GET (sequential objects): {:.0} MiB/s",
            n as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
        );
        sync().await;
    }

    // 3. A bucket of `keys` keys (empty objects, inline), then listing pages.
    let meta_dir = store.engine().config().data_dir.join("meta");
    let before_meta = disk_bytes(&meta_dir);
    let before_rss = rss_kib();
    let start = Instant::now();
    let per_core = keys / CORES;
    let mut tasks = Vec::new();
    for w in 0..WRITERS / CORES {
        let store = store.clone();
        tasks.push(glommio::spawn_local(async move {
            let mut i = w;
            while i < per_core {
                put(&store, &format!("list/{:08}", core * per_core + i), b"", 1).await;
                i += WRITERS / CORES;
            }
        }));
    }
    for t in tasks {
        t.await;
    }
    sync().await;
    if core == 0 {
        println!(
            "filled {keys} keys in {:.1}s ({:.0} PUTs/s of empty objects)",
            start.elapsed().as_secs_f64(),
            keys as f64 / start.elapsed().as_secs_f64()
        );
        let meta = disk_bytes(&meta_dir);
        println!(
            "metadata on disk: {:.0} bytes/object ({} MiB in all; sled reports {} MiB); RSS {} MiB (+{} MiB while filling)",
            (meta.saturating_sub(before_meta)) as f64 / keys as f64,
            meta >> 20,
            store.engine().metadata_bytes_on_disk().unwrap_or(0) >> 20,
            rss_kib() / 1024,
            rss_kib().saturating_sub(before_rss) / 1024
        );
        for (name, after) in [
            ("first", None),
            ("last", Some(format!("list/{:08}", keys - 1001))),
        ] {
            let q = ListQuery {
                prefix: "list/".into(),
                start_after: after,
                max_keys: 1000,
                ..ListQuery::default()
            };
            let runs = 20;
            let start = Instant::now();
            let mut got = 0;
            for _ in 0..runs {
                got = store
                    .list_objects("bench", &q)
                    .await
                    .expect("list")
                    .objects
                    .len();
            }
            println!(
                "list {name} page of {got} keys: {:.2} ms",
                start.elapsed().as_secs_f64() * 1000.0 / runs as f64
            );
        }
        let q = ListQuery {
            delimiter: Some("/".into()),
            max_keys: 1000,
            ..ListQuery::default()
        };
        let start = Instant::now();
        let page = store.list_objects("bench", &q).await.expect("list");
        println!(
            "list with delimiter '/' over the whole bucket: {} prefixes in {:.2} ms",
            page.common_prefixes.len(),
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
    sync().await;
}

fn fio(dir: &std::path::Path, args: &[&str]) -> Option<String> {
    let out = Command::new("fio")
        .arg(format!("--directory={}", dir.display()))
        .args(["--minimal", "--group_reporting"])
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text.lines().last()?.to_string();
    let f: Vec<&str> = line.split(';').collect();
    // Terse v3: read bw KiB/s = 6, read iops = 7, write bw = 47, write iops = 48.
    let pick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Some(format!(
        "read {:.0} MiB/s {:.0} IOPS, write {:.0} MiB/s {:.0} IOPS",
        pick(6) / 1024.0,
        pick(7),
        pick(47) / 1024.0,
        pick(48)
    ))
}

fn main() {
    let base =
        std::env::var_os("CAIRN_BENCH_DIR").map_or_else(|| ".".into(), std::path::PathBuf::from);
    let keys: usize = std::env::var("CAIRN_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir_in(&base).expect("bench dir");

    {
        use md5::{Digest, Md5};
        let data = vec![1u8; 64 << 20];
        let start = Instant::now();
        let _ = Md5::digest(&data);
        println!(
            "MD5 alone: {:.0} MiB/s",
            64.0 / start.elapsed().as_secs_f64()
        );
    }

    let mut config = EngineConfig::new(dir.path().join("data"), CORES);
    config.min_free_bytes = 0;
    let engine = Engine::open(config).expect("open");
    let next = Arc::new(AtomicUsize::new(0));
    let barrier = Barrier(Arc::new(AtomicUsize::new(0)));
    let handles = LocalExecutorPoolBuilder::new(PoolPlacement::Unbound(CORES))
        .io_memory(4 << 20)
        .on_all_shards(move || {
            let engine = engine.clone();
            let next = next.clone();
            let barrier = barrier.clone();
            async move {
                let core = next.fetch_add(1, Ordering::SeqCst);
                let store = engine.attach(core).await.expect("attach");
                core_main(store, core, barrier, keys).await;
            }
        })
        .expect("executors");
    handles.join_all();

    let fio_dir = dir.path().join("fio");
    std::fs::create_dir_all(&fio_dir).expect("fio dir");
    let runtime = format!("--runtime={SMALL_SECS}");
    for (name, args) in [
        (
            "fio 4 KiB write+fdatasync, 64 jobs",
            vec![
                "--name=small",
                "--rw=write",
                "--bs=4k",
                "--size=16m",
                "--fdatasync=1",
                "--numjobs=64",
                "--time_based",
                runtime.as_str(),
                "--ioengine=psync",
            ],
        ),
        (
            "fio sequential O_DIRECT write 1 MiB blocks, 2 jobs",
            vec![
                "--name=seqw",
                "--rw=write",
                "--bs=1m",
                "--size=256m",
                "--direct=1",
                "--numjobs=2",
                "--ioengine=io_uring",
                "--iodepth=4",
                "--end_fsync=1",
            ],
        ),
        (
            "fio sequential O_DIRECT read 1 MiB blocks, 2 jobs",
            vec![
                "--name=seqw",
                "--rw=read",
                "--bs=1m",
                "--size=256m",
                "--direct=1",
                "--numjobs=2",
                "--ioengine=io_uring",
                "--iodepth=4",
            ],
        ),
    ] {
        match fio(&fio_dir, &args) {
            Some(r) => println!("{name}: {r}"),
            None => println!("{name}: fio not available"),
        }
    }
}
