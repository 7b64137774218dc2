//! The hashing limit: how many bytes per second the cores can put through the hashes a
//! server must compute for every uploaded byte (ring's SHA-256 for the signature, MD5 for
//! the ETag), measured alone so a PUT's throughput can be read as a fraction of it. Each
//! core hashes objects of the run's size sliced from the payload, 64 KiB at a time (as a
//! server's read loop feeds them), for the duration; the three variants alternate by round.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{LocalExecutorPoolBuilder, PoolPlacement};
use md5::{Digest as _, Md5};
use ring::digest;
use serde::Serialize;

use crate::config::SizeSpec;
use crate::payload::{self, Layout};
use crate::report::median;
use crate::sys;

/// Bytes handed to the hashes per call.
const FEED: usize = 64 * 1024;

/// Which hashes a pass computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hashes {
    /// SHA-256 and MD5 of every byte: a signed PUT.
    Sha256Md5,
    /// MD5 alone: an unsigned PUT.
    Md5,
    /// SHA-256 alone.
    Sha256,
}

impl Hashes {
    const ALL: [Hashes; 3] = [Hashes::Sha256Md5, Hashes::Md5, Hashes::Sha256];

    fn name(self) -> &'static str {
        match self {
            Hashes::Sha256Md5 => "sha256+md5",
            Hashes::Md5 => "md5",
            Hashes::Sha256 => "sha256",
        }
    }
}

/// One variant's rounds.
#[derive(Debug, Clone, Serialize)]
pub struct HashLimit {
    pub hashes: Hashes,
    /// Every core together, per round.
    pub rounds_mib_per_sec: Vec<f64>,
    pub median_mib_per_sec: f64,
    /// Objects of the size per second (median).
    pub median_objects_per_sec: f64,
    /// Bytes hashed per second of CPU time the hashing threads got: the limit per fully
    /// available core, which holds on a shared machine where wall-clock rates move.
    pub rounds_mib_per_cpu_sec: Vec<f64>,
    pub median_mib_per_cpu_sec: f64,
}

/// The hashing limit on `cores` cores for objects of `size`.
#[derive(Debug, Clone, Serialize)]
pub struct HashLimitReport {
    pub size: String,
    pub cores: usize,
    pub seconds_per_round: f64,
    pub limits: Vec<HashLimit>,
}

impl HashLimitReport {
    /// The report as text.
    pub fn text(&self) -> String {
        let mut s = format!(
            "hashing limit, {} objects, {} cores, {} rounds of {:.1} s (medians):\n",
            self.size,
            self.cores,
            self.limits
                .first()
                .map_or(0, |l| l.rounds_mib_per_sec.len()),
            self.seconds_per_round
        );
        for l in &self.limits {
            s.push_str(&format!(
                "  {:<11} {:>9.1} MiB/s {:>10.1} objects/s {:>8.1} MiB per CPU-second (rounds: {})\n",
                l.hashes.name(),
                l.median_mib_per_sec,
                l.median_objects_per_sec,
                l.median_mib_per_cpu_sec,
                l.rounds_mib_per_sec
                    .iter()
                    .map(|v| format!("{v:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        s
    }
}

fn hash_object(data: &[u8], hashes: Hashes) -> u8 {
    let mut sha = digest::Context::new(&digest::SHA256);
    let mut md5 = Md5::new();
    for piece in data.chunks(FEED) {
        if hashes != Hashes::Md5 {
            sha.update(piece);
        }
        if hashes != Hashes::Sha256 {
            md5.update(piece);
        }
    }
    sha.finish().as_ref()[0] ^ md5.finalize()[0]
}

/// What one core hashed: bytes, wall-clock seconds, CPU seconds of its thread.
#[derive(Debug, Clone, Copy, Default)]
struct Hashed {
    bytes: u64,
    secs: f64,
    cpu_secs: f64,
}

/// Hashes whole objects for at least `duration` on this core.
fn hash_for(
    payload: &[u8],
    layout: &Layout,
    core: usize,
    hashes: Hashes,
    duration: Duration,
) -> Hashed {
    let start = Instant::now();
    let cpu = sys::thread_cpu();
    let mut bytes = 0u64;
    let mut sink = 0u8;
    let mut index = core as u64;
    while start.elapsed() < duration {
        let range = layout.object(index);
        bytes += range.len() as u64;
        sink ^= hash_object(&payload[range], hashes);
        index += 1;
    }
    std::hint::black_box(sink);
    Hashed {
        bytes,
        secs: start.elapsed().as_secs_f64(),
        cpu_secs: (sys::thread_cpu() - cpu).as_secs_f64(),
    }
}

/// Measures each variant `rounds` times for `duration` on `cores` executors.
pub fn measure(
    size: SizeSpec,
    cores: usize,
    duration: Duration,
    rounds: usize,
    seed: u64,
) -> Result<HashLimitReport, String> {
    let layout = Layout::new(size, seed);
    let payload: Arc<[u8]> = Arc::from(payload::generate(layout.payload_len(), seed, cores));
    let mean_size = (size.min() + size.max()) as f64 / 2.0;
    // (MiB/s of all cores, MiB per CPU-second) per round.
    let mut rounds_of: Vec<Vec<(f64, f64)>> = vec![Vec::new(); Hashes::ALL.len()];
    for _ in 0..rounds.max(1) {
        for (i, hashes) in Hashes::ALL.into_iter().enumerate() {
            let next = Arc::new(AtomicUsize::new(0));
            let (payload, layout) = (payload.clone(), layout.clone());
            let handles = LocalExecutorPoolBuilder::new(PoolPlacement::Unbound(cores))
                .name("cairn-hash")
                .io_memory(256 << 10)
                .on_all_shards(move || {
                    let core = next.fetch_add(1, Ordering::Relaxed);
                    async move { hash_for(&payload, &layout, core, hashes, duration) }
                })
                .map_err(|e| e.to_string())?;
            let cores_hashed = handles
                .join_all()
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .collect::<Result<Vec<Hashed>, String>>()?;
            let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
            let wall: f64 = cores_hashed.iter().map(|h| mib(h.bytes) / h.secs).sum();
            let bytes: u64 = cores_hashed.iter().map(|h| h.bytes).sum();
            let cpu: f64 = cores_hashed.iter().map(|h| h.cpu_secs).sum();
            rounds_of[i].push((wall, mib(bytes) / cpu.max(1e-9)));
        }
    }
    Ok(HashLimitReport {
        size: size.to_string(),
        cores,
        seconds_per_round: duration.as_secs_f64(),
        limits: Hashes::ALL
            .into_iter()
            .zip(rounds_of)
            .map(|(hashes, r)| {
                let wall: Vec<f64> = r.iter().map(|x| x.0).collect();
                let per_cpu: Vec<f64> = r.iter().map(|x| x.1).collect();
                let m = median(&wall);
                HashLimit {
                    hashes,
                    median_mib_per_sec: m,
                    median_objects_per_sec: m * (1u64 << 20) as f64 / mean_size,
                    median_mib_per_cpu_sec: median(&per_cpu),
                    rounds_mib_per_sec: wall,
                    rounds_mib_per_cpu_sec: per_cpu,
                }
            })
            .collect(),
    })
}
