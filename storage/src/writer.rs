//! The streaming object writer: the caller pushes byte slices as they arrive; the writer hashes
//! them (MD5 for the ETag) and keeps them inline or streams them into a blob, then commits the
//! record on the key's owner core, or aborts and leaves nothing behind.

use md5::{Digest, Md5};

use crate::blob::BlobWriter;
use crate::error::{Error, Result};
use crate::meta::UPLOAD_ID_LEN;
use crate::op::{Op, PutObject, PutPart, Reply, WriteCondition};
use crate::record::{BlobRef, Body, ObjectInfo, ObjectMeta, ObjectRecord, PartRecord};
use crate::store::{now_ms, CoreStore};

/// A checksum the writer computes inline as the body streams through. The S3 layer supplies
/// the algorithm (CRC32C, SHA-256, …); the engine stores the result with the object's
/// checksums as an opaque `(algorithm, value)` pair.
pub trait BodyChecksum: std::fmt::Debug {
    fn update(&mut self, data: &[u8]);
    /// The algorithm's name and the value as stored and returned (e.g. `("CRC32C", base64)`).
    fn finish(self: Box<Self>) -> (String, String);
}

/// What a writer commits to (one per writer, so the size difference of the variants is moot).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum WriteTarget {
    Object {
        bucket: String,
        bucket_id: u64,
        shard: u16,
        key: String,
        meta: ObjectMeta,
        condition: WriteCondition,
    },
    Part {
        bucket_id: u64,
        shard: u16,
        key: String,
        upload_id: [u8; UPLOAD_ID_LEN],
        part_number: u16,
    },
}

/// What the writer checks and computes besides MD5: the client's Content-MD5 and an inline
/// checksum with the value the client announced.
#[derive(Debug, Default)]
pub(crate) struct Digests {
    pub(crate) content_md5: Option<[u8; 16]>,
    pub(crate) checksum: Option<Box<dyn BodyChecksum>>,
    pub(crate) expected_checksum: Option<String>,
}

/// Writes one object or part. Call `commit` to make it durable and visible; dropping the writer
/// (or `abort`) discards everything written.
#[derive(Debug)]
pub struct ObjectWriter {
    store: CoreStore,
    target: WriteTarget,
    digests: Digests,
    md5: Md5,
    /// Off only in benchmarks that isolate IO (`skip_md5_for_benchmark`).
    hash_md5: bool,
    size: u64,
    inline: Vec<u8>,
    inline_limit: usize,
    blob: Option<BlobWriter>,
    failed: bool,
    /// A checksum verified outside the writer (by the S3 layer's payload verifier), stored as is.
    verified_checksum: Option<(String, String)>,
}

impl ObjectWriter {
    pub(crate) fn new(
        store: CoreStore,
        target: WriteTarget,
        digests: Digests,
    ) -> Result<ObjectWriter> {
        // Parts are always blobs: a completed upload lists them without copying.
        let inline_limit = match target {
            WriteTarget::Object { .. } => store.shared().config.inline_threshold,
            WriteTarget::Part { .. } => 0,
        };
        Ok(ObjectWriter {
            store,
            target,
            digests,
            md5: Md5::new(),
            hash_md5: true,
            size: 0,
            inline: Vec::new(),
            inline_limit,
            blob: None,
            failed: false,
            verified_checksum: None,
        })
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Appends `data` to the body. After an error the writer only aborts.
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        if self.failed {
            return Err(Error::InvalidArgument("write after a failed write"));
        }
        let res = self.write_inner(data).await;
        if res.is_err() {
            self.failed = true;
            if let Some(blob) = self.blob.take() {
                blob.discard().await;
            }
        }
        res
    }

    async fn write_inner(&mut self, data: &[u8]) -> Result<()> {
        if self.hash_md5 {
            self.md5.update(data);
        }
        if let Some(c) = self.digests.checksum.as_mut() {
            c.update(data);
        }
        self.size += data.len() as u64;
        if self.blob.is_none() {
            if self.inline.len() + data.len() <= self.inline_limit {
                self.inline.extend_from_slice(data);
                return Ok(());
            }
            let shared = self.store.shared();
            let id = shared.meta.generate_id()?;
            let mut blob = BlobWriter::create(
                &shared.blobs,
                self.store.core() as u16,
                id,
                shared.config.min_free_bytes,
            )
            .await?;
            let buffered = std::mem::take(&mut self.inline);
            let res = async {
                blob.write(&buffered).await?;
                blob.write(data).await
            }
            .await;
            self.blob = Some(blob);
            return res;
        }
        match self.blob.as_mut() {
            Some(blob) => blob.write(data).await,
            None => Err(Error::Unavailable),
        }
    }

    /// Benchmarks only (feature `bench`, never enabled by `cairnd`): stop hashing the body, to
    /// measure the IO path alone. The stored ETag is then meaningless (the MD5 of nothing).
    #[cfg(feature = "bench")]
    #[doc(hidden)]
    pub fn skip_md5_for_benchmark(&mut self) {
        self.hash_md5 = false;
    }

    /// Records a checksum of the body that the caller verified itself (as `(algorithm,
    /// value)`, e.g. `("CRC32", base64)`); it is stored with the object or part like one the
    /// writer computed. Set it after the last `write` and before `commit`.
    pub fn set_verified_checksum(
        &mut self,
        algorithm: impl Into<String>,
        value: impl Into<String>,
    ) {
        self.verified_checksum = Some((algorithm.into(), value.into()));
    }

