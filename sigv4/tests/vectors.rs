//! AWS's published SigV4 examples for S3 (files in `testdata/`): canonical request, string to
//! sign and signature byte for byte; the streaming examples' chunk and trailer signatures
//! through the decoder, whole and split at every byte boundary; the signer reproducing the
//! streaming bodies exactly.

use std::path::PathBuf;

use cairn_sigv4::canonical::{canonical_request, string_to_sign};
use cairn_sigv4::sign::{AwsChunkedEncoder, Credentials};
use cairn_sigv4::time::parse_amz_date;
use cairn_sigv4::{
    parse_auth, verify, AuthError, AuthRequest, BodyMode, ChecksumAlgorithm, Policy, RequestParts,
    SecretKey, SigningKeyCache,
};

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn dir(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(case)
}

fn read(case: &str, file: &str) -> String {
    std::fs::read_to_string(dir(case).join(file)).unwrap()
}

/// A request as sent: the request line, headers, body.
struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn load(case: &str) -> Request {
        let (head, body) = match std::fs::read(dir(case).join("request.txt")) {
            Ok(raw) => {
                let text = String::from_utf8(raw).unwrap();
                let (h, b) = text.split_once("\r\n\r\n").unwrap();
                (h.to_owned(), b.as_bytes().to_vec())
            }
            Err(_) => {
                let h = read(case, "request-head.txt");
                let body = std::fs::read(dir(case).join("body.bin")).unwrap();
                (h.trim_end().to_owned(), body)
            }
        };
        let mut lines = head.split("\r\n");
        let mut rl = lines.next().unwrap().split(' ');
        let method = rl.next().unwrap().to_owned();
        let target = rl.next().unwrap();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_owned(), v.trim().to_owned())
            })
            .collect();
        Request {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body,
        }
    }

    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }
}

fn now() -> i64 {
    parse_amz_date("20130524T000000Z").unwrap()
}

/// Checks canonical request, string to sign and signature of a case, and that `verify`
/// accepts it and names the same strings when the signature is wrong.
fn check_case(case: &str) -> (BodyMode, Vec<u8>) {
    let req = Request::load(case);
    let headers = req.header_refs();
    let parts = RequestParts {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &headers,
    };
    let auth = parse_auth(&parts).unwrap();
    assert_eq!(auth.access_key_id(), Some(AKID));
    let (signed_headers, date, presigned, signature) = match &auth {
        AuthRequest::V4Header(a) => (
            a.signed_headers.to_owned(),
            parts.header("x-amz-date").unwrap(),
            false,
            a.signature,
        ),
        AuthRequest::V4Presigned(p) => (p.signed_headers().to_owned(), p.date, true, p.signature),
        other => panic!("{other:?}"),
    };
    let payload = parts
        .header("x-amz-content-sha256")
        .unwrap_or("UNSIGNED-PAYLOAD");
    let creq = canonical_request(&parts, &signed_headers, payload, presigned).unwrap();
    assert_eq!(creq, read(case, "canonical-request.txt"), "{case}");
    let sts = string_to_sign(date, "20130524/us-east-1/s3/aws4_request", &creq);
    assert_eq!(sts, read(case, "string-to-sign.txt"), "{case}");
    let expected_signature = std::fs::read_to_string(dir(case).join("signature.txt"))
        .unwrap_or_else(|_| read(case, "seed-signature.txt"));
    assert_eq!(signature, expected_signature.trim(), "{case}");

    let secret = SecretKey::new(SECRET);
    let policy = Policy::default();
    let mut cache = SigningKeyCache::default();
    let verified = verify(&auth, &parts, None, &secret, now(), &policy, &mut cache).unwrap();
    assert_eq!(verified.access_key_id, AKID);
    let mode = verified.payload.mode();
    if !matches!(mode, BodyMode::AwsChunkedSigned { .. }) {
        let (data, _) = verified.payload.verify_all(&req.body).unwrap();
        assert_eq!(data, req.body);
    }

    // The wrong secret: SignatureDoesNotMatch carrying exactly the vector's strings.
    let e = verify(
        &auth,
        &parts,
        None,
        &SecretKey::new("wrong"),
        now(),
        &policy,
        &mut cache,
    )
    .unwrap_err();
    match e {
        AuthError::SignatureDoesNotMatch(m) => {
            assert_eq!(m.canonical_request, read(case, "canonical-request.txt"));
            assert_eq!(m.string_to_sign, read(case, "string-to-sign.txt"));
            assert_eq!(m.signature_provided, signature);
        }
        e => panic!("{case}: {e:?}"),
    }
    (mode, req.body)
}

