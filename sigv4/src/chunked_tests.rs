//! Unit tests of the aws-chunked decoder on bodies from the signer (which the vector tests
//! cross-check against AWS's published signatures).

use super::*;
use crate::key::SecretKey;
use crate::sign::AwsChunkedEncoder;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn ctx() -> ChunkSigningContext {
    ChunkSigningContext {
        key: SigningKey::derive(&SecretKey::new(SECRET), "20130524", "us-east-1", "s3"),
        amz_date: "20130524T000000Z".into(),
        scope: "20130524/us-east-1/s3/aws4_request".into(),
    }
}

fn seed() -> Signature {
    ctx().key.sign(b"any seed will do")
}

fn config(signed: bool, trailer: Option<ChecksumAlgorithm>, len: Option<u64>) -> AwsChunkedConfig {
    AwsChunkedConfig {
        signing: signed.then(|| (ctx(), seed())),
        trailer_mode: trailer.is_some() || !signed,
        trailer,
        decoded_length: len,
        access_key_id: "AKID".into(),
    }
}

fn encode(signed: bool, trailer: Option<ChecksumAlgorithm>, data: &[u8], chunk: usize) -> Vec<u8> {
    let enc = if signed {
        AwsChunkedEncoder::signed(ctx(), seed(), trailer)
    } else {
        AwsChunkedEncoder::unsigned(trailer)
    };
    enc.encode(data, chunk)
}

