//! Engine behaviour: buckets, objects, ranges, conditional writes, multipart, listing, restart.

mod common;

use cairn_storage::{
    ByteRange, Engine, Error, ListQuery, ObjectMeta, PutOptions, UploadQuery, WriteCondition,
};
use common::*;
use futures_lite::StreamExt;

#[test]
fn buckets_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    run(&engine, |s| async move {
        assert!(matches!(
            s.create_bucket("Bad_Name", "me", "us-east-1").await,
            Err(Error::InvalidBucketName(_))
        ));
        s.create_bucket("alpha", "me", "us-east-1").await.unwrap();
        s.create_bucket("beta", "me", "ap-southeast-1-sg")
            .await
            .unwrap();
        assert!(matches!(
            s.create_bucket("alpha", "me", "us-east-1").await,
            Err(Error::BucketAlreadyOwnedByYou)
        ));
        assert!(matches!(
            s.create_bucket("alpha", "you", "us-east-1").await,
            Err(Error::BucketAlreadyExists)
        ));
        let info = s.head_bucket("alpha").await.unwrap();
        assert_eq!(info.owner, "me");
        assert!(info.created_ms > 0);
        assert_eq!(info.region.as_deref(), Some("us-east-1"));
        let listed: Vec<(String, Option<String>)> = s
            .list_buckets()
            .await
            .unwrap()
            .into_iter()
            .map(|b| (b.name, b.region))
            .collect();
        assert_eq!(
            listed,
            [
                ("alpha".to_owned(), Some("us-east-1".to_owned())),
                ("beta".to_owned(), Some("ap-southeast-1-sg".to_owned()))
            ]
        );
        put_simple(&s, "alpha", "k", b"v").await;
        assert!(matches!(
            s.delete_bucket("alpha").await,
            Err(Error::BucketNotEmpty)
        ));
        // A failed delete leaves the bucket usable.
        put_simple(&s, "alpha", "k2", b"v").await;
        s.delete_object("alpha", "k").await.unwrap();
        s.delete_object("alpha", "k2").await.unwrap();
        let up = s
            .create_multipart_upload("alpha", "m", ObjectMeta::default())
            .await
            .unwrap();
        assert!(matches!(
            s.delete_bucket("alpha").await,
            Err(Error::BucketNotEmpty)
        ));
        s.abort_multipart_upload("alpha", "m", &up).await.unwrap();
        s.delete_bucket("alpha").await.unwrap();
        assert!(matches!(
            s.head_bucket("alpha").await,
            Err(Error::NoSuchBucket)
        ));
        assert!(matches!(
            s.delete_bucket("alpha").await,
            Err(Error::NoSuchBucket)
        ));
        assert!(matches!(
            s.put_object("alpha", "k", PutOptions::default()).await,
            Err(Error::NoSuchBucket)
        ));
        // Recreating gives an empty bucket.
        s.create_bucket("alpha", "me", "us-east-1").await.unwrap();
        assert!(matches!(
            s.head_object("alpha", "k").await,
            Err(Error::NoSuchKey)
        ));
    });
}

