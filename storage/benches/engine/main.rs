//! Storage benchmarks, each beside a reference measured in the same run on the same directory
//! (fio, or raw MD5), alternated round by round (A B A B …) and reported as medians:
//! (a) durable 4 KiB PUTs/s at 64 writers vs fio 4 KiB write+fdatasync at 64 jobs; (b) 64 MiB
//! PUT MiB/s with and without MD5 vs fio sequential O_DIRECT write; (c) 64 MiB and 1 MiB GET
//! MiB/s vs fio sequential O_DIRECT read; (d) one 1000-key listing page, first and last, in a
//! bucket of 1,000,000 keys; (e) resident memory and metadata bytes per object there; and the
//! inline-threshold sweep (PUT and GET rates per size, inline vs blob).
//!
//! `cargo bench -p cairn-storage --bench engine`. Environment: `CAIRN_BENCH_DIR` (the disk;
//! default the current directory), `CAIRN_BENCH_ONLY` (comma list of `list,small,large,read,
//! inline`; default all), `CAIRN_BENCH_ROUNDS` (3), `CAIRN_BENCH_KEYS` (1,000,000),
//! `CAIRN_BENCH_SECS` (seconds per small-PUT run, 5).

mod harness;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use cairn_storage::{EngineConfig, ListQuery};
use harness::{
    closed_loop, disk_bytes, fio, get, median, put, quantile, rss_kib, session, Ctx, CORES,
};

/// Concurrent writers of the small-PUT benchmark, over all cores.
const WRITERS: usize = 64;
/// Large objects per core per round, and their size.
const LARGE_OBJECTS: usize = 4;
const LARGE: usize = 64 << 20;
/// 1 MiB objects read per core per round.
const MID_OBJECTS: usize = 128;
/// Bytes per `write` call when streaming a large body (what an HTTP layer hands over).
const CHUNK: usize = 256 << 10;
/// Object sizes of the inline-threshold sweep, in KiB.
const SWEEP_KIB: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];
/// Seconds per size and operation in the sweep.
const SWEEP_SECS: f64 = 2.0;

struct Settings {
    base: PathBuf,
    rounds: usize,
    keys: usize,
    small_secs: f64,
    only: Vec<String>,
}

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok();
        Settings {
            base: var("CAIRN_BENCH_DIR").map_or_else(|| ".".into(), PathBuf::from),
            rounds: var("CAIRN_BENCH_ROUNDS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(3),
            keys: var("CAIRN_BENCH_KEYS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1_000_000),
            small_secs: var("CAIRN_BENCH_SECS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(5.0),
            only: var("CAIRN_BENCH_ONLY")
                .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default(),
        }
    }

    fn wants(&self, phase: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == phase)
    }
}

fn engine_config(dir: &Path) -> EngineConfig {
    let mut config = EngineConfig::new(dir, CORES);
    config.min_free_bytes = 0;
    config
}

/// Rates summed over cores: total operations (or bytes) over the slowest core's time.
fn rate(per_core: &[(f64, Duration)]) -> f64 {
    let total: f64 = per_core.iter().map(|(n, _)| n).sum();
    let slowest = per_core
        .iter()
        .map(|(_, d)| d.as_secs_f64())
        .fold(0.0, f64::max);
    total / slowest.max(1e-9)
}

/// Headline figures collected for the closing summary.
#[derive(Default)]
struct Summary {
    lines: Vec<String>,
}

impl Summary {
    fn add(&mut self, what: &str, ours: String, reference: String, ratio: String) {
        self.lines
            .push(format!("| {what} | {ours} | {reference} | {ratio} |"));
    }
}

/// The median of the per-round ratios `a[i] / b[i]`: each pairs two measurements taken one
/// right after the other, so the machine's drift between rounds cancels.
fn paired(a: &[f64], b: &[f64]) -> f64 {
    let r: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|(_, b)| **b > 0.0)
        .map(|(a, b)| a / b)
        .collect();
    median(&r)
}

fn times(r: f64) -> String {
    format!("{r:.2}x")
}