    /// Discards what was written.
    pub async fn abort(mut self) {
        if let Some(blob) = self.blob.take() {
            blob.discard().await;
        }
    }

    /// Makes the body durable, then commits the record on the key's owner core. Returns the
    /// stored object's metadata (for a part: its size and ETag, with an empty key).
    pub async fn commit(mut self) -> Result<ObjectInfo> {
        if self.failed {
            return Err(Error::InvalidArgument("commit after a failed write"));
        }
        self.store.shared().health.check()?;
        let md5: [u8; 16] = self.md5.clone().finalize().into();
        let checksum = self.check_digests(&md5)?;
        let body = self.finish_body().await?;
        let blobs: Vec<BlobRef> = body.blobs().to_vec();
        let store = self.store.clone();
        let size = self.size;
        let (owner, op, key) = self.into_op(md5, body, checksum.clone())?;
        let is_part = matches!(op, Op::PutPart(_));
        match store.call(owner, op).await {
            Ok(Reply::Object(record)) => Ok(ObjectInfo::from_record(&key, &record)),
            Ok(_) if is_part => Ok(part_info(size, md5, checksum)),
            Ok(_) => Err(Error::Corrupt("unexpected owner reply")),
            // Applied but not durable: the record may survive a crash, so keep its blob
            // (recovery removes it if the record did not survive).
            Err(e @ Error::Poisoned(_)) => Err(e),
            Err(e) => {
                for blob in &blobs {
                    store.shared().blobs.remove(blob).await;
                }
                Err(e)
            }
        }
    }

    /// Checks the body against the client's Content-MD5 and announced checksum; returns the
    /// checksum to store (computed here, or verified by the caller), which an object's
    /// metadata now carries in place of any other value of the same algorithm.
    fn check_digests(&mut self, md5: &[u8; 16]) -> Result<Option<(String, String)>> {
        if self
            .digests
            .content_md5
            .is_some_and(|expected| expected != *md5)
        {
            return Err(Error::BadDigest);
        }
        let mut computed = None;
        if let Some(c) = self.digests.checksum.take() {
            let (algorithm, value) = c.finish();
            if self
                .digests
                .expected_checksum
                .as_ref()
                .is_some_and(|e| *e != value)
            {
                return Err(Error::BadDigest);
            }
            computed = Some((algorithm, value));
        }
        if computed.is_none() {
            computed = self.verified_checksum.take();
        }
        if let (WriteTarget::Object { meta, .. }, Some((algorithm, value))) =
            (&mut self.target, &computed)
        {
            meta.checksums.retain(|(a, _)| a != algorithm);
            meta.checksums.push((algorithm.clone(), value.clone()));
        }
        Ok(computed)
    }

    /// Makes the body durable: the blob synced with its directory entry, or the inline bytes.
    async fn finish_body(&mut self) -> Result<Body> {
        Ok(match self.blob.take() {
            Some(blob) => {
                let blob = blob.finish().await?;
                // On failure (the engine is poisoned) the blob stays for recovery to judge.
                self.store.sync_blob_dir().await?;
                Body::Blobs(vec![blob])
            }
            None if matches!(self.target, WriteTarget::Part { .. }) => {
                // An empty part still gets a (zero-length) blob so completion can list it.
                let shared = self.store.shared();
                let id = shared.meta.generate_id()?;
                let blob = BlobWriter::create(&shared.blobs, self.store.core() as u16, id, 0)
                    .await?
                    .finish()
                    .await?;
                self.store.sync_blob_dir().await?;
                Body::Blobs(vec![blob])
            }
            None => Body::Inline(std::mem::take(&mut self.inline)),
        })
    }

    /// The mutation that commits the record, the core that owns its key, and the key the
    /// answer reports (empty for a part).
    fn into_op(
        self,
        md5: [u8; 16],
        body: Body,
        checksum: Option<(String, String)>,
    ) -> Result<(usize, Op, String)> {
        Ok(match self.target {
            WriteTarget::Object {
                bucket,
                bucket_id,
                shard,
                key,
                meta,
                condition,
            } => (
                self.store.shard_owner(shard),
                Op::PutObject(PutObject {
                    bucket,
                    bucket_id,
                    shard,
                    key: key.clone(),
                    record: ObjectRecord {
                        size: self.size,
                        etag: hex::encode(md5),
                        last_modified_ms: now_ms(),
                        parts: 0,
                        meta,
                        body,
                    },
                    condition,
                }),
                key,
            ),
            WriteTarget::Part {
                bucket_id,
                shard,
                key,
                upload_id,
                part_number,
            } => (
                self.store.shard_owner(shard),
                Op::PutPart(PutPart {
                    bucket_id,
                    shard,
                    key,
                    upload_id,
                    part_number,
                    record: PartRecord {
                        md5,
                        last_modified_ms: now_ms(),
                        blob: body.blobs().first().copied().ok_or(Error::Unavailable)?,
                        checksums: checksum.into_iter().collect(),
                    },
                }),
                String::new(),
            ),
        })
    }
}

/// What a committed part reports: its size, ETag and checksum, with an empty key.
fn part_info(size: u64, md5: [u8; 16], checksum: Option<(String, String)>) -> ObjectInfo {
    ObjectInfo {
        key: String::new(),
        size,
        etag: hex::encode(md5),
        last_modified_ms: now_ms(),
        parts: 0,
        part_lengths: Vec::new(),
        meta: ObjectMeta {
            checksums: checksum.into_iter().collect(),
            ..ObjectMeta::default()
        },
    }
}
