//! The command line: flags (and the usual `AWS_*` environment variables) into a
//! [`BenchConfig`] and [`Target`]s.

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use cairn_sigv4::sign::Credentials;
use clap::Parser;

use crate::config::{Addressing, BenchConfig, Mix, Signing, SizeSpec, Stop, Target, Workload};
use crate::payload::mix64;
use crate::tls;

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Put,
    Get,
    Stat,
    Delete,
    List,
    Multipart,
    Mixed,
    /// SHA-256 + MD5 (and each alone) over payload slices on every core: the hashing limit
    /// a PUT's throughput is compared with. Talks to no server.
    HashLimit,
}

/// cairn-bench: an S3 load generator (warp-style workloads) with hdrhistogram latencies.
///
/// Drives an S3 endpoint with keep-alive connections, one executor per core, and reports
/// throughput, latency percentiles per operation, errors by code and CPU per request.
/// Objects are slices of one pseudo-random payload; every GET body is verified.
#[derive(Debug, Parser)]
#[command(name = "cairn-bench", version, max_term_width = 100)]
pub struct Args {
    /// The workload.
    #[arg(value_enum)]
    pub mode: Mode,

    /// The S3 endpoint (http:// or https://).
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "http://127.0.0.1:9000"
    )]
    pub endpoint: String,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub access_key: Option<String>,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Region of the credential scope [default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1].
    #[arg(long)]
    pub region: Option<String>,
    /// Bucket-in-host addressing (`bucket.host`) instead of path style.
    #[arg(long)]
    pub virtual_host: bool,
    /// PEM file of the CA certificates to trust for HTTPS [default: $SSL_CERT_FILE, else the
    /// system bundle].
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Accept any HTTPS certificate.
    #[arg(long)]
    pub insecure: bool,

    /// The bucket; created unless --no-create.
    #[arg(long, default_value = "cairn-bench")]
    pub bucket: String,
    /// Key prefix [default: a fresh `cairn-bench-XXXXXXXX/` per run].
    #[arg(long)]
    pub prefix: Option<String>,
    /// Do not create the bucket.
    #[arg(long)]
    pub no_create: bool,
    /// Keep the objects written (and the bucket) at the end.
    #[arg(long)]
    pub keep: bool,

    /// Object size, or an inclusive range (`4KiB`, `1MiB`, `1KiB-1MiB`; KiB/MiB/GiB, or
    /// KB/MB/GB in powers of ten).
    #[arg(long, default_value = "1MiB", value_parser = parse_size_spec)]
    pub size: SizeSpec,
    /// Objects uploaded before a get, stat, delete, list or mixed run.
    #[arg(long, default_value_t = 1000)]
    pub objects: u64,
    /// Concurrent connections.
    #[arg(long, short = 'c', default_value_t = 20)]
    pub concurrency: usize,
    /// How long to measure, after the warm-up (`10s`, `500ms`, `10m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Measure this many operations instead of a duration.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Warm-up excluded from the results.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Payload signing [default: streaming over http, unsigned over https, as minio-go].
    #[arg(long, value_enum)]
    pub sign: Option<Signing>,
    /// aws-chunked chunk size of the streaming modes.
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    pub chunk_size: u64,
    /// Weights of the mixed workload [default: get=45,stat=30,put=15,delete=10 (warp's)].
    #[arg(long, value_parser = parse_mix)]
    pub mix: Option<Mix>,
    /// Keys per ListObjectsV2 page (list, mixed).
    #[arg(long, default_value_t = 100)]
    pub max_keys: u32,
    /// Parts per multipart upload.
    #[arg(long, default_value_t = 4)]
    pub parts: u32,
    /// Size of each part.
    #[arg(long, default_value = "5MiB", value_parser = parse_size)]
    pub part_size: u64,
    /// Keys per delete request (more than 1: DeleteObjects).
    #[arg(long, default_value_t = 1)]
    pub delete_batch: u32,
    /// Executors (one per core) [default: every online CPU].
    #[arg(long)]
    pub cores: Option<usize>,
    /// Per-request IO timeout.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Hash every body as it is sent, as a real client would, instead of using digests
    /// computed before the run (which leave the shared cores to the server).
    #[arg(long)]
    pub live_hash: bool,
    /// The server's PID (same machine): report its CPU time per 10,000 requests.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Seed of the payload and of the key choices [default: fresh per run].
    #[arg(long)]
    pub seed: Option<u64>,

    /// A second endpoint: drive both alternately (A B A B …) and report the ratio B/A.
    #[arg(long)]
    pub ab_endpoint: Option<String>,
    /// Access key of B [default: A's].
    #[arg(long)]
    pub ab_access_key: Option<String>,
    /// Secret of B [default: A's].
    #[arg(long)]
    pub ab_secret_key: Option<String>,
    /// The server PID of B (its CPU per request).
    #[arg(long)]
    pub ab_server_pid: Option<u32>,
    /// Rounds of A/B alternation (and of hash-limit).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,

    /// After a mixed run, read back every object the run left and compare every byte.
    #[arg(long)]
    pub verify_all: bool,

    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// `4096`, `4KiB`, `1.5MiB`, `1MB`, `64k` (k/m/g binary).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(format!(
                "unknown size unit in {s:?} (B, KiB, MiB, GiB, KB, MB, GB)"
            ))
        }
    };
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > (1u64 << 50) as f64 {
        return Err(format!("size out of range: {s:?}"));
    }
    Ok(bytes.round() as u64)
}

