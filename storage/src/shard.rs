//! Shard ownership: each core's shard-owner task, which applies every metadata mutation of the
//! keys it owns (and of the bucket names it owns) in arrival order, then group-commits it.

use glommio::channels::local_channel::LocalReceiver;

use crate::bucket::BucketRef;
use crate::error::{Error, Result};
use crate::meta::{
    bucket_key, family_end, object_key, part_key, part_prefix, prefix_successor, upload_key,
    Change, Family, UPLOAD_ID_LEN,
};
use crate::op::{
    AbortUpload, CompleteUpload, CreateBucket, CreateUpload, DeleteObject, FinishBucketDelete,
    MarkBucketDeleting, Op, OwnerQueue, PutObject, PutPart, Reply, WriteCondition,
};
use crate::record::{
    assemble, bare_etag, BlobRef, BucketRecord, BucketState, ObjectRecord, PartRecord, UploadRecord,
};
use crate::store::{CoreStore, WeakCoreStore};

/// What applying a mutation did: the reply, and the blobs to free once it is durable.
struct Applied {
    reply: Reply,
    durable: bool,
    free: Vec<BlobRef>,
}

/// The shard-owner task of one core: applies mutations strictly in arrival order (each apply is
/// synchronous), then waits for the group commit and frees replaced blobs in a separate task.
pub(crate) async fn owner_loop(store: WeakCoreStore, queue: LocalReceiver<OwnerQueue>) {
    while let Some(OwnerQueue { responder, op }) = queue.recv().await {
        let Some(store) = store.upgrade() else { break };
        let applied = if matches!(op, Op::Barrier) {
            not_durable(Reply::Done)
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

/// A change that needs no flush (nothing was written, or a crash may undo it).
fn not_durable(reply: Reply) -> Result<Applied> {
    Ok(Applied {
        reply,
        durable: false,
        free: Vec::new(),
    })
}

/// Checks that `bucket` is still the active bucket with id `id`.
fn check_bucket(store: &CoreStore, bucket: &str, id: u64) -> Result<()> {
    store.active_bucket(BucketRef::Bound { name: bucket, id })?;
    Ok(())
}

fn read_object(store: &CoreStore, key: &[u8]) -> Result<Option<ObjectRecord>> {
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
    let end = prefix_successor(&prefix).unwrap_or_else(|| family_end(Family::Part));
    let mut parts = Vec::new();
    for entry in store.meta().range(&prefix, &end) {
        let (k, v) = entry?;
        let n = u16::from_be_bytes([k[k.len() - 2], k[k.len() - 1]]);
        parts.push((n, PartRecord::decode(&v)?));
    }
    Ok(parts)
}

fn apply(store: &CoreStore, op: Op) -> Result<Applied> {
    match op {
        Op::Barrier => not_durable(Reply::Done),
        Op::CreateBucket(op) => create_bucket(store, op),
        Op::MarkBucketDeleting(op) => mark_bucket_deleting(store, op),
        Op::FinishBucketDelete(op) => finish_bucket_delete(store, op),
        Op::PutObject(op) => put_object(store, op),
        Op::DeleteObject(op) => delete_object(store, op),
        Op::CreateUpload(op) => create_upload(store, op),
        Op::PutPart(op) => put_part(store, op),
        Op::AbortUpload(op) => abort_upload(store, op),
        Op::CompleteUpload(op) => complete_upload(store, op),
    }
}

fn create_bucket(store: &CoreStore, op: CreateBucket) -> Result<Applied> {
    let meta = store.meta();
    if let Some(v) = meta.get(&bucket_key(&op.name))? {
        let b = BucketRecord::decode(&v)?;
        return Err(if b.owner == op.owner {
            Error::BucketAlreadyOwnedByYou
        } else {
            Error::BucketAlreadyExists
        });
    }
    let record = BucketRecord {
        id: meta.generate_id()?,
        owner: op.owner,
        created_ms: op.now_ms,
        shards: op.shards,
        state: BucketState::Active,
        region: Some(op.region),
    };
    meta.apply(vec![(bucket_key(&op.name), Some(record.encode()))])?;
    durable(Reply::Done, Vec::new())
}

fn mark_bucket_deleting(store: &CoreStore, op: MarkBucketDeleting) -> Result<Applied> {
    let mut b = store.bucket_record(BucketRef::new(&op.name, op.id))?;
    if b.state == BucketState::Deleting {
        return Err(Error::OperationAborted);
    }
    b.state = BucketState::Deleting;
    store
        .meta()
        .apply(vec![(bucket_key(&op.name), Some(b.encode()))])?;
    // Not flushed: a crash during a delete is undone by recovery (back to Active).
    not_durable(Reply::BucketId(b.id))
}

fn finish_bucket_delete(store: &CoreStore, op: FinishBucketDelete) -> Result<Applied> {
    let name = op.name;
    let mut b = store.bucket_record(BucketRef::Bound {
        name: &name,
        id: op.id,
    })?;
    if op.empty {
        store.meta().apply(vec![(bucket_key(&name), None)])?;
    } else {
        b.state = BucketState::Active;
        store
            .meta()
            .apply(vec![(bucket_key(&name), Some(b.encode()))])?;
    }
    durable(Reply::Done, Vec::new())
}

fn put_object(store: &CoreStore, op: PutObject) -> Result<Applied> {
    check_bucket(store, &op.bucket, op.bucket_id)?;
    let k = object_key(op.bucket_id, op.shard, &op.key);
    let current = read_object(store, &k)?;
    check_condition(current.as_ref(), &op.condition)?;
    store.meta().apply(vec![(k, Some(op.record.encode()))])?;
    let free = current.map(|c| c.body.blobs().to_vec()).unwrap_or_default();
    durable(Reply::Object(Box::new(op.record)), free)
}

fn delete_object(store: &CoreStore, op: DeleteObject) -> Result<Applied> {
    check_bucket(store, &op.bucket, op.bucket_id)?;
    let k = object_key(op.bucket_id, op.shard, &op.key);
    match read_object(store, &k)? {
        None => not_durable(Reply::Existed(false)),
        Some(current) => {
            store.meta().apply(vec![(k, None)])?;
            durable(Reply::Existed(true), current.body.blobs().to_vec())
        }
    }
}

fn create_upload(store: &CoreStore, op: CreateUpload) -> Result<Applied> {
    check_bucket(store, &op.bucket, op.bucket_id)?;
    store.meta().apply(vec![(
        upload_key(op.bucket_id, op.shard, &op.key, &op.upload_id),
        Some(op.record.encode()),
    )])?;
    durable(Reply::Done, Vec::new())
}

fn put_part(store: &CoreStore, op: PutPart) -> Result<Applied> {
    let meta = store.meta();
    if meta
        .get(&upload_key(op.bucket_id, op.shard, &op.key, &op.upload_id))?
        .is_none()
    {
        return Err(Error::NoSuchUpload);
    }
    let pk = part_key(&op.upload_id, op.part_number);
    let old = meta.get(&pk)?.map(|v| PartRecord::decode(&v)).transpose()?;
    meta.apply(vec![(pk, Some(op.record.encode()))])?;
    durable(Reply::Done, old.map(|p| vec![p.blob]).unwrap_or_default())
}

fn abort_upload(store: &CoreStore, op: AbortUpload) -> Result<Applied> {
    let meta = store.meta();
    let uk = upload_key(op.bucket_id, op.shard, &op.key, &op.upload_id);
    if meta.get(&uk)?.is_none() {
        return Err(Error::NoSuchUpload);
    }
    let parts = parts_of(store, &op.upload_id)?;
    let mut changes: Vec<Change> = vec![(uk, None)];
    changes.extend(
        parts
            .iter()
            .map(|(n, _)| (part_key(&op.upload_id, *n), None)),
    );
    meta.apply(changes)?;
    durable(
        Reply::Done,
        parts.into_iter().map(|(_, p)| p.blob).collect(),
    )
}

fn complete_upload(store: &CoreStore, op: CompleteUpload) -> Result<Applied> {
    let meta = store.meta();
    check_bucket(store, &op.bucket, op.bucket_id)?;
    let uk = upload_key(op.bucket_id, op.shard, &op.key, &op.upload_id);
    let upload = match meta.get(&uk)? {
        Some(v) => UploadRecord::decode(&v)?,
        None => return Err(Error::NoSuchUpload),
    };
    let stored = parts_of(store, &op.upload_id)?;
    let record = assemble(
        upload,
        &stored,
        &op.parts,
        op.min_part_size,
        op.now_ms,
        op.checksums,
    )?;
    let k = object_key(op.bucket_id, op.shard, &op.key);
    let current = read_object(store, &k)?;
    check_condition(current.as_ref(), &op.condition)?;
    let used: std::collections::HashSet<u64> = record.body.blobs().iter().map(|b| b.id).collect();
    let mut free: Vec<BlobRef> = stored
        .iter()
        .map(|(_, p)| p.blob)
        .filter(|b| !used.contains(&b.id))
        .collect();
    free.extend(current.map(|c| c.body.blobs().to_vec()).unwrap_or_default());
    let mut changes: Vec<Change> = vec![(uk, None)];
    changes.extend(
        stored
            .iter()
            .map(|(n, _)| (part_key(&op.upload_id, *n), None)),
    );
    changes.push((k, Some(record.encode())));
    meta.apply(changes)?;
    durable(Reply::Object(Box::new(record)), free)
}
