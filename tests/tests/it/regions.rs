//! Configured regions: a request signed for any of them authenticates and one signed for
//! another is refused naming an accepted one; CreateBucket's LocationConstraint places a
//! bucket in any of them (none: the first), and a bucket keeps its region across a restart
//! with another list.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_sdk_s3::Client;
use cairn_tests::{
    roundtrip, temp_dir, unix_now, DaemonOptions, RawResponse, ACCESS_KEY_ID, SECRET_ACCESS_KEY,
};

use crate::sdk::{describe, s3_error, Checksums, Transport, S3};

const BKK: &str = "ap-southeast-1-bkk";
const SG: &str = "ap-southeast-1-sg";

/// A daemon serving `regions` (comma-separated), on `data_dir` if given.
fn start(regions: &str, data_dir: Option<PathBuf>) -> S3 {
    let options = DaemonOptions {
        data_dir,
        ..DaemonOptions::default()
    }
    .arg("--region")
    .arg(regions);
    S3::start_with(Transport::Http, Checksums::Default, options)
}

/// A raw ListBuckets signed with the test key for `region`.
fn list_buckets_signed_for(addr: SocketAddr, region: &str) -> RawResponse {
    use cairn_sigv4::sign::{sign_v4_header, Credentials, SignPayload};
    let host = addr.to_string();
    let headers = [("host", host.as_str())];
    let parts = cairn_sigv4::RequestParts {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
    };
    let signed = sign_v4_header(
        &parts,
        &Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY),
        region,
        unix_now(),
        SignPayload::Bytes(b""),
    );
    let mut request = format!("GET / HTTP/1.1\r\nhost: {host}\r\n");
    for (name, value) in &signed.headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    roundtrip(addr, request.as_bytes())
}

/// CreateBucket with a LocationConstraint; an error as "status code: message".
async fn create_in(c: &Client, bucket: &str, constraint: &str) -> Result<(), String> {
    c.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(constraint))
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// GetBucketLocation's answer, `""` for us-east-1 (the empty element).
async fn location(c: &Client, bucket: &str) -> String {
    let out = c
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("location of {bucket}: {}", describe(&e)));
    out.location_constraint()
        .map_or(String::new(), |l| l.as_str().to_owned())
}

/// HeadBucket's `x-amz-bucket-region`.
async fn head_region(c: &Client, bucket: &str) -> String {
    let out = c.head_bucket().bucket(bucket).send().await.unwrap();
    out.bucket_region().expect("x-amz-bucket-region").to_owned()
}

#[test]
fn requests_signed_for_any_configured_region_authenticate() {
    let s3 = start(&format!("{BKK},{SG}"), None);
    let addr = s3.daemon.addr;
    for region in [SG, BKK] {
        let r = list_buckets_signed_for(addr, region);
        assert_eq!(r.status, 200, "{region}: {}", r.body_text());
    }
    for region in ["eu-west-1", "us-east-1", "ap-southeast-1"] {
        let r = list_buckets_signed_for(addr, region);
        let body = r.body_text();
        assert_eq!(r.status, 400, "{region}: {body}");
        assert!(
            body.contains("<Code>AuthorizationHeaderMalformed</Code>"),
            "{body}"
        );
        // As AWS does, the message names the wrong region and one that is accepted (the
        // apostrophes escaped in XML).
        let message =
            format!("the region &apos;{region}&apos; is wrong; expecting &apos;{BKK}&apos;");
        assert!(body.contains(&message), "{body}");
        assert!(body.contains(&format!("<Region>{BKK}</Region>")), "{body}");
    }
}

#[tokio::test]
async fn buckets_are_created_in_the_region_their_constraint_names() {
    let s3 = start(&format!("{BKK},{SG}"), None);
    let c = s3.client_in(SG);
    create_in(&c, "in-sg", SG).await.unwrap();
    assert_eq!(location(&c, "in-sg").await, SG);
    assert_eq!(head_region(&c, "in-sg").await, SG);
    create_in(&c, "in-bkk", BKK).await.unwrap();
    assert_eq!(location(&c, "in-bkk").await, BKK);
    // No constraint: the first configured region.
    c.create_bucket().bucket("plain").send().await.unwrap();
    assert_eq!(location(&c, "plain").await, BKK);
    assert_eq!(head_region(&c, "plain").await, BKK);

    let listed = c.list_buckets().send().await.unwrap();
    let regions: Vec<(&str, &str)> = listed
        .buckets()
        .iter()
        .map(|b| (b.name().unwrap_or(""), b.bucket_region().unwrap_or("")))
        .collect();
    assert_eq!(regions, [("in-bkk", BKK), ("in-sg", SG), ("plain", BKK)]);

    // A region that is not configured, us-east-1 included, is refused with AWS's message.
    for other in ["eu-west-1", "us-east-1"] {
        assert_eq!(
            create_in(&c, "elsewhere", other).await.unwrap_err(),
            "400 InvalidLocationConstraint: The specified location-constraint is not valid."
        );
    }
    let (status, _) = s3_error(c.head_bucket().bucket("elsewhere").send().await);
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_bucket_keeps_its_region_across_a_restart_with_another_list() {
    let dir = temp_dir();
    let data_dir = dir.path().join("data");
    let mut s3 = start(&format!("{BKK},{SG}"), Some(data_dir.clone()));
    let c = s3.client_in(BKK);
    c.create_bucket().bucket("kept").send().await.unwrap();
    create_in(&c, "kept-sg", SG).await.unwrap();
    s3.daemon.signal(libc::SIGTERM);
    assert!(s3.daemon.wait_exit(Duration::from_secs(30)).success());

    // Now us-east-1 is the default and ap-southeast-1-bkk is no longer served.
    let s3 = start(&format!("us-east-1,{SG}"), Some(data_dir));
    let c = &s3.client;
    assert_eq!(location(c, "kept").await, BKK);
    assert_eq!(head_region(c, "kept").await, BKK);
    assert_eq!(location(c, "kept-sg").await, SG);
    c.create_bucket().bucket("new").send().await.unwrap();
    assert_eq!(
        location(c, "new").await,
        "",
        "us-east-1 is the empty constraint"
    );
    assert_eq!(head_region(c, "new").await, "us-east-1");
    let err = create_in(c, "again", BKK).await.unwrap_err();
    assert!(err.contains("InvalidLocationConstraint"), "{err}");
}
