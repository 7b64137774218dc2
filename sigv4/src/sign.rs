//! The signer for Cairn's own clients (bench, tests): SigV4 header auth, presigned URLs,
//! aws-chunked bodies with signed chunks and trailer or unsigned with a trailer, and SigV2.
//! It builds the same canonical forms the verifier checks (same AWS documents); time is an
//! argument.

use crate::canonical::{self, uri_encode_into, Component, ALGORITHM};
use crate::checksum::{ChecksumAlgorithm, ChecksumHasher};
use crate::chunked::ChunkSigningContext;
use crate::key::{SecretKey, Signature, SigningKey, SigningKeyCache};
use crate::payload::{
    STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER, UNSIGNED_PAYLOAD,
};
use crate::time::{format_amz_date, format_scope_date};
use crate::RequestParts;

/// An access key and its secret.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret.
    pub secret: SecretKey,
}

impl Credentials {
    /// A key pair.
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            access_key_id: access_key_id.into(),
            secret: SecretKey::new(secret),
        }
    }
}

/// What `x-amz-content-sha256` a signed request announces.
#[derive(Debug, Clone, Copy)]
pub enum SignPayload<'a> {
    /// A body in memory: its SHA-256 is signed.
    Bytes(&'a [u8]),
    /// A precomputed lower-case hex SHA-256.
    Sha256Hex(&'a str),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    StreamingUnsignedTrailer,
}

impl SignPayload<'_> {
    fn value(&self) -> String {
        match self {
            SignPayload::Bytes(b) => canonical::sha256_hex(b),
            SignPayload::Sha256Hex(h) => (*h).to_owned(),
            SignPayload::Unsigned => UNSIGNED_PAYLOAD.to_owned(),
            SignPayload::StreamingSigned => STREAMING_SIGNED.to_owned(),
            SignPayload::StreamingSignedTrailer => STREAMING_SIGNED_TRAILER.to_owned(),
            SignPayload::StreamingUnsignedTrailer => STREAMING_UNSIGNED_TRAILER.to_owned(),
        }
    }
}

/// The result of header signing.
#[derive(Debug)]
pub struct SignedRequest {
    /// Headers to add to the request: `x-amz-date`, `x-amz-content-sha256`, `authorization`.
    pub headers: Vec<(String, String)>,
    /// The request signature (the seed of a signed aws-chunked body).
    pub signature: Signature,
    /// What signs the chunks of an aws-chunked body.
    pub chunk_context: ChunkSigningContext,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string that was signed.
    pub string_to_sign: String,
}

/// Headers never signed: hop-by-hop or rewritten on the way.
const UNSIGNED_HEADERS: &[&str] = &[
    "authorization",
    "user-agent",
    "expect",
    "transfer-encoding",
    "connection",
];

fn signed_header_list<'a>(headers: impl Iterator<Item = &'a str>) -> String {
    let mut names: Vec<String> = headers
        .map(str::to_ascii_lowercase)
        .filter(|n| !UNSIGNED_HEADERS.contains(&n.as_str()))
        .collect();
    names.sort();
    names.dedup();
    names.join(";")
}

/// Signs `parts` (which must include `host`) with SigV4 in the `Authorization` header.
pub fn sign_v4_header(
    parts: &RequestParts<'_>,
    creds: &Credentials,
    region: &str,
    now: i64,
    payload: SignPayload<'_>,
) -> SignedRequest {
    let key = SigningKey::derive(&creds.secret, &format_scope_date(now), region, "s3");
    sign_v4_header_with(parts, creds, region, now, payload, key)
}

/// [`sign_v4_header`] with the signing key from `cache`: a client signing many requests
/// derives it once per day and region.
pub fn sign_v4_header_cached(
    parts: &RequestParts<'_>,
    creds: &Credentials,
    region: &str,
    now: i64,
    payload: SignPayload<'_>,
    cache: &mut SigningKeyCache,
) -> SignedRequest {
    let key = cache.get(
        &creds.access_key_id,
        &creds.secret,
        &format_scope_date(now),
        region,
    );
    sign_v4_header_with(parts, creds, region, now, payload, key)
}

