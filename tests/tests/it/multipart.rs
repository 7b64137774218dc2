//! Multipart uploads through aws-sdk-s3: create, upload (re-uploaded parts, copies of ranges),
//! list parts and uploads, complete with S3's ETag, abort, and the errors of a bad completion.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;

use crate::sdk::{describe, pattern, s3_error, S3};

const MIB: usize = 1 << 20;

async fn create(c: &Client, bucket: &str, key: &str) -> String {
    c.create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type("application/x-parts")
        .metadata("origin", "multipart-test")
        .send()
        .await
        .unwrap_or_else(|e| panic!("create upload: {}", describe(&e)))
        .upload_id()
        .expect("upload id")
        .to_owned()
}

async fn upload(c: &Client, bucket: &str, key: &str, id: &str, n: i32, data: &[u8]) -> String {
    c.upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload part {n}: {}", describe(&e)))
        .e_tag()
        .expect("part ETag")
        .to_owned()
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, etag)| {
                    CompletedPart::builder()
                        .part_number(*n)
                        .e_tag(*etag)
                        .build()
                })
                .collect(),
        ))
        .build()
}

fn md5(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

#[tokio::test]
async fn upload_list_and_complete_with_the_s3_etag() {
    let s3 = S3::start();
    let bucket = s3.bucket("multipart").await;
    let c = &s3.client;
    let id = create(c, &bucket, "big/object").await;
    let parts = [
        pattern(5 * MIB, 1),
        pattern(5 * MIB + 17, 2),
        pattern(1234, 3),
    ];
    // Part 2 is first uploaded with other bytes, then re-uploaded: the last one counts.
    upload(c, &bucket, "big/object", &id, 2, &pattern(5 * MIB, 99)).await;
    let mut etags = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        etags.push(upload(c, &bucket, "big/object", &id, i as i32 + 1, data).await);
    }

    let listed = c
        .list_parts()
        .bucket(&bucket)
        .key("big/object")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let got: Vec<_> = listed
        .parts()
        .iter()
        .map(|p| {
            (
                p.part_number().unwrap(),
                p.e_tag().unwrap().to_owned(),
                p.size().unwrap(),
            )
        })
        .collect();
    let want: Vec<_> = parts
        .iter()
        .enumerate()
        .map(|(i, d)| (i as i32 + 1, etags[i].clone(), d.len() as i64))
        .collect();
    assert_eq!(got, want);
    // Paged with max-parts and part-number-marker.
    let page = c
        .list_parts()
        .bucket(&bucket)
        .key("big/object")
        .upload_id(&id)
        .max_parts(1)
        .part_number_marker("1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.parts().len(), 1);
    assert_eq!(page.parts()[0].part_number(), Some(2));
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_part_number_marker(), Some("2"));

    let uploads = c
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = uploads
        .uploads()
        .iter()
        .map(|u| (u.key().unwrap(), u.upload_id().unwrap()))
        .collect();
    assert_eq!(ids, [("big/object", id.as_str())]);

    let numbered: Vec<(i32, &str)> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| (i as i32 + 1, e.as_str()))
        .collect();
    let done = c
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("big/object")
        .upload_id(&id)
        .multipart_upload(completed(&numbered))
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete: {}", describe(&e)));
    let mut concatenated = Vec::new();
    for data in &parts {
        concatenated.extend_from_slice(&md5(data));
    }
    let want_etag = format!("\"{}-3\"", hex::encode(md5(&concatenated)));
    assert_eq!(done.e_tag(), Some(want_etag.as_str()));
    assert_eq!(done.key(), Some("big/object"));

    // The object reads back whole, by range across part boundaries, and by part number.
    let whole: Vec<u8> = parts.concat();
    let got = c
        .get_object()
        .bucket(&bucket)
        .key("big/object")
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag(), Some(want_etag.as_str()));
    assert_eq!(got.content_type(), Some("application/x-parts"));
    assert_eq!(
        got.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("multipart-test")
    );
    assert_eq!(got.body.collect().await.unwrap().to_vec(), whole);
    let start = 5 * MIB - 10;
    let ranged = c
        .get_object()
        .bucket(&bucket)
        .key("big/object")
        .range(format!("bytes={start}-{}", start + 29))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ranged.body.collect().await.unwrap().to_vec(),
        &whole[start..start + 30]
    );
    let part2 = c
        .get_object()
        .bucket(&bucket)
        .key("big/object")
        .part_number(2)
        .send()
        .await
        .unwrap();
    assert_eq!(part2.parts_count(), Some(3));
    assert_eq!(part2.content_length(), Some(parts[1].len() as i64));
    assert_eq!(part2.body.collect().await.unwrap().to_vec(), parts[1]);
    let head = c
        .head_object()
        .bucket(&bucket)
        .key("big/object")
        .part_number(3)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(1234));
    let (status, _) = s3_error(
        c.get_object()
            .bucket(&bucket)
            .key("big/object")
            .part_number(4)
            .send()
            .await,
    );
    assert_eq!(status, 416);

    // The upload is gone once completed.
    let uploads = c
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
    let (status, code) = s3_error(
        c.list_parts()
            .bucket(&bucket)
            .key("big/object")
            .upload_id(&id)
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchUpload"));
}

