//! Multipart uploads: create, upload part, list parts, complete (the owner core turns the parts
//! into one object record with `record::assemble`) and abort.

use crate::bucket::BucketRef;
use crate::error::{Error, Result};
use crate::meta::{part_key, part_prefix, prefix_successor, upload_key, UPLOAD_ID_LEN};
use crate::object::check_key;
use crate::op::{AbortUpload, CompleteUpload, CreateUpload, Op, Reply, WriteCondition};
use crate::record::{ObjectInfo, ObjectMeta, PartRecord, UploadRecord};
use crate::store::{now_ms, shard_of, CoreStore};
use crate::writer::{BodyChecksum, Digests, ObjectWriter, WriteTarget};

/// S3's largest part number.
pub const MAX_PART_NUMBER: u16 = 10_000;
/// Largest page of `list_parts`.
pub const MAX_PARTS_PAGE: usize = 1000;

/// A stored part, as `list_parts` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub part_number: u16,
    /// Hex MD5 of the part, without quotes.
    pub etag: String,
    pub size: u64,
    pub last_modified_ms: u64,
    /// Checksums computed while the part was written.
    pub checksums: Vec<(String, String)>,
}

/// What an UploadPart asks for besides its bytes.
#[derive(Debug, Default)]
pub struct PartOptions {
    /// The Content-MD5 the client sent (`BadDigest` if the part differs).
    pub content_md5: Option<[u8; 16]>,
    /// A checksum to compute inline and store with the part.
    pub checksum: Option<Box<dyn BodyChecksum>>,
    /// The value the client announced for `checksum` (`BadDigest` if it differs).
    pub expected_checksum: Option<String>,
}

/// What a CompleteMultipartUpload asks for besides the parts.
#[derive(Debug, Default)]
pub struct CompleteOptions {
    pub condition: WriteCondition,
    /// The completed object's checksums (e.g. S3's composite checksum of the parts'), in place
    /// of the ones the upload was created with; `None` keeps the upload's.
    pub checksums: Option<Vec<(String, String)>>,
}

/// One page of `list_parts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsPage {
    /// The checksum pairs the upload was created with (its metadata's).
    pub upload_checksums: Vec<(String, String)>,
    pub parts: Vec<PartInfo>,
    pub is_truncated: bool,
    /// The part number to pass as the next marker, when truncated.
    pub next_part_number_marker: Option<u16>,
}

/// Text form of an upload id (32 lowercase hex digits).
pub(crate) fn format_upload_id(id: &[u8; UPLOAD_ID_LEN]) -> String {
    hex::encode(id)
}

/// Parses an upload id; anything malformed is an upload that does not exist.
pub(crate) fn parse_upload_id(s: &str) -> Result<[u8; UPLOAD_ID_LEN]> {
    let mut id = [0u8; UPLOAD_ID_LEN];
    hex::decode_to_slice(s, &mut id).map_err(|_| Error::NoSuchUpload)?;
    Ok(id)
}

/// A fresh upload id: a store-unique counter (so ids sort by creation) and 64 random bits.
fn new_upload_id(store: &CoreStore) -> Result<[u8; UPLOAD_ID_LEN]> {
    use std::hash::{BuildHasher, Hasher};
    let mut id = [0u8; UPLOAD_ID_LEN];
    id[..8].copy_from_slice(&store.meta().generate_id()?.to_be_bytes());
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_ms());
    id[8..].copy_from_slice(&h.finish().to_be_bytes());
    Ok(id)
}

