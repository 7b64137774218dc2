//! Bucket binding: a `BucketRef` taken from a bucket's `BucketInfo` reaches that bucket only.
//! Once the bucket is deleted and its name created again (here by another owner), every
//! operation through the old reference fails with `NoSuchBucket` and changes nothing in the new
//! bucket, while the name alone reaches the new bucket.

mod common;

use std::future::Future;
use std::path::PathBuf;

use cairn_storage::{
    BucketInfo, BucketRef, CompleteOptions, CoreStore, Engine, Error, ListQuery, ObjectMeta,
    PartOptions, PutOptions, UploadQuery, WriteCondition,
};
use common::*;

const BUCKET: &str = "bkt";

/// Runs `f` on core 0 of a fresh two-core engine, with the engine's data directory.
fn with_engine<F, Fut>(f: F)
where
    F: FnOnce(CoreStore, PathBuf) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    let path = dir.path().to_path_buf();
    run(&engine, move |s| f(s, path));
}

#[track_caller]
fn assert_no_such_bucket<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(matches!(result, Err(Error::NoSuchBucket)), "{result:?}");
}

fn all_keys() -> ListQuery {
    ListQuery {
        max_keys: 1000,
        ..ListQuery::default()
    }
}

fn all_uploads() -> UploadQuery {
    UploadQuery {
        max_uploads: 1000,
        ..UploadQuery::default()
    }
}

/// An upload (key, upload id) with its parts (number, ETag).
type Upload = (String, String, Vec<(u16, String)>);

/// What the bucket named `bkt` holds now.
#[derive(Debug, PartialEq, Eq)]
struct Contents {
    id: u64,
    owner: String,
    /// Keys with their ETags.
    objects: Vec<(String, String)>,
    uploads: Vec<Upload>,
}

async fn contents(s: &CoreStore) -> Contents {
    let info = s.head_bucket(BUCKET).await.unwrap();
    let page = s.list_objects(BUCKET, &all_keys()).await.unwrap();
    let objects = page.objects.into_iter().map(|o| (o.key, o.etag)).collect();
    let mut uploads = Vec::new();
    let listed = s
        .list_multipart_uploads(BUCKET, &all_uploads())
        .await
        .unwrap();
    for u in listed.uploads {
        let parts = s
            .list_parts(BUCKET, &u.key, &u.upload_id, 0, 1000)
            .await
            .unwrap();
        let parts = parts
            .parts
            .into_iter()
            .map(|p| (p.part_number, p.etag))
            .collect();
        uploads.push((u.key, u.upload_id, parts));
    }
    Contents {
        id: info.id,
        owner: info.owner,
        objects,
        uploads,
    }
}

/// Writes part `n` of an upload and returns its ETag.
async fn part(
    s: &CoreStore,
    bucket: BucketRef<'_>,
    key: &str,
    upload: &str,
    n: u16,
    data: &[u8],
) -> String {
    let mut w = s.upload_part(bucket, key, upload, n).await.unwrap();
    w.write(data).await.unwrap();
    w.commit().await.unwrap().etag
}

/// What `recreate` left behind.
struct Recreated {
    /// The first bucket's info, taken before it was deleted.
    old: BucketInfo,
    /// An upload in progress in the new bucket, on key `up`, with part 1 (16 bytes) stored.
    upload: String,
    part_etag: String,
}

/// Creates `bkt` for alice and takes its info (as the S3 layer does when it decides access),
/// deletes it, then creates `bkt` again for bob, with an object `k` and an upload on `up`.
async fn recreate(s: &CoreStore) -> Recreated {
    s.create_bucket(BUCKET, "alice", "us-east-1").await.unwrap();
    let old = s.peek_bucket(BUCKET).unwrap();
    s.delete_bucket(BUCKET).await.unwrap();
    s.create_bucket(BUCKET, "bob", "us-east-1").await.unwrap();
    let new = s.peek_bucket(BUCKET).unwrap();
    assert_eq!(new.owner, "bob");
    assert_ne!(new.id, old.id, "a re-created bucket has another id");
    put_simple(s, BUCKET, "k", b"bob's").await;
    let upload = s
        .create_multipart_upload(BUCKET, "up", ObjectMeta::default())
        .await
        .unwrap();
    let part_etag = part(s, BUCKET.into(), "up", &upload, 1, &[1; 16]).await;
    Recreated {
        old,
        upload,
        part_etag,
    }
}

#[test]
fn references_convert_from_names_and_infos() {
    let name = String::from("bkt");
    assert!(matches!(BucketRef::from("bkt"), BucketRef::Named("bkt")));
    assert!(matches!(BucketRef::from(&name), BucketRef::Named("bkt")));
    let info = BucketInfo {
        name: name.clone(),
        id: 7,
        owner: "me".into(),
        created_ms: 1,
        region: None,
    };
    assert!(matches!(
        BucketRef::from(&info),
        BucketRef::Bound { name: "bkt", id: 7 }
    ));
    assert_eq!(BucketRef::from(&info).name(), "bkt");
    assert_eq!(BucketRef::from(&name).name(), "bkt");
}