#[test]
fn objects_inline_and_blob_with_ranges_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    let d = dir.path().to_path_buf();
    run(&engine, move |s| async move {
        s.create_bucket("bkt", "me", "us-east-1").await.unwrap();
        let small = b"hello world".to_vec();
        // Past 4 MiB, so the writer's 64 KiB, 256 KiB and 1 MiB buffers (and an unaligned
        // tail) are all in it.
        let big: Vec<u8> = (0..6_291_459u32).map(|i| (i * 31 % 251) as u8).collect();
        let meta = ObjectMeta {
            content_type: Some("text/plain".into()),
            cache_control: Some("no-cache".into()),
            checksums: vec![("CRC32".into(), "abc=".into())],
            ..meta_with(&[("colour", "blue")])
        };
        let etag = put(
            &s,
            "bkt",
            "small",
            &small,
            PutOptions {
                meta: meta.clone(),
                ..PutOptions::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(etag, md5_hex(&small));
        assert_eq!(put_simple(&s, "bkt", "big", &big).await, md5_hex(&big));
        assert_eq!(blob_files(&d).len(), 1, "only the big object has a blob");
        assert_same(
            &read_all(&s, "bkt", "small").await.unwrap(),
            &small,
            "read back",
        );
        assert_same(
            &read_all(&s, "bkt", "big").await.unwrap(),
            &big,
            "read back",
        );
        let head = s.head_object("bkt", "small").await.unwrap();
        assert_eq!(head.meta, meta);
        assert_eq!(head.size, small.len() as u64);
        for (range, want) in [
            (ByteRange::FromTo(0, 0), 0..1),
            (ByteRange::FromTo(5, 99_999_999), 5..big.len()),
            (ByteRange::From(999_000), 999_000..big.len()),
            (ByteRange::Suffix(10), big.len() - 10..big.len()),
            (ByteRange::FromTo(262_000, 600_000), 262_000..600_001),
            (
                ByteRange::FromTo(4_000_000, 5_300_000),
                4_000_000..5_300_001,
            ),
        ] {
            let mut got = s.get_object("bkt", "big", Some(range)).await.unwrap();
            assert_eq!(got.range, (want.start as u64, want.end as u64));
            let mut out = Vec::new();
            while let Some(c) = got.body.next().await {
                out.extend_from_slice(&c.unwrap());
            }
            assert_eq!(out, big[want]);
        }
        assert!(matches!(
            s.get_object("bkt", "big", Some(ByteRange::From(big.len() as u64)))
                .await,
            Err(Error::InvalidRange)
        ));
        assert!(matches!(
            s.get_object("bkt", "small", Some(ByteRange::FromTo(3, 2)))
                .await,
            Err(Error::InvalidRange)
        ));
        // Empty object.
        assert_eq!(put_simple(&s, "bkt", "empty", b"").await, md5_hex(b""));
        assert_same(
            &read_all(&s, "bkt", "empty").await.unwrap(),
            b"",
            "read back",
        );
        // Key and metadata limits.
        let long = "k".repeat(1025);
        assert!(matches!(
            s.put_object("bkt", &long, PutOptions::default()).await,
            Err(Error::KeyTooLong)
        ));
        let ok_long = "é".repeat(512);
        put_simple(&s, "bkt", &ok_long, b"x").await;
        let huge = "v".repeat(2048);
        assert!(matches!(
            s.put_object(
                "bkt",
                "m",
                PutOptions {
                    meta: meta_with(&[("k", &huge)]),
                    ..PutOptions::default()
                }
            )
            .await,
            Err(Error::MetadataTooLarge)
        ));
        // Bad Content-MD5 refuses the write and leaves no blob.
        let mut w = s
            .put_object(
                "bkt",
                "bad",
                PutOptions {
                    content_md5: Some([0; 16]),
                    ..PutOptions::default()
                },
            )
            .await
            .unwrap();
        w.write(&big).await.unwrap();
        assert!(matches!(w.commit().await, Err(Error::BadDigest)));
        // Overwrite frees the old blob; delete frees the new one.
        put_simple(&s, "bkt", "big", &big[..500_000]).await;
        assert_same(
            &read_all(&s, "bkt", "big").await.unwrap(),
            &big[..500_000],
            "read back",
        );
        glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(blob_files(&d).len(), 1);
        assert!(s.delete_object("bkt", "big").await.unwrap());
        assert!(!s.delete_object("bkt", "big").await.unwrap());
        glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(blob_files(&d).len(), 0);
        // Dropping a writer leaves nothing behind.
        let mut w = s
            .put_object("bkt", "dropped", PutOptions::default())
            .await
            .unwrap();
        w.write(&big).await.unwrap();
        drop(w);
        glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(blob_files(&d).len(), 0);
        assert!(matches!(
            s.head_object("bkt", "dropped").await,
            Err(Error::NoSuchKey)
        ));
    });
}

#[test]
fn conditional_writes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    run(&engine, |s| async move {
        s.create_bucket("bkt", "me", "us-east-1").await.unwrap();
        let if_absent = || PutOptions {
            condition: WriteCondition::IfAbsent,
            ..PutOptions::default()
        };
        let e1 = put(&s, "bkt", "k", b"one", if_absent()).await.unwrap();
        assert!(matches!(
            put(&s, "bkt", "k", b"two", if_absent()).await,
            Err(Error::PreconditionFailed)
        ));
        let if_match = |e: &str| PutOptions {
            condition: WriteCondition::IfMatch(format!("\"{e}\"")),
            ..PutOptions::default()
        };
        assert!(matches!(
            put(&s, "bkt", "k", b"two", if_match("0000")).await,
            Err(Error::PreconditionFailed)
        ));
        let e2 = put(&s, "bkt", "k", b"two", if_match(&e1)).await.unwrap();
        assert!(matches!(
            put(&s, "bkt", "k", b"three", if_match(&e1)).await,
            Err(Error::PreconditionFailed)
        ));
        assert!(matches!(
            put(&s, "bkt", "nokey", b"x", if_match(&e1)).await,
            Err(Error::NoSuchKey)
        ));
        assert_same(
            &read_all(&s, "bkt", "k").await.unwrap(),
            b"two",
            "read back",
        );
        assert_eq!(s.head_object("bkt", "k").await.unwrap().etag, e2);
        // Concurrent If-None-Match writers to one key: exactly one wins.
        let mut tasks = Vec::new();
        for i in 0..16u8 {
            let s = s.clone();
            tasks.push(glommio::spawn_local(async move {
                put(&s, "bkt", "race", &[i; 100], if_absent()).await
            }));
        }
        let mut wins = 0;
        for t in tasks {
            match t.await {
                Ok(_) => wins += 1,
                Err(Error::PreconditionFailed) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(wins, 1);
    });
}

#[test]
fn multipart_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    let d = dir.path().to_path_buf();
    run(&engine, move |s| async move {
        s.create_bucket("bkt", "me", "us-east-1").await.unwrap();
        let meta = meta_with(&[("a", "b")]);
        let up = s
            .create_multipart_upload("bkt", "obj", meta.clone())
            .await
            .unwrap();
        let parts: Vec<Vec<u8>> = (1..=3u8).map(|i| vec![i; 100 + usize::from(i)]).collect();
        let mut etags = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let mut w = s
                .upload_part("bkt", "obj", &up, i as u16 + 1)
                .await
                .unwrap();
            w.write(p).await.unwrap();
            etags.push(w.commit().await.unwrap().etag);
        }
        // Re-upload part 2.
        let p2 = vec![9u8; 50];
        let mut w = s.upload_part("bkt", "obj", &up, 2).await.unwrap();
        w.write(&p2).await.unwrap();
        etags[1] = w.commit().await.unwrap().etag;
        assert_eq!(etags[1], md5_hex(&p2));
        assert!(matches!(
            s.upload_part("bkt", "obj", &up, 0).await,
            Err(Error::InvalidPartNumber)
        ));
        assert!(matches!(
            s.upload_part("bkt", "obj", &"0".repeat(32), 1).await,
            Err(Error::NoSuchUpload)
        ));
        let listed = s.list_parts("bkt", "obj", &up, 0, 2).await.unwrap();
        assert_eq!(
            listed
                .parts
                .iter()
                .map(|p| p.part_number)
                .collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(listed.is_truncated);
        let rest = s.list_parts("bkt", "obj", &up, 2, 10).await.unwrap();
        assert_eq!(rest.parts.len(), 1);
        assert_eq!(rest.parts[0].size, 103);
        let uploads = s
            .list_multipart_uploads(
                "bkt",
                &UploadQuery {
                    max_uploads: 10,
                    ..UploadQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(uploads.uploads.len(), 1);
        assert_eq!(uploads.uploads[0].upload_id, up);
        // Bad completions.
        let list = |ns: &[u16]| -> Vec<(u16, String)> {
            ns.iter()
                .map(|&n| (n, etags[n as usize - 1].clone()))
                .collect()
        };
        assert!(matches!(
            s.complete_multipart_upload("bkt", "obj", &up, list(&[2, 1]), WriteCondition::Always)
                .await,
            Err(Error::InvalidPartOrder)
        ));
        assert!(matches!(
            s.complete_multipart_upload(
                "bkt",
                "obj",
                &up,
                vec![(1, "00".into())],
                WriteCondition::Always
            )
            .await,
            Err(Error::InvalidPart)
        ));
        // Complete with parts 1 and 3 (part 2 is left out and freed).
        let done = s
            .complete_multipart_upload("bkt", "obj", &up, list(&[1, 3]), WriteCondition::Always)
            .await
            .unwrap();
        let mut cat = Vec::new();
        cat.extend(hex::decode(&etags[0]).unwrap());
        cat.extend(hex::decode(&etags[2]).unwrap());
        assert_eq!(done.etag, format!("{}-2", md5_hex(&cat)));
        let body = [parts[0].clone(), parts[2].clone()].concat();
        assert_same(
            &read_all(&s, "bkt", "obj").await.unwrap(),
            &body,
            "read back",
        );
        let head = s.head_object("bkt", "obj").await.unwrap();
        assert_eq!((head.parts, head.meta), (2, meta));
        // A range across the part boundary.
        let mut got = s
            .get_object("bkt", "obj", Some(ByteRange::FromTo(95, 110)))
            .await
            .unwrap();
        let mut out = Vec::new();
        while let Some(c) = got.body.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        assert_eq!(out, body[95..=110]);
        glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(blob_files(&d).len(), 2);
        assert!(matches!(
            s.list_parts("bkt", "obj", &up, 0, 10).await,
            Err(Error::NoSuchUpload)
        ));
        // Too-small parts.
        let up2 = s
            .create_multipart_upload("bkt", "small", ObjectMeta::default())
            .await
            .unwrap();
        let mut e = Vec::new();
        for n in 1..=2u16 {
            let mut w = s.upload_part("bkt", "small", &up2, n).await.unwrap();
            w.write(b"tiny").await.unwrap();
            e.push((n, w.commit().await.unwrap().etag));
        }
        assert!(matches!(
            s.complete_multipart_upload("bkt", "small", &up2, e, WriteCondition::Always)
                .await,
            Err(Error::EntityTooSmall)
        ));
        s.abort_multipart_upload("bkt", "small", &up2)
            .await
            .unwrap();
        assert!(matches!(
            s.abort_multipart_upload("bkt", "small", &up2).await,
            Err(Error::NoSuchUpload)
        ));
        glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(blob_files(&d).len(), 2);
    });
}

#[test]
fn listing_with_delimiters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    run(&engine, |s| async move {
        s.create_bucket("bkt", "me", "us-east-1").await.unwrap();
        let keys = [
            "a",
            "a/1",
            "a/2",
            "a/b/c",
            "b",
            "b/x",
            "c//d",
            "d",
            "photos/2024/x",
            "photos/2025/y",
            "é",
        ];
        for k in keys {
            put_simple(&s, "bkt", k, k.as_bytes()).await;
        }
        let q = |prefix: &str, delim: Option<&str>, after: Option<&str>, max| ListQuery {
            prefix: prefix.into(),
            delimiter: delim.map(Into::into),
            start_after: after.map(Into::into),
            max_keys: max,
        };
        let page = s
            .list_objects("bkt", &q("", None, None, 1000))
            .await
            .unwrap();
        let got: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(got, keys);
        assert!(!page.is_truncated);
        let page = s
            .list_objects("bkt", &q("", Some("/"), None, 1000))
            .await
            .unwrap();
        let got: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(got, ["a", "b", "d", "é"]);
        assert_eq!(page.common_prefixes, ["a/", "b/", "c/", "photos/"]);
        let page = s
            .list_objects("bkt", &q("photos/", Some("/"), None, 1000))
            .await
            .unwrap();
        assert_eq!(page.common_prefixes, ["photos/2024/", "photos/2025/"]);
        // Multi-character delimiter.
        let page = s
            .list_objects("bkt", &q("", Some("//"), None, 1000))
            .await
            .unwrap();
        assert_eq!(page.common_prefixes, ["c//"]);
        // Paging over keys and prefixes: the marker of a prefix skips all under it.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .list_objects("bkt", &q("", Some("/"), after.as_deref(), 2))
                .await
                .unwrap();
            seen.extend(page.objects.iter().map(|o| o.key.clone()));
            seen.extend(page.common_prefixes.iter().cloned());
            if !page.is_truncated {
                break;
            }
            after = page.next_marker.clone();
        }
        seen.sort();
        assert_eq!(seen, ["a", "a/", "b", "b/", "c/", "d", "photos/", "é"]);
        assert!(matches!(
            s.list_objects("bkt", &q("", None, None, 1001)).await,
            Err(Error::InvalidArgument(_))
        ));
    });
}

#[test]
fn restart_keeps_data_and_recovery_removes_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    {
        let engine = Engine::open(config(dir.path(), 2)).unwrap();
        let b = big.clone();
        run(&engine, move |s| async move {
            s.create_bucket("bkt", "me", "ap-southeast-1-bkk")
                .await
                .unwrap();
            put_simple(&s, "bkt", "big", &b).await;
            put_simple(&s, "bkt", "small", b"small").await;
        });
    }
    // Leave an orphan blob and a stray temporary file behind, as a crash would.
    std::fs::write(dir.path().join("blobs/1/00000000deadbeef"), b"orphan").unwrap();
    std::fs::write(dir.path().join("blobs/0/upload.tmp"), b"tmp").unwrap();
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    let r = engine.recovery_report();
    assert_eq!(
        (
            r.orphan_blobs_removed,
            r.stray_files_removed,
            r.missing_blobs,
            r.referenced_blobs
        ),
        (1, 1, 0, 1)
    );
    run(&engine, move |s| async move {
        let info = s.head_bucket("bkt").await.unwrap();
        assert_eq!(info.region.as_deref(), Some("ap-southeast-1-bkk"));
        assert_same(
            &read_all(&s, "bkt", "big").await.unwrap(),
            &big,
            "read back",
        );
        assert_same(
            &read_all(&s, "bkt", "small").await.unwrap(),
            b"small",
            "read back",
        );
    });
}