/// (a) Durable 4 KiB PUTs at 64 writers vs fio 4 KiB write+fdatasync at 64 jobs.
fn small(s: &Settings, fio_dir: &Path, sum: &mut Summary) {
    println!(
        "\n== (a) 4 KiB durable PUTs, {WRITERS} writers over {CORES} cores, {} s per run",
        s.small_secs
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let runtime = format!("--runtime={}", s.small_secs.ceil() as u64);
    for round in 0..s.rounds {
        let dir = tempfile::tempdir_in(&s.base).expect("bench dir");
        let secs = s.small_secs;
        let res = session(&engine_config(dir.path()), move |ctx: Ctx| async move {
            ctx.bucket().await;
            let store = ctx.store.clone();
            let core = ctx.core;
            let data: Rc<[u8]> = vec![0x5a; 4096].into();
            let out = closed_loop(WRITERS / CORES, secs, move |w, i| {
                let store = store.clone();
                let data = data.clone();
                async move { put(&store, &format!("small/{core}/{w}/{i}"), &data, 4096, true).await }
            })
            .await;
            ctx.sync().await;
            out
        });
        let mut lat: Vec<u32> = res.iter().flat_map(|r| r.2.iter().copied()).collect();
        let r = rate(
            &res.iter()
                .map(|(n, d, _)| (*n as f64, *d))
                .collect::<Vec<_>>(),
        );
        println!(
            "round {round}: cairn {r:.0} PUTs/s (latency p50 {} µs, p99 {} µs)",
            quantile(&mut lat, 0.5),
            quantile(&mut lat, 0.99)
        );
        ours.push(r);
        drop(dir);
        let f = fio(
            fio_dir,
            &[
                "--name=small",
                "--rw=write",
                "--bs=4k",
                "--size=16m",
                "--fdatasync=1",
                "--numjobs=64",
                "--time_based",
                &runtime,
                "--ioengine=psync",
            ],
        )
        .unwrap_or_default();
        println!(
            "round {round}: fio 4 KiB write+fdatasync, 64 jobs: {:.0} IOPS",
            f.write_iops
        );
        theirs.push(f.write_iops);
    }
    let (a, b, r) = (median(&ours), median(&theirs), paired(&ours, &theirs));
    println!(
        "median: cairn {a:.0} PUTs/s, fio {b:.0} IOPS; median of per-round ratios {}",
        times(r)
    );
    sum.add(
        "(a) 4 KiB durable PUTs, 64 writers",
        format!("{a:.0}/s"),
        format!("{b:.0} IOPS (fio 4 KiB write+fdatasync, 64 jobs)"),
        times(r),
    );
}

fn md5_alone() -> f64 {
    use md5::{Digest, Md5};
    let data = vec![1u8; LARGE];
    let start = Instant::now();
    let mut h = Md5::new();
    for c in data.chunks(CHUNK) {
        h.update(c);
    }
    std::hint::black_box(h.finalize());
    (LARGE >> 20) as f64 / start.elapsed().as_secs_f64()
}

/// (b) 64 MiB PUTs, one stream per core, with and without MD5, vs fio sequential write.
fn large(s: &Settings, fio_dir: &Path, sum: &mut Summary) {
    println!("\n== (b) 64 MiB PUTs, one stream per core, {LARGE_OBJECTS} objects per core");
    let (mut with, mut without, mut theirs, mut md5) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..s.rounds {
        let m = md5_alone();
        md5.push(m);
        let dir = tempfile::tempdir_in(&s.base).expect("bench dir");
        let res = session(&engine_config(dir.path()), move |ctx: Ctx| async move {
            ctx.bucket().await;
            let big = vec![0xa5u8; LARGE];
            let mut times = [Duration::ZERO; 2];
            // Alternate which variant goes first.
            for pass in 0..2 {
                let hashed = (pass + round) % 2 == 0;
                ctx.sync().await;
                let start = Instant::now();
                for i in 0..LARGE_OBJECTS {
                    let key = format!("big/{}/{hashed}/{i}", ctx.core);
                    put(&ctx.store, &key, &big, CHUNK, hashed).await;
                }
                times[usize::from(!hashed)] = start.elapsed();
                ctx.sync().await;
            }
            times
        });
        let bytes = (LARGE_OBJECTS * LARGE) as f64 / (1 << 20) as f64;
        let w = rate(&res.iter().map(|t| (bytes, t[0])).collect::<Vec<_>>());
        let wo = rate(&res.iter().map(|t| (bytes, t[1])).collect::<Vec<_>>());
        drop(dir);
        let f = fio(
            fio_dir,
            &[
                "--name=seq",
                "--rw=write",
                "--bs=1m",
                "--size=256m",
                "--direct=1",
                "--numjobs=2",
                "--ioengine=io_uring",
                "--iodepth=4",
                "--end_fsync=1",
            ],
        )
        .unwrap_or_default();
        println!(
            "round {round}: cairn {w:.0} MiB/s with MD5, {wo:.0} MiB/s without; fio {:.0} MiB/s; MD5 alone {m:.0} MiB/s per core",
            f.write_mib_s
        );
        with.push(w);
        without.push(wo);
        theirs.push(f.write_mib_s);
    }
    let (w, wo, f, m) = (
        median(&with),
        median(&without),
        median(&theirs),
        median(&md5),
    );
    let (rw, rwo) = (paired(&with, &theirs), paired(&without, &theirs));
    let rm = paired(&with, &md5.iter().map(|m| 2.0 * m).collect::<Vec<_>>());
    println!(
        "median: with MD5 {w:.0} MiB/s ({}), without {wo:.0} MiB/s ({}), fio {f:.0} MiB/s, MD5 alone {m:.0} MiB/s (ratios: medians of per-round ratios)",
        times(rw),
        times(rwo)
    );
    let fio_ref = format!("{f:.0} MiB/s (fio O_DIRECT 1 MiB, iodepth 4, 2 jobs)");
    sum.add(
        "(b) 64 MiB PUT, MD5 excluded, one stream per core",
        format!("{wo:.0} MiB/s"),
        fio_ref.clone(),
        times(rwo),
    );
    sum.add(
        "(b) 64 MiB PUT, MD5 included",
        format!("{w:.0} MiB/s"),
        fio_ref,
        times(rw),
    );
    sum.add(
        "MD5 alone, one core",
        format!("{m:.0} MiB/s"),
        format!("{:.0} MiB/s (2 cores: PUT with MD5 over this)", 2.0 * m),
        times(rm),
    );
}

/// (c) 64 MiB and 1 MiB GETs, one stream per core, vs fio sequential read.
fn read(s: &Settings, fio_dir: &Path, sum: &mut Summary) {
    println!("\n== (c) GETs, one stream per core: {LARGE_OBJECTS} x 64 MiB and {MID_OBJECTS} x 1 MiB per core");
    let dir = tempfile::tempdir_in(&s.base).expect("bench dir");
    let config = engine_config(dir.path());
    session(&config, |ctx: Ctx| async move {
        ctx.bucket().await;
        let big = vec![0xa5u8; LARGE];
        for i in 0..LARGE_OBJECTS {
            put(
                &ctx.store,
                &format!("big/{}/{i}", ctx.core),
                &big,
                CHUNK,
                true,
            )
            .await;
        }
        for i in 0..MID_OBJECTS {
            put(
                &ctx.store,
                &format!("mid/{}/{i}", ctx.core),
                &big[..1 << 20],
                CHUNK,
                true,
            )
            .await;
        }
        ctx.sync().await;
    });
    let (mut large_r, mut mid_r, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    let fio_args = [
        "--name=seq",
        "--rw=read",
        "--bs=1m",
        "--size=256m",
        "--direct=1",
        "--numjobs=2",
        "--ioengine=io_uring",
        "--iodepth=4",
    ];
    for round in 0..s.rounds {
        let res = session(&config, |ctx: Ctx| async move {
            ctx.sync().await;
            let start = Instant::now();
            let mut n = 0;
            for i in 0..LARGE_OBJECTS {
                n += get(&ctx.store, &format!("big/{}/{i}", ctx.core)).await;
            }
            let big = (n as f64 / (1 << 20) as f64, start.elapsed());
            ctx.sync().await;
            let start = Instant::now();
            let mut n = 0;
            for i in 0..MID_OBJECTS {
                n += get(&ctx.store, &format!("mid/{}/{i}", ctx.core)).await;
            }
            let mid = (n as f64 / (1 << 20) as f64, start.elapsed());
            ctx.sync().await;
            (big, mid)
        });
        let l = rate(&res.iter().map(|r| r.0).collect::<Vec<_>>());
        let m = rate(&res.iter().map(|r| r.1).collect::<Vec<_>>());
        let f = fio(fio_dir, &fio_args).unwrap_or_default();
        println!(
            "round {round}: cairn 64 MiB GET {l:.0} MiB/s, 1 MiB GET {m:.0} MiB/s; fio {:.0} MiB/s",
            f.read_mib_s
        );
        large_r.push(l);
        mid_r.push(m);
        theirs.push(f.read_mib_s);
    }
    let (l, m, f) = (median(&large_r), median(&mid_r), median(&theirs));
    let (rl, rm) = (paired(&large_r, &theirs), paired(&mid_r, &theirs));
    println!(
        "median: 64 MiB GET {l:.0} MiB/s ({}), 1 MiB GET {m:.0} MiB/s ({}), fio {f:.0} MiB/s (ratios: medians of per-round ratios)",
        times(rl),
        times(rm)
    );
    let fio_ref = format!("{f:.0} MiB/s (fio O_DIRECT 1 MiB read, iodepth 4, 2 jobs)");
    sum.add(
        "(c) 64 MiB GET, one stream per core",
        format!("{l:.0} MiB/s"),
        fio_ref.clone(),
        times(rl),
    );
    sum.add(
        "(c) 1 MiB GETs, sequential, one stream per core",
        format!("{m:.0} MiB/s"),
        fio_ref,
        times(rm),
    );
}

/// (d) and (e): a bucket of `keys` empty objects; memory and metadata per object; the first
/// and last 1000-key page.
fn list(s: &Settings, sum: &mut Summary) {
    let keys = s.keys;
    println!("\n== (d, e) a bucket of {keys} keys: memory, metadata, listing pages");
    let dir = tempfile::tempdir_in(&s.base).expect("bench dir");
    let config = engine_config(dir.path());
    let rounds = s.rounds.max(5) * 4;
    let res = session(&config, move |ctx: Ctx| async move {
        ctx.bucket().await;
        let meta_dir = ctx.store.engine().config().data_dir.join("meta");
        let (before_meta, before_rss) = (disk_bytes(&meta_dir), rss_kib());
        ctx.sync().await;
        let start = Instant::now();
        let per_core = keys / CORES;
        let mut tasks = Vec::new();
        for w in 0..WRITERS / CORES {
            let store = ctx.store.clone();
            let core = ctx.core;
            tasks.push(glommio::spawn_local(async move {
                let mut i = w;
                while i < per_core {
                    put(
                        &store,
                        &format!("list/{:08}", core * per_core + i),
                        b"",
                        1,
                        true,
                    )
                    .await;
                    i += WRITERS / CORES;
                }
            }));
        }
        for t in tasks {
            t.await;
        }
        ctx.sync().await;
        let fill = start.elapsed();
        if ctx.core != 0 {
            ctx.sync().await;
            return None;
        }
        let meta = disk_bytes(&meta_dir);
        let rss = rss_kib();
        let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let mut got = [0; 2];
        for i in 0..rounds {
            // Alternate first and last page.
            let which = i % 2;
            let q = ListQuery {
                prefix: "list/".into(),
                start_after: (which == 1).then(|| format!("list/{:08}", keys - 1001)),
                max_keys: 1000,
                ..ListQuery::default()
            };
            let t = Instant::now();
            got[which] = ctx
                .store
                .list_objects("bench", &q)
                .await
                .expect("list")
                .objects
                .len();
            times[which].push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ctx.sync().await;
        Some((
            fill,
            meta.saturating_sub(before_meta),
            meta,
            before_rss,
            rss,
            times,
            got,
        ))
    });
    let Some((fill, meta_delta, meta, before_rss, rss, times, got)) =
        res.into_iter().flatten().next()
    else {
        return;
    };
    let (first, last) = (median(&times[0]), median(&times[1]));
    println!(
        "filled {keys} empty objects in {:.1} s ({:.0} PUTs/s)",
        fill.as_secs_f64(),
        keys as f64 / fill.as_secs_f64()
    );
    let per_object = meta_delta as f64 / keys as f64;
    let rss_per_object = (rss.saturating_sub(before_rss) * 1024) as f64 / keys as f64;
    println!(
        "metadata on disk: {per_object:.0} bytes/object ({} MiB in all); RSS {} MiB, +{} MiB while filling ({rss_per_object:.0} bytes/object)",
        meta >> 20,
        rss / 1024,
        rss.saturating_sub(before_rss) / 1024
    );
    println!(
        "list first page ({} keys): {first:.2} ms, last page ({} keys): {last:.2} ms (medians of {}): last/first {:.2}",
        got[0], got[1], times[0].len(), last / first
    );
    sum.add(
        "(d) list 1000 keys, first page",
        format!("{first:.2} ms"),
        format!("{keys} keys in the bucket"),
        String::new(),
    );
    sum.add(
        "(d) list 1000 keys, last page",
        format!("{last:.2} ms"),
        String::new(),
        format!("last/first {:.2}", last / first),
    );
    sum.add(
        "(e) metadata on disk per object",
        format!("{per_object:.0} bytes"),
        String::new(),
        String::new(),
    );
    sum.add(
        "(e) RSS growth per object while filling",
        format!("{rss_per_object:.0} bytes (RSS {} MiB)", rss / 1024),
        String::new(),
        String::new(),
    );
}

/// The inline-threshold sweep: PUT and GET rates per size with every object inline
/// (threshold 64 KiB) and with every object in a blob (threshold 0), alternated by round.
fn inline(s: &Settings, sum: &mut Summary) {
    println!("\n== inline threshold sweep: {WRITERS} writers, then {WRITERS} readers, {SWEEP_SECS} s per size");
    // [variant][size] -> per-round (puts/s, gets/s, bytes on disk per object)
    let mut all = vec![vec![Vec::new(); SWEEP_KIB.len()]; 2];
    for round in 0..s.rounds {
        for pass in 0..2 {
            let variant = (pass + round) % 2;
            let dir = tempfile::tempdir_in(&s.base).expect("bench dir");
            let mut config = engine_config(dir.path());
            config.inline_threshold = if variant == 0 { 64 << 10 } else { 0 };
            let data_dir = config.data_dir.clone();
            let res = session(&config, move |ctx: Ctx| {
                let data_dir = data_dir.clone();
                async move {
                    ctx.bucket().await;
                    let mut out = Vec::new();
                    for kib in SWEEP_KIB {
                        let data: Rc<[u8]> = vec![0x77; kib << 10].into();
                        let written: Rc<Vec<Cell<u64>>> =
                            Rc::new((0..WRITERS / CORES).map(|_| Cell::new(0)).collect());
                        let before = if ctx.core == 0 {
                            disk_bytes(&data_dir)
                        } else {
                            0
                        };
                        ctx.sync().await;
                        let (store, core) = (ctx.store.clone(), ctx.core);
                        let (w_data, w_written) = (data.clone(), written.clone());
                        let puts = closed_loop(WRITERS / CORES, SWEEP_SECS, move |w, i| {
                            let (store, data, written) =
                                (store.clone(), w_data.clone(), w_written.clone());
                            async move {
                                put(
                                    &store,
                                    &format!("s{kib}/{core}/{w}/{i}"),
                                    &data,
                                    64 << 10,
                                    true,
                                )
                                .await;
                                written[w].set(i + 1);
                            }
                        })
                        .await;
                        ctx.sync().await;
                        let after = if ctx.core == 0 {
                            disk_bytes(&data_dir)
                        } else {
                            0
                        };
                        let store = ctx.store.clone();
                        let gets = closed_loop(WRITERS / CORES, SWEEP_SECS, move |w, i| {
                            let (store, written) = (store.clone(), written.clone());
                            async move {
                                let n = written[w].get().max(1);
                                get(&store, &format!("s{kib}/{core}/{w}/{}", i % n)).await;
                            }
                        })
                        .await;
                        ctx.sync().await;
                        out.push((
                            (puts.0 as f64, puts.1),
                            (gets.0 as f64, gets.1),
                            after.saturating_sub(before),
                        ));
                    }
                    out
                }
            });
            for (i, kib) in SWEEP_KIB.iter().enumerate() {
                let p = rate(&res.iter().map(|r| r[i].0).collect::<Vec<_>>());
                let g = rate(&res.iter().map(|r| r[i].1).collect::<Vec<_>>());
                let objects: f64 = res.iter().map(|r| r[i].0 .0).sum();
                let disk = res[0][i].2 as f64 / objects.max(1.0);
                println!(
                    "round {round} {:>6} {kib:>2} KiB: {p:>7.0} PUTs/s {g:>7.0} GETs/s {disk:>7.0} bytes on disk/object",
                    ["inline", "blob"][variant]
                );
                all[variant][i].push((p, g, disk));
            }
        }
    }
    println!("medians (ratios: of per-round ratios) | size | inline PUTs/s | blob PUTs/s | PUT inline/blob | inline GETs/s | blob GETs/s | GET inline/blob | disk/object inline | blob");
    for (i, kib) in SWEEP_KIB.iter().enumerate() {
        let m = |v: usize, f: fn(&(f64, f64, f64)) -> f64| {
            median(&all[v][i].iter().map(f).collect::<Vec<_>>())
        };
        let (ip, bp) = (m(0, |r| r.0), m(1, |r| r.0));
        let (ig, bg) = (m(0, |r| r.1), m(1, |r| r.1));
        let pick =
            |v: usize, f: fn(&(f64, f64, f64)) -> f64| all[v][i].iter().map(f).collect::<Vec<_>>();
        let line = format!(
            "| {kib} KiB | {ip:.0} | {bp:.0} | {} | {ig:.0} | {bg:.0} | {} | {:.0} | {:.0} |",
            times(paired(&pick(0, |r| r.0), &pick(1, |r| r.0))),
            times(paired(&pick(0, |r| r.1), &pick(1, |r| r.1))),
            m(0, |r| r.2),
            m(1, |r| r.2)
        );
        println!("{line}");
        sum.lines.push(format!("sweep {line}"));
    }
}

fn main() {
    let s = Settings::from_env();
    let top = tempfile::tempdir_in(&s.base).expect("bench dir");
    let fio_dir = top.path().join("fio");
    std::fs::create_dir_all(&fio_dir).expect("fio dir");
    println!(
        "cairn-storage bench: {CORES} cores, {} rounds, fio {}",
        s.rounds,
        std::process::Command::new("fio")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| "not found".into())
    );
    let mut sum = Summary::default();
    if s.wants("list") {
        list(&s, &mut sum);
    }
    if s.wants("small") {
        small(&s, &fio_dir, &mut sum);
    }
    if s.wants("large") {
        large(&s, &fio_dir, &mut sum);
    }
    if s.wants("read") {
        read(&s, &fio_dir, &mut sum);
    }
    if s.wants("inline") {
        inline(&s, &mut sum);
    }
    println!(
        "\n== summary (medians)\n| what | cairn-storage | reference | ratio |\n|---|---|---|---|"
    );
    for line in &sum.lines {
        println!("{line}");
    }
}
