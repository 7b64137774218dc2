//! Listings through aws-sdk-s3: ListObjectsV2 and ListObjects (v1) with prefix, delimiters,
//! markers, continuation tokens, start-after, max-keys, fetch-owner and URL encoding, and
//! DeleteObjects batches.

use std::collections::BTreeSet;

use aws_sdk_s3::types::{Delete, EncodingType, ObjectIdentifier};

use crate::sdk::{describe, s3_error, S3};

/// A tree of keys: `dir{0..4}/sub{0..3}/file{0..5}` and a few at the top.
fn tree() -> Vec<String> {
    let mut keys = vec!["top-a".to_owned(), "top-b".to_owned(), "zzz".to_owned()];
    for d in 0..4 {
        for s in 0..3 {
            for f in 0..5 {
                keys.push(format!("dir{d}/sub{s}/file{f}"));
            }
        }
    }
    keys.sort();
    keys
}

async fn fill(s3: &S3, bucket: &str, keys: &[String]) {
    for key in keys {
        s3.put(bucket, key, key.as_bytes()).await;
    }
}

/// What S3 returns for `prefix`/`delimiter`: the keys and the common prefixes, in order.
fn expected(keys: &[String], prefix: &str, delimiter: &str) -> (Vec<String>, Vec<String>) {
    let mut contents = Vec::new();
    let mut prefixes = BTreeSet::new();
    for key in keys.iter().filter(|k| k.starts_with(prefix)) {
        let rest = &key[prefix.len()..];
        match (!delimiter.is_empty())
            .then(|| rest.find(delimiter))
            .flatten()
        {
            Some(at) => {
                prefixes.insert(format!("{prefix}{}", &rest[..at + delimiter.len()]));
            }
            None => contents.push(key.clone()),
        }
    }
    (contents, prefixes.into_iter().collect())
}

#[tokio::test]
async fn list_v2_pages_match_s3_semantics() {
    let s3 = S3::start();
    let bucket = s3.bucket("list-v2").await;
    let keys = tree();
    fill(&s3, &bucket, &keys).await;

    for (prefix, delimiter, page) in [
        ("", "", 7),
        ("", "/", 2),
        ("dir1/", "/", 1),
        ("dir2/sub1/", "", 2),
        ("dir", "/", 3),
        ("", "sub1", 4),
        ("dir3/", "file", 2),
        ("nothing", "/", 5),
    ] {
        let (want_keys, want_prefixes) = expected(&keys, prefix, delimiter);
        let mut got_keys = Vec::new();
        let mut got_prefixes = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut request = s3
                .client
                .list_objects_v2()
                .bucket(&bucket)
                .prefix(prefix)
                .max_keys(page);
            if !delimiter.is_empty() {
                request = request.delimiter(delimiter);
            }
            if let Some(t) = &token {
                request = request.continuation_token(t);
            }
            let out = request.send().await.unwrap();
            pages += 1;
            let returned = out.contents().len() + out.common_prefixes().len();
            assert!(returned <= page as usize);
            assert_eq!(out.key_count(), Some(returned as i32));
            got_keys.extend(out.contents().iter().map(|o| o.key().unwrap().to_owned()));
            got_prefixes.extend(
                out.common_prefixes()
                    .iter()
                    .map(|p| p.prefix().unwrap().to_owned()),
            );
            for object in out.contents() {
                assert_eq!(
                    object.size(),
                    Some(object.key().unwrap().len() as i64),
                    "size in the listing"
                );
                assert!(object.e_tag().is_some_and(|e| e.starts_with('"')));
                assert!(object.last_modified().is_some());
            }
            if out.is_truncated() == Some(true) {
                token = Some(out.next_continuation_token().expect("token").to_owned());
            } else {
                assert!(out.next_continuation_token().is_none());
                break;
            }
            assert!(pages < 200, "listing does not end");
        }
        assert_eq!(got_keys, want_keys, "{prefix:?} {delimiter:?}");
        assert_eq!(got_prefixes, want_prefixes, "{prefix:?} {delimiter:?}");
    }

    // start-after, and max-keys 0.
    let out = s3
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .start_after("dir3/sub2/file3")
        .send()
        .await
        .unwrap();
    let got: Vec<_> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(got, ["dir3/sub2/file4", "top-a", "top-b", "zzz"]);
    let out = s3
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .max_keys(0)
        .send()
        .await
        .unwrap();
    assert!(out.contents().is_empty());
    // fetch-owner.
    let out = s3
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .max_keys(1)
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    assert!(out.contents()[0].owner().and_then(|o| o.id()).is_some());
    let out = s3
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .max_keys(1)
        .send()
        .await
        .unwrap();
    assert!(out.contents()[0].owner().is_none());
    // A continuation token that was never issued.
    let (status, code) = s3_error(
        s3.client
            .list_objects_v2()
            .bucket(&bucket)
            .continuation_token("!!not-a-token!!")
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "InvalidArgument"));
}

#[tokio::test]
async fn continuation_tokens_stay_valid_across_writes() {
    let s3 = S3::start();
    let bucket = s3.bucket("list-concurrent").await;
    let keys: Vec<String> = (0..60).map(|i| format!("k{i:03}")).collect();
    fill(&s3, &bucket, &keys).await;
    let first = s3
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .max_keys(20)
        .send()
        .await
        .unwrap();
    let token = first.next_continuation_token().unwrap().to_owned();
    // Writes and deletes around the page boundary before the next page is asked for.
    s3.client
        .delete_object()
        .bucket(&bucket)
        .key("k019")
        .send()
        .await
        .unwrap();
    s3.client
        .delete_object()
        .bucket(&bucket)
        .key("k020")
        .send()
        .await
        .unwrap();
    s3.put(&bucket, "k0195", b"new").await;
    s3.put(&bucket, "a-before", b"new").await;
    let second = s3
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .max_keys(20)
        .continuation_token(token)
        .send()
        .await
        .unwrap();
    let got: Vec<_> = second.contents().iter().map(|o| o.key().unwrap()).collect();
    let mut want = vec!["k0195"];
    want.extend(keys[21..40].iter().map(String::as_str));
    assert_eq!(got, want);
}