#[test]
fn get_object() {
    assert_eq!(check_case("get-object").0, BodyMode::Sha256);
}

#[test]
fn put_object() {
    let (mode, body) = check_case("put-object");
    assert_eq!(mode, BodyMode::Sha256);
    assert_eq!(body, b"Welcome to Amazon S3.");
}

#[test]
fn put_object_with_other_body_is_sha256_mismatch() {
    let req = Request::load("put-object");
    let headers = req.header_refs();
    let parts = RequestParts {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &headers,
    };
    let auth = parse_auth(&parts).unwrap();
    let mut cache = SigningKeyCache::default();
    let v = verify(
        &auth,
        &parts,
        None,
        &SecretKey::new(SECRET),
        now(),
        &Policy::default(),
        &mut cache,
    )
    .unwrap();
    let e = v.payload.verify_all(b"Welcome to Amazon S4.").unwrap_err();
    assert_eq!(e.s3_code(), "XAmzContentSHA256Mismatch");
}

#[test]
fn get_bucket_lifecycle() {
    check_case("get-bucket-lifecycle");
}

#[test]
fn list_objects() {
    check_case("list-objects");
}

#[test]
fn presigned_get() {
    assert_eq!(check_case("presigned-get").0, BodyMode::Unsigned);
    // The URL expires 86400 s after its date.
    let req = Request::load("presigned-get");
    let headers = req.header_refs();
    let parts = RequestParts {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &headers,
    };
    let auth = parse_auth(&parts).unwrap();
    let mut cache = SigningKeyCache::default();
    let secret = SecretKey::new(SECRET);
    let policy = Policy::default();
    assert!(verify(
        &auth,
        &parts,
        None,
        &secret,
        now() + 86400,
        &policy,
        &mut cache
    )
    .is_ok());
    let e = verify(
        &auth,
        &parts,
        None,
        &secret,
        now() + 86401,
        &policy,
        &mut cache,
    )
    .unwrap_err();
    assert!(matches!(e, AuthError::RequestExpired { .. }));
    assert_eq!(e.to_string(), "Request has expired");
    let e = verify(
        &auth,
        &parts,
        None,
        &secret,
        now() - 901,
        &policy,
        &mut cache,
    )
    .unwrap_err();
    assert!(matches!(e, AuthError::RequestNotYetValid { .. }));
}

/// Runs the streaming case's body through the verifier as `pieces`.
fn stream(
    case: &str,
    pieces: &[&[u8]],
) -> Result<(Vec<u8>, cairn_sigv4::PayloadSummary), AuthError> {
    let req = Request::load(case);
    let headers = req.header_refs();
    let parts = RequestParts {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &headers,
    };
    let auth = parse_auth(&parts).unwrap();
    let mut cache = SigningKeyCache::default();
    let v = verify(
        &auth,
        &parts,
        None,
        &SecretKey::new(SECRET),
        now(),
        &Policy::default(),
        &mut cache,
    )?;
    let mut payload = v.payload;
    let mut out = Vec::new();
    for piece in pieces {
        let mut piece = *piece;
        while !piece.is_empty() {
            let step = payload.feed(piece)?;
            out.extend_from_slice(&piece[step.data.clone()]);
            piece = &piece[step.consumed..];
        }
    }
    let summary = payload.finish()?;
    Ok((out, summary))
}