#[tokio::test]
async fn bad_completions_are_refused_and_change_nothing() {
    let s3 = S3::start();
    let bucket = s3.bucket("bad-complete").await;
    let c = &s3.client;
    let id = create(c, &bucket, "k").await;
    let small = upload(c, &bucket, "k", &id, 1, &pattern(1000, 1)).await;
    let big = upload(c, &bucket, "k", &id, 2, &pattern(5 * MIB, 2)).await;
    let last = upload(c, &bucket, "k", &id, 3, &pattern(10, 3)).await;

    let complete = |parts: Vec<(i32, String)>| {
        let c = c.clone();
        let bucket = bucket.clone();
        let id = id.clone();
        async move {
            let refs: Vec<(i32, &str)> = parts.iter().map(|(n, e)| (*n, e.as_str())).collect();
            c.complete_multipart_upload()
                .bucket(&bucket)
                .key("k")
                .upload_id(&id)
                .multipart_upload(completed(&refs))
                .send()
                .await
        }
    };
    // A part below 5 MiB that is not the last.
    let (status, code) = s3_error(complete(vec![(1, small.clone()), (2, big.clone())]).await);
    assert_eq!((status, code.as_str()), (400, "EntityTooSmall"));
    // Out of order.
    let (status, code) = s3_error(complete(vec![(2, big.clone()), (1, small.clone())]).await);
    assert_eq!((status, code.as_str()), (400, "InvalidPartOrder"));
    // A wrong ETag, and a part never uploaded.
    let (status, code) =
        s3_error(complete(vec![(2, "\"0123456789abcdef0123456789abcdef\"".to_owned())]).await);
    assert_eq!((status, code.as_str()), (400, "InvalidPart"));
    let (status, code) = s3_error(complete(vec![(2, big.clone()), (7, last.clone())]).await);
    assert_eq!((status, code.as_str()), (400, "InvalidPart"));
    // Nothing was created by the failures, and the upload is still there.
    let (status, _) = s3_error(c.head_object().bucket(&bucket).key("k").send().await);
    assert_eq!(status, 404);
    // Parts may be skipped: 2 and 3 only.
    c.complete_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(2, &big), (3, &last)]))
        .send()
        .await
        .unwrap();
    let body = s3.get(&bucket, "k").await;
    assert_eq!(body, [pattern(5 * MIB, 2), pattern(10, 3)].concat());

    // Part numbers outside 1..=10000, and an unknown upload id.
    let id = create(c, &bucket, "k2").await;
    for n in [0, 10_001] {
        let (status, code) = s3_error(
            c.upload_part()
                .bucket(&bucket)
                .key("k2")
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await,
        );
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidArgument"),
            "part {n}"
        );
    }
    let (status, code) = s3_error(
        c.upload_part()
            .bucket(&bucket)
            .key("k2")
            .upload_id("no-such-upload")
            .part_number(1)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchUpload"));

    // Abort frees the upload; later calls on it are NoSuchUpload.
    upload(c, &bucket, "k2", &id, 1, b"part").await;
    c.abort_multipart_upload()
        .bucket(&bucket)
        .key("k2")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let (status, code) = s3_error(
        c.complete_multipart_upload()
            .bucket(&bucket)
            .key("k2")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, "\"x\"")]))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "NoSuchUpload"));
    let (status, _) = s3_error(
        c.abort_multipart_upload()
            .bucket(&bucket)
            .key("k2")
            .upload_id(&id)
            .send()
            .await,
    );
    assert_eq!(status, 404);
}

