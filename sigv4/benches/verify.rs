//! Benchmarks of the hot paths: streaming verification of a 64 MiB body in 64 KiB signed
//! chunks against raw ring SHA-256 over the same bytes (the ratio is printed; the goal is at
//! least 0.95), header-auth verification with a warm key cache (goal: under 5 µs), a cold
//! signing-key derivation, and the additional checksums' throughput.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cairn_sigv4::sign::{sign_v4_header, AwsChunkedEncoder, Credentials, SignPayload};
use cairn_sigv4::{
    parse_auth, verify, ChecksumAlgorithm, ChecksumHasher, Policy, RequestParts, SecretKey,
    SigningKey, SigningKeyCache,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const AKID: &str = "AKIDBENCH";
const SECRET: &str = "bench-secret-key/0123456789abcdefghijklmn";
const NOW: i64 = 1_700_000_000;
const BODY: usize = 64 << 20;
const CHUNK: usize = 64 << 10;
/// What one socket read hands the decoder.
const READ: usize = 256 << 10;

struct Streaming {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    data: Vec<u8>,
}

fn streaming_upload() -> Streaming {
    let data: Vec<u8> = (0..BODY).map(|i| (i * 131 % 251) as u8).collect();
    let len = BODY.to_string();
    let head: Vec<(&str, &str)> = vec![
        ("Host", "localhost:9000"),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", &len),
    ];
    let parts = RequestParts {
        method: "PUT",
        path: "/bucket/object",
        query: "",
        headers: &head,
    };
    let s = sign_v4_header(
        &parts,
        &Credentials::new(AKID, SECRET),
        "us-east-1",
        NOW,
        SignPayload::StreamingSigned,
    );
    let body = AwsChunkedEncoder::signed(s.chunk_context, s.signature, None).encode(&data, CHUNK);
    let mut headers: Vec<(String, String)> = head
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    headers.extend(s.headers);
    Streaming {
        headers,
        body,
        data,
    }
}

/// Authenticates the head and streams the whole body through the verifier.
fn verify_streaming(u: &Streaming, cache: &mut SigningKeyCache) -> u64 {
    let refs: Vec<(&str, &str)> = u
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let parts = RequestParts {
        method: "PUT",
        path: "/bucket/object",
        query: "",
        headers: &refs,
    };
    let auth = parse_auth(&parts).unwrap();
    let secret = SecretKey::new(SECRET);
    let v = verify(&auth, &parts, None, &secret, NOW, &Policy::default(), cache).unwrap();
    let mut payload = v.payload;
    let mut sum = 0u64;
    for read in u.body.chunks(READ) {
        let mut rest = read;
        while !rest.is_empty() {
            let step = payload.feed(rest).unwrap();
            sum += step.data.len() as u64;
            rest = &rest[step.consumed..];
        }
    }
    payload.finish().unwrap();
    sum
}

fn raw_sha256(data: &[u8]) -> ring::digest::Digest {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for read in data.chunks(READ) {
        ctx.update(read);
    }
    ctx.finish()
}

/// Best-of-`n` wall time of `f`.
fn best_of(n: usize, mut f: impl FnMut()) -> Duration {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

/// Runs `a` and `b` alternately `rounds` times (A B A B …, so both see the same background
/// load on a shared machine) and returns the median wall time of each.
fn alternating_medians(
    rounds: usize,
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) -> (Duration, Duration) {
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed()
    };
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ta.push(time(&mut a));
        tb.push(time(&mut b));
    }
    ta.sort();
    tb.sort();
    (ta[rounds / 2], tb[rounds / 2])
}

fn streaming(c: &mut Criterion) {
    let u = streaming_upload();
    let mut cache = SigningKeyCache::default();
    let mut g = c.benchmark_group("streaming_64MiB_in_64KiB_chunks");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_millis(500))
        .throughput(Throughput::Bytes(BODY as u64));
    g.bench_function("raw_ring_sha256", |b| {
        b.iter(|| raw_sha256(black_box(&u.data)))
    });
    g.bench_function("aws_chunked_verify", |b| {
        b.iter(|| verify_streaming(black_box(&u), &mut cache))
    });
    g.finish();

    let (raw, ours) = alternating_medians(
        15,
        || {
            black_box(raw_sha256(black_box(&u.data)));
        },
        || {
            black_box(verify_streaming(black_box(&u), &mut cache));
        },
    );
    let gib = |d: Duration| BODY as f64 / d.as_secs_f64() / f64::from(1u32 << 30);
    println!(
        "streaming 64 MiB / 64 KiB chunks: raw SHA-256 {:.2} GiB/s, aws-chunked verify {:.2} GiB/s, ratio {:.3} (goal >= 0.95)",
        gib(raw),
        gib(ours),
        raw.as_secs_f64() / ours.as_secs_f64()
    );
}

fn header_auth(c: &mut Criterion) {
    let head: Vec<(&str, &str)> = vec![
        ("Host", "localhost:9000"),
        ("User-Agent", "aws-sdk-rust/1.0"),
        ("Content-Type", "application/octet-stream"),
        ("Content-Length", "1048576"),
        ("x-amz-meta-owner", "bench"),
        ("x-amz-checksum-crc32", "AAAAAA=="),
    ];
    let parts = RequestParts {
        method: "PUT",
        path: "/bucket/some/object%20key.bin",
        query: "x-id=PutObject",
        headers: &head,
    };
    let s = sign_v4_header(
        &parts,
        &Credentials::new(AKID, SECRET),
        "us-east-1",
        NOW,
        SignPayload::Unsigned,
    );
    let mut headers: Vec<(String, String)> = head
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    headers.extend(s.headers);
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let parts = RequestParts {
        headers: &refs,
        ..parts
    };
    let secret = SecretKey::new(SECRET);
    let policy = Policy::default();
    let mut cache = SigningKeyCache::default();
    c.bench_function("header_auth_verify_warm_cache", |b| {
        b.iter(|| {
            let auth = parse_auth(black_box(&parts)).unwrap();
            let v = verify(&auth, &parts, None, &secret, NOW, &policy, &mut cache).unwrap();
            black_box(v.payload.mode());
        })
    });
    c.bench_function("signing_key_derivation_cold", |b| {
        b.iter(|| SigningKey::derive(black_box(&secret), "20231114", "us-east-1", "s3"))
    });
    let n = 20_000;
    let t = best_of(3, || {
        for _ in 0..n {
            let auth = parse_auth(&parts).unwrap();
            black_box(verify(&auth, &parts, None, &secret, NOW, &policy, &mut cache).unwrap());
        }
    });
    println!(
        "header auth verify (warm cache): {:.2} µs per request (goal < 5 µs)",
        t.as_secs_f64() * 1e6 / f64::from(n)
    );
}

fn checksums(c: &mut Criterion) {
    let data = vec![0xa5u8; 4 << 20];
    let mut g = c.benchmark_group("checksum_4MiB");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300))
        .throughput(Throughput::Bytes(data.len() as u64));
    for a in ChecksumAlgorithm::ALL {
        g.bench_function(a.s3_name(), |b| {
            b.iter(|| ChecksumHasher::checksum(a, black_box(&data)))
        });
    }
    g.finish();
}

criterion_group!(benches, streaming, header_auth, checksums);
criterion_main!(benches);