/// Feeds `body` in pieces of `split` bytes; returns the data and the verdict.
fn decode(
    cfg: AwsChunkedConfig,
    body: &[u8],
    split: usize,
) -> (Vec<u8>, Result<DecodedBody, AuthError>) {
    let mut d = AwsChunkedDecoder::new(cfg);
    let mut out = Vec::new();
    for mut piece in body.chunks(split.max(1)) {
        while !piece.is_empty() {
            match d.feed(piece) {
                Ok(step) => {
                    assert!(step.data.end <= step.consumed);
                    out.extend_from_slice(&piece[step.data.clone()]);
                    assert!(step.consumed > 0, "no progress");
                    piece = &piece[step.consumed..];
                }
                Err(e) => return (out, Err(e)),
            }
        }
    }
    let r = d.finish();
    (out, r)
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn all_modes_round_trip_at_many_splits() {
    let body = data(5000);
    for (signed, trailer) in [
        (true, None),
        (true, Some(ChecksumAlgorithm::Crc32)),
        (false, Some(ChecksumAlgorithm::Crc32c)),
        (false, None),
    ] {
        let enc = encode(signed, trailer, &body, 1000);
        for split in [1, 2, 3, 7, 64, 999, 1000, 1001, enc.len()] {
            let (out, r) = decode(config(signed, trailer, Some(5000)), &enc, split);
            let r = r.unwrap();
            assert_eq!(out, body);
            assert_eq!(r.decoded_length, 5000);
            assert_eq!(
                r.trailer_checksum,
                trailer.map(|a| crate::ChecksumHasher::checksum(a, &body))
            );
        }
    }
}

#[test]
fn flipped_byte_in_data_or_signature_fails() {
    let body = data(3000);
    let enc = encode(true, Some(ChecksumAlgorithm::Sha256), &body, 1024);
    for i in 0..enc.len() {
        let mut bad = enc.clone();
        bad[i] ^= 0x01;
        let (_, r) = decode(
            config(true, Some(ChecksumAlgorithm::Sha256), None),
            &bad,
            100,
        );
        assert!(r.is_err(), "flip at {i} accepted");
    }
    // A data byte flip is a signature mismatch, reported with the chunk's string to sign.
    let mut bad = enc.clone();
    let first_data = bad.iter().position(|&b| b == b'\n').unwrap() + 1;
    bad[first_data] ^= 0x80;
    let (_, r) = decode(config(true, None, None), &bad, 100);
    match r.unwrap_err() {
        AuthError::SignatureDoesNotMatch(m) => {
            assert!(m
                .string_to_sign
                .starts_with("AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n"))
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn truncation_is_incomplete_body() {
    let body = data(3000);
    let enc = encode(true, None, &body, 1024);
    for cut in [0, 1, 10, 100, 1500, enc.len() - 90] {
        let (_, r) = decode(config(true, None, None), &enc[..cut], 64);
        assert!(
            matches!(r, Err(AuthError::IncompleteBody)),
            "cut {cut}: {r:?}"
        );
    }
    // Missing only the final CRLF after the zero chunk is tolerated (the zero chunk is signed).
    let (out, r) = decode(config(true, None, None), &enc[..enc.len() - 2], 64);
    assert!(r.is_ok());
    assert_eq!(out, body);
    // With an announced trailer that never comes: IncompleteBody.
    let enc = encode(true, None, &body, 1024);
    let cfg = AwsChunkedConfig {
        trailer_mode: true,
        trailer: Some(ChecksumAlgorithm::Crc32),
        ..config(true, None, None)
    };
    let (_, r) = decode(cfg, &enc, 64);
    assert!(matches!(r, Err(AuthError::IncompleteBody)), "{r:?}");
}

#[test]
fn decoded_length_is_enforced() {
    let body = data(2000);
    let enc = encode(false, Some(ChecksumAlgorithm::Crc32), &body, 512);
    let (_, r) = decode(
        config(false, Some(ChecksumAlgorithm::Crc32), Some(1999)),
        &enc,
        100,
    );
    assert!(matches!(
        r,
        Err(AuthError::DecodedLengthExceeded { expected: 1999 })
    ));
    let (_, r) = decode(
        config(false, Some(ChecksumAlgorithm::Crc32), Some(2001)),
        &enc,
        100,
    );
    assert!(matches!(r, Err(AuthError::IncompleteBody)));
}

#[test]
fn upper_case_sizes_and_extensions() {
    let body = data(0xABC);
    let enc = AwsChunkedEncoder::unsigned(Some(ChecksumAlgorithm::Crc32))
        .uppercase_sizes()
        .encode(&body, 0xABC);
    assert!(enc.starts_with(b"ABC\r\n"));
    let (out, r) = decode(config(false, Some(ChecksumAlgorithm::Crc32), None), &enc, 5);
    r.unwrap();
    assert_eq!(out, body);
    let raw = b"3;foo=bar\r\nabc\r\n0\r\n\r\n";
    let (out, r) = decode(config(false, None, None), raw, 1);
    r.unwrap();
    assert_eq!(out, b"abc");
}

#[test]
fn minio_go_trailer_line_endings() {
    // Unsigned: `name:value\n\r\n` then the final `\r\n`.
    let crc = crate::ChecksumHasher::checksum(ChecksumAlgorithm::Crc32, b"hello").to_base64();
    let raw = format!("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:{crc}\n\r\n\r\n");
    for split in 1..raw.len() {
        let (out, r) = decode(
            config(false, Some(ChecksumAlgorithm::Crc32), Some(5)),
            raw.as_bytes(),
            split,
        );
        assert_eq!(r.unwrap().trailer_checksum.unwrap().to_base64(), crc);
        assert_eq!(out, b"hello");
    }
    // Signed: the checksum line ends in `\n\r\n`, the signature line in `\r\n`.
    let enc = encode(true, Some(ChecksumAlgorithm::Crc32), b"hello", 5);
    let text = String::from_utf8(enc).unwrap();
    let minio = text.replace(&format!("{crc}\r\n"), &format!("{crc}\n\r\n"));
    assert_ne!(minio, text);
    let (_, r) = decode(
        config(true, Some(ChecksumAlgorithm::Crc32), Some(5)),
        minio.as_bytes(),
        3,
    );
    r.unwrap();
}

#[test]
fn trailer_rules() {
    let crc = crate::ChecksumHasher::checksum(ChecksumAlgorithm::Crc32, b"hello").to_base64();
    let cfg = || config(false, Some(ChecksumAlgorithm::Crc32), None);
    let body = |trailer: &str| format!("5\r\nhello\r\n0\r\n{trailer}\r\n");
    // An unannounced trailer, a line without ':', a duplicate: MalformedTrailerError.
    for t in [
        format!("x-amz-checksum-crc32c:{crc}\r\n"),
        "garbage\r\n".to_string(),
        format!("x-amz-checksum-crc32:{crc}\r\nx-amz-checksum-crc32:{crc}\r\n"),
        "x-amz-meta-a:b\r\n".to_string(),
    ] {
        let (_, r) = decode(cfg(), body(&t).as_bytes(), 4);
        assert_eq!(r.unwrap_err().s3_code(), "MalformedTrailerError", "{t}");
    }
    // A malformed value: InvalidRequest.
    let (_, r) = decode(cfg(), body("x-amz-checksum-crc32:zz\r\n").as_bytes(), 4);
    assert!(matches!(r, Err(AuthError::InvalidChecksum { .. })));
    // Too large a trailer.
    let long = format!("x-amz-checksum-crc32:{}\r\n", "A".repeat(MAX_TRAILER_BYTES));
    let (_, r) = decode(cfg(), body(&long).as_bytes(), 1000);
    assert!(matches!(r, Err(AuthError::TrailerTooLarge { .. })));
    // Trailers in a mode without trailers.
    let (_, r) = decode(
        config(true, None, None),
        b"0;chunk-signature=x\r\nx:y\r\n\r\n",
        4,
    );
    assert!(r.is_err());
}

#[test]
fn signed_trailer_signature_is_checked() {
    let enc = encode(true, Some(ChecksumAlgorithm::Crc32), b"hello world", 4);
    let text = String::from_utf8(enc).unwrap();
    let at = text.find("x-amz-trailer-signature:").unwrap() + 24;
    let mut bad = text.clone().into_bytes();
    bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
    let (_, r) = decode(config(true, Some(ChecksumAlgorithm::Crc32), None), &bad, 7);
    match r.unwrap_err() {
        AuthError::SignatureDoesNotMatch(m) => {
            assert!(m.string_to_sign.starts_with("AWS4-HMAC-SHA256-TRAILER\n"))
        }
        e => panic!("{e:?}"),
    }
    // Without the signature line at all.
    let unsigned = text.replace(&text[at - 24..at + 66], "");
    let (_, r) = decode(
        config(true, Some(ChecksumAlgorithm::Crc32), None),
        unsigned.as_bytes(),
        7,
    );
    assert!(matches!(r, Err(AuthError::MalformedTrailer)), "{r:?}");
}

#[test]
fn limits_and_garbage() {
    let long = vec![b'1'; MAX_CHUNK_META_BYTES + 1];
    let (_, r) = decode(config(false, None, None), &long, 100);
    assert!(matches!(r, Err(AuthError::ChunkMetaTooLong { .. })));
    for bad in [
        &b"zz\r\n"[..],
        b"\r\n",
        b"3\r\nabcX\n",
        b"11111111111111111\r\n",
        b"3\r\nabc\r\n0\r\n\r\nextra",
    ] {
        let (_, r) = decode(config(false, None, None), bad, 1);
        assert!(r.is_err(), "{bad:?}");
    }
    // Signed mode without a chunk-signature.
    let (_, r) = decode(config(true, None, None), b"3\r\nabc\r\n", 1);
    assert!(matches!(r, Err(AuthError::MalformedChunkedEncoding { .. })));
    // After a failure, everything fails.
    let mut d = AwsChunkedDecoder::new(config(false, None, None));
    assert!(d.feed(b"zz\r\n").is_err());
    assert!(d.feed(b"0\r\n\r\n").is_err());
    assert!(d.finish().is_err());
}

#[test]
fn a_huge_chunk_streams_without_buffering() {
    // 100 MiB announced in one chunk: fed in 1 MiB slices, each step hands the slice back.
    const SIZE: u64 = 100 << 20;
    let mut d = AwsChunkedDecoder::new(config(false, None, Some(SIZE)));
    let head = format!("{SIZE:x}\r\n");
    let step = d.feed(head.as_bytes()).unwrap();
    assert_eq!(step.consumed, head.len());
    let slice = vec![0x5a; 1 << 20];
    for _ in 0..100 {
        let step = d.feed(&slice).unwrap();
        assert_eq!(step.data, 0..slice.len());
        assert_eq!(step.consumed, slice.len());
    }
    let mut tail: &[u8] = b"\r\n0\r\n\r\n";
    while !tail.is_empty() {
        let step = d.feed(tail).unwrap();
        assert!(step.data.is_empty());
        tail = &tail[step.consumed..];
    }
    assert_eq!(d.finish().unwrap().decoded_length, SIZE);
    assert!(d.line.capacity() < 1024);
}
