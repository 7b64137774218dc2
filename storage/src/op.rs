//! The metadata mutations a core asks a shard's owner core to apply (`Op`, each with the
//! conditions it is applied under), the owner's replies, and the messages that carry both
//! between cores.

use glommio::channels::local_channel::LocalSender;

use crate::error::Result;
use crate::meta::UPLOAD_ID_LEN;
use crate::record::{ObjectRecord, PartRecord, UploadRecord};

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

/// A metadata mutation, run on the owner core of its key (or of the bucket name).
#[derive(Debug)]
pub(crate) enum Op {
    CreateBucket(CreateBucket),
    MarkBucketDeleting(MarkBucketDeleting),
    FinishBucketDelete(FinishBucketDelete),
    /// Replies once every earlier mutation on this core has been applied.
    Barrier,
    PutObject(PutObject),
    DeleteObject(DeleteObject),
    CreateUpload(CreateUpload),
    PutPart(PutPart),
    CompleteUpload(CompleteUpload),
    AbortUpload(AbortUpload),
}

#[derive(Debug)]
pub(crate) struct CreateBucket {
    pub(crate) name: String,
    pub(crate) owner: String,
    pub(crate) region: String,
    pub(crate) now_ms: u64,
    pub(crate) shards: u16,
}

/// Marks a bucket `Deleting` (only the one with id `id`, if given); replies with its id.
#[derive(Debug)]
pub(crate) struct MarkBucketDeleting {
    pub(crate) name: String,
    pub(crate) id: Option<u64>,
}

/// Removes the bucket record (if `empty`) or returns it to `Active`.
#[derive(Debug)]
pub(crate) struct FinishBucketDelete {
    pub(crate) name: String,
    pub(crate) id: u64,
    pub(crate) empty: bool,
}

#[derive(Debug)]
pub(crate) struct PutObject {
    pub(crate) bucket: String,
    pub(crate) bucket_id: u64,
    pub(crate) shard: u16,
    pub(crate) key: String,
    pub(crate) record: ObjectRecord,
    pub(crate) condition: WriteCondition,
}

#[derive(Debug)]
pub(crate) struct DeleteObject {
    pub(crate) bucket: String,
    pub(crate) bucket_id: u64,
    pub(crate) shard: u16,
    pub(crate) key: String,
}

#[derive(Debug)]
pub(crate) struct CreateUpload {
    pub(crate) bucket: String,
    pub(crate) bucket_id: u64,
    pub(crate) shard: u16,
    pub(crate) key: String,
    pub(crate) upload_id: [u8; UPLOAD_ID_LEN],
    pub(crate) record: UploadRecord,
}

#[derive(Debug)]
pub(crate) struct PutPart {
    pub(crate) bucket_id: u64,
    pub(crate) shard: u16,
    pub(crate) key: String,
    pub(crate) upload_id: [u8; UPLOAD_ID_LEN],
    pub(crate) part_number: u16,
    pub(crate) record: PartRecord,
}

#[derive(Debug)]
pub(crate) struct CompleteUpload {
    pub(crate) bucket: String,
    pub(crate) bucket_id: u64,
    pub(crate) shard: u16,
    pub(crate) key: String,
    pub(crate) upload_id: [u8; UPLOAD_ID_LEN],
    pub(crate) parts: Vec<(u16, String)>,
    pub(crate) min_part_size: u64,
    pub(crate) now_ms: u64,
    pub(crate) condition: WriteCondition,
    pub(crate) checksums: Option<Vec<(String, String)>>,
}

#[derive(Debug)]
pub(crate) struct AbortUpload {
    pub(crate) bucket_id: u64,
    pub(crate) shard: u16,
    pub(crate) key: String,
    pub(crate) upload_id: [u8; UPLOAD_ID_LEN],
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