fn check_streaming(case: &str, trailer: bool) {
    let (mode, body) = check_case(case);
    assert_eq!(mode, BodyMode::AwsChunkedSigned { trailer });
    let expected = vec![b'a'; 66560];
    // Whole.
    let (data, summary) = stream(case, &[&body]).unwrap();
    assert_eq!(data, expected);
    assert_eq!(summary.length, 66560);
    if trailer {
        assert_eq!(summary.checksum.unwrap().to_base64(), "sOO8/Q==");
        assert_eq!(
            summary.checksum.unwrap().algorithm(),
            ChecksumAlgorithm::Crc32c
        );
    }
    // Every byte boundary at once: one byte per feed.
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(stream(case, &bytes).unwrap().0, expected);
    // Each single split point: every one outside the long runs of data, every 61st inside.
    let meta_near = |k: usize| {
        body[k.saturating_sub(100)..(k + 100).min(body.len())]
            .iter()
            .any(|&b| b != b'a')
    };
    for k in 0..=body.len() {
        if meta_near(k) || k % 61 == 0 {
            let (a, b) = body.split_at(k);
            assert_eq!(stream(case, &[a, b]).unwrap().0, expected, "split at {k}");
        }
    }
    // The chunk signatures of the vector are the ones in the body.
    let text = String::from_utf8_lossy(&body);
    for sig in read(case, "chunk-signatures.txt").lines() {
        assert!(text.contains(&format!(";chunk-signature={sig}\r\n")));
    }
    // A flipped data byte: SignatureDoesNotMatch. Truncated: IncompleteBody.
    let mut bad = body.clone();
    bad[40_000] = b'b';
    assert_eq!(
        stream(case, &[&bad]).unwrap_err().s3_code(),
        "SignatureDoesNotMatch"
    );
    let e = stream(case, &[&body[..body.len() - 200]]).unwrap_err();
    assert!(matches!(e, AuthError::IncompleteBody), "{e:?}");
}

#[test]
fn streaming_put() {
    check_streaming("streaming-put", false);
}

#[test]
fn streaming_put_trailer() {
    check_streaming("streaming-put-trailer", true);
    let body = Request::load("streaming-put-trailer").body;
    let text = String::from_utf8_lossy(&body);
    let sig = read("streaming-put-trailer", "trailer-signature.txt");
    assert!(text.contains(&format!("x-amz-trailer-signature:{}\r\n", sig.trim())));
}

/// The signer reproduces AWS's streaming bodies byte for byte from the seed signature.
#[test]
fn signer_reproduces_streaming_bodies() {
    let creds = Credentials::new(AKID, SECRET);
    for (case, trailer) in [
        ("streaming-put", None),
        ("streaming-put-trailer", Some(ChecksumAlgorithm::Crc32c)),
    ] {
        let req = Request::load(case);
        let mut headers: Vec<(&str, &str)> = req
            .header_refs()
            .into_iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("authorization"))
            .collect();
        // The trailer case does not sign content-length; the other does.
        if trailer.is_some() {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-length"));
        }
        let parts = RequestParts {
            method: &req.method,
            path: &req.path,
            query: &req.query,
            headers: &headers,
        };
        let payload = if trailer.is_some() {
            cairn_sigv4::sign::SignPayload::StreamingSignedTrailer
        } else {
            cairn_sigv4::sign::SignPayload::StreamingSigned
        };
        let signed = cairn_sigv4::sign::sign_v4_header(&parts, &creds, "us-east-1", now(), payload);
        assert_eq!(
            signed.canonical_request,
            read(case, "canonical-request.txt")
        );
        assert_eq!(
            signed.signature.hex_string(),
            read(case, "seed-signature.txt").trim()
        );
        let body = AwsChunkedEncoder::signed(signed.chunk_context, signed.signature, trailer)
            .encode(&vec![b'a'; 66560], 65536);
        assert_eq!(body, req.body, "{case}");
    }
}