/// A size or `min-max`.
pub fn parse_size_spec(s: &str) -> Result<SizeSpec, String> {
    let spec = match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse_size(a)?, parse_size(b)?);
            if a > b {
                return Err(format!("empty size range {s:?}"));
            }
            if a == b {
                SizeSpec::Fixed(a)
            } else {
                SizeSpec::Range(a, b)
            }
        }
        None => SizeSpec::Fixed(parse_size(s)?),
    };
    if spec.max() > 5 << 30 {
        return Err("objects larger than 5 GiB need multipart (use --part-size)".into());
    }
    Ok(spec)
}

/// `10s`, `500ms`, `2m`, `1h`, or seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown duration unit in {s:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("duration out of range: {s:?}"))
}

/// `get=45,stat=30,put=15,delete=10,list=5` (names left out weigh 0).
pub fn parse_mix(s: &str) -> Result<Mix, String> {
    let mut mix = Mix {
        get: 0,
        stat: 0,
        put: 0,
        delete: 0,
        list: 0,
    };
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (name, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("expected name=weight, got {part:?}"))?;
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| format!("not a weight: {part:?}"))?;
        match name.trim() {
            "get" => mix.get = weight,
            "stat" | "head" => mix.stat = weight,
            "put" => mix.put = weight,
            "delete" => mix.delete = weight,
            "list" => mix.list = weight,
            other => {
                return Err(format!(
                    "unknown operation {other:?} (get, stat, put, delete, list)"
                ))
            }
        }
    }
    if mix.total() == 0 {
        return Err("the mix has no operation with a weight above 0".into());
    }
    Ok(mix)
}

/// A parsed endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    /// Host as written (brackets kept for IPv6).
    pub hostname: String,
    pub port: u16,
}

impl Endpoint {
    /// `http[s]://host[:port][/]`.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!(
                "the endpoint {url:?} must start with http:// or https://"
            ));
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(format!("the endpoint {url:?} must be scheme://host[:port]"));
        }
        let (hostname, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && (h.starts_with('[') || !h.contains(':')) => (
                h.to_owned(),
                p.parse()
                    .map_err(|_| format!("bad port in the endpoint {url:?}"))?,
            ),
            _ => (authority.to_owned(), if https { 443 } else { 80 }),
        };
        Ok(Endpoint {
            https,
            hostname,
            port,
        })
    }

    /// The `Host` header: the port only when it is not the scheme's.
    pub fn host(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            self.hostname.clone()
        } else {
            format!("{}:{}", self.hostname, self.port)
        }
    }
}

/// A fresh seed for a run: time and process id, mixed.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    mix64(nanos ^ (u64::from(std::process::id()) << 40))
}

