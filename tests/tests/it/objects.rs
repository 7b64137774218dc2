//! Objects through aws-sdk-s3: PUT/GET/HEAD/DELETE over HTTP and HTTPS with the SDK's
//! checksums on and off, ranges, conditions, metadata, checksums, copies and odd keys.

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, MetadataDirective};
use cairn_tests::DaemonOptions;

use crate::sdk::{describe, pattern, s3_error, Checksums, Transport, S3};

/// A PUT/GET/HEAD/DELETE round trip of several sizes, including an empty object and one
/// larger than the SDK's 64 KiB aws-chunked chunks.
async fn round_trip(s3: &S3) {
    let bucket = s3.bucket("round-trip").await;
    for (i, size) in [0usize, 1, 4096, 8193, 65_536, 200_003, 3 << 20]
        .into_iter()
        .enumerate()
    {
        let key = format!("object-{size}");
        let body = pattern(size, i as u64);
        let etag = s3.put(&bucket, &key, &body).await;
        let md5 = format!("\"{}\"", hex_md5(&body));
        assert_eq!(etag, md5, "ETag of a single PUT is the MD5 of the body");
        assert_eq!(s3.get(&bucket, &key).await, body, "{key}");
        let head = s3
            .client
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(size as i64));
        assert_eq!(head.e_tag(), Some(md5.as_str()));
        s3.client
            .delete_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        let (status, _) = s3_error(
            s3.client
                .head_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await,
        );
        assert_eq!(status, 404);
    }
}

fn hex_md5(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

#[tokio::test]
async fn round_trip_over_http_with_default_checksums() {
    round_trip(&S3::start()).await;
}

#[tokio::test]
async fn round_trip_over_http_with_checksums_when_required() {
    let s3 = S3::start_with(
        Transport::Http,
        Checksums::WhenRequired,
        DaemonOptions::default(),
    );
    round_trip(&s3).await;
}

#[tokio::test]
async fn round_trip_over_https_with_default_checksums() {
    let s3 = S3::start_with(
        Transport::Https,
        Checksums::Default,
        DaemonOptions::default(),
    );
    round_trip(&s3).await;
}

#[tokio::test]
async fn round_trip_over_https_with_checksums_when_required() {
    let s3 = S3::start_with(
        Transport::Https,
        Checksums::WhenRequired,
        DaemonOptions::default(),
    );
    round_trip(&s3).await;
}

#[tokio::test]
async fn system_and_user_metadata_round_trip() {
    let s3 = S3::start();
    let bucket = s3.bucket("meta").await;
    let expires = DateTime::from_secs(1_900_000_000);
    s3.client
        .put_object()
        .bucket(&bucket)
        .key("doc.txt")
        .body(ByteStream::from_static(b"hello"))
        .content_type("text/plain; charset=utf-8")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"doc.txt\"")
        .content_encoding("identity")
        .content_language("en-GB")
        .expires(expires)
        .metadata("mtime", "1700000000.5")
        .metadata("Colour", "blue and green")
        .send()
        .await
        .unwrap();
    let got = s3
        .client
        .get_object()
        .bucket(&bucket)
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(
        got.content_disposition(),
        Some("attachment; filename=\"doc.txt\"")
    );
    assert_eq!(got.content_encoding(), Some("identity"));
    assert_eq!(got.content_language(), Some("en-GB"));
    #[allow(deprecated)]
    let got_expires = got.expires();
    assert_eq!(got_expires, Some(&expires));
    let meta = got.metadata().expect("user metadata");
    assert_eq!(meta.get("mtime").map(String::as_str), Some("1700000000.5"));
    // S3 lower-cases metadata names.
    assert_eq!(
        meta.get("colour").map(String::as_str),
        Some("blue and green")
    );
    assert!(got.last_modified().is_some());

    // aws-chunked is a transfer detail, never the object's Content-Encoding.
    s3.client
        .put_object()
        .bucket(&bucket)
        .key("plain")
        .body(ByteStream::from(pattern(100_000, 3)))
        .send()
        .await
        .unwrap();
    let head = s3
        .client
        .head_object()
        .bucket(&bucket)
        .key("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_encoding(), None);

    // Over S3's 2 KiB of user metadata: refused, nothing stored.
    let (status, code) = s3_error(
        s3.client
            .put_object()
            .bucket(&bucket)
            .key("too-much-meta")
            .metadata("big", "x".repeat(2100))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "MetadataTooLarge"));
    let (status, _) = s3_error(
        s3.client
            .head_object()
            .bucket(&bucket)
            .key("too-much-meta")
            .send()
            .await,
    );
    assert_eq!(status, 404);
}