#[test]
fn bucket_delete_racing_puts_never_loses_an_acknowledged_object() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    run(&engine, |s| async move {
        for round in 0..30 {
            let bucket = format!("race-{round}");
            s.create_bucket(&bucket, "me", "us-east-1").await.unwrap();
            let mut puts = Vec::new();
            for i in 0..8 {
                let s = s.clone();
                let bucket = bucket.clone();
                puts.push(glommio::spawn_local(async move {
                    let key = format!("k{i}");
                    put(&s, &bucket, &key, &[i as u8; 100], PutOptions::default())
                        .await
                        .map(|_| key)
                }));
            }
            // Delete at varying moments: before, among and after the PUTs' commits.
            glommio::timer::sleep(std::time::Duration::from_micros(round * 200)).await;
            let deleted = s.delete_bucket(&bucket).await;
            let mut acked = Vec::new();
            for p in puts {
                match p.await {
                    Ok(key) => acked.push(key),
                    Err(Error::OperationAborted | Error::NoSuchBucket) => {}
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            match deleted {
                Ok(()) => assert!(
                    acked.is_empty(),
                    "round {round}: bucket deleted but {acked:?} were acknowledged"
                ),
                Err(Error::BucketNotEmpty | Error::OperationAborted) => {
                    for key in &acked {
                        assert_eq!(
                            read_all(&s, &bucket, key).await.unwrap().len(),
                            100,
                            "round {round}: {key}"
                        );
                    }
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
    });
}

/// A toy checksum (byte sum) standing in for the S3 layer's CRC/SHA hashers.
#[derive(Debug, Default)]
struct ByteSum(u64);

impl cairn_storage::BodyChecksum for ByteSum {
    fn update(&mut self, data: &[u8]) {
        self.0 += data.iter().map(|&b| u64::from(b)).sum::<u64>();
    }
    fn finish(self: Box<Self>) -> (String, String) {
        ("BYTESUM".into(), self.0.to_string())
    }
}

#[test]
fn requested_checksums_are_computed_inline_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    let d = dir.path().to_path_buf();
    run(&engine, move |s| async move {
        s.create_bucket("bkt", "me", "us-east-1").await.unwrap();
        let body: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let sum: u64 = body.iter().map(|&b| u64::from(b)).sum();
        let opts = |expected: Option<String>| PutOptions {
            checksum: Some(Box::new(ByteSum::default())),
            expected_checksum: expected,
            ..PutOptions::default()
        };
        put(&s, "bkt", "k", &body, opts(None)).await.unwrap();
        let head = s.head_object("bkt", "k").await.unwrap();
        assert_eq!(
            head.meta.checksums,
            [("BYTESUM".to_string(), sum.to_string())]
        );
        put(&s, "bkt", "k2", &body, opts(Some(sum.to_string())))
            .await
            .unwrap();
        assert!(matches!(
            put(&s, "bkt", "k3", &body, opts(Some("1".into()))).await,
            Err(Error::BadDigest)
        ));
        assert!(matches!(
            s.head_object("bkt", "k3").await,
            Err(Error::NoSuchKey)
        ));
        glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(blob_files(&d).len(), 2, "the refused body left no blob");
    });
}

#[test]
fn buffered_io_mode_writes_and_reads_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), 2);
    c.direct_io = false;
    let engine = Engine::open(c).unwrap();
    run(&engine, move |s| async move {
        s.create_bucket("bkt", "me", "us-east-1").await.unwrap();
        let big: Vec<u8> = (0..1_234_567u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(put_simple(&s, "bkt", "big", &big).await, md5_hex(&big));
        assert_same(
            &read_all(&s, "bkt", "big").await.unwrap(),
            &big,
            "read back",
        );
        let mut got = s
            .get_object("bkt", "big", Some(ByteRange::FromTo(1000, 700_000)))
            .await
            .unwrap();
        let mut out = Vec::new();
        while let Some(c) = got.body.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        assert_same(&out, &big[1000..=700_000], "range");
        let up = s
            .create_multipart_upload("bkt", "mp", ObjectMeta::default())
            .await
            .unwrap();
        let mut parts = Vec::new();
        for (n, chunk) in big.chunks(500_000).enumerate() {
            let mut w = s.upload_part("bkt", "mp", &up, n as u16 + 1).await.unwrap();
            w.write(chunk).await.unwrap();
            parts.push((n as u16 + 1, w.commit().await.unwrap().etag));
        }
        s.complete_multipart_upload("bkt", "mp", &up, parts, WriteCondition::Always)
            .await
            .unwrap();
        assert_same(&read_all(&s, "bkt", "mp").await.unwrap(), &big, "multipart");
    });
}

#[test]
fn configuration_and_attach_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), 1);
    c.cores = 0;
    assert!(matches!(Engine::open(c), Err(Error::InvalidArgument(_))));
    let mut c = config(dir.path(), 1);
    c.shards_per_bucket = 0;
    assert!(matches!(Engine::open(c), Err(Error::InvalidArgument(_))));
    // A single-core engine works without a mesh; a core attaches once.
    let engine = Engine::open(config(dir.path(), 1)).unwrap();
    run(&engine, |s| async move {
        assert!(matches!(
            s.engine().attach(0).await,
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            s.engine().attach(1).await,
            Err(Error::InvalidArgument(_))
        ));
        s.create_bucket("one-core", "me", "us-east-1")
            .await
            .unwrap();
        put_simple(&s, "one-core", "k", &[5u8; 70_000]).await;
        assert_eq!(
            read_all(&s, "one-core", "k").await.unwrap(),
            vec![5u8; 70_000]
        );
        s.delete_object("one-core", "k").await.unwrap();
        s.delete_bucket("one-core").await.unwrap();
    });
}