impl CoreStore {
    /// Starts a multipart upload; returns its id.
    pub async fn create_multipart_upload(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<String> {
        let bucket = bucket.into();
        check_key(key)?;
        meta.check()?;
        self.shared().health.check()?;
        let b = self.active_bucket(bucket)?;
        let shard = shard_of(key, b.shards);
        let upload_id = new_upload_id(self)?;
        self.call(
            self.shard_owner(shard),
            Op::CreateUpload(CreateUpload {
                bucket: bucket.name().to_owned(),
                bucket_id: b.id,
                shard,
                key: key.to_owned(),
                upload_id,
                record: UploadRecord {
                    initiated_ms: now_ms(),
                    meta,
                },
            }),
        )
        .await?;
        Ok(format_upload_id(&upload_id))
    }

    /// Starts writing part `part_number` (1 to 10000) of an upload; re-uploading replaces it.
    pub async fn upload_part(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        key: &str,
        upload_id: &str,
        part_number: u16,
    ) -> Result<ObjectWriter> {
        self.upload_part_with(bucket, key, upload_id, part_number, PartOptions::default())
            .await
    }

    /// [`CoreStore::upload_part`] with a Content-MD5 to verify and a checksum to compute.
    pub async fn upload_part_with(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        key: &str,
        upload_id: &str,
        part_number: u16,
        options: PartOptions,
    ) -> Result<ObjectWriter> {
        let bucket = bucket.into();
        if !(1..=MAX_PART_NUMBER).contains(&part_number) {
            return Err(Error::InvalidPartNumber);
        }
        let id = parse_upload_id(upload_id)?;
        let b = self.bucket_record(bucket)?;
        let shard = shard_of(key, b.shards);
        if self
            .meta()
            .get(&upload_key(b.id, shard, key, &id))?
            .is_none()
        {
            return Err(Error::NoSuchUpload);
        }
        ObjectWriter::new(
            self.clone(),
            WriteTarget::Part {
                bucket_id: b.id,
                shard,
                key: key.to_owned(),
                upload_id: id,
                part_number,
            },
            Digests {
                content_md5: options.content_md5,
                checksum: options.checksum,
                expected_checksum: options.expected_checksum,
            },
        )
    }

    /// Lists the parts of an upload after `part_number_marker`, at most `max_parts` (≤ 1000).
    ///
    /// Answers only with durable state: it waits for in-flight flushes it may have read.
    pub async fn list_parts(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        key: &str,
        upload_id: &str,
        part_number_marker: u16,
        max_parts: usize,
    ) -> Result<PartsPage> {
        let result = self
            .list_parts_now(bucket.into(), key, upload_id, part_number_marker, max_parts)
            .await;
        self.read_barrier().await?;
        result
    }

    /// Lists the parts of an upload after `part_number_marker`, at most `max_parts` (≤ 1000).
    async fn list_parts_now(
        &self,
        bucket: BucketRef<'_>,
        key: &str,
        upload_id: &str,
        part_number_marker: u16,
        max_parts: usize,
    ) -> Result<PartsPage> {
        if max_parts > MAX_PARTS_PAGE {
            return Err(Error::InvalidArgument("max-parts is at most 1000"));
        }
        let id = parse_upload_id(upload_id)?;
        let b = self.bucket_record(bucket)?;
        let shard = shard_of(key, b.shards);
        let upload = match self.meta().get(&upload_key(b.id, shard, key, &id))? {
            Some(v) => UploadRecord::decode(&v)?,
            None => return Err(Error::NoSuchUpload),
        };
        let start = part_key(&id, part_number_marker.saturating_add(1));
        let end = prefix_successor(&part_prefix(&id)).unwrap_or_default();
        let mut parts = Vec::new();
        let mut is_truncated = false;
        for entry in self.meta().range(&start, &end) {
            let (k, v) = entry?;
            if parts.len() == max_parts {
                is_truncated = true;
                break;
            }
            let n = u16::from_be_bytes([k[k.len() - 2], k[k.len() - 1]]);
            let p = PartRecord::decode(&v)?;
            parts.push(PartInfo {
                part_number: n,
                etag: hex::encode(p.md5),
                size: p.blob.len,
                last_modified_ms: p.last_modified_ms,
                checksums: p.checksums,
            });
        }
        let next_part_number_marker = if is_truncated {
            parts.last().map(|p| p.part_number)
        } else {
            None
        };
        Ok(PartsPage {
            upload_checksums: upload.meta.checksums,
            parts,
            is_truncated,
            next_part_number_marker,
        })
    }

    /// Completes an upload from the listed `(part number, etag)` pairs, in ascending order.
    pub async fn complete_multipart_upload(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        key: &str,
        upload_id: &str,
        parts: Vec<(u16, String)>,
        condition: WriteCondition,
    ) -> Result<ObjectInfo> {
        let options = CompleteOptions {
            condition,
            checksums: None,
        };
        self.complete_multipart_upload_with(bucket, key, upload_id, parts, options)
            .await
    }

    /// [`CoreStore::complete_multipart_upload`] with [`CompleteOptions`].
    pub async fn complete_multipart_upload_with(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        key: &str,
        upload_id: &str,
        parts: Vec<(u16, String)>,
        options: CompleteOptions,
    ) -> Result<ObjectInfo> {
        let bucket = bucket.into();
        self.shared().health.check()?;
        let id = parse_upload_id(upload_id)?;
        let b = self.active_bucket(bucket)?;
        let shard = shard_of(key, b.shards);
        let reply = self
            .call(
                self.shard_owner(shard),
                Op::CompleteUpload(CompleteUpload {
                    bucket: bucket.name().to_owned(),
                    bucket_id: b.id,
                    shard,
                    key: key.to_owned(),
                    upload_id: id,
                    parts,
                    min_part_size: self.shared().config.min_part_size,
                    now_ms: now_ms(),
                    condition: options.condition,
                    checksums: options.checksums,
                }),
            )
            .await?;
        match reply {
            Reply::Object(record) => Ok(ObjectInfo::from_record(key, &record)),
            _ => Err(Error::Corrupt("unexpected owner reply")),
        }
    }

    /// Aborts an upload and frees its parts.
    pub async fn abort_multipart_upload(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        key: &str,
        upload_id: &str,
    ) -> Result<()> {
        let bucket = bucket.into();
        self.shared().health.check()?;
        let id = parse_upload_id(upload_id)?;
        let b = self.bucket_record(bucket)?;
        let shard = shard_of(key, b.shards);
        self.call(
            self.shard_owner(shard),
            Op::AbortUpload(AbortUpload {
                bucket_id: b.id,
                shard,
                key: key.to_owned(),
                upload_id: id,
            }),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ids_round_trip_and_reject_garbage() {
        let id = [0xab; UPLOAD_ID_LEN];
        assert_eq!(parse_upload_id(&format_upload_id(&id)).unwrap(), id);
        assert!(matches!(parse_upload_id("xyz"), Err(Error::NoSuchUpload)));
    }
}
