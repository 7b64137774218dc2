//! Shard ownership: the messages cores exchange and each core's shard-owner task, which applies
//! every metadata mutation of the keys it owns in arrival order, then group-commits it.

use glommio::channels::local_channel::{LocalReceiver, LocalSender};

use std::rc::Weak;

use crate::bucket::BucketRef;
use crate::engine::{CoreInner, CoreStore};
use crate::error::{Error, Result};
use crate::meta::{
    bucket_key, family_end, object_key, part_key, part_prefix, shard_prefix, upload_key, Change,
    Family, UPLOAD_ID_LEN,
};
use crate::record::{BlobRef, BucketRecord, BucketState, ObjectRecord, PartRecord, UploadRecord};

/// When a write may replace what is stored under its key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WriteCondition {
    /// Unconditional.
    #[default]
    Always,
    /// `If-None-Match: *`: only if no object exists under the key.
    IfAbsent,
    /// `If-Match: <etag>`: only if the current object's ETag matches (`*`: if any exists).
    IfMatch(String),
}

/// Strips the quotes S3 puts around ETags.
pub(crate) fn bare_etag(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// A metadata mutation, run on the owner core of its key (or of the bucket name).
#[derive(Debug)]
pub(crate) enum Op {
    CreateBucket {
        name: String,
        owner: String,
        now_ms: u64,
        shards: u16,
    },
    /// Marks a bucket `Deleting` (only the one with id `id`, if given); returns its id.
    MarkBucketDeleting { name: String, id: Option<u64> },
    /// Removes the bucket record (if `empty`) or returns it to `Active`.
    FinishBucketDelete { name: String, id: u64, empty: bool },
    /// Replies once every earlier mutation on this core has been applied.
    Barrier,
    PutObject {
        bucket: String,
        bucket_id: u64,
        shard: u16,
        key: String,
        record: ObjectRecord,
        condition: WriteCondition,
    },
    DeleteObject {
        bucket: String,
        bucket_id: u64,
        shard: u16,
        key: String,
    },
    CreateUpload {
        bucket: String,
        bucket_id: u64,
        shard: u16,
        key: String,
        upload_id: [u8; UPLOAD_ID_LEN],
        record: UploadRecord,
    },
    PutPart {
        bucket_id: u64,
        shard: u16,
        key: String,
        upload_id: [u8; UPLOAD_ID_LEN],
        part_number: u16,
        record: PartRecord,
    },
    CompleteUpload {
        bucket: String,
        bucket_id: u64,
        shard: u16,
        key: String,
        upload_id: [u8; UPLOAD_ID_LEN],
        parts: Vec<(u16, String)>,
        min_part_size: u64,
        now_ms: u64,
        condition: WriteCondition,
        checksums: Option<Vec<(String, String)>>,
    },
    AbortUpload {
        bucket_id: u64,
        shard: u16,
        key: String,
        upload_id: [u8; UPLOAD_ID_LEN],
    },
}

/// An owner's answer.
#[derive(Debug)]
pub(crate) enum Reply {
    Done,
    BucketId(u64),
    Existed(bool),
    Object(Box<ObjectRecord>),
}

/// Messages between cores.
#[derive(Debug)]
pub(crate) enum Msg {
    Request { id: u64, op: Box<Op> },
    Reply { id: u64, result: Result<Reply> },
}

/// Where an owner sends its reply.
#[derive(Debug)]
pub(crate) enum Responder {
    Local(LocalSender<Result<Reply>>),
    Remote { core: usize, id: u64 },
}

#[derive(Debug)]
pub(crate) struct OwnerQueue {
    pub(crate) responder: Responder,
    pub(crate) op: Op,
}

/// What applying a mutation did: the reply, and the blobs to free once it is durable.
struct Applied {
    reply: Reply,
    durable: bool,
    free: Vec<BlobRef>,
}

/// The shard-owner task of one core: applies mutations strictly in arrival order (each apply is
/// synchronous), then waits for the group commit and frees replaced blobs in a separate task.
pub(crate) async fn owner_loop(store: Weak<CoreInner>, queue: LocalReceiver<OwnerQueue>) {
    while let Some(OwnerQueue { responder, op }) = queue.recv().await {
        let Some(inner) = store.upgrade() else { break };
        let store = CoreStore { inner };
        let applied = if matches!(op, Op::Barrier) {
            Ok(Applied {
                reply: Reply::Done,
                durable: false,
                free: Vec::new(),
            })
        } else {
            match store.shared().health.check() {
                Ok(()) => {
                    // Counted around the apply so readers and the flusher know what they may
                    // have seen and what a flush covers.
                    store.begin_apply();
                    let applied = apply(&store, op);
                    store.finish_apply();
                    applied
                }
                Err(e) => Err(e),
            }
        };
        let store = store.clone();
        glommio::spawn_local(async move {
            let result = match applied {
                Err(e) => Err(e),
                Ok(applied) => {
                    let flushed = if applied.durable {
                        store.flush_meta().await
                    } else {
                        Ok(())
                    };
                    match flushed {
                        Ok(()) => {
                            for blob in &applied.free {
                                store.shared().blobs.remove(blob).await;
                            }
                            Ok(applied.reply)
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            store.respond(responder, result).await;
        })
        .detach();
    }
}

fn durable(reply: Reply, free: Vec<BlobRef>) -> Result<Applied> {
    Ok(Applied {
        reply,
        durable: true,
        free,
    })
}

/// Checks that `bucket` is still the active bucket with id `id`.
fn check_bucket(store: &CoreStore, bucket: &str, id: u64) -> Result<()> {
    store.active_bucket(BucketRef::Bound { name: bucket, id })?;
    Ok(())
}

fn get_object(store: &CoreStore, key: &[u8]) -> Result<Option<ObjectRecord>> {
    store
        .meta()
        .get(key)?
        .map(|v| ObjectRecord::decode(&v))
        .transpose()
}

fn check_condition(current: Option<&ObjectRecord>, condition: &WriteCondition) -> Result<()> {
    match (condition, current) {
        (WriteCondition::Always, _) => Ok(()),
        (WriteCondition::IfAbsent, None) => Ok(()),
        (WriteCondition::IfAbsent, Some(_)) => Err(Error::PreconditionFailed),
        (WriteCondition::IfMatch(_), None) => Err(Error::NoSuchKey),
        (WriteCondition::IfMatch(etag), Some(cur)) => {
            let want = bare_etag(etag);
            if want == "*" || want == bare_etag(&cur.etag) {
                Ok(())
            } else {
                Err(Error::PreconditionFailed)
            }
        }
    }
}

fn parts_of(store: &CoreStore, upload_id: &[u8; UPLOAD_ID_LEN]) -> Result<Vec<(u16, PartRecord)>> {
    let prefix = part_prefix(upload_id);
    let end = crate::meta::prefix_successor(&prefix).unwrap_or_else(|| family_end(Family::Part));
    let mut parts = Vec::new();
    for entry in store.meta().range(&prefix, &end) {
        let (k, v) = entry?;
        let n = u16::from_be_bytes([k[k.len() - 2], k[k.len() - 1]]);
        parts.push((n, PartRecord::decode(&v)?));
    }
    Ok(parts)
}

fn apply(store: &CoreStore, op: Op) -> Result<Applied> {
    let meta = store.meta();
    match op {
        Op::Barrier => Ok(Applied {
            reply: Reply::Done,
            durable: false,
            free: Vec::new(),
        }),
        Op::CreateBucket {
            name,
            owner,
            now_ms,
            shards,
        } => {
            if let Some(v) = meta.get(&bucket_key(&name))? {
                let b = BucketRecord::decode(&v)?;
                return Err(if b.owner == owner {
                    Error::BucketAlreadyOwnedByYou
                } else {
                    Error::BucketAlreadyExists
                });
            }
            let record = BucketRecord {
                id: meta.generate_id()?,
                owner,
                created_ms: now_ms,
                shards,
                state: BucketState::Active,
            };
            meta.apply(vec![(bucket_key(&name), Some(record.encode()))])?;
            durable(Reply::Done, Vec::new())
        }
        Op::MarkBucketDeleting { name, id } => {
            let mut b = store.bucket_record(BucketRef::new(&name, id))?;
            if b.state == BucketState::Deleting {
                return Err(Error::OperationAborted);
            }
            b.state = BucketState::Deleting;
            meta.apply(vec![(bucket_key(&name), Some(b.encode()))])?;
            // Not flushed: a crash during a delete is undone by recovery (back to Active).
            Ok(Applied {
                reply: Reply::BucketId(b.id),
                durable: false,
                free: Vec::new(),
            })
        }
        Op::FinishBucketDelete { name, id, empty } => {
            let mut b = store.bucket_record(BucketRef::Bound { name: &name, id })?;
            if empty {
                meta.apply(vec![(bucket_key(&name), None)])?;
            } else {
                b.state = BucketState::Active;
                meta.apply(vec![(bucket_key(&name), Some(b.encode()))])?;
            }
            durable(Reply::Done, Vec::new())
        }
        Op::PutObject {
            bucket,
            bucket_id,
            shard,
            key,
            record,
            condition,
        } => {
            check_bucket(store, &bucket, bucket_id)?;
            let k = object_key(bucket_id, shard, &key);
            let current = get_object(store, &k)?;
            check_condition(current.as_ref(), &condition)?;
            meta.apply(vec![(k, Some(record.encode()))])?;
            let free = current.map(|c| c.body.blobs().to_vec()).unwrap_or_default();
            durable(Reply::Object(Box::new(record)), free)
        }
        Op::DeleteObject {
            bucket,
            bucket_id,
            shard,
            key,
        } => {
            check_bucket(store, &bucket, bucket_id)?;
            let k = object_key(bucket_id, shard, &key);
            match get_object(store, &k)? {
                None => Ok(Applied {
                    reply: Reply::Existed(false),
                    durable: false,
                    free: Vec::new(),
                }),
                Some(current) => {
                    meta.apply(vec![(k, None)])?;
                    durable(Reply::Existed(true), current.body.blobs().to_vec())
                }
            }
        }
        Op::CreateUpload {
            bucket,
            bucket_id,
            shard,
            key,
            upload_id,
            record,
        } => {
            check_bucket(store, &bucket, bucket_id)?;
            meta.apply(vec![(
                upload_key(bucket_id, shard, &key, &upload_id),
                Some(record.encode()),
            )])?;
            durable(Reply::Done, Vec::new())
        }
        Op::PutPart {
            bucket_id,
            shard,
            key,
            upload_id,
            part_number,
            record,
        } => {
            if meta
                .get(&upload_key(bucket_id, shard, &key, &upload_id))?
                .is_none()
            {
                return Err(Error::NoSuchUpload);
            }
            let pk = part_key(&upload_id, part_number);
            let old = meta.get(&pk)?.map(|v| PartRecord::decode(&v)).transpose()?;
            meta.apply(vec![(pk, Some(record.encode()))])?;
            durable(Reply::Done, old.map(|p| vec![p.blob]).unwrap_or_default())
        }
        Op::AbortUpload {
            bucket_id,
            shard,
            key,
            upload_id,
        } => {
            let uk = upload_key(bucket_id, shard, &key, &upload_id);
            if meta.get(&uk)?.is_none() {
                return Err(Error::NoSuchUpload);
            }
            let parts = parts_of(store, &upload_id)?;
            let mut changes: Vec<Change> = vec![(uk, None)];
            changes.extend(parts.iter().map(|(n, _)| (part_key(&upload_id, *n), None)));
            meta.apply(changes)?;
            durable(
                Reply::Done,
                parts.into_iter().map(|(_, p)| p.blob).collect(),
            )
        }
        Op::CompleteUpload {
            bucket,
            bucket_id,
            shard,
            key,
            upload_id,
            parts,
            min_part_size,
            now_ms,
            condition,
            checksums,
        } => {
            check_bucket(store, &bucket, bucket_id)?;
            let uk = upload_key(bucket_id, shard, &key, &upload_id);
            let upload = match meta.get(&uk)? {
                Some(v) => UploadRecord::decode(&v)?,
                None => return Err(Error::NoSuchUpload),
            };
            let stored = parts_of(store, &upload_id)?;
            let record = crate::multipart::assemble(
                upload,
                &stored,
                &parts,
                min_part_size,
                now_ms,
                checksums,
            )?;
            let k = object_key(bucket_id, shard, &key);
            let current = get_object(store, &k)?;
            check_condition(current.as_ref(), &condition)?;
            let used: std::collections::HashSet<u64> =
                record.body.blobs().iter().map(|b| b.id).collect();
            let mut free: Vec<BlobRef> = stored
                .iter()
                .map(|(_, p)| p.blob)
                .filter(|b| !used.contains(&b.id))
                .collect();
            free.extend(current.map(|c| c.body.blobs().to_vec()).unwrap_or_default());
            let mut changes: Vec<Change> = vec![(uk, None)];
            changes.extend(stored.iter().map(|(n, _)| (part_key(&upload_id, *n), None)));
            changes.push((k, Some(record.encode())));
            meta.apply(changes)?;
            durable(Reply::Object(Box::new(record)), free)
        }
    }
}

/// Whether a bucket has any object or upload, in any shard.
pub(crate) fn bucket_is_empty(store: &CoreStore, bucket: &BucketRecord) -> Result<bool> {
    for family in [Family::Object, Family::Upload] {
        for shard in 0..bucket.shards {
            let start = shard_prefix(family, bucket.id, shard);
            let end = crate::meta::prefix_successor(&start).unwrap_or_else(|| family_end(family));
            if store
                .meta()
                .range(&start, &end)
                .next()
                .transpose()?
                .is_some()
            {
                return Ok(false);
            }
        }
    }
    Ok(true)
}