#[tokio::test]
async fn list_v1_with_markers_as_rclone_and_s3cmd_use_it() {
    let s3 = S3::start();
    let bucket = s3.bucket("list-v1").await;
    let keys = tree();
    fill(&s3, &bucket, &keys).await;

    // Without a delimiter S3 sends no NextMarker: clients continue from the last key.
    let mut got = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut request = s3.client.list_objects().bucket(&bucket).max_keys(9);
        if let Some(m) = &marker {
            request = request.marker(m);
        }
        let out = request.send().await.unwrap();
        got.extend(out.contents().iter().map(|o| o.key().unwrap().to_owned()));
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = Some(
            out.next_marker()
                .map(str::to_owned)
                .unwrap_or_else(|| got.last().unwrap().clone()),
        );
    }
    assert_eq!(got, keys);

    // With a delimiter, NextMarker is there and may be a common prefix.
    let (want_keys, want_prefixes) = expected(&keys, "", "/");
    let mut got_keys = Vec::new();
    let mut got_prefixes = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut request = s3
            .client
            .list_objects()
            .bucket(&bucket)
            .delimiter("/")
            .max_keys(2);
        if let Some(m) = &marker {
            request = request.marker(m);
        }
        let out = request.send().await.unwrap();
        got_keys.extend(out.contents().iter().map(|o| o.key().unwrap().to_owned()));
        got_prefixes.extend(
            out.common_prefixes()
                .iter()
                .map(|p| p.prefix().unwrap().to_owned()),
        );
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = Some(
            out.next_marker()
                .expect("NextMarker with a delimiter")
                .to_owned(),
        );
    }
    assert_eq!(got_keys, want_keys);
    assert_eq!(got_prefixes, want_prefixes);
}

#[tokio::test]
async fn url_encoding_type_round_trips_odd_keys() {
    let s3 = S3::start();
    let bucket = s3.bucket("list-encoded").await;
    let keys = ["a b/c", "plus+/x", "ü/ñ", "amp&/lt<"];
    for key in keys {
        s3.put(&bucket, key, b"x").await;
    }
    for encoding in [None, Some(EncodingType::Url)] {
        let out = s3
            .client
            .list_objects_v2()
            .bucket(&bucket)
            .set_encoding_type(encoding.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{encoding:?}: {}", describe(&e)));
        let mut got: Vec<_> = out
            .contents()
            .iter()
            .map(|o| o.key().unwrap().to_owned())
            .collect();
        if encoding.is_some() {
            got = got.iter().map(|k| url_decode(k)).collect();
        }
        let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{encoding:?}");
    }
    // A key with a control character cannot be carried by XML 1.0: S3 tells clients to ask for
    // URL encoding, and the encoded listing carries it.
    s3.put(&bucket, "ctl\u{1}key", b"x").await;
    let out = s3
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .encoding_type(EncodingType::Url)
        .prefix("ctl")
        .send()
        .await
        .unwrap();
    let got: Vec<_> = out
        .contents()
        .iter()
        .map(|o| url_decode(o.key().unwrap()))
        .collect();
    assert_eq!(got, ["ctl\u{1}key"]);
    let out = s3
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .encoding_type(EncodingType::Url)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let mut prefixes: Vec<String> = out
        .common_prefixes()
        .iter()
        .map(|p| url_decode(p.prefix().unwrap()))
        .collect();
    prefixes.sort();
    assert_eq!(prefixes, ["a b/", "amp&/", "plus+/", "ü/"]);
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex escape"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8 key")
}

#[tokio::test]
async fn delete_objects_in_batches() {
    let s3 = S3::start();
    let bucket = s3.bucket("batch-delete").await;
    // 1001 keys named, of which every fourth (251) exists.
    let keys: Vec<String> = (0..1001).map(|i| format!("obj/{i:05}")).collect();
    let mut tasks = Vec::new();
    for chunk in keys
        .iter()
        .step_by(4)
        .cloned()
        .collect::<Vec<_>>()
        .chunks(20)
    {
        let client = s3.client.clone();
        let bucket = bucket.clone();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            for key in chunk {
                client
                    .put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let identifiers = |keys: &[String]| -> Delete {
        Delete::builder()
            .set_objects(Some(
                keys.iter()
                    .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
                    .collect(),
            ))
            .build()
            .unwrap()
    };
    // 1001 keys: refused as S3 does.
    let (status, code) = s3_error(
        s3.client
            .delete_objects()
            .bucket(&bucket)
            .delete(identifiers(&keys[..1001]))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "MalformedXML"));
    let out = s3
        .client
        .delete_objects()
        .bucket(&bucket)
        .delete(identifiers(&keys[..1000]))
        .send()
        .await
        .unwrap();
    // Missing keys count as deleted.
    assert_eq!(out.deleted().len(), 1000);
    assert!(out.errors().is_empty());
    let left = s3
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let left: Vec<_> = left.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(left, ["obj/01000"]);
    let out = s3
        .client
        .delete_objects()
        .bucket(&bucket)
        .delete(identifiers(&keys[1000..]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 1);
    let left = s3
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count(), Some(0));
}
