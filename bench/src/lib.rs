//! cairn-bench: an S3 load generator built for load. One glommio executor per core, each
//! driving its share of keep-alive connections with a small HTTP/1.1 client; payloads
//! generated once per run (pseudo-random, incompressible) and sent as slices of one buffer;
//! GET bodies verified against it without allocating; every request signed by
//! cairn-sigv4's signer in the mode a real client uses; latencies in hdrhistogram.
//!
//! The binary (`src/main.rs`) parses the command line into a [`BenchConfig`] and
//! [`Target`]s; tests drive [`Bench`] directly.

pub mod cli;
pub mod config;
pub mod hashlimit;
pub mod http;
pub mod payload;
pub mod report;
pub mod runner;
pub mod s3;
pub mod stats;
pub mod sys;
pub mod tls;
pub mod workload;
pub mod xml;

pub use config::{Addressing, BenchConfig, Mix, Signing, SizeSpec, Stop, Target, Workload};
pub use report::{AbReport, Report};
pub use runner::{Bench, BenchError};

/// Prepares, measures once, and cleans up (if configured): the whole of a one-target run.
pub fn run(config: BenchConfig, target: Target) -> Result<Report, BenchError> {
    let cleanup = config.cleanup;
    let mut bench = Bench::new(config, vec![target])?;
    let result = bench.prepare().and_then(|()| bench.measure(0));
    if cleanup {
        let cleaned = bench.cleanup();
        let report = result?;
        cleaned?;
        return Ok(report);
    }
    result
}
