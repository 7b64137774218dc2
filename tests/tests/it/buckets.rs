//! Buckets through aws-sdk-s3: create (with a location constraint), list, head, delete, the
//! probes tools send (location, versioning, ACLs, object lock, versions), and ownership.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Permission,
};

use crate::sdk::{s3_error, S3};

#[tokio::test]
async fn create_list_head_and_delete_buckets() {
    let s3 = S3::start();
    let c = &s3.client;
    assert!(c.list_buckets().send().await.unwrap().buckets().is_empty());
    for name in ["alpha", "beta.with.dots", "gamma-1"] {
        s3.bucket(name).await;
    }
    let listed = c.list_buckets().send().await.unwrap();
    let names: Vec<_> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["alpha", "beta.with.dots", "gamma-1"]);
    assert!(listed.buckets().iter().all(|b| b.creation_date().is_some()));
    assert!(listed.owner().and_then(|o| o.id()).is_some());

    c.head_bucket().bucket("alpha").send().await.unwrap();
    let (status, _) = s3_error(c.head_bucket().bucket("missing").send().await);
    assert_eq!(status, 404);

    // A repeat create by the owner.
    let (status, code) = s3_error(c.create_bucket().bucket("alpha").send().await);
    assert_eq!((status, code.as_str()), (409, "BucketAlreadyOwnedByYou"));

    // Names S3 refuses.
    for bad in [
        "ab",
        "Upper",
        "under_score",
        "192.168.1.1",
        "xn--punycode",
        "ends-s3alias",
        "-leading",
        "double..dot",
    ] {
        let (status, code) = s3_error(c.create_bucket().bucket(bad).send().await);
        assert_eq!((status, code.as_str()), (400, "InvalidBucketName"), "{bad}");
    }

    // Only empty buckets can be deleted.
    s3.put("alpha", "k", b"v").await;
    let (status, code) = s3_error(c.delete_bucket().bucket("alpha").send().await);
    assert_eq!((status, code.as_str()), (409, "BucketNotEmpty"));
    c.delete_object()
        .bucket("alpha")
        .key("k")
        .send()
        .await
        .unwrap();
    // An upload in progress also keeps a bucket.
    let upload = c
        .create_multipart_upload()
        .bucket("alpha")
        .key("mp")
        .send()
        .await
        .unwrap();
    let (status, code) = s3_error(c.delete_bucket().bucket("alpha").send().await);
    assert_eq!((status, code.as_str()), (409, "BucketNotEmpty"));
    c.abort_multipart_upload()
        .bucket("alpha")
        .key("mp")
        .upload_id(upload.upload_id().unwrap())
        .send()
        .await
        .unwrap();
    c.delete_bucket().bucket("alpha").send().await.unwrap();
    let (status, code) = s3_error(c.delete_bucket().bucket("alpha").send().await);
    assert_eq!((status, code.as_str()), (404, "NoSuchBucket"));
    let names: Vec<String> = c
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, ["beta.with.dots", "gamma-1"]);
}

#[tokio::test]
async fn location_constraint_is_checked_against_the_region() {
    let s3 = S3::start();
    let c = &s3.client;
    // us-east-1 is the default region: S3 accepts no constraint for it.
    c.create_bucket().bucket("plain").send().await.unwrap();
    let location = c
        .get_bucket_location()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    // us-east-1 answers an empty LocationConstraint, as S3 does.
    assert!(location
        .location_constraint()
        .is_none_or(|l| l.as_str().is_empty()));
    let (status, code) = s3_error(
        c.create_bucket()
            .bucket("elsewhere")
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::EuWest1)
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "InvalidLocationConstraint"));
    let (status, _) = s3_error(c.head_bucket().bucket("elsewhere").send().await);
    assert_eq!(status, 404);
}

