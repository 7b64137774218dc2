//! What a run is asked to do: the target endpoint, the workload and its shape. Parsed from
//! the command line in `cli.rs`; tests build it directly.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn_sigv4::sign::Credentials;
use serde::Serialize;

/// An S3 endpoint and how to talk to it.
#[derive(Debug, Clone)]
pub struct Target {
    /// A name for reports (`A`, `B`, or the URL).
    pub name: String,
    /// Where to connect.
    pub addr: SocketAddr,
    /// The host (and port, if not the scheme's default) of the URL: the `Host` header and the
    /// TLS server name.
    pub host: String,
    /// The host alone, without the port.
    pub hostname: String,
    /// `Some` for HTTPS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The access key and secret.
    pub credentials: Credentials,
    /// The region of the credential scope.
    pub region: String,
    /// Path style (`/bucket/key`) or virtual-hosted style (`bucket.host/key`).
    pub addressing: Addressing,
}

impl Target {
    /// The URL, for reports.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.host)
    }
}

/// How the bucket is named in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Addressing {
    /// `host/bucket/key`.
    Path,
    /// `bucket.host/key`.
    VirtualHost,
}

/// How requests are signed and bodies framed, as the clients that send them do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Signing {
    /// SigV4, the body's SHA-256 signed (s3cmd; boto3 over plain HTTP).
    Signed,
    /// SigV4 with `UNSIGNED-PAYLOAD` (minio-go and rclone over HTTPS).
    Unsigned,
    /// SigV4 `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, every chunk signed (minio-go/warp over
    /// HTTP).
    Streaming,
    /// SigV4 `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with a CRC32 trailer, the aws-chunked body
    /// inside `Transfer-Encoding: chunked` (boto3 and aws-cli since 2025).
    Trailer,
    /// SigV2 with Content-MD5 (s3-benchmark's hot loop).
    V2,
}

impl Signing {
    /// Every mode, in report order.
    pub const ALL: [Signing; 5] = [
        Signing::Signed,
        Signing::Unsigned,
        Signing::Streaming,
        Signing::Trailer,
        Signing::V2,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Signing::Signed => "signed",
            Signing::Unsigned => "unsigned",
            Signing::Streaming => "streaming",
            Signing::Trailer => "trailer",
            Signing::V2 => "v2",
        }
    }
}

impl fmt::Display for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The operations a workload issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// PutObject of new keys.
    Put,
    /// GetObject of prepared objects, every body verified.
    Get,
    /// HeadObject of prepared objects.
    Stat,
    /// DeleteObject (or DeleteObjects batches) of prepared objects, each once.
    Delete,
    /// ListObjectsV2 pages from random points of a prepared listing, checked.
    List,
    /// CreateMultipartUpload, UploadPart × parts, CompleteMultipartUpload.
    Multipart,
    /// GET, HEAD, PUT, DELETE and LIST mixed by ratio, each connection on its own keys.
    Mixed,
}

impl Workload {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Get => "get",
            Workload::Stat => "stat",
            Workload::Delete => "delete",
            Workload::List => "list",
            Workload::Multipart => "multipart",
            Workload::Mixed => "mixed",
        }
    }

    /// Whether objects are uploaded before the measured phase.
    pub fn needs_objects(self) -> bool {
        matches!(
            self,
            Workload::Get | Workload::Stat | Workload::Delete | Workload::List | Workload::Mixed
        )
    }
}

/// Object sizes: one size, or uniform in an inclusive range (chosen per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeSpec {
    /// Every object this many bytes.
    Fixed(u64),
    /// Each object between the two (inclusive).
    Range(u64, u64),
}

impl SizeSpec {
    /// The smallest size.
    pub fn min(self) -> u64 {
        match self {
            SizeSpec::Fixed(n) | SizeSpec::Range(n, _) => n,
        }
    }

    /// The largest size.
    pub fn max(self) -> u64 {
        match self {
            SizeSpec::Fixed(n) | SizeSpec::Range(_, n) => n,
        }
    }
}