#[tokio::test]
async fn ranged_gets_and_response_overrides() {
    let s3 = S3::start();
    let bucket = s3.bucket("ranges").await;
    let body = pattern(100_000, 7);
    s3.put(&bucket, "r", &body).await;
    for (range, start, end) in [
        ("bytes=0-9", 0usize, 10usize),
        ("bytes=99990-", 99_990, 100_000),
        ("bytes=-5", 99_995, 100_000),
        ("bytes=50000-50000", 50_000, 50_001),
        ("bytes=99000-200000", 99_000, 100_000),
    ] {
        let got = s3
            .client
            .get_object()
            .bucket(&bucket)
            .key("r")
            .range(range)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{range}: {}", describe(&e)));
        assert_eq!(
            got.content_range(),
            Some(format!("bytes {}-{}/100000", start, end - 1).as_str()),
            "{range}"
        );
        assert_eq!(got.content_length(), Some((end - start) as i64));
        let data = got.body.collect().await.unwrap().to_vec();
        assert_eq!(data, &body[start..end], "{range}");
    }
    let (status, code) = s3_error(
        s3.client
            .get_object()
            .bucket(&bucket)
            .key("r")
            .range("bytes=100000-")
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (416, "InvalidRange"));

    let got = s3
        .client
        .get_object()
        .bucket(&bucket)
        .key("r")
        .response_content_type("application/x-test")
        .response_content_disposition("inline")
        .response_cache_control("no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(got.content_disposition(), Some("inline"));
    assert_eq!(got.cache_control(), Some("no-cache"));
}

#[tokio::test]
async fn conditional_reads_and_writes() {
    let s3 = S3::start();
    let bucket = s3.bucket("conditions").await;
    let etag = s3.put(&bucket, "c", b"version one").await;
    let c = &s3.client;

    let (status, _) = s3_error(
        c.get_object()
            .bucket(&bucket)
            .key("c")
            .if_none_match(&etag)
            .send()
            .await,
    );
    assert_eq!(status, 304);
    let (status, code) = s3_error(
        c.get_object()
            .bucket(&bucket)
            .key("c")
            .if_match("\"0123456789abcdef0123456789abcdef\"")
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (412, "PreconditionFailed"));
    let ok = c
        .get_object()
        .bucket(&bucket)
        .key("c")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.body.collect().await.unwrap().to_vec(), b"version one");

    let past = DateTime::from_secs(1_000_000_000);
    let future = DateTime::from_secs(4_000_000_000);
    let (status, _) = s3_error(
        c.head_object()
            .bucket(&bucket)
            .key("c")
            .if_modified_since(future)
            .send()
            .await,
    );
    assert_eq!(status, 304);
    let (status, _) = s3_error(
        c.head_object()
            .bucket(&bucket)
            .key("c")
            .if_unmodified_since(past)
            .send()
            .await,
    );
    assert_eq!(status, 412);
    // If-Match that holds wins over an If-Unmodified-Since that does not (S3's order).
    c.head_object()
        .bucket(&bucket)
        .key("c")
        .if_match(&etag)
        .if_unmodified_since(past)
        .send()
        .await
        .unwrap();

    // Conditional writes: create only if absent, replace only if the ETag matches.
    let (status, code) = s3_error(
        c.put_object()
            .bucket(&bucket)
            .key("c")
            .if_none_match("*")
            .body(ByteStream::from_static(b"clobber"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (412, "PreconditionFailed"));
    c.put_object()
        .bucket(&bucket)
        .key("fresh")
        .if_none_match("*")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
    let (status, _) = s3_error(
        c.put_object()
            .bucket(&bucket)
            .key("c")
            .if_match("\"0123456789abcdef0123456789abcdef\"")
            .body(ByteStream::from_static(b"clobber"))
            .send()
            .await,
    );
    assert_eq!(status, 412);
    c.put_object()
        .bucket(&bucket)
        .key("c")
        .if_match(&etag)
        .body(ByteStream::from_static(b"version two"))
        .send()
        .await
        .unwrap();
    assert_eq!(s3.get(&bucket, "c").await, b"version two");
}

#[tokio::test]
async fn checksums_are_verified_stored_and_returned_for_whole_objects_only() {
    let s3 = S3::start();
    let bucket = s3.bucket("checksums").await;
    let body = pattern(300_000, 11);
    for algorithm in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("sum-{}", algorithm.as_str());
        let put = s3
            .client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {}", describe(&e)));
        let sent = sent_checksum(&algorithm, &put);
        assert!(sent.is_some(), "{key}: PUT returns the checksum");
        let got = s3
            .client
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let returned = match algorithm {
            ChecksumAlgorithm::Crc32 => got.checksum_crc32().map(str::to_owned),
            ChecksumAlgorithm::Crc32C => got.checksum_crc32_c().map(str::to_owned),
            ChecksumAlgorithm::Crc64Nvme => got.checksum_crc64_nvme().map(str::to_owned),
            ChecksumAlgorithm::Sha1 => got.checksum_sha1().map(str::to_owned),
            _ => got.checksum_sha256().map(str::to_owned),
        };
        assert_eq!(returned, sent, "{key}: GET returns the stored checksum");
        // The SDK validates the returned checksum while reading the body.
        assert_eq!(got.body.collect().await.unwrap().to_vec(), body);

        // A range read never carries a whole-object checksum (SDKs would reject it).
        let ranged = s3
            .client
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .range("bytes=10-20")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert!(ranged.checksum_crc32().is_none() && ranged.checksum_sha256().is_none());
        assert_eq!(ranged.body.collect().await.unwrap().to_vec(), &body[10..21]);
    }

    // A checksum header that does not match the body: BadDigest, nothing stored.
    let (status, code) = s3_error(
        s3.client
            .put_object()
            .bucket(&bucket)
            .key("wrong-sum")
            .checksum_crc32("AAAAAA==")
            .body(ByteStream::from_static(b"some bytes"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "BadDigest"));
    // A wrong Content-MD5: BadDigest too.
    let (status, code) = s3_error(
        s3.client
            .put_object()
            .bucket(&bucket)
            .key("wrong-sum")
            .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
            .body(ByteStream::from_static(b"not empty"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "BadDigest"));
    let (status, _) = s3_error(
        s3.client
            .head_object()
            .bucket(&bucket)
            .key("wrong-sum")
            .send()
            .await,
    );
    assert_eq!(status, 404);
}

fn sent_checksum(
    algorithm: &ChecksumAlgorithm,
    put: &aws_sdk_s3::operation::put_object::PutObjectOutput,
) -> Option<String> {
    match algorithm {
        ChecksumAlgorithm::Crc32 => put.checksum_crc32(),
        ChecksumAlgorithm::Crc32C => put.checksum_crc32_c(),
        ChecksumAlgorithm::Crc64Nvme => put.checksum_crc64_nvme(),
        ChecksumAlgorithm::Sha1 => put.checksum_sha1(),
        _ => put.checksum_sha256(),
    }
    .map(str::to_owned)
}

#[tokio::test]
async fn copies_keep_or_replace_metadata_and_honour_conditions() {
    let s3 = S3::start();
    let src = s3.bucket("copy-src").await;
    let dst = s3.bucket("copy-dst").await;
    let body = pattern(70_000, 5);
    s3.client
        .put_object()
        .bucket(&src)
        .key("dir/a b+c.bin")
        .content_type("application/x-one")
        .metadata("k", "v1")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let source_etag = format!("\"{}\"", hex_md5(&body));

    // COPY keeps the source's metadata; the copy source is URL-encoded.
    let copied = s3
        .client
        .copy_object()
        .bucket(&dst)
        .key("copy")
        .copy_source(format!("{src}/dir/a%20b%2Bc.bin"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("copy: {}", describe(&e)));
    let result = copied.copy_object_result().expect("CopyObjectResult");
    assert_eq!(result.e_tag(), Some(source_etag.as_str()));
    assert!(result.last_modified().is_some());
    let got = s3
        .client
        .get_object()
        .bucket(&dst)
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-one"));
    assert_eq!(
        got.metadata().and_then(|m| m.get("k")).map(String::as_str),
        Some("v1")
    );
    assert_eq!(got.body.collect().await.unwrap().to_vec(), body);

    // REPLACE takes the request's metadata.
    s3.client
        .copy_object()
        .bucket(&dst)
        .key("replaced")
        .copy_source(format!("{src}/dir/a%20b%2Bc.bin"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/x-two")
        .metadata("k", "v2")
        .send()
        .await
        .unwrap();
    let head = s3
        .client
        .head_object()
        .bucket(&dst)
        .key("replaced")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/x-two"));
    assert_eq!(
        head.metadata().and_then(|m| m.get("k")).map(String::as_str),
        Some("v2")
    );

    // Copying onto itself with REPLACE updates the metadata (rclone sets mtimes so).
    s3.client
        .copy_object()
        .bucket(&src)
        .key("dir/a b+c.bin")
        .copy_source(format!("{src}/dir/a%20b%2Bc.bin"))
        .metadata_directive(MetadataDirective::Replace)
        .metadata("mtime", "1234")
        .send()
        .await
        .unwrap();
    let head = s3
        .client
        .head_object()
        .bucket(&src)
        .key("dir/a b+c.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("mtime"))
            .map(String::as_str),
        Some("1234")
    );
    assert_eq!(head.e_tag(), Some(source_etag.as_str()));
    // ...but onto itself without REPLACE is refused, as S3 does.
    let (status, code) = s3_error(
        s3.client
            .copy_object()
            .bucket(&src)
            .key("dir/a b+c.bin")
            .copy_source(format!("{src}/dir/a%20b%2Bc.bin"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "InvalidRequest"));

    // x-amz-copy-source-if-* conditions.
    let (status, code) = s3_error(
        s3.client
            .copy_object()
            .bucket(&dst)
            .key("never")
            .copy_source(format!("{src}/dir/a%20b%2Bc.bin"))
            .copy_source_if_match("\"00000000000000000000000000000000\"")
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (412, "PreconditionFailed"));
    let (status, _) = s3_error(
        s3.client
            .copy_object()
            .bucket(&dst)
            .key("never")
            .copy_source(format!("{src}/dir/a%20b%2Bc.bin"))
            .copy_source_if_none_match(&source_etag)
            .send()
            .await,
    );
    assert_eq!(status, 412);
    s3.client
        .copy_object()
        .bucket(&dst)
        .key("matched")
        .copy_source(format!("{src}/dir/a%20b%2Bc.bin"))
        .copy_source_if_match(&source_etag)
        .send()
        .await
        .unwrap();

    // A missing source: NoSuchKey.
    let (status, code) = s3_error(
        s3.client
            .copy_object()
            .bucket(&dst)
            .key("never")
            .copy_source(format!("{src}/missing"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchKey"));
}

/// Keys with every character S3 users put in them: reserved URL characters, spaces, `%`,
/// `+`, unicode, dots and slashes that must not be normalised.
const ODD_KEYS: &[&str] = &[
    "a b c",
    "plus+sign",
    "percent%20literal",
    "question?mark",
    "hash#tag",
    "amp&ersand=eq;semi",
    "colon:at@dollar$comma,",
    "quote\"apos'star*paren()",
    "brackets[]{}<>|^`\\",
    "tilde~underscore_dash-",
    "dir/./dot/../dotdot",
    "//leading/double//slashes/",
    "trailing.",
    "ünïcödé/日本語/emoji-🦀",
    "tab\there",
    "!",
];

#[tokio::test]
async fn keys_with_reserved_and_non_ascii_characters() {
    let s3 = S3::start();
    let bucket = s3.bucket("odd-keys").await;
    for (i, key) in ODD_KEYS.iter().enumerate() {
        let body = format!("body of {key}");
        s3.put(&bucket, key, body.as_bytes()).await;
        assert_eq!(s3.get(&bucket, key).await, body.as_bytes(), "{key:?}");
        assert_eq!(i + 1, list_all(&s3, &bucket).await.len());
    }
    let mut expected: Vec<String> = ODD_KEYS.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(list_all(&s3, &bucket).await, expected);
    // A 1024-byte key works; 1025 bytes is KeyTooLongError.
    let long = "k".repeat(1024);
    s3.put(&bucket, &long, b"long").await;
    assert_eq!(s3.get(&bucket, &long).await, b"long");
    let (status, code) = s3_error(
        s3.client
            .put_object()
            .bucket(&bucket)
            .key("k".repeat(1025))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "KeyTooLongError"));
    for key in ODD_KEYS {
        s3.client
            .delete_object()
            .bucket(&bucket)
            .key(*key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("delete {key:?}: {}", describe(&e)));
    }
    assert_eq!(list_all(&s3, &bucket).await, vec![long]);
}

/// Every key of a bucket, through ListObjectsV2 pages.
pub async fn list_all(s3: &S3, bucket: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = s3
        .client
        .list_objects_v2()
        .bucket(bucket)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.unwrap_or_else(|e| panic!("list {bucket}: {}", describe(&e)));
        keys.extend(
            page.contents()
                .iter()
                .map(|o| o.key().expect("key").to_owned()),
        );
    }
    keys
}

#[tokio::test]
async fn missing_things_answer_with_their_codes() {
    let s3 = S3::start();
    let bucket = s3.bucket("present").await;
    let c = &s3.client;
    let (status, code) = s3_error(c.get_object().bucket(&bucket).key("nope").send().await);
    assert_eq!((status, code.as_str()), (404, "NoSuchKey"));
    let (status, code) = s3_error(c.get_object().bucket("absent").key("nope").send().await);
    assert_eq!((status, code.as_str()), (404, "NoSuchBucket"));
    let (status, code) = s3_error(
        c.put_object()
            .bucket("absent")
            .key("k")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchBucket"));
    // Deleting a missing key is a success (S3 answers 204).
    c.delete_object()
        .bucket(&bucket)
        .key("nope")
        .send()
        .await
        .unwrap();
    // Only the null version exists.
    let (status, _) = s3_error(
        c.get_object()
            .bucket(&bucket)
            .key("nope")
            .version_id("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")
            .send()
            .await,
    );
    assert_eq!(status, 400);
    s3.put(&bucket, "here", b"x").await;
    c.head_object()
        .bucket(&bucket)
        .key("here")
        .version_id("null")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_stores_nothing() {
    let s3 = S3::start();
    let bucket = s3.bucket("auth").await;
    let wrong = s3.client_as(
        Checksums::Default,
        cairn_tests::ACCESS_KEY_ID,
        "not-the-right-secret-at-all",
    );
    let (status, code) = s3_error(
        wrong
            .put_object()
            .bucket(&bucket)
            .key("k")
            .body(ByteStream::from(pattern(200_000, 1)))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (403, "SignatureDoesNotMatch"));
    let unknown = s3.client_as(
        Checksums::Default,
        "AKIDUNKNOWN000000000",
        "whatever-secret",
    );
    let (status, code) = s3_error(unknown.list_buckets().send().await);
    assert_eq!((status, code.as_str()), (403, "InvalidAccessKeyId"));
    assert!(list_all(&s3, &bucket).await.is_empty());
}
