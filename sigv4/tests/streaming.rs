//! Property tests of streaming uploads end to end: requests signed by our signer (which the
//! vector tests check against AWS's published bodies) with random bodies, chunk sizes, modes
//! and checksums, fed to the verifier at random split points.

use cairn_sigv4::sign::{sign_v4_header, AwsChunkedEncoder, Credentials, SignPayload};
use cairn_sigv4::{
    parse_auth, verify, AuthError, ChecksumAlgorithm, ChecksumHasher, PayloadSummary, Policy,
    RequestParts, SecretKey, SigningKeyCache,
};
use proptest::prelude::*;

const AKID: &str = "AKIDSTREAMING";
const SECRET: &str = "streaming/secret+key";
const NOW: i64 = 1_700_000_000;

#[derive(Debug, Clone, Copy)]
enum Mode {
    Signed,
    SignedTrailer(ChecksumAlgorithm),
    UnsignedTrailer(ChecksumAlgorithm),
}

struct Upload {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn upload(mode: Mode, data: &[u8], chunk: usize, decoded_length: Option<u64>) -> Upload {
    upload_with(mode, data, chunk, decoded_length, true)
}

fn upload_with(
    mode: Mode,
    data: &[u8],
    chunk: usize,
    decoded_length: Option<u64>,
    content_encoding: bool,
) -> Upload {
    let creds = Credentials::new(AKID, SECRET);
    let mut headers = vec![("Host".to_string(), "localhost:9000".to_string())];
    if content_encoding {
        headers.push(("Content-Encoding".to_string(), "aws-chunked".to_string()));
    }
    if let Some(n) = decoded_length {
        headers.push(("x-amz-decoded-content-length".into(), n.to_string()));
    }
    let (payload, trailer) = match mode {
        Mode::Signed => (SignPayload::StreamingSigned, None),
        Mode::SignedTrailer(a) => (SignPayload::StreamingSignedTrailer, Some(a)),
        Mode::UnsignedTrailer(a) => (SignPayload::StreamingUnsignedTrailer, Some(a)),
    };
    if let Some(a) = trailer {
        headers.push(("x-amz-trailer".into(), a.header_name().into()));
        headers.push(("x-amz-sdk-checksum-algorithm".into(), a.s3_name().into()));
    }
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let parts = RequestParts {
        method: "PUT",
        path: "/bucket/some/key",
        query: "",
        headers: &refs,
    };
    let signed = sign_v4_header(&parts, &creds, "us-east-1", NOW, payload);
    let encoder = match mode {
        Mode::UnsignedTrailer(a) => AwsChunkedEncoder::unsigned(Some(a)),
        _ => AwsChunkedEncoder::signed(signed.chunk_context.clone(), signed.signature, trailer),
    };
    let body = encoder.encode(data, chunk);
    headers.extend(signed.headers);
    Upload { headers, body }
}

fn receive(u: &Upload, splits: &[usize]) -> Result<(Vec<u8>, PayloadSummary), AuthError> {
    let refs: Vec<(&str, &str)> = u
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let parts = RequestParts {
        method: "PUT",
        path: "/bucket/some/key",
        query: "",
        headers: &refs,
    };
    let auth = parse_auth(&parts)?;
    let mut cache = SigningKeyCache::default();
    let v = verify(
        &auth,
        &parts,
        None,
        &SecretKey::new(SECRET),
        NOW,
        &Policy::default(),
        &mut cache,
    )?;
    let mut payload = v.payload;
    let mut out = Vec::new();
    let mut cuts: Vec<usize> = splits.iter().map(|s| s % (u.body.len() + 1)).collect();
    cuts.push(0);
    cuts.push(u.body.len());
    cuts.sort_unstable();
    for w in cuts.windows(2) {
        let mut piece = &u.body[w[0]..w[1]];
        while !piece.is_empty() {
            let step = payload.feed(piece)?;
            assert!(step.consumed > 0 && step.data.end <= step.consumed);
            out.extend_from_slice(&piece[step.data.clone()]);
            piece = &piece[step.consumed..];
        }
    }
    let summary = payload.finish()?;
    Ok((out, summary))
}

fn mode() -> impl Strategy<Value = Mode> {
    let alg = prop::sample::select(ChecksumAlgorithm::ALL.to_vec());
    prop_oneof![
        Just(Mode::Signed),
        alg.clone().prop_map(Mode::SignedTrailer),
        alg.prop_map(Mode::UnsignedTrailer),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn streams_verify_at_any_split(
        mode in mode(),
        data in prop::collection::vec(any::<u8>(), 0..4000),
        chunk in 1usize..1500,
        splits in prop::collection::vec(any::<usize>(), 0..12),
        announce_length in any::<bool>(),
    ) {
        let u = upload(mode, &data, chunk, announce_length.then_some(data.len() as u64));
        let (out, summary) = receive(&u, &splits).unwrap();
        prop_assert_eq!(&out, &data);
        prop_assert_eq!(summary.length, data.len() as u64);
        match mode {
            Mode::Signed => prop_assert!(summary.checksum.is_none()),
            Mode::SignedTrailer(a) | Mode::UnsignedTrailer(a) => {
                prop_assert_eq!(summary.checksum, Some(ChecksumHasher::checksum(a, &data)))
            }
        }
    }

    #[test]
    fn damage_is_detected(
        mode in mode(),
        data in prop::collection::vec(any::<u8>(), 1..3000),
        chunk in 1usize..1000,
        splits in prop::collection::vec(any::<usize>(), 0..6),
        at in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let len = data.len() as u64;
        // A flipped data byte: the chunk signature fails (signed) or the checksum (unsigned).
        let mut flipped = data.clone();
        let i = at.index(flipped.len());
        flipped[i] ^= 0x20;
        let good = upload(mode, &data, chunk, Some(len));
        let bad = upload(mode, &flipped, chunk, Some(len));
        // Splice the damaged data into the good framing: same chunk layout, other bytes.
        let mut body = good.body.clone();
        let pos = body.windows(1).enumerate().filter(|(j, _)| good.body[*j] != bad.body[*j]).map(|(j, _)| j).find(|&j| {
            // The first differing byte that is data (the signatures differ too).
            good.body[j] ^ bad.body[j] == 0x20 && data.contains(&good.body[j])
        });
        let pos = pos.expect("the flipped data byte is in the body");
        body[pos] ^= 0x20;
        let tampered = Upload {
            headers: good.headers.clone(),
            body,
        };
        let e = receive(&tampered, &splits).unwrap_err();
        let want = match mode {
            Mode::UnsignedTrailer(_) => "BadDigest",
            _ => "SignatureDoesNotMatch",
        };
        prop_assert_eq!(e.s3_code(), want);
        // Truncated anywhere before the last chunk line: IncompleteBody (or, when a trailer is
        // cut, IncompleteBody for the missing trailer).
        let last = good.body.windows(3).rposition(|w| w == b"\r\n0").unwrap();
        let keep = cut.index(last + 1);
        let short = Upload { headers: good.headers.clone(), body: good.body[..keep].to_vec() };
        let e = receive(&short, &splits).unwrap_err();
        prop_assert_eq!(e.s3_code(), "IncompleteBody");
        // A wrong decoded length: refused.
        for wrong in [len - 1, len + 1] {
            let u = upload(mode, &data, chunk, Some(wrong));
            let e = receive(&u, &splits).unwrap_err();
            prop_assert!(matches!(e, AuthError::IncompleteBody | AuthError::DecodedLengthExceeded { .. }), "{:?}", e);
        }
    }
}

#[test]
fn upper_case_sizes_and_missing_content_encoding() {
    // Older aws-sdk-rust: one chunk, upper-case hex size; minio-go: no Content-Encoding.
    let data = vec![7u8; 0xABCD];
    let mut u = upload_with(
        Mode::UnsignedTrailer(ChecksumAlgorithm::Crc32),
        &data,
        data.len(),
        None,
        false,
    );
    assert!(!u.headers.iter().any(|(n, _)| n == "Content-Encoding"));
    u.body = AwsChunkedEncoder::unsigned(Some(ChecksumAlgorithm::Crc32))
        .uppercase_sizes()
        .encode(&data, data.len());
    assert!(u.body.starts_with(b"ABCD\r\n"));
    assert_eq!(receive(&u, &[1, 5, 40_000]).unwrap().0, data);
}

#[test]
fn announced_trailer_that_never_comes_is_incomplete_body() {
    let data = b"hello world".to_vec();
    let mut u = upload(
        Mode::UnsignedTrailer(ChecksumAlgorithm::Crc32),
        &data,
        4,
        None,
    );
    u.body = AwsChunkedEncoder::unsigned(None).encode(&data, 4);
    assert_eq!(receive(&u, &[]).unwrap_err().s3_code(), "IncompleteBody");
}