#[test]
fn parts_take_content_md5_and_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    run(&engine, move |s| async move {
        s.create_bucket("bkt", "me", "us-east-1").await.unwrap();
        let up = s
            .create_multipart_upload("bkt", "mp", ObjectMeta::default())
            .await
            .unwrap();
        let body = vec![3u8; 1000];
        let sum = (3 * 1000).to_string();
        let opts = |md5: Option<[u8; 16]>, expected: Option<String>| cairn_storage::PartOptions {
            content_md5: md5,
            checksum: Some(Box::new(ByteSum::default())),
            expected_checksum: expected,
        };
        let md5: [u8; 16] = hex::decode(md5_hex(&body)).unwrap().try_into().unwrap();
        let mut w = s
            .upload_part_with("bkt", "mp", &up, 1, opts(Some(md5), Some(sum.clone())))
            .await
            .unwrap();
        w.write(&body).await.unwrap();
        let done = w.commit().await.unwrap();
        assert_eq!(done.meta.checksums, [("BYTESUM".to_string(), sum.clone())]);
        for (md5, expected) in [(Some([0u8; 16]), None), (None, Some("7".to_string()))] {
            let mut w = s
                .upload_part_with("bkt", "mp", &up, 2, opts(md5, expected))
                .await
                .unwrap();
            w.write(&body).await.unwrap();
            assert!(matches!(w.commit().await, Err(Error::BadDigest)));
        }
        let parts = s.list_parts("bkt", "mp", &up, 0, 10).await.unwrap();
        assert_eq!(parts.parts.len(), 1, "refused parts are not listed");
        assert_eq!(parts.parts[0].checksums, [("BYTESUM".to_string(), sum)]);
    });
}