#[tokio::test]
async fn probes_that_tools_send_succeed() {
    let s3 = S3::start();
    let bucket = s3.bucket("probes").await;
    let c = &s3.client;
    s3.put(&bucket, "a", b"one").await;
    s3.put(&bucket, "b/c", b"two").await;

    let versioning = c
        .get_bucket_versioning()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(versioning
        .status()
        .is_none_or(|s| *s != BucketVersioningStatus::Enabled));

    let acl = c.get_bucket_acl().bucket(&bucket).send().await.unwrap();
    let owner = acl.owner().and_then(|o| o.id()).expect("owner").to_owned();
    assert!(acl
        .grants()
        .iter()
        .any(|g| g.permission() == Some(&Permission::FullControl)
            && g.grantee().and_then(|g| g.id()) == Some(owner.as_str())));
    let object_acl = c
        .get_object_acl()
        .bucket(&bucket)
        .key("a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        object_acl.owner().and_then(|o| o.id()),
        Some(owner.as_str())
    );
    let (status, _) = s3_error(
        c.get_object_acl()
            .bucket(&bucket)
            .key("missing")
            .send()
            .await,
    );
    assert_eq!(status, 404);

    // Setting the ACL Cairn reports is accepted (s3cmd does after copies); sharing is refused.
    use aws_sdk_s3::types::{
        AccessControlPolicy, BucketCannedAcl, Grant, Grantee, ObjectCannedAcl, Owner, Type,
    };
    c.put_bucket_acl()
        .bucket(&bucket)
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    let own_grant = |id: &str| {
        Grant::builder()
            .grantee(
                Grantee::builder()
                    .r#type(Type::CanonicalUser)
                    .id(id)
                    .build()
                    .unwrap(),
            )
            .permission(Permission::FullControl)
            .build()
    };
    c.put_object_acl()
        .bucket(&bucket)
        .key("a")
        .access_control_policy(
            AccessControlPolicy::builder()
                .owner(Owner::builder().id(&owner).build())
                .grants(own_grant(&owner))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (status, code) = s3_error(
        c.put_object_acl()
            .bucket(&bucket)
            .key("a")
            .acl(ObjectCannedAcl::PublicRead)
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (501, "NotImplemented"));
    let (status, code) = s3_error(
        c.put_object_acl()
            .bucket(&bucket)
            .key("a")
            .access_control_policy(
                AccessControlPolicy::builder()
                    .owner(Owner::builder().id(&owner).build())
                    .grants(own_grant(&owner))
                    .grants(own_grant("someone-else"))
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (501, "NotImplemented"));
    let (status, _) = s3_error(
        c.put_object_acl()
            .bucket(&bucket)
            .key("missing")
            .acl(ObjectCannedAcl::Private)
            .send()
            .await,
    );
    assert_eq!(status, 404);

    let (status, code) = s3_error(
        c.get_object_lock_configuration()
            .bucket(&bucket)
            .send()
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (404, "ObjectLockConfigurationNotFoundError")
    );

    // Each object is its single `null` version (s3-benchmark's setup relies on this).
    let versions = c
        .list_object_versions()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let listed: Vec<_> = versions
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap().to_owned(),
                v.version_id().map(str::to_owned),
                v.is_latest(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("a".to_owned(), Some("null".to_owned()), Some(true)),
            ("b/c".to_owned(), Some("null".to_owned()), Some(true)),
        ]
    );
    let with_delimiter = c
        .list_object_versions()
        .bucket(&bucket)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(with_delimiter.versions().len(), 1);
    assert_eq!(
        with_delimiter
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .collect::<Vec<_>>(),
        ["b/"]
    );

    // DeleteObjects with the null version id, as s3-benchmark sends it.
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let deleted = c
        .delete_objects()
        .bucket(&bucket)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("a")
                        .version_id("null")
                        .build()
                        .unwrap(),
                )
                .quiet(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(deleted.errors().is_empty());
    assert!(
        deleted.deleted().is_empty(),
        "Quiet mode lists no successes"
    );
}

#[tokio::test]
async fn users_see_and_change_only_their_own_buckets() {
    let s3 = S3::start_with_two_users();
    let other = s3.other_user();
    s3.bucket("mine").await;
    s3.put("mine", "secret", b"data").await;
    other.create_bucket().bucket("theirs").send().await.unwrap();

    let theirs: Vec<String> = other
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(theirs, ["theirs"]);
    let (status, code) = s3_error(other.create_bucket().bucket("mine").send().await);
    assert_eq!((status, code.as_str()), (409, "BucketAlreadyExists"));
    let (status, code) = s3_error(other.get_object().bucket("mine").key("secret").send().await);
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    let (status, code) = s3_error(
        other
            .put_object()
            .bucket("mine")
            .key("intruder")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    let (status, _) = s3_error(other.delete_bucket().bucket("mine").send().await);
    assert_eq!(status, 403);
    let (status, _) = s3_error(other.list_objects_v2().bucket("mine").send().await);
    assert_eq!(status, 403);
    assert_eq!(s3.get("mine", "secret").await, b"data");
    let (status, _) = s3_error(
        s3.client
            .head_object()
            .bucket("mine")
            .key("intruder")
            .send()
            .await,
    );
    assert_eq!(status, 404);
}