#[tokio::test]
async fn upload_part_copy_with_ranges() {
    let s3 = S3::start();
    let bucket = s3.bucket("part-copy").await;
    let c = &s3.client;
    let source = pattern(12 * MIB, 42);
    s3.put(&bucket, "source", &source).await;
    let id = create(c, &bucket, "assembled").await;
    let mut etags = Vec::new();
    for (n, range) in [(1, (0, 5 * MIB)), (2, (7 * MIB, 12 * MIB))] {
        let out = c
            .upload_part_copy()
            .bucket(&bucket)
            .key("assembled")
            .upload_id(&id)
            .part_number(n)
            .copy_source(format!("{bucket}/source"))
            .copy_source_range(format!("bytes={}-{}", range.0, range.1 - 1))
            .send()
            .await
            .unwrap_or_else(|e| panic!("part copy {n}: {}", describe(&e)));
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .expect("CopyPartResult ETag")
            .to_owned();
        assert_eq!(
            etag,
            format!("\"{}\"", hex::encode(md5(&source[range.0..range.1])))
        );
        etags.push(etag);
    }
    // A whole-object part copy, and a range past the end.
    let whole = c
        .upload_part_copy()
        .bucket(&bucket)
        .key("assembled")
        .upload_id(&id)
        .part_number(3)
        .copy_source(format!("/{bucket}/source"))
        .send()
        .await
        .unwrap();
    etags.push(
        whole
            .copy_part_result()
            .unwrap()
            .e_tag()
            .unwrap()
            .to_owned(),
    );
    let (status, code) = s3_error(
        c.upload_part_copy()
            .bucket(&bucket)
            .key("assembled")
            .upload_id(&id)
            .part_number(4)
            .copy_source(format!("{bucket}/source"))
            .copy_source_range(format!("bytes=0-{}", 12 * MIB))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "InvalidArgument"));
    let numbered: Vec<(i32, &str)> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| (i as i32 + 1, e.as_str()))
        .collect();
    c.complete_multipart_upload()
        .bucket(&bucket)
        .key("assembled")
        .upload_id(&id)
        .multipart_upload(completed(&numbered))
        .send()
        .await
        .unwrap();
    let want = [&source[..5 * MIB], &source[7 * MIB..], &source[..]].concat();
    assert_eq!(s3.get(&bucket, "assembled").await, want);
}

#[tokio::test]
async fn multipart_checksums_are_verified_per_part_and_composited() {
    let s3 = S3::start();
    let bucket = s3.bucket("mp-checksums").await;
    let c = &s3.client;
    let id = c
        .create_multipart_upload()
        .bucket(&bucket)
        .key("summed")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let parts = [pattern(5 * MIB, 8), pattern(300, 9)];
    let mut completed_parts = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let out = c
            .upload_part()
            .bucket(&bucket)
            .key("summed")
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("part {}: {}", i + 1, describe(&e)));
        let crc = out
            .checksum_crc32()
            .expect("part checksum returned")
            .to_owned();
        assert_eq!(crc, crc32_b64(data));
        completed_parts.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(out.e_tag().unwrap())
                .checksum_crc32(crc)
                .build(),
        );
    }
    let listed = c
        .list_parts()
        .bucket(&bucket)
        .key("summed")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.parts()[1].checksum_crc32(),
        Some(crc32_b64(&parts[1]).as_str())
    );
    // A part whose body does not match its checksum is refused.
    let (status, code) = s3_error(
        c.upload_part()
            .bucket(&bucket)
            .key("summed")
            .upload_id(&id)
            .part_number(3)
            .checksum_crc32("AAAAAA==")
            .body(ByteStream::from_static(b"mismatch"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "BadDigest"));
    let done = c
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("summed")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed_parts))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete: {}", describe(&e)));
    // S3's composite checksum: the checksum of the part checksums, then "-N".
    let mut raw = Vec::new();
    for data in &parts {
        raw.extend_from_slice(&crc32fast::hash(data).to_be_bytes());
    }
    let composite = format!("{}-2", b64(&crc32fast::hash(&raw).to_be_bytes()));
    assert_eq!(done.checksum_crc32(), Some(composite.as_str()));
    let got = c
        .get_object()
        .bucket(&bucket)
        .key("summed")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32(), Some(composite.as_str()));
    assert_eq!(got.body.collect().await.unwrap().to_vec(), parts.concat());
}

fn crc32_b64(data: &[u8]) -> String {
    b64(&crc32fast::hash(data).to_be_bytes())
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