fn sign_v4_header_with(
    parts: &RequestParts<'_>,
    creds: &Credentials,
    region: &str,
    now: i64,
    payload: SignPayload<'_>,
    key: SigningKey,
) -> SignedRequest {
    let amz_date = format_amz_date(now);
    let date = format_scope_date(now);
    let payload = payload.value();
    let mut all: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .copied()
        .filter(|(n, _)| {
            !n.eq_ignore_ascii_case("x-amz-date") && !n.eq_ignore_ascii_case("x-amz-content-sha256")
        })
        .collect();
    all.push(("x-amz-date", &amz_date));
    all.push(("x-amz-content-sha256", &payload));
    let signed = signed_header_list(all.iter().map(|(n, _)| *n));
    let full = RequestParts {
        headers: &all,
        ..*parts
    };
    let canonical_request = canonical::canonical_request_unbounded(&full, &signed, &payload, false);
    let scope = canonical::scope(&date, region, "s3");
    let string_to_sign = canonical::string_to_sign(&amz_date, &scope, &canonical_request);
    let signature = key.sign(string_to_sign.as_bytes());
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed}, Signature={}",
        creds.access_key_id,
        signature.hex_string()
    );
    SignedRequest {
        headers: vec![
            ("x-amz-date".into(), amz_date.clone()),
            ("x-amz-content-sha256".into(), payload.clone()),
            ("authorization".into(), authorization),
        ],
        signature,
        chunk_context: ChunkSigningContext {
            key,
            amz_date,
            scope,
        },
        canonical_request,
        string_to_sign,
    }
}

/// Presigns `parts` (headers to sign, including `host`): returns the full query string to send,
/// the original parameters followed by the `X-Amz-*` ones and `X-Amz-Signature`.
pub fn presign_v4(
    parts: &RequestParts<'_>,
    creds: &Credentials,
    region: &str,
    now: i64,
    expires_secs: u32,
) -> String {
    let amz_date = format_amz_date(now);
    let date = format_scope_date(now);
    let scope = canonical::scope(&date, region, "s3");
    let signed = signed_header_list(parts.headers.iter().map(|(n, _)| *n));
    let mut query = String::from(parts.query);
    let mut add = |name: &str, value: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        uri_encode_into(&mut query, value, Component::Query);
    };
    add("X-Amz-Algorithm", ALGORITHM);
    add(
        "X-Amz-Credential",
        &format!("{}/{scope}", creds.access_key_id),
    );
    add("X-Amz-Date", &amz_date);
    add("X-Amz-Expires", &expires_secs.to_string());
    add("X-Amz-SignedHeaders", &signed);
    let full = RequestParts {
        query: &query,
        ..*parts
    };
    let payload = parts
        .header("x-amz-content-sha256")
        .unwrap_or(UNSIGNED_PAYLOAD);
    let canonical_request = canonical::canonical_request_unbounded(&full, &signed, payload, true);
    let string_to_sign = canonical::string_to_sign(&amz_date, &scope, &canonical_request);
    let key = SigningKey::derive(&creds.secret, &date, region, "s3");
    let signature = key.sign(string_to_sign.as_bytes());
    query.push_str("&X-Amz-Signature=");
    query.push_str(&signature.hex_string());
    query
}

/// Encodes a body as aws-chunked, chunk by chunk, signed or not, with an optional checksum
/// trailer computed over the data.
#[derive(Debug)]
pub struct AwsChunkedEncoder {
    signing: Option<(ChunkSigningContext, [u8; 64])>,
    checksum: Option<ChecksumHasher>,
    uppercase_sizes: bool,
}

impl AwsChunkedEncoder {
    /// Signed chunks chained from `seed` (the request signature); with a trailer the request
    /// must have been signed as [`SignPayload::StreamingSignedTrailer`].
    pub fn signed(
        ctx: ChunkSigningContext,
        seed: Signature,
        trailer: Option<ChecksumAlgorithm>,
    ) -> AwsChunkedEncoder {
        AwsChunkedEncoder {
            signing: Some((ctx, seed.to_hex())),
            checksum: trailer.map(ChecksumHasher::new),
            uppercase_sizes: false,
        }
    }

    /// Unsigned chunks (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
    pub fn unsigned(trailer: Option<ChecksumAlgorithm>) -> AwsChunkedEncoder {
        AwsChunkedEncoder {
            signing: None,
            checksum: trailer.map(ChecksumHasher::new),
            uppercase_sizes: false,
        }
    }

