//! Helpers of the bench tests: targets pointing at a test `cairnd`, short runs, and one run
//! at a time (each run starts an executor per core, which locks memory).

#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use cairn_bench::{Addressing, BenchConfig, Stop, Target, Workload};
use cairn_sigv4::sign::Credentials;
use cairn_tests::{Daemon, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Holds the other tests of this binary off while a run goes.
pub fn exclusive() -> MutexGuard<'static, ()> {
    ONE_RUN_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A plain-HTTP, path-style target at `daemon` with the test credentials.
pub fn target(daemon: &Daemon) -> Target {
    target_with_secret(daemon, SECRET_ACCESS_KEY)
}

/// [`target`] with another secret.
pub fn target_with_secret(daemon: &Daemon, secret: &str) -> Target {
    Target {
        name: "A".into(),
        addr: daemon.addr,
        host: daemon.addr.to_string(),
        hostname: daemon.addr.ip().to_string(),
        tls: None,
        credentials: Credentials::new(ACCESS_KEY_ID, secret),
        region: REGION.into(),
        addressing: Addressing::Path,
    }
}

/// A short run of `workload`: small objects, a few connections, two cores, a bucket of its
/// own.
pub fn short(workload: Workload, bucket: &str) -> BenchConfig {
    let mut c = BenchConfig::new(workload);
    c.size = cairn_bench::SizeSpec::Fixed(16 * 1024);
    c.objects = 200;
    c.concurrency = 4;
    c.cores = 2;
    c.stop = Stop::Duration(Duration::from_millis(800));
    c.warmup = Duration::from_millis(200);
    c.bucket = bucket.into();
    c.prefix = format!("{bucket}-run/");
    c.parts = 2;
    c.part_size = 5 << 20;
    c.seed = 7;
    c
}