impl fmt::Display for SizeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeSpec::Fixed(n) => f.write_str(&format_size(*n)),
            SizeSpec::Range(a, b) => write!(f, "{}-{}", format_size(*a), format_size(*b)),
        }
    }
}

/// `4KiB`, `64MiB`, `1000B`: the exact binary unit when there is one.
pub fn format_size(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n}B")
}

/// Relative weights of the operations of the `mixed` workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mix {
    pub get: u32,
    pub stat: u32,
    pub put: u32,
    pub delete: u32,
    pub list: u32,
}

impl Default for Mix {
    /// warp's default: 45% GET, 30% STAT, 15% PUT, 10% DELETE.
    fn default() -> Mix {
        Mix {
            get: 45,
            stat: 30,
            put: 15,
            delete: 10,
            list: 0,
        }
    }
}

impl Mix {
    /// The sum of the weights.
    pub fn total(&self) -> u32 {
        self.get + self.stat + self.put + self.delete + self.list
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "get={},stat={},put={},delete={},list={}",
            self.get, self.stat, self.put, self.delete, self.list
        )
    }
}

/// When the measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long (after the warm-up).
    Duration(Duration),
    /// After this many operations (after the warm-up).
    Ops(u64),
}

/// Everything about a run but the target.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub workload: Workload,
    pub size: SizeSpec,
    /// Objects uploaded before the measured phase (get, stat, delete, list, mixed).
    pub objects: u64,
    /// Concurrent connections, spread over the cores.
    pub concurrency: usize,
    pub stop: Stop,
    /// Excluded from the results.
    pub warmup: Duration,
    pub bucket: String,
    /// Every key starts with this.
    pub prefix: String,
    /// Create the bucket if it is missing.
    pub create_bucket: bool,
    /// Delete the objects written (and the bucket, if this run created it) at the end.
    pub cleanup: bool,
    pub signing: Signing,
    /// aws-chunked chunk size (streaming modes).
    pub chunk_size: usize,
    pub mix: Mix,
    /// Keys per ListObjectsV2 page (list, mixed).
    pub max_keys: u32,
    /// Parts per multipart upload, and the size of each (the last is the same).
    pub parts: u32,
    pub part_size: u64,
    /// Keys per DeleteObjects request; 1 sends DeleteObject.
    pub delete_batch: u32,
    /// Executors (one per core).
    pub cores: usize,
    /// Per-request IO timeout.
    pub timeout: Duration,
    /// Hash every body as it is sent instead of using digests computed before the run.
    pub live_hash: bool,
    /// The server's process, for its CPU time per request (same machine only).
    pub server_pid: Option<u32>,
    /// Seed of the payload and key choices.
    pub seed: u64,
    /// Print a progress line each second (on a terminal).
    pub progress: bool,
}

impl BenchConfig {
    /// A configuration with the tool's defaults for `workload` (tests and the CLI start here).
    pub fn new(workload: Workload) -> BenchConfig {
        BenchConfig {
            workload,
            size: SizeSpec::Fixed(1 << 20),
            objects: 1000,
            concurrency: 20,
            stop: Stop::Duration(Duration::from_secs(10)),
            warmup: Duration::from_secs(2),
            bucket: "cairn-bench".into(),
            prefix: "cairn-bench/".into(),
            create_bucket: true,
            cleanup: true,
            signing: Signing::Streaming,
            chunk_size: 64 * 1024,
            mix: Mix::default(),
            max_keys: 100,
            parts: 4,
            part_size: 5 << 20,
            delete_batch: 1,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            timeout: Duration::from_secs(60),
            live_hash: false,
            server_pid: None,
            seed: 1,
            progress: false,
        }
    }

    /// The size of the objects the workload writes (a multipart object: all its parts).
    pub fn object_size(&self) -> SizeSpec {
        match self.workload {
            Workload::Multipart => SizeSpec::Fixed(self.part_size * u64::from(self.parts)),
            _ => self.size,
        }
    }

    /// The key of object `index`: zero-padded, so listing order is index order.
    pub fn key(&self, index: u64) -> String {
        format!("{}{index:012}", self.prefix)
    }
}
