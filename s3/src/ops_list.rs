//! Listings: ListObjects (v1), ListObjectsV2, ListObjectVersions, ListMultipartUploads and
//! ListParts.

use base64::Engine;
use cairn_http::server::Response;
use cairn_storage::{BucketInfo, ListPage, ListQuery, UploadQuery, MAX_KEYS};

use crate::checksum::{upload_algorithm, COMPOSITE};
use crate::error::{S3Error, S3ErrorCode};
use crate::headers::{iso8601_ms, quoted, url_encode};
use crate::xml::XmlWriter;
use crate::{xml_response, Call, S3Service};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A non-negative integer parameter, clamped to `max` (`InvalidArgument` if malformed).
fn max_param(c: &Call<'_, '_>, name: &str, max: usize) -> Result<usize, S3Error> {
    match c.query.get(name) {
        None => Ok(max),
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Ok((n as u64).min(max as u64) as usize),
            _ => Err(S3Error::code(S3ErrorCode::InvalidArgument)
                .with_message(format!(
                    "Provided {name} not an integer or within integer range"
                ))
                .with_field("ArgumentName", name)
                .with_field("ArgumentValue", text)),
        },
    }
}

/// How listing values are written: as is, or URL-encoded (`encoding-type=url`).
struct Encoder(bool);

impl Encoder {
    fn from_query(c: &Call<'_, '_>) -> Result<Encoder, S3Error> {
        match c.query.get("encoding-type") {
            None => Ok(Encoder(false)),
            Some(t) if t.eq_ignore_ascii_case("url") => Ok(Encoder(true)),
            Some(_) => Err(S3Error::code(S3ErrorCode::InvalidArgument)
                .with_message("Invalid Encoding Method specified in Request")),
        }
    }

    fn enc<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if self.0 {
            url_encode(text).into()
        } else {
            text.into()
        }
    }

    fn write_type(&self, w: &mut XmlWriter) {
        if self.0 {
            w.elem("EncodingType", "url");
        }
    }
}

/// Which entries a listing writes.
#[derive(Clone, Copy)]
enum Entries {
    Contents { owner: bool },
    Versions,
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

impl S3Service {
    async fn page(
        &self,
        bucket: &BucketInfo,
        prefix: &str,
        delimiter: Option<&str>,
        start_after: Option<&str>,
        max_keys: usize,
    ) -> Result<ListPage, S3Error> {
        if max_keys == 0 {
            return Ok(ListPage::default());
        }
        let query = ListQuery {
            prefix: prefix.to_owned(),
            delimiter: non_empty(delimiter).map(str::to_owned),
            start_after: non_empty(start_after).map(str::to_owned),
            max_keys,
        };
        Ok(self.store.list_objects(bucket, &query).await?)
    }

    /// Writes a page's entries: `Contents` (with the owner when `owner`) or, for
    /// ListObjectVersions, `Version` entries of the `null` version.
    fn write_contents(
        c: &Call<'_, '_>,
        w: &mut XmlWriter,
        page: &ListPage,
        e: &Encoder,
        style: Entries,
    ) {
        let (tag, owner, versions) = match style {
            Entries::Contents { owner } => ("Contents", owner, false),
            Entries::Versions => ("Version", true, true),
        };
        for o in &page.objects {
            w.open(tag).elem("Key", &e.enc(&o.key));
            if versions {
                w.elem("VersionId", "null").elem("IsLatest", "true");
            }
            w.elem("LastModified", &iso8601_ms(o.last_modified_ms))
                .elem("ETag", &quoted(&o.etag))
                .elem("Size", &o.size.to_string());
            if owner {
                S3Service::write_owner(w, "Owner", &c.identity);
            }
            w.elem("StorageClass", "STANDARD").close(tag);
        }
        for p in &page.common_prefixes {
            w.open("CommonPrefixes")
                .elem("Prefix", &e.enc(p))
                .close("CommonPrefixes");
        }
    }

