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
                "  {:<11} {:>10.1} MiB/s {:>12.1} objects/s  (rounds: {})\n",
                l.hashes.name(),
                l.median_mib_per_sec,
                l.median_objects_per_sec,
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

/// Bytes per second one core hashes, hashing whole objects for at least `duration`.
fn hash_for(
    payload: &[u8],
    layout: &Layout,
    core: usize,
    hashes: Hashes,
    duration: Duration,
) -> f64 {
    let start = Instant::now();
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
    bytes as f64 / start.elapsed().as_secs_f64()
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
    let mut rounds_of: Vec<Vec<f64>> = vec![Vec::new(); Hashes::ALL.len()];
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
            let per_sec: f64 = handles
                .join_all()
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .sum::<Result<f64, String>>()?;
            rounds_of[i].push(per_sec / (1u64 << 20) as f64);
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
                let m = median(&r);
                HashLimit {
                    hashes,
                    median_mib_per_sec: m,
                    median_objects_per_sec: m * (1u64 << 20) as f64 / mean_size,
                    rounds_mib_per_sec: r,
                }
            })
            .collect(),
    })
}