impl Args {
    fn region(&self) -> String {
        self.region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "us-east-1".into())
    }

    /// The workload, unless the mode is hash-limit.
    pub fn workload(&self) -> Option<Workload> {
        Some(match self.mode {
            Mode::Put => Workload::Put,
            Mode::Get => Workload::Get,
            Mode::Stat => Workload::Stat,
            Mode::Delete => Workload::Delete,
            Mode::List => Workload::List,
            Mode::Multipart => Workload::Multipart,
            Mode::Mixed => Workload::Mixed,
            Mode::HashLimit => return None,
        })
    }

    /// The run's configuration.
    pub fn config(&self, workload: Workload) -> Result<BenchConfig, String> {
        let https = Endpoint::parse(&self.endpoint)?.https;
        let seed = self.seed.unwrap_or_else(fresh_seed);
        let mut c = BenchConfig::new(workload);
        c.size = self.size;
        c.objects = self.objects;
        c.concurrency = self.concurrency;
        c.stop = match self.ops {
            Some(n) => Stop::Ops(n),
            None => Stop::Duration(self.duration),
        };
        c.warmup = self.warmup;
        c.bucket = self.bucket.clone();
        c.prefix = self
            .prefix
            .clone()
            .unwrap_or_else(|| format!("cairn-bench-{:08x}/", seed as u32));
        c.create_bucket = !self.no_create;
        c.cleanup = !self.keep;
        c.signing = self.sign.unwrap_or(if https {
            Signing::Unsigned
        } else {
            Signing::Streaming
        });
        c.chunk_size = usize::try_from(self.chunk_size)
            .ok()
            .filter(|&n| n > 0)
            .ok_or("--chunk-size must be at least 1 byte")?;
        c.mix = self.mix.unwrap_or_default();
        c.max_keys = self.max_keys.clamp(1, 1000);
        c.parts = self.parts;
        c.part_size = self.part_size;
        c.delete_batch = self.delete_batch.clamp(1, 1000);
        if let Some(cores) = self.cores {
            c.cores = cores;
        }
        c.timeout = self.timeout;
        c.live_hash = self.live_hash;
        c.server_pid = self.server_pid;
        c.seed = seed;
        c.progress = !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Ok(c)
    }

    fn target(
        &self,
        name: &str,
        url: &str,
        key: Option<&String>,
        secret: Option<&String>,
    ) -> Result<Target, String> {
        let endpoint = Endpoint::parse(url)?;
        let (Some(key), Some(secret)) = (key, secret) else {
            return Err(
                "no credentials: give --access-key and --secret-key, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            );
        };
        let bare = endpoint
            .hostname
            .trim_start_matches('[')
            .trim_end_matches(']');
        let addr = (bare, endpoint.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", endpoint.hostname))?
            .next()
            .ok_or_else(|| format!("{} has no address", endpoint.hostname))?;
        let tls = if endpoint.https {
            Some(
                tls::client_config(self.ca_file.as_deref(), self.insecure)
                    .map_err(|e| e.to_string())?,
            )
        } else {
            None
        };
        Ok(Target {
            name: name.into(),
            addr,
            host: endpoint.host(),
            hostname: bare.to_owned(),
            tls,
            credentials: Credentials::new(key.clone(), secret.clone()),
            region: self.region(),
            addressing: if self.virtual_host {
                Addressing::VirtualHost
            } else {
                Addressing::Path
            },
        })
    }

    /// Target A (the endpoint) and, in A/B mode, target B.
    pub fn targets(&self) -> Result<(Target, Option<Target>), String> {
        let a = self.target(
            "A",
            &self.endpoint,
            self.access_key.as_ref(),
            self.secret_key.as_ref(),
        )?;
        let b = match &self.ab_endpoint {
            Some(url) => Some(self.target(
                "B",
                url,
                self.ab_access_key.as_ref().or(self.access_key.as_ref()),
                self.ab_secret_key.as_ref().or(self.secret_key.as_ref()),
            )?),
            None => None,
        };
        Ok((a, b))
    }
}

/// Parses the process's arguments.
pub fn args() -> Args {
    Args::parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_durations_mixes_and_endpoints_parse() {
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("4XB").is_err());
        assert_eq!(
            parse_size_spec("1KiB-1MiB"),
            Ok(SizeSpec::Range(1024, 1 << 20))
        );
        assert!(parse_size_spec("2MiB-1MiB").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        let mix = parse_mix("get=45,stat=30,put=15,delete=10").unwrap();
        assert_eq!(mix, Mix::default());
        assert_eq!(parse_mix("list=1").unwrap().list, 1);
        assert!(parse_mix("get=0").is_err());
        assert!(parse_mix("copy=1").is_err());
        let e = Endpoint::parse("https://s3.example.com/").unwrap();
        assert_eq!(
            (e.https, e.port, e.host()),
            (true, 443, "s3.example.com".into())
        );
        let e = Endpoint::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!((e.port, e.host()), (9000, "127.0.0.1:9000".into()));
        let e = Endpoint::parse("http://[::1]:9000").unwrap();
        assert_eq!((e.hostname.as_str(), e.port), ("[::1]", 9000));
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("http://x/path").is_err());
    }
}