    pub(crate) async fn list_objects_v1(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
    ) -> Result<Response, S3Error> {
        let e = Encoder::from_query(c)?;
        let prefix = c.query.get("prefix").unwrap_or("");
        let delimiter = c.query.get("delimiter");
        let marker = c.query.get("marker");
        let max_keys = max_param(c, "max-keys", MAX_KEYS)?;
        let page = self
            .page(bucket, prefix, delimiter, marker, max_keys)
            .await?;
        let mut w = XmlWriter::new("ListBucketResult");
        w.elem("Name", &bucket.name)
            .elem("Prefix", &e.enc(prefix))
            .elem("Marker", &e.enc(marker.unwrap_or("")))
            .elem("MaxKeys", &max_keys.to_string());
        if let Some(d) = non_empty(delimiter) {
            w.elem("Delimiter", &e.enc(d));
        }
        w.elem("IsTruncated", bool_str(page.is_truncated));
        // S3 sends NextMarker only with a delimiter; sending it always is harmless and spares
        // clients the fall-back to the last key.
        if let Some(next) = page.next_marker.as_deref().filter(|_| page.is_truncated) {
            w.elem("NextMarker", &e.enc(next));
        }
        e.write_type(&mut w);
        S3Service::write_contents(c, &mut w, &page, &e, Entries::Contents { owner: true });
        Ok(xml_response(w.finish("ListBucketResult")))
    }

    pub(crate) async fn list_objects_v2(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
    ) -> Result<Response, S3Error> {
        let e = Encoder::from_query(c)?;
        let prefix = c.query.get("prefix").unwrap_or("");
        let delimiter = c.query.get("delimiter");
        let start_after = c.query.get("start-after");
        let token = c.query.get("continuation-token");
        let max_keys = max_param(c, "max-keys", MAX_KEYS)?;
        let fetch_owner = c.query.get("fetch-owner") == Some("true");
        let resume = match token {
            Some(t) => Some(decode_token(t)?),
            None => None,
        };
        let from = resume.as_deref().or(start_after);
        let page = self.page(bucket, prefix, delimiter, from, max_keys).await?;
        let mut w = XmlWriter::new("ListBucketResult");
        w.elem("Name", &bucket.name).elem("Prefix", &e.enc(prefix));
        if let Some(t) = token {
            w.elem("ContinuationToken", t);
        }
        if let Some(s) = start_after {
            w.elem("StartAfter", &e.enc(s));
        }
        w.elem(
            "KeyCount",
            &(page.objects.len() + page.common_prefixes.len()).to_string(),
        )
        .elem("MaxKeys", &max_keys.to_string());
        if let Some(d) = non_empty(delimiter) {
            w.elem("Delimiter", &e.enc(d));
        }
        w.elem("IsTruncated", bool_str(page.is_truncated));
        if let Some(next) = page.next_marker.as_deref().filter(|_| page.is_truncated) {
            w.elem("NextContinuationToken", &B64.encode(next));
        }
        e.write_type(&mut w);
        S3Service::write_contents(
            c,
            &mut w,
            &page,
            &e,
            Entries::Contents { owner: fetch_owner },
        );
        Ok(xml_response(w.finish("ListBucketResult")))
    }

    /// ListObjectVersions on an unversioned bucket: each object is its one `null` version.
    pub(crate) async fn list_object_versions(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
    ) -> Result<Response, S3Error> {
        let e = Encoder::from_query(c)?;
        let prefix = c.query.get("prefix").unwrap_or("");
        let delimiter = c.query.get("delimiter");
        let key_marker = c.query.get("key-marker");
        let max_keys = max_param(c, "max-keys", MAX_KEYS)?;
        let page = self
            .page(bucket, prefix, delimiter, key_marker, max_keys)
            .await?;
        let mut w = XmlWriter::new("ListVersionsResult");
        w.elem("Name", &bucket.name)
            .elem("Prefix", &e.enc(prefix))
            .elem("KeyMarker", &e.enc(key_marker.unwrap_or("")))
            .elem(
                "VersionIdMarker",
                c.query.get("version-id-marker").unwrap_or(""),
            )
            .elem("MaxKeys", &max_keys.to_string());
        if let Some(d) = non_empty(delimiter) {
            w.elem("Delimiter", &e.enc(d));
        }
        w.elem("IsTruncated", bool_str(page.is_truncated));
        if let Some(next) = page.next_marker.as_deref().filter(|_| page.is_truncated) {
            w.elem("NextKeyMarker", &e.enc(next))
                .elem("NextVersionIdMarker", "null");
        }
        e.write_type(&mut w);
        S3Service::write_contents(c, &mut w, &page, &e, Entries::Versions);
        Ok(xml_response(w.finish("ListVersionsResult")))
    }

