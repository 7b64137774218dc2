//! Entry points for the fuzz targets in `fuzz/` and for the no-panic test that drives the same
//! functions with pseudo-random input where cargo-fuzz is not available. Each takes arbitrary
//! bytes and must never panic; results are checked for internal consistency only.

use crate::checksum::ChecksumAlgorithm;
use crate::chunked::{AwsChunkedConfig, AwsChunkedDecoder, ChunkSigningContext};
use crate::key::{SecretKey, Signature, SigningKey};
use crate::{parse_auth, verify, Policy, RequestParts, SigningKeyCache};

/// The aws-chunked configuration a fuzz input's first byte selects: bit 0 signed chunks,
/// bits 1.. the trailer checksum (none or one of the five), bit 7 a decoded length.
#[derive(Debug)]
pub struct ChunkedFuzzSetup {
    pub signed: bool,
    pub trailer: Option<ChecksumAlgorithm>,
    pub ctx: ChunkSigningContext,
    /// The seed signature the chunk chain starts from.
    pub seed: Signature,
}

/// Decodes `mode` into its configuration (shared with the tests that build valid inputs).
pub fn chunked_setup(mode: u8) -> ChunkedFuzzSetup {
    let trailer = match (mode >> 1) % 6 {
        0 => None,
        n => Some(ChecksumAlgorithm::ALL[usize::from(n - 1)]),
    };
    let ctx = ChunkSigningContext {
        key: SigningKey::derive(
            &SecretKey::new("fuzz-secret"),
            "20130524",
            "us-east-1",
            "s3",
        ),
        amz_date: "20130524T000000Z".into(),
        scope: "20130524/us-east-1/s3/aws4_request".into(),
    };
    let seed = ctx.key.sign(b"seed");
    ChunkedFuzzSetup {
        signed: mode & 1 == 1,
        trailer,
        ctx,
        seed,
    }
}

/// Parses `data` as an `Authorization` header value, then verifies the request it makes (a
/// virtual-hosted-style one, as its router would see it: bucket `bucket`).
pub fn authorization(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let headers = [
        ("Host", "bucket.localhost"),
        ("Authorization", value),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ];
    run_request("/key", "", &headers, Some("bucket"));
}

/// Parses `data` as a query string (presigned URL), then verifies the request it makes.
pub fn presigned(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    run_request("/bucket/key", query, &[("Host", "localhost")], None);
}

fn run_request(
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    virtual_host_bucket: Option<&str>,
) {
    let parts = RequestParts {
        method: "GET",
        path,
        query,
        headers,
    };
    let Ok(auth) = parse_auth(&parts) else {
        return;
    };
    let _ = auth.access_key_id();
    let mut cache = SigningKeyCache::new(2);
    let secret = SecretKey::new("fuzz-secret");
    if let Ok(v) = verify(
        &auth,
        &parts,
        virtual_host_bucket,
        &secret,
        1_369_353_600,
        &Policy::default(),
        &mut cache,
    ) {
        let _ = v.payload.verify_all(b"body");
    }
}

/// Decodes `data` as an aws-chunked body: the first byte picks the mode (signed or not, trailer
/// algorithm, whether a decoded length is announced), the next two the feed split size; the
/// rest is the body, fed in pieces of that size. Returns whether the body was accepted.
pub fn aws_chunked(data: &[u8]) -> bool {
    if data.len() < 3 {
        return false;
    }
    let (mode, split, body) = (
        data[0],
        usize::from(u16::from_le_bytes([data[1], data[2]])),
        &data[3..],
    );
    let ChunkedFuzzSetup {
        signed,
        trailer,
        ctx,
        seed,
    } = chunked_setup(mode);
    let mut decoder = AwsChunkedDecoder::new(AwsChunkedConfig {
        signing: signed.then_some((ctx, seed)),
        trailer_mode: trailer.is_some() || !signed,
        trailer,
        decoded_length: (mode & 0x80 != 0).then_some(body.len() as u64 / 2),
        access_key_id: "AKID".into(),
    });
    let mut decoded = 0u64;
    for mut piece in body.chunks(split.max(1)) {
        while !piece.is_empty() {
            match decoder.feed(piece) {
                Ok(step) => {
                    assert!(step.consumed <= piece.len(), "consumed more than given");
                    assert!(step.data.start <= step.data.end && step.data.end <= step.consumed);
                    assert!(step.consumed > 0, "no progress");
                    decoded += step.data.len() as u64;
                    piece = &piece[step.consumed..];
                }
                Err(_) => return false,
            }
        }
    }
    assert_eq!(decoded, decoder.decoded_so_far());
    match decoder.finish() {
        Ok(done) => {
            assert_eq!(done.decoded_length, decoded);
            assert!(decoded <= body.len() as u64);
            true
        }
        Err(_) => false,
    }
}