#[test]
fn a_bound_reference_reaches_its_live_bucket() {
    with_engine(|s, _| async move {
        s.create_bucket(BUCKET, "alice", "us-east-1").await.unwrap();
        let info = s.peek_bucket(BUCKET).unwrap();
        let b = BucketRef::from(&info);
        assert_eq!(s.head_bucket(b).await.unwrap(), info);
        assert_eq!(s.peek_bucket(b).unwrap(), info);
        assert_eq!(s.list_buckets().await.unwrap(), vec![info.clone()]);
        put(&s, b, "k", b"v", PutOptions::default()).await.unwrap();
        assert_eq!(s.head_object(b, "k").await.unwrap().size, 1);
        assert_eq!(read_all(&s, b, "k").await.unwrap(), b"v");
        assert_eq!(
            s.list_objects(b, &all_keys()).await.unwrap().objects.len(),
            1
        );
        assert!(s.delete_object(b, "k").await.unwrap());

        let up = s
            .create_multipart_upload(b, "m", ObjectMeta::default())
            .await
            .unwrap();
        let e1 = part(&s, b, "m", &up, 1, &[1; 16]).await;
        let mut w = s
            .upload_part_with(b, "m", &up, 2, PartOptions::default())
            .await
            .unwrap();
        w.write(b"two").await.unwrap();
        let e2 = w.commit().await.unwrap().etag;
        assert_eq!(
            s.list_parts(b, "m", &up, 0, 10).await.unwrap().parts.len(),
            2
        );
        let uploads = s.list_multipart_uploads(b, &all_uploads()).await.unwrap();
        assert_eq!(uploads.uploads.len(), 1);
        let done = s
            .complete_multipart_upload_with(
                b,
                "m",
                &up,
                vec![(1, e1), (2, e2)],
                CompleteOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(done.parts, 2);
        let up = s
            .create_multipart_upload(b, "n", ObjectMeta::default())
            .await
            .unwrap();
        let e1 = part(&s, b, "n", &up, 1, b"one").await;
        s.complete_multipart_upload(b, "n", &up, vec![(1, e1)], WriteCondition::Always)
            .await
            .unwrap();
        let up = s
            .create_multipart_upload(b, "o", ObjectMeta::default())
            .await
            .unwrap();
        s.abort_multipart_upload(b, "o", &up).await.unwrap();

        assert!(s.delete_object(b, "m").await.unwrap());
        assert!(s.delete_object(b, "n").await.unwrap());
        s.delete_bucket(b).await.unwrap();
        assert_no_such_bucket(s.head_bucket(b).await);
        assert_no_such_bucket(s.head_bucket(BUCKET).await);
    });
}

#[test]
fn stale_reads_fail_and_names_read_the_new_bucket() {
    with_engine(|s, _| async move {
        let r = recreate(&s).await;
        let old = &r.old;
        assert_no_such_bucket(s.head_bucket(old).await);
        assert_no_such_bucket(s.peek_bucket(old));
        assert_no_such_bucket(s.head_object(old, "k").await);
        assert_no_such_bucket(s.get_object(old, "k", None).await);
        assert_no_such_bucket(s.list_objects(old, &all_keys()).await);
        assert_no_such_bucket(s.list_multipart_uploads(old, &all_uploads()).await);
        assert_no_such_bucket(s.list_parts(old, "up", &r.upload, 0, 10).await);

        // By name, the same calls read bob's bucket.
        let new = s.head_bucket(BUCKET).await.unwrap();
        assert_eq!(new.owner, "bob");
        assert_ne!(new.id, old.id);
        assert_eq!(s.peek_bucket(BUCKET).unwrap(), new);
        assert_eq!(s.head_object(BUCKET, "k").await.unwrap().size, 5);
        assert_eq!(read_all(&s, BUCKET, "k").await.unwrap(), b"bob's");
        let page = s.list_objects(BUCKET, &all_keys()).await.unwrap();
        assert_eq!(page.objects.len(), 1);
        let uploads = s
            .list_multipart_uploads(BUCKET, &all_uploads())
            .await
            .unwrap();
        assert_eq!(uploads.uploads[0].upload_id, r.upload);
        let parts = s.list_parts(BUCKET, "up", &r.upload, 0, 10).await.unwrap();
        assert_eq!(parts.parts[0].etag, r.part_etag);
    });
}

#[test]
fn stale_object_writes_fail_and_change_nothing() {
    with_engine(|s, _| async move {
        let r = recreate(&s).await;
        let old = &r.old;
        let before = contents(&s).await;
        assert_no_such_bucket(s.put_object(old, "k", PutOptions::default()).await);
        assert_no_such_bucket(s.put_object(old, "new-key", PutOptions::default()).await);
        assert_no_such_bucket(s.delete_object(old, "k").await);
        assert_no_such_bucket(s.delete_object(old, "absent").await);
        assert_eq!(contents(&s).await, before);

        // By name, both act on the new bucket.
        put_simple(&s, BUCKET, "new-key", b"by name").await;
        assert!(s.delete_object(BUCKET, "k").await.unwrap());
        let after = contents(&s).await;
        assert_eq!(
            after.objects,
            vec![("new-key".to_owned(), md5_hex(b"by name"))]
        );
    });
}

#[test]
fn a_write_begun_through_a_bound_reference_fails_once_its_bucket_is_replaced() {
    // The writers are opened while the first bucket lives; it is deleted and created again
    // while their bodies stream in (a bucket is empty until a write commits). The key's owner
    // core checks the bound id at commit.
    with_engine(|s, dir| async move {
        s.create_bucket(BUCKET, "alice", "us-east-1").await.unwrap();
        let old = s.peek_bucket(BUCKET).unwrap();
        let mut small = s
            .put_object(&old, "k", PutOptions::default())
            .await
            .unwrap();
        small.write(b"inline").await.unwrap();
        let mut big = s
            .put_object(&old, "big", PutOptions::default())
            .await
            .unwrap();
        big.write(&vec![7u8; 100_000]).await.unwrap();
        s.delete_bucket(BUCKET).await.unwrap();
        s.create_bucket(BUCKET, "bob", "us-east-1").await.unwrap();
        let before = contents(&s).await;
        assert_no_such_bucket(small.commit().await);
        assert_no_such_bucket(big.commit().await);
        assert_eq!(contents(&s).await, before);
        assert!(before.objects.is_empty());
        assert!(blob_files(&dir).is_empty(), "the refused blob is removed");
    });
}

#[test]
fn stale_multipart_operations_fail_and_change_nothing() {
    with_engine(|s, _| async move {
        let r = recreate(&s).await;
        let old = &r.old;
        let parts = || vec![(1, r.part_etag.clone())];
        let before = contents(&s).await;
        assert_no_such_bucket(
            s.create_multipart_upload(old, "up2", ObjectMeta::default())
                .await,
        );
        assert_no_such_bucket(s.upload_part(old, "up", &r.upload, 2).await);
        assert_no_such_bucket(
            s.upload_part_with(old, "up", &r.upload, 1, PartOptions::default())
                .await,
        );
        assert_no_such_bucket(
            s.complete_multipart_upload(old, "up", &r.upload, parts(), WriteCondition::Always)
                .await,
        );
        assert_no_such_bucket(
            s.complete_multipart_upload_with(
                old,
                "up",
                &r.upload,
                parts(),
                CompleteOptions::default(),
            )
            .await,
        );
        assert_no_such_bucket(s.abort_multipart_upload(old, "up", &r.upload).await);
        assert_eq!(contents(&s).await, before);

        // By name, each reaches the new bucket.
        let named = BucketRef::from(BUCKET);
        let e2 = part(&s, named, "up", &r.upload, 2, b"tail").await;
        let done = s
            .complete_multipart_upload(
                BUCKET,
                "up",
                &r.upload,
                vec![(1, r.part_etag.clone()), (2, e2)],
                WriteCondition::Always,
            )
            .await
            .unwrap();
        assert_eq!(done.size, 20);
        let up2 = s
            .create_multipart_upload(BUCKET, "up2", ObjectMeta::default())
            .await
            .unwrap();
        s.abort_multipart_upload(BUCKET, "up2", &up2).await.unwrap();
        let up3 = s
            .create_multipart_upload(BUCKET, "up3", ObjectMeta::default())
            .await
            .unwrap();
        let mut w = s
            .upload_part_with(BUCKET, "up3", &up3, 1, PartOptions::default())
            .await
            .unwrap();
        w.write(b"three").await.unwrap();
        let e = w.commit().await.unwrap().etag;
        s.complete_multipart_upload_with(
            BUCKET,
            "up3",
            &up3,
            vec![(1, e)],
            CompleteOptions::default(),
        )
        .await
        .unwrap();
        let after = contents(&s).await;
        assert!(after.uploads.is_empty());
        let keys: Vec<&str> = after.objects.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["k", "up", "up3"]);
    });
}

#[test]
fn a_stale_delete_never_deletes_the_new_bucket() {
    with_engine(|s, _| async move {
        s.create_bucket(BUCKET, "alice", "us-east-1").await.unwrap();
        let old = s.peek_bucket(BUCKET).unwrap();
        s.delete_bucket(BUCKET).await.unwrap();
        // Gone, and no bucket has the name.
        assert_no_such_bucket(s.delete_bucket(&old).await);
        s.create_bucket(BUCKET, "bob", "us-east-1").await.unwrap();
        // The new bucket is empty: only the binding keeps it from being deleted.
        let before = contents(&s).await;
        assert!(before.objects.is_empty() && before.uploads.is_empty());
        assert_no_such_bucket(s.delete_bucket(&old).await);
        assert_eq!(contents(&s).await, before);
        // Nor is it left half-deleted: writes still go in.
        put_simple(&s, BUCKET, "k", b"v").await;
        assert!(s.delete_object(BUCKET, "k").await.unwrap());

        // By name, the delete removes the new bucket.
        s.delete_bucket(BUCKET).await.unwrap();
        assert_no_such_bucket(s.head_bucket(BUCKET).await);
    });
}
