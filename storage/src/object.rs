//! Object operations on a core: put (through `ObjectWriter`), head, get with byte ranges and
//! delete, plus key and range validation.

use crate::bucket::BucketRef;
use crate::error::{Error, Result};
use crate::meta::object_key;
use crate::op::{DeleteObject, Op, Reply, WriteCondition};
use crate::reader::ObjectBody;
use crate::record::{ObjectInfo, ObjectMeta, ObjectRecord};
use crate::store::{shard_of, CoreStore};
use crate::writer::{BodyChecksum, Digests, ObjectWriter, WriteTarget};

/// S3's longest key, in bytes of UTF-8.
pub const MAX_KEY_LEN: usize = 1024;

/// What a PUT asks for besides its bytes.
#[derive(Debug, Default)]
pub struct PutOptions {
    pub meta: ObjectMeta,
    pub condition: WriteCondition,
    /// The Content-MD5 the client sent; the commit fails with `BadDigest` if the body differs.
    pub content_md5: Option<[u8; 16]>,
    /// A checksum to compute inline and store.
    pub checksum: Option<Box<dyn BodyChecksum>>,
    /// The value the client announced for `checksum`; the commit fails with `BadDigest` if the
    /// computed one differs.
    pub expected_checksum: Option<String>,
}

/// A requested byte range (HTTP `Range: bytes=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `first-last`, inclusive (`last` is clamped to the end).
    FromTo(u64, u64),
    /// `first-`
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The half-open `[start, end)` the range selects in an object of `size` bytes.
    pub fn resolve(self, size: u64) -> Result<(u64, u64)> {
        match self {
            ByteRange::FromTo(first, last) if first <= last && first < size => {
                Ok((first, last.saturating_add(1).min(size)))
            }
            ByteRange::From(first) if first < size => Ok((first, size)),
            ByteRange::Suffix(n) if n > 0 && size > 0 => Ok((size - n.min(size), size)),
            _ => Err(Error::InvalidRange),
        }
    }
}

/// The result of a GET: metadata, the selected range and the streamed bytes.
#[derive(Debug)]
pub struct GetObject {
    pub info: ObjectInfo,
    /// `[start, end)` of the object the body holds (the whole object without a range).
    pub range: (u64, u64),
    pub body: ObjectBody,
}

pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidKey);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLong);
    }
    Ok(())
}

/// How many times a read retries when a blob vanished under it (an overwrite freed it).
const READ_RETRIES: usize = 4;

impl CoreStore {
    /// Starts a PUT: push the body with `write`, then `commit`.
    pub async fn put_object(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        key: &str,
        options: PutOptions,
    ) -> Result<ObjectWriter> {
        let bucket = bucket.into();
        check_key(key)?;
        options.meta.check()?;
        self.shared().health.check()?;
        let b = self.active_bucket(bucket)?;
        ObjectWriter::new(
            self.clone(),
            WriteTarget::Object {
                bucket: bucket.name().to_owned(),
                bucket_id: b.id,
                shard: shard_of(key, b.shards),
                key: key.to_owned(),
                meta: options.meta,
                condition: options.condition,
            },
            Digests {
                content_md5: options.content_md5,
                checksum: options.checksum,
                expected_checksum: options.expected_checksum,
            },
        )
    }

    pub(crate) fn object_record(&self, bucket: BucketRef<'_>, key: &str) -> Result<ObjectRecord> {
        check_key(key)?;
        let b = self.bucket_record(bucket)?;
        match self
            .meta()
            .get(&object_key(b.id, shard_of(key, b.shards), key))?
        {
            Some(v) => ObjectRecord::decode(&v),
            None => Err(Error::NoSuchKey),
        }
    }

    /// An object's metadata.
    ///
    /// Answers only with durable state: it waits for in-flight flushes it may have read.
    pub async fn head_object(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        key: &str,
    ) -> Result<ObjectInfo> {
        let result = self.head_object_now(bucket.into(), key).await;
        self.read_barrier().await?;
        result
    }

    /// An object's metadata.
    async fn head_object_now(&self, bucket: BucketRef<'_>, key: &str) -> Result<ObjectInfo> {
        Ok(ObjectInfo::from_record(
            key,
            &self.object_record(bucket, key)?,
        ))
    }

    /// Reads an object (or a byte range of it) as a stream of `Bytes`.
    ///
    /// Answers only with durable state: it waits for in-flight flushes it may have read.
    pub async fn get_object(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<GetObject> {
        let result = self.get_object_now(bucket.into(), key, range).await;
        self.read_barrier().await?;
        result
    }

    /// Reads an object (or a byte range of it) as a stream of `Bytes`.
    async fn get_object_now(
        &self,
        bucket: BucketRef<'_>,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<GetObject> {
        let mut attempt = 0;
        loop {
            let record = self.object_record(bucket, key)?;
            let (start, end) = match range {
                Some(r) => r.resolve(record.size)?,
                None => (0, record.size),
            };
            match ObjectBody::open(self.shared().blobs.clone(), &record, start, end).await {
                Ok(body) => {
                    return Ok(GetObject {
                        info: ObjectInfo::from_record(key, &record),
                        range: (start, end),
                        body,
                    })
                }
                // The record was replaced and its blob freed between our read and our open.
                Err(Error::Io(e))
                    if e.kind() == std::io::ErrorKind::NotFound && attempt < READ_RETRIES =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Deletes an object; `Ok(false)` if there was none (S3 answers 204 either way).
    pub async fn delete_object(&self, bucket: impl Into<BucketRef<'_>>, key: &str) -> Result<bool> {
        let bucket = bucket.into();
        check_key(key)?;
        self.shared().health.check()?;
        let b = self.bucket_record(bucket)?;
        let shard = shard_of(key, b.shards);
        match self
            .call(
                self.shard_owner(shard),
                Op::DeleteObject(DeleteObject {
                    bucket: bucket.name().to_owned(),
                    bucket_id: b.id,
                    shard,
                    key: key.to_owned(),
                }),
            )
            .await?
        {
            Reply::Existed(existed) => Ok(existed),
            _ => Err(Error::Corrupt("unexpected owner reply")),
        }
    }
}
