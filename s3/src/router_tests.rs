//! The router as tables of request → endpoint.

use super::*;
use crate::endpoint::CopySource;

fn routed(
    method: Method,
    target: &'static str,
    host: &'static str,
    copy_source: Option<&'static str>,
    config: &RouterConfig,
) -> Result<Routed<'static>, RouteError> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = Query::parse(query).map_err(|_| RouteError::InvalidUri)?;
    let input = RouteInput {
        method,
        path,
        query: &query,
        host: Some(host),
        copy_source,
    };
    route(&input, config)
}

type Expected = Result<Endpoint<'static>, RouteError>;

fn bucket(name: &'static str, op: BucketOp) -> Expected {
    Ok(Endpoint::Bucket {
        bucket: name.into(),
        op,
    })
}

fn object(key: &'static str, op: ObjectOp<'static>) -> Expected {
    Ok(Endpoint::Object {
        bucket: "bkt".into(),
        key: key.into(),
        op,
    })
}

fn id(s: &'static str) -> Cow<'static, str> {
    s.into()
}

#[test]
fn path_style_table() {
    use BucketOp as B;
    use Method::*;
    use ObjectOp as O;
    let not_impl = |what| Err(RouteError::NotImplemented(what));
    let bad_part = Err(RouteError::InvalidArgument(PART_NUMBER_MESSAGE));
    let table: Vec<(Method, &'static str, Expected)> = vec![
        (Get, "/", Ok(Endpoint::Service(ServiceOp::ListBuckets))),
        (Put, "/", Err(RouteError::MethodNotAllowed)),
        (
            Put,
            "/bkt",
            Ok(Endpoint::Service(ServiceOp::CreateBucket {
                bucket: id("bkt"),
            })),
        ),
        (
            Put,
            "/bkt/",
            Ok(Endpoint::Service(ServiceOp::CreateBucket {
                bucket: id("bkt"),
            })),
        ),
        (Delete, "/bkt", bucket("bkt", B::DeleteBucket)),
        (Head, "/bkt", bucket("bkt", B::HeadBucket)),
        (Get, "/bkt?location", bucket("bkt", B::GetBucketLocation)),
        (
            Get,
            "/bkt?versioning",
            bucket("bkt", B::GetBucketVersioning),
        ),
        (
            Get,
            "/bkt?versions&prefix=a",
            bucket("bkt", B::ListObjectVersions),
        ),
        (
            Get,
            "/bkt?object-lock",
            bucket("bkt", B::GetObjectLockConfiguration),
        ),
        (Get, "/bkt?acl", bucket("bkt", B::GetBucketAcl)),
        (Put, "/bkt?acl", bucket("bkt", B::PutBucketAcl)),
        (
            Get,
            "/bkt?uploads&prefix=x",
            bucket("bkt", B::ListMultipartUploads),
        ),
        (
            Get,
            "/bkt?list-type=2&encoding-type=url",
            bucket("bkt", B::ListObjectsV2),
        ),
        (
            Get,
            "/bkt?prefix=a&delimiter=%2F&marker=m",
            bucket("bkt", B::ListObjects),
        ),
        (Get, "/bkt?x-id=ListObjects", bucket("bkt", B::ListObjects)),
        (Post, "/bkt?delete", bucket("bkt", B::DeleteObjects)),
        (Post, "/bkt", not_impl("POST object")),
        (Get, "/bkt?policy", not_impl("policy")),
        (Get, "/bkt?lifecycle", not_impl("lifecycle")),
        (Put, "/bkt?versioning", not_impl("versioning")),
        (Put, "/bkt?object-lock", not_impl("object-lock")),
        (Options, "/bkt", Err(RouteError::MethodNotAllowed)),
        (Put, "/bkt/k?acl", object("k", O::PutObjectAcl)),
        (Put, "/bkt/a/b.txt", object("a/b.txt", O::PutObject)),
        (Put, "/bkt/a%20b%2Bc+d", object("a b+c+d", O::PutObject)),
        (
            Get,
            "/bkt/%E2%82%AC",
            object("€", O::GetObject { part_number: None }),
        ),
        (
            Get,
            "/bkt/k?x-id=GetObject&response-content-type=text%2Fplain",
            object("k", O::GetObject { part_number: None }),
        ),
        (
            Get,
            "/bkt/k?partNumber=2",
            object(
                "k",
                O::GetObject {
                    part_number: Some(2),
                },
            ),
        ),
        (Get, "/bkt/k?partNumber=0", bad_part.clone()),
        (Get, "/bkt/k?partNumber=10001", bad_part.clone()),
        (Head, "/bkt/k?partNumber=x", bad_part.clone()),
        (
            Head,
            "/bkt/k?versionId=null",
            object("k", O::HeadObject { part_number: None }),
        ),
        (Delete, "/bkt/k", object("k", O::DeleteObject)),
        (Get, "/bkt/k?acl", object("k", O::GetObjectAcl)),
        (Get, "/bkt/k?tagging", not_impl("tagging")),
        (
            Post,
            "/bkt/k?uploads",
            object("k", O::CreateMultipartUpload),
        ),
        (
            Put,
            "/bkt/k?partNumber=3&uploadId=abc",
            object(
                "k",
                O::UploadPart {
                    upload_id: id("abc"),
                    part_number: 3,
                },
            ),
        ),
        (
            Put,
            "/bkt/k?partNumber=10000&upload%49d=abc",
            object(
                "k",
                O::UploadPart {
                    upload_id: id("abc"),
                    part_number: 10_000,
                },
            ),
        ),
        (Put, "/bkt/k?partNumber=0&uploadId=abc", bad_part.clone()),
        (
            Put,
            "/bkt/k?partNumber=10001&uploadId=abc",
            bad_part.clone(),
        ),
        (Put, "/bkt/k?uploadId=abc", bad_part.clone()),
        (
            Post,
            "/bkt/k?uploadId=abc",
            object(
                "k",
                O::CompleteMultipartUpload {
                    upload_id: id("abc"),
                },
            ),
        ),
        (
            Delete,
            "/bkt/k?uploadId=abc",
            object(
                "k",
                O::AbortMultipartUpload {
                    upload_id: id("abc"),
                },
            ),
        ),
        (
            Get,
            "/bkt/k?uploadId=abc&max-parts=2",
            object(
                "k",
                O::ListParts {
                    upload_id: id("abc"),
                },
            ),
        ),
        (Post, "/bkt/k", not_impl("POST object")),
        (Get, "/bkt/bad%zz", Err(RouteError::InvalidUri)),
        (Get, "/bkt/bad%ff", Err(RouteError::InvalidUri)),
        (Get, "/bkt/k?a=%", Err(RouteError::InvalidUri)),
    ];
    let config = RouterConfig::default();
    for (method, target, expected) in table {
        let got = routed(method, target, "127.0.0.1:9000", None, &config).map(|r| r.endpoint);
        assert_eq!(got, expected, "{method:?} {target}");
    }
}

#[test]
fn copy_source_selects_copy_operations() {
    let config = RouterConfig::default();
    let copy = |target, source| {
        routed(Method::Put, target, "localhost:9000", Some(source), &config).map(|r| r.endpoint)
    };
    let source = CopySource {
        bucket: id("src"),
        key: Cow::Owned("a b/c".into()),
    };
    assert_eq!(
        copy("/bkt/k", "/src/a%20b/c"),
        Ok(Endpoint::Copy {
            bucket: id("bkt"),
            key: id("k"),
            source: source.clone(),
            op: CopyOp::CopyObject
        })
    );
    assert_eq!(
        copy(
            "/bkt/k?partNumber=1&uploadId=u",
            "src/a%20b/c?versionId=null"
        ),
        Ok(Endpoint::Copy {
            bucket: id("bkt"),
            key: id("k"),
            source,
            op: CopyOp::UploadPartCopy {
                upload_id: id("u"),
                part_number: 1
            }
        })
    );
    assert!(matches!(
        copy("/bkt/k", "bucketonly"),
        Err(RouteError::InvalidArgument(_))
    ));
    assert!(matches!(
        copy("/bkt/k", "src/k?versionId=abc"),
        Err(RouteError::InvalidArgument(_))
    ));
    assert!(matches!(
        copy("/bkt/k?partNumber=0&uploadId=u", "src/k"),
        Err(RouteError::InvalidArgument(_))
    ));
    // An ACL request ignores the header; a copy header on other methods too.
    assert_eq!(
        copy("/bkt/k?acl", "src/k"),
        object("k", ObjectOp::PutObjectAcl)
    );
    assert_eq!(
        routed(Method::Get, "/bkt/k", "localhost", Some("src/k"), &config).map(|r| r.endpoint),
        object("k", ObjectOp::GetObject { part_number: None })
    );
}

#[test]
fn virtual_hosted_style() {
    let config = RouterConfig::new(["s3.example.com"]);
    let cases: Vec<(&'static str, &'static str, Expected, bool)> = vec![
        (
            "bkt.s3.example.com",
            "/k/x",
            object("k/x", ObjectOp::GetObject { part_number: None }),
            true,
        ),
        (
            "my.dotted.bkt.s3.example.com:9000",
            "/k",
            Ok(Endpoint::Object {
                bucket: id("my.dotted.bkt"),
                key: id("k"),
                op: ObjectOp::GetObject { part_number: None },
            }),
            true,
        ),
        (
            "BKT.S3.Example.COM",
            "/",
            bucket("bkt", BucketOp::ListObjects),
            true,
        ),
        (
            "s3.example.com",
            "/bkt/k",
            object("k", ObjectOp::GetObject { part_number: None }),
            false,
        ),
        (
            "s3.example.com",
            "/",
            Ok(Endpoint::Service(ServiceOp::ListBuckets)),
            false,
        ),
        (
            "127.0.0.1:9000",
            "/bkt/k",
            object("k", ObjectOp::GetObject { part_number: None }),
            false,
        ),
        (
            "[::1]:9000",
            "/bkt",
            bucket("bkt", BucketOp::ListObjects),
            false,
        ),
        (
            "evil.example.net",
            "/bkt/k",
            Err(RouteError::UnknownHost),
            false,
        ),
        (
            "xs3.example.com",
            "/bkt/k",
            Err(RouteError::UnknownHost),
            false,
        ),
    ];
    for (host, target, expected, virtual_hosted) in cases {
        let got = routed(Method::Get, target, host, None, &config);
        assert_eq!(got.clone().map(|r| r.endpoint), expected, "{host} {target}");
        if let Ok(r) = got {
            assert_eq!(r.virtual_hosted, virtual_hosted, "{host} {target}");
            assert_eq!(
                r.virtual_host_bucket().is_some(),
                virtual_hosted,
                "{host} {target}"
            );
        }
    }
    // CreateBucket names its bucket in the Host too (SigV2 signs it).
    let created = routed(Method::Put, "/", "new.s3.example.com", None, &config).unwrap();
    assert_eq!(
        created.endpoint,
        Endpoint::Service(ServiceOp::CreateBucket { bucket: id("new") })
    );
    assert_eq!(created.virtual_host_bucket(), Some("new"));
    // Without configured domains every host is path style.
    let open = RouterConfig::default();
    assert_eq!(
        routed(Method::Get, "/bkt/k", "anything.example.net", None, &open).map(|r| r.endpoint),
        object("k", ObjectOp::GetObject { part_number: None })
    );
}

#[test]
fn nested_domains_match_the_longest() {
    // Listed shortest first on purpose: the order of the configuration must not matter.
    let config = RouterConfig::new(["Example.COM.", "s3.example.com"]);
    let get = |host| routed(Method::Get, "/bkt/k", host, None, &config).map(|r| r.endpoint);
    assert_eq!(
        get("s3.example.com:9000"),
        object("k", ObjectOp::GetObject { part_number: None })
    );
    assert_eq!(
        get("example.com"),
        object("k", ObjectOp::GetObject { part_number: None })
    );
    assert_eq!(
        get("bkt.s3.example.com"),
        object("bkt/k", ObjectOp::GetObject { part_number: None })
    );
    assert_eq!(
        get("other.example.com"),
        Ok(Endpoint::Object {
            bucket: id("other"),
            key: id("bkt/k"),
            op: ObjectOp::GetObject { part_number: None },
        })
    );
}