    pub(crate) async fn list_multipart_uploads(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
    ) -> Result<Response, S3Error> {
        let e = Encoder::from_query(c)?;
        let max_uploads = max_param(c, "max-uploads", MAX_KEYS)?;
        let query = UploadQuery {
            prefix: c.query.get("prefix").unwrap_or("").to_owned(),
            delimiter: non_empty(c.query.get("delimiter")).map(str::to_owned),
            key_marker: non_empty(c.query.get("key-marker")).map(str::to_owned),
            upload_id_marker: non_empty(c.query.get("upload-id-marker")).map(str::to_owned),
            max_uploads,
        };
        let page = if max_uploads == 0 {
            Default::default()
        } else {
            self.store.list_multipart_uploads(bucket, &query).await?
        };
        let mut w = XmlWriter::new("ListMultipartUploadsResult");
        w.elem("Bucket", &bucket.name)
            .elem(
                "KeyMarker",
                &e.enc(query.key_marker.as_deref().unwrap_or("")),
            )
            .elem(
                "UploadIdMarker",
                query.upload_id_marker.as_deref().unwrap_or(""),
            )
            .elem(
                "NextKeyMarker",
                &e.enc(page.next_key_marker.as_deref().unwrap_or("")),
            )
            .elem(
                "NextUploadIdMarker",
                page.next_upload_id_marker.as_deref().unwrap_or(""),
            )
            .elem("Prefix", &e.enc(&query.prefix));
        if let Some(d) = &query.delimiter {
            w.elem("Delimiter", &e.enc(d));
        }
        w.elem("MaxUploads", &max_uploads.to_string())
            .elem("IsTruncated", bool_str(page.is_truncated));
        e.write_type(&mut w);
        for u in &page.uploads {
            w.open("Upload")
                .elem("Key", &e.enc(&u.key))
                .elem("UploadId", &u.upload_id);
            S3Service::write_owner(&mut w, "Initiator", &c.identity);
            S3Service::write_owner(&mut w, "Owner", &c.identity);
            w.elem("StorageClass", "STANDARD")
                .elem("Initiated", &iso8601_ms(u.initiated_ms))
                .close("Upload");
        }
        for p in &page.common_prefixes {
            w.open("CommonPrefixes")
                .elem("Prefix", &e.enc(p))
                .close("CommonPrefixes");
        }
        Ok(xml_response(w.finish("ListMultipartUploadsResult")))
    }

    pub(crate) async fn list_parts(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        key: &str,
        upload_id: &str,
    ) -> Result<Response, S3Error> {
        let max_parts = max_param(c, "max-parts", 1000)?;
        let marker = match c.query.get("part-number-marker") {
            None => 0,
            Some(t) => t.trim().parse::<u16>().map_err(|_| {
                S3Error::code(S3ErrorCode::InvalidArgument)
                    .with_message("Part number marker must be an integer between 0 and 10000.")
            })?,
        };
        let page = if max_parts == 0 {
            // Still checks that the upload exists.
            let mut p = self
                .store
                .list_parts(bucket, key, upload_id, marker, 1)
                .await?;
            p.parts.clear();
            p
        } else {
            self.store
                .list_parts(bucket, key, upload_id, marker, max_parts)
                .await?
        };
        let mut w = XmlWriter::new("ListPartsResult");
        w.elem("Bucket", &bucket.name)
            .elem("Key", key)
            .elem("UploadId", upload_id)
            .elem("PartNumberMarker", &marker.to_string());
        if let Some(next) = page.next_part_number_marker {
            w.elem("NextPartNumberMarker", &next.to_string());
        }
        w.elem("MaxParts", &max_parts.to_string())
            .elem("IsTruncated", bool_str(page.is_truncated));
        S3Service::write_owner(&mut w, "Initiator", &c.identity);
        S3Service::write_owner(&mut w, "Owner", &c.identity);
        w.elem("StorageClass", "STANDARD");
        if let Some(a) = upload_algorithm(&page.upload_checksums) {
            w.elem("ChecksumAlgorithm", a.s3_name())
                .elem("ChecksumType", COMPOSITE);
        }
        for p in &page.parts {
            w.open("Part")
                .elem("PartNumber", &p.part_number.to_string())
                .elem("LastModified", &iso8601_ms(p.last_modified_ms))
                .elem("ETag", &quoted(&p.etag))
                .elem("Size", &p.size.to_string());
            for (algorithm, value) in &p.checksums {
                w.elem(
                    &format!("Checksum{}", algorithm.to_ascii_uppercase()),
                    value,
                );
            }
            w.close("Part");
        }
        Ok(xml_response(w.finish("ListPartsResult")))
    }
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// A v2 continuation token is the base64 of the key to resume after.
fn decode_token(token: &str) -> Result<String, S3Error> {
    B64.decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::code(S3ErrorCode::InvalidArgument)
                .with_message("The continuation token provided is incorrect")
        })
}