    /// Writes chunk sizes in upper-case hex (as older aws-sdk-rust releases do).
    pub fn uppercase_sizes(mut self) -> AwsChunkedEncoder {
        self.uppercase_sizes = true;
        self
    }

    fn chunk_inner(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.head_inner(data, None, out);
        if !data.is_empty() {
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
    }

    fn head_inner(&mut self, data: &[u8], sha256_hex: Option<&[u8; 64]>, out: &mut Vec<u8>) {
        let size = if self.uppercase_sizes {
            format!("{:X}", data.len())
        } else {
            format!("{:x}", data.len())
        };
        out.extend_from_slice(size.as_bytes());
        if let Some((ctx, prev)) = &mut self.signing {
            let sig = match sha256_hex {
                Some(hash) => ctx.chunk_signature(prev, hash),
                None => ctx.chunk_signature(prev, canonical::sha256_hex(data).as_bytes()),
            };
            *prev = sig.to_hex();
            out.extend_from_slice(b";chunk-signature=");
            out.extend_from_slice(prev);
        }
        out.extend_from_slice(b"\r\n");
        if let Some(h) = &mut self.checksum {
            h.update(data);
        }
    }

    /// Appends only the metadata line of a chunk of `data` (`size[;chunk-signature=…]\r\n`)
    /// and feeds the trailer checksum; the caller sends `data` itself and then `\r\n`, so a
    /// large body goes out without being copied. `sha256_hex` is the data's lower-case hex
    /// SHA-256 if the caller already knows it (signed chunks hash the data otherwise).
    /// Empty data is ignored, as in [`AwsChunkedEncoder::chunk`].
    pub fn chunk_head(&mut self, data: &[u8], sha256_hex: Option<&[u8; 64]>, out: &mut Vec<u8>) {
        if !data.is_empty() {
            self.head_inner(data, sha256_hex, out);
        }
    }

    /// Appends one chunk of `data` (non-empty; empty data is ignored: only `finish` writes the
    /// final zero-size chunk).
    pub fn chunk(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if !data.is_empty() {
            self.chunk_inner(data, out);
        }
    }

    /// The length of the encoded form of `data_len` bytes in chunks of `chunk_size` (the
    /// last may be shorter), trailer included: what `Content-Length` says when the body is
    /// sent piece by piece with [`AwsChunkedEncoder::chunk_head`].
    pub fn encoded_len(&self, data_len: u64, chunk_size: usize) -> u64 {
        let chunk_size = chunk_size.max(1) as u64;
        let signature = if self.signing.is_some() {
            (";chunk-signature=".len() + 64) as u64
        } else {
            0
        };
        let hex_digits = |n: u64| u64::from((64 - n.leading_zeros()).div_ceil(4).max(1));
        let head = |n: u64| hex_digits(n) + signature + 2;
        let mut total = data_len / chunk_size * (head(chunk_size) + chunk_size + 2);
        let rest = data_len % chunk_size;
        if rest > 0 {
            total += head(rest) + rest + 2;
        }
        total += head(0);
        if let Some(h) = &self.checksum {
            let algorithm = h.algorithm();
            let value_len = algorithm.digest_len().div_ceil(3) * 4;
            total += (algorithm.header_name().len() + 1 + value_len + 2) as u64;
            if self.signing.is_some() {
                total += ("x-amz-trailer-signature:".len() + 64 + 2) as u64;
            }
        }
        total + 2
    }

    /// Appends the zero-size chunk, the trailer (checksum, and its signature when signed) and
    /// the final empty line.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.chunk_inner(&[], out);
        if let Some(h) = self.checksum.take() {
            let value = h.finish();
            let line = format!("{}:{}", value.algorithm().header_name(), value.to_base64());
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
            if let Some((ctx, prev)) = &self.signing {
                let hash = canonical::sha256_hex(format!("{line}\n").as_bytes());
                let sig = ctx.trailer_signature(prev, hash.as_bytes());
                out.extend_from_slice(b"x-amz-trailer-signature:");
                out.extend_from_slice(&sig.to_hex());
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The whole body in chunks of `chunk_size` bytes (the last may be shorter).
    pub fn encode(mut self, data: &[u8], chunk_size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + data.len() / chunk_size.max(1) * 100 + 300);
        for c in data.chunks(chunk_size.max(1)) {
            self.chunk(c, &mut out);
        }
        self.finish(&mut out);
        out
    }
}

/// The `Authorization` value of a SigV2 request (path-style; the caller sets `x-amz-date` or
/// `Date`).
pub fn sign_v2(parts: &RequestParts<'_>, creds: &Credentials) -> String {
    sign_v2_for_bucket(parts, None, creds)
}

/// [`sign_v2`] for a virtual-hosted-style request, whose bucket is in `Host` rather than in
/// the path: SigV2 puts it in the canonical resource.
pub fn sign_v2_for_bucket(
    parts: &RequestParts<'_>,
    bucket: Option<&str>,
    creds: &Credentials,
) -> String {
    let sts = crate::sigv2::string_to_sign(parts, bucket);
    format!(
        "AWS {}:{}",
        creds.access_key_id,
        crate::sigv2::signature(&creds.secret, &sts)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_auth, verify, AuthScheme, Policy, SigningKeyCache};

    fn encoders(
        creds: &Credentials,
        trailer: Option<ChecksumAlgorithm>,
    ) -> Vec<(AwsChunkedEncoder, AwsChunkedEncoder)> {
        let h = [("host", "localhost")];
        let parts = RequestParts {
            method: "PUT",
            path: "/b/k",
            query: "",
            headers: &h,
        };
        let s = sign_v4_header(
            &parts,
            creds,
            "us-east-1",
            1_700_000_000,
            SignPayload::StreamingSigned,
        );
        let signed = || AwsChunkedEncoder::signed(s.chunk_context.clone(), s.signature, trailer);
        vec![
            (signed(), signed()),
            (
                AwsChunkedEncoder::unsigned(trailer),
                AwsChunkedEncoder::unsigned(trailer),
            ),
        ]
    }

    #[test]
    fn chunk_heads_with_the_data_sent_apart_equal_whole_chunks() {
        let creds = Credentials::new("AKID", "secret");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for trailer in [None, Some(ChecksumAlgorithm::Crc32)] {
            for (whole, mut framed) in encoders(&creds, trailer) {
                let expected = whole.encode(&data, 65536);
                let mut out = Vec::new();
                for (i, c) in data.chunks(65536).enumerate() {
                    // Every other chunk comes with its hash precomputed.
                    let hash: [u8; 64] = canonical::sha256_hex(c).as_bytes().try_into().unwrap();
                    framed.chunk_head(c, (i % 2 == 0).then_some(&hash), &mut out);
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                framed.finish(&mut out);
                assert_eq!(out, expected);
            }
        }
    }

    #[test]
    fn cached_keys_sign_the_same() {
        let creds = Credentials::new("AKID", "secret");
        let h = [("host", "localhost")];
        let parts = RequestParts {
            method: "GET",
            path: "/b/k",
            query: "",
            headers: &h,
        };
        let mut cache = SigningKeyCache::default();
        for now in [1_700_000_000, 1_700_000_100, 1_700_100_000] {
            let plain = sign_v4_header(&parts, &creds, "eu-west-1", now, SignPayload::Unsigned);
            let cached = sign_v4_header_cached(
                &parts,
                &creds,
                "eu-west-1",
                now,
                SignPayload::Unsigned,
                &mut cache,
            );
            assert_eq!(plain.headers, cached.headers);
        }
        // Two days: two derivations for three requests.
        assert_eq!(cache.derivations(), 2);
        assert_eq!(canonical::sha256_hex(b""), canonical::EMPTY_SHA256);
    }

    #[test]
    fn encoded_lengths_are_exact() {
        let creds = Credentials::new("AKID", "secret");
        let data = vec![7u8; 300_000];
        for trailer in [
            None,
            Some(ChecksumAlgorithm::Crc32),
            Some(ChecksumAlgorithm::Crc64Nvme),
            Some(ChecksumAlgorithm::Sha256),
        ] {
            for (enc, _) in encoders(&creds, trailer) {
                for (len, chunk) in [(0, 65536), (1, 65536), (65536, 65536), (300_000, 65536)]
                    .into_iter()
                    .chain([(300_000, 4096), (17, 16), (300_000, 1 << 20)])
                {
                    let expected = enc.encoded_len(len as u64, chunk);
                    let (e, _) =
                        encoders(&creds, trailer).remove(usize::from(enc.signing.is_none()));
                    assert_eq!(
                        e.encode(&data[..len], chunk).len() as u64,
                        expected,
                        "len {len} chunk {chunk} trailer {trailer:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_wrong_precomputed_hash_changes_the_signature() {
        let creds = Credentials::new("AKID", "secret");
        let (mut a, mut b) = encoders(&creds, None).remove(0);
        let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
        a.chunk_head(b"data", None, &mut out_a);
        b.chunk_head(b"data", Some(&[b'0'; 64]), &mut out_b);
        assert_ne!(out_a, out_b);
    }

    #[test]
    fn headers_in_mixed_case_and_repeated_sign_a_list_the_verifier_accepts() {
        let creds = Credentials::new("AKID", "secret");
        let now = 1_700_000_000;
        let h = [
            ("X-Amz-Meta-B", "2"),
            ("Host", "localhost"),
            ("x-amz-meta-a", "1"),
            ("X-AMZ-META-A", "one"),
            ("Content-Type", "text/plain"),
            ("content-type", "again"),
            ("User-Agent", "test"),
            ("X-Amz-Date", "20000101T000000Z"),
        ];
        let parts = RequestParts {
            method: "PUT",
            path: "/b/k",
            query: "a=1",
            headers: &h,
        };
        let s = sign_v4_header(&parts, &creds, "us-east-1", now, SignPayload::Unsigned);
        let mut all: Vec<(&str, &str)> = h
            .iter()
            .copied()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"))
            .collect();
        all.extend(s.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let signed = RequestParts {
            headers: &all,
            ..parts
        };
        let auth = parse_auth(&signed).unwrap();
        match &auth {
            crate::AuthRequest::V4Header(a) => assert_eq!(
                a.signed_headers,
                "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-a;x-amz-meta-b"
            ),
            other => panic!("{other:?}"),
        }
        let mut cache = SigningKeyCache::default();
        let v = verify(
            &auth,
            &signed,
            None,
            &creds.secret,
            now,
            &Policy::default(),
            &mut cache,
        )
        .unwrap();
        assert_eq!(v.scheme, AuthScheme::V4Header);

        let presign_headers = [
            ("Host", "localhost"),
            ("X-Amz-Meta-A", "1"),
            ("x-amz-meta-a", "2"),
        ];
        let parts = RequestParts {
            method: "GET",
            path: "/b/k",
            query: "",
            headers: &presign_headers,
        };
        let query = presign_v4(&parts, &creds, "us-east-1", now, 600);
        let presigned = RequestParts {
            query: &query,
            ..parts
        };
        let auth = parse_auth(&presigned).unwrap();
        match &auth {
            crate::AuthRequest::V4Presigned(p) => {
                assert_eq!(p.signed_headers(), "host;x-amz-meta-a")
            }
            other => panic!("{other:?}"),
        }
        let v = verify(
            &auth,
            &presigned,
            None,
            &creds.secret,
            now,
            &Policy::default(),
            &mut cache,
        )
        .unwrap();
        assert_eq!(v.scheme, AuthScheme::V4Presigned);
    }

    #[test]
    fn sigv2_for_a_virtual_hosted_bucket_verifies() {
        let creds = Credentials::new("AKID", "secret");
        let h = [
            ("Host", "photos.s3.example.com"),
            ("x-amz-date", "20240301T120000Z"),
        ];
        let parts = RequestParts {
            method: "GET",
            path: "/cat.jpg",
            query: "",
            headers: &h,
        };
        let now = crate::time::parse_amz_date("20240301T120000Z").unwrap();
        for (authz, ok) in [
            (sign_v2_for_bucket(&parts, Some("photos"), &creds), true),
            (sign_v2(&parts, &creds), false),
        ] {
            let mut all = h.to_vec();
            all.push(("Authorization", &authz));
            let parts = RequestParts {
                headers: &all,
                ..parts
            };
            let auth = parse_auth(&parts).unwrap();
            let result = verify(
                &auth,
                &parts,
                Some("photos"),
                &creds.secret,
                now,
                &Policy::default(),
                &mut SigningKeyCache::default(),
            );
            assert_eq!(result.is_ok(), ok, "{authz}");
            if let Ok(v) = result {
                assert_eq!(v.scheme, AuthScheme::V2Header);
            }
        }
    }
}
