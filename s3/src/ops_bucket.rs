//! Service and bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
//! GetBucketLocation, GetBucketVersioning and the ACLs (read, and set to the owner's only).

use cairn_http::server::Response;
use cairn_storage::BucketInfo;

use crate::authorize::lists;
use crate::body::{read_all, MAX_XML_BODY};
use crate::error::{S3Error, S3ErrorCode};
use crate::headers::iso8601_ms;
use crate::region::{location_constraint_document, Regions};
use crate::xml::{empty_document, parse_root, XmlLimits, XmlWriter};
use crate::{xml_response, Call, S3Service};

/// A CreateBucketConfiguration: a handful of settings, none repeated much.
const CREATE_BUCKET_LIMITS: XmlLimits = XmlLimits::items(8, 8);

/// An AccessControlPolicy: an owner and a list of up to 100 grants (AWS's limit) of a few
/// elements each.
const ACL_LIMITS: XmlLimits = XmlLimits::items(4, 100 * 8);

/// GetBucketVersioning: Cairn's buckets are unversioned.
pub(crate) fn get_bucket_versioning() -> Response {
    xml_response(empty_document("VersioningConfiguration"))
}

impl S3Service {
    /// ListBuckets: the buckets the identity may read.
    pub(crate) async fn list_buckets(&self, c: &mut Call<'_, '_>) -> Result<Response, S3Error> {
        let buckets = self.store.list_buckets().await?;
        let regions = Regions::new(self.auth.regions());
        let mut w = XmlWriter::new("ListAllMyBucketsResult");
        S3Service::write_owner(&mut w, "Owner", &c.identity);
        w.open("Buckets");
        for b in buckets.iter().filter(|b| lists(&c.identity, b)) {
            w.open("Bucket")
                .elem("Name", &b.name)
                .elem("CreationDate", &iso8601_ms(b.created_ms))
                .elem("BucketRegion", regions.of(b))
                .close("Bucket");
        }
        w.close("Buckets");
        Ok(xml_response(w.finish("ListAllMyBucketsResult")))
    }

    /// CreateBucket, in the region its `LocationConstraint` names (the default without one).
    pub(crate) async fn create_bucket(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
    ) -> Result<Response, S3Error> {
        let payload = c.payload()?;
        let (body, _) = read_all(c.body, payload, MAX_XML_BODY).await?;
        let regions = Regions::new(self.auth.regions());
        let region = if body.iter().all(u8::is_ascii_whitespace) {
            regions.default_region()
        } else {
            let config = parse_root(&body, "CreateBucketConfiguration", CREATE_BUCKET_LIMITS)?;
            regions.place(config.child_text("LocationConstraint").unwrap_or("").trim())?
        };
        self.store
            .create_bucket(bucket, c.identity.user_id, region)
            .await?;
        Ok(Response::new(200).header("Location", format!("/{bucket}")))
    }

    pub(crate) async fn delete_bucket(&self, bucket: &BucketInfo) -> Result<Response, S3Error> {
        self.store.delete_bucket(bucket).await?;
        Ok(Response::new(204))
    }

    /// HeadBucket: the bucket's region in `x-amz-bucket-region`.
    pub(crate) fn head_bucket(&self, bucket: &BucketInfo) -> Response {
        let region = Regions::new(self.auth.regions()).of(bucket);
        Response::new(200)
            .header("x-amz-bucket-region", region.to_owned())
            .head_of(0)
    }

    /// GetBucketLocation: the region the bucket was created in.
    pub(crate) fn get_bucket_location(&self, bucket: &BucketInfo) -> Response {
        let region = Regions::new(self.auth.regions()).of(bucket);
        xml_response(location_constraint_document(region))
    }

    /// GetBucketAcl and GetObjectAcl: the owner with FULL_CONTROL (Cairn has no ACLs).
    pub(crate) async fn get_acl(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        key: Option<&str>,
    ) -> Result<Response, S3Error> {
        if let Some(key) = key {
            S3Service::check_version_id(c)?;
            self.store.head_object(bucket, key).await?;
        }
        let mut w = XmlWriter::new("AccessControlPolicy");
        S3Service::write_owner(&mut w, "Owner", &c.identity);
        w.open("AccessControlList")
            .open("Grant")
            .raw("<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">")
            .elem("ID", c.identity.user_id)
            .elem("DisplayName", c.identity.display_name)
            .close("Grantee")
            .elem("Permission", "FULL_CONTROL")
            .close("Grant")
            .close("AccessControlList");
        Ok(xml_response(w.finish("AccessControlPolicy")))
    }

    /// PutBucketAcl and PutObjectAcl: Cairn keeps no ACLs, so it accepts exactly the one it
    /// reports — the owner with FULL_CONTROL (`x-amz-acl: private`, or that grant in the
    /// header or body, as s3cmd sends after a copy) — and answers anything that would share
    /// access with `NotImplemented`, rather than pretend to store it.
    pub(crate) async fn put_acl(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        key: Option<&str>,
    ) -> Result<Response, S3Error> {
        let payload = c.payload()?;
        let (body, _) = read_all(c.body, payload, MAX_XML_BODY).await?;
        if let Some(key) = key {
            S3Service::check_version_id(c)?;
            self.store.head_object(bucket, key).await?;
        }
        let owner_only = acl_is_owner_only(c, &body)?;
        if !owner_only {
            return Err(S3Error::code(S3ErrorCode::NotImplemented).with_message(
                "Cairn supports only the owner's FULL_CONTROL ACL (canned ACL private); \
                 access is shared through keys, not ACLs.",
            ));
        }
        Ok(Response::new(200))
    }
}

/// Whether a PutAcl request asks for nothing but the owner's FULL_CONTROL.
fn acl_is_owner_only(c: &Call<'_, '_>, body: &[u8]) -> Result<bool, S3Error> {
    let owner = c.identity.user_id;
    if let Some(canned) = c.header("x-amz-acl") {
        return Ok(canned.eq_ignore_ascii_case("private") && body.is_empty());
    }
    let grants: Vec<(&str, &str)> = c
        .head
        .headers()
        .filter(|(name, _)| name.len() > 12 && name[..12].eq_ignore_ascii_case("x-amz-grant-"))
        .map(|(name, value)| (name, std::str::from_utf8(value).unwrap_or("")))
        .collect();
    if !grants.is_empty() {
        let own = format!("id=\"{owner}\"");
        return Ok(body.is_empty()
            && grants.iter().all(|(name, value)| {
                name.eq_ignore_ascii_case("x-amz-grant-full-control")
                    && value.split(',').all(|g| g.trim() == own)
            }));
    }
    if body.is_empty() {
        // Neither a canned ACL, grants nor a body: S3 asks for one of them.
        return Err(S3Error::code(S3ErrorCode::MalformedACLError));
    }
    let policy = parse_root(body, "AccessControlPolicy", ACL_LIMITS)
        .map_err(|_| S3Error::code(S3ErrorCode::MalformedACLError))?;
    let list = policy
        .child("AccessControlList")
        .ok_or_else(|| S3Error::code(S3ErrorCode::MalformedACLError))?;
    let mut grants = list.children_named("Grant").peekable();
    if grants.peek().is_none() {
        return Ok(false);
    }
    Ok(grants.all(|g| {
        g.child("Grantee")
            .and_then(|e| e.child_text("ID"))
            .is_some_and(|id| id.trim() == owner)
            && g.child_text("Permission")
                .is_some_and(|p| p.trim() == "FULL_CONTROL")
    }))
}
