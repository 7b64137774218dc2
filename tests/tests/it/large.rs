//! Large objects through aws-sdk-s3: a single PUT of hundreds of MiB from a file and a
//! streamed GET, checked byte for byte, while the daemon's resident memory stays far below the
//! object's size (the body is streamed, never held whole).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{temp_dir, DaemonOptions};
use md5::Digest;

use crate::sdk::{describe, pattern, Checksums, Transport, S3};

const MIB: usize = 1 << 20;
/// The object: large enough that holding it would dwarf the daemon's own memory.
const OBJECT_MIB: usize = 320;
/// How much the daemon's RSS may grow while the object passes through it.
const MAX_RSS_GROWTH_MIB: u64 = 96;

/// Samples the daemon's RSS every 20 ms until dropped; keeps the peak.
struct RssWatch {
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssWatch {
    fn start(pid: u32) -> RssWatch {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (peak, done) = (peak_kib.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssWatch {
            peak_kib,
            stop,
            thread: Some(thread),
        }
    }

    fn peak_kib(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.peak_kib.load(Ordering::Relaxed)
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn large_object_streams_through(transport: Transport, checksums: Checksums) {
    let s3 = S3::start_with(transport, checksums, DaemonOptions::default());
    let bucket = s3.bucket("large").await;
    // The source file, written in slices, and its MD5.
    let dir = temp_dir();
    let path = dir.path().join("large.bin");
    let mut file = std::fs::File::create(&path).unwrap();
    let mut md5 = md5::Md5::new();
    for i in 0..OBJECT_MIB / 4 {
        let slice = pattern(4 * MIB, i as u64);
        md5.update(&slice);
        file.write_all(&slice).unwrap();
    }
    drop(file);
    let want_md5 = hex::encode(md5.finalize());

    let baseline = s3.daemon.rss_kib();
    let watch = RssWatch::start(s3.daemon.pid());
    let put = s3
        .client
        .put_object()
        .bucket(&bucket)
        .key("large.bin")
        .body(ByteStream::from_path(&path).await.unwrap())
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {OBJECT_MIB} MiB: {}", describe(&e)));
    assert_eq!(put.e_tag(), Some(format!("\"{want_md5}\"").as_str()));
    drop(std::fs::remove_file(&path));

    let mut got = s3
        .client
        .get_object()
        .bucket(&bucket)
        .key("large.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some((OBJECT_MIB * MIB) as i64));
    let mut md5 = md5::Md5::new();
    let mut received = 0usize;
    while let Some(chunk) = got.body.try_next().await.unwrap() {
        received += chunk.len();
        md5.update(&chunk);
    }
    assert_eq!(received, OBJECT_MIB * MIB);
    assert_eq!(hex::encode(md5.finalize()), want_md5);
    let peak = watch.peak_kib();
    let growth_mib = peak.saturating_sub(baseline) / 1024;
    assert!(
        growth_mib <= MAX_RSS_GROWTH_MIB,
        "the daemon grew by {growth_mib} MiB while a {OBJECT_MIB} MiB object passed through"
    );
}

#[tokio::test]
async fn a_large_object_over_https_with_default_checksums() {
    large_object_streams_through(Transport::Https, Checksums::Default).await;
}

#[tokio::test]
async fn a_large_object_over_http_with_a_signed_body_hash() {
    large_object_streams_through(Transport::Http, Checksums::WhenRequired).await;
}
